"""The authorization request as OIDC Core §3.1.2 and RFC 9700 ask: fresh sign-in honoured
once, consent never skipped by request parameters, redirects only to registered URIs,
POST as well as GET, and unsupported request objects refused."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import get_grant_model

from accounts.sessions import AUTH_TIME_SESSION_KEY
from oauth_apps.keys import key_ring
from oauth_apps.models import Application, Consent, TokenFamily
from tests.conftest import PASSWORD
from tests.oauth import AUTHORIZE_URL, AuthorizationRequest, HttpsClient, consent_form_data, redirect_params

SIGN_IN_URL = "/accounts/login/"


@pytest.fixture
def signed_in(oauth):
    oauth.sign_in()
    return oauth


def is_signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def follow_sign_in(client, response, username: str) -> object:
    """Sign in on the page the authorize endpoint sent the browser to, then follow `next` back."""
    assert response.status_code == 302 and response["Location"].startswith(SIGN_IN_URL), response
    signed_in = client.post(response["Location"], {"username": username, "password": PASSWORD})
    assert signed_in.status_code == 302, signed_in.content
    assert signed_in["Location"] == parse_qs(urlsplit(response["Location"]).query)["next"][0]
    return client.get(signed_in["Location"])


def sign_in_age(client, seconds: int) -> None:
    session = client.session
    session[AUTH_TIME_SESSION_KEY] = int(time.time()) - seconds
    session.save()


# --- prompt=login and max_age (OIDC Core §3.1.2.1) ----------------------------------------


@pytest.mark.parametrize("extra", [{"max_age": "0"}, {"prompt": "login"}], ids=["max_age=0", "prompt=login"])
def test_a_fresh_sign_in_is_asked_for_once_then_the_request_goes_on(signed_in, public_app, client, user, extra):
    sign_in_age(client, 5)
    request = AuthorizationRequest(client_id=public_app.client_id, scope="openid", extra=extra)

    asked = client.get(AUTHORIZE_URL, request.params())
    assert not is_signed_in(client)
    consent = follow_sign_in(client, asked, user.username)

    assert consent.status_code == 200, consent
    assert "Allow" in consent.content.decode()


def test_max_age_zero_from_a_signed_out_browser_asks_for_sign_in_once(client, public_app, user):
    request = AuthorizationRequest(client_id=public_app.client_id, scope="openid", extra={"max_age": "0"})

    consent = follow_sign_in(client, client.get(AUTHORIZE_URL, request.params()), user.username)

    assert consent.status_code == 200


@pytest.mark.parametrize(
    "max_age", ["²", "-1", "1.5", "\uff11", " 1", "1e3", "", "9" * 5000], ids=lambda v: f"{v[:8]!r}({len(v)})"
)
def test_a_max_age_that_is_not_a_plain_non_negative_integer_is_an_invalid_request_redirect(
    signed_in, public_app, max_age
):
    request = AuthorizationRequest(client_id=public_app.client_id, scope="openid", extra={"max_age": max_age})

    params = redirect_params(signed_in.consent_page(request))

    assert params["error"] == "invalid_request"
    assert params["state"] == request.state


def test_prompt_login_with_an_invalid_client_signs_nobody_out(signed_in, client):
    request = AuthorizationRequest(client_id="no-such-client", scope="openid", extra={"prompt": "login"})

    response = client.get(AUTHORIZE_URL, request.params())

    assert response.status_code == 400
    assert is_signed_in(client)


def test_prompt_login_with_an_unregistered_redirect_uri_signs_nobody_out(signed_in, public_app, client):
    request = AuthorizationRequest(
        client_id=public_app.client_id, redirect_uri="https://evil.example/cb", extra={"prompt": "login"}
    )

    assert client.get(AUTHORIZE_URL, request.params()).status_code == 400
    assert is_signed_in(client)


def test_prompt_none_with_an_exceeded_max_age_is_login_required_and_signs_nobody_out(signed_in, public_app, client):
    signed_in.tokens_for(public_app, scope="openid")  # consent remembered
    sign_in_age(client, 120)
    request = AuthorizationRequest(
        client_id=public_app.client_id, scope="openid", extra={"prompt": "none", "max_age": "60"}
    )

    params = redirect_params(client.get(AUTHORIZE_URL, request.params()))

    assert params["error"] == "login_required"
    assert params["state"] == request.state
    assert is_signed_in(client)


# --- consent ---------------------------------------------------------------------------------


@pytest.mark.parametrize("approval_prompt", ["auto", "force"])
def test_prompt_consent_always_shows_the_page_whatever_approval_prompt_says(signed_in, public_app, approval_prompt):
    signed_in.tokens_for(public_app, scope="openid")
    request = AuthorizationRequest(
        client_id=public_app.client_id,
        scope="openid",
        extra={"prompt": "consent", "approval_prompt": approval_prompt},
    )

    page = signed_in.consent_page(request)

    assert page.status_code == 200
    assert "Allow" in page.content.decode()


def test_approval_prompt_auto_never_skips_a_first_consent(signed_in, public_app):
    signed_in.tokens_for(public_app, scope="read:profile")  # a live token for other scopes
    Consent.objects.all().delete()
    request = AuthorizationRequest(client_id=public_app.client_id, extra={"approval_prompt": "auto"})

    assert signed_in.consent_page(request).status_code == 200


# --- redirects ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tampered",
    ["https://evil.example/cb", "javascript:alert(1)", "com.evil.app:/cb", "http://127.0.0.1:9/cb"],
)
@pytest.mark.parametrize("allow", [False, True], ids=["deny", "allow"])
def test_a_consent_post_with_a_tampered_redirect_uri_shows_the_error_page(signed_in, public_app, tampered, allow):
    request = AuthorizationRequest(client_id=public_app.client_id)
    page = signed_in.consent_page(request)
    data = consent_form_data(page) | {"redirect_uri": tampered} | ({"allow": "Allow"} if allow else {})

    response = signed_in.client.post(AUTHORIZE_URL, data)

    assert response.status_code == 400
    assert "Location" not in response
    assert not Consent.objects.exists()


def test_a_loopback_redirect_uri_with_user_info_is_refused_at_request_time(signed_in, make_application):
    application, _ = make_application(redirect_uris=("http://127.0.0.1/cb",))
    request = AuthorizationRequest(client_id=application.client_id, redirect_uri="http://x@127.0.0.1:5555/cb")

    response = signed_in.consent_page(request)

    assert response.status_code == 400
    assert "Location" not in response


def test_a_loopback_redirect_uri_may_use_any_port(signed_in, make_application):
    application, _ = make_application(redirect_uris=("http://127.0.0.1/cb",))
    request = AuthorizationRequest(client_id=application.client_id, redirect_uri="http://127.0.0.1:5555/cb")

    assert signed_in.consent_page(request).status_code == 200


def test_an_openid_request_without_redirect_uri_is_refused_with_an_error_page(signed_in, public_app):
    params = AuthorizationRequest(client_id=public_app.client_id, scope="openid").params()
    del params["redirect_uri"]

    response = signed_in.client.get(AUTHORIZE_URL, params)

    assert response.status_code == 400
    assert "Location" not in response
    assert "redirect_uri" in response.content.decode()


def test_a_plain_oauth_request_without_redirect_uri_uses_the_registered_one(signed_in, public_app):
    params = AuthorizationRequest(client_id=public_app.client_id, scope="read:profile").params()
    del params["redirect_uri"]

    assert signed_in.client.get(AUTHORIZE_URL, params).status_code == 200


# --- request objects (OIDC Core §6) --------------------------------------------------------------


@pytest.mark.parametrize(
    ("parameter", "error"),
    [("request", "request_not_supported"), ("request_uri", "request_uri_not_supported")],
)
def test_a_request_object_is_refused_not_ignored(signed_in, public_app, parameter, error, settings):
    request = AuthorizationRequest(
        client_id=public_app.client_id, scope="openid", extra={parameter: "eyJhbGciOiJub25lIn0.e30."}
    )

    params = redirect_params(signed_in.consent_page(request))

    assert params["error"] == error
    assert params["state"] == request.state
    assert params["iss"] == settings.OAUTH_ISSUER


# --- POST (OIDC Core §3.1.2.1) -----------------------------------------------------------------


def test_an_authorization_request_by_post_shows_the_consent_page_to_a_signed_in_user(signed_in, public_app):
    request = AuthorizationRequest(client_id=public_app.client_id, scope="openid")
    browser = signed_in.client
    browser.handler.enforce_csrf_checks = True  # as a browser arriving from the client's site

    page = browser.post(AUTHORIZE_URL, request.params())

    assert page.status_code == 200
    assert "Allow" in page.content.decode()


def test_an_authorization_request_by_post_signs_in_first_and_resumes(client, public_app, user):
    request = AuthorizationRequest(client_id=public_app.client_id, scope="openid")

    consent = follow_sign_in(client, client.post(AUTHORIZE_URL, request.params()), user.username)

    assert consent.status_code == 200


def test_a_remembered_consent_answers_a_post_request_with_a_code(signed_in, public_app):
    signed_in.tokens_for(public_app, scope="openid")
    request = AuthorizationRequest(client_id=public_app.client_id, scope="openid")

    params = redirect_params(signed_in.client.post(AUTHORIZE_URL, request.params()))

    assert params["state"] == request.state and params["code"]


def test_a_consent_decision_still_needs_its_csrf_token(oauth, public_app, user):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    request = AuthorizationRequest(client_id=public_app.client_id)
    page = browser.get(AUTHORIZE_URL, request.params(), secure=True)
    forged = consent_form_data(page) | {"allow": "Allow", "csrfmiddlewaretoken": "x" * 64}

    response = browser.post(AUTHORIZE_URL, forged, secure=True)

    assert response.status_code == 403
    assert not Consent.objects.exists()


def test_a_cross_site_post_with_allow_gets_the_consent_page_not_a_code(signed_in, public_app):
    browser = signed_in.client
    browser.handler.enforce_csrf_checks = True
    params = AuthorizationRequest(client_id=public_app.client_id).params() | {"allow": "Allow"}

    page = browser.post(AUTHORIZE_URL, params)

    assert page.status_code == 200
    assert not Consent.objects.exists()


# --- id_token_hint (OIDC Core §3.1.2.2) ------------------------------------------------------------


def id_token_for(oauth, application) -> str:
    return oauth.tokens_for(application, scope="openid")["id_token"]


def test_prompt_none_with_another_users_id_token_hint_is_login_required(oauth, public_app, make_user):
    other = make_user("bob")
    hint = id_token_for(oauth.__class__(HttpsClient(), other), public_app)
    oauth.tokens_for(public_app, scope="openid")  # alice, signed in, consent remembered
    request = AuthorizationRequest(
        client_id=public_app.client_id, scope="openid", extra={"prompt": "none", "id_token_hint": hint}
    )

    params = redirect_params(oauth.consent_page(request))

    assert params["error"] == "login_required"
    assert "code" not in params


def test_prompt_none_with_the_signed_in_users_id_token_hint_issues_a_code(oauth, public_app):
    hint = id_token_for(oauth, public_app)
    request = AuthorizationRequest(
        client_id=public_app.client_id, scope="openid", extra={"prompt": "none", "id_token_hint": hint}
    )

    assert redirect_params(oauth.consent_page(request))["code"]


def test_a_forged_id_token_hint_is_login_required(oauth, public_app, user):
    oauth.tokens_for(public_app, scope="openid")
    forged = jwt.encode({"sub": str(user.pk), "iss": "https://auth.wetrials.test", "aud": "x"}, "k" * 32, "HS256")
    request = AuthorizationRequest(
        client_id=public_app.client_id, scope="openid", extra={"prompt": "none", "id_token_hint": forged}
    )

    assert redirect_params(oauth.consent_page(request))["error"] == "login_required"
    assert key_ring.active()  # the ring still signs: the forgery changed nothing


# --- limits and lengths ---------------------------------------------------------------------------


def test_head_requests_to_authorize_count_against_its_limit(client, public_app):
    request = AuthorizationRequest(client_id=public_app.client_id)

    statuses = [client.head(AUTHORIZE_URL, request.params()).status_code for _ in range(21)]

    assert statuses[-1] == 429


@pytest.mark.parametrize(
    ("name", "value"),
    [("nonce", "n" * 256), ("nonce", "n\x00nce"), ("state", "s\x00"), ("claims", "{}\x00"), ("login_hint", "x" * 5000)],
    ids=["nonce over 255", "nonce with NUL", "state with NUL", "claims with NUL", "login_hint over 4096"],
)
def test_parameters_the_database_would_refuse_are_an_invalid_request_redirect(signed_in, public_app, name, value):
    request = AuthorizationRequest(client_id=public_app.client_id, scope="openid", extra={name: value})

    params = redirect_params(signed_in.consent_page(request))

    assert params["error"] == "invalid_request"


@pytest.mark.parametrize(
    ("name", "value"),
    [("nonce", "n" * 256), ("code_challenge", "c" * 129), ("nonce", "a\x00b"), ("claims", "\x00")],
    ids=["nonce over 255", "code_challenge over 128", "nonce with NUL", "claims with NUL"],
)
def test_a_consent_post_with_a_value_the_database_would_refuse_issues_no_code(signed_in, public_app, name, value):
    request = AuthorizationRequest(client_id=public_app.client_id, scope="openid")
    data = consent_form_data(signed_in.consent_page(request)) | {name: value, "allow": "Allow"}

    response = signed_in.client.post(AUTHORIZE_URL, data)

    assert response.status_code in (302, 400)
    if response.status_code == 302:
        params = redirect_params(response)
        assert params["error"] == "invalid_request"
        assert response["Location"].startswith(request.redirect_uri)
    assert not Consent.objects.exists()


def test_a_registered_query_naming_a_response_parameter_still_gets_its_code(signed_in, make_application):
    redirect_uri = "https://app.example.com/cb?error=none"
    application, _ = make_application(redirect_uris=(redirect_uri,))
    request = AuthorizationRequest(client_id=application.client_id, scope="openid", redirect_uri=redirect_uri)

    response = signed_in.client.post(AUTHORIZE_URL, consent_form_data(signed_in.consent_page(request)) | {"allow": "1"})

    assert response.status_code == 302
    assert response["Location"].startswith(redirect_uri + "&")
    assert redirect_params(response)["code"]


def test_a_redirect_refused_at_the_last_moment_leaves_no_code_consent_or_token_family(
    signed_in, public_app, monkeypatch
):
    request = AuthorizationRequest(client_id=public_app.client_id, scope="openid")
    page = signed_in.consent_page(request)
    monkeypatch.setattr(Application, "redirect_target_allowed", lambda self, target: False)

    response = signed_in.client.post(AUTHORIZE_URL, consent_form_data(page) | {"allow": "Allow"})

    assert response.status_code == 400
    assert not get_grant_model().objects.exists()
    assert not Consent.objects.exists()
    assert not TokenFamily.objects.exists()


def test_a_session_without_a_recorded_sign_in_time_signs_in_again_rather_than_trust_last_login(
    signed_in, public_app, client, user
):
    # A session from before auth_time was recorded in it, signed in long ago, while the same
    # person signed in just now on another device (last_login moves on).
    session = client.session
    del session[AUTH_TIME_SESSION_KEY]
    session.save()
    type(user).objects.filter(pk=user.pk).update(last_login=timezone.now())
    request = AuthorizationRequest(client_id=public_app.client_id, scope="openid", extra={"max_age": "60"})

    response = client.get(AUTHORIZE_URL, request.params())

    assert response.status_code == 302
    assert response["Location"].startswith(SIGN_IN_URL)
