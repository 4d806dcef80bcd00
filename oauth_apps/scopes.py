"""Scopes come from the Scope table, cached in the shared cache and cleared on every change.

Each process also keeps its own copy for OAUTH_SCOPE_REFRESH_SECONDS, so a request reads no
cache at all: a change shows at once in the process that made it, and within that time in
every other one (as a signing-key rotation does).

The scopes staff allow each client are kept per process too, for as long as the client row
says it is unchanged: every change of them moves the client's `updated` time (signals.py),
and every request reads the client row anyway, so a change shows at the next request.
"""

from __future__ import annotations

import logging
import time
from contextlib import suppress
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from oauth2_provider.scopes import BaseScopes

from core.ratelimits import CACHE_ERRORS
from oauth_apps.models import Application, Scope

log = logging.getLogger(__name__)

CACHE_KEY = "oauth_apps:active-scopes"
# Changes clear the cache at once; the timeout only bounds staleness after a cache outage
# swallowed a clear.
CACHE_SECONDS = 300


class _ProcessCopy:
    scopes: dict[str, str] | None = None
    loaded_at = 0.0
    # Moves with every load: a client's allowed names read before it may name a scope since
    # renamed, so they are read again too.
    generation = 0


class _ClientScopes:
    # Application pk -> ((the client's `updated`, the scopes' generation), its allowed names).
    names: dict[int, tuple[tuple[datetime, int], tuple[str, ...]]] = {}


def active_scopes() -> dict[str, str]:
    """Name -> description of every active scope."""
    scopes = _ProcessCopy.scopes
    if scopes is None or time.monotonic() - _ProcessCopy.loaded_at >= settings.OAUTH_SCOPE_REFRESH_SECONDS:
        scopes = _shared_scopes()
        _ProcessCopy.scopes, _ProcessCopy.loaded_at = scopes, time.monotonic()
        _ProcessCopy.generation += 1
    return scopes


def allowed_scope_names(application: Application) -> tuple[str, ...]:
    """The names of the scopes staff allow `application`, active or not, read from the
    database once per process for each version of the client row."""
    active_scopes()  # brings the generation up to date
    version = (application.updated, _ProcessCopy.generation)
    cached = _ClientScopes.names.get(application.pk)
    if cached is not None and cached[0] == version and settings.OAUTH_CLIENT_SCOPES_PER_PROCESS:
        return cached[1]
    names = tuple(application.allowed_scopes.values_list("name", flat=True))
    _ClientScopes.names[application.pk] = (version, names)
    return names


def _shared_scopes() -> dict[str, str]:
    try:
        scopes = cache.get(CACHE_KEY)
    except CACHE_ERRORS:
        log.warning("Cache unavailable: reading scopes from the database")
        return _scopes_from_database()
    if scopes is None:
        scopes = _scopes_from_database()
        with suppress(*CACHE_ERRORS):
            cache.set(CACHE_KEY, scopes, timeout=CACHE_SECONDS)
    return scopes


def _scopes_from_database() -> dict[str, str]:
    return dict(Scope.objects.filter(is_active=True).values_list("name", "description"))


def active_scopes_forget() -> None:
    _ProcessCopy.scopes = None
    try:
        cache.delete(CACHE_KEY)
    except CACHE_ERRORS:
        log.warning("Cache unavailable: scope changes show within %d s", CACHE_SECONDS)


class DatabaseScopes(BaseScopes):
    def get_all_scopes(self) -> dict[str, str]:
        return active_scopes()

    def get_available_scopes(
        self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        if application is None:
            return []
        scopes = active_scopes()
        return [name for name in allowed_scope_names(application) if name in scopes]

    def get_default_scopes(self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any) -> list[str]:
        # No implicit default: a request without `scope` is refused with invalid_scope.
        return []
