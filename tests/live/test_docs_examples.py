"""Every code example in docs/ runs against a live server (gunicorn over TLS)."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tests.live.flows import authorization_code, signed_in_browser, tls_session
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
def example_environment(live_server_tls) -> dict[str, str]:
    """What the examples read: the server, a service account, and a user's access token."""
    server = live_server_tls
    service = server.register_service_account("Docs Export")
    app = server.register_client(
        "--name", "Docs App", "--type", "public", "--redirect-uri", REDIRECT_URI, "--scope", "read:profile"
    )
    verifier = secrets.token_urlsafe(48)
    query = {
        "response_type": "code",
        "client_id": app["client_id"],
        "redirect_uri": REDIRECT_URI,
        "scope": "read:profile",
        "state": "docs",
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
    }
    code = authorization_code(signed_in_browser(server), server, query)
    token = (
        tls_session(server)
        .post(
            f"{server.url}/v1/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "client_id": app["client_id"],
                "code_verifier": verifier,
            },
            timeout=10,
        )
        .json()
    )
    ca = str(server.ca_bundle)
    return {
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


def test_the_docs_have_examples():
    assert {language for _, language, _ in EXAMPLES} == {"python", "sh"}


@pytest.mark.parametrize(("language", "code"), [example[1:] for example in EXAMPLES], ids=[e[0] for e in EXAMPLES])
def test_the_example_runs(example_environment, language, code):
    command = [sys.executable, "-c", code] if language == "python" else ["bash", "-euo", "pipefail", "-c", code]

    result = subprocess.run(command, env=example_environment, capture_output=True, text=True, timeout=60, check=False)

    assert result.returncode == 0, result.stderr + result.stdout
    if language == "sh":
        assert '"access_token"' in result.stdout, result.stdout
