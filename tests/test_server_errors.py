"""Failures answer in the endpoint's own format, with no stack trace: a database outage is a
503 the client can retry, anything else a 500."""

from __future__ import annotations

import pytest
from django.db.utils import OperationalError

from tests.oauth import TOKEN_URL, HttpsClient, basic_auth


@pytest.fixture
def quiet_client() -> HttpsClient:
    """A client that receives the error response instead of the exception."""
    return HttpsClient(raise_request_exception=False)


@pytest.fixture
def database_down(monkeypatch):
    def fail(*args, **kwargs):
        raise OperationalError("connection to server at 127.0.0.1, port 5432 failed: Connection refused")

    return fail


def test_an_outage_at_the_token_endpoint_is_a_json_503(quiet_client, service_account, monkeypatch, database_down):
    application, secret = service_account
    monkeypatch.setattr("oauth_apps.oauth2.oauth2_validators.OAuth2Validator.authenticate_client", database_down)

    response = quiet_client.post(
        TOKEN_URL,
        "grant_type=client_credentials",
        content_type="application/x-www-form-urlencoded",
        headers=basic_auth(application.client_id, secret),
    )

    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    assert response["Retry-After"] == "5"
    assert response["Cache-Control"] == "no-store"


def test_an_outage_on_a_page_is_a_page(quiet_client, user, monkeypatch, database_down):
    quiet_client.force_login(user)
    monkeypatch.setattr("accounts.views.connected_app_list", database_down)

    response = quiet_client.get("/accounts/apps/")

    assert response.status_code == 503
    assert "briefly unavailable" in response.content.decode()
    assert "Traceback" not in response.content.decode()


def test_any_other_failure_is_a_500_without_a_stack_trace(quiet_client, db, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("oauth_apps.views.discovery.server_metadata_document", broken)

    response = quiet_client.get("/.well-known/openid-configuration")

    assert response.status_code == 500
    assert response.json() == {
        "error": "server_error",
        "error_description": "The server failed to handle this request.",
    }


def test_unknown_pages_get_a_friendly_404(client, db):
    response = client.get("/no/such/page")

    assert response.status_code == 404
    assert "We can't find that page" in response.content.decode()
