"""What the drills under scripts/ share: a production-like environment (DJANGO_DEBUG=0, plain
HTTP on loopback, rate limits out of the way), a database seeded by bench/seed.py, and
gunicorn with 2 workers."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

PROJECT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LIMITED = ("AUTHORIZE", "TOKEN", "USERINFO", "REVOKE", "INTROSPECT", "SIGN_IN", "CLIENT_AUTH_FAILURES")


def environment(*, port: int, database_url: str, work: Path, redis_url: str | None = None) -> dict[str, str]:
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "OAUTH_ISSUER": f"http://127.0.0.1:{port}",
        # Loopback only: the drills exercise the application, not TLS.
        "OAUTH_REQUIRE_HTTPS": "0",
        "DATABASE_URL": database_url,
        "DJANGO_LOG_LEVEL": "CRITICAL",
        "BENCH_DIR": str(work),
        **{f"OAUTH_RATE_{name}": "10000000/m" for name in LIMITED},
    }
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def migrate_and_seed(env: dict[str, str], *, codes: int, chains: int) -> dict:
    """Migrate, seed (one set of single-use codes and refresh chains) and return the fixtures."""
    python = str(BIN / "python")
    subprocess.run(
        [python, "manage.py", "migrate", "--noinput"], cwd=PROJECT, env=env, check=True, stdout=subprocess.DEVNULL
    )
    subprocess.run([python, "-m", "bench.seed", "1", str(codes), str(chains)], cwd=PROJECT, env=env, check=True)
    return json.loads((Path(env["BENCH_DIR"]) / "fixtures.json").read_text())


def start_gunicorn(env: dict[str, str], port: int) -> subprocess.Popen:
    """gunicorn in its own process group, answering /readyz before this returns."""
    log = (Path(env["BENCH_DIR"]) / "gunicorn.log").open("w")
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
        cwd=PROJECT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    for _ in range(150):
        try:
            if requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return server
        except requests.ConnectionError:
            time.sleep(0.2)
    stop(server)
    raise RuntimeError(f"gunicorn did not start: {log.name}")


def stop(server: subprocess.Popen) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=20)
