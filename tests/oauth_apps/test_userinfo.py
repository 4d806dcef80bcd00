"""OIDC Core §5.3 userinfo at /v1/oauth/userinfo."""

from __future__ import annotations

from datetime import timedelta

import jwt
from django.utils import timezone
from oauth2_provider.models import get_access_token_model

from tests.oauth import USERINFO_URL


def test_claims_follow_the_granted_scopes(oauth, public_app, user):
    profile = oauth.minted_tokens_for(public_app, scope="openid profile")["access_token"]
    email = oauth.minted_tokens_for(public_app, scope="openid email")["access_token"]

    profile_claims = oauth.bearer_get(USERINFO_URL, profile).json()
    email_claims = oauth.bearer_get(USERINFO_URL, email).json()

    assert profile_claims["sub"] == str(user.pk)
    assert profile_claims["name"] == "Alice Liddell"
    assert profile_claims["preferred_username"] == "alice"
    assert "email" not in profile_claims
    assert email_claims == {"sub": str(user.pk), "email": "alice@example.org", "email_verified": False}


def test_userinfo_sub_equals_the_id_token_and_access_token_sub(oauth, public_app):
    tokens = oauth.tokens_for(public_app, scope="openid read:profile")

    claims = oauth.bearer_get(USERINFO_URL, tokens["access_token"]).json()

    id_token = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    access_token = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert claims["sub"] == id_token["sub"] == access_token["sub"]


def test_post_works_like_get(oauth, public_app, user):
    token = oauth.minted_tokens_for(public_app, scope="openid")["access_token"]

    response = oauth.client.post(USERINFO_URL, headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200
    assert response.json() == {"sub": str(user.pk)}
    assert response["Cache-Control"] == "no-store"


def test_revoked_token_is_refused_at_once(oauth, public_app):
    tokens = oauth.minted_tokens_for(public_app)
    oauth.revoke(tokens["refresh_token"], public_app.client_id)

    response = oauth.bearer_get(USERINFO_URL, tokens["access_token"])

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="WeTrials", error="invalid_token"'
    assert response.json()["error"] == "invalid_token"


def test_expired_token_is_refused(oauth, public_app):
    token = oauth.minted_tokens_for(public_app)["access_token"]
    get_access_token_model().objects.update(expires=timezone.now() - timedelta(seconds=1))

    response = oauth.bearer_get(USERINFO_URL, token)

    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_no_token_gets_a_bare_challenge(client, db):
    response = client.get(USERINFO_URL)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="WeTrials"'


def test_token_in_the_query_string_is_refused(oauth, public_app):
    token = oauth.minted_tokens_for(public_app)["access_token"]

    response = oauth.client.get(USERINFO_URL, {"access_token": token})

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_token_in_the_form_body_is_refused(oauth, public_app):
    token = oauth.minted_tokens_for(public_app)["access_token"]

    response = oauth.client.post(USERINFO_URL, {"access_token": token})

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_service_account_token_has_no_user_to_describe(oauth, service_token):
    response = oauth.bearer_get(USERINFO_URL, service_token)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


def test_a_body_that_cannot_be_parsed_is_an_rfc_6750_invalid_request(oauth, public_app):
    token = oauth.minted_tokens_for(public_app)["access_token"]

    response = oauth.client.post(
        USERINFO_URL,
        b"--nothing-like-the-boundary\r\n\r\n",
        content_type="multipart/form-data; boundary=",
        headers={"Authorization": f"Bearer {token}"},
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert response["Cache-Control"] == "no-store"


def test_another_method_is_a_json_405_that_names_the_allowed_ones(oauth, public_app):
    token = oauth.minted_tokens_for(public_app)["access_token"]

    response = oauth.client.put(USERINFO_URL, headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 405
    assert response.json()["error"] == "invalid_request"
    assert response["Allow"] == "GET, POST, HEAD, OPTIONS"


def test_an_authorization_header_of_another_scheme_is_invalid_token(oauth, public_app):
    response = oauth.client.get(USERINFO_URL, headers={"Authorization": "Basic dXNlcjpwYXNz"})

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert response["WWW-Authenticate"] == 'Bearer realm="WeTrials", error="invalid_token"'


def test_head_answers_as_get_without_a_body(oauth, public_app):
    token = oauth.minted_tokens_for(public_app)["access_token"]

    response = oauth.client.head(USERINFO_URL, headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.content == b""
