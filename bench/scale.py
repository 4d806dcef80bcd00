"""`make scale`: the token, introspection and connected-apps paths with a production-sized
history in PostgreSQL, and purge_tokens deleting it while the server serves.

1. Two databases: `wetrials_scale_small` (just the benchmark fixtures) and `wetrials_scale`
   (the same plus bench/scale_data.py's 100,000 users, 1,000,000 access and 1,000,000
   refresh tokens, 700,000 consents and 1,000,000 audit events).
2. In each, bench/scale_probe.py runs every path once in-process and EXPLAINs each SQL
   statement; any sequential scan of a big table is reported.
3. gunicorn (2 sync workers) on each database: `--requests` sequential requests per path,
   p50/p95/p99/max latency, small against large.
4. On the large one: four client threads keep refreshing, introspecting, reading userinfo
   and the connected-apps page while `manage.py purge_tokens` runs; the report gives its
   duration, the rows it removed, and request latency and errors before and during it.

The report is printed and written to bench/results/scale-<time>.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import requests

from bench import scale_data
from scripts.local_server import BIN, PROJECT, environment, migrate_and_seed, start_gunicorn, stop

PG = "postgresql://postgres@127.0.0.1:5432"
RESULTS = PROJECT / "bench" / "results"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
REDIRECT_URI = "https://scale.example.test/cb"
COUNTED = {
    "access tokens": "SELECT count(*) FROM oauth2_provider_accesstoken",
    "expired access tokens": "SELECT count(*) FROM oauth2_provider_accesstoken WHERE expires < now()",
    "refresh tokens": "SELECT count(*) FROM oauth2_provider_refreshtoken",
    "revoked refresh tokens": "SELECT count(*) FROM oauth2_provider_refreshtoken WHERE revoked IS NOT NULL",
    "users": "SELECT count(*) FROM accounts_user",
    "consents": "SELECT count(*) FROM oauth_apps_consent",
    "audit events": "SELECT count(*) FROM oauth_apps_auditevent",
}


def recreate(database: str) -> str:
    drop(database)
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    return f"{PG}/{database}"


def drop(database: str) -> None:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as connection:
        return {name: connection.execute(sql).fetchone()[0] for name, sql in COUNTED.items()}


def manage(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [str(BIN / "python"), "manage.py", *args], cwd=PROJECT, env=env, check=True, capture_output=True, text=True
    ).stdout


def prepare(database: str, work: Path, port: int, *, history: bool, requests_each: int) -> dict:
    url = recreate(database)
    env = environment(port=port, database_url=url, work=work)
    manage(env, "migrate", "--noinput")
    scopes = ("--scope", "openid", "--scope", "read:profile")
    for number in range(scale_data.CLIENTS):
        name = f"Scale client {number}"
        manage(env, "register_client", "--name", name, "--type", "public", "--redirect-uri", REDIRECT_URI, *scopes)
    if history:
        print(f"{database}: generating the history", flush=True)
        scale_data.populate(url)
    fixtures = migrate_and_seed(env, codes=requests_each, chains=1)
    subprocess.run([str(BIN / "python"), "-m", "bench.scale_probe"], cwd=PROJECT, env=env, check=True)
    return {"env": env, "url": url, "fixtures": fixtures, "explain": json.loads((work / "explain.json").read_text())}


class Paths:
    """One request of each timed path against a running server, using the seeded fixtures."""

    def __init__(self, base: str, work: Path, fixtures: dict) -> None:
        self.base, self.fixtures = base, fixtures
        self.codes = iter((work / "codes-0.txt").read_text().split())
        self.refresh_token = (work / "refresh_tokens-0.txt").read_text().split()[0]
        self.cookie = (work / "probe_cookie.txt").read_text().strip()
        self.session = requests.Session()
        self.lock = threading.Lock()

    def code_exchange(self) -> requests.Response:
        body = self.fixtures["code_exchange_body"].replace("VALUE", next(self.codes))
        return self.token(body)

    def refresh_rotation(self) -> requests.Response:
        with self.lock:  # one chain: each request uses the newest refresh token
            response = self.token(self.fixtures["refresh_body"].replace("VALUE", self.refresh_token))
            if response.status_code == 200:
                self.refresh_token = response.json()["refresh_token"]
            return response

    def token(self, body: str) -> requests.Response:
        headers = FORM | {"Authorization": self.fixtures["web_authorization"]}
        return self.session.post(f"{self.base}/v1/oauth/token", data=body, headers=headers, timeout=30)

    def introspection(self) -> requests.Response:
        headers = FORM | {"Authorization": self.fixtures["service_authorization"]}
        body = f"token={self.fixtures['access_token']}"
        return self.session.post(f"{self.base}/v1/oauth/introspect", data=body, headers=headers, timeout=30)

    def userinfo(self) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.fixtures['access_token']}"}
        return self.session.get(f"{self.base}/v1/oauth/userinfo", headers=headers, timeout=30)

    def connected_apps(self) -> requests.Response:
        return self.session.get(f"{self.base}/accounts/apps/", headers={"Cookie": self.cookie}, timeout=30)


def timed(send: Callable[[], requests.Response]) -> tuple[float, int]:
    started = time.perf_counter()
    status = send().status_code
    return (time.perf_counter() - started) * 1000, status


def percentiles(latencies: list[float]) -> dict[str, float]:
    if len(latencies) < 2:
        return {"n": len(latencies), "p50": 0.0, "p95": 0.0, "p99": 0.0, "max": max(latencies, default=0.0)}
    cuts = statistics.quantiles(latencies, n=100)
    return {"n": len(latencies), "p50": cuts[49], "p95": cuts[94], "p99": cuts[98], "max": max(latencies)}


def sequential_latencies(paths: Paths, requests_each: int) -> dict[str, dict[str, float]]:
    results = {}
    for name in ("code_exchange", "refresh_rotation", "introspection", "userinfo", "connected_apps"):
        send = getattr(paths, name)
        for _ in range(10):
            if name != "code_exchange":
                send()  # warm-up
        samples = [timed(send) for _ in range(requests_each - 10 if name == "code_exchange" else requests_each)]
        assert all(status == 200 for _, status in samples), (name, {status for _, status in samples})
        results[name] = percentiles([latency for latency, _ in samples])
    return results


def cleanup_under_load(paths: Paths, env: dict[str, str]) -> dict:
    """Clients keep calling while purge_tokens runs; latency before and during, and errors."""
    phase = {"name": "before"}
    samples: dict[str, list[tuple[float, int]]] = {"before": [], "during": []}
    stop_event = threading.Event()

    def client(send: Callable[[], requests.Response]) -> None:
        while not stop_event.is_set():
            latency, status = timed(send)
            samples[phase["name"]].append((latency, status))

    senders = [paths.refresh_rotation, paths.introspection, paths.userinfo, paths.connected_apps]
    threads = [threading.Thread(target=client, args=(send,), daemon=True) for send in senders]
    for thread in threads:
        thread.start()
    time.sleep(10)
    phase["name"] = "during"
    started = time.monotonic()
    output = subprocess.run(
        [str(BIN / "python"), "manage.py", "purge_tokens"],
        cwd=PROJECT,
        env=env | {"DJANGO_LOG_LEVEL": "INFO"},
        capture_output=True,
        text=True,
        check=True,
    )
    duration = time.monotonic() - started
    stop_event.set()
    for thread in threads:
        thread.join()
    summary = {}
    for name, values in samples.items():
        summary[name] = percentiles([latency for latency, _ in values]) | {
            "errors": sum(status != 200 for _, status in values)
        }
    return {"seconds": duration, "latency": summary, "log": output.stderr + output.stdout}


def report(small: dict, large: dict) -> str:
    """The markdown report: row counts, latency small against large, the cleanup, every plan."""
    before, after, cleanup = large["before"], large["after"], large["cleanup"]
    lines = [
        "# Data at scale",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, gunicorn 2 sync workers, PostgreSQL.",
        "",
    ]
    lines += ["## Rows in the large database", "", "| table | before purge_tokens | after |", "|---|---:|---:|"]
    lines += [f"| {name} | {before[name]:,} | {after[name]:,} |" for name in COUNTED]
    lines += ["", "## Latency, sequential requests (ms)", ""]
    lines += ["| path | n | p50 small | p50 large | p95 small | p95 large | p99 small | p99 large | max large |"]
    lines += ["|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, large_row in large["times"].items():
        small_row = small["times"][name]
        lines.append(
            f"| {name.replace('_', ' ')} | {large_row['n']} | {small_row['p50']:.1f} | {large_row['p50']:.1f} | "
            f"{small_row['p95']:.1f} | {large_row['p95']:.1f} | {small_row['p99']:.1f} | {large_row['p99']:.1f} | "
            f"{large_row['max']:.1f} |"
        )
    lines += ["", f"## purge_tokens while serving: {cleanup['seconds']:.1f} s", ""]
    lines += ["| phase | requests | errors | p50 ms | p99 ms | max ms |", "|---|---:|---:|---:|---:|---:|"]
    for phase, row in cleanup["latency"].items():
        lines.append(
            f"| {phase} | {row['n']} | {row['errors']} | {row['p50']:.1f} | {row['p99']:.1f} | {row['max']:.1f} |"
        )
    lines += ["", "```text", cleanup["log"].strip(), "```", "", "## Query plans (large database)", ""]
    flagged = 0
    for path, entries in large["explain"].items():
        lines += [f"### {path}: {len(entries)} statements", ""]
        for entry in entries:
            flagged += bool(entry["seq_scans_of_big_tables"])
            mark = (
                f" **sequential scan of {entry['seq_scans_of_big_tables']}**"
                if entry["seq_scans_of_big_tables"]
                else ""
            )
            lines += [f"- `{entry['sql'][:160]}`{mark}", "", "```text", entry["plan"], "```", ""]
    lines.insert(3, f"Statements with a sequential scan of a big table: **{flagged}**.\n")
    return "\n".join(lines) + "\n"


def measure(database: str, work: Path, port: int, history: bool, requests_each: int) -> dict:
    prepared = prepare(database, work, port, history=history, requests_each=requests_each)
    server = start_gunicorn(prepared["env"], port)
    try:
        paths = Paths(f"http://127.0.0.1:{port}", work, prepared["fixtures"])
        prepared["times"] = sequential_latencies(paths, requests_each)
        if history:
            prepared["before"] = counts(prepared["url"])
            prepared["cleanup"] = cleanup_under_load(paths, prepared["env"])
            prepared["after"] = counts(prepared["url"])
    finally:
        stop(server)
    return prepared


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300, help="sequential requests per path")
    parser.add_argument("--keep", action="store_true", help="keep the two databases (about 1.5 GB) afterwards")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as small_dir, tempfile.TemporaryDirectory() as large_dir:
        runs = (("small", small_dir, 9201, False), ("large", large_dir, 9202, True))
        try:
            for label, directory, port, history in runs:
                results[label] = measure(f"wetrials_scale_{label}", Path(directory), port, history, args.requests)
        finally:
            if not args.keep:
                for label, *_ in runs:
                    drop(f"wetrials_scale_{label}")
    text = report(results["small"], results["large"])
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"scale-{datetime.now(UTC):%Y%m%d-%H%M%S}.md"
    path.write_text(text)
    print(text.split("## Query plans")[0])
    print(f"Full report with every plan: {path}")


if __name__ == "__main__":
    sys.exit(main())
