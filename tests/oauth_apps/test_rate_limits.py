"""Rate limits at their exact boundaries (contract, "Rate limits")."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import pytest
import redis
from django.core.cache import caches
from django.urls import reverse

from tests.oauth import (
    AUTHORIZE_URL,
    FORM,
    TOKEN_URL,
    USERINFO_URL,
    AuthorizationRequest,
    HttpsClient,
    OAuthTestClient,
    basic_auth,
)

GRANT = {"grant_type": "client_credentials", "scope": "read:participants"}
STRANGER = "203.0.113.9"


class Clock:
    """django-ratelimit's view of the time, standing still unless the test moves it, so no
    window ends in the middle of a test."""

    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr("django_ratelimit.core.time", fake)
    return fake


def client_credentials(oauth, application, secret: str, **extra):
    headers = basic_auth(application.client_id, secret)
    return oauth.client.post(TOKEN_URL, urlencode(GRANT), content_type=FORM, headers=headers, **extra)


def test_the_60th_token_request_succeeds_and_the_61st_is_429(oauth, service_account):
    application, secret = service_account

    statuses = [client_credentials(oauth, application, secret).status_code for _ in range(60)]
    refused = client_credentials(oauth, application, secret)

    assert statuses == [200] * 60
    assert refused.status_code == 429
    assert refused.json()["error"] == "rate_limited"
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused["Cache-Control"] == "no-store"


def test_another_client_is_unaffected(oauth, service_account, make_application):
    application, secret = service_account
    other, other_secret = make_application(
        name="Other Export",
        client_type="confidential",
        grant_type="client-credentials",
        redirect_uris=(),
        scopes=("read:participants",),
    )
    for _ in range(61):
        client_credentials(oauth, application, secret)

    assert client_credentials(oauth, other, other_secret).status_code == 200


def test_the_window_resets(oauth, service_account, clock):
    application, secret = service_account
    for _ in range(61):
        client_credentials(oauth, application, secret)

    clock.now += 61

    assert client_credentials(oauth, application, secret).status_code == 200


def test_a_stranger_with_the_victims_client_id_cannot_spend_its_budget(oauth, service_account):
    application, secret = service_account

    stranger = [client_credentials(oauth, application, "guessed", REMOTE_ADDR=STRANGER).status_code for _ in range(100)]
    victim = [client_credentials(oauth, application, secret).status_code for _ in range(60)]

    assert set(stranger) == {401, 429}
    assert stranger[:20] == [401] * 20  # OAUTH_RATE_CLIENT_AUTH_FAILURES, then refused outright
    assert victim == [200] * 60


def test_an_address_over_the_failure_limit_is_refused_even_with_the_right_secret(oauth, service_account):
    application, secret = service_account

    failures = [client_credentials(oauth, application, "guessed", REMOTE_ADDR=STRANGER).status_code for _ in range(20)]
    refused = client_credentials(oauth, application, secret, REMOTE_ADDR=STRANGER)

    assert failures == [401] * 20
    assert refused.status_code == 429
    assert refused.json()["error"] == "rate_limited"
    assert client_credentials(oauth, application, secret).status_code == 200


def test_a_public_client_counts_per_client_id(oauth, public_app, settings):
    settings.OAUTH_RATE_TOKEN = "3/m"
    refresh = {"grant_type": "refresh_token", "refresh_token": "unknown", "client_id": public_app.client_id}

    statuses = [oauth.token(refresh).status_code for _ in range(4)]

    assert statuses == [400, 400, 400, 429]


def test_userinfo_counts_per_user_across_tokens(oauth, public_app, make_user, settings):
    settings.OAUTH_RATE_USERINFO = "3/m"
    first = oauth.minted_tokens_for(public_app)["access_token"]
    second = oauth.minted_tokens_for(public_app)["access_token"]
    bob_token = OAuthTestClient(HttpsClient(), make_user("bob")).minted_tokens_for(public_app)["access_token"]

    statuses = [oauth.bearer_get(USERINFO_URL, token).status_code for token in (first, second, first, second)]
    refused = oauth.bearer_get(USERINFO_URL, first)

    assert statuses == [200, 200, 200, 429]
    assert refused.json()["error"] == "rate_limited"
    assert int(refused["Retry-After"]) >= 1
    assert oauth.bearer_get(USERINFO_URL, bob_token).status_code == 200


def test_authorize_counts_per_signed_in_user(oauth, public_app):
    oauth.sign_in()
    request = AuthorizationRequest(client_id=public_app.client_id)

    statuses = [oauth.consent_page(request).status_code for _ in range(20)]
    refused = oauth.consent_page(request)

    assert statuses == [200] * 20
    assert refused.status_code == 429
    assert "Please wait a moment" in refused.content.decode()
    assert int(refused["Retry-After"]) >= 1
    assert HttpsClient().get(AUTHORIZE_URL, request.params()).status_code == 302  # signed out: per address


def test_authorize_counts_per_address_before_sign_in(client, public_app):
    request = AuthorizationRequest(client_id=public_app.client_id)

    statuses = [client.get(AUTHORIZE_URL, request.params()).status_code for _ in range(21)]

    assert statuses == [302] * 20 + [429]
    assert client.get(AUTHORIZE_URL, request.params(), REMOTE_ADDR=STRANGER).status_code == 302


def test_sign_in_attempts_are_limited_per_address_and_per_username(client, user):
    login = reverse("accounts:login")

    statuses = [client.post(login, {"username": "alice", "password": "wrong"}).status_code for _ in range(11)]
    other_address = client.post(login, {"username": "alice", "password": "wrong"}, REMOTE_ADDR=STRANGER)

    assert statuses == [200] * 10 + [429]
    assert other_address.status_code == 429  # the username's own limit
    assert client.post(login, {"username": "bob", "password": "wrong"}, REMOTE_ADDR="198.51.100.7").status_code == 200


@pytest.mark.parametrize(
    ("setting", "endpoint"), [("OAUTH_RATE_REVOKE", "revoke"), ("OAUTH_RATE_INTROSPECT", "introspect")]
)
def test_revoke_and_introspect_answer_json_429(oauth, service_account, settings, setting, endpoint):
    setattr(settings, setting, "2/m")
    application, secret = service_account
    send = oauth.revoke if endpoint == "revoke" else oauth.introspect

    statuses = [send("some-token", application.client_id, secret=secret).status_code for _ in range(2)]
    refused = send("some-token", application.client_id, secret=secret)

    assert statuses == [200, 200]
    assert refused.status_code == 429
    assert refused.json()["error"] == "rate_limited"
    assert int(refused["Retry-After"]) >= 1


def test_a_token_request_reads_and_counts_its_limits_in_one_redis_round_trip(
    oauth, service_account, settings, monkeypatch
):
    settings.CACHES = {"default": {"BACKEND": "core.cache.RedisCache", "LOCATION": "redis://127.0.0.1:6379/13"}}
    caches["default"].clear()
    application, secret = service_account
    assert client_credentials(oauth, application, secret).status_code == 200  # loads the Lua script
    commands = []
    send = redis.Redis.execute_command
    monkeypatch.setattr(
        redis.Redis,
        "execute_command",
        lambda self, *args, **options: commands.append(args[0]) or send(self, *args, **options),
    )

    response = client_credentials(oauth, application, secret)

    assert response.status_code == 200
    assert commands == ["EVALSHA"]  # the address's failures looked at, the client's request counted
