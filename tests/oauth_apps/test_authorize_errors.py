"""RFC 6749 §4.1.2.1 and RFC 9207: authorization errors, and when never to redirect."""

from __future__ import annotations

import pytest

from tests.oauth import AUTHORIZE_URL, AuthorizationRequest, redirect_params


@pytest.fixture
def signed_in(oauth):
    oauth.sign_in()
    return oauth


def test_unknown_client_gets_an_error_page_not_a_redirect(signed_in):
    response = signed_in.consent_page(AuthorizationRequest(client_id="no-such-client"))

    assert response.status_code == 400
    assert "This sign-in link doesn" in response.content.decode()
    assert "Location" not in response


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example.com/callback",
        "https://app.example.com/callback/extra",
        "https://app.example.com/callback?x=1",
        "https://app.example.com/CALLBACK",
        "http://app.example.com/callback",
    ],
)
def test_unregistered_redirect_uri_gets_an_error_page(signed_in, public_app, redirect_uri):
    response = signed_in.consent_page(AuthorizationRequest(client_id=public_app.client_id, redirect_uri=redirect_uri))

    assert response.status_code == 400
    assert "Location" not in response


def test_state_twice_is_invalid_request(signed_in, public_app, client):
    params = AuthorizationRequest(client_id=public_app.client_id).params()
    query = "&".join(f"{k}={v}" for k, v in params.items()) + "&state=again"

    response = client.get(f"{AUTHORIZE_URL}?{query}")

    assert response.status_code == 400
    assert "invalid_request" in response.content.decode()


@pytest.mark.parametrize("response_type", ["token", "id_token", "code token", "code id_token"])
def test_response_types_other_than_code_are_unsupported(signed_in, public_app, response_type, settings):
    request = AuthorizationRequest(client_id=public_app.client_id, extra={"response_type": response_type})

    params = redirect_params(signed_in.consent_page(request))

    assert params["error"] == "unsupported_response_type"
    assert params["state"] == request.state
    assert params["iss"] == settings.OAUTH_ISSUER


@pytest.mark.parametrize("scope", ["write:studies", "admin", "read:profile nonsense"])
def test_scope_outside_the_client_ceiling_is_invalid_scope(signed_in, public_app, scope, settings):
    request = AuthorizationRequest(client_id=public_app.client_id, scope=scope)

    params = redirect_params(signed_in.consent_page(request))

    assert params["error"] == "invalid_scope"
    assert params["state"] == request.state
    assert params["iss"] == settings.OAUTH_ISSUER


def test_inactive_scope_is_invalid_scope(signed_in, public_app):
    public_app.allowed_scopes.filter(name="email").update(is_active=False)
    from oauth_apps.scopes import active_scopes_forget

    active_scopes_forget()
    params = redirect_params(
        signed_in.consent_page(AuthorizationRequest(client_id=public_app.client_id, scope="email"))
    )

    assert params["error"] == "invalid_scope"


@pytest.mark.parametrize(
    "request_fields",
    [{"client_id": "no-such-client"}, {"redirect_uri": "https://evil.example.com/callback"}],
    ids=["unknown client", "unregistered redirect URI"],
)
def test_a_broken_link_says_so_before_asking_to_sign_in(client, public_app, request_fields):
    request = AuthorizationRequest(**({"client_id": public_app.client_id} | request_fields))

    response = client.get(AUTHORIZE_URL, request.params())

    assert response.status_code == 400
    assert "This sign-in link doesn" in response.content.decode()
    assert "Location" not in response


@pytest.mark.parametrize("scope", ["read:profile", "write:everything"], ids=["valid", "invalid scope"])
def test_other_requests_still_ask_to_sign_in_first(client, public_app, scope):
    response = client.get(AUTHORIZE_URL, AuthorizationRequest(client_id=public_app.client_id, scope=scope).params())

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_prompt_none_without_a_session_is_login_required(client, public_app, settings):
    request = AuthorizationRequest(client_id=public_app.client_id, scope="openid", extra={"prompt": "none"})

    params = redirect_params(client.get(AUTHORIZE_URL, request.params()))

    assert params == {"error": "login_required", "state": request.state, "iss": settings.OAUTH_ISSUER}


def test_prompt_none_with_a_session_but_no_consent_is_consent_required(signed_in, public_app):
    request = AuthorizationRequest(client_id=public_app.client_id, scope="openid", extra={"prompt": "none"})

    params = redirect_params(signed_in.consent_page(request))

    assert params["error"] == "consent_required"


def test_native_app_private_use_scheme_redirect(signed_in, make_application):
    application, _ = make_application(redirect_uris=("com.wetrials.tracker:/oauth/callback",))
    request = AuthorizationRequest(client_id=application.client_id, redirect_uri="com.wetrials.tracker:/oauth/callback")

    response = signed_in.decide(request, allow=True)

    assert response["Location"].startswith("com.wetrials.tracker:/oauth/callback?code=")


def test_loopback_redirect_may_use_any_port(signed_in, make_application):
    application, _ = make_application(redirect_uris=("http://127.0.0.1/callback",))
    request = AuthorizationRequest(client_id=application.client_id, redirect_uri="http://127.0.0.1:53127/callback")

    code = signed_in.authorize(request)

    assert signed_in.exchange(request, code).status_code == 200


def test_tampered_consent_form_is_an_error_page(signed_in, public_app, client):
    response = client.post(
        AUTHORIZE_URL,
        {
            "client_id": "forged",
            "redirect_uri": "https://evil.example.com/",
            "allow": "Allow",
            "response_type": "code",
            "scope": "read:profile",
        },
    )

    assert response.status_code == 400
    assert "Location" not in response


def test_consent_page_is_not_cached_or_framed(signed_in, public_app):
    response = signed_in.consent_page(AuthorizationRequest(client_id=public_app.client_id))

    assert "no-store" in response["Cache-Control"]
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    # same-origin, not no-referrer: browsers would post the form with `Origin: null`.
    assert response["Referrer-Policy"] == "same-origin"
