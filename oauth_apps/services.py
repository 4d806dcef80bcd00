"""Writes of the authorization server, as plain functions the views, commands and tests call."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import get_refresh_token_model

from oauth_apps.models import Application, Scope

# Namespace of the token families that authorization codes start.
_CODE_FAMILY_NAMESPACE = uuid.UUID("6c1f3a52-6a2f-4c64-9b0e-5f0f8f3c7d11")


def authorization_code_family(code: str) -> uuid.UUID:
    """The token family an authorization code starts, derived from the code itself.

    Deriving it (instead of storing it beside the grant) means a code presented after its
    grant row was consumed still names the tokens it produced, so they can be revoked
    (RFC 6749 §4.1.2) with no extra state. The derivation is one-way: the family id
    reveals nothing about the code.
    """
    return uuid.uuid5(_CODE_FAMILY_NAMESPACE, hashlib.sha256(code.encode()).hexdigest())


def token_family_revoke(*, family: uuid.UUID) -> None:
    """Revoke every refresh token of a family and delete every access token they carry.

    The one path by which tokens descending from an authorization are revoked: replayed
    codes, replayed refresh tokens, RFC 7009 revocation, the account page and the admin.
    """
    get_refresh_token_model().revoke_family(family)


@transaction.atomic
def application_register(
    *,
    name: str,
    client_type: str,
    redirect_uris: Sequence[str] = (),
    scopes: Sequence[str] = (),
    grant_type: str = Application.GRANT_AUTHORIZATION_CODE,
    pkce_required: bool = True,
    allowed_origins: Sequence[str] = (),
    owner: AbstractBaseUser | None = None,
    client_id: str | None = None,
) -> tuple[Application, str | None]:
    """Validate and create a client. Returns it with its secret (confidential clients only),
    which exists in plain text only in this return value."""
    known = dict(Scope.objects.filter(name__in=scopes).values_list("name", "pk"))
    unknown = [scope for scope in scopes if scope not in known]
    if unknown:
        raise ValidationError({"allowed_scopes": f"Unknown scope(s): {', '.join(unknown)}."})
    secret = generate_client_secret() if client_type == Application.CLIENT_CONFIDENTIAL else None
    application = Application(
        name=name,
        client_type=client_type,
        authorization_grant_type=grant_type,
        redirect_uris=" ".join(redirect_uris),
        allowed_origins=" ".join(allowed_origins),
        pkce_required=pkce_required,
        client_secret=secret or "",
        user=owner,
    )
    if client_id is not None:
        application.client_id = client_id
    application.full_clean()
    application.save()
    application.allowed_scopes.set(known.values())
    return application, secret
