"""Hostile values in every parameter and header that reaches the database, at every endpoint.

The contract: no input, however malformed, produces a 500. SQLite stores anything, but
PostgreSQL refuses a NUL in text and a value longer than a column's max_length, so these
cases matter most when the suite runs on PostgreSQL (CI). Each case is one parametrized
test with a readable id, so a failure names its endpoint, parameter and value and runs
again the same way; a few hypothesis tests add random text on top.

Every request must also answer in the endpoint's own error format (RFC 6749 §5.2 JSON on
the OAuth endpoints, RFC 6750 on the bearer-protected ones, an HTML page or a redirect to
the registered URI on authorize) and leave no token, code or consent behind when it is
refused. Audit events may be written: refusals are audited on purpose.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from django.shortcuts import resolve_url
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from oauth2_provider.models import get_access_token_model, get_grant_model, get_refresh_token_model

from oauth_apps.models import Consent
from oauth_apps.services import consent_record
from tests.conftest import PASSWORD, REDIRECT_URI
from tests.oauth import (
    AUTHORIZE_URL,
    INTROSPECT_URL,
    ME_URL,
    REVOKE_URL,
    TOKEN_ENDPOINT_ERRORS,
    TOKEN_URL,
    USERINFO_URL,
    AuthorizationRequest,
    basic_auth,
)

# Over a thousand cases: `make test` runs them, `make test-fast` leaves them out.
pytestmark = pytest.mark.slow

# Each value keeps a little ordinary text around the hostile part, so a server that trims
# or splits still meets it.
HOSTILE = {
    "nul": "a\x00b",
    "soh": "a\x01b",
    "unit-separator": "a\x1fb",
    "del": "a\x7fb",
    "crlf": "a\r\nb",
    "u+ffff": "a\uffffb",
    "rtl-override": "a\u202eb",
    "combining-marks": "a\u0301\u0308\u20dd",
    "superscript-two": "²",
    "fullwidth-digits": "\uff11\uff12\uff13",
    "256-chars": "x" * 256,
    "4097-chars": "x" * 4097,
    "70000-chars": "x" * 70_000,
}
hostile_values = pytest.mark.parametrize("value", list(HOSTILE.values()), ids=list(HOSTILE))

# RFC 7009 §2.2.1 adds unsupported_token_type at the revocation endpoint.
RFC_6749_ERRORS = TOKEN_ENDPOINT_ERRORS | {"unsupported_token_type"}
RFC_6750_ERRORS = {"invalid_request", "invalid_token", "insufficient_scope"}
FORGED_REDIRECT_URI = "https://evil.example.com/callback"
# Not the defaults of tests.oauth, so the cases below pin what each one sends.
SCOPE = "openid read:profile"
NONCE = "n-0S6_WzA2Mj"

fuzz = hypothesis_settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@pytest.fixture(autouse=True)
def _no_rate_limits(settings):
    # Hundreds of refused requests from one address would meet every limit (tested in test_rate_limits.py).
    settings.RATELIMIT_ENABLE = False


def persisted() -> dict[str, int]:
    """The rows a refused request must never add, change the number of, or remove."""
    return {
        "access tokens": get_access_token_model().objects.count(),
        "refresh tokens": get_refresh_token_model().objects.count(),
        "grants": get_grant_model().objects.count(),
        "consents": Consent.objects.count(),
    }


def as_header(value: str) -> str:
    # A WSGI server hands Django header bytes decoded as Latin-1: the UTF-8 a client sent
    # arrives as that, never as the characters it encodes.
    return value.encode("utf-8").decode("latin-1")


def basic(raw: str) -> dict[str, str]:
    """An Authorization header whose Basic credentials decode to `raw` exactly."""
    return {"Authorization": as_header("Basic " + base64.b64encode(raw.encode("utf-8")).decode())}


def assert_oauth_json_error(response: Any, allowed: set[str] = RFC_6749_ERRORS) -> None:
    assert response.status_code < 500, response.content[:2000]
    if response.status_code == 200:
        return
    assert response["Content-Type"].startswith("application/json"), response.content[:2000]
    body = response.json()
    assert body["error"] in allowed | {"rate_limited"}, body
    assert isinstance(body["error_description"], str), body
    assert body["error_description"], body


def redirect_target(response: Any) -> str:
    return response["Location"].split("?", 1)[0]


def is_code_redirect(response: Any) -> bool:
    if response.status_code != 302 or redirect_target(response) != REDIRECT_URI:
        return False
    return "code" in parse_qs(urlsplit(response["Location"]).query)


def assert_authorize_answer(response: Any, before: dict[str, int]) -> None:
    """A consent page, a sign-in redirect, an HTML error page (400) or a redirect to the
    registered URI; never a 5xx, never a redirect anywhere else."""
    assert response.status_code < 500, response.content[:2000]
    assert response.status_code in (200, 302, 400), (response.status_code, response.content[:2000])
    if response.status_code == 302:
        assert redirect_target(response) in (REDIRECT_URI, resolve_url("accounts:login")), response["Location"]
    else:
        assert response["Content-Type"].startswith("text/html"), response["Content-Type"]
    if response.status_code == 400:
        # Ours, or Django's own 400 page (a body over the limits, a refused redirect).
        assert "Location" not in response
        assert "Traceback" not in response.content.decode()
    after = persisted()
    if is_code_redirect(response):
        # The one outcome that writes: a code (and the consent it came with), never a token.
        assert (after["access tokens"], after["refresh tokens"]) == (before["access tokens"], before["refresh tokens"])
    else:
        assert after == before


# --- authorize (GET) --------------------------------------------------------------------

AUTHORIZE_PARAMETERS = [
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "claims",
    "id_token_hint",
    "login_hint",
    "ui_locales",
    "request",
    "request_uri",
    "response_type",
]


@dataclass
class Placement:
    """Where a hostile value goes: instead of the parameter's value, or after a valid one."""

    parameter: str
    appended: bool = False

    def apply(self, params: dict[str, str], value: str) -> dict[str, str]:
        valid = params.get(self.parameter, "")
        return {**params, self.parameter: (f"{valid} {value}" if self.parameter == "scope" else valid + value)}

    def __str__(self) -> str:
        return f"{self.parameter}-appended" if self.appended else self.parameter


def replace(params: dict[str, str], parameter: str, value: str) -> dict[str, str]:
    return {**params, parameter: value}


AUTHORIZE_PLACEMENTS = [Placement(name) for name in AUTHORIZE_PARAMETERS] + [
    Placement("redirect_uri", appended=True),
    Placement("scope", appended=True),
    Placement("client_id", appended=True),
]


def placed(placement: Placement, params: dict[str, str], value: str) -> dict[str, str]:
    return placement.apply(params, value) if placement.appended else replace(params, placement.parameter, value)


def sign_in_as(state: str, oauth, public_app) -> None:
    """Who is asking: nobody yet (the request is checked, then sign-in), a user seeing the
    consent page, or a user whose earlier consent makes the GET itself store a code."""
    if state != "anonymous":
        oauth.sign_in()
    if state == "consent-remembered":
        consent_record(user=oauth.user, application=public_app, scopes=SCOPE.split())


# Every parameter where the GET writes (remembered consent); before sign-in, those the
# server looks up; on the consent page, those that change what it does or renders.
AUTHORIZE_CASES = (
    [("consent-remembered", placement) for placement in AUTHORIZE_PLACEMENTS]
    + [
        ("anonymous", placement)
        for placement in AUTHORIZE_PLACEMENTS
        if placement.parameter in ("client_id", "redirect_uri", "scope", "response_type")
    ]
    + [
        ("signed-in", placement)
        for placement in AUTHORIZE_PLACEMENTS
        if placement.parameter in ("state", "nonce", "code_challenge", "claims", "prompt", "max_age")
    ]
)


@hostile_values
@pytest.mark.parametrize(
    ("state", "placement"), AUTHORIZE_CASES, ids=[f"{state}-{placement}" for state, placement in AUTHORIZE_CASES]
)
def test_authorize_get_answers_hostile_values_with_a_page_or_the_registered_redirect(
    oauth, public_app, state, placement, value
):
    sign_in_as(state, oauth, public_app)
    params = placed(placement, authorize_params(public_app), value)
    before = persisted()

    response = oauth.client.get(AUTHORIZE_URL, params)

    assert_authorize_answer(response, before)


@hostile_values
def test_authorize_get_answers_a_hostile_parameter_name(oauth, public_app, value):
    sign_in_as("consent-remembered", oauth, public_app)
    before = persisted()

    response = oauth.client.get(AUTHORIZE_URL, {**authorize_params(public_app), value: "1"})

    assert_authorize_answer(response, before)


def authorize_params(public_app) -> dict[str, str]:
    return AuthorizationRequest(client_id=public_app.client_id, scope=SCOPE, extra={"nonce": NONCE}).params()


# --- consent (POST) ---------------------------------------------------------------------

CONSENT_FIELDS = [
    "redirect_uri",
    "scope",
    "nonce",
    "client_id",
    "state",
    "response_type",
    "code_challenge",
    "code_challenge_method",
    "claims",
    "resource",
]


def consent_form(oauth, public_app) -> dict[str, str]:
    """The hidden fields of the consent page, as its form posts them, CSRF token included."""
    oauth.sign_in()
    page = oauth.client.get(AUTHORIZE_URL, authorize_params(public_app))
    assert page.status_code == 200, page.content
    fields = {name: value for name, value in page.context["form"].initial.items() if value is not None}
    return fields | {"csrfmiddlewaretoken": str(page.context["csrf_token"])}


def decided(form: dict[str, str], decision: str) -> dict[str, str]:
    return form | {"allow": "Allow"} if decision == "allow" else form


# Allowing stores every field in the code's row; denying redirects with these three only.
CONSENT_CASES = [(field, "allow") for field in CONSENT_FIELDS] + [
    (field, "deny") for field in ("redirect_uri", "client_id", "state")
]


@hostile_values
@pytest.mark.parametrize(("field", "decision"), CONSENT_CASES, ids=[f"{f}-{d}" for f, d in CONSENT_CASES])
def test_consent_post_answers_a_hostile_field_with_a_page_or_the_registered_redirect(
    oauth, public_app, field, decision, value
):
    form = replace(consent_form(oauth, public_app), field, value)
    before = persisted()

    response = oauth.client.post(AUTHORIZE_URL, decided(form, decision))

    assert_authorize_answer(response, before)


CONSENT_SUFFIX_CASES = [("redirect_uri", "allow"), ("redirect_uri", "deny"), ("scope", "allow")]


@hostile_values
@pytest.mark.parametrize(
    ("field", "decision"), CONSENT_SUFFIX_CASES, ids=[f"{f}-appended-{d}" for f, d in CONSENT_SUFFIX_CASES]
)
def test_consent_post_answers_a_hostile_suffix_with_a_page_or_the_registered_redirect(
    oauth, public_app, field, decision, value
):
    form = consent_form(oauth, public_app)
    form = Placement(field, appended=True).apply(form, value)
    before = persisted()

    response = oauth.client.post(AUTHORIZE_URL, decided(form, decision))

    assert_authorize_answer(response, before)


@pytest.mark.parametrize("decision", ["allow", "deny"])
@pytest.mark.parametrize(
    "field_value",
    [("resource", "not a uri"), ("resource", HOSTILE["nul"]), ("state", HOSTILE["crlf"]), ("scope", "openid")],
    ids=["invalid-resource", "nul-resource", "crlf-state", "valid-rest"],
)
def test_consent_post_never_redirects_to_a_forged_redirect_uri(oauth, public_app, decision, field_value):
    field, value = field_value
    form = consent_form(oauth, public_app) | {"redirect_uri": FORGED_REDIRECT_URI, field: value}
    before = persisted()

    response = oauth.client.post(AUTHORIZE_URL, decided(form, decision))

    assert_authorize_answer(response, before)


# --- token endpoint ---------------------------------------------------------------------


def code_exchange(oauth, application, secret: str | None) -> dict[str, str]:
    request = AuthorizationRequest(client_id=application.client_id)
    body = {
        "grant_type": "authorization_code",
        "code": oauth.authorize(request),
        "redirect_uri": request.redirect_uri,
        "code_verifier": request.verifier,
        "client_id": application.client_id,
    }
    return body | ({"client_secret": secret} if secret else {})


def public_code_exchange(oauth, make_application) -> dict[str, str]:
    application, _ = make_application()
    return code_exchange(oauth, application, None)


def confidential_code_exchange(oauth, make_application) -> dict[str, str]:
    application, secret = make_application(name="Research Portal", client_type="confidential")
    return code_exchange(oauth, application, secret)


def refresh(oauth, make_application) -> dict[str, str]:
    application, _ = make_application()
    tokens = oauth.minted_tokens_for(application)
    return {
        "grant_type": "refresh_token",
        "refresh_token": tokens["refresh_token"],
        "client_id": application.client_id,
        "scope": "read:profile",
    }


def client_credentials(oauth, make_application) -> dict[str, str]:
    application, secret = make_application(
        name="Nightly Export",
        client_type="confidential",
        grant_type="client-credentials",
        redirect_uris=(),
        scopes=("read:participants",),
    )
    return {
        "grant_type": "client_credentials",
        "client_id": application.client_id,
        "client_secret": secret,
        "scope": "read:participants",
    }


# Each builds a request that would succeed, with the client authenticating in the body.
TOKEN_REQUESTS: dict[str, Callable[..., dict[str, str]]] = {
    "code-public": public_code_exchange,
    "code-confidential": confidential_code_exchange,
    "refresh": refresh,
    "client-credentials": client_credentials,
}
TOKEN_CASES = [
    ("code-public", name) for name in ("grant_type", "code", "redirect_uri", "client_id", "code_verifier")
] + [
    ("code-confidential", name) for name in ("client_id", "client_secret", "code")
] + [
    ("refresh", name) for name in ("grant_type", "refresh_token", "client_id", "scope")
] + [
    ("client-credentials", name) for name in ("grant_type", "client_id", "client_secret", "scope")
]  # fmt: skip


@hostile_values
@pytest.mark.parametrize(("grant", "parameter"), TOKEN_CASES, ids=[f"{g}-{p}" for g, p in TOKEN_CASES])
def test_token_endpoint_answers_a_hostile_body_parameter_with_an_rfc_error(
    oauth, make_application, grant, parameter, value
):
    body = replace(TOKEN_REQUESTS[grant](oauth, make_application), parameter, value)
    before = persisted()

    response = oauth.token(body)

    assert response.status_code != 200, response.content
    assert_oauth_json_error(response)
    assert response["Cache-Control"] == "no-store"
    assert persisted() == before


CLIENT_AUTHENTICATED_URLS = {"token": TOKEN_URL, "revoke": REVOKE_URL, "introspect": INTROSPECT_URL}
client_authenticated_urls = pytest.mark.parametrize(
    "url", list(CLIENT_AUTHENTICATED_URLS.values()), ids=list(CLIENT_AUTHENTICATED_URLS)
)


def client_credentials_body(url: str) -> dict[str, str]:
    if url == TOKEN_URL:
        return {"grant_type": "client_credentials", "scope": "read:participants"}
    return {"token": "not-a-token"}


# The secret is checked the same way everywhere; the client id is also audited per endpoint.
BASIC_CASES = [
    (url, part, encoding)
    for url in CLIENT_AUTHENTICATED_URLS
    for part in ("client_id", "secret")
    for encoding in ("raw", "form-encoded")
    if url == "token" or part == "client_id"
]


@hostile_values
@pytest.mark.parametrize(("endpoint", "part", "encoding"), BASIC_CASES, ids=["-".join(case) for case in BASIC_CASES])
def test_basic_credentials_decoding_to_hostile_values_get_an_rfc_error(
    oauth, service_account, endpoint, part, encoding, value
):
    url = CLIENT_AUTHENTICATED_URLS[endpoint]
    application, secret = service_account
    # RFC 6749 §2.3.1 form-encodes both parts before base64; the server decodes that too.
    hostile = quote(value, safe="") if encoding == "form-encoded" else value
    client_id, secret = (hostile, secret) if part == "client_id" else (application.client_id, hostile)
    before = persisted()

    response = oauth.token(client_credentials_body(url), basic(f"{client_id}:{secret}"), url=url)

    assert response.status_code == 401, response.content
    assert_oauth_json_error(response)
    assert response.json()["error"] == "invalid_client"
    assert persisted() == before


MALFORMED_BASIC = {
    "no-credentials": "Basic",
    "empty-credentials": "Basic ",
    "not-base64": "Basic !!!",
    "missing-padding": "Basic YQ",
    "not-utf8": "Basic " + base64.b64encode(b"\xff\xfe:\xc0\xaf").decode(),
    "no-colon": "Basic " + base64.b64encode(b"client-without-secret").decode(),
    "only-colon": "Basic " + base64.b64encode(b":").decode(),
    "colons": "Basic " + base64.b64encode(b":::::").decode(),
    "bad-percent-escape": "Basic " + base64.b64encode(b"a%zz:%").decode(),
    "percent-nul": "Basic " + base64.b64encode(b"a%00b:x").decode(),
    "percent-nul-secret": "Basic " + base64.b64encode(b"x:a%00b").decode(),
    "percent-utf8-overlong": "Basic " + base64.b64encode(b"a%C0%AFb:x").decode(),
    "lowercase-scheme": "basic " + base64.b64encode(b"a:b").decode(),
    "two-spaces": "Basic  " + base64.b64encode(b"a:b").decode(),
    "70000-chars": "Basic " + "A" * 70_000,
    "latin1-bytes": as_header("Basic ²\u202e"),
    "control-chars": "Basic \x01\x1f\x7f",
}


@pytest.mark.parametrize("header", list(MALFORMED_BASIC.values()), ids=list(MALFORMED_BASIC))
@client_authenticated_urls
def test_malformed_basic_credentials_get_an_rfc_error(oauth, db, url, header):
    before = persisted()

    response = oauth.token(client_credentials_body(url), {"Authorization": header}, url=url)

    assert response.status_code in (400, 401), response.content
    assert_oauth_json_error(response)
    assert persisted() == before


# --- revocation and introspection -------------------------------------------------------


@pytest.fixture
def live_access_token(oauth, public_app) -> str:
    return oauth.minted_tokens_for(public_app)["access_token"]


REVOKE_CASES = [
    (REVOKE_URL, "token", "confidential"),
    (REVOKE_URL, "token_type_hint", "confidential"),
    (REVOKE_URL, "token", "public"),
    (REVOKE_URL, "client_id", "public"),
    (INTROSPECT_URL, "token", "confidential"),
    (INTROSPECT_URL, "token_type_hint", "confidential"),
]


@hostile_values
@pytest.mark.parametrize(
    ("url", "parameter", "auth"),
    REVOKE_CASES,
    ids=[f"{url.rsplit('/', 1)[1]}-{parameter}-{auth}" for url, parameter, auth in REVOKE_CASES],
)
def test_revocation_and_introspection_answer_hostile_parameters_with_an_rfc_error(
    oauth, public_app, confidential_app, live_access_token, url, parameter, auth, value
):
    application, secret = confidential_app
    body = {"token": live_access_token, "token_type_hint": "access_token"}
    if auth == "public":
        body["client_id"] = public_app.client_id
        headers = {}
    else:
        headers = basic_auth(application.client_id, secret)
    body[parameter] = value
    before = persisted()

    response = oauth.token(body, headers, url=url)

    assert_oauth_json_error(response)
    assert response["Cache-Control"] == "no-store"
    if response.status_code != 200:
        assert persisted() == before
    if parameter == "token" and response.status_code == 200:
        # No such token: RFC 7009 §2.2 answers 200 and RFC 7662 §2.2 "not active".
        assert not response.content or response.json() == {"active": False}, response.content
        assert persisted() == before


# --- bearer-protected: userinfo and /v1/me ----------------------------------------------

BEARER_SHAPES = {
    "bearer": "Bearer {}",
    "bare": "{}",
    "jwt-shaped": "Bearer {0}.{0}.{0}",
    "basic-scheme": "Basic {}",
}
BEARER_ENDPOINTS = {
    "userinfo-get": ("get", USERINFO_URL),
    "userinfo-post": ("post", USERINFO_URL),
    "me": ("get", ME_URL),
}


# Every shape at userinfo; at the others, the shapes that reach token verification.
BEARER_CASES = [
    (endpoint, shape)
    for endpoint in BEARER_ENDPOINTS
    for shape in BEARER_SHAPES
    if endpoint == "userinfo-get" or shape in ("bearer", "jwt-shaped")
]


@hostile_values
@pytest.mark.parametrize(("endpoint", "shape"), BEARER_CASES, ids=[f"{e}-{s}" for e, s in BEARER_CASES])
def test_bearer_endpoints_answer_a_hostile_authorization_header_with_an_rfc_6750_error(
    client, db, endpoint, shape, value
):
    method, url = BEARER_ENDPOINTS[endpoint]
    before = persisted()

    response = getattr(client, method)(url, headers={"Authorization": as_header(BEARER_SHAPES[shape].format(value))})

    assert response.status_code in (400, 401), response.content[:2000]
    assert_oauth_json_error(response, RFC_6750_ERRORS)
    assert persisted() == before


# --- pages people see -------------------------------------------------------------------


@hostile_values
@pytest.mark.parametrize("field", ["username", "password"])
def test_sign_in_refuses_hostile_credentials_with_a_page(client, user, field, value):
    credentials = {"username": user.username, "password": PASSWORD} | {field: value}

    response = client.post(resolve_url("accounts:login"), credentials)

    assert response.status_code < 500, response.content[:2000]
    assert response.status_code in (200, 400), response.status_code
    assert "_auth_user_id" not in client.session


@pytest.fixture
def connected(oauth, public_app):
    """A signed-in user with one connected app, so the revoke page has something to find."""
    oauth.sign_in()
    consent_record(user=oauth.user, application=public_app, scopes=["read:profile"])
    return oauth


@hostile_values
@pytest.mark.parametrize("method", ["get", "post"])
def test_connected_app_revoke_with_a_hostile_client_id_is_not_found(connected, method, value):
    before = persisted()

    response = getattr(connected.client, method)(f"/accounts/apps/{quote(value, safe='')}/revoke/")

    assert response.status_code < 500, response.content[:2000]
    assert response.status_code == 404
    assert persisted() == before


ADMIN_CHANGELISTS = {
    "application": "/admin/oauth_apps/application/",
    "audit-event": "/admin/oauth_apps/auditevent/",
    "user": "/admin/accounts/user/",
}


@hostile_values
@pytest.mark.parametrize("url", list(ADMIN_CHANGELISTS.values()), ids=list(ADMIN_CHANGELISTS))
def test_admin_search_answers_hostile_text(client, make_user, public_app, url, value):
    client.force_login(make_user("staff", is_staff=True, is_superuser=True))

    response = client.get(url, {"q": value})

    assert response.status_code < 500, response.content[:2000]
    assert response.status_code == 200


# --- random text on top -----------------------------------------------------------------


@pytest.mark.django_db
@fuzz
@given(parameter=st.sampled_from(AUTHORIZE_PARAMETERS), value=st.text(max_size=300))
def test_random_text_in_an_authorize_parameter(oauth, public_app, parameter, value):
    oauth.sign_in()
    before = persisted()

    response = oauth.client.get(AUTHORIZE_URL, replace(authorize_params(public_app), parameter, value))

    assert_authorize_answer(response, before)


@pytest.mark.django_db
@fuzz
@given(client_id=st.text(max_size=300), secret=st.text(max_size=300))
def test_random_basic_credentials_at_the_token_endpoint(oauth, client_id, secret):
    before = persisted()

    response = oauth.token(client_credentials_body(TOKEN_URL), basic(f"{client_id}:{secret}"))

    assert response.status_code in (400, 401), response.content
    assert_oauth_json_error(response)
    assert persisted() == before


@pytest.mark.django_db
@fuzz
@given(value=st.text(max_size=300))
def test_random_text_in_the_connected_app_revoke_path(connected, value):
    before = persisted()

    response = connected.client.post(f"/accounts/apps/{quote(value, safe='')}/revoke/")

    assert response.status_code in (404, 301, 302), response.status_code
    assert persisted() == before
