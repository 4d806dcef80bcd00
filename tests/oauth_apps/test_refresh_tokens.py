"""Refresh tokens: 30 days, rotated on every use, replay revokes the whole family."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from oauth2_provider.models import get_refresh_token_model

RefreshToken = get_refresh_token_model()


def test_refresh_token_replay_revokes_family(oauth, public_app):
    first = oauth.tokens_for(public_app)
    second = oauth.refresh(public_app.client_id, first["refresh_token"]).json()
    third = oauth.refresh(public_app.client_id, second["refresh_token"]).json()

    replay = oauth.refresh(public_app.client_id, first["refresh_token"])

    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    assert replay.json()["error_description"]
    newest = oauth.refresh(public_app.client_id, third["refresh_token"])
    assert newest.json()["error"] == "invalid_grant"
    assert not public_app.accesstoken_set.exists()
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()


def test_replay_leaves_other_families_alone(oauth, public_app):
    victim = oauth.tokens_for(public_app)
    bystander = oauth.tokens_for(public_app)
    oauth.refresh(public_app.client_id, victim["refresh_token"])

    oauth.refresh(public_app.client_id, victim["refresh_token"])

    assert oauth.refresh(public_app.client_id, bystander["refresh_token"]).status_code == 200


def test_refresh_token_of_one_client_is_refused_for_another(oauth, public_app, make_application):
    other, _ = make_application(name="Other App")
    tokens = oauth.minted_tokens_for(public_app)

    response = oauth.refresh(other.client_id, tokens["refresh_token"])

    assert response.json()["error"] == "invalid_grant"
    assert oauth.refresh(public_app.client_id, tokens["refresh_token"]).status_code == 200


def test_refresh_token_expires_after_thirty_days(oauth, public_app):
    tokens = oauth.minted_tokens_for(public_app)
    RefreshToken.objects.update(created=timezone.now() - timedelta(days=30, seconds=1))

    response = oauth.refresh(public_app.client_id, tokens["refresh_token"])

    assert response.json()["error"] == "invalid_grant"


def test_confidential_refresh_needs_the_secret(oauth, confidential_app):
    application, _ = confidential_app
    tokens = oauth.minted_tokens_for(application)

    response = oauth.refresh(application.client_id, tokens["refresh_token"])

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_refresh_may_narrow_the_scope_but_never_widen_it(oauth, public_app):
    tokens = oauth.tokens_for(public_app, scope="read:profile email")

    wider = oauth.token(
        {
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": public_app.client_id,
            "scope": "read:profile email openid",
        }
    )
    assert wider.json()["error"] == "invalid_scope"

    narrower = oauth.token(
        {
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": public_app.client_id,
            "scope": "email",
        }
    )
    assert narrower.status_code == 200
    assert narrower.json()["scope"] == "email"
