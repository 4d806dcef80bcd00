"""Scope descriptions, and the scopes each client may ask for, are read once per process and
read again on change (oauth_apps.scopes)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.utils import timezone

from oauth_apps import scopes
from oauth_apps.models import Application, Scope
from tests.oauth import basic_auth


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


# --- the scopes each client may ask for -------------------------------------------------


def client_credentials(oauth, application, secret, scope: str):
    return oauth.token({"grant_type": "client_credentials", "scope": scope}, basic_auth(application.client_id, secret))


def fresh(application: Application) -> Application:
    """The client row as the next request loads it."""
    return Application.objects.get(pk=application.pk)


def test_a_process_reads_a_clients_scopes_once_while_the_client_is_unchanged(
    service_account, django_assert_num_queries
):
    application, _secret = service_account
    assert scopes.allowed_scope_names(fresh(application)) == ("read:participants",)

    rows = [fresh(application) for _ in range(3)]

    with django_assert_num_queries(0):
        for row in rows:
            assert scopes.allowed_scope_names(row) == ("read:participants",)


def test_without_the_per_process_copy_every_request_reads_them(service_account, settings, django_assert_num_queries):
    settings.OAUTH_CLIENT_SCOPES_PER_PROCESS = False
    application, _secret = service_account
    scopes.allowed_scope_names(application)

    with django_assert_num_queries(1):
        assert scopes.allowed_scope_names(application) == ("read:participants",)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda app, scope: app.allowed_scopes.remove(scope), id="remove"),
        pytest.param(lambda app, scope: app.allowed_scopes.set([]), id="set"),
        pytest.param(lambda app, scope: app.allowed_scopes.clear(), id="clear"),
        pytest.param(lambda app, scope: scope.applications.remove(app), id="remove from the scope"),
        pytest.param(lambda app, scope: scope.applications.clear(), id="clear the scope"),
        pytest.param(lambda app, scope: scope.applications.set([]), id="set on the scope"),
    ],
)
def test_a_scope_staff_take_from_a_client_is_refused_at_its_next_request(oauth, service_account, change):
    application, secret = service_account
    assert client_credentials(oauth, application, secret, "read:participants").status_code == 200

    change(fresh(application), Scope.objects.get(name="read:participants"))

    response = client_credentials(oauth, application, secret, "read:participants")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda app, scope: app.allowed_scopes.add(scope), id="add"),
        pytest.param(lambda app, scope: scope.applications.add(app), id="add from the scope"),
    ],
)
def test_a_scope_staff_give_a_client_is_allowed_at_its_next_request(oauth, service_account, change):
    application, secret = service_account
    assert client_credentials(oauth, application, secret, "write:studies").json()["error"] == "invalid_scope"

    change(fresh(application), Scope.objects.get(name="write:studies"))

    assert client_credentials(oauth, application, secret, "write:studies").status_code == 200


def test_a_change_made_by_another_process_shows_at_the_next_request(service_account):
    application, _secret = service_account
    assert scopes.allowed_scope_names(fresh(application)) == ("read:participants",)

    # Another process's change: the link row and the client's time, as its signal writes them.
    Application.allowed_scopes.through.objects.filter(application=application).delete()
    Application.objects.filter(pk=application.pk).update(updated=timezone.now())

    assert scopes.allowed_scope_names(fresh(application)) == ()


def test_scopes_renamed_into_each_others_names_are_read_again(service_account):
    application, _secret = service_account
    available = scopes.DatabaseScopes().get_available_scopes
    assert available(fresh(application)) == ["read:participants"]

    # The client keeps its scope row, whose name staff swap with another scope's.
    allowed, other = Scope.objects.get(name="read:participants"), Scope.objects.get(name="write:studies")
    allowed.name = "renaming"
    allowed.save()
    other.name, allowed.name = "read:participants", "write:studies"
    other.save()
    allowed.save()

    assert available(fresh(application)) == ["write:studies"]
