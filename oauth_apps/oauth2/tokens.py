"""Token generators plugged into DOT (ACCESS_TOKEN_GENERATOR, REFRESH_TOKEN_GENERATOR), and
what is derived from a token or code: the checksum its row is found by, the family a code starts."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import jwt
from django.conf import settings
from oauthlib.common import Request

from accounts.claims import user_claims
from oauth_apps.keys import key_ring
from oauth_apps.oauth2.token_request import token_request_of

ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 - RFC 9068 header value, not a secret
# Namespace of the token families that authorization codes start.
_CODE_FAMILY_NAMESPACE = uuid.UUID("6c1f3a52-6a2f-4c64-9b0e-5f0f8f3c7d11")


def token_checksum(token: str | bytes) -> str:
    """The `token_checksum` DOT stores for a token (its TokenChecksumField), by which the row is found."""
    return hashlib.sha256(token.encode("utf-8") if isinstance(token, str) else token).hexdigest()


def authorization_code_family(code: str) -> uuid.UUID:
    """The token family an authorization code starts, derived from the code itself.

    Deriving it (instead of storing it beside the grant) means a code presented after its
    grant row was consumed still names the tokens it produced, so they can be revoked
    (RFC 6749 §4.1.2) with no extra state. The derivation is one-way: the family id
    reveals nothing about the code.
    """
    return uuid.uuid5(_CODE_FAMILY_NAMESPACE, token_checksum(code))


def access_token_claims(*, request: Request, issued_at: int) -> dict[str, Any]:
    """RFC 9068 §2.2 claims, plus the profile claims the granted scopes allow."""
    client = request.client
    scopes = list(request.scopes or [])
    user = None if request.grant_type == "client_credentials" else request.user
    claims: dict[str, Any] = user_claims(user=user, scopes=scopes) if user is not None else {}
    claims.update(
        iss=settings.OAUTH_ISSUER,
        sub=str(user.pk) if user is not None else client.client_id,
        aud=settings.OAUTH_AUDIENCE,
        client_id=client.client_id,
        scope=" ".join(scopes),
        iat=issued_at,
        exp=issued_at + int(request.expires_in),
        jti=secrets.token_urlsafe(16),
    )
    return claims


def generate_access_token(request: Request) -> str:
    key = key_ring.active()
    claims = access_token_claims(request=request, issued_at=int(time.time()))
    # The validator stores the token row with exactly this expiry.
    token_request_of(request).access_token_expires = datetime.fromtimestamp(claims["exp"], tz=UTC)
    return jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid, "typ": ACCESS_TOKEN_TYPE})


def generate_refresh_token(request: Request) -> str:
    return secrets.token_urlsafe(48)


def id_token_subject(id_token: str) -> str | None:
    """The `sub` of an ID token this server issued (OIDC Core §3.1.2.1 `id_token_hint`), or
    None if it isn't one. It may have expired: a hint names a person, it grants nothing."""
    try:
        header = jwt.get_unverified_header(id_token)
        key = key_ring.verifying_key(str(header.get("kid", "")))
        if key is None or header.get("typ") == ACCESS_TOKEN_TYPE:
            return None
        claims = jwt.decode(
            id_token,
            key,
            algorithms=["RS256"],
            issuer=settings.OAUTH_ISSUER,
            options={"verify_exp": False, "verify_aud": False, "require": ["sub", "aud"]},
        )
    except jwt.InvalidTokenError:
        return None
    return str(claims["sub"])
