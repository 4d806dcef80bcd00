"""The resource-server kit: verify WeTrials access tokens in a Django REST framework API.

    REST_FRAMEWORK = {
        "DEFAULT_AUTHENTICATION_CLASSES": ["oauth_apps.resource_server.AccessTokenAuthentication"],
        "EXCEPTION_HANDLER": "oauth_apps.resource_server.bearer_exception_handler",
    }
    SIMPLE_JWT = {..., "ISSUER": ..., "AUDIENCE": ..., "JWK_URL": "https://auth.wetrials.com/v1/oauth/jwks"}

    class StudyList(APIView):
        permission_classes = [HasScope("read:studies")]

Tokens are RFC 9068 JWTs: RS256 only, header `typ: at+jwt`, and `iss`, `aud`, `exp`, `iat`,
`sub`, `client_id`, `scope` and `jti` all required. Keys come from the JWKS URL (other
services) or, inside the authorization server, straight from its key ring.
`RevocationCheckedAccessTokenAuthentication` also refuses a token revoked before it
expired; it needs this server's database (other services call introspection instead).
"""

from __future__ import annotations

import functools
import hashlib
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import jwt
from rest_framework import exceptions, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework_simplejwt import settings as simplejwt_settings
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import InvalidToken, TokenBackendError, TokenBackendExpiredToken
from rest_framework_simplejwt.models import TokenUser
from rest_framework_simplejwt.tokens import Token

if TYPE_CHECKING:
    from rest_framework.views import APIView

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
                self.get_verifying_key(token),
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

    def get_verifying_key(self, token: Any) -> Any:
        if self.jwks_client is not None:
            return super().get_verifying_key(token)
        from oauth_apps.keys import key_ring  # inside the authorization server only

        key = key_ring.verifying_key(str(jwt.get_unverified_header(token).get("kid", "")))
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


class RevocationCheckedAccessTokenAuthentication(AccessTokenAuthentication):
    """Also refuses tokens revoked before they expired, by asking this server's database in
    the query that loads the token's user."""

    def token_user(self, raw_token: bytes, validated_token: AccessToken) -> Any:
        stored = stored_access_token_by_checksum().first(hashlib.sha256(raw_token).hexdigest())
        if stored is None or stored.is_expired():
            raise InvalidToken("The token has been revoked.")
        if validated_token.is_service_account:
            return TokenUser(validated_token)
        user = stored.user
        if user is None or str(user.pk) != validated_token["sub"] or not user.is_active:
            raise InvalidToken("The token's user does not exist or is inactive.")
        return user


@functools.cache
def stored_access_token_by_checksum() -> Any:
    # Inside the authorization server only: its token table, read as the token path reads it.
    from oauth2_provider.models import get_access_token_model

    from oauth_apps.rows import Select

    return Select(get_access_token_model(), "t.token_checksum = %s", related=["user"])


class InsufficientScope(exceptions.PermissionDenied):
    def __init__(self, scopes: frozenset[str]) -> None:
        self.scopes = scopes
        super().__init__(f"The token lacks the scope(s): {' '.join(sorted(scopes))}.")


class HasScope(BasePermission):
    """`permission_classes = [HasScope("read:profile")]`: every named scope must be granted."""

    def __init__(self, *scopes: str) -> None:
        self.scopes = frozenset(scopes)

    def __call__(self) -> HasScope:
        # DRF instantiates permission classes; an instance stands in for its own class.
        return self

    def has_permission(self, request: Request, view: APIView) -> bool:
        token = request.auth
        if not isinstance(token, AccessToken):
            raise exceptions.NotAuthenticated()
        missing = self.scopes - token.scopes
        if missing:
            raise InsufficientScope(self.scopes)
        return True


ERROR_CODES = {
    status.HTTP_400_BAD_REQUEST: "invalid_request",
    status.HTTP_401_UNAUTHORIZED: "invalid_token",
    status.HTTP_403_FORBIDDEN: "insufficient_scope",
    status.HTTP_429_TOO_MANY_REQUESTS: "rate_limited",
}


def bearer_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF errors as RFC 6750 §3 errors: `{"error", "error_description"}` and, for 401 and
    403, a `WWW-Authenticate: Bearer` challenge that says what was wrong."""
    # Imported here: DRF loads this module while rest_framework.views itself is loading.
    from rest_framework.views import exception_handler

    response = exception_handler(exc, context)
    if response is None:
        return None
    request = context["request"]
    if isinstance(exc, exceptions.NotAuthenticated) and not request.META.get("HTTP_AUTHORIZATION"):
        # No token at all: RFC 6750 §3.1 sends a bare challenge and no error code.
        response.data = {"error": "invalid_request", "error_description": "A bearer token is required."}
        response["WWW-Authenticate"] = f'Bearer realm="{REALM}"'
        return response
    error = ERROR_CODES.get(response.status_code, "invalid_request")
    detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
    if isinstance(detail, dict):
        detail = detail.get("detail", "The request was refused.")
    response.data = {"error": error, "error_description": str(detail)}
    if isinstance(exc, InsufficientScope):
        scopes = " ".join(sorted(exc.scopes))
        response["WWW-Authenticate"] = f'Bearer realm="{REALM}", error="insufficient_scope", scope="{scopes}"'
    elif response.status_code == status.HTTP_401_UNAUTHORIZED:
        response["WWW-Authenticate"] = f'Bearer realm="{REALM}", error="invalid_token"'
    return response
