"""What the token, revocation and introspection views tell the rest of Django: DOT's
app_authorized signal for each token issued, and error reports that mask credentials."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.test import RequestFactory
from django.views.debug import SafeExceptionReporterFilter
from oauth2_provider.signals import app_authorized

from oauth_apps.views.token import IntrospectionView, RevocationView, TokenView
from tests.oauth import FORM, INTROSPECT_URL, REVOKE_URL, TOKEN_URL, basic_auth

CREDENTIALS = {
    "client_secret": "s3cret-value",
    "code": "the-code",
    "code_verifier": "the-verifier",
    "refresh_token": "the-refresh-token",
    "token": "the-token",
    "client_assertion": "the-assertion",
}


@pytest.fixture
def authorized(db):
    """The (sender, request, token) of every app_authorized signal sent during the test."""
    received = []

    def receiver(sender, request, token, **kwargs):
        received.append((sender, request, token))

    app_authorized.connect(receiver, weak=False)
    yield received
    app_authorized.disconnect(receiver)


def test_a_code_exchange_sends_app_authorized_with_the_issued_token(oauth, public_app, user, authorized):
    tokens = oauth.tokens_for(public_app)

    [(sender, request, token)] = authorized
    assert isinstance(sender, TokenView)
    assert request.path == TOKEN_URL
    assert (token.user, token.application) == (user, public_app)
    assert token.pk is not None
    assert token.scope == "read:profile"
    assert token.refresh_token.pk is not None
    assert tokens["access_token"]


def test_a_refresh_sends_app_authorized_again(oauth, public_app, user, authorized):
    tokens = oauth.tokens_for(public_app)

    oauth.refresh(public_app.client_id, tokens["refresh_token"])

    assert len(authorized) == 2
    assert authorized[1][2].user == user
    assert authorized[1][2].pk != authorized[0][2].pk


def test_a_service_account_token_sends_app_authorized_without_a_user(oauth, service_account, authorized):
    application, secret = service_account

    response = oauth.token(
        {"grant_type": "client_credentials", "scope": "read:participants"}, basic_auth(application.client_id, secret)
    )

    assert response.status_code == 200
    [(_, _, token)] = authorized
    assert (token.user, token.application) == (None, application)


def test_a_refused_token_request_or_a_revocation_sends_no_app_authorized(oauth, public_app, authorized):
    tokens = oauth.minted_tokens_for(public_app)
    authorized.clear()

    oauth.refresh(public_app.client_id, "not-a-token")
    oauth.revoke(tokens["refresh_token"], public_app.client_id)

    assert authorized == []


@pytest.mark.parametrize(
    ("view", "url"), [(TokenView, TOKEN_URL), (RevocationView, REVOKE_URL), (IntrospectionView, INTROSPECT_URL)]
)
def test_error_reports_of_the_oauth_endpoints_mask_every_credential(public_app, view, url):
    body = urlencode({**CREDENTIALS, "grant_type": "authorization_code", "client_id": public_app.client_id})
    request = RequestFactory().post(url, body, content_type=FORM, secure=True)

    view.as_view()(request)

    assert set(request.sensitive_post_parameters) == set(CREDENTIALS)
    reported = SafeExceptionReporterFilter().get_post_parameters(request)
    for name, value in CREDENTIALS.items():
        assert reported[name] != value
    assert reported["client_id"] == public_app.client_id
