"""A staff member registers a confidential client in the admin, in a real browser."""

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

REDIRECT_URIS = ["https://portal.example.test/cb", "https://portal.example.test/cb2"]


def test_staff_registers_a_client_and_sees_the_secret_once(live_server_tls, page):
    url = live_server_tls.url
    page.goto(f"{url}/admin/login/")
    page.fill("#id_username", live_server_tls.username)
    page.fill("#id_password", live_server_tls.password)
    page.click("input[type=submit]")

    page.goto(f"{url}/admin/oauth_apps/application/add/")
    page.fill("#id_name", "Browser Portal")
    page.check("input[name=client_type][value=confidential]")
    page.check("input[name=authorization_grant_type][value=authorization-code]")
    page.fill("#id_redirect_uris", "\n".join(REDIRECT_URIS))
    page.get_by_label("read:profile").check()
    page.get_by_label("write:studies").check()
    page.click("input[name=_save]")

    secret = page.inner_text("#client-secret").strip()
    client_id = page.inner_text("#client-id").strip()
    assert "shown this once" in page.inner_text("#content-main")
    screenshot(page, "desktop/admin-client-secret-shown-once")
    page.set_viewport_size({"width": 375, "height": 740})
    screenshot(page, "375px/admin-client-secret-shown-once")
    page.click("text=I have stored it")
    assert secret not in page.content()
    assert client_id in page.inner_text("#content-main")  # the client's change page
    screenshot(page, "375px/admin-client-page")
    page.set_viewport_size({"width": 1280, "height": 900})
    screenshot(page, "desktop/admin-client-page")

    # The staff member is signed in as a user too: authorize the new client and use the secret.
    verifier = secrets.token_urlsafe(48)
    page.route("https://portal.example.test/**", lambda route: route.fulfill(body="client callback"))
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URIS[1],
        "scope": "read:profile write:studies",
        "state": "browser-state",
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
    }
    page.goto(f"{url}/v1/oauth/authorize?{urlencode(query)}")
    page.get_by_role("button", name=re.compile("^Allow")).click()
    page.wait_for_url("https://portal.example.test/**")
    code = parse_qs(urlsplit(page.url).query)["code"][0]

    response = requests.post(
        f"{url}/v1/oauth/token",
        data=code_exchange(code, verifier, REDIRECT_URIS[1]),
        auth=(client_id, secret),
        verify=str(live_server_tls.ca_bundle),
        timeout=5,
    )
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "read:profile write:studies"
