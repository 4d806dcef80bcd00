"""Schema-driven fuzzing: schemathesis against docs/openapi.json (served at /v1/openapi.json).

Starts gunicorn (2 workers, DJANGO_DEBUG=0) on a fresh SQLite database with rate limits out
of the way, then runs schemathesis twice, anonymously and with a live access token, until at
least 10,000 requests have hit the OAuth endpoints and the account pages. Fails on any
response >= 500, on an error body that isn't RFC 6749/6750 JSON where the description says
it is, or if a rejected request persisted anything (tokens, codes, consents, clients,
users). Prints the requests by endpoint and status. Run by .ci/run.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import requests

PROJECT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PORT = 9081
URL = f"http://127.0.0.1:{PORT}"
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
MINIMUM_REQUESTS = 10_000


def persisted_counts(env: dict[str, str]) -> dict[str, int]:
    code = (
        "import json; from django.apps import apps; "
        "names = ['oauth2_provider.AccessToken', 'oauth2_provider.RefreshToken', 'oauth2_provider.Grant', "
        "'oauth_apps.Consent', 'oauth_apps.Application', 'accounts.User']; "
        "print(json.dumps({n: apps.get_model(n).objects.count() for n in names}))"
    )
    output = subprocess.run(
        [str(BIN / "python"), "manage.py", "shell", "-c", code],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def fuzz(report: Path, max_examples: int, *headers: str) -> None:
    command = [
        str(BIN / "schemathesis"),
        "run",
        f"{URL}/v1/openapi.json",
        "--checks",
        CHECKS,
        "--max-examples",
        str(max_examples),
        "--workers",
        "4",
        "--report",
        "har",
        "--report-har-path",
        str(report),
        "--seed",
        "20261128",
        *[arg for header in headers for arg in ("-H", header)],
    ]
    result = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, check=False)
    summary = [line for line in result.stdout.splitlines() if "generated" in line or "FAIL" in line.upper()]
    print("\n".join(summary[-5:]))
    if result.returncode != 0:
        print(result.stdout[-6000:])
        raise SystemExit("schemathesis found failures")


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="wetrials-fuzz-"))
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "OAUTH_ISSUER": URL,
        "OAUTH_REQUIRE_HTTPS": "0",
        "DATABASE_URL": f"sqlite:///{work / 'fuzz.sqlite3'}",
        "DJANGO_LOG_LEVEL": "CRITICAL",
        "BENCH_DIR": str(work),
        **{
            f"OAUTH_RATE_{name}": "10000000/m"
            for name in ("AUTHORIZE", "TOKEN", "USERINFO", "REVOKE", "INTROSPECT", "SIGN_IN", "CLIENT_AUTH_FAILURES")
        },
    }
    subprocess.run(
        [str(BIN / "python"), "manage.py", "migrate", "--noinput"],
        cwd=PROJECT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    subprocess.run([str(BIN / "python"), "-m", "bench.seed", "1", "10", "2"], cwd=PROJECT, env=env, check=True)
    access_token = json.loads((work / "fixtures.json").read_text())["access_token"]
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "config.wsgi", "--bind", f"127.0.0.1:{PORT}", "--workers", "2"],
        cwd=PROJECT,
        env=env,
        stdout=(work / "gunicorn.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        for _ in range(100):
            try:
                if requests.get(f"{URL}/readyz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        before = persisted_counts(env)
        fuzz(work / "anonymous.har", 1000)
        fuzz(work / "bearer.har", 650, f"Authorization: Bearer {access_token}")
        after = persisted_counts(env)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)

    tally: Counter[tuple[str, str, int]] = Counter()
    for har in ("anonymous.har", "bearer.har"):
        for entry in json.loads((work / har).read_text())["log"]["entries"]:
            path = entry["request"]["url"].removeprefix(URL).split("?")[0]
            tally[(entry["request"]["method"], path, entry["response"]["status"])] += 1
    total = sum(tally.values())
    print(f"{total} requests by endpoint and status:")
    for (method, path, status), count in sorted(tally.items()):
        print(f"  {method:7} {path:40} {status}  {count}")
    problems = [
        f"{count} x {status} at {method} {path}" for (method, path, status), count in tally.items() if status >= 500
    ]
    if total < MINIMUM_REQUESTS:
        problems.append(f"only {total} requests, fewer than {MINIMUM_REQUESTS}")
    if after != before:
        problems.append(f"rejected requests persisted rows: before {before}, after {after}")
    print("persisted rows unchanged:", after == before, after)
    for problem in problems:
        print("PROBLEM:", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
