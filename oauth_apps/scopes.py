"""Scopes come from the Scope table, cached in the shared cache and cleared on every change."""

from __future__ import annotations

import logging
from contextlib import suppress
from typing import Any

from django.core.cache import cache
from oauth2_provider.scopes import BaseScopes

from oauth_apps.models import Scope
from oauth_apps.ratelimits import CACHE_ERRORS

log = logging.getLogger(__name__)

CACHE_KEY = "oauth_apps:active-scopes"
# Changes clear the cache at once; the timeout only bounds staleness after a cache outage
# swallowed a clear.
CACHE_SECONDS = 300


def active_scopes() -> dict[str, str]:
    """Name -> description of every active scope."""
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
        allowed = application.allowed_scopes.values_list("name", flat=True)
        return [name for name in allowed if name in active_scopes()]

    def get_default_scopes(self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any) -> list[str]:
        # No implicit default: a request without `scope` is refused with invalid_scope.
        return []
