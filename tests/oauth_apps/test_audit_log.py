"""The audit log: each security event writes exactly one append-only row."""

from __future__ import annotations

import pytest

from oauth_apps.models import AuditEvent
from oauth_apps.services import access_revoke, client_secret_regenerate
from tests.oauth import TOKEN_URL, AuthorizationRequest, basic_auth

Kind = AuditEvent.Kind


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
    tokens = oauth.tokens_for(public_app)
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


REJECTED_TOKEN_REQUESTS = {
    "JSON body": lambda oauth, app: oauth.client.post(TOKEN_URL, {}, content_type="application/json"),
    "no grant type": lambda oauth, app: oauth.token({"client_id": app.client_id}),
    "unknown grant type": lambda oauth, app: oauth.token({"client_id": app.client_id, "grant_type": "password"}),
    "bad code": lambda oauth, app: oauth.token(
        {"client_id": app.client_id, "grant_type": "authorization_code", "code": "nope", "redirect_uri": "x"}
    ),
    "bad refresh token": lambda oauth, app: oauth.refresh(app.client_id, "nope"),
    "unknown client": lambda oauth, app: oauth.refresh("no-such-client", "nope"),
    "repeated parameter": lambda oauth, app: oauth.token("grant_type=refresh_token&grant_type=refresh_token"),
    "GET": lambda oauth, app: oauth.client.get(TOKEN_URL),
}


@pytest.mark.parametrize("send", REJECTED_TOKEN_REQUESTS.values(), ids=REJECTED_TOKEN_REQUESTS.keys())
def test_every_rejected_token_request_leaves_exactly_one_event(oauth, public_app, send):
    before = AuditEvent.objects.count()

    response = send(oauth, public_app)

    assert response.status_code >= 400
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.first()
    assert event.outcome == "failure"


@pytest.mark.parametrize("actor", ["user", "admin"])
def test_revocation_writes_one_event_naming_who(oauth, public_app, user, actor):
    oauth.tokens_for(public_app)

    access_revoke(actor=actor, user=user, application=public_app, actor_user=user)

    [event] = events(Kind.TOKENS_REVOKED)
    assert event.actor == actor


def test_revocation_by_the_client_writes_one_event(oauth, public_app):
    tokens = oauth.tokens_for(public_app)

    oauth.revoke(tokens["refresh_token"], public_app.client_id)

    [event] = events(Kind.TOKENS_REVOKED)
    assert event.actor == "client"


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
