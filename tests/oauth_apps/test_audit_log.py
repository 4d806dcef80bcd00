"""The audit log: each security event writes exactly one append-only row; requests refused
before client authentication or rate limited write none."""

from __future__ import annotations

import base64
import importlib
import time
from types import SimpleNamespace

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from oauth_apps.audit import AUDIT_EVENT_INSERT, audit_record
from oauth_apps.models import AuditEvent
from oauth_apps.services import access_revoke, client_secret_regenerate
from tests.oauth import REVOKE_URL, TOKEN_URL, AuthorizationRequest, basic_auth

Kind = AuditEvent.Kind


@pytest.fixture
def frozen_rate_windows(monkeypatch) -> None:
    """django-ratelimit's clock stands still, so no window ends in the middle of a test."""
    now = time.time()
    monkeypatch.setattr("django_ratelimit.core.time", SimpleNamespace(time=lambda: now))


def events(kind: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(kind=kind))


def test_registering_a_client_writes_one_event(make_application):
    application, _ = make_application()

    [event] = events(Kind.CLIENT_CREATED)
    assert event.application == application
    assert event.client_id == application.client_id


def test_regenerating_a_secret_writes_one_event(confidential_app, make_user):
    staff = make_user("staff", is_staff=True)

    client_secret_regenerate(application=confidential_app[0], actor_user=staff)

    [event] = events(Kind.SECRET_REGENERATED)
    assert (event.actor, event.actor_user) == ("admin", staff)


def test_consent_and_token_issue_write_one_event_each(oauth, public_app, user):
    oauth.tokens_for(public_app, scope="openid")

    [consent] = events(Kind.CONSENT_GRANTED)
    [issued] = events(Kind.TOKENS_ISSUED)
    assert (consent.user, consent.application, consent.detail) == (user, public_app, "openid")
    assert (issued.user, issued.application, issued.outcome) == (user, public_app, "success")
    assert issued.ip_address == "127.0.0.1"


def test_refresh_writes_one_tokens_issued_event(oauth, public_app):
    tokens = oauth.tokens_for(public_app)

    oauth.refresh(public_app.client_id, tokens["refresh_token"])

    assert len(events(Kind.TOKENS_ISSUED)) == 2


def test_refresh_token_replay_writes_exactly_one_event(oauth, public_app, user):
    tokens = oauth.minted_tokens_for(public_app)
    oauth.refresh(public_app.client_id, tokens["refresh_token"])
    before = AuditEvent.objects.count()

    oauth.refresh(public_app.client_id, tokens["refresh_token"])

    assert AuditEvent.objects.count() == before + 1
    [event] = events(Kind.REFRESH_TOKEN_REPLAY)
    assert (event.actor, event.outcome, event.user, event.detail) == ("replay", "failure", user, "invalid_grant")


def test_code_replay_writes_exactly_one_event(oauth, public_app):
    request = AuthorizationRequest(client_id=public_app.client_id)
    code = oauth.authorize(request)
    oauth.exchange(request, code)
    before = AuditEvent.objects.count()

    oauth.exchange(request, code)

    assert AuditEvent.objects.count() == before + 1
    [event] = events(Kind.CODE_REPLAY)
    assert event.application == public_app


def test_failed_client_authentication_writes_exactly_one_event(oauth, confidential_app):
    application, _ = confidential_app
    before = AuditEvent.objects.count()

    oauth.token({"grant_type": "client_credentials"}, basic_auth(application.client_id, "wrong"))

    assert AuditEvent.objects.count() == before + 1
    [event] = events(Kind.CLIENT_AUTH_FAILED)
    assert (event.client_id, event.outcome, event.application) == (application.client_id, "failure", None)


REJECTED_AFTER_CLIENT_AUTHENTICATION = {
    "bad code": lambda oauth, app: oauth.token(
        {"client_id": app.client_id, "grant_type": "authorization_code", "code": "nope", "redirect_uri": "x"}
    ),
    "bad refresh token": lambda oauth, app: oauth.refresh(app.client_id, "nope"),
    "unknown client": lambda oauth, app: oauth.refresh("no-such-client", "nope", secret="guess"),
    "wrong secret": lambda oauth, app: oauth.refresh(app.client_id, "nope", secret="wrong"),
}


@pytest.mark.parametrize(
    "send", REJECTED_AFTER_CLIENT_AUTHENTICATION.values(), ids=REJECTED_AFTER_CLIENT_AUTHENTICATION.keys()
)
def test_a_rejected_token_request_that_reached_client_authentication_leaves_exactly_one_event(oauth, public_app, send):
    before = AuditEvent.objects.count()

    response = send(oauth, public_app)

    assert response.status_code >= 400
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.first()
    assert event.outcome == "failure"


REFUSED_BEFORE_CLIENT_AUTHENTICATION = {
    "JSON body": lambda oauth, app: oauth.client.post(TOKEN_URL, {}, content_type="application/json"),
    "no grant type": lambda oauth, app: oauth.token({"client_id": app.client_id}),
    "unknown grant type": lambda oauth, app: oauth.token({"client_id": app.client_id, "grant_type": "password"}),
    "no code": lambda oauth, app: oauth.token({"client_id": app.client_id, "grant_type": "authorization_code"}),
    "repeated parameter": lambda oauth, app: oauth.token("grant_type=refresh_token&grant_type=refresh_token"),
    # Neither credentials to check nor a registered public client: nothing was authenticated.
    "no client credentials": lambda oauth, app: oauth.token({"grant_type": "client_credentials"}),
    "unknown client id, no secret": lambda oauth, app: oauth.refresh("no-such-client", "nope"),
    "GET": lambda oauth, app: oauth.client.get(TOKEN_URL),
    "GET at revocation": lambda oauth, app: oauth.client.get(REVOKE_URL),
}


@pytest.mark.parametrize(
    "send", REFUSED_BEFORE_CLIENT_AUTHENTICATION.values(), ids=REFUSED_BEFORE_CLIENT_AUTHENTICATION.keys()
)
def test_a_request_refused_before_client_authentication_writes_no_audit_row(oauth, public_app, send):
    before = AuditEvent.objects.count()

    response = send(oauth, public_app)

    assert response.status_code >= 400
    assert AuditEvent.objects.count() == before


def test_a_rate_limited_token_request_writes_no_audit_row(oauth, service_account, settings, frozen_rate_windows):
    settings.OAUTH_RATE_TOKEN = "1/m"
    application, secret = service_account
    grant = {"grant_type": "client_credentials", "scope": "read:participants"}
    assert oauth.token(grant, basic_auth(application.client_id, secret)).status_code == 200
    before = AuditEvent.objects.count()

    responses = [oauth.token(grant, basic_auth(application.client_id, secret)) for _ in range(3)]

    assert [response.status_code for response in responses] == [429] * 3
    assert AuditEvent.objects.count() == before


def test_a_rate_limited_failed_client_authentication_writes_no_audit_row(
    oauth, confidential_app, settings, frozen_rate_windows
):
    settings.OAUTH_RATE_CLIENT_AUTH_FAILURES = "1/m"
    application, _ = confidential_app
    wrong = basic_auth(application.client_id, "wrong")
    grant = {"grant_type": "refresh_token", "refresh_token": "nope"}
    assert oauth.token(grant, wrong).status_code == 401
    before = AuditEvent.objects.count()

    responses = [oauth.token(grant, wrong), oauth.token({"token": "nope"}, wrong, url=REVOKE_URL)]

    assert [response.status_code for response in responses] == [429, 429]
    assert AuditEvent.objects.count() == before


def test_a_nul_in_basic_credentials_is_audited_sanitised_not_a_server_error(oauth, db):
    credentials = base64.b64encode(b"a%00b:x").decode()
    before = AuditEvent.objects.count()

    response = oauth.token({"grant_type": "client_credentials"}, {"Authorization": f"Basic {credentials}"})

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.get(kind=Kind.CLIENT_AUTH_FAILED)
    assert event.client_id == "a\ufffdb"


def test_every_text_field_is_stored_without_control_characters_and_within_its_column(make_user, db):
    user = make_user("zoë")

    audit_record(
        Kind.TOKEN_REQUEST_REJECTED,
        actor="client",
        client_id="evil\x00\r\nFAKE \u202eLINE\x7f" + "x" * 200,
        user=user,
        detail="line\nbreak\x1b[31m" + "d" * 300,
    )

    event = AuditEvent.objects.get()
    assert event.client_id == ("evil\ufffd\ufffd\ufffdFAKE \ufffdLINE\ufffd" + "x" * 200)[:100]
    assert event.detail == ("line\ufffdbreak\ufffd[31m" + "d" * 300)[:255]
    assert event.username == "zoë"


def test_deleting_a_user_leaves_their_audit_rows_naming_them(oauth, public_app, user, make_user):
    staff = make_user("staff", is_staff=True)
    oauth.tokens_for(public_app)
    access_revoke(actor="admin", user=user, application=public_app, actor_user=staff)

    user.delete()
    staff.delete()

    issued = AuditEvent.objects.get(kind=Kind.TOKENS_ISSUED)
    revoked = AuditEvent.objects.get(kind=Kind.TOKENS_REVOKED)
    assert (issued.user, issued.username) == (None, "alice")
    assert (revoked.user, revoked.username) == (None, "alice")
    assert (revoked.actor_user, revoked.actor_username) == (None, "staff")


def test_the_migration_names_the_users_of_rows_written_before_it(make_user, db):
    alice, staff = make_user("alice"), make_user("staff")
    AUDIT_EVENT_INSERT.save(AuditEvent(kind=Kind.CONSENT_GRANTED, actor="user", user=alice, actor_user=alice))
    AUDIT_EVENT_INSERT.save(AuditEvent(kind=Kind.TOKENS_REVOKED, actor="admin", user=alice, actor_user=staff))
    AUDIT_EVENT_INSERT.save(AuditEvent(kind=Kind.CLIENT_CREATED, actor="system"))
    migration = importlib.import_module("oauth_apps.migrations.0005_audit_usernames")
    state = MigrationLoader(connection).project_state(("oauth_apps", "0005_audit_usernames"))

    migration.backfill_usernames(state.apps, SimpleNamespace(connection=connection))

    names = {event.kind: (event.username, event.actor_username) for event in AuditEvent.objects.all()}
    assert names == {
        Kind.CONSENT_GRANTED: ("alice", "alice"),
        Kind.TOKENS_REVOKED: ("alice", "staff"),
        Kind.CLIENT_CREATED: ("", ""),
    }


@pytest.mark.parametrize("actor", ["user", "admin"])
def test_revocation_writes_one_event_naming_who(oauth, public_app, user, actor):
    oauth.minted_tokens_for(public_app)

    access_revoke(actor=actor, user=user, application=public_app, actor_user=user)

    [event] = events(Kind.TOKENS_REVOKED)
    assert event.actor == actor


def test_revocation_by_the_client_writes_one_event(oauth, public_app):
    tokens = oauth.minted_tokens_for(public_app)

    oauth.revoke(tokens["refresh_token"], public_app.client_id)

    [event] = events(Kind.TOKENS_REVOKED)
    assert event.actor == "client"


@pytest.mark.parametrize("presented", ["refresh_token", "access_token"])
def test_revocation_at_the_endpoint_names_the_client_and_the_user(oauth, public_app, user, presented):
    tokens = oauth.tokens_for(public_app)

    oauth.revoke(tokens[presented], public_app.client_id)

    [event] = events(Kind.TOKENS_REVOKED)
    assert (event.actor, event.actor_user, event.application, event.user) == ("client", None, public_app, user)
    assert event.detail == "at the revocation endpoint"


def test_revoking_a_service_account_token_names_the_client_and_no_user(oauth, service_account, service_token):
    application, secret = service_account

    oauth.revoke(service_token, application.client_id, secret=secret)

    [event] = events(Kind.TOKENS_REVOKED)
    assert (event.actor, event.application, event.user) == ("client", application, None)
    assert event.detail == "at the revocation endpoint"


def test_an_unknown_token_at_the_endpoint_writes_no_revocation_event(oauth, public_app):
    oauth.tokens_for(public_app)

    oauth.revoke("not-a-token-we-issued", public_app.client_id)

    assert events(Kind.TOKENS_REVOKED) == []


def test_events_cannot_be_changed_or_deleted(make_application):
    make_application()
    event = AuditEvent.objects.get()

    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        event.delete()
    with pytest.raises(TypeError):
        AuditEvent.objects.update(detail="rewritten")
    with pytest.raises(TypeError):
        AuditEvent.objects.all().delete()
    with pytest.raises(TypeError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()
