"""Which profile claims a set of granted scopes reveals (contract, "Claims by scope")."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from accounts.models import User

PROFILE_SCOPES = frozenset({"read:profile", "profile"})
EMAIL_SCOPES = frozenset({"email"})


def user_claims(*, user: User, scopes: Iterable[str]) -> dict[str, Any]:
    granted = set(scopes)
    claims: dict[str, Any] = {"sub": str(user.pk)}
    if granted & PROFILE_SCOPES:
        claims.update(
            name=user.get_full_name() or user.get_username(),
            given_name=user.first_name,
            family_name=user.last_name,
            preferred_username=user.get_username(),
            updated_at=int(user.updated_at.timestamp()),
        )
    if granted & EMAIL_SCOPES:
        claims.update(email=user.email, email_verified=user.email_verified)
    return claims
