"""Service accounts: the client-credentials grant (RFC 6749 §4.4)."""

from __future__ import annotations

import jwt

from tests.oauth import basic_auth


def test_service_account_token_has_the_client_as_subject_and_no_refresh_token(oauth, service_account):
    application, secret = service_account

    response = oauth.token(
        {"grant_type": "client_credentials", "scope": "read:participants"}, basic_auth(application.client_id, secret)
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert "refresh_token" not in body
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == application.client_id
    assert not claims["sub"].isdigit()
    assert claims["scope"] == "read:participants"
    assert "name" not in claims


def test_service_account_cannot_exceed_its_scope_ceiling(oauth, service_account):
    application, secret = service_account

    response = oauth.token(
        {"grant_type": "client_credentials", "scope": "write:studies"}, basic_auth(application.client_id, secret)
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_authorization_code_client_cannot_use_client_credentials(oauth, confidential_app):
    application, secret = confidential_app

    response = oauth.token(
        {"grant_type": "client_credentials", "scope": "read:profile"}, basic_auth(application.client_id, secret)
    )

    assert response.json()["error"] == "unauthorized_client"


def test_public_client_cannot_use_client_credentials(oauth, public_app):
    response = oauth.token(
        {"grant_type": "client_credentials", "scope": "read:profile", "client_id": public_app.client_id}
    )

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
