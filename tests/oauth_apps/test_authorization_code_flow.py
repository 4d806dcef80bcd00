"""RFC 6749 §4.1 + RFC 7636, end to end over HTTP."""

from __future__ import annotations

import pytest

from tests.oauth import AuthorizationRequest, redirect_params


def test_consent_page_names_the_client_and_describes_each_scope(oauth, public_app):
    oauth.sign_in()
    request = AuthorizationRequest(client_id=public_app.client_id, scope="read:profile email")

    page = oauth.consent_page(request)

    html = page.content.decode()
    assert page.status_code == 200
    assert "Study Tracker" in html
    assert "See your name and username" in html
    assert "See your email address" in html
    assert ">Allow access</button>" in html
    assert ">Deny</button>" in html


def test_signed_out_user_is_sent_to_sign_in_and_back(client, user, public_app):
    request = AuthorizationRequest(client_id=public_app.client_id)

    response = client.get("/v1/oauth/authorize", request.params())

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/v1/oauth/authorize")
    sign_in = client.post(
        "/accounts/login/",
        {
            "username": user.username,
            "password": "correct horse battery staple",
            "next": response.url.split("next=", 1)[1],
        },
    )
    assert sign_in.status_code == 302
    assert sign_in["Location"].startswith("/v1/oauth/authorize")


def test_public_client_full_flow_code_token_refresh_refresh(oauth, public_app):
    request = AuthorizationRequest(client_id=public_app.client_id, scope="read:profile")
    code = oauth.authorize(request)

    first = oauth.exchange(request, code)
    assert first.status_code == 200, first.content
    tokens = first.json()
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 3600
    assert tokens["scope"] == "read:profile"
    assert first["Cache-Control"] == "no-store"

    second = oauth.refresh(public_app.client_id, tokens["refresh_token"])
    assert second.status_code == 200, second.content
    rotated = second.json()
    assert rotated["refresh_token"] != tokens["refresh_token"]
    assert rotated["access_token"] != tokens["access_token"]

    third = oauth.refresh(public_app.client_id, rotated["refresh_token"])
    assert third.status_code == 200, third.content
    assert third.json()["scope"] == "read:profile"


@pytest.mark.parametrize("basic", [True, False], ids=["secret-via-basic", "secret-in-body"])
def test_confidential_client_full_flow(oauth, confidential_app, basic):
    application, secret = confidential_app
    request = AuthorizationRequest(client_id=application.client_id)
    code = oauth.authorize(request)

    exchanged = oauth.exchange(request, code, secret=secret, basic=basic)
    assert exchanged.status_code == 200, exchanged.content

    refreshed = oauth.refresh(application.client_id, exchanged.json()["refresh_token"], secret=secret, basic=basic)
    assert refreshed.status_code == 200, refreshed.content
    again = oauth.refresh(application.client_id, refreshed.json()["refresh_token"], secret=secret, basic=basic)
    assert again.status_code == 200, again.content


def test_deny_returns_access_denied_with_state_and_issuer(oauth, public_app, settings):
    oauth.sign_in()
    request = AuthorizationRequest(client_id=public_app.client_id)

    params = redirect_params(oauth.decide(request, allow=False))

    assert params == {"error": "access_denied", "state": request.state, "iss": settings.OAUTH_ISSUER}


def test_success_redirect_carries_code_state_and_issuer(oauth, public_app, settings):
    oauth.sign_in()
    request = AuthorizationRequest(client_id=public_app.client_id)

    response = oauth.decide(request, allow=True)

    params = redirect_params(response)
    assert response["Location"].startswith("https://app.example.com/callback?")
    assert set(params) == {"code", "state", "iss"}
    assert params["iss"] == settings.OAUTH_ISSUER
