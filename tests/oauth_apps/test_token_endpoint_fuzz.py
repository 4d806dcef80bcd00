"""Junk at the token endpoint always gets a standard 4xx error, never a 5xx."""

from __future__ import annotations

from urllib.parse import quote_from_bytes

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.oauth import TOKEN_ENDPOINT_ERRORS, TOKEN_URL, basic_auth

# Hundreds of random requests: `make test` runs them, `make test-fast` leaves them out.
pytestmark = pytest.mark.slow

PARAMETER_NAMES = st.sampled_from(
    ["grant_type", "code", "redirect_uri", "client_id", "client_secret", "code_verifier", "refresh_token", "scope"]
) | st.text(max_size=20)
VALUES = (
    st.sampled_from(["authorization_code", "refresh_token", "client_credentials", "password", "", "S256", "openid"])
    | st.text(max_size=200)
    | st.text(min_size=5_000, max_size=20_000, alphabet="ab%=&+")
)
RAW_BYTES = st.binary(max_size=2_000)
CONTENT_TYPES = st.sampled_from(
    [
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=latin-1",
        "application/json",
        "text/plain",
        "multipart/form-data; boundary=x",
        "",
    ]
)

fuzz = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@pytest.fixture(autouse=True)
def _no_rate_limits(settings):
    # Hundreds of requests per test would hit the token limit (tested in test_rate_limits.py).
    settings.RATELIMIT_ENABLE = False


def assert_rfc_error(response) -> None:
    assert response.status_code < 500, response.content
    assert response["Cache-Control"] == "no-store"
    if response.status_code != 200:
        assert response.json()["error"] in TOKEN_ENDPOINT_ERRORS, response.content
        assert response.json()["error_description"]


@pytest.mark.django_db
@fuzz
@given(params=st.lists(st.tuples(PARAMETER_NAMES, VALUES), max_size=8))
def test_random_form_parameters_never_cause_a_server_error(client, confidential_app, params):
    application, secret = confidential_app
    body = "&".join(
        f"{quote_from_bytes(k.encode('utf-8', 'surrogatepass'))}={quote_from_bytes(v.encode('utf-8', 'surrogatepass'))}"
        for k, v in params
    )

    response = client.post(
        TOKEN_URL,
        body,
        content_type="application/x-www-form-urlencoded",
        headers=basic_auth(application.client_id, secret),
    )

    assert_rfc_error(response)


@pytest.mark.django_db
@fuzz
@given(
    body=RAW_BYTES, content_type=CONTENT_TYPES, authorization=st.none() | st.text(max_size=100) | st.just("Basic !!!")
)
def test_raw_bytes_and_odd_content_types_never_cause_a_server_error(client, body, content_type, authorization):
    headers = {"Authorization": authorization} if authorization and authorization.isprintable() else {}

    response = client.generic("POST", TOKEN_URL, body, content_type=content_type, headers=headers)

    assert_rfc_error(response)


@pytest.mark.django_db
@fuzz
@given(code=st.text(max_size=300), verifier=st.text(max_size=300), redirect_uri=st.text(max_size=300))
def test_random_code_exchanges_never_cause_a_server_error(oauth, public_app, code, verifier, redirect_uri):
    response = oauth.token(
        {
            "grant_type": "authorization_code",
            "client_id": public_app.client_id,
            "code": code,
            "code_verifier": verifier,
            "redirect_uri": redirect_uri,
        }
    )

    assert_rfc_error(response)
