"""A production-like server for the live tests: gunicorn over TLS, DJANGO_DEBUG=0."""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dj_database_url
import psycopg
import pytest
import redis
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PROJECT_DIR = Path(__file__).resolve().parents[2]
BIN_DIR = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def live_database_url(directory: Path, suffix: str) -> str:
    """A fresh database: SQLite beside the certificate, or a new PostgreSQL database."""
    test_url = os.environ.get("DATABASE_URL")
    if not test_url or test_url.startswith("sqlite"):
        return f"sqlite:///{directory / f'{suffix}.sqlite3'}"
    config = dj_database_url.parse(test_url)
    name = f"{config['NAME']}_{suffix}"
    admin = psycopg.connect(
        host=config["HOST"],
        port=config["PORT"] or 5432,
        user=config["USER"],
        password=config["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return test_url.rsplit("/", 1)[0] + f"/{name}"


@dataclass
class LiveServer:
    url: str
    ca_bundle: Path
    env: dict[str, str]
    username: str
    password: str

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [str(BIN_DIR / "python"), "manage.py", *args],
            cwd=PROJECT_DIR,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout

    def register_client(self, *args: str) -> dict[str, str]:
        return json.loads(self.manage("register_client", *args))

    def register_service_account(self, name: str) -> dict[str, str]:
        grant = ("--grant", "client_credentials", "--scope", "read:participants")
        return self.register_client("--name", name, "--type", "confidential", *grant)


@contextmanager
def gunicorn_instances(
    directory: Path, *, count: int, suffix: str, extra_env: dict[str, str]
) -> Iterator[list[LiveServer]]:
    """`count` production-like instances (gunicorn over TLS, DJANGO_DEBUG=0, 2 workers each)
    sharing one database, one secret and the environment given; the first one's URL is the issuer."""
    cert_path, key_path = write_self_signed_certificate(directory)
    ports = [free_port() for _ in range(count)]
    password = secrets.token_urlsafe(16)
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "OAUTH_ISSUER": f"https://127.0.0.1:{ports[0]}",
        "DATABASE_URL": live_database_url(directory, suffix),
        "DJANGO_SUPERUSER_USERNAME": "participant",
        "DJANGO_SUPERUSER_PASSWORD": password,
        "DJANGO_SUPERUSER_EMAIL": "participant@example.org",
        **extra_env,
    }
    servers = [
        LiveServer(
            url=f"https://127.0.0.1:{port}", ca_bundle=cert_path, env=env, username="participant", password=password
        )
        for port in ports
    ]
    servers[0].manage("migrate", "--noinput")
    servers[0].manage("createsuperuser", "--noinput")
    processes = []
    logs = []
    try:
        for index, port in enumerate(ports):
            log = (directory / f"gunicorn-{index}.log").open("w")
            logs.append(log)
            processes.append(
                subprocess.Popen(
                    [
                        str(BIN_DIR / "gunicorn"),
                        "config.wsgi",
                        "--bind",
                        f"127.0.0.1:{port}",
                        "--workers",
                        "2",
                        "--certfile",
                        str(cert_path),
                        "--keyfile",
                        str(key_path),
                    ],
                    cwd=PROJECT_DIR,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        for index, (server, process) in enumerate(zip(servers, processes, strict=True)):
            wait_until_healthy(server, process, directory / f"gunicorn-{index}.log")
        yield servers
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=20)
        for log in logs:
            log.close()


def wait_until_healthy(server: LiveServer, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if requests.get(f"{server.url}/healthz", verify=str(server.ca_bundle), timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError(f"gunicorn did not start: {log_path.read_text()}")
        time.sleep(0.2)


@pytest.fixture(scope="session")
def live_server_tls(tmp_path_factory) -> Iterator[LiveServer]:
    extra_env = {"REDIS_URL": os.environ["REDIS_URL"]} if os.environ.get("REDIS_URL") else {}
    with gunicorn_instances(tmp_path_factory.mktemp("live"), count=1, suffix="live", extra_env=extra_env) as servers:
        yield servers[0]


@pytest.fixture(scope="session")
def cluster(tmp_path_factory) -> Iterator[list[LiveServer]]:
    """Two instances behind one issuer, sharing the database and Redis, as in production."""
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14")
    redis.Redis.from_url(redis_url).flushdb()
    with gunicorn_instances(
        tmp_path_factory.mktemp("cluster"), count=2, suffix="cluster", extra_env={"REDIS_URL": redis_url}
    ) as servers:
        yield servers


SCREENSHOT_DIR = PROJECT_DIR / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
# Chromium's own background traffic is refused on a closed network; keep it quiet.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright; never a browser Playwright downloads."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium).")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium) -> Iterator[Any]:
    # The live server's certificate is self-signed: trusted for this test browser only.
    context = chromium.new_context(ignore_https_errors=True, viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture(scope="session")
def race_server(tmp_path_factory) -> Iterator[LiveServer]:
    """A production-like instance for the race tests, whose hundreds of authorizations a
    minute would otherwise meet the per-user rate limits."""
    extra_env = {f"OAUTH_RATE_{name}": "100000/m" for name in ("AUTHORIZE", "TOKEN", "REVOKE", "INTROSPECT")}
    if os.environ.get("REDIS_URL"):
        extra_env["REDIS_URL"] = os.environ["REDIS_URL"]
    with gunicorn_instances(tmp_path_factory.mktemp("races"), count=1, suffix="races", extra_env=extra_env) as servers:
        yield servers[0]
