"""Writes of the authorization server, as plain functions the views, commands and tests call."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import router, transaction
from django.db.models import QuerySet
from django.utils import timezone
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import (
    AbstractAccessToken,
    AbstractRefreshToken,
    get_access_token_model,
    get_grant_model,
    get_refresh_token_model,
    set_token_value,
)

from core import rows
from oauth_apps.audit import Actor, Kind, audit_record
from oauth_apps.models import Application, Consent, Scope, TokenFamily
from oauth_apps.selectors import expired_token_querysets


def token_family_revoke(*, family: uuid.UUID) -> None:
    """Revoke every refresh token of a family and delete every access token they carry.

    The one path by which tokens descending from an authorization are revoked: replayed
    codes, replayed refresh tokens, RFC 7009 revocation, the account page and the admin.
    """
    get_refresh_token_model().revoke_family(family)


# The detail of the audit event, by who revokes a single token: where they did it.
_ONE_TOKEN_REVOKED_WHERE = {Actor.CLIENT: "at the revocation endpoint", Actor.ADMIN: "from the admin's token list"}


@transaction.atomic
def access_token_revoke(
    *, access_token: AbstractAccessToken, actor: str, actor_user: AbstractBaseUser | None = None
) -> None:
    """Revoke an access token and every token of its family; a service account's token has
    no family and is deleted alone. One audit event either way."""
    refresh_token = getattr(access_token, "refresh_token", None)
    if refresh_token is None:
        access_token.delete()
    else:
        token_family_revoke(family=refresh_token.token_family)
    _tokens_revoked(
        application=access_token.application,
        user=refresh_token.user if refresh_token is not None else None,
        actor=actor,
        actor_user=actor_user,
        detail=_ONE_TOKEN_REVOKED_WHERE.get(actor, ""),
    )


@transaction.atomic
def refresh_token_revoke(
    *, refresh_token: AbstractRefreshToken, actor: str, actor_user: AbstractBaseUser | None = None
) -> None:
    """Revoke a refresh token and every token of its family, with one audit event."""
    token_family_revoke(family=refresh_token.token_family)
    _tokens_revoked(
        application=refresh_token.application,
        user=refresh_token.user,
        actor=actor,
        actor_user=actor_user,
        detail=_ONE_TOKEN_REVOKED_WHERE.get(actor, ""),
    )


def _tokens_revoked(
    *,
    application: Application | None,
    user: AbstractBaseUser | None,
    actor: str,
    actor_user: AbstractBaseUser | None,
    detail: str,
) -> None:
    audit_record(
        Kind.TOKENS_REVOKED, actor=actor, actor_user=actor_user, application=application, user=user, detail=detail
    )


def token_family_start(
    *, family: uuid.UUID, user: AbstractBaseUser, application: Application, scopes: Sequence[str], auth_time: int
) -> TokenFamily:
    """Record the authorization an authorization code starts (see TokenFamily)."""
    return TokenFamily.objects.create(
        family=family,
        user=user,
        application=application,
        scope=" ".join(scopes),
        auth_time=datetime.fromtimestamp(auth_time, tz=UTC),
    )


@transaction.atomic
def access_revoke(
    *,
    actor: str,
    user: AbstractBaseUser | None = None,
    application: Application | None = None,
    actor_user: AbstractBaseUser | None = None,
) -> int:
    """Revoke everything a user granted a client, everything a client holds, or everything a
    user granted: every token family, the access tokens outside one (service accounts),
    pending authorization codes and the remembered consent. Returns the number of
    authorizations (token families) revoked."""
    if user is None and application is None:
        raise ValueError("access_revoke needs a user, an application or both.")
    owner = {name: value for name, value in (("user", user), ("application", application)) if value is not None}
    refresh_tokens = get_refresh_token_model().objects.filter(**owner)
    families = set(refresh_tokens.filter(revoked__isnull=True).values_list("token_family", flat=True))
    for family in families - {None}:
        token_family_revoke(family=family)
    refresh_tokens.filter(revoked__isnull=True).update(revoked=timezone.now())
    get_access_token_model().objects.filter(**owner).delete()
    get_grant_model().objects.filter(**owner).delete()
    Consent.objects.filter(**owner).delete()
    _tokens_revoked(
        application=application,
        user=user,
        actor=actor,
        actor_user=actor_user,
        detail=f"{len(families)} authorization(s) revoked",
    )
    return len(families)


@transaction.atomic
def consent_record(*, user: AbstractBaseUser, application: Application, scopes: Sequence[str]) -> None:
    """Remember that the user allowed these scopes (adding to what they allowed before)."""
    consent, created = Consent.objects.select_for_update().get_or_create(
        user=user, application=application, defaults={"scope": " ".join(scopes)}
    )
    added = [scope for scope in scopes if scope not in consent.scopes]
    if added:
        consent.scope = " ".join([*consent.scopes, *added])
        consent.save(update_fields=["scope", "updated_at"])
    if created or added:
        audit_record(
            Kind.CONSENT_GRANTED,
            actor=Actor.USER,
            actor_user=user,
            application=application,
            user=user,
            detail=" ".join(scopes if created else added),
        )


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
    actor_user: AbstractBaseUser | None = None,
) -> tuple[Application, str | None]:
    """Validate and create a client. Returns it with its secret (confidential clients only),
    which exists in plain text only in this return value."""
    known = dict(Scope.objects.filter(name__in=scopes).values_list("name", "pk"))
    unknown = [scope for scope in scopes if scope not in known]
    if unknown:
        raise ValidationError({"allowed_scopes": f"Unknown scope(s): {', '.join(unknown)}."})
    application = Application(
        name=name,
        client_type=client_type,
        authorization_grant_type=grant_type,
        redirect_uris=" ".join(redirect_uris),
        allowed_origins=" ".join(allowed_origins),
        pkce_required=pkce_required,
        user=owner,
    )
    if client_id is not None:
        application.client_id = client_id
    secret = application_save(application=application, actor_user=actor_user)
    application.allowed_scopes.set(known.values())
    return application, secret


@transaction.atomic
def application_save(*, application: Application, actor_user: AbstractBaseUser | None = None) -> str | None:
    """Validate and save a new or changed client (the admin and register_client both come here).

    A confidential client without a secret (a new one, or one just made confidential) gets
    one, returned in plain text this once and stored only as a hash; a public client keeps none.
    """
    created = application._state.adding
    secret = None
    if application.client_type != Application.CLIENT_CONFIDENTIAL:
        application.client_secret = ""
    elif created or not application.client_secret:
        secret = generate_client_secret()
        application.client_secret = secret
    application.full_clean(exclude=["client_secret"])
    application.save()
    audit_record(
        Kind.CLIENT_CREATED if created else Kind.CLIENT_CHANGED,
        actor=Actor.ADMIN,
        actor_user=actor_user,
        application=application,
    )
    return secret


@transaction.atomic
def client_secret_regenerate(*, application: Application, actor_user: AbstractBaseUser | None = None) -> str:
    """Give a confidential client a new secret; the old one stops working at once.
    Returns the new secret, which exists in plain text only in this return value."""
    if application.client_type != Application.CLIENT_CONFIDENTIAL:
        raise ValidationError("Only confidential clients have a secret.")
    secret = generate_client_secret()
    application.client_secret = secret
    application.save(update_fields=["client_secret", "updated"])
    audit_record(Kind.SECRET_REGENERATED, actor=Actor.ADMIN, actor_user=actor_user, application=application)
    return secret


@dataclass(frozen=True)
class CleanupResult:
    kind: str
    deleted: int
    batches: int
    longest_batch_ms: float


def expired_tokens_delete(*, batch_size: int = 1000, pause: float = 0.0) -> list[CleanupResult]:
    """Delete what can never be used again, as django-oauth-toolkit's clear_expired() defines it
    with this project's settings, in short batches that walk an index instead of rescanning.

    Each batch is its own transaction; `pause` seconds between batches leave room for traffic.
    """
    return [
        _delete_in_batches(kind, queryset, key, batch_size, pause)
        for kind, queryset, key in expired_token_querysets(now=timezone.now())
    ]


def _delete_in_batches(kind: str, queryset: QuerySet, key: str, batch_size: int, pause: float) -> CleanupResult:
    # Keyset pagination on `key`: each batch resumes where the last one stopped, so rows that
    # are not deletable (an expired access token whose refresh token lives) are read once.
    deleted = batches = 0
    longest = 0.0
    cursor = None
    while True:
        started = time.perf_counter()
        with transaction.atomic():
            page = queryset if cursor is None else queryset.filter(**{f"{key}__gte": cursor})
            rows = list(page.order_by(key).values_list("pk", key)[:batch_size])
            if rows:
                queryset.model.objects.filter(pk__in=[pk for pk, _ in rows]).delete()
        if not rows:
            break
        deleted, batches = deleted + len(rows), batches + 1
        longest = max(longest, (time.perf_counter() - started) * 1000)
        if len(rows) < batch_size:
            break
        cursor = rows[-1][1]
        time.sleep(pause)
    return CleanupResult(kind=kind, deleted=deleted, batches=batches, longest_batch_ms=longest)


# --- The token path's writes (core/rows.py) ---------------------------------------------

AccessToken = get_access_token_model()
Grant = get_grant_model()
RefreshToken = get_refresh_token_model()

ACCESS_TOKEN_INSERT = rows.Insert(AccessToken)
REFRESH_TOKEN_INSERT = rows.Insert(RefreshToken)
REFRESH_TOKEN_USED = rows.Update(RefreshToken, ["revoked", "updated"])
GRANT_DELETE = rows.Delete(Grant)


def access_token_insert(
    *,
    user: AbstractBaseUser | None,
    application: Application,
    scope: str,
    expires: datetime,
    token: str,
    source_refresh_token: RefreshToken | None = None,
) -> AccessToken:
    """Store an issued access token: its checksum, never the token (RFC 9700 §4.14)."""
    access_token = AccessToken(
        user=user,
        application=application,
        scope=scope,
        expires=expires,
        source_refresh_token=source_refresh_token,
    )
    set_token_value(access_token, token)
    ACCESS_TOKEN_INSERT.save(access_token)
    return access_token


def refresh_token_insert(
    *,
    user: AbstractBaseUser | None,
    application: Application,
    access_token: AccessToken,
    token_family: uuid.UUID | None,
    token: str,
) -> RefreshToken:
    """Store an issued refresh token (its checksum) in its family, beside its access token."""
    refresh_token = RefreshToken(
        user=user, application=application, access_token=access_token, token_family=token_family
    )
    set_token_value(refresh_token, token)
    REFRESH_TOKEN_INSERT.save(refresh_token)
    return refresh_token


def refresh_token_rotate(*, refresh_token: RefreshToken, access_token: AccessToken, token: str) -> RefreshToken:
    """RFC 9700 §4.14.2: the presented refresh token is used up (revoked, so presenting it
    again reveals a copy) and its successor, beside the new access token, joins its family.

    Revoking for any other reason takes the whole family: token_family_revoke.
    """
    with transaction.atomic(using=router.db_for_write(RefreshToken), savepoint=False):
        refresh_token.revoked = timezone.now()
        REFRESH_TOKEN_USED.save(refresh_token)
        successor = RefreshToken(
            user=refresh_token.user,
            application_id=refresh_token.application_id,
            access_token=access_token,
            token_family=refresh_token.token_family,
        )
        set_token_value(successor, token)
        REFRESH_TOKEN_INSERT.save(successor)
    return successor


def grant_delete(*, grant: Grant) -> None:
    """An authorization code is redeemed once (RFC 6749 §4.1.2): its grant row goes."""
    GRANT_DELETE.delete(grant)
