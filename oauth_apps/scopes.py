"""Scopes come from the Scope table, cached in the shared cache and cleared on every change."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from oauth2_provider.scopes import BaseScopes

from oauth_apps.models import Scope

CACHE_KEY = "oauth_apps:active-scopes"


def active_scopes() -> dict[str, str]:
    """Name -> description of every active scope."""
    scopes = cache.get(CACHE_KEY)
    if scopes is None:
        scopes = dict(Scope.objects.filter(is_active=True).values_list("name", "description"))
        cache.set(CACHE_KEY, scopes, timeout=None)
    return scopes


def active_scopes_forget() -> None:
    cache.delete(CACHE_KEY)


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
