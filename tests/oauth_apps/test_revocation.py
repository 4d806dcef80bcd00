"""RFC 7009 token revocation at /v1/oauth/revoke."""

from __future__ import annotations

import pytest

from tests.oauth import REVOKE_URL, USERINFO_URL


def test_revoking_a_refresh_token_revokes_its_whole_family(oauth, public_app):
    first = oauth.minted_tokens_for(public_app)
    second = oauth.refresh(public_app.client_id, first["refresh_token"]).json()

    response = oauth.revoke(second["refresh_token"], public_app.client_id, token_type_hint="refresh_token")

    assert response.status_code == 200
    assert response.content == b""
    assert response["Cache-Control"] == "no-store"
    assert oauth.refresh(public_app.client_id, second["refresh_token"]).json()["error"] == "invalid_grant"
    assert oauth.bearer_get(USERINFO_URL, second["access_token"]).status_code == 401


def test_revoking_an_access_token_revokes_its_family_too(oauth, public_app):
    tokens = oauth.minted_tokens_for(public_app)

    response = oauth.revoke(tokens["access_token"], public_app.client_id, token_type_hint="access_token")

    assert response.status_code == 200
    assert oauth.bearer_get(USERINFO_URL, tokens["access_token"]).status_code == 401
    assert oauth.refresh(public_app.client_id, tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_revoking_a_service_account_token(oauth, service_account, service_token):
    application, secret = service_account

    assert oauth.revoke(service_token, application.client_id, secret=secret).status_code == 200

    assert oauth.introspect(service_token, application.client_id, secret).json() == {"active": False}


def test_a_wrong_type_hint_still_finds_the_token(oauth, public_app):
    tokens = oauth.minted_tokens_for(public_app)

    oauth.revoke(tokens["refresh_token"], public_app.client_id, token_type_hint="access_token")

    assert oauth.refresh(public_app.client_id, tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_unknown_token_answers_200_and_changes_nothing(oauth, public_app):
    tokens = oauth.minted_tokens_for(public_app)

    response = oauth.revoke("not-a-token-we-issued", public_app.client_id)

    assert response.status_code == 200
    assert oauth.bearer_get(USERINFO_URL, tokens["access_token"]).status_code == 200


def test_another_clients_token_answers_200_and_stays_live(oauth, public_app, confidential_app):
    tokens = oauth.minted_tokens_for(public_app)
    other, other_secret = confidential_app

    for token in (tokens["access_token"], tokens["refresh_token"]):
        assert oauth.revoke(token, other.client_id, secret=other_secret).status_code == 200

    assert oauth.bearer_get(USERINFO_URL, tokens["access_token"]).status_code == 200
    assert oauth.refresh(public_app.client_id, tokens["refresh_token"]).status_code == 200


def test_confidential_client_must_authenticate(oauth, confidential_app):
    application, secret = confidential_app
    tokens = oauth.minted_tokens_for(application)

    wrong = oauth.revoke(tokens["refresh_token"], application.client_id, secret="wrong")
    missing = oauth.revoke(tokens["refresh_token"], application.client_id)

    for response in (wrong, missing):
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"
        assert response["WWW-Authenticate"].startswith("Basic")
    assert oauth.refresh(application.client_id, tokens["refresh_token"], secret=secret).status_code == 200


def test_missing_token_parameter_is_invalid_request(oauth, public_app):
    response = oauth.token({"client_id": public_app.client_id}, url=REVOKE_URL)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize("method", ["get", "put"])
def test_only_post_is_accepted(client, method, db):
    response = getattr(client, method)(REVOKE_URL)

    assert response.status_code == 405
    assert response.json()["error"] == "invalid_request"
