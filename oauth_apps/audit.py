"""The audit trail: one append-only AuditEvent row per security-relevant event.

Views and services call `audit_record`. The client's IP comes from the request being
served (AuditContextMiddleware), so code far from the view, such as the oauthlib
validator, can record events without being handed the request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse

from oauth_apps import rows
from oauth_apps.models import Application, AuditEvent
from oauth_apps.ratelimits import Limit

AUDIT_EVENT_INSERT = rows.Insert(AuditEvent)

Kind = AuditEvent.Kind
Actor = AuditEvent.Actor
Outcome = AuditEvent.Outcome

_client_ip: ContextVar[str | None] = ContextVar("audit_client_ip", default=None)


def current_client_ip() -> str:
    """The address of the peer the current request came from ("" outside a request)."""
    return _client_ip.get() or ""


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
    event = AuditEvent(
        kind=kind,
        actor=actor,
        outcome=outcome,
        application=application,
        client_id=(application.client_id if application is not None else client_id)[:100],
        user=user,
        actor_user=actor_user,
        ip_address=_client_ip.get(),
        detail=detail[:255],
    )
    # Every token request writes one: the plain INSERT (oauth_apps/rows.py), never an update.
    AUDIT_EVENT_INSERT.save(event)
    return event


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


@dataclass
class TokenRequestFacts:
    """What the validator learns while oauthlib handles a token request.

    The token view writes exactly one audit event per request from these facts, whatever
    the outcome: the validator only notes them.
    """

    # The limit a successfully authenticated client's request counts against.
    rate_limit: Limit | None = None
    application: Application | None = None
    client_id: str = ""
    user: Any = None
    # Set when the validator knows better than oauthlib's error code what went wrong.
    kind: str | None = None
    detail: str = ""


_token_request: ContextVar[TokenRequestFacts | None] = ContextVar("audit_token_request", default=None)


@contextmanager
def token_request_facts(rate_limit: Limit | None = None) -> Iterator[TokenRequestFacts]:
    facts = TokenRequestFacts(rate_limit=rate_limit)
    token = _token_request.set(facts)
    try:
        yield facts
    finally:
        _token_request.reset(token)


def current_token_request() -> TokenRequestFacts:
    """The facts of the token request being served (a throwaway outside one)."""
    return _token_request.get() or TokenRequestFacts()
