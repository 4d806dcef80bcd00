"""Symptom Diary: a third-party web app that signs people in with WeTrials.

It shows what an integrator writes: the Authorization Code flow with PKCE through Authlib,
`state`, `nonce` and `iss` checks, ID token verification against the server's JWKS, userinfo,
a call to `GET /v1/me`, refresh-token rotation, and sign-out that revokes the tokens.
Tokens stay on this server (in memory); the browser only holds a random session cookie.

    python examples/demo_app/app.py      # or `make demo`, which also starts WeTrials Auth

Environment: WETRIALS_ISSUER (http://127.0.0.1:8000), DEMO_CLIENT_ID (wetrials-demo),
DEMO_CLIENT_SECRET (for a confidential client; unset for a public one), DEMO_PORT (8765),
DEMO_CA_BUNDLE (a CA file to trust, for a server with a self-signed certificate).
"""

from __future__ import annotations

import html
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIServer, make_server

import jwt
import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session

SCOPE = "openid profile email read:profile"
SESSION_COOKIE = "diary_session"


@dataclass(frozen=True)
class Config:
    issuer: str
    client_id: str
    client_secret: str | None
    port: int
    ca_bundle: str | bool

    @classmethod
    def from_environment(cls) -> Config:
        return cls(
            issuer=os.environ.get("WETRIALS_ISSUER", "http://127.0.0.1:8000").rstrip("/"),
            client_id=os.environ.get("DEMO_CLIENT_ID", "wetrials-demo"),
            client_secret=os.environ.get("DEMO_CLIENT_SECRET") or None,
            port=int(os.environ.get("DEMO_PORT", "8765")),
            ca_bundle=os.environ.get("DEMO_CA_BUNDLE") or True,
        )

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/callback"


@dataclass
class Session:
    """What the app remembers about one browser: the pending sign-in or the signed-in user."""

    pending: dict[str, str] = field(default_factory=dict)
    token: dict[str, Any] | None = None
    profile: dict[str, Any] | None = None
    api_result: dict[str, Any] | None = None
    notice: str = ""


class WeTrials:
    """The authorization server as this app sees it, found through OpenID discovery."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._metadata: dict[str, Any] | None = None

    def client(self, token: dict[str, Any] | None = None) -> OAuth2Session:
        client = OAuth2Session(
            self.config.client_id,
            self.config.client_secret,
            scope=SCOPE,
            redirect_uri=self.config.redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic" if self.config.client_secret else "none",
            token=token,
        )
        client.verify = self.config.ca_bundle
        return client

    @property
    def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            discovery = f"{self.config.issuer}/.well-known/openid-configuration"
            response = self.client().get(discovery, withhold_token=True, timeout=10)
            response.raise_for_status()
            self._metadata = response.json()
        return self._metadata

    def id_token_claims(self, id_token: str, nonce: str) -> dict[str, Any]:
        """Verify the ID token's signature, issuer, audience, expiry and nonce (OIDC Core §3.1.3.7)."""
        jwks = self.client().get(self.metadata["jwks_uri"], withhold_token=True, timeout=10).json()
        key = jwt.PyJWKSet.from_dict(jwks)[jwt.get_unverified_header(id_token)["kid"]]
        claims = jwt.decode(
            id_token, key, algorithms=["RS256"], audience=self.config.client_id, issuer=self.config.issuer
        )
        if not secrets.compare_digest(claims.get("nonce", ""), nonce):
            raise OAuthError("invalid_nonce", "The ID token was not issued for this sign-in.")
        return claims


class DiaryApp:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.wetrials = WeTrials(config)
        self.sessions: dict[str, Session] = {}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        cookie = SimpleCookie(environ.get("HTTP_COOKIE", ""))
        session_id = cookie[SESSION_COOKIE].value if SESSION_COOKIE in cookie else ""
        if session_id not in self.sessions:
            session_id = secrets.token_urlsafe(32)
            self.sessions[session_id] = Session()
        session = self.sessions[session_id]
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/")
        routes = {
            ("GET", "/"): self.home,
            ("GET", "/login"): self.login,
            ("GET", "/callback"): self.callback,
            ("POST", "/api"): self.call_api,
            ("POST", "/refresh"): self.refresh,
            ("POST", "/logout"): self.logout,
        }
        handler = routes.get((method, path))
        if handler is None:
            status, headers, body = "404 Not Found", [], page("Not found", "<p>There is no such page.</p>")
        else:
            try:
                status, headers, body = handler(session, parse_qs(environ.get("QUERY_STRING", "")))
            except requests.RequestException:
                status, headers = "502 Bad Gateway", []
                body = page(
                    "WeTrials is not reachable", "<p>Symptom Diary could not reach WeTrials. Try again soon.</p>"
                )
        headers += [
            ("Set-Cookie", f"{SESSION_COOKIE}={session_id}; Path=/; HttpOnly; SameSite=Lax"),
            ("Cache-Control", "no-store"),
        ]
        if body:
            headers.append(("Content-Type", "text/html; charset=utf-8"))
        start_response(status, headers)
        return [body.encode()]

    def home(self, session: Session, query: dict[str, list[str]]) -> tuple[str, list, str]:
        notice = f'<p class="notice" role="status">{html.escape(session.notice)}</p>' if session.notice else ""
        session.notice = ""
        if session.token is None:
            content = (
                f"{notice}<p>Keep a private diary of your symptoms while you take part in a WeTrials study.</p>"
                '<p><a class="button" href="/login">Sign in with WeTrials</a></p>'
            )
            return "200 OK", [], page("Symptom Diary", content)
        profile, token = session.profile or {}, session.token
        rows = "".join(
            f"<tr><th scope='row'>{html.escape(name)}</th><td>{html.escape(str(value))}</td></tr>"
            for name, value in profile.items()
        )
        expires = time.strftime("%H:%M:%S UTC", time.gmtime(token["expires_at"]))
        api = html.escape(json.dumps(session.api_result, indent=2)) if session.api_result else "Not called yet."
        content = (
            f"{notice}<h2>Hello, {html.escape(profile.get('name') or profile.get('sub', ''))}</h2>"
            f"<p>Your WeTrials profile (from userinfo):</p><table class='profile'>{rows}</table>"
            f"<p>Access token valid until <strong id='expires'>{expires}</strong>, "
            f"scopes: <code>{html.escape(token.get('scope', ''))}</code>.</p>"
            f"<h2>WeTrials API: <code>GET /v1/me</code></h2><pre id='api-result'>{api}</pre>"
            '<form method="post" action="/api"><button type="submit">Call the WeTrials API</button></form>'
            '<form method="post" action="/refresh"><button type="submit">Refresh the access token</button></form>'
            '<form method="post" action="/logout"><button type="submit">Sign out</button></form>'
        )
        return "200 OK", [], page("Symptom Diary", content)

    def login(self, session: Session, query: dict[str, list[str]]) -> tuple[str, list, str]:
        verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(24)
        url, state = self.wetrials.client().create_authorization_url(
            self.wetrials.metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )
        session.pending = {"state": state, "verifier": verifier, "nonce": nonce}
        return "302 Found", [("Location", url)], ""

    def callback(self, session: Session, query: dict[str, list[str]]) -> tuple[str, list, str]:
        params = {name: values[0] for name, values in query.items()}
        pending, session.pending = session.pending, {}
        if not pending or not secrets.compare_digest(params.get("state", ""), pending["state"]):
            return self.failed("This sign-in was not started here (the state does not match). Please start again.")
        # RFC 9207: the response must come from the server the request went to (mix-up attacks).
        if params.get("iss") != self.wetrials.metadata["issuer"]:
            return self.failed("The sign-in response did not come from WeTrials.")
        if "error" in params:
            if params["error"] == "access_denied":
                return self.failed("You chose not to connect Symptom Diary to WeTrials (access_denied).")
            return self.failed(f"WeTrials could not sign you in ({params['error']}).")
        try:
            token = self.wetrials.client().fetch_token(
                self.wetrials.metadata["token_endpoint"],
                grant_type="authorization_code",
                code=params.get("code", ""),
                code_verifier=pending["verifier"],
            )
            claims = self.wetrials.id_token_claims(token["id_token"], pending["nonce"])
        except (OAuthError, jwt.InvalidTokenError) as exc:
            return self.failed(f"WeTrials could not sign you in ({exc}).")
        session.token = dict(token)
        session.profile = self.userinfo(session)
        if session.profile.get("sub") != claims["sub"]:
            session.token = None
            return self.failed("The profile does not belong to the person who signed in.")
        session.notice = "You are signed in with WeTrials."
        return "303 See Other", [("Location", "/")], ""

    def userinfo(self, session: Session) -> dict[str, Any]:
        response = self.wetrials.client(session.token).get(self.wetrials.metadata["userinfo_endpoint"], timeout=10)
        response.raise_for_status()
        return response.json()

    def call_api(self, session: Session, query: dict[str, list[str]]) -> tuple[str, list, str]:
        if session.token is None:
            return "303 See Other", [("Location", "/")], ""
        response = self.wetrials.client(session.token).get(f"{self.config.issuer}/v1/me", timeout=10)
        if response.status_code == 401 and self.rotate(session):
            response = self.wetrials.client(session.token).get(f"{self.config.issuer}/v1/me", timeout=10)
        if response.status_code == 401:
            self.forget(session)
            session.notice = "WeTrials no longer lets Symptom Diary see your data. Please sign in again."
        else:
            session.api_result = response.json()
            session.notice = f"The WeTrials API answered {response.status_code}."
        return "303 See Other", [("Location", "/")], ""

    def refresh(self, session: Session, query: dict[str, list[str]]) -> tuple[str, list, str]:
        if session.token is not None:
            if self.rotate(session):
                session.notice = "Your access token was refreshed."
            else:
                self.forget(session)
                session.notice = "Your WeTrials sign-in has ended. Please sign in again."
        return "303 See Other", [("Location", "/")], ""

    def rotate(self, session: Session) -> bool:
        """Swap the refresh token for a new pair; the old one is spent (WeTrials rotates them)."""
        try:
            token = self.wetrials.client().refresh_token(
                self.wetrials.metadata["token_endpoint"], refresh_token=session.token["refresh_token"]
            )
        except OAuthError:
            return False
        session.token = dict(token)
        return True

    def logout(self, session: Session, query: dict[str, list[str]]) -> tuple[str, list, str]:
        if session.token is not None:
            # Revoking the refresh token ends its whole family, the access token included.
            self.wetrials.client().revoke_token(
                self.wetrials.metadata["revocation_endpoint"],
                token=session.token["refresh_token"],
                token_type_hint="refresh_token",  # noqa: S106 - a parameter name, not a password
            )
        self.forget(session)
        session.notice = "You are signed out of Symptom Diary."
        return "303 See Other", [("Location", "/")], ""

    @staticmethod
    def forget(session: Session) -> None:
        session.token = session.profile = session.api_result = None

    @staticmethod
    def failed(message: str) -> tuple[str, list, str]:
        content = f'<p class="alert" role="alert">{html.escape(message)}</p><p><a href="/">Back to the diary</a></p>'
        return "400 Bad Request", [], page("Sign-in did not complete", content)


def page(title: str, content: str) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} · Symptom Diary</title>
<style>
body {{ margin: 0; font: 16px/1.5 system-ui, sans-serif; color: #222; background: #fbf7f2; }}
header {{ background: #7a3e9d; color: #fff; padding: 0.75rem 1.25rem; font-weight: 700; }}
main {{ max-width: 40rem; margin: 1.5rem auto; padding: 0 1rem; }}
a.button, button {{ display: inline-block; padding: 0.6rem 1.1rem; font-size: 1rem; border-radius: 0.35rem;
  border: 1px solid #7a3e9d; background: #7a3e9d; color: #fff; text-decoration: none; cursor: pointer; }}
form {{ display: inline-block; margin: 0.5rem 0.5rem 0 0; }}
pre {{ background: #fff; border: 1px solid #ddd; padding: 0.75rem; overflow-x: auto; }}
th {{ text-align: left; padding-right: 1rem; }}
.notice {{ border-left: 4px solid #1e7b34; background: #eef8f0; padding: 0.5rem 0.75rem; }}
.alert {{ border-left: 4px solid #a4262c; background: #fdf1f1; padding: 0.5rem 0.75rem; }}
</style></head>
<body><header>Symptom Diary</header><main><h1>{html.escape(title)}</h1>{content}</main></body></html>"""


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def main() -> None:
    config = Config.from_environment()
    with make_server("127.0.0.1", config.port, DiaryApp(config), server_class=ThreadingWSGIServer) as server:
        print(f"Symptom Diary on http://127.0.0.1:{config.port}/ (signs in with {config.issuer})", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
