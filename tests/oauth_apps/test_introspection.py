"""RFC 7662 token introspection at /v1/oauth/introspect."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from oauth2_provider.models import get_access_token_model

from tests.oauth import INTROSPECT_URL


@pytest.fixture
def resource_server(service_account):
    """The API asking: a service account."""
    return service_account


def test_live_access_token_reports_its_claims(oauth, public_app, resource_server, user):
    tokens = oauth.minted_tokens_for(public_app, scope="openid read:profile")
    server, secret = resource_server

    response = oauth.introspect(tokens["access_token"], server.client_id, secret)

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["active"] is True
    assert body["scope"] == "openid read:profile"
    assert body["client_id"] == public_app.client_id
    assert body["sub"] == str(user.pk)
    assert body["username"] == user.username
    assert body["aud"] == "wetrials-api"
    assert body["iss"] == "https://auth.wetrials.test"
    assert body["token_type"] == "Bearer"
    assert body["exp"] - body["iat"] == 3600


def test_live_refresh_token_is_active(oauth, public_app, resource_server, user):
    tokens = oauth.minted_tokens_for(public_app)
    server, secret = resource_server

    body = oauth.introspect(tokens["refresh_token"], server.client_id, secret).json()

    assert body["active"] is True
    assert body["token_type"] == "refresh_token"
    assert body["client_id"] == public_app.client_id
    assert body["sub"] == str(user.pk)


def test_service_account_token_has_the_client_as_subject(oauth, resource_server, service_token):
    server, secret = resource_server

    body = oauth.introspect(service_token, server.client_id, secret).json()

    assert body["active"] is True
    assert body["sub"] == server.client_id
    assert "username" not in body


def test_unknown_token_is_exactly_inactive(oauth, resource_server):
    server, secret = resource_server

    response = oauth.introspect("no-such-token", server.client_id, secret)

    assert response.status_code == 200
    assert response.json() == {"active": False}


def test_revoked_tokens_are_exactly_inactive(oauth, public_app, resource_server):
    tokens = oauth.minted_tokens_for(public_app)
    server, secret = resource_server
    oauth.revoke(tokens["refresh_token"], public_app.client_id)

    for token in (tokens["access_token"], tokens["refresh_token"]):
        assert oauth.introspect(token, server.client_id, secret).json() == {"active": False}


def test_rotated_refresh_token_is_inactive(oauth, public_app, resource_server):
    tokens = oauth.minted_tokens_for(public_app)
    server, secret = resource_server
    assert oauth.refresh(public_app.client_id, tokens["refresh_token"]).status_code == 200

    assert oauth.introspect(tokens["refresh_token"], server.client_id, secret).json() == {"active": False}


def test_expired_access_token_is_exactly_inactive(oauth, public_app, resource_server):
    tokens = oauth.minted_tokens_for(public_app)
    server, secret = resource_server
    get_access_token_model().objects.update(expires=timezone.now() - timedelta(seconds=1))

    assert oauth.introspect(tokens["access_token"], server.client_id, secret).json() == {"active": False}


def test_any_confidential_client_may_introspect_another_clients_token(oauth, public_app, confidential_app):
    tokens = oauth.minted_tokens_for(public_app)
    other, secret = confidential_app

    assert oauth.introspect(tokens["access_token"], other.client_id, secret).json()["active"] is True


def test_public_client_cannot_introspect(oauth, public_app):
    tokens = oauth.minted_tokens_for(public_app)

    response = oauth.introspect(tokens["access_token"], public_app.client_id, None)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize("secret", ["wrong", None])
def test_bad_credentials_are_invalid_client(oauth, public_app, resource_server, secret):
    tokens = oauth.minted_tokens_for(public_app)
    server, _ = resource_server

    response = oauth.introspect(tokens["access_token"], server.client_id, secret)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response["WWW-Authenticate"].startswith("Basic")
    assert response["Cache-Control"] == "no-store"


def test_missing_token_is_invalid_request(oauth, resource_server):
    server, secret = resource_server

    response = oauth._client_authenticated({}, server.client_id, secret, True, url=INTROSPECT_URL)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
