"""A single-page app on another origin runs the whole flow with fetch, in a real browser."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytestmark = pytest.mark.live

SPA_PAGE = Path(__file__).parent / "pages" / "spa.html"
FINISHED = "!['starting', undefined].includes(document.getElementById('status')?.textContent)"


class StaticPage:
    """One HTML page served on its own loopback port: a second (or third) browser origin."""

    def __init__(self) -> None:
        self.html = ""
        static_page = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = static_page.html.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def spa_pages(live_server_tls) -> Iterator[tuple[StaticPage, StaticPage, dict[str, str]]]:
    """The SPA on a registered origin, the same page on an unregistered one, and its client."""
    spa, rogue = StaticPage(), StaticPage()
    # Loopback redirect URIs match any port (RFC 8252 §7.3): one registration serves both pages.
    client = live_server_tls.register_client(
        "--name",
        "Trial Diary",
        "--type",
        "public",
        "--redirect-uri",
        f"{spa.origin}/callback",
        "--scope",
        "openid",
        "--scope",
        "read:profile",
        "--allowed-origin",
        spa.origin,
    )
    html = SPA_PAGE.read_text().replace("__AUTH_SERVER__", live_server_tls.url)
    spa.html = rogue.html = html.replace("__CLIENT_ID__", client["client_id"])
    yield spa, rogue, client
    spa.close()
    rogue.close()


def sign_in(page, server) -> None:
    page.fill("input[name=username]", server.username)
    page.fill("input[name=password]", server.password)
    page.click("button[type=submit]")


def test_spa_on_a_registered_origin_signs_in_and_reads_userinfo(live_server_tls, spa_pages, page):
    spa, _rogue, _client = spa_pages

    page.goto(f"{spa.origin}/")
    sign_in(page, live_server_tls)
    page.get_by_role("button", name=re.compile("^Allow")).click()

    page.wait_for_url(f"{spa.origin}/callback**")
    page.wait_for_function(FINISHED)
    assert page.inner_text("#status") == "signed in"
    profile = json.loads(page.inner_text("#profile"))
    assert profile["preferred_username"] == live_server_tls.username


def test_the_same_spa_on_an_unregistered_origin_is_blocked_at_the_token_exchange(live_server_tls, spa_pages, page):
    _spa, rogue, _client = spa_pages
    page.goto(f"{live_server_tls.url}/accounts/login/")
    sign_in(page, live_server_tls)

    page.goto(f"{rogue.origin}/")
    # The consent page, unless this user already allowed the app (the test above).
    page.wait_for_url(lambda url: "/v1/oauth/authorize" in url or "/callback" in url)
    if "/v1/oauth/authorize" in page.url:
        page.get_by_role("button", name=re.compile("^Allow")).click()
    page.wait_for_url(f"{rogue.origin}/callback**")

    page.wait_for_function(FINISHED)
    assert page.inner_text("#status") == "token exchange blocked: TypeError"
    assert page.inner_text("#profile") == ""
