"""RFC 6749 §5.2 errors at the token endpoint."""

from __future__ import annotations

import pytest

from tests.oauth import TOKEN_URL, AuthorizationRequest, basic_auth


@pytest.mark.parametrize(
    "grant_type", ["password", "implicit", "urn:ietf:params:oauth:grant-type:device_code", "nonsense"]
)
def test_unoffered_grant_types_are_unsupported(oauth, confidential_app, grant_type):
    application, secret = confidential_app

    response = oauth.token(
        {"grant_type": grant_type, "username": "alice", "password": "x"}, basic_auth(application.client_id, secret)
    )

    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"
    assert response["Cache-Control"] == "no-store"


def test_wrong_secret_via_basic_is_401_with_a_basic_challenge(oauth, confidential_app):
    application, _ = confidential_app
    request = AuthorizationRequest(client_id=application.client_id)
    code = oauth.authorize(request)

    response = oauth.exchange(request, code, secret="wrong")

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response["WWW-Authenticate"].startswith("Basic ")
    assert response["Cache-Control"] == "no-store"


def test_wrong_secret_in_body_is_401(oauth, confidential_app):
    application, _ = confidential_app
    request = AuthorizationRequest(client_id=application.client_id)
    code = oauth.authorize(request)

    response = oauth.exchange(request, code, secret="wrong", basic=False)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert "WWW-Authenticate" in response


def test_confidential_client_without_a_secret_is_invalid_client(oauth, confidential_app):
    application, _ = confidential_app
    request = AuthorizationRequest(client_id=application.client_id)
    code = oauth.authorize(request)

    response = oauth.exchange(request, code)

    assert response.status_code == 401


def test_unknown_client_is_invalid_client(oauth):
    response = oauth.token(
        {"grant_type": "authorization_code", "code": "x", "client_id": "nobody", "code_verifier": "v" * 43}
    )

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_get_is_refused_with_json(client, db):
    response = client.get(TOKEN_URL)

    assert response.status_code == 405
    assert response.json()["error"] == "invalid_request"
    assert response["Cache-Control"] == "no-store"


def test_json_body_is_invalid_request(client, db):
    response = client.post(TOKEN_URL, {"grant_type": "client_credentials"}, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_missing_grant_type_is_an_rfc_error(oauth):
    response = oauth.token({"client_id": "x"})

    assert response.status_code in {400, 401}
    assert response.json()["error"] in {"invalid_request", "unsupported_grant_type", "invalid_client"}
    assert response["Cache-Control"] == "no-store"


def test_nul_byte_is_invalid_request(oauth, public_app):
    response = oauth.token({"grant_type": "authorization_code", "code": "a\x00b", "client_id": public_app.client_id})

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_oversized_body_is_invalid_request(oauth):
    response = oauth.token({"grant_type": "authorization_code", "code": "x" * 100_000})

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_grant_type_openid_is_unsupported_not_a_server_error(oauth, confidential_app):
    application, secret = confidential_app

    response = oauth.token({"grant_type": "openid", "code": "x"}, basic_auth(application.client_id, secret))

    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"
