"""Reads the pages and the admin share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import OuterRef, QuerySet, Subquery

from oauth_apps.models import Application, AuditEvent, Consent
from oauth_apps.scopes import active_scopes


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
