"""The "Connected apps" page at /accounts/apps/: see and revoke one's own grants."""

from __future__ import annotations

import pytest

from oauth_apps.models import AuditEvent, Consent
from tests.oauth import USERINFO_URL, AuthorizationRequest, HttpsClient, OAuthTestClient

APPS_URL = "/accounts/apps/"


def revoke_url(application) -> str:
    return f"/accounts/apps/{application.client_id}/revoke/"


@pytest.fixture
def bob(make_user):
    return make_user("bob", first_name="Bob", last_name="Builder")


def test_the_page_lists_exactly_the_users_grants(oauth, public_app, confidential_app, make_application, bob):
    unused_app, _ = make_application(name="Never Authorized")
    oauth.minted_tokens_for(public_app, scope="openid read:profile")
    OAuthTestClient(HttpsClient(), bob).minted_tokens_for(confidential_app[0])

    page = oauth.client.get(APPS_URL)

    assert page.status_code == 200
    html = page.content.decode()
    assert "Study Tracker" in html
    assert "See your name and username" in html
    assert "Research Portal" not in html  # bob's grant
    assert unused_app.name not in html
    assert "last used" in html
    assert [app.application for app in page.context["apps"]] == [public_app]


def test_revoke_confirms_on_get_and_changes_nothing(oauth, public_app):
    tokens = oauth.minted_tokens_for(public_app)

    page = oauth.client.get(revoke_url(public_app))

    assert page.status_code == 200
    assert "Revoke access" in page.content.decode()
    assert oauth.refresh(public_app.client_id, tokens["refresh_token"]).status_code == 200


def test_revoke_ends_every_token_of_that_app_within_the_request(oauth, public_app, service_account, user):
    first = oauth.minted_tokens_for(public_app)
    second = oauth.minted_tokens_for(public_app)
    server, server_secret = service_account

    response = oauth.client.post(revoke_url(public_app))

    assert response.status_code == 302
    assert response["Location"] == APPS_URL
    for tokens in (first, second):
        assert oauth.refresh(public_app.client_id, tokens["refresh_token"]).json()["error"] == "invalid_grant"
        assert oauth.introspect(tokens["access_token"], server.client_id, server_secret).json() == {"active": False}
        assert oauth.bearer_get(USERINFO_URL, tokens["access_token"]).status_code == 401
    assert not Consent.objects.filter(user=user).exists()
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.TOKENS_REVOKED)
    assert (event.actor, event.user, event.application) == ("user", user, public_app)
    page = oauth.client.get(APPS_URL)
    assert "can no longer access your WeTrials account" in page.content.decode()
    assert page.context["apps"] == []


def test_revoking_one_app_leaves_the_others(oauth, public_app, confidential_app):
    application, secret = confidential_app
    kept = oauth.minted_tokens_for(application)
    oauth.minted_tokens_for(public_app)

    oauth.client.post(revoke_url(public_app))

    assert oauth.refresh(application.client_id, kept["refresh_token"], secret=secret).status_code == 200


def test_revoking_leaves_other_users_grants_of_the_same_app(oauth, public_app, bob):
    bobs = OAuthTestClient(HttpsClient(), bob)
    bob_tokens = bobs.minted_tokens_for(public_app)
    oauth.minted_tokens_for(public_app)

    oauth.client.post(revoke_url(public_app))

    assert bobs.refresh(public_app.client_id, bob_tokens["refresh_token"]).status_code == 200


def test_another_users_revoke_url_is_404(oauth, public_app, bob):
    bob_tokens = OAuthTestClient(HttpsClient(), bob).minted_tokens_for(public_app)
    oauth.sign_in()

    assert oauth.client.get(revoke_url(public_app)).status_code == 404
    assert oauth.client.post(revoke_url(public_app)).status_code == 404
    assert oauth.refresh(public_app.client_id, bob_tokens["refresh_token"]).status_code == 200


def test_revoke_requires_csrf(public_app, user, oauth):
    tokens = oauth.minted_tokens_for(public_app)
    strict = HttpsClient(enforce_csrf_checks=True)
    strict.force_login(user)

    response = strict.post(revoke_url(public_app))

    assert response.status_code == 403
    assert oauth.refresh(public_app.client_id, tokens["refresh_token"]).status_code == 200


def test_signed_out_visitors_are_sent_to_sign_in(client, db):
    response = client.get(APPS_URL)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_revoked_app_asks_for_consent_again(oauth, public_app):
    oauth.minted_tokens_for(public_app)
    oauth.client.post(revoke_url(public_app))

    page = oauth.consent_page(AuthorizationRequest(client_id=public_app.client_id))

    assert page.status_code == 200
    assert "Allow access" in page.content.decode()


def test_scopes_that_tell_the_user_the_same_thing_are_listed_once(oauth, public_app):
    oauth.minted_tokens_for(public_app, scope="profile read:profile email")

    html = oauth.client.get(APPS_URL).content.decode()

    assert html.count("See your name and username") == 1
    assert "See your email address" in html


@pytest.mark.parametrize(
    "client_id", ["a%00b", "%00", "a%0Ab", "a%7Fb", "x" * 101], ids=["NUL", "only NUL", "newline", "DEL", "101 long"]
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_revoke_path_the_database_could_not_hold_is_a_404(oauth, client_id, method):
    oauth.sign_in()

    response = getattr(oauth.client, method)(f"/accounts/apps/{client_id}/revoke/")

    assert response.status_code == 404
