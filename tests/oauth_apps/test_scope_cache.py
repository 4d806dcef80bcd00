"""Scope descriptions are read once per process and refreshed on change (oauth_apps.scopes)."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from oauth_apps import scopes
from oauth_apps.models import Scope


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(scopes, "time", fake)
    return fake


def test_a_process_reads_the_scopes_once_not_per_request(db, clock, monkeypatch):
    scopes.active_scopes()
    reads = []
    monkeypatch.setattr(scopes, "_shared_scopes", lambda: reads.append(1) or {})

    for _ in range(5):
        assert "read:profile" in scopes.active_scopes()

    assert reads == []


def test_a_change_made_elsewhere_shows_within_the_refresh_time(db, clock, settings):
    assert "write:studies" in scopes.active_scopes()
    # Another server instance deactivates the scope: the shared copy is cleared, ours is not.
    Scope.objects.filter(name="write:studies").update(is_active=False)
    cache.clear()

    clock.now += settings.OAUTH_SCOPE_REFRESH_SECONDS - 1
    assert "write:studies" in scopes.active_scopes()
    clock.now += 1
    assert "write:studies" not in scopes.active_scopes()


def test_a_change_in_this_process_shows_at_once(db, clock):
    assert "write:studies" in scopes.active_scopes()

    scope = Scope.objects.get(name="write:studies")
    scope.is_active = False
    scope.save()

    assert "write:studies" not in scopes.active_scopes()
