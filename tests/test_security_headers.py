"""Transport and page security headers (HSTS, cookies, framing, caching, referrers, assets)."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

from django.urls import reverse

from tests.oauth import AuthorizationRequest, redirect_params


class AssetLinks(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in {"src", "href", "action"} and value:
                self.urls.append(value)


def third_party_urls(html: str) -> list[str]:
    parser = AssetLinks()
    parser.feed(html)
    return [url for url in parser.urls if urlsplit(url).netloc]


def test_pages_cannot_be_framed(pages):
    for name, response in pages.items():
        assert response["X-Frame-Options"] == "DENY", name
        assert "frame-ancestors 'none'" in response["Content-Security-Policy"], name


def test_pages_load_nothing_from_other_sites(pages):
    for name, response in pages.items():
        assert third_party_urls(response.content.decode()) == [], name
        assert "default-src 'self'" in response["Content-Security-Policy"], name


def test_pages_are_not_cached(pages):
    for name, response in pages.items():
        assert "no-store" in response["Cache-Control"], name


def test_https_responses_carry_hsts_for_a_year(client, db):
    response = client.get("/.well-known/openid-configuration")

    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_session_and_csrf_cookies_are_secure_httponly_and_samesite(client, user):
    from tests.conftest import PASSWORD

    page = client.get(reverse("accounts:login"))
    csrf = page.cookies["csrftoken"]
    signed_in = client.post(reverse("accounts:login"), {"username": "alice", "password": PASSWORD})
    session = signed_in.cookies["sessionid"]

    for cookie in (csrf, session):
        assert cookie["secure"] is True
        assert cookie["httponly"] is True
        assert cookie["samesite"] == "Lax"


def test_authorize_responses_send_no_referrer_and_are_not_stored(oauth, public_app):
    oauth.sign_in()
    request = AuthorizationRequest(client_id=public_app.client_id)
    consent = oauth.consent_page(request)
    redirect = oauth.decide(request, allow=True)
    error = oauth.client.get("/v1/oauth/authorize", {"client_id": "unknown"})

    assert "code" in redirect_params(redirect)
    for response in (consent, redirect, error):
        assert "no-store" in response["Cache-Control"]
    assert redirect["Referrer-Policy"] == error["Referrer-Policy"] == "no-referrer"
    # A page with a form: under no-referrer, browsers would post it with `Origin: null`.
    assert consent["Referrer-Policy"] == "same-origin"
