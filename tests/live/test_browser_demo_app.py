"""End to end in Chromium: a person uses the Symptom Diary demo app (examples/demo_app) with
WeTrials Auth under gunicorn over TLS, on a desktop and on a 375 px phone screen."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.live.conftest import BIN_DIR, PROJECT_DIR, LiveServer, free_port, gunicorn_instances, screenshot

pytestmark = pytest.mark.live

VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "375px": {"width": 375, "height": 740}}


@dataclass
class DemoApp:
    url: str
    server: LiveServer


@pytest.fixture(scope="module")
def e2e_server(tmp_path_factory) -> Iterator[LiveServer]:
    # Its own instance: these flows sign in often, and the sign-in limit is per address.
    with gunicorn_instances(tmp_path_factory.mktemp("e2e"), count=1, suffix="e2e", extra_env={}) as servers:
        yield servers[0]


@pytest.fixture(scope="module")
def demo_app(e2e_server, tmp_path_factory) -> Iterator[DemoApp]:
    port = free_port()
    client = e2e_server.register_client(
        "--name",
        "Symptom Diary",
        "--type",
        "confidential",
        "--redirect-uri",
        f"http://127.0.0.1:{port}/callback",
        *("--scope", "openid", "--scope", "profile", "--scope", "email", "--scope", "read:profile"),
    )
    env = {
        "PATH": e2e_server.env["PATH"],
        "WETRIALS_ISSUER": e2e_server.url,
        "DEMO_CLIENT_ID": client["client_id"],
        "DEMO_CLIENT_SECRET": client["client_secret"],
        "DEMO_PORT": str(port),
        "DEMO_CA_BUNDLE": str(e2e_server.ca_bundle),
    }
    log_path = tmp_path_factory.mktemp("demo") / "demo.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(BIN_DIR / "python"), "examples/demo_app/app.py"],
            cwd=PROJECT_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(f"http://127.0.0.1:{port}/", process, log_path)
            yield DemoApp(url=f"http://127.0.0.1:{port}", server=e2e_server)
        finally:
            process.terminate()
            process.wait(timeout=10)


def wait_for(url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            requests.get(url, timeout=2)
            return
        except requests.ConnectionError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"the demo app did not start: {log_path.read_text()}") from None
            time.sleep(0.2)


@pytest.fixture(params=list(VIEWPORTS))
def screen(request, chromium) -> Iterator[tuple[str, Any]]:
    context = chromium.new_context(ignore_https_errors=True, viewport=VIEWPORTS[request.param])
    yield request.param, context.new_page()
    context.close()


def sign_in_through_demo(page: Any, demo: DemoApp) -> None:
    page.goto(f"{demo.url}/")
    page.get_by_role("link", name="Sign in with WeTrials").click()
    page.wait_for_url(f"{demo.server.url}/accounts/login/**")

    page.get_by_label("Username").fill(demo.server.username)
    page.get_by_label("Password").fill(demo.server.password)


def test_sign_in_consent_refresh_and_revoke(demo_app, screen):
    size, page = screen
    sign_in_through_demo(page, demo_app)
    screenshot(page, f"{size}/sign-in")
    page.get_by_role("button", name="Sign in").click()

    assert page.inner_text("h1") == "Symptom Diary wants to access your WeTrials account"
    consent = page.inner_text("main")
    for description in ("Confirm your identity", "See your name and username", "See your email address"):
        assert description in consent
    assert consent.count("See your name and username") == 1  # profile and read:profile say the same
    assert "you go back to 127.0.0.1" in consent
    screenshot(page, f"{size}/consent")
    page.get_by_role("button", name="Allow access").click()

    page.wait_for_url(f"{demo_app.url}/")
    assert "You are signed in with WeTrials." in page.inner_text("main")
    profile = page.inner_text("table.profile")
    assert "participant@example.org" in profile
    screenshot(page, f"{size}/demo-signed-in")

    page.get_by_role("button", name="Call the WeTrials API").click()
    assert "The WeTrials API answered 200." in page.inner_text("main")
    assert '"preferred_username": "participant"' in page.inner_text("#api-result")
    page.get_by_role("button", name="Refresh the access token").click()
    assert "Your access token was refreshed." in page.inner_text("main")
    page.get_by_role("button", name="Call the WeTrials API").click()
    assert "The WeTrials API answered 200." in page.inner_text("main")

    page.goto(f"{demo_app.server.url}/accounts/apps/")
    assert "Symptom Diary" in page.inner_text("main")
    screenshot(page, f"{size}/connected-apps")
    page.get_by_role("link", name="Revoke access for Symptom Diary").click()
    page.get_by_role("button", name="Revoke access").click()
    assert "Symptom Diary can no longer access your WeTrials account." in page.inner_text("main")

    page.goto(f"{demo_app.url}/")
    page.get_by_role("button", name="Call the WeTrials API").click()
    assert "Please sign in again." in page.inner_text("main")
    assert page.get_by_role("link", name="Sign in with WeTrials").is_visible()
    screenshot(page, f"{size}/demo-asks-to-sign-in-again")


def test_deny_returns_access_denied_to_the_app(demo_app, screen):
    size, page = screen
    sign_in_through_demo(page, demo_app)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Deny").click()

    page.wait_for_url(re.compile(re.escape(f"{demo_app.url}/callback")))
    assert "error=access_denied" in page.url
    assert "You chose not to connect Symptom Diary to WeTrials (access_denied)." in page.inner_text("main")
    screenshot(page, f"{size}/demo-access-denied")


def test_error_pages_say_what_went_wrong(e2e_server, screen):
    size, page = screen
    # Signed out: a link that can never work says so at once, without a sign-in first.
    page.goto(f"{e2e_server.url}/v1/oauth/authorize?response_type=code&client_id=no-such-app&state=s")
    assert page.inner_text("h1") == "This sign-in link doesn't work"
    assert "Traceback" not in page.content()
    screenshot(page, f"{size}/error-bad-sign-in-link")
    page.goto(f"{e2e_server.url}/accounts/no-such-page/")
    assert page.inner_text("h1") == "We can't find that page"
    screenshot(page, f"{size}/error-not-found")
