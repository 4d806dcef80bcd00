"""Database outage drill: stop PostgreSQL under load, keep sending, start it again.

Starts gunicorn (2 workers, DJANGO_DEBUG=0) against a fresh PostgreSQL database and Redis,
seeds it with bench/seed.py, and sends a steady mix of OAuth requests from 4 threads. After
3 s it stops PostgreSQL for 6 s, then starts it and keeps going for 6 s. It checks that
during the outage every OAuth endpoint answers 503 with a JSON error (or still serves what
it holds in memory: the JWKS, discovery), `/readyz` says not ready and `/healthz` stays up;
that requests succeed again after the restart without restarting the server; and that the
database holds nothing half-written. Prints the timeline; exits 1 on any failure.

Run by .ci/run as `python -m scripts.db_outage`. Needs root (pg_ctlcluster) and restarts PostgreSQL whatever happens.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import psycopg
import redis
import requests

from scripts import local_server

PG_VERSION = sorted(os.listdir("/etc/postgresql"))[-1]
DATABASE = "wetrials_outage"
PORT = 9071
URL = f"http://127.0.0.1:{PORT}"
REDIS_URL = "redis://127.0.0.1:6379/5"


def postgresql(action: str) -> None:
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", PG_VERSION, "main", action]
    subprocess.run([*command, "-m", "fast"] if action == "stop" else command, check=True)
    if action == "start":
        for _ in range(60):
            if subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"], check=False).returncode == 0:
                return
            time.sleep(0.5)
        raise RuntimeError("PostgreSQL did not come back")


class Load:
    """Threads sending a mix of OAuth requests, recording (time, endpoint, status, error)."""

    def __init__(self, fixtures: dict, codes: list[str], refresh_tokens: list[str]) -> None:
        self.fixtures = fixtures
        self.codes = codes
        self.refresh_tokens = refresh_tokens
        self.lock = threading.Lock()
        self.results: list[tuple[float, str, int, str]] = []
        self.code_outcomes: dict[str, int] = {}
        self.stop = threading.Event()
        self.started = time.monotonic()

    def requests(self, session: requests.Session) -> list[tuple[str, object]]:
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        service = {"Authorization": self.fixtures["service_authorization"], **form}
        web = {"Authorization": self.fixtures["web_authorization"], **form}
        bearer = {"Authorization": f"Bearer {self.fixtures['access_token']}"}
        return [
            (
                "token (client credentials)",
                lambda: session.post(
                    f"{URL}/v1/oauth/token",
                    data="grant_type=client_credentials&scope=read:participants",
                    headers=service,
                    timeout=10,
                ),
            ),
            ("token (code)", lambda: self.exchange(session, web)),
            ("token (refresh)", lambda: self.refresh(session, web)),
            (
                "introspect",
                lambda: session.post(
                    f"{URL}/v1/oauth/introspect",
                    data=f"token={self.fixtures['access_token']}",
                    headers=service,
                    timeout=10,
                ),
            ),
            ("userinfo", lambda: session.get(f"{URL}/v1/oauth/userinfo", headers=bearer, timeout=10)),
            ("jwks", lambda: session.get(f"{URL}/v1/oauth/jwks", timeout=10)),
            ("discovery", lambda: session.get(f"{URL}/.well-known/openid-configuration", timeout=10)),
            ("readyz", lambda: session.get(f"{URL}/readyz", timeout=10)),
            ("healthz", lambda: session.get(f"{URL}/healthz", timeout=10)),
        ]

    def exchange(self, session: requests.Session, headers: dict) -> requests.Response:
        with self.lock:
            code = self.codes.pop()
        response = session.post(
            f"{URL}/v1/oauth/token",
            data=self.fixtures["code_exchange_body"].replace("VALUE", code),
            headers=headers,
            timeout=10,
        )
        with self.lock:
            self.code_outcomes[code] = response.status_code
        return response

    def refresh(self, session: requests.Session, headers: dict) -> requests.Response:
        with self.lock:
            token = self.refresh_tokens.pop() if self.refresh_tokens else None
        if token is None:
            return session.get(f"{URL}/healthz", timeout=10)
        response = session.post(
            f"{URL}/v1/oauth/token",
            data=self.fixtures["refresh_body"].replace("VALUE", token),
            headers=headers,
            timeout=10,
        )
        with self.lock:
            # An unanswered rotation may or may not have happened: keep the chain only on 200 or 503.
            if response.status_code == 200:
                self.refresh_tokens.insert(0, response.json()["refresh_token"])
            elif response.status_code == 503:
                self.refresh_tokens.insert(0, token)
        return response

    def run(self) -> None:
        session = requests.Session()
        for index in range(10**9):
            if self.stop.is_set():
                return
            name, send = self.requests(session)[index % 9]
            try:
                response = send()
                error = ""
                if response.status_code >= 400:
                    is_json = response.headers.get("Content-Type", "").startswith("application/json")
                    error = (
                        response.json().get("error", "?")
                        if is_json
                        else f"not JSON: {response.headers.get('Content-Type')}"
                    )
                record = (time.monotonic() - self.started, name, response.status_code, error)
            except requests.RequestException as exc:
                record = (time.monotonic() - self.started, name, 0, type(exc).__name__)
            with self.lock:
                self.results.append(record)


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="wetrials-outage-"))
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{DATABASE}"')
    redis.Redis.from_url(REDIS_URL).flushdb()
    env = local_server.environment(
        port=PORT, database_url=f"postgres://postgres@127.0.0.1:5432/{DATABASE}", work=work, redis_url=REDIS_URL
    )
    fixtures = local_server.migrate_and_seed(env, codes=3000, chains=16)
    codes = (work / "codes-0.txt").read_text().split()
    chains = (work / "refresh_tokens-0.txt").read_text().split()
    server = local_server.start_gunicorn(env, PORT)
    load = Load(fixtures, codes, chains)
    threads = [threading.Thread(target=load.run) for _ in range(4)]
    timeline: dict[str, float] = {}
    try:
        load.started = time.monotonic()
        for thread in threads:
            thread.start()
        time.sleep(3)
        timeline["PostgreSQL stopped"] = time.monotonic() - load.started
        postgresql("stop")
        time.sleep(6)
        timeline["PostgreSQL starting"] = time.monotonic() - load.started
        postgresql("start")
        timeline["PostgreSQL ready"] = time.monotonic() - load.started
        time.sleep(6)
    finally:
        load.stop.set()
        for thread in threads:
            thread.join(timeout=30)
        local_server.stop(server)
        if subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"], check=False).returncode != 0:
            postgresql("start")
    return report(load, timeline, env)


def report(load: Load, timeline: dict[str, float], env: dict[str, str]) -> int:
    stopped, ready = timeline["PostgreSQL stopped"], timeline["PostgreSQL ready"]
    outage = [r for r in load.results if stopped + 0.5 < r[0] < timeline["PostgreSQL starting"]]
    after = [r for r in load.results if r[0] > ready]
    problems = []
    for moment, name, status, error in load.results:
        if (status >= 500 and status != 503) or status == 0:
            problems.append(f"{moment:.2f}s {name}: {status} {error}")
        if status == 503 and name not in {"readyz"} and error != "temporarily_unavailable":
            problems.append(f"{moment:.2f}s {name}: 503 without the JSON error ({error})")
    if any(name == "healthz" and status != 200 for _, name, status, _ in load.results):
        problems.append("/healthz failed during the outage")
    if not any(name == "readyz" and status == 503 for _, name, status, _ in outage):
        problems.append("/readyz never reported not ready during the outage")
    first_503 = next((r[0] for r in load.results if r[2] == 503 and r[1].startswith("token")), None)
    first_success = next((r[0] for r in after if r[2] == 200 and r[1].startswith("token")), None)
    if first_503 is None:
        problems.append("no token request answered 503 during the outage")
    if first_success is None:
        problems.append("no token request succeeded after PostgreSQL came back")
    problems += half_written(load, env)

    print("timeline (seconds from the start of the load):")
    for label, moment in timeline.items():
        print(f"  {moment:6.2f}  {label}")
    print(f"  {first_503 or float('nan'):6.2f}  first 503 at the token endpoint")
    print(f"  {first_success or float('nan'):6.2f}  first token issued after the restart")
    print("responses during the outage:", dict(Counter((name, status, error) for _, name, status, error in outage)))
    print("responses after the restart:", dict(Counter((name, status) for _, name, status, _ in after)))
    print(f"{len(load.results)} requests in all")
    for problem in problems[:20]:
        print("PROBLEM:", problem)
    return 1 if problems else 0


def half_written(load: Load, env: dict[str, str]) -> list[str]:
    """Every live refresh token has its access token; every code has its tokens, or none."""
    os.environ.update(env)
    import django

    django.setup()
    from oauth2_provider.models import get_grant_model, get_refresh_token_model

    from oauth_apps.oauth2.tokens import authorization_code_family

    problems = []
    orphans = get_refresh_token_model().objects.filter(revoked__isnull=True, access_token__isnull=True).count()
    if orphans:
        problems.append(f"{orphans} live refresh token(s) without an access token")
    redeemed = set(get_refresh_token_model().objects.values_list("token_family", flat=True))
    grants = set(get_grant_model().objects.filter(code__in=load.code_outcomes).values_list("code", flat=True))
    for code, status in load.code_outcomes.items():
        has_tokens = authorization_code_family(code) in redeemed
        if has_tokens == (code in grants):
            kept = "kept" if code in grants else "gone"
            problems.append(f"code answered {status}: grant {kept}, tokens {'issued' if has_tokens else 'missing'}")
        if status == 200 and not has_tokens:
            problems.append("a code answered 200 but its tokens are missing")
    print(f"consistency: {len(load.code_outcomes)} codes sent, {orphans} orphaned refresh tokens")
    return problems


if __name__ == "__main__":
    sys.exit(main())
