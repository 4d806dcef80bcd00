"""Reads: what the pages, the admin, the oauthlib validator and the commands look up."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Exists, F, FilteredRelation, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_grant_model, get_refresh_token_model
from oauth2_provider.settings import oauth2_settings

from core import rows
from oauth_apps.models import Application, AuditEvent, Consent, TokenFamily
from oauth_apps.scopes import active_scopes

AccessToken = get_access_token_model()
Grant = get_grant_model()
RefreshToken = get_refresh_token_model()


@dataclass(frozen=True)
class ConnectedApp:
    application: Application
    scope_descriptions: list[str]
    authorized_at: datetime
    last_used_at: datetime | None


def last_token_issued(*, application: OuterRef | Application, user: OuterRef | None = None) -> Subquery:
    """When tokens were last issued to a client (for a user): the audit log already says."""
    events = AuditEvent.objects.filter(application=application, kind=AuditEvent.Kind.TOKENS_ISSUED)
    if user is not None:
        events = events.filter(user=user)
    return Subquery(events.order_by("-created_at").values("created_at")[:1])


def connected_app_list(*, user: AbstractBaseUser) -> list[ConnectedApp]:
    consents: QuerySet[Consent] = (
        Consent.objects.filter(user=user)
        .select_related("application")
        .annotate(last_used_at=last_token_issued(application=OuterRef("application"), user=OuterRef("user")))
        .order_by("application__name", "application_id")
    )
    descriptions = active_scopes()
    return [
        ConnectedApp(
            application=consent.application,
            # Two scopes may tell the user the same thing (profile, read:profile): say it once.
            scope_descriptions=list(dict.fromkeys(descriptions.get(scope, scope) for scope in consent.scopes)),
            authorized_at=consent.created_at,
            last_used_at=consent.last_used_at,
        )
        for consent in consents
    ]


@dataclass(frozen=True)
class FamilyAuthorization:
    """What a token family's authorization still grants, as of now."""

    started_at: datetime
    auth_time: datetime
    granted_scopes: list[str]
    # The granted scopes that are still active and still allowed to the client: the most a
    # token of this family may carry, however the client's registration changed since.
    current_scopes: list[str]

    @property
    def ends_at(self) -> datetime:
        return self.started_at + timedelta(seconds=settings.OAUTH_REFRESH_TOKEN_LIFETIME)

    def has_ended(self) -> bool:
        return self.ends_at <= timezone.now()


# The family with its client's current ceiling, read on every code exchange and refresh: a row
# per scope the client is allowed, naming it while it is active (else None, as for no scope).
FAMILY_WITH_ALLOWED_SCOPES = rows.Select(
    TokenFamily,
    filter_on=["family"],
    annotate={
        "active_scopes": FilteredRelation(
            "application__allowed_scopes", condition=Q(application__allowed_scopes__is_active=True)
        ),
        "allowed_scope": F("active_scopes__name"),
    },
)


def token_family_authorization(*, family: uuid.UUID) -> FamilyAuthorization | None:
    """The family's authorization with the client's current ceiling, in one statement."""
    found = FAMILY_WITH_ALLOWED_SCOPES.all(family=family)
    if not found:
        return None
    allowed = {row.allowed_scope for row in found}
    granted = found[0].scope.split()
    return FamilyAuthorization(
        started_at=found[0].created_at,
        auth_time=found[0].auth_time,
        granted_scopes=granted,
        current_scopes=[name for name in granted if name in allowed],
    )


def consent_covers(*, user_id: int | str, application: Application, scopes: Sequence[str]) -> bool:
    """Whether the user has already allowed this client every one of `scopes`."""
    return bool(scopes) and not consent_new_scopes(user_id=user_id, application=application, scopes=scopes)


def consent_new_scopes(*, user_id: int | str, application: Application, scopes: Sequence[str]) -> list[str]:
    """The requested scopes the user has not allowed this client before (all of them, the first time)."""
    granted = Consent.objects.filter(user_id=user_id, application=application).values_list("scope", flat=True).first()
    if granted is None:
        return list(scopes)
    return [scope for scope in scopes if scope not in granted.split()]


def expired_token_querysets(*, now: datetime) -> list[tuple[str, QuerySet, str]]:
    """What purge_tokens deletes, in order, each with the indexed column it walks.

    Revoked refresh tokens are kept for the refresh lifetime: replay detection needs them.
    ID tokens are signed and handed out, never stored (validators.finalize_id_token), so
    unlike django-oauth-toolkit's clear_expired() there are none to delete.
    """
    return _expired_tokens(now=now, counting=False)


def expired_token_counts(*, now: datetime) -> list[tuple[str, int]]:
    """How many rows of each kind purge_tokens would delete, in its order (its --dry-run)."""
    return [(kind, queryset.count()) for kind, queryset, _ in _expired_tokens(now=now, counting=True)]


def _expired_tokens(*, now: datetime, counting: bool) -> list[tuple[str, QuerySet, str]]:
    refresh_lifetime = timedelta(seconds=oauth2_settings.REFRESH_TOKEN_EXPIRE_SECONDS)
    refresh, access = get_refresh_token_model().objects, get_access_token_model().objects
    revoked_long_ago = Q(revoked__lte=now - refresh_lifetime)
    idle_too_long = Q(revoked__isnull=True, access_token__expires__lte=now - refresh_lifetime)
    holders = refresh.filter(access_token=OuterRef("pk"))
    if counting:
        # A run deletes those refresh tokens before it reaches the access tokens they hold,
        # which then go too; a count deletes nothing, so it leaves them out of the holders.
        holders = holders.exclude(revoked_long_ago | idle_too_long)
    return [
        ("revoked refresh tokens", refresh.filter(revoked_long_ago), "revoked"),
        ("orphaned refresh tokens", refresh.filter(revoked__isnull=True, access_token__isnull=True), "pk"),
        ("expired refresh tokens", refresh.filter(idle_too_long), "access_token__expires"),
        # NOT EXISTS rather than the LEFT JOIN of `refresh_token__isnull`: PostgreSQL plans the
        # join as a hash over both whole tables, the anti-join as an index walk by expiry.
        ("expired access tokens", access.filter(~Exists(holders), expires__lt=now), "expires"),
        ("expired authorization codes", get_grant_model().objects.filter(expires__lt=now), "expires"),
        # Past its absolute lifetime a family yields nothing more; its revoked tokens go above.
        ("ended token families", TokenFamily.objects.filter(created_at__lte=now - refresh_lifetime), "created_at"),
    ]


# The token path's reads (core/rows.py): each row with the related rows its caller uses.
APPLICATION_BY_CLIENT_ID = rows.Select(Application, filter_on=["client_id"])
GRANT_LOCKED_BY_CODE = rows.Select(Grant, filter_on=["code"], related=["user"], lock=True)
REFRESH_TOKEN_LOCKED_BY_CHECKSUM = rows.Select(
    RefreshToken,
    filter_on=["token_checksum"],
    related=["access_token", "user"],
    # A refresh token's checksum is unique among live tokens; a revoked copy may share it.
    order_by=[F("revoked").desc(nulls_first=True)],
    lock=True,
)
ACCESS_TOKEN_BY_CHECKSUM = rows.Select(AccessToken, filter_on=["token_checksum"], related=["user"])
LIVE_REFRESH_TOKEN_BY_CHECKSUM = rows.Select(
    RefreshToken,
    filter_on=["token_checksum"],
    where=Q(revoked__isnull=True, access_token__isnull=False),
    related=["application", "user", "access_token"],
)


def application_by_client_id(*, client_id: str) -> Application | None:
    return APPLICATION_BY_CLIENT_ID.first(client_id=client_id)


def grant_locked_by_code(*, code: str) -> Grant | None:
    """The authorization code's grant with its user, locked until the transaction ends."""
    return GRANT_LOCKED_BY_CODE.first(code=code)


def refresh_token_locked_by_checksum(*, checksum: str) -> RefreshToken | None:
    """The refresh token with this checksum (the live one if there is one, else the one
    revoked last) with its access token and user, locked until the transaction ends."""
    return REFRESH_TOKEN_LOCKED_BY_CHECKSUM.first(token_checksum=checksum)


def access_token_by_checksum(*, checksum: str) -> AccessToken | None:
    """The access token with this checksum, with its user."""
    return ACCESS_TOKEN_BY_CHECKSUM.first(token_checksum=checksum)


def live_refresh_token_by_checksum(*, checksum: str) -> RefreshToken | None:
    """The unrevoked refresh token with this checksum that still has its access token, with
    its client, user and access token."""
    return LIVE_REFRESH_TOKEN_BY_CHECKSUM.first(token_checksum=checksum)


def token_held_by_client(*, checksum: str, application: Application) -> RefreshToken | AccessToken | None:
    """The refresh token, else the access token, with this checksum that `application` holds
    (RFC 7009 §2.1: a client revokes only its own tokens), with what revoking it needs."""
    held_by_client = Q(token_checksum=checksum, application=application)
    refresh_token = RefreshToken.objects.select_related("application", "user").filter(held_by_client).first()
    if refresh_token is not None:
        return refresh_token
    return AccessToken.objects.select_related("refresh_token__user", "application").filter(held_by_client).first()
