"""Schema-driven fuzzing: schemathesis against docs/openapi.json (served at /v1/openapi.json).

Starts gunicorn (2 workers, DJANGO_DEBUG=0) on a fresh database with rate limits out of the
way, then runs schemathesis twice, anonymously and with a live access token, until at
least 10,000 requests have hit the OAuth endpoints and the account pages. Fails on any
response >= 500, on an error body that isn't RFC 6749/6750 JSON where the description says
it is, or if a rejected request persisted anything (tokens, codes, consents, clients,
users). Prints the requests by endpoint and status. Run by .ci/run as `python -m scripts.schema_fuzz`.

The database is PostgreSQL when `--database-url` or DATABASE_URL names one: the script makes
its own database beside it (`<name>_schema_fuzz`) and drops it afterwards. PostgreSQL refuses
a NUL in text and an over-long value that SQLite stores, so only there do such inputs reach
a database that can fail on them. Otherwise a SQLite file in a temporary directory.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dj_database_url
import psycopg

from scripts import local_server
from scripts.local_server import BIN, PROJECT

PORT = 9081
URL = f"http://127.0.0.1:{PORT}"
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
MINIMUM_REQUESTS = 10_000
SEED = 20261128
DATABASE_SUFFIX = "schema_fuzz"


def is_postgres(url: str | None) -> bool:
    return bool(url) and url.split(":", 1)[0] in ("postgres", "postgresql", "pgsql")


def _maintenance_connection(config: dict) -> psycopg.Connection:
    return psycopg.connect(
        host=config["HOST"] or "127.0.0.1",
        port=config["PORT"] or 5432,
        user=config["USER"] or None,
        password=config["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )


@contextmanager
def fuzz_database(base_url: str | None, work: Path) -> Iterator[str]:
    """A fresh database for one run: beside `base_url` on PostgreSQL (dropped afterwards,
    whatever happens), else a SQLite file in `work`."""
    if not is_postgres(base_url):
        yield f"sqlite:///{work / 'fuzz.sqlite3'}"
        return
    config = dj_database_url.parse(base_url)
    name = f"{config['NAME']}_{DATABASE_SUFFIX}"
    with _maintenance_connection(config) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base_url.split("?", 1)[0].rsplit("/", 1)[0] + f"/{name}"
    finally:
        with _maintenance_connection(config) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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


def fuzz(report: Path, max_examples: int, seed: int, *headers: str) -> Counter[tuple[str, str, int]]:
    """One schemathesis pass; returns its requests counted by method, path and status."""
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
        str(seed),
        *[arg for header in headers for arg in ("-H", header)],
    ]
    result = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, check=False)
    summary = [line for line in result.stdout.splitlines() if "generated" in line or "FAIL" in line.upper()]
    print("\n".join(summary[-5:]))
    if result.returncode != 0:
        print(result.stdout[-6000:])
        raise SystemExit("schemathesis found failures")
    tally: Counter[tuple[str, str, int]] = Counter()
    for entry in json.loads(report.read_text())["log"]["entries"]:
        path = entry["request"]["url"].removeprefix(URL).split("?")[0]
        tally[(entry["request"]["method"], path, entry["response"]["status"])] += 1
    return tally


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="a postgres:// URL whose server gets a throwaway database (default: DATABASE_URL; SQLite if unset)",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="wetrials-fuzz-"))
    with fuzz_database(args.database_url, work) as database_url:
        print("database:", "PostgreSQL" if is_postgres(database_url) else "SQLite", database_url.rsplit("/", 1)[-1])
        env = local_server.environment(port=PORT, database_url=database_url, work=work)
        access_token = local_server.migrate_and_seed(env, codes=10, chains=2)["access_token"]
        server = local_server.start_gunicorn(env, PORT)
        try:
            before = persisted_counts(env)
            tally = fuzz(work / "anonymous.har", 1000, SEED)
            tally += fuzz(work / "bearer.har", 650, SEED, f"Authorization: Bearer {access_token}")
            # How many requests a pass sends varies with its concurrent workers: top up to the minimum.
            for extra in range(1, 4):
                if sum(tally.values()) >= MINIMUM_REQUESTS:
                    break
                tally += fuzz(work / f"extra-{extra}.har", 300, SEED + extra)
            after = persisted_counts(env)
        finally:
            local_server.stop(server)

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
