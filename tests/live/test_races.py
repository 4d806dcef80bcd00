"""Concurrent replays against a real server (gunicorn, 2 workers, the suite's database):
20 simultaneous requests per round, 50 rounds each."""

from __future__ import annotations

import secrets
import threading
from collections import Counter
from collections.abc import Callable
from functools import partial

import pytest
import requests

from tests.live.flows import authorization_code, code_exchange, signed_in_browser, tls_session
from tests.oauth import s256

pytestmark = pytest.mark.live

REDIRECT_URI = "https://races.example.test/callback"
CONCURRENCY = 20
ROUNDS = 50


def together(*calls: Callable[[], object]) -> list:
    """Run the calls at the same moment, each in its own thread; return their results."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(index: int, call: Callable[[], object]) -> None:
        barrier.wait()
        results[index] = call()

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def all_at_once(server, data: dict[str, str]) -> list[requests.Response]:
    """CONCURRENCY identical token requests, each on its own connection, released together."""
    return together(
        *[
            partial(tls_session(server).post, f"{server.url}/v1/oauth/token", data=data, timeout=60)
            for _ in range(CONCURRENCY)
        ]
    )


@pytest.fixture(scope="module")
def race_client(race_server) -> dict[str, str]:
    return race_server.register_client(
        "--name", "Race Client", "--type", "public", "--redirect-uri", REDIRECT_URI, "--scope", "read:profile"
    )


@pytest.fixture(scope="module")
def browser(race_server) -> requests.Session:
    return signed_in_browser(race_server)


def new_code(server, browser, client: dict[str, str]) -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    query = {
        "response_type": "code",
        "client_id": client["client_id"],
        "redirect_uri": REDIRECT_URI,
        "scope": "read:profile",
        "state": secrets.token_urlsafe(8),
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
    }
    return authorization_code(browser, server, query), verifier


def new_tokens(server, browser, client: dict[str, str]) -> dict:
    code, verifier = new_code(server, browser, client)
    exchange = code_exchange(code, verifier, REDIRECT_URI, client["client_id"])
    return tls_session(server).post(f"{server.url}/v1/oauth/token", data=exchange, timeout=10).json()


def outcome(response: requests.Response) -> str:
    return "200" if response.status_code == 200 else f"{response.status_code} {response.json().get('error')}"


def test_a_code_redeemed_by_20_requests_at_once_issues_one_family_then_revokes_it(race_server, browser, race_client):
    tally: Counter[str] = Counter()
    for _ in range(ROUNDS):
        code, verifier = new_code(race_server, browser, race_client)
        exchange = code_exchange(code, verifier, REDIRECT_URI, race_client["client_id"])

        responses = all_at_once(race_server, exchange)

        outcomes = Counter(outcome(response) for response in responses)
        tally.update(outcomes)
        assert outcomes == {"200": 1, "400 invalid_grant": CONCURRENCY - 1}, outcomes
        winner = next(response.json() for response in responses if response.status_code == 200)
        # The losers came after the winner's commit: the code was replayed, so its tokens go.
        refresh = {
            "grant_type": "refresh_token",
            "refresh_token": winner["refresh_token"],
            "client_id": race_client["client_id"],
        }
        assert (
            outcome(tls_session(race_server).post(f"{race_server.url}/v1/oauth/token", data=refresh, timeout=10))
            == "400 invalid_grant"
        )
    print(f"code races: {ROUNDS} rounds x {CONCURRENCY}: {dict(tally)}")


def test_a_refresh_token_presented_by_20_requests_at_once_rotates_once_then_the_family_dies(
    race_server, browser, race_client
):
    tally: Counter[str] = Counter()
    client_id = race_client["client_id"]
    for _ in range(ROUNDS):
        tokens = new_tokens(race_server, browser, race_client)
        refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": client_id}

        responses = all_at_once(race_server, refresh)

        outcomes = Counter(outcome(response) for response in responses)
        tally.update(outcomes)
        assert outcomes == {"200": 1, "400 invalid_grant": CONCURRENCY - 1}, outcomes
        winner = next(response.json() for response in responses if response.status_code == 200)
        # The others presented the rotated token: a replay, so the whole family is revoked.
        newest = {"grant_type": "refresh_token", "refresh_token": winner["refresh_token"], "client_id": client_id}
        assert (
            outcome(tls_session(race_server).post(f"{race_server.url}/v1/oauth/token", data=newest, timeout=10))
            == "400 invalid_grant"
        )
    print(f"refresh races: {ROUNDS} rounds x {CONCURRENCY}: {dict(tally)}")


def test_revoking_a_connected_app_while_it_refreshes_leaves_no_live_token(race_server, browser, race_client):
    client_id = race_client["client_id"]
    service = race_server.register_service_account("Race Introspector")
    results: Counter[str] = Counter()
    for _ in range(ROUNDS):
        tokens = new_tokens(race_server, browser, race_client)
        revoke_url = f"{race_server.url}/accounts/apps/{client_id}/revoke/"
        csrf = browser.cookies.get("csrftoken")
        refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": client_id}
        refreshed, _ = together(
            partial(tls_session(race_server).post, f"{race_server.url}/v1/oauth/token", data=refresh, timeout=30),
            partial(
                browser.post,
                revoke_url,
                data={"csrfmiddlewaretoken": csrf},
                headers={"Referer": revoke_url},
                timeout=30,
            ),
        )

        results[outcome(refreshed)] += 1
        live = [tokens["access_token"], tokens["refresh_token"]]
        if refreshed.status_code == 200:
            live += [refreshed.json()["access_token"], refreshed.json()["refresh_token"]]
        for token in live:
            answer = (
                tls_session(race_server)
                .post(
                    f"{race_server.url}/v1/oauth/introspect",
                    data={"token": token},
                    auth=(service["client_id"], service["client_secret"]),
                    timeout=10,
                )
                .json()
            )
            assert answer == {"active": False}, answer
    print(f"revoke vs refresh: {ROUNDS} rounds, refresh outcomes {dict(results)}")
