"""What a refresh may grant (RFC 6749 §6): the original authorization, within the client's
current ceiling, for at most the refresh lifetime counted from the authorization; and the
ID tokens it yields keep the original sign-in's auth_time (OIDC Core §12.2)."""

from __future__ import annotations

import time
from datetime import timedelta

import jwt
from django.utils import timezone

from accounts.sessions import AUTH_TIME_SESSION_KEY
from oauth_apps.models import Scope, TokenFamily
from tests.oauth import AuthorizationRequest, redirect_params


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_a_scope_staff_remove_from_the_client_is_gone_from_the_next_refresh(oauth, public_app):
    tokens = oauth.tokens_for(public_app, scope="read:profile email")
    public_app.allowed_scopes.remove(Scope.objects.get(name="email"))

    refreshed = oauth.refresh(public_app.client_id, tokens["refresh_token"]).json()

    assert refreshed["scope"] == "read:profile"
    access = claims_of(refreshed["access_token"])
    assert access["scope"] == "read:profile"
    assert "email" not in access


def test_a_deactivated_scope_is_gone_from_the_next_refresh(oauth, public_app):
    tokens = oauth.tokens_for(public_app, scope="read:profile email")
    Scope.objects.filter(name="email").update(is_active=False)

    refreshed = oauth.refresh(public_app.client_id, tokens["refresh_token"]).json()

    assert refreshed["scope"] == "read:profile"
    assert "email" not in claims_of(refreshed["access_token"])


def test_a_refresh_asking_for_a_removed_scope_is_invalid_scope(oauth, public_app):
    tokens = oauth.tokens_for(public_app, scope="read:profile email")
    public_app.allowed_scopes.remove(Scope.objects.get(name="email"))

    response = oauth.refresh_with(public_app.client_id, tokens["refresh_token"], scope="email")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_a_family_left_with_no_allowed_scope_is_invalid_grant(oauth, public_app):
    tokens = oauth.tokens_for(public_app, scope="email")
    public_app.allowed_scopes.remove(Scope.objects.get(name="email"))

    response = oauth.refresh(public_app.client_id, tokens["refresh_token"])

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_an_omitted_scope_on_refresh_means_the_originally_granted_scope(oauth, public_app):
    tokens = oauth.tokens_for(public_app, scope="read:profile email")
    narrowed = oauth.refresh_with(public_app.client_id, tokens["refresh_token"], scope="read:profile").json()
    assert narrowed["scope"] == "read:profile"

    widened_again = oauth.refresh(public_app.client_id, narrowed["refresh_token"]).json()

    assert set(widened_again["scope"].split()) == {"read:profile", "email"}


def test_a_refresh_cannot_ask_for_more_than_the_original_grant(oauth, public_app):
    tokens = oauth.tokens_for(public_app, scope="read:profile")

    response = oauth.refresh_with(public_app.client_id, tokens["refresh_token"], scope="read:profile email")

    assert response.json()["error"] == "invalid_scope"


def test_rotation_does_not_extend_a_family_past_the_refresh_lifetime_from_the_authorization(
    oauth, public_app, settings
):
    tokens = oauth.tokens_for(public_app)
    # The authorization was given just under the refresh lifetime ago; every rotation since
    # then produced a fresh refresh token, each well within its own lifetime.
    TokenFamily.objects.update(created_at=timezone.now() - timedelta(seconds=settings.OAUTH_REFRESH_TOKEN_LIFETIME - 5))
    tokens = oauth.refresh(public_app.client_id, tokens["refresh_token"]).json()
    TokenFamily.objects.update(created_at=timezone.now() - timedelta(seconds=settings.OAUTH_REFRESH_TOKEN_LIFETIME))

    response = oauth.refresh(public_app.client_id, tokens["refresh_token"])

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_introspection_says_when_the_family_ends(oauth, confidential_app, settings):
    application, secret = confidential_app
    tokens = oauth.tokens_for(application, secret=secret)
    started = timezone.now() - timedelta(days=10)
    TokenFamily.objects.update(created_at=started)

    claims = oauth.introspect(tokens["refresh_token"], application.client_id, secret).json()

    assert claims["active"] is True
    assert claims["exp"] == int((started + timedelta(seconds=settings.OAUTH_REFRESH_TOKEN_LIFETIME)).timestamp())


def test_an_ended_family_introspects_inactive(oauth, confidential_app, settings):
    application, secret = confidential_app
    tokens = oauth.tokens_for(application, secret=secret)
    TokenFamily.objects.update(created_at=timezone.now() - timedelta(seconds=settings.OAUTH_REFRESH_TOKEN_LIFETIME))

    assert oauth.introspect(tokens["refresh_token"], application.client_id, secret).json() == {"active": False}


def test_a_refreshed_id_token_keeps_the_auth_time_of_the_original_sign_in(oauth, public_app, client):
    tokens = oauth.tokens_for(public_app, scope="openid")
    original = claims_of(tokens["id_token"])["auth_time"]
    # The person signs in again later, elsewhere or here: the app's authorization is unchanged.
    session = client.session
    session[AUTH_TIME_SESSION_KEY] = int(time.time()) + 120
    session.save()
    oauth.user.last_login = timezone.now() + timedelta(minutes=2)
    oauth.user.save(update_fields=["last_login"])

    refreshed = oauth.refresh(public_app.client_id, tokens["refresh_token"]).json()

    assert claims_of(refreshed["id_token"])["auth_time"] == original


def test_the_id_token_auth_time_is_when_this_session_signed_in(oauth, public_app, client):
    oauth.sign_in()
    session = client.session
    session[AUTH_TIME_SESSION_KEY] = signed_in_at = int(time.time()) - 600
    session.save()

    request = AuthorizationRequest(client_id=public_app.client_id, scope="openid")
    code = redirect_params(oauth.decide(request, allow=True))["code"]

    tokens = oauth.exchange(request, code).json()

    assert claims_of(tokens["id_token"])["auth_time"] == signed_in_at
