"""DOT's OAuthLibCore (OAUTH2_BACKEND_CLASS): the Django side of the oauthlib boundary."""

from __future__ import annotations

from typing import NamedTuple

from django.http import HttpRequest
from oauth2_provider.oauth2_backends import OAuthLibCore as DotOAuthLibCore
from oauthlib.oauth2.rfc6749.errors import OAuth2Error

from accounts.sessions import session_auth_time
from core import seams
from oauth_apps.oauth2.token_request import STATE_HEADER, TokenRequest

# Not HTTP_* keys, so no client header can forge them.
SIGNED_IN_USER_HEADER = "X_WETRIALS_SIGNED_IN_USER"
AUTH_TIME_HEADER = "X_WETRIALS_AUTH_TIME"


class EndpointResponse(NamedTuple):
    headers: dict[str, str]
    body: str
    status: int


class OAuthLibCore(DotOAuthLibCore):
    """Tells the validator who is signed in and since when (OIDC's prompt=none and
    id_token_hint checks, `auth_time`), and hands each client-authenticated endpoint its
    TokenRequest (oauth2/token_request.py)."""

    def extract_headers(self, request: HttpRequest) -> dict[str, str]:
        headers = super().extract_headers(request)
        headers.pop(SIGNED_IN_USER_HEADER, None)
        headers.pop(AUTH_TIME_HEADER, None)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            headers[SIGNED_IN_USER_HEADER] = str(user.pk)
            auth_time = session_auth_time(request)
            if auth_time is not None:  # a session from before it was recorded signs in again
                headers[AUTH_TIME_HEADER] = str(auth_time)
        return headers

    def _oauthlib_params(self, request: HttpRequest, state: TokenRequest) -> tuple[str, str, str, dict]:
        uri, http_method, body, headers = seams.dot_oauthlib_params(self, request)
        headers[STATE_HEADER] = state
        return uri, http_method, body, headers

    def token_response(self, request: HttpRequest, state: TokenRequest) -> EndpointResponse:
        """RFC 6749 §3.2, as DOT's create_token_response (without its extra credentials)."""
        uri, http_method, body, headers = self._oauthlib_params(request, state)
        try:
            return EndpointResponse(*self.server.create_token_response(uri, http_method, body, headers))
        except OAuth2Error as exc:
            return EndpointResponse(exc.headers, exc.json, exc.status_code)

    def revocation_response(self, request: HttpRequest, state: TokenRequest) -> EndpointResponse:
        """RFC 7009."""
        return EndpointResponse(*self.server.create_revocation_response(*self._oauthlib_params(request, state)))

    def introspection_response(self, request: HttpRequest, state: TokenRequest) -> EndpointResponse:
        """RFC 7662, through oauthlib like the other endpoints (DOT answers it with a view of its own)."""
        return EndpointResponse(*self.server.create_introspect_response(*self._oauthlib_params(request, state)))
