"""The oauthlib Server (DOT's OAUTH2_SERVER_CLASS) and the authorization-request checks oauthlib lacks."""

from __future__ import annotations

import re
from typing import Any

from oauthlib.common import Request
from oauthlib.oauth2.rfc6749 import errors
from oauthlib.oauth2.rfc6749.endpoints import (
    AuthorizationEndpoint,
    IntrospectEndpoint,
    ResourceEndpoint,
    RevocationEndpoint,
    TokenEndpoint,
)
from oauthlib.oauth2.rfc6749.grant_types import AuthorizationCodeGrant as OAuth2AuthorizationCodeGrant
from oauthlib.oauth2.rfc6749.grant_types import ClientCredentialsGrant
from oauthlib.oauth2.rfc6749.tokens import BearerToken
from oauthlib.openid.connect.core.endpoints.userinfo import UserInfoEndpoint
from oauthlib.openid.connect.core.exceptions import RequestNotSupported, RequestURINotSupported
from oauthlib.openid.connect.core.grant_types import AuthorizationCodeGrant, RefreshTokenGrant
from oauthlib.openid.connect.core.grant_types.dispatchers import (
    AuthorizationCodeGrantDispatcher,
    AuthorizationTokenGrantDispatcher,
)

# RFC 7636 §4.2: an S256 challenge is BASE64URL(SHA256(verifier)) unpadded, 43 characters.
S256_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
# OIDC Core §3.1.2.1: max_age is a number of seconds; ten digits outlast any session.
MAX_AGE = re.compile(r"[0-9]{1,10}")
# The grant's nonce column; every other parameter is either checked against the database
# (client, redirect URI, scopes), echoed (state), or parsed (claims, id_token_hint).
NONCE_MAX_LENGTH = 255
PARAMETER_MAX_LENGTH = 4096


def authorization_request_checks(request: Request) -> dict[str, Any]:
    """What oauthlib leaves unchecked in an authorization request, run once the client and
    its redirect URI are known, so each error goes back to the client (RFC 6749 §4.1.2.1)."""
    if "openid" in (request.scopes or []) and request.using_default_redirect_uri:
        # OIDC Core §3.1.2.1: redirect_uri is REQUIRED on an OpenID request.
        raise errors.InvalidRequestFatalError(
            description="An OpenID Connect request must name its redirect_uri.", request=request
        )
    # OIDC Core §6: request objects are not supported (discovery says so too).
    if getattr(request, "request", None) is not None:
        raise RequestNotSupported(request=request)
    if getattr(request, "request_uri", None) is not None:
        raise RequestURINotSupported(request=request)
    for name, value in [*request.uri_query_params, *(request.decoded_body or [])]:
        if len(value) > PARAMETER_MAX_LENGTH or any(ord(ch) < 0x20 or ch == "\x7f" for ch in value):
            raise errors.InvalidRequestError(
                description=f"The parameter {name!r} is too long or contains control characters.", request=request
            )
    if request.nonce is not None and len(request.nonce) > NONCE_MAX_LENGTH:
        raise errors.InvalidRequestError(
            description=f"nonce may be at most {NONCE_MAX_LENGTH} characters.", request=request
        )
    if request.code_challenge is not None and request.code_challenge_method != "S256":
        # RFC 9700 §2.1.1: S256 only. Without a method RFC 7636 §4.3 means plain: refused too.
        raise errors.InvalidRequestError(description="code_challenge_method must be S256.", request=request)
    if request.code_challenge is not None and not S256_CHALLENGE.fullmatch(request.code_challenge):
        raise errors.InvalidRequestError(
            description="code_challenge must be 43 base64url characters (RFC 7636 §4.2).", request=request
        )
    if request.max_age is not None and not MAX_AGE.fullmatch(request.max_age):
        raise errors.InvalidRequestError(
            description="max_age must be a non-negative whole number of seconds.", request=request
        )
    return {}


class Server(
    AuthorizationEndpoint, IntrospectEndpoint, TokenEndpoint, ResourceEndpoint, RevocationEndpoint, UserInfoEndpoint
):
    """oauthlib's OpenID server (oauthlib.openid.Server), built from the same endpoints and
    grants through their constructors, with only what WeTrials offers: response type `code`;
    grants authorization_code, refresh_token and client_credentials."""

    def __init__(
        self,
        request_validator: Any,
        token_expires_in: Any = None,
        token_generator: Any = None,
        refresh_token_generator: Any = None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        self.auth_grant = OAuth2AuthorizationCodeGrant(request_validator, pre_auth=[authorization_request_checks])
        self.openid_connect_auth = AuthorizationCodeGrant(request_validator, pre_auth=[authorization_request_checks])
        self.credentials_grant = ClientCredentialsGrant(request_validator)
        # OpenID Connect's: it adds a fresh ID token when the grant includes openid.
        self.refresh_grant = RefreshTokenGrant(request_validator)
        self.bearer = BearerToken(request_validator, token_generator, token_expires_in, refresh_token_generator)
        self.auth_grant_choice = AuthorizationCodeGrantDispatcher(
            default_grant=self.auth_grant, oidc_grant=self.openid_connect_auth
        )
        self.token_grant_choice = AuthorizationTokenGrantDispatcher(
            request_validator, default_grant=self.auth_grant, oidc_grant=self.openid_connect_auth
        )
        AuthorizationEndpoint.__init__(
            self,
            default_response_type="code",
            response_types={"code": self.auth_grant_choice},
            default_token_type=self.bearer,
        )
        TokenEndpoint.__init__(
            self,
            default_grant_type="authorization_code",
            grant_types={
                "authorization_code": self.token_grant_choice,
                "refresh_token": self.refresh_grant,
                "client_credentials": self.credentials_grant,
            },
            default_token_type=self.bearer,
        )
        ResourceEndpoint.__init__(self, default_token="Bearer", token_types={"Bearer": self.bearer})  # noqa: S106 - a token type
        RevocationEndpoint.__init__(self, request_validator)
        IntrospectEndpoint.__init__(self, request_validator)
        UserInfoEndpoint.__init__(self, request_validator)
