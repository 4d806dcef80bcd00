"""RFC 7636 with S256 only; mandatory for public clients, per-client for confidential ones."""

from __future__ import annotations

import pytest

from tests.oauth import AuthorizationRequest, redirect_params


def authorize_error(oauth, request: AuthorizationRequest) -> dict[str, str]:
    oauth.sign_in()
    return redirect_params(oauth.consent_page(request))


def test_plain_challenge_method_is_refused(oauth, public_app):
    params = authorize_error(oauth, AuthorizationRequest(client_id=public_app.client_id, method="plain"))

    assert params["error"] == "invalid_request"


def test_challenge_without_method_is_refused(oauth, public_app):
    params = authorize_error(oauth, AuthorizationRequest(client_id=public_app.client_id, method=None))

    assert params["error"] == "invalid_request"


def test_public_client_without_challenge_is_refused(oauth, public_app):
    params = authorize_error(oauth, AuthorizationRequest(client_id=public_app.client_id, verifier=None))

    assert params["error"] == "invalid_request"
    assert "challenge" in params["error_description"].lower()


def test_wrong_verifier_is_invalid_grant(oauth, public_app):
    request = AuthorizationRequest(client_id=public_app.client_id)
    code = oauth.authorize(request)
    request.verifier = "x" * 50

    response = oauth.exchange(request, code)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_missing_verifier_is_refused(oauth, public_app):
    request = AuthorizationRequest(client_id=public_app.client_id)
    code = oauth.authorize(request)

    response = oauth.token(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": request.redirect_uri,
            "client_id": public_app.client_id,
        }
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_confidential_client_with_required_pkce_must_send_a_challenge(oauth, confidential_app):
    application, _ = confidential_app
    params = authorize_error(oauth, AuthorizationRequest(client_id=application.client_id, verifier=None))

    assert params["error"] == "invalid_request"


def test_confidential_client_with_optional_pkce_may_skip_it(oauth, make_application):
    application, secret = make_application(client_type="confidential", pkce_required=False)

    tokens = oauth.tokens_for(application, secret=secret, verifier=None)

    assert tokens["access_token"]


def test_confidential_client_with_optional_pkce_is_held_to_a_challenge_it_sent(oauth, make_application):
    application, secret = make_application(client_type="confidential", pkce_required=False)
    request = AuthorizationRequest(client_id=application.client_id)
    code = oauth.authorize(request)
    request.verifier = "y" * 60

    response = oauth.exchange(request, code, secret=secret)

    assert response.json()["error"] == "invalid_grant"


def test_a_verifier_for_a_code_issued_without_a_challenge_is_refused(oauth, make_application):
    # RFC 9700 §2.1.1, "PKCE downgrade": the attacker's code had no challenge, so any verifier "matches".
    application, secret = make_application(client_type="confidential", pkce_required=False)
    request = AuthorizationRequest(client_id=application.client_id, verifier=None)
    code = oauth.authorize(request)
    request.verifier = "a" * 64

    response = oauth.exchange(request, code, secret=secret)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_a_confidential_client_that_may_skip_pkce_still_gets_tokens_without_it(oauth, make_application):
    application, secret = make_application(client_type="confidential", pkce_required=False)
    request = AuthorizationRequest(client_id=application.client_id, verifier=None)

    response = oauth.exchange(request, oauth.authorize(request), secret=secret)

    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    "verifier",
    ["a" * 42, "a" * 129, "a" * 42 + "+", "a" * 42 + " ", "a" * 42 + "é", "a" * 42 + "/"],
    ids=["42 characters", "129 characters", "plus", "space", "non-ascii", "slash"],
)
def test_a_verifier_outside_rfc_7636_syntax_is_refused_even_when_it_matches(oauth, public_app, verifier):
    request = AuthorizationRequest(client_id=public_app.client_id, verifier=verifier)
    code = oauth.authorize(request)  # its S256 challenge is well-formed, so a code is issued

    response = oauth.exchange(request, code)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert not public_app.accesstoken_set.exists()


@pytest.mark.parametrize(
    "challenge",
    ["a" * 42, "a" * 44, "a" * 129, "a" * 42 + "=", "a" * 42 + "+", "a" * 42 + "\x00"],
    ids=["42 characters", "44 characters", "129 characters", "padding", "plus", "NUL"],
)
def test_an_s256_challenge_that_is_not_43_base64url_characters_is_invalid_request(oauth, public_app, challenge):
    request = AuthorizationRequest(client_id=public_app.client_id, extra={"code_challenge": challenge})

    params = authorize_error(oauth, request)

    assert params["error"] == "invalid_request"
    assert params["state"] == request.state
