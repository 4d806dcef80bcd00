"""The audit trail: one append-only AuditEvent row per security-relevant event.

Views and services call `audit_record`. The client's IP comes from the request being
served (AuditContextMiddleware), so a service that the admin, the pages and the oauthlib
validator all call can record events without being handed the request. Rows leave only
through `audit_events_prune`, the retention command's service.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from core import rows
from oauth_apps.models import Application, AuditEvent

# AuditEvent.save() only refuses to change a stored event: an insert gives it nothing to do.
AUDIT_EVENT_INSERT = rows.Insert(AuditEvent, skips_own_save=True)

# Control characters can't be stored by PostgreSQL (NUL) or forge lines and hide text where
# the trail is read (the admin, an export); format characters (bidi overrides) can make a
# client id read as another; lone surrogates can't be encoded at all.
_UNPRINTABLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})
_REPLACEMENT = "\ufffd"
_TEXT_FIELDS = ("client_id", "username", "actor_username", "detail")
_MAX_LENGTHS = {name: AuditEvent._meta.get_field(name).max_length for name in _TEXT_FIELDS}

Kind = AuditEvent.Kind
Actor = AuditEvent.Actor
Outcome = AuditEvent.Outcome

_client_ip: ContextVar[str | None] = ContextVar("audit_client_ip", default=None)


def audit_text(value: str, *, field: str) -> str:
    """`value` as it can always be stored in the text column `field`: unprintable characters
    replaced by U+FFFD, cut to the column's length."""
    if not value.isprintable():
        value = "".join(
            _REPLACEMENT if unicodedata.category(char) in _UNPRINTABLE_CATEGORIES else char for char in value
        )
    return value[: _MAX_LENGTHS[field]]


def _username(user: Any) -> str:
    return user.get_username() if user is not None else ""


def audit_record(
    kind: str,
    *,
    actor: str,
    outcome: str = Outcome.SUCCESS,
    application: Application | None = None,
    client_id: str = "",
    user: Any = None,
    actor_user: Any = None,
    detail: str = "",
) -> AuditEvent:
    """Write one event. Every text comes from the request or the database as it is, so it is
    sanitised here: recording a rejected request must never fail because of what it sent."""
    event = AuditEvent(
        kind=kind,
        actor=actor,
        outcome=outcome,
        application=application,
        # Kept as text beside the foreign keys, so the trail still names them once deleted.
        client_id=audit_text(application.client_id if application is not None else client_id, field="client_id"),
        user=user,
        username=audit_text(_username(user), field="username"),
        actor_user=actor_user,
        actor_username=audit_text(_username(actor_user), field="actor_username"),
        ip_address=_client_ip.get(),
        detail=audit_text(detail, field="detail"),
    )
    # Token requests write one: an INSERT compiled once (core/rows.py), never an update.
    AUDIT_EVENT_INSERT.save(event)
    return event


@dataclass(frozen=True)
class AuditPruneResult:
    created_before: datetime
    deleted: int
    batches: int


def audit_events_prune(
    *, older_than: timedelta, batch_size: int = 1000, pause: float = 0.0, dry_run: bool = False
) -> AuditPruneResult:
    """Delete the events created more than `older_than` ago, oldest first, `batch_size` rows
    per transaction so that no batch holds locks for long while the server writes new ones.

    With `dry_run`, count them and delete nothing.
    """
    created_before = timezone.now() - older_than
    if dry_run:
        count = AuditEvent.objects.filter(created_at__lt=created_before).count()
        return AuditPruneResult(created_before=created_before, deleted=count, batches=0)
    deleted = batches = 0
    while True:
        with transaction.atomic():
            batch = AuditEvent.objects.prune_oldest(created_before=created_before, limit=batch_size)
        if not batch:
            break
        deleted, batches = deleted + batch, batches + 1
        if batch < batch_size:
            break
        time.sleep(pause)
    return AuditPruneResult(created_before=created_before, deleted=deleted, batches=batches)


class AuditContextMiddleware:
    """Make the client's IP address available to audit_record for the current request.

    REMOTE_ADDR is the peer that connected: behind a proxy, the proxy. Operators who
    terminate TLS at a proxy read the client address from its own logs.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _client_ip.set(request.META.get("REMOTE_ADDR") or None)
        try:
            return self.get_response(request)
        finally:
            _client_ip.reset(token)
