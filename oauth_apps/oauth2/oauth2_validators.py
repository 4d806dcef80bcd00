"""The oauthlib request validator: DOT's, with the rules WeTrials promises.

Every token request runs inside one transaction (see views/token.py), so the row locks
taken here hold until the response is decided: a code or refresh token can be redeemed
once, however many requests race for it.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any
from urllib.parse import unquote_plus

import jwt
from django.conf import settings
from django.contrib.auth.hashers import check_password, identify_hasher
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from oauth2_provider.models import get_access_token_model, get_refresh_token_model
from oauth2_provider.oauth2_validators import GRANT_TYPE_MAPPING
from oauth2_provider.oauth2_validators import OAuth2Validator as DotOAuth2Validator
from oauthlib.common import Request
from oauthlib.oauth2.rfc6749 import errors

from accounts.claims import user_claims
from core import ratelimits, seams
from core.ratelimits import Charge, RateLimitExceeded, RateLimitUnavailable, limits_charge
from oauth_apps.audit import Actor, Kind
from oauth_apps.keys import key_ring
from oauth_apps.models import Application
from oauth_apps.oauth2.oauth2_backends import AUTH_TIME_HEADER, SIGNED_IN_USER_HEADER
from oauth_apps.oauth2.token_request import TokenRequest, token_request_of
from oauth_apps.oauth2.tokens import authorization_code_family, id_token_subject, token_checksum
from oauth_apps.selectors import (
    FamilyAuthorization,
    access_token_by_checksum,
    application_by_client_id,
    consent_covers,
    grant_locked_by_code,
    live_refresh_token_by_checksum,
    refresh_token_locked_by_checksum,
    token_family_authorization,
    token_held_by_client,
)
from oauth_apps.services import (
    access_token_insert,
    access_token_revoke,
    consent_record,
    grant_delete,
    refresh_token_insert,
    refresh_token_revoke,
    refresh_token_rotate,
    token_family_revoke,
    token_family_start,
)

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()

# RFC 7636 §4.1: code_verifier = 43*128unreserved.
CODE_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")


class RateLimited(errors.OAuth2Error):
    error = "rate_limited"
    status_code = 429

    def __init__(self, retry_after: int, **kwargs: Any) -> None:
        super().__init__(description="Too many requests: retry after the time in Retry-After.", **kwargs)
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


@contextmanager
def rate_limited(request: Request) -> Iterator[None]:
    """Turn the rate-limit outcomes into OAuth errors oauthlib answers with."""
    try:
        yield
    except RateLimitExceeded as exc:
        token_request_of(request).retry_after = exc.retry_after
        raise RateLimited(exc.retry_after, request=request) from None
    except RateLimitUnavailable:
        raise errors.TemporarilyUnavailableError(request=request, status_code=503) from None


class OAuth2Validator(seams.DotValidatorHooks, DotOAuth2Validator):
    # --- clients ---------------------------------------------------------------------

    def client_load(self, client_id: str, request: Request) -> Application | None:
        """The client DOT's checks use (seams.DotValidatorHooks), loaded once per request."""
        if not client_id or "\x00" in client_id:
            return None
        client = request.client
        if not isinstance(client, Application) or client.client_id != client_id:
            client = application_by_client_id(client_id=client_id)
        request.client = client if client is not None and client.is_usable(request) else None
        return request.client

    def authenticate_client(self, request: Request, *args: Any, **kwargs: Any) -> bool:
        """RFC 6749 §2.3.1: HTTP Basic (preferred) or client_id/client_secret in the body."""
        credentials = self._client_credentials(request)
        if credentials is None:
            return False
        client_id, secret = credentials
        state = token_request_of(request)
        with rate_limited(request):
            client = self.client_load(client_id, request)
            if client is None or not self._client_secret_matches(client, secret):
                self._authentication_failed(client_id, state)
                return False
            # An address that keeps failing is refused even with the right secret, in the
            # same cache round trip that counts the request.
            look = Charge(ratelimits.CLIENT_AUTH_FAILURES_PER_IP, state.client_address, look_only=True)
            self._authenticated(client, state, look)
        return True

    def authenticate_client_id(self, client_id: str, request: Request, *args: Any, **kwargs: Any) -> bool:
        """A public client names itself: nothing to check beyond that it exists."""
        state = token_request_of(request)
        with rate_limited(request):
            if not super().authenticate_client_id(client_id, request, *args, **kwargs):
                self._authentication_failed(client_id or "", state)
                return False
            self._authenticated(request.client, state)
        return True

    def client_authentication_required(self, request: Request, *args: Any, **kwargs: Any) -> bool:
        # RFC 7662 §2.1: introspection is for clients that can prove who they are
        # (confidential clients, service accounts): a public client may not learn about tokens.
        if token_request_of(request).client_authentication_required:
            return True
        return super().client_authentication_required(request, *args, **kwargs)

    @staticmethod
    def _authenticated(client: Application, state: TokenRequest, *charges: Charge) -> None:
        # Counted per client only once it has proved who it is, so nobody else can spend a
        # client's budget by sending its client_id.
        state.client = client
        if state.rate_limit is not None:
            charges = (*charges, Charge(state.rate_limit, client.client_id))
        limits_charge(*charges)

    @staticmethod
    def _authentication_failed(client_id: str, state: TokenRequest) -> None:
        state.audit_kind, state.claimed_client_id = Kind.CLIENT_AUTH_FAILED, client_id
        limits_charge(
            Charge(ratelimits.CLIENT_AUTH_FAILURES_PER_IP, state.client_address),
            Charge(ratelimits.CLIENT_AUTH_FAILURES_PER_CLIENT, client_id),
        )

    @staticmethod
    def _client_credentials(request: Request) -> tuple[str, str] | None:
        # DOT's Basic decoding accepts what this refuses: non-alphabet base64, and a body
        # client_id that differs from the header's.
        scheme, space, basic = (request.headers.get("HTTP_AUTHORIZATION") or "").partition(" ")
        if scheme != "Basic" or not space:
            if request.client_id and request.client_secret:
                return request.client_id, request.client_secret
            return None
        try:
            decoded = base64.b64decode(basic, validate=True).decode()
            client_id, secret = (unquote_plus(part) for part in decoded.split(":", 1))
        except (ValueError, UnicodeDecodeError):
            return None
        if request.client_id and request.client_id != client_id:
            return None
        return client_id, secret

    def _client_secret_matches(self, client: Application, secret: str) -> bool:
        stored = client.client_secret
        if not stored or not secret:
            return False
        try:
            identify_hasher(stored)
        except ValueError:
            # Stored in plain text (hash_client_secret=False).
            return constant_time_compare(secret, stored)

        def upgrade(raw_secret: str) -> None:
            # check_password calls this when the hash came from an older hasher.
            client.client_secret = raw_secret
            client.save(update_fields=["client_secret"])

        return check_password(
            secret, stored, setter=upgrade, preferred=settings.OAUTH2_PROVIDER["CLIENT_SECRET_HASHER"]
        )

    def is_pkce_required(self, client_id: str, request: Request) -> bool:
        client = request.client or self.client_load(client_id, request)
        return client is None or client.requires_pkce

    def validate_grant_type(
        self, client_id: str, grant_type: str, client: Application, request: Request, *args: Any, **kwargs: Any
    ) -> bool:
        # oauthlib's authorization-code grant also answers grant_type=openid, which DOT's
        # check asserts is in its mapping: that would be a 500 instead of this RFC 6749 §5.2 error.
        if grant_type not in GRANT_TYPE_MAPPING:
            raise errors.UnsupportedGrantTypeError(request=request)
        return super().validate_grant_type(client_id, grant_type, client, request, *args, **kwargs)

    def validate_response_type(
        self, client_id: str, response_type: str, client: Application, request: Request, *args: Any, **kwargs: Any
    ) -> bool:
        if response_type != "code":
            raise errors.UnsupportedResponseTypeError(request=request)
        return client.allows_grant_type(Application.GRANT_AUTHORIZATION_CODE)

    def validate_scopes(
        self, client_id: str, scopes: list[str], client: Application, request: Request, *args: Any, **kwargs: Any
    ) -> bool:
        # An empty request is refused too: there is no default scope.
        return bool(scopes) and super().validate_scopes(client_id, scopes, client, request, *args, **kwargs)

    # --- authorization codes -------------------------------------------------------

    @staticmethod
    def _locked_grant(code: str, request: Request) -> Any:
        """The grant row for `code`, locked for this transaction, loaded once per request."""
        state = token_request_of(request)
        if state.grant_code != code:
            state.grant, state.grant_code = grant_locked_by_code(code=code), code
        return state.grant

    def get_authorization_code_scopes(
        self, client_id: str, code: str, redirect_uri: str, request: Request
    ) -> list[str]:
        grant = self._locked_grant(code, request)
        return grant.scope.split() if grant else []

    def validate_code(
        self, client_id: str, code: str, client: Application, request: Request, *args: Any, **kwargs: Any
    ) -> bool:
        grant = self._locked_grant(code, request)
        if grant is None:
            # Unknown, or already redeemed: RFC 6749 §4.1.2 asks to revoke what it issued.
            family = authorization_code_family(code)
            if RefreshToken.objects.filter(token_family=family).exists():
                token_family_revoke(family=family)
                token_request_of(request).audit_kind = Kind.CODE_REPLAY
            return False
        if grant.application_id != client.pk or grant.is_expired() or not grant.user.is_active:
            return False
        if request.code_verifier is not None and (
            # RFC 9700 §2.1.1: a verifier for a code issued without a challenge is a PKCE
            # downgrade; RFC 7636 §4.1: a verifier outside the syntax is refused even if it matches.
            not grant.code_challenge or not CODE_VERIFIER.fullmatch(request.code_verifier)
        ):
            return False
        family = authorization_code_family(code)
        authorization = self._current_authorization(family, request)
        if authorization is None:
            return False
        request.scopes = authorization.current_scopes
        request.user = grant.user
        request.nonce = grant.nonce or None
        token_request_of(request).family = family
        return True

    def confirm_redirect_uri(
        self,
        client_id: str,
        code: str,
        redirect_uri: str,
        client: Application,
        request: Request,
        *args: Any,
        **kwargs: Any,
    ) -> bool:
        grant = self._locked_grant(code, request)
        return grant is not None and grant.redirect_uri == redirect_uri

    def get_code_challenge(self, code: str, request: Request) -> str | None:
        return self._locked_grant(code, request).code_challenge or None

    def get_code_challenge_method(self, code: str, request: Request) -> str | None:
        return self._locked_grant(code, request).code_challenge_method or None

    def get_authorization_code_nonce(
        self, client_id: str, code: str, redirect_uri: str, request: Request
    ) -> str | None:
        grant = self._locked_grant(code, request)
        return (grant.nonce or None) if grant else None

    def invalidate_authorization_code(
        self, client_id: str, code: str, request: Request, *args: Any, **kwargs: Any
    ) -> None:
        grant_delete(grant=token_request_of(request).grant)

    def save_authorization_code(
        self, client_id: str, code: dict[str, Any], request: Request, *args: Any, **kwargs: Any
    ) -> None:
        super().save_authorization_code(client_id, code, request, *args, **kwargs)
        # A code is only ever issued with the user's consent: remember it for next time.
        consent_record(user=request.user, application=request.client, scopes=request.scopes)
        token_family_start(
            family=authorization_code_family(code["code"]),
            user=request.user,
            application=request.client,
            scopes=request.scopes,
            auth_time=int(request.headers[AUTH_TIME_HEADER]),
        )

    # --- refresh tokens --------------------------------------------------------------

    def validate_refresh_token(
        self, refresh_token: str, client: Application, request: Request, *args: Any, **kwargs: Any
    ) -> bool:
        checksum = token_checksum(refresh_token)
        token = refresh_token_locked_by_checksum(checksum=checksum)
        if token is None or token.application_id != client.pk:
            return False
        if token.revoked is not None:
            # A rotated (or revoked) token presented again: someone holds a copy.
            token_family_revoke(family=token.token_family)
            state = token_request_of(request)
            state.audit_kind, state.user = Kind.REFRESH_TOKEN_REPLAY, token.user
            return False
        lifetime = timedelta(seconds=settings.OAUTH_REFRESH_TOKEN_LIFETIME)
        if token.access_token is None or token.created + lifetime <= timezone.now() or not token.user.is_active:
            return False
        if self._current_authorization(token.token_family, request) is None:
            return False
        request.user = token.user
        request.refresh_token = refresh_token
        token_request_of(request).presented_refresh_token = token
        return True

    def get_original_scopes(self, refresh_token: str, request: Request, *args: Any, **kwargs: Any) -> list[str]:
        # RFC 6749 §6: what the person granted, not what the last rotation narrowed it to,
        # less what the client may no longer have.
        return token_request_of(request).authorization.current_scopes

    @staticmethod
    def _current_authorization(family: Any, request: Request) -> FamilyAuthorization | None:
        """The token family's authorization while it may still yield tokens: within its
        absolute lifetime (a rotation never extends it) and still granting some scope."""
        authorization = token_family_authorization(family=family) if family is not None else None
        if authorization is None or authorization.has_ended() or not authorization.current_scopes:
            return None
        token_request_of(request).authorization = authorization
        return authorization

    # --- issuing ---------------------------------------------------------------------

    def save_bearer_token(self, token: dict[str, Any], request: Request, *args: Any, **kwargs: Any) -> None:
        # The token view's transaction already covers this: no savepoint of our own.
        if "scope" not in token:
            raise errors.FatalClientError("Failed to issue a token: missing scope")
        is_service_account = request.grant_type == "client_credentials"
        user = None if is_service_account else request.user
        state = token_request_of(request)
        state.user = user
        previous = state.presented_refresh_token
        access_token = access_token_insert(
            user=user,
            application=request.client,
            scope=token["scope"],
            expires=state.access_token_expires,
            token=token["access_token"],
            source_refresh_token=previous,
        )
        state.access_token = access_token  # for the view's app_authorized signal
        if "refresh_token" not in token:
            return
        if previous is not None:
            refresh_token_rotate(refresh_token=previous, access_token=access_token, token=token["refresh_token"])
        else:
            refresh_token_insert(
                user=user,
                application=request.client,
                access_token=access_token,
                token_family=state.family,
                token=token["refresh_token"],
            )

    # --- OpenID Connect ----------------------------------------------------------------

    def finalize_id_token(
        self, id_token: dict[str, Any], token: dict[str, Any], token_handler: Any, request: Request
    ) -> str:
        """OIDC Core §2: the ID token, signed with the same keys as access tokens."""
        now = int(time.time())
        id_token.update(user_claims(user=request.user, scopes=request.scopes))
        id_token.update(
            iss=settings.OAUTH_ISSUER,
            aud=request.client.client_id,
            iat=now,
            exp=now + settings.OAUTH_ACCESS_TOKEN_LIFETIME,
            # OIDC Core §12.2: the sign-in that started the family, however often it rotates.
            auth_time=int(token_request_of(request).authorization.auth_time.timestamp()),
        )
        if request.nonce:
            id_token["nonce"] = request.nonce
        key = key_ring.active()
        return jwt.encode(id_token, key.private_key, algorithm="RS256", headers={"kid": key.kid, "typ": "JWT"})

    def validate_silent_login(self, request: Request) -> bool:
        return bool(request.headers.get(SIGNED_IN_USER_HEADER))

    def validate_silent_authorization(self, request: Request) -> bool:
        signed_in = request.headers.get(SIGNED_IN_USER_HEADER)
        client = request.client or self.client_load(request.client_id, request)
        if not signed_in or client is None:
            return False
        return consent_covers(user_id=signed_in, application=client, scopes=request.scopes or [])

    def validate_user_match(self, id_token_hint: str | None, scopes: list[str], claims: Any, request: Request) -> bool:
        """OIDC Core §3.1.2.2: an id_token_hint must name the person signed in (else login_required)."""
        if not id_token_hint:
            return True
        return id_token_subject(id_token_hint) == request.headers.get(SIGNED_IN_USER_HEADER)

    # --- revocation (RFC 7009) and introspection (RFC 7662) ----------------------------

    def revoke_token(
        self, token: str, token_type_hint: str | None, request: Request, *args: Any, **kwargs: Any
    ) -> None:
        """Revoke a token the requesting client holds; anything else changes nothing.

        Either kind takes its whole family with it, every token descending from the same
        authorization (RFC 7009 §2.1 allows this for access tokens): a refresh token whose
        access token is gone could not be used anyway. The type hint is not needed: both
        kinds are looked up by checksum.
        """
        held = token_held_by_client(checksum=token_checksum(token), application=request.client)
        if isinstance(held, RefreshToken):
            refresh_token_revoke(refresh_token=held, actor=Actor.CLIENT)
        elif held is not None:
            access_token_revoke(access_token=held, actor=Actor.CLIENT)

    def introspect_token(
        self, token: str, token_type_hint: str | None, request: Request, *args: Any, **kwargs: Any
    ) -> dict[str, Any] | None:
        """RFC 7662 §2.2 claims of a live token, or None for an unknown, expired or revoked one."""
        checksum = token_checksum(token)
        access_token = access_token_by_checksum(checksum=checksum)
        if access_token is not None and not access_token.is_expired():
            if access_token.user is not None and not access_token.user.is_active:
                return None
            # The row proves the token is one we issued, unaltered: its claims need no re-verification.
            claims = jwt.decode(token, options={"verify_signature": False})
            return self._introspection_claims(claims, access_token.user, "Bearer")
        refresh_token = live_refresh_token_by_checksum(checksum=checksum)
        if refresh_token is None or not refresh_token.user.is_active:
            return None
        authorization = token_family_authorization(family=refresh_token.token_family)
        lifetime = timedelta(seconds=settings.OAUTH_REFRESH_TOKEN_LIFETIME)
        if authorization is None or authorization.has_ended() or refresh_token.created + lifetime <= timezone.now():
            return None
        claims = {
            "scope": refresh_token.access_token.scope,
            "client_id": refresh_token.application.client_id,
            "sub": str(refresh_token.user_id),
            "aud": settings.OAUTH_AUDIENCE,
            "iss": settings.OAUTH_ISSUER,
            "iat": int(refresh_token.created.timestamp()),
            "exp": int(min(refresh_token.created + lifetime, authorization.ends_at).timestamp()),
        }
        return self._introspection_claims(claims, refresh_token.user, "refresh_token")

    @staticmethod
    def _introspection_claims(claims: dict[str, Any], user: Any, token_type: str) -> dict[str, Any]:
        fields = ("scope", "client_id", "sub", "aud", "iss", "exp", "iat", "jti")
        result = {name: claims[name] for name in fields if name in claims}
        result["token_type"] = token_type
        if user is not None:
            result["username"] = user.get_username()
        return result
