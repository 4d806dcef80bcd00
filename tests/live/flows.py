"""Helpers the live tests share: TLS sessions to the test server and HTML form fields."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Session


class FormInputs(HTMLParser):
    """The named inputs and buttons of the first form on a page."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag in {"input", "button"} and attributes.get("name") and attributes.get("type") != "submit":
            self.fields[attributes["name"]] = attributes.get("value") or ""


def form_fields(html: str) -> dict[str, str]:
    parser = FormInputs()
    parser.feed(html)
    return parser.fields


def code_exchange(code: str, verifier: str, redirect_uri: str, client_id: str | None = None) -> dict[str, str]:
    """The token request body that redeems an authorization code (a public client adds its client_id)."""
    body = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "code_verifier": verifier}
    return body | ({"client_id": client_id} if client_id else {})


def tls_session(server: Any) -> requests.Session:
    session = requests.Session()
    session.verify = str(server.ca_bundle)
    # REQUESTS_CA_BUNDLE in the environment would otherwise override `verify`.
    session.trust_env = False
    return session


def authlib_session(server: Any, client: dict[str, str], *, scope: str, redirect_uri: str) -> OAuth2Session:
    """Authlib as the client app: PKCE S256, and client_secret_basic when it has a secret."""
    session = OAuth2Session(
        client["client_id"],
        client.get("client_secret"),
        scope=scope,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic" if "client_secret" in client else "none",
    )
    session.verify = str(server.ca_bundle)
    session.trust_env = False
    return session


def signed_in_browser(server: Any) -> requests.Session:
    """A browser session signed in as the server's user."""
    browser = tls_session(server)
    browser.headers["Origin"] = server.url
    login_url = f"{server.url}/accounts/login/"
    fields = form_fields(browser.get(login_url, timeout=10).text)
    response = browser.post(
        login_url,
        data=fields | {"username": server.username, "password": server.password},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302, response.text
    return browser


def authorization_code(browser: requests.Session, server: Any, query: dict[str, str]) -> str:
    """Authorize (allowing on the consent page if it appears) and return the code."""
    response = browser.get(f"{server.url}/v1/oauth/authorize", params=query, allow_redirects=False, timeout=10)
    if response.status_code == 200:
        decision = form_fields(response.text) | {"allow": "Allow"}
        response = browser.post(response.url, data=decision, allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text
    return parse_qs(urlsplit(response.headers["Location"]).query)["code"][0]
