"""The state of one request to the token, revocation or introspection endpoint.

One object per request, typed, with one way in and one way out: the endpoint view creates it
(oauth_apps/views/token.py) and hands it to its OAuthLibCore method (oauth2_backends.py),
which puts it among the headers of the oauthlib request, as DOT puts Django's `request.META`
there; the validator and the token generator read it back with `token_request_of(request)`.
When oauthlib has answered, the view reads what they learnt (the client, the user, the rows
written, what went wrong) to write the audit event, send `app_authorized`, allow CORS and
name the client in the request log.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from oauthlib.common import Request

from core.ratelimits import Limit
from oauth_apps.models import Application, AuditEvent

if TYPE_CHECKING:
    from oauth2_provider.models import AccessToken, Grant, RefreshToken

    from oauth_apps.selectors import FamilyAuthorization

# Not an HTTP_* name: no header a client sends can take its place.
STATE_HEADER = "wetrials.token_request"


@dataclass
class TokenRequest:
    # Given by the view: the limit an authenticated client's request counts against, the
    # peer's address, and whether the endpoint is for clients that authenticate (RFC 7662 §2.1).
    rate_limit: Limit | None
    client_address: str
    client_authentication_required: bool = False
    # Learnt during client authentication: the client once it proved who it is, or the
    # client id that failed to (`audit_kind` is then CLIENT_AUTH_FAILED).
    client: Application | None = None
    claimed_client_id: str = ""
    # The authorization code's grant row, locked for the request's transaction and read once.
    grant: Grant | None = None
    grant_code: str | None = None
    # The refresh token presented (rotated when the new one is saved).
    presented_refresh_token: RefreshToken | None = None
    # The token family the new tokens belong to, and what its authorization still grants.
    family: uuid.UUID | None = None
    authorization: FamilyAuthorization | None = None
    # Set by the access-token generator: the row is stored with exactly the JWT's expiry.
    access_token_expires: datetime | None = None
    # The outcome: the user the tokens are for, the access-token row inserted (for
    # app_authorized), what the audit event should say when it knows better than oauthlib's
    # error code, and the Retry-After of a refused request.
    user: Any = None
    access_token: AccessToken | None = None
    audit_kind: str | None = None
    retry_after: int | None = None

    @property
    def client_authentication_reached(self) -> bool:
        """Whether a client's credentials (or public client_id) were checked, either way.

        Only then was the request counted against a rate limit (per client, or per address
        and client id for a failure), so only then may it leave an audit row: anything
        refused earlier is anonymous and unmetered, and would let anyone grow the trail.
        """
        return self.client is not None or self.audit_kind == AuditEvent.Kind.CLIENT_AUTH_FAILED

    @property
    def rate_limited(self) -> bool:
        return self.retry_after is not None

    @property
    def logged_client_id(self) -> str:
        """The client the request log names: the authenticated one, else the id claimed."""
        return self.client.client_id if self.client is not None else self.claimed_client_id[:100]


def token_request_of(request: Request) -> TokenRequest:
    """The state of the token request oauthlib is handling; a throwaway one when oauthlib
    calls the validator for another endpoint (authorization), which keeps no state."""
    state = request.headers.get(STATE_HEADER)
    return state if isinstance(state, TokenRequest) else TokenRequest(rate_limit=None, client_address="")
