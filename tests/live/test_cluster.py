"""Two server instances sharing PostgreSQL (or SQLite) and Redis enforce one limit and one truth."""

from __future__ import annotations

import time
import zlib

import pytest
import requests

pytestmark = pytest.mark.live


def session_for(server) -> requests.Session:
    session = requests.Session()
    session.verify, session.trust_env = str(server.ca_bundle), False
    return session


def wait_for_a_fresh_window(key: str, *, needed_seconds: int = 30) -> None:
    """Windows are fixed minutes, offset per key (django-ratelimit's crc32 jitter): start the
    run early in one, so the counter can't reset half-way through."""
    now = int(time.time())
    # django_ratelimit.core._get_window: the window "ending" at w still includes second w.
    window_end = now - now % 60 + zlib.crc32(key.encode()) % 60
    if window_end < now:
        window_end += 60
    if window_end - now < needed_seconds:
        time.sleep(window_end + 1 - time.time() + 0.2)


def test_the_token_limit_holds_across_instances(cluster):
    first, second = cluster
    service = first.register_service_account("Cluster Export")
    sessions = [session_for(first), session_for(second)]
    grant = {"grant_type": "client_credentials", "scope": "read:participants"}
    credentials = (service["client_id"], service["client_secret"])
    urls = [f"{first.url}/v1/oauth/token", f"{second.url}/v1/oauth/token"]
    wait_for_a_fresh_window(service["client_id"])

    statuses = [
        sessions[n % 2].post(urls[n % 2], data=grant, auth=credentials, timeout=5).status_code for n in range(60)
    ]
    over = [
        session.post(url, data=grant, auth=credentials, timeout=5) for session, url in zip(sessions, urls, strict=True)
    ]

    assert statuses == [200] * 60
    for response in over:
        assert response.status_code == 429
        assert response.json()["error"] == "rate_limited"
        assert int(response.headers["Retry-After"]) >= 1


def test_a_revocation_on_one_instance_is_refused_by_the_other_at_once(cluster):
    first, second = cluster
    service = first.register_service_account("Cluster Reader")
    credentials = (service["client_id"], service["client_secret"])
    token = (
        session_for(first)
        .post(
            f"{first.url}/v1/oauth/token",
            data={"grant_type": "client_credentials", "scope": "read:participants"},
            auth=credentials,
            timeout=5,
        )
        .json()["access_token"]
    )
    assert (
        session_for(second)
        .post(f"{second.url}/v1/oauth/introspect", data={"token": token}, auth=credentials, timeout=5)
        .json()["active"]
        is True
    )

    assert (
        session_for(first)
        .post(f"{first.url}/v1/oauth/revoke", data={"token": token}, auth=credentials, timeout=5)
        .status_code
        == 200
    )

    assert session_for(second).post(
        f"{second.url}/v1/oauth/introspect", data={"token": token}, auth=credentials, timeout=5
    ).json() == {"active": False}
