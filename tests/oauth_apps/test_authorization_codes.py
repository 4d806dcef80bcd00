"""Authorization codes: single use, short-lived, bound to client, redirect URI and PKCE."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from oauth2_provider.models import get_grant_model

from tests.oauth import AuthorizationRequest


def test_code_reuse_fails_and_revokes_the_tokens_of_the_first_redemption(oauth, public_app):
    request = AuthorizationRequest(client_id=public_app.client_id)
    code = oauth.authorize(request)
    first = oauth.exchange(request, code).json()

    second = oauth.exchange(request, code)

    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"
    refresh = oauth.refresh(public_app.client_id, first["refresh_token"])
    assert refresh.json()["error"] == "invalid_grant"
    assert not public_app.accesstoken_set.exists()


def test_expired_code_is_invalid_grant(oauth, public_app):
    request = AuthorizationRequest(client_id=public_app.client_id)
    code = oauth.authorize(request)
    get_grant_model().objects.filter(code=code).update(expires=timezone.now() - timedelta(seconds=1))

    response = oauth.exchange(request, code)

    assert response.json()["error"] == "invalid_grant"


def test_code_lives_at_most_sixty_seconds(oauth, public_app):
    before = timezone.now()
    code = oauth.authorize(AuthorizationRequest(client_id=public_app.client_id))

    grant = get_grant_model().objects.get(code=code)

    assert grant.expires <= before + timedelta(seconds=61)


def test_code_redeemed_by_another_client_is_invalid_grant(oauth, public_app, make_application):
    other, _ = make_application(name="Other App")
    request = AuthorizationRequest(client_id=public_app.client_id)
    code = oauth.authorize(request)

    stolen = oauth.exchange(AuthorizationRequest(client_id=other.client_id, verifier=request.verifier), code)

    assert stolen.json()["error"] == "invalid_grant"
    assert oauth.exchange(request, code).status_code == 200


def test_code_with_a_different_redirect_uri_is_refused(oauth, make_application):
    application, _ = make_application(
        redirect_uris=("https://app.example.com/callback", "https://app.example.com/other")
    )
    request = AuthorizationRequest(client_id=application.client_id)
    code = oauth.authorize(request)
    request.redirect_uri = "https://app.example.com/other"

    response = oauth.exchange(request, code)

    assert response.status_code == 400
    assert response.json()["error"] in {"invalid_grant", "invalid_request"}


def test_redirect_uri_twice_at_the_token_endpoint_is_invalid_request(oauth, public_app):
    request = AuthorizationRequest(client_id=public_app.client_id)
    code = oauth.authorize(request)
    body = (
        f"grant_type=authorization_code&code={code}&client_id={public_app.client_id}"
        f"&code_verifier={request.verifier}&redirect_uri={request.redirect_uri}&redirect_uri={request.redirect_uri}"
    )

    response = oauth.token(body)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert oauth.exchange(request, code).status_code == 200, "a rejected request must not consume the code"


def test_unknown_code_is_invalid_grant(oauth, public_app):
    response = oauth.exchange(AuthorizationRequest(client_id=public_app.client_id), "not-a-code")

    assert response.json()["error"] == "invalid_grant"
