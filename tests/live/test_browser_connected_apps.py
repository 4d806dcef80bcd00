"""An end user authorizes an app, finds it under Connected apps and revokes it, in a real browser."""

from __future__ import annotations

import re
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from tests.live.conftest import screenshot
from tests.live.flows import code_exchange
from tests.oauth import s256

pytestmark = pytest.mark.live

REDIRECT_URI = "https://tracker.example.test/callback"


def test_user_revokes_a_connected_app(live_server_tls, page):
    url = live_server_tls.url
    app = live_server_tls.register_client(
        "--name",
        "Symptom Tracker",
        "--type",
        "public",
        "--redirect-uri",
        REDIRECT_URI,
        "--scope",
        "openid",
        "--scope",
        "read:profile",
    )
    verifier = secrets.token_urlsafe(48)
    query = {
        "response_type": "code",
        "client_id": app["client_id"],
        "redirect_uri": REDIRECT_URI,
        "scope": "openid read:profile",
        "state": "s1",
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
    }
    page.route("https://tracker.example.test/**", lambda route: route.fulfill(body="client callback"))

    page.goto(f"{url}/v1/oauth/authorize?{urlencode(query)}")
    page.fill("input[name=username]", live_server_tls.username)
    page.fill("input[name=password]", live_server_tls.password)
    page.click("button[type=submit]")
    assert "Symptom Tracker" in page.inner_text("h1")
    page.get_by_role("button", name=re.compile("^Allow")).click()
    page.wait_for_url("https://tracker.example.test/**")
    code = parse_qs(urlsplit(page.url).query)["code"][0]
    session = requests.Session()
    session.verify, session.trust_env = str(live_server_tls.ca_bundle), False
    tokens = session.post(
        f"{url}/v1/oauth/token",
        data=code_exchange(code, verifier, REDIRECT_URI, app["client_id"]),
        timeout=5,
    ).json()

    page.goto(f"{url}/accounts/apps/")
    assert "Symptom Tracker" in page.inner_text("main")
    assert "See your name and username" in page.inner_text("main")
    screenshot(page, "desktop/connected-apps-before-revoke")
    page.get_by_role("link", name=re.compile("^Revoke access for Symptom Tracker")).click()
    page.get_by_role("button", name=re.compile("^Revoke")).click()

    page.wait_for_url(f"{url}/accounts/apps/")
    assert "Symptom Tracker can no longer access" in page.inner_text("main")
    assert page.locator(".app", has_text="Symptom Tracker").count() == 0
    screenshot(page, "desktop/connected-apps-after-revoke")
    refresh = session.post(
        f"{url}/v1/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": app["client_id"]},
        timeout=5,
    )
    assert refresh.json()["error"] == "invalid_grant"
    userinfo = session.get(f"{url}/v1/oauth/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert userinfo.status_code == 401
