"""With the shared cache (Redis) down, the server keeps answering: rate limits fail open,
except sign-in, which fails closed (core.ratelimits says why)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.oauth import USERINFO_URL, AuthorizationRequest, basic_auth


@pytest.fixture
def oauth_tokens(oauth, public_app):
    """Tokens obtained while the cache still worked."""
    return oauth.minted_tokens_for(public_app)


@pytest.fixture
def redis_down(settings):
    # Nothing listens on port 1: every cache call fails with a connection error.
    settings.CACHES = {"default": {"BACKEND": "core.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}}


def test_token_requests_go_on(oauth, service_account, redis_down):
    application, secret = service_account

    response = oauth.token(
        {"grant_type": "client_credentials", "scope": "read:participants"}, basic_auth(application.client_id, secret)
    )

    assert response.status_code == 200, response.content


def test_refresh_and_userinfo_go_on(oauth, public_app, oauth_tokens, redis_down):
    refreshed = oauth.refresh(public_app.client_id, oauth_tokens["refresh_token"])

    assert refreshed.status_code == 200, refreshed.content
    assert oauth.bearer_get(USERINFO_URL, refreshed.json()["access_token"]).status_code == 200


def test_authorize_and_discovery_go_on(oauth, public_app, redis_down):
    oauth.sign_in()

    assert oauth.consent_page(AuthorizationRequest(client_id=public_app.client_id)).status_code == 200
    assert oauth.client.get("/.well-known/openid-configuration").json()["scopes_supported"]


def test_sign_in_fails_closed_with_a_page_not_a_500(client, user, redis_down):
    response = client.post(reverse("accounts:login"), {"username": "alice", "password": "wrong"})

    assert response.status_code == 503
    assert "briefly unavailable" in response.content.decode()


def test_readiness_reports_the_cache(client, db, redis_down):
    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["cache"] is False
    assert client.get("/healthz").status_code == 200
