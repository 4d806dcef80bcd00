"""Drive the authorization server over HTTP, as a client app and its user would; or, for
tests about what tokens do rather than how they are obtained, mint what a code exchange
would have issued (`OAuthTestClient.minted_tokens_for`)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from django.db import transaction
from django.http import HttpResponse
from django.test import Client
from oauth2_provider.settings import oauth2_settings
from oauthlib.common import Request, generate_token

from accounts.sessions import AUTH_TIME_SESSION_KEY
from oauth_apps.audit import Actor, Kind, audit_record
from oauth_apps.oauth2.token_request import STATE_HEADER, TokenRequest
from oauth_apps.oauth2.tokens import authorization_code_family
from oauth_apps.selectors import token_family_authorization
from oauth_apps.services import consent_record, token_family_start

AUTHORIZE_URL = "/v1/oauth/authorize"
TOKEN_URL = "/v1/oauth/token"
REVOKE_URL = "/v1/oauth/revoke"
INTROSPECT_URL = "/v1/oauth/introspect"
USERINFO_URL = "/v1/oauth/userinfo"
ME_URL = "/v1/me"
DEFAULT_REDIRECT_URI = "https://app.example.com/callback"
FORM = "application/x-www-form-urlencoded"
# RFC 6749 §5.2 error codes of the token endpoint.
TOKEN_ENDPOINT_ERRORS = frozenset(
    {
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
    }
)


class HttpsClient(Client):
    """Django's test client, speaking HTTPS as every real client must."""

    def generic(self, *args: Any, secure: bool = False, **kwargs: Any) -> HttpResponse:
        return super().generic(*args, secure=True, **kwargs)


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def basic_auth(client_id: str, secret: str) -> dict[str, str]:
    credentials = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {credentials}"}


def redirect_params(response: HttpResponse) -> dict[str, str]:
    assert response.status_code == 302, response.content
    query = parse_qs(urlsplit(response["Location"]).query)
    return {name: values[0] for name, values in query.items()}


def consent_form_data(page: HttpResponse) -> dict[str, str]:
    """The consent form's fields as the browser posts them, its CSRF token included."""
    initial = page.context["form"].initial
    return {name: value for name, value in initial.items() if value is not None} | {
        "csrfmiddlewaretoken": str(page.context["csrf_token"])
    }


@dataclass
class AuthorizationRequest:
    client_id: str
    redirect_uri: str = DEFAULT_REDIRECT_URI
    scope: str = "read:profile"
    state: str = field(default_factory=lambda: secrets.token_urlsafe(8))
    verifier: str | None = field(default_factory=lambda: secrets.token_urlsafe(48))
    method: str | None = "S256"
    extra: dict[str, str] = field(default_factory=dict)

    def params(self) -> dict[str, str]:
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": self.scope,
            "state": self.state,
        }
        if self.verifier is not None:
            params["code_challenge"] = s256(self.verifier) if self.method == "S256" else self.verifier
            if self.method is not None:
                params["code_challenge_method"] = self.method
        params.update(self.extra)
        return params


class OAuthTestClient:
    def __init__(self, client: Client, user: Any) -> None:
        self.client = client
        self.user = user

    def sign_in(self) -> None:
        self.client.force_login(self.user)

    def consent_page(self, request: AuthorizationRequest) -> HttpResponse:
        return self.client.get(AUTHORIZE_URL, request.params())

    def decide(self, request: AuthorizationRequest, *, allow: bool) -> HttpResponse:
        page = self.consent_page(request)
        if page.status_code == 302 and allow:
            return page  # consent remembered from an earlier grant: no page to answer
        assert page.status_code == 200, page.content
        data = consent_form_data(page)
        if allow:
            data["allow"] = "Allow"
        return self.client.post(AUTHORIZE_URL, data)

    def authorize(self, request: AuthorizationRequest) -> str:
        """Sign in, consent, and return the authorization code."""
        self.sign_in()
        params = redirect_params(self.decide(request, allow=True))
        assert params["state"] == request.state
        return params["code"]

    def token(
        self, data: dict[str, str] | str, headers: dict[str, str] | None = None, *, url: str = TOKEN_URL
    ) -> HttpResponse:
        body = data if isinstance(data, str) else urlencode(data)
        return self.client.post(url, body, content_type=FORM, headers=headers or {})

    def revoke(self, token: str, client_id: str, *, secret: str | None = None, **extra: str) -> HttpResponse:
        return self._client_authenticated({"token": token, **extra}, client_id, secret, True, url=REVOKE_URL)

    def introspect(self, token: str, client_id: str, secret: str | None) -> HttpResponse:
        return self._client_authenticated({"token": token}, client_id, secret, True, url=INTROSPECT_URL)

    def bearer_get(self, url: str, access_token: str) -> HttpResponse:
        return self.client.get(url, headers={"Authorization": f"Bearer {access_token}"})

    def exchange(
        self, request: AuthorizationRequest, code: str, *, secret: str | None = None, basic: bool = True
    ) -> HttpResponse:
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": request.redirect_uri}
        if request.verifier is not None:
            data["code_verifier"] = request.verifier
        return self._client_authenticated(data, request.client_id, secret, basic)

    def refresh(
        self, client_id: str, refresh_token: str, *, secret: str | None = None, basic: bool = True
    ) -> HttpResponse:
        data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return self._client_authenticated(data, client_id, secret, basic)

    def refresh_with(self, client_id: str, refresh_token: str, *, scope: str) -> HttpResponse:
        data = {"grant_type": "refresh_token", "refresh_token": refresh_token, "scope": scope}
        return self._client_authenticated(data, client_id, None, True)

    def _client_authenticated(
        self, data: dict[str, str], client_id: str, secret: str | None, basic: bool, *, url: str = TOKEN_URL
    ) -> HttpResponse:
        if secret is None:
            return self.token({**data, "client_id": client_id}, url=url)
        if basic:
            return self.token(data, basic_auth(client_id, secret), url=url)
        return self.token({**data, "client_id": client_id, "client_secret": secret}, url=url)

    def tokens_for(self, application: Any, *, secret: str | None = None, **request_fields: Any) -> dict[str, Any]:
        """The full flow: a fresh token response for `application`."""
        request = AuthorizationRequest(client_id=application.client_id, **request_fields)
        response = self.exchange(request, self.authorize(request), secret=secret)
        assert response.status_code == 200, response.content
        return response.json()

    def minted_tokens_for(
        self, application: Any, *, scope: str = "read:profile", nonce: str | None = None
    ) -> dict[str, Any]:
        """What tokens_for returns and leaves behind, signed-in browser included, without
        walking the flow: for tests that need tokens but are not about obtaining them."""
        self.sign_in()
        return tokens_minted(
            application=application,
            user=self.user,
            scopes=scope.split(),
            auth_time=self.client.session[AUTH_TIME_SESSION_KEY],
            nonce=nonce,
        )


def tokens_minted(
    *, application: Any, user: Any, scopes: Sequence[str], auth_time: int, nonce: str | None = None
) -> dict[str, Any]:
    """The token response of a code exchange, and the rows it leaves, made by the server's
    own code with no HTTP request: the consent and token family that the validator's
    save_authorization_code records, then the token step of oauthlib's authorization-code
    grant (the configured generators, the OpenID ID token, save_bearer_token) with the state
    validate_code would have set, and the audit event of the token view. tests/test_minted_tokens.py
    holds it to the flow."""
    validator = oauth2_settings.OAUTH2_VALIDATOR_CLASS()
    server = oauth2_settings.OAUTH2_SERVER_CLASS(validator, **oauth2_settings.server_kwargs)
    code = generate_token()  # what oauthlib issues as an authorization code
    state = TokenRequest(rate_limit=None, client_address="", client=application, family=authorization_code_family(code))
    body = {"grant_type": "authorization_code", "code": code, "client_id": application.client_id}
    request = Request(TOKEN_URL, "POST", urlencode(body), headers={STATE_HEADER: state})
    # Scopes the authorization endpoint would refuse fail here, as tokens_for fails on them.
    assert validator.validate_scopes(application.client_id, list(scopes), application, request), scopes
    with transaction.atomic():  # one transaction, as the token view's
        consent_record(user=user, application=application, scopes=scopes)
        token_family_start(family=state.family, user=user, application=application, scopes=scopes, auth_time=auth_time)
        state.authorization = token_family_authorization(family=state.family)
        request.client, request.user, request.nonce = application, user, nonce
        request.scopes = state.authorization.current_scopes
        # The token handler the token endpoint gives its grants (server.bearer is userinfo's).
        handler = server.default_token_type
        token = handler.create_token(request, refresh_token=True)
        token = server.openid_connect_auth.add_id_token(token, handler, request)
        validator.save_token(token, request)
        audit_record(Kind.TOKENS_ISSUED, actor=Actor.CLIENT, application=application, user=user)
    return json.loads(json.dumps(token))  # as the client reads the response body
