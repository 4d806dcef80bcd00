"""Every code example in docs/ runs against a live server (gunicorn over TLS)."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests

from tests.live.conftest import LiveServer, gunicorn_instances
from tests.live.flows import authorization_code, code_exchange, signed_in_browser, tls_session
from tests.oauth import s256

pytestmark = pytest.mark.live

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(r"^```(python|sh)\n(.*?)^```", flags=re.MULTILINE | re.DOTALL)
REDIRECT_URI = "https://docs.example.test/callback"
EXAMPLES = [
    (f"{path.name}#{index}", language, code)
    for path in sorted(DOCS.glob("*.md"))
    for index, (language, code) in enumerate(BLOCK.findall(path.read_text()))
]


@pytest.fixture(scope="module")
def docs_server(tmp_path_factory) -> Iterator[LiveServer]:
    # Its own instance: the examples sign in and authorize many times in a minute.
    with gunicorn_instances(tmp_path_factory.mktemp("docs"), count=1, suffix="docs", extra_env={}) as servers:
        yield servers[0]


@dataclass
class DocsWorld:
    server: LiveServer
    browser: requests.Session
    clients: dict[str, dict[str, str]]
    environment: dict[str, str]

    def callback(self, client: dict[str, str]) -> dict[str, str]:
        """A fresh sign-in for `client`, as the authorization-code guide has the reader do."""
        verifier, state, nonce = (secrets.token_urlsafe(n) for n in (48, 16, 16))
        query = {
            "response_type": "code",
            "client_id": client["client_id"],
            "redirect_uri": REDIRECT_URI,
            "scope": "openid read:profile",
            "state": state,
            "nonce": nonce,
            "code_challenge": s256(verifier),
            "code_challenge_method": "S256",
        }
        code = authorization_code(self.browser, self.server, query)
        callback_query = urlencode({"code": code, "state": state, "iss": self.server.url})
        return {
            "WETRIALS_CALLBACK_URL": f"{REDIRECT_URI}?{callback_query}",
            "WETRIALS_CODE": code,
            "WETRIALS_STATE": state,
            "WETRIALS_NONCE": nonce,
            "WETRIALS_CODE_VERIFIER": verifier,
        }

    def environment_for(self, code: str) -> dict[str, str]:
        """The base environment, plus the app client the example uses and, if it needs one,
        a fresh callback: a confidential client when it reads APP_CLIENT_SECRET, else public."""
        client = self.clients["confidential" if "APP_CLIENT_SECRET" in code else "public"]
        environment = self.environment | {"APP_CLIENT_ID": client["client_id"], "APP_REDIRECT_URI": REDIRECT_URI}
        if "APP_CLIENT_SECRET" in code:
            environment["APP_CLIENT_SECRET"] = client["client_secret"]
        if "WETRIALS_CALLBACK_URL" in code or "WETRIALS_CODE" in code:
            environment |= self.callback(client)
        return environment


@pytest.fixture(scope="module")
def docs_world(docs_server) -> DocsWorld:
    """What the examples read: the server, a service account, app clients and a user's access token."""
    server = docs_server
    service = server.register_service_account("Docs Export")
    scopes = ("--scope", "openid", "--scope", "read:profile")
    clients = {
        kind: server.register_client(
            "--name", f"Docs {kind} app", "--type", kind, "--redirect-uri", REDIRECT_URI, *scopes
        )
        for kind in ("public", "confidential")
    }
    world = DocsWorld(server=server, browser=signed_in_browser(server), clients=clients, environment={})
    callback = world.callback(clients["public"])
    token = (
        tls_session(server)
        .post(
            f"{server.url}/v1/oauth/token",
            data=code_exchange(
                callback["WETRIALS_CODE"],
                callback["WETRIALS_CODE_VERIFIER"],
                REDIRECT_URI,
                clients["public"]["client_id"],
            ),
            timeout=10,
        )
        .json()
    )
    ca = str(server.ca_bundle)
    world.environment = {
        "PATH": os.environ["PATH"],
        "WETRIALS_AUTH_SERVER": server.url,
        "WETRIALS_CLIENT_ID": service["client_id"],
        "WETRIALS_CLIENT_SECRET": service["client_secret"],
        "WETRIALS_ACCESS_TOKEN": token["access_token"],
        # The test server's certificate, for requests, urllib (PyJWKClient) and curl.
        "REQUESTS_CA_BUNDLE": ca,
        "SSL_CERT_FILE": ca,
        "CURL_CA_BUNDLE": ca,
    }
    return world


def test_the_docs_have_examples():
    assert {language for _, language, _ in EXAMPLES} == {"python", "sh"}


@pytest.mark.parametrize(("language", "code"), [example[1:] for example in EXAMPLES], ids=[e[0] for e in EXAMPLES])
def test_the_example_runs(docs_world, language, code):
    command = [sys.executable, "-c", code] if language == "python" else ["bash", "-euo", "pipefail", "-c", code]

    result = subprocess.run(
        command, env=docs_world.environment_for(code), capture_output=True, text=True, timeout=60, check=False
    )

    assert result.returncode == 0, result.stderr + result.stdout
    if language == "sh":
        assert '"access_token"' in result.stdout, result.stdout
