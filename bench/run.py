"""`make bench`: the token path under load, against gunicorn, PostgreSQL and Redis on loopback.

For each server configuration (the project as shipped; the same with its statements run by
the plain ORM; the same with every optimisation switched off) it creates a fresh database,
seeds it (bench/seed.py) and starts gunicorn with 2 sync workers. Then, workload by workload,
it drives each configuration that runs the workload with wrk (2 threads, 8 connections) for a
warm-up, then takes `--runs` measured periods in turn, one configuration after the other, so
that whatever else the machine does weighs on all of them alike; around each measured period it
reads the CPU time of gunicorn's processes (bench/cpu.py). It prints the medians as one table,
also written to bench/results/. With --profile, py-spy then records the shipped configuration
under each workload (bench/profiling.py). Every process it starts is stopped on exit, Ctrl-C
included.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import redis
import requests

from bench import WORK_FLOOR
from bench.cpu import TreeCpu, process_tree, tree_cpu
from bench.profiling import PY_SPY, SAMPLES_PER_SECOND, recording, slug, summarise

PROJECT = Path(__file__).resolve().parent.parent
LUA = PROJECT / "bench" / "lua"
RESULTS = PROJECT / "bench" / "results"
BIN = Path(sys.executable).parent
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
THREADS, CONNECTIONS, WORKERS = 2, 8, 2
SHIPPED = "optimised"
CONFIGURATIONS = {
    SHIPPED: "bench.settings_optimised",
    "orm": "bench.settings_orm",
    "unoptimised": "bench.settings_unoptimised",
}
# The workloads that run the token path's statements (core/rows.py), for the ORM-only
# configuration; the unoptimised one runs those its switches slow down. Every other workload
# runs the same code in all three, so measuring it once keeps `make bench` short.
STATEMENT_WORKLOADS = [
    "code exchange",
    WORK_FLOOR,
    "refresh rotation",
    "client credentials",
    "introspection",
    "userinfo",
]
RUNS_ONLY = {
    "orm": STATEMENT_WORKLOADS,
    "unoptimised": ["code exchange", "refresh rotation", "client credentials", "introspection", "userinfo"],
}
# With --profile, two more wrk periods per workload of the shipped configuration: one recorded
# as collapsed stacks (for the text summary), one as a flame graph; py-spy writes one format
# per recording.
PROFILED_PERIODS = 2
FLOOR = "healthz (floor)"


@dataclass
class Workload:
    name: str
    path: str
    script: str
    env: dict[str, str]


FORM_HEADER = "Content-Type: application/x-www-form-urlencoded"


def workloads(fixtures: dict, directory: Path) -> list[Workload]:
    web = f"Authorization: {fixtures['web_authorization']}"
    service = f"Authorization: {fixtures['service_authorization']}\n{FORM_HEADER}"
    return [
        Workload(
            "code exchange",
            "/v1/oauth/token",
            "pool.lua",
            {
                "BENCH_POOL": str(directory / "codes-{invocation}.txt"),
                "BENCH_BODY": fixtures["code_exchange_body"],
                "BENCH_HEADERS": web,
            },
        ),
        Workload(
            WORK_FLOOR,
            "/bench/code-exchange-work",
            "pool.lua",
            {
                "BENCH_POOL": str(directory / "work_codes-{invocation}.txt"),
                "BENCH_BODY": fixtures["code_exchange_body"],
                "BENCH_HEADERS": web,
            },
        ),
        Workload(
            "refresh rotation",
            "/v1/oauth/token",
            "pool.lua",
            {
                "BENCH_POOL": str(directory / "refresh_tokens-{invocation}.txt"),
                "BENCH_BODY": fixtures["refresh_body"],
                "BENCH_ROTATE": "1",
                "BENCH_HEADERS": web,
            },
        ),
        Workload(
            "client credentials",
            "/v1/oauth/token",
            "static.lua",
            {
                "BENCH_METHOD": "POST",
                "BENCH_BODY": "grant_type=client_credentials&scope=read:participants",
                "BENCH_HEADERS": service,
            },
        ),
        Workload(
            "introspection",
            "/v1/oauth/introspect",
            "static.lua",
            {"BENCH_METHOD": "POST", "BENCH_BODY": f"token={fixtures['access_token']}", "BENCH_HEADERS": service},
        ),
        Workload(
            "userinfo",
            "/v1/oauth/userinfo",
            "static.lua",
            {"BENCH_HEADERS": f"Authorization: Bearer {fixtures['access_token']}"},
        ),
        Workload("jwks", "/v1/oauth/jwks", "static.lua", {}),
        Workload(
            "authorize POST (consent)",
            "/v1/oauth/authorize",
            "static.lua",
            {
                "BENCH_METHOD": "POST",
                "BENCH_BODY": fixtures["consent_body"],
                "BENCH_HEADERS": f"Cookie: {fixtures['browser_cookie']}\n{FORM_HEADER}",
            },
        ),
        Workload(FLOOR, "/healthz", "static.lua", {}),
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    configuration: str
    url: str
    # gunicorn's master: the root of the process tree whose CPU is read and profiled.
    pid: int
    directory: Path
    fixtures: dict
    sql_counts: dict[str, int]

    def runs(self, workload: Workload) -> bool:
        return workload.name in RUNS_ONLY.get(self.configuration, [workload.name])


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.processes: list[subprocess.Popen] = []
        self.work = Path(tempfile.mkdtemp(prefix="wetrials-bench-"))

    def stop_everything(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        self.processes.clear()
        shutil.rmtree(self.work, ignore_errors=True)

    def environment(self, configuration: str, port: int) -> dict[str, str]:
        database = f"{self.args.database_prefix}_{configuration}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{database}"')
        unlimited = "1000000/m"
        return {
            "PATH": os.environ["PATH"],
            "DJANGO_SETTINGS_MODULE": CONFIGURATIONS[configuration],
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "OAUTH_ISSUER": f"http://127.0.0.1:{port}",
            # Loopback only: the benchmark measures the server, not TLS.
            "OAUTH_REQUIRE_HTTPS": "0",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
            "REDIS_URL": self.args.redis_url,
            "DJANGO_LOG_LEVEL": "WARNING",
            **{f"OAUTH_RATE_{name}": unlimited for name in ("AUTHORIZE", "TOKEN", "USERINFO", "REVOKE", "INTROSPECT")},
            "BENCH_DIR": str(self.work / configuration),
        }

    def run_command(self, env: dict[str, str], *command: str) -> None:
        subprocess.run(command, cwd=PROJECT, env=env, check=True)

    def start_server(self, env: dict[str, str], port: int) -> int:
        """gunicorn's master pid, once it answers."""
        log = (self.work / f"gunicorn-{port}.log").open("w")
        process = subprocess.Popen(
            [str(BIN / "gunicorn"), "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", str(WORKERS)],
            cwd=PROJECT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    return process.pid
            except requests.ConnectionError:
                time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not start: {(self.work / f'gunicorn-{port}.log').read_text()}")

    def wrk(self, url: str, workload: Workload, seconds: int, invocation: int) -> dict:
        env = {
            **os.environ,
            **{name: value.replace("{invocation}", str(invocation)) for name, value in workload.env.items()},
            "BENCH_LUA_DIR": str(LUA),
            "BENCH_THREADS": str(THREADS),
        }
        command = [
            "wrk",
            "-t",
            str(THREADS),
            "-c",
            str(CONNECTIONS),
            "-d",
            f"{seconds}s",
            "-s",
            str(LUA / workload.script),
            url + workload.path,
        ]
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"wrk failed on {workload.name}: {result.stderr or result.stdout}")
        summary = json.loads(result.stdout.strip().splitlines()[-1])
        summary["rate"] = summary["requests"] / (summary["duration_us"] / 1e6)
        return summary

    def start(self, configuration: str) -> Server:
        """A fresh database, seeded, and gunicorn serving it."""
        port = free_port()
        env = self.environment(configuration, port)
        directory = Path(env["BENCH_DIR"])
        directory.mkdir(parents=True)
        self.run_command(env, str(BIN / "python"), "manage.py", "migrate", "--noinput")
        # Fresh single-use codes and refresh chains for each wrk invocation (warm-up, runs, then
        # the profiled periods), enough codes for a generous rate.
        invocations = 1 + self.args.runs + (PROFILED_PERIODS if self.profiled(configuration) else 0)
        codes_each = max(self.args.duration, self.args.warmup) * self.args.max_rate
        seed = [str(BIN / "python"), "-m", "bench.seed", str(invocations), str(codes_each), str(4 * CONNECTIONS)]
        self.run_command(env, *seed)
        pid = self.start_server(env, port)
        return Server(
            configuration=configuration,
            url=f"http://127.0.0.1:{port}",
            pid=pid,
            directory=directory,
            fixtures=json.loads((directory / "fixtures.json").read_text()),
            sql_counts=json.loads((directory / "sql_counts.json").read_text()),
        )

    def profiled(self, configuration: str) -> bool:
        return self.args.profile and configuration == SHIPPED

    def measure(self, servers: list[Server], profiles: Path) -> tuple[dict[str, dict[str, list[dict]]], dict[str, str]]:
        """Each workload's runs per configuration, taken in turn; with --profile, each workload's
        text summary (written to `profiles` with its flame graph) after its runs."""
        results: dict[str, dict[str, list[dict]]] = {server.configuration: {} for server in servers}
        summaries: dict[str, str] = {}
        for workload_index, workload in enumerate(workloads(servers[0].fixtures, servers[0].directory)):
            serving = [server for server in servers if server.runs(workload)]
            # Each configuration's own workload (its codes, tokens and credentials).
            own = {
                server.configuration: workloads(server.fixtures, server.directory)[workload_index] for server in serving
            }
            for server in serving:
                self.wrk(server.url, own[server.configuration], self.args.warmup, invocation=0)
                self.drain(server)
                results[server.configuration][workload.name] = []
            for run in range(1, self.args.runs + 1):
                # Every other turn in reverse, so that no configuration always follows the same one.
                for server in serving if run % 2 else serving[::-1]:
                    result = self.measured_run(server, own[server.configuration], invocation=run)
                    results[server.configuration][workload.name].append(result)
                    print(
                        f"  {server.configuration:>11} · {workload.name}: {result['rate']:.0f} req/s, "
                        f"{result['cpu_ms']:.2f} CPU ms/request",
                        flush=True,
                    )
            for server in serving:
                if self.profiled(server.configuration):
                    summaries[workload.name] = self.profile(server, own[server.configuration], profiles)
        return results, summaries

    def period(self, server: Server, workload: Workload, invocation: int) -> tuple[dict, TreeCpu]:
        """wrk's summary of one period, and the CPU gunicorn's processes spent from its start to
        the end of its drain."""
        before = process_tree(server.pid)
        result = self.wrk(server.url, workload, self.args.duration, invocation)
        self.drain(server)
        return result, tree_cpu(before, process_tree(server.pid))

    def measured_run(self, server: Server, workload: Workload, invocation: int) -> dict:
        """wrk's summary, with the CPU per request."""
        result, cpu = self.period(server, workload, invocation)
        result["cpu_ms"] = cpu.seconds * 1000 / result["requests"]
        result["vanished"] = cpu.vanished
        return result

    def profile(self, server: Server, workload: Workload, directory: Path) -> str:
        """py-spy on gunicorn for two more periods, after the measured ones so that it never
        weighs on them: the collapsed stacks, summarised, then the flame graph."""
        directory.mkdir(parents=True, exist_ok=True)
        name = slug(workload.name)
        stacks = directory / f"{name}.stacks"
        first_profiled = self.args.runs + 1
        with recording(server.pid, stacks, "raw") as spied:
            _, cpu = self.period(server, workload, invocation=first_profiled)
        with recording(server.pid, directory / f"{name}.svg", "flamegraph"):
            self.period(server, workload, invocation=first_profiled + 1)
        summary = summarise(stacks.read_text(), workload.name, cpu.seconds, spied.unreadable)
        (directory / f"{name}.txt").write_text(summary)
        print(f"  {server.configuration:>11} · {workload.name}: profiled", flush=True)
        return summary

    @staticmethod
    def drain(server: Server) -> None:
        """Wait for the requests wrk left queued when it stopped: a slow server (PBKDF2) would
        go on spending the CPU while the next configuration is measured."""
        requests.get(f"{server.url}/healthz", timeout=120).raise_for_status()


def median(results: list[dict], key: str) -> float:
    return statistics.median(result[key] for result in results)


def precompiled_gain(shipped_rate: float, orm_rate: float) -> str:
    return f"{shipped_rate / orm_rate - 1:+.1%}"


def speed_up(shipped_rate: float, unoptimised_rate: float) -> str:
    return f"{shipped_rate / unoptimised_rate:.1f}x"


def compared(runs: list[dict] | None, shipped_rate: float, gain: Callable[[float, float], str]) -> list[str]:
    """Another configuration's req/s and CPU ms/request, and what the shipped one gains on it;
    dashes where it does not run the workload."""
    if not runs:
        return ["-", "-", "-"]
    rate = median(runs, "rate")
    return [f"{rate:.0f}", f"{median(runs, 'cpu_ms'):.2f}", gain(shipped_rate, rate)]


def table(
    results: dict[str, dict[str, list[dict]]], sql_counts: dict[str, dict[str, int]], args: argparse.Namespace
) -> str:
    shipped, orm, baseline = results[SHIPPED], results.get("orm"), results.get("unoptimised")
    floor, floor_cpu = median(shipped[FLOOR], "rate"), median(shipped[FLOOR], "cpu_ms")
    header = [
        "workload",
        "req/s",
        "CPU ms/req‡",
        "CPU vs healthz",
        "p50 ms",
        "p99 ms",
        "errors",
        "SQL/request*",
        "vs floor",
    ]
    if orm is not None:
        header += ["ORM statements req/s", "ORM CPU ms/req", "precompiled buys"]
    if baseline is not None:
        header += ["unoptimised req/s", "unoptimised CPU ms/req", "speed-up"]
    lines = [
        f"WeTrials Auth benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: gunicorn ({WORKERS} sync workers), "
        f"PostgreSQL, Redis, wrk -t{THREADS} -c{CONNECTIONS}, {args.duration} s after {args.warmup} s warm-up, "
        f"median of {args.runs} runs, the configurations measured in turn",
        "",
        f"| {' | '.join(header)} |",
        "|---|" + "---:|" * (len(header) - 1),
    ]
    for name, runs in shipped.items():
        rate, cpu = median(runs, "rate"), median(runs, "cpu_ms")
        count = str(sql_counts[SHIPPED][name])
        if orm and name in orm and sql_counts["orm"][name] != sql_counts[SHIPPED][name]:
            count += f" (ORM: {sql_counts['orm'][name]})"
        errors = sum(result["errors"] for result in [*runs, *(orm or {}).get(name, [])])
        cells = [
            name,
            f"{rate:.0f}",
            f"{cpu:.2f}",
            f"{cpu / floor_cpu:.1f}x",
            f"{median(runs, 'p50_us') / 1000:.1f}",
            f"{median(runs, 'p99_us') / 1000:.1f}",
            str(errors),
            count,
            f"{rate / floor:.0%}",
        ]
        if orm is not None:
            cells += compared(orm.get(name), rate, precompiled_gain)
        if baseline is not None:
            cells += compared(baseline.get(name), rate, speed_up)
        lines.append(f"| {' | '.join(cells)} |")
    lines += [
        "",
        "*SQL statements per request as Django counts them, besides BEGIN and COMMIT.",
        "†The same statements, signatures and rate-limit call as a code exchange, written straight in a Django "
        "view (bench/work_floor.py): what the token endpoint would reach if oauthlib and DOT cost nothing.",
        "‡The user and system CPU time of gunicorn's processes (master and workers, from /proc) from the start of "
        "a measured period to the end of its drain, over the requests wrk completed; PostgreSQL's and Redis's CPU "
        "is not in it. Requests wrk timed out or left queued are served but not counted: the unoptimised "
        "configuration's figure is overstated. CPU vs healthz: against the /healthz row's, a request through "
        "Django with nothing behind it.",
    ]
    vanished = sum(result["vanished"] for runs in results.values() for taken in runs.values() for result in taken)
    if vanished:
        lines.append(
            f"{vanished} gunicorn process(es) ended during measured periods: "
            "the CPU they spent in those periods is missing."
        )
    if orm is not None:
        lines.append(
            "ORM statements: the project as shipped with OAUTH_PRECOMPILED_STATEMENTS=0, each token-path statement "
            "run as the QuerySet, save() or delete() it stands for (core/rows.py). Errors: both their runs (the "
            "unoptimised server's slowest requests outlast wrk's 2 s timeout)."
        )
    configurations = [configuration for configuration in CONFIGURATIONS if configuration in results]
    for heading, key, figure in (("req/s", "rate", "{:.0f}"), ("CPU ms/request", "cpu_ms", "{:.2f}")):
        lines += [
            "",
            f"Each turn's runs, {heading} ({' / '.join(configurations)}; every other turn taken in reverse):",
            "",
        ]
        for name in shipped:
            taken = [results[configuration].get(name, []) for configuration in configurations]
            turns = [" / ".join(figure.format(runs[turn][key]) for runs in taken if runs) for turn in range(args.runs)]
            lines.append(f"- {name}: {' · '.join(turns)}")
    return "\n".join(lines) + "\n"


def profiles_section(summaries: dict[str, str], directory: Path, args: argparse.Namespace) -> str:
    """The text summaries, each under a link to its flame graph (relative to bench/results/)."""
    lines = [
        "",
        f"Profiles of the shipped configuration (py-spy at {SAMPLES_PER_SECOND} samples/s on gunicorn's processes, "
        f"on-CPU stacks only; one {args.duration} s period for the summary, another for the flame graph), "
        f"in {directory.relative_to(PROJECT)}/:",
    ]
    for name, summary in summaries.items():
        lines += ["", f"[{name}: flame graph]({directory.name}/{slug(name)}.svg)", "", "```", summary.rstrip(), "```"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=8, help="measured seconds per run (default 8)")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up seconds per workload (default 3)")
    parser.add_argument("--runs", type=int, default=3, help="runs per workload; the median is reported (default 3)")
    parser.add_argument("--max-rate", type=int, default=1500, help="code exchanges/s to mint codes for (default 1500)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the unoptimised configuration")
    parser.add_argument("--no-orm", action="store_true", help="skip the ORM-statements configuration")
    parser.add_argument(
        "--database-prefix", default="wetrials_bench", help="databases are <prefix>_<configuration> (wetrials_bench)"
    )
    parser.add_argument(
        "--redis-url", default="redis://127.0.0.1:6379/3", help="the Redis database, flushed first (database 3)"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="after each workload's runs, record the shipped configuration with py-spy (flame graph and summary)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install wrk")
    if args.profile and not PY_SPY.exists():
        sys.exit("py-spy is missing: pip install -r requirements-dev.txt")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    profiles = RESULTS / f"profile-{stamp}"
    skipped = {"unoptimised"} if args.no_baseline else set()
    if args.no_orm:
        skipped.add("orm")
    bench = Bench(args)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        redis.Redis.from_url(args.redis_url).flushdb()
        servers = []
        for configuration in CONFIGURATIONS:
            if configuration not in skipped:
                print(f"{configuration}: seeding", flush=True)
                servers.append(bench.start(configuration))
        results, summaries = bench.measure(servers, profiles)
    finally:
        bench.stop_everything()
    report = table(results, {server.configuration: server.sql_counts for server in servers}, args)
    written = report + (profiles_section(summaries, profiles, args) if summaries else "")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stamp}.md").write_text(written)
    (RESULTS / "latest.md").write_text(written)
    print()
    print(report)
    if summaries:
        print(f"flame graphs and profile summaries in {profiles}")
    print(f"written to {RESULTS / 'latest.md'}")


if __name__ == "__main__":
    main()
