"""RFC 7636 with S256 only; mandatory for public clients, per-client for confidential ones."""

from __future__ import annotations

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
