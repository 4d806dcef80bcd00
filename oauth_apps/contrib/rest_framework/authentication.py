"""The resource-server kit: verify WeTrials access tokens in a Django REST framework API
(README, "For API teams"; settings and an example there).

Tokens are RFC 9068 JWTs: RS256 only, header `typ: at+jwt`, and `iss`, `aud`, `exp`, `iat`,
`sub`, `client_id`, `scope` and `jti` all required. Keys come from the JWKS URL (other
services) or, inside the authorization server, straight from its key ring. This server's
own APIs also check the token's row (oauth_apps/views/authentication.py); other services
call introspection for that.
"""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import jwt
from rest_framework.request import Request
from rest_framework_simplejwt import settings as simplejwt_settings
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import InvalidToken, TokenBackendError, TokenBackendExpiredToken
from rest_framework_simplejwt.models import TokenUser
from rest_framework_simplejwt.tokens import Token

if TYPE_CHECKING:
    pass

ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})  # RFC 9068 §4, case-insensitive
REQUIRED_CLAIMS = ["iss", "aud", "exp", "iat", "sub", "client_id", "scope", "jti"]
REALM = "WeTrials"


class AccessTokenBackend(TokenBackend):
    """simplejwt's token backend held to RFC 9068 §4: the header must say `at+jwt`, the
    algorithm must be RS256 and the key is chosen by `kid`."""

    def __init__(self) -> None:
        # Read through the module: simplejwt replaces its api_settings when SIMPLE_JWT changes.
        api_settings = simplejwt_settings.api_settings
        super().__init__(
            "RS256",
            audience=api_settings.AUDIENCE,
            issuer=api_settings.ISSUER,
            jwk_url=api_settings.JWK_URL,
            leeway=api_settings.LEEWAY,
        )

    def decode(self, token: Any, verify: bool = True) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise TokenBackendError("The token is not a JWT.") from exc
        if str(header.get("typ", "")).lower() not in ACCESS_TOKEN_TYPES:
            raise TokenBackendError("The token is not an access token (typ must be at+jwt).")
        try:
            return jwt.decode(
                token,
                self.verifying_key_for(token, header),
                algorithms=["RS256"],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.get_leeway(),
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenBackendExpiredToken("The token has expired.") from exc
        except jwt.InvalidTokenError as exc:
            raise TokenBackendError("The token is invalid.") from exc

    def verifying_key_for(self, token: Any, header: dict[str, Any]) -> Any:
        """The key `token` names in `header`, its header already read (reading one costs more
        than verifying its signature)."""
        if self.jwks_client is not None:
            return super().get_verifying_key(token)
        from oauth_apps.keys import key_ring  # inside the authorization server only

        key = key_ring.verifying_key(str(header.get("kid", "")))
        if key is None:
            raise TokenBackendError("The token was signed with an unknown key.")
        return key


@functools.cache
def access_token_backend() -> AccessTokenBackend:
    return AccessTokenBackend()


class AccessToken(Token):
    """A verified access token; `token["scope"]` etc. read its claims."""

    token_type = "access"  # noqa: S105 - simplejwt's class label; the claim itself is not checked
    lifetime = timedelta(hours=1)  # only used when minting, which the kit never does

    def get_token_backend(self) -> AccessTokenBackend:
        return access_token_backend()

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(str(self.payload.get("scope", "")).split())

    @property
    def is_service_account(self) -> bool:
        return self.payload.get("sub") == self.payload.get("client_id")


class AccessTokenAuthentication(JWTAuthentication):
    """`Authorization: Bearer <access token>`; the request user is the token's user, or a
    stateless TokenUser for a service account's token (whose `sub` is its client id)."""

    def authenticate(self, request: Request) -> tuple[Any, AccessToken] | None:
        header = self.get_header(request)
        if header is None:
            return None
        raw_token = self.get_raw_token(header)
        if raw_token is None:
            return None
        token = self.get_validated_token(raw_token)
        return self.token_user(raw_token, token), token

    def token_user(self, raw_token: bytes, validated_token: AccessToken) -> Any:
        return self.get_user(validated_token)

    def get_validated_token(self, raw_token: bytes) -> AccessToken:
        try:
            return AccessToken(raw_token)
        except Exception as exc:  # simplejwt's TokenError and anything a hostile token provokes
            raise InvalidToken(str(exc.args[0]) if exc.args else "The token is invalid.") from exc

    def get_user(self, validated_token: Token) -> Any:
        if validated_token.is_service_account:
            return TokenUser(validated_token)
        try:
            return self.user_model.objects.get(pk=int(validated_token["sub"]), is_active=True)
        except (ValueError, self.user_model.DoesNotExist) as exc:
            raise InvalidToken("The token's user does not exist or is inactive.") from exc

    def authenticate_header(self, request: Request) -> str:
        # RFC 6750 §3.1: name the error only when a token was sent.
        if self.get_header(request):
            return f'Bearer realm="{REALM}", error="invalid_token"'
        return f'Bearer realm="{REALM}"'
