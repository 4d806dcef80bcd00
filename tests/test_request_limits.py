"""Request size limits (64 KiB bodies, 100 fields) on every endpoint that reads a body: an
RFC 6749 error on the OAuth endpoints, a plain 400 page for people, and nothing written."""

from __future__ import annotations

import pytest
from django.conf import settings
from oauth2_provider.models import get_access_token_model, get_grant_model

from oauth_apps.models import AuditEvent, Consent
from tests.oauth import INTROSPECT_URL, REVOKE_URL, AuthorizationRequest, basic_auth, consent_form_data

OAUTH_FORM_ENDPOINTS = ["/v1/oauth/token", REVOKE_URL, INTROSPECT_URL]
HUGE = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
MANY_FIELDS = "&".join(f"f{n}=1" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))


def form_post(client, url: str, body: str, **headers: str):
    return client.post(url, body, content_type="application/x-www-form-urlencoded", **headers)


def test_the_limits_are_set():
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == 64 * 1024
    assert settings.DATA_UPLOAD_MAX_NUMBER_FIELDS == 100


@pytest.mark.parametrize("url", OAUTH_FORM_ENDPOINTS)
@pytest.mark.parametrize(
    ("body", "description"),
    [(f"token={HUGE}", "too large"), (MANY_FIELDS, "too many parameters")],
    ids=["huge body", "too many fields"],
)
def test_oauth_endpoints_answer_invalid_request(client, confidential_app, url, body, description):
    application, secret = confidential_app

    response = form_post(client, url, body, HTTP_AUTHORIZATION=basic_auth(application.client_id, secret))

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert description in response.json()["error_description"]
    assert response["Cache-Control"] == "no-store"


def test_userinfo_refuses_a_huge_body_with_an_rfc_6750_error(client, db):
    response = form_post(client, "/v1/oauth/userinfo", f"access_token={HUGE}")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize("body", [f"username={HUGE}", MANY_FIELDS], ids=["huge body", "too many fields"])
def test_sign_in_refuses_with_a_plain_400(client, db, body):
    response = form_post(client, "/accounts/login/", body)

    assert response.status_code == 400
    assert "Traceback" not in response.content.decode()
    assert "_auth_user_id" not in client.session


def consent_form(oauth, application) -> dict[str, str]:
    oauth.sign_in()
    page = oauth.consent_page(AuthorizationRequest(client_id=application.client_id, scope="openid"))
    assert page.status_code == 200
    return consent_form_data(page) | {"allow": "Allow"}


def test_the_same_consent_post_within_the_limits_issues_a_code(oauth, public_app):
    response = oauth.client.post("/v1/oauth/authorize", consent_form(oauth, public_app) | {"padding": "x" * 1000})

    assert response.status_code == 302
    assert get_grant_model().objects.count() == 1


@pytest.mark.parametrize("extra", [{"padding": HUGE}, {f"f{n}": "1" for n in range(100)}], ids=["huge", "many"])
def test_consent_post_refuses_and_issues_no_code(oauth, public_app, extra):
    response = oauth.client.post("/v1/oauth/authorize", consent_form(oauth, public_app) | extra)

    assert response.status_code == 400
    assert not get_grant_model().objects.exists()
    assert not Consent.objects.exists()
    assert not get_access_token_model().objects.exists()
    assert not AuditEvent.objects.filter(kind=AuditEvent.Kind.CONSENT_GRANTED).exists()
