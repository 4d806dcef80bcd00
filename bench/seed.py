"""Create what the benchmark needs in the bench database, through the project's services, and
count the SQL statements of one request per workload. Run by bench/run.py with the server's
environment; writes the credentials to BENCH_DIR/fixtures.json and the single-use values
(authorization codes, refresh-token chains) to BENCH_DIR/*.txt."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402
from django.utils.crypto import get_random_string  # noqa: E402
from oauth2_provider.models import get_grant_model  # noqa: E402

from bench import WORK_FLOOR  # noqa: E402
from oauth_apps.keys import key_ring  # noqa: E402
from oauth_apps.models import Application, TokenFamily  # noqa: E402
from oauth_apps.oauth2.tokens import authorization_code_family  # noqa: E402
from oauth_apps.services import application_register, consent_record  # noqa: E402

REDIRECT_URI = "https://bench.example.test/callback"
SCOPE = "openid read:profile"
VERIFIER = secrets.token_urlsafe(48)
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()
FORM = "application/x-www-form-urlencoded"
# Counted apart, as the test suite's savepoints are: a request's own transaction.
TRANSACTION_CONTROL = {"BEGIN", "COMMIT"}


def work_floor_mounted() -> bool:
    """Whether these settings mount bench/work_floor.py (the bench's do; the outage drill's and
    the fuzzer's servers, which seed with this script too, run the project as shipped)."""
    return settings.ROOT_URLCONF == "bench.work_floor"


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def mint_codes(application: Application, user: Any, count: int) -> list[str]:
    """Authorization codes as the authorize endpoint stores them, valid for the whole run."""
    codes = [secrets.token_urlsafe(24) for _ in range(count)]
    expires = timezone.now() + timedelta(hours=2)
    get_grant_model().objects.bulk_create(
        [
            get_grant_model()(
                code=code,
                application=application,
                user=user,
                expires=expires,
                redirect_uri=REDIRECT_URI,
                scope=SCOPE,
                code_challenge=CHALLENGE,
                code_challenge_method="S256",
            )
            for code in codes
        ],
        batch_size=2000,
    )
    # The authorization each code starts, as the consent step records it.
    TokenFamily.objects.bulk_create(
        [
            TokenFamily(
                family=authorization_code_family(code),
                user=user,
                application=application,
                scope=SCOPE,
                auth_time=timezone.now(),
            )
            for code in codes
        ],
        batch_size=2000,
    )
    return codes


def main() -> None:
    out = Path(os.environ["BENCH_DIR"])
    # Single-use values for each wrk invocation (warm-up and runs): nothing is presented twice.
    invocations, codes_each, chains = (int(arg) for arg in sys.argv[1:4])
    user = get_user_model().objects.create_user(
        "bench", password=secrets.token_urlsafe(16), first_name="Bea", last_name="Bench", email="bench@example.org"
    )
    web_app, web_secret = application_register(
        name="Bench Web App",
        client_type="confidential",
        redirect_uris=[REDIRECT_URI],
        scopes=["openid", "read:profile"],
    )
    service, service_secret = application_register(
        name="Bench Service",
        client_type="confidential",
        grant_type="client-credentials",
        scopes=["read:participants"],
        owner=user,
    )
    consent_record(user=user, application=web_app, scopes=SCOPE.split())
    key_ring.active()

    http = Client(HTTP_HOST="127.0.0.1")
    code_body = {"grant_type": "authorization_code", "redirect_uri": REDIRECT_URI, "code_verifier": VERIFIER}
    web_auth = {"HTTP_AUTHORIZATION": basic(web_app.client_id, web_secret)}

    def exchange(code: str) -> dict:
        response = http.post("/v1/oauth/token", urlencode({**code_body, "code": code}), content_type=FORM, **web_auth)
        assert response.status_code == 200, response.content
        return response.json()

    for invocation in range(invocations):
        refresh_tokens = [exchange(code)["refresh_token"] for code in mint_codes(web_app, user, chains)]
        (out / f"refresh_tokens-{invocation}.txt").write_text("\n".join(refresh_tokens) + "\n")
        (out / f"codes-{invocation}.txt").write_text("\n".join(mint_codes(web_app, user, codes_each)) + "\n")
        if work_floor_mounted():
            work_codes = mint_codes(web_app, user, codes_each)
            (out / f"work_codes-{invocation}.txt").write_text("\n".join(work_codes) + "\n")
    tokens = exchange(mint_codes(web_app, user, 1)[0])

    browser = Client(HTTP_HOST="127.0.0.1")
    browser.force_login(user)
    csrf = get_random_string(32)  # the CSRF secret's own alphabet and length
    consent = {
        "csrfmiddlewaretoken": csrf,
        "client_id": web_app.client_id,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": SCOPE,
        "state": "bench",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
        "allow": "Allow",
    }
    browser.cookies["csrftoken"] = csrf
    fixtures = {
        "code_exchange_body": urlencode(code_body) + "&code=VALUE",
        "refresh_body": "grant_type=refresh_token&refresh_token=VALUE",
        "web_authorization": basic(web_app.client_id, web_secret),
        "service_authorization": basic(service.client_id, service_secret),
        "access_token": tokens["access_token"],
        "consent_body": urlencode(consent),
        "browser_cookie": f"sessionid={browser.cookies['sessionid'].value}; csrftoken={csrf}",
    }
    (out / "fixtures.json").write_text(json.dumps(fixtures))
    (out / "sql_counts.json").write_text(json.dumps(sql_counts(http, browser, fixtures, web_app, user)))


def sql_counts(http: Client, browser: Client, fixtures: dict, web_app: Application, user: Any) -> dict[str, int]:
    """Statements per request as Django counts them, after one warm-up request each."""
    spare_codes = iter(mint_codes(web_app, user, 5))
    chain = [
        http.post(
            "/v1/oauth/token",
            fixtures["code_exchange_body"].replace("VALUE", next(spare_codes)),
            content_type=FORM,
            HTTP_AUTHORIZATION=fixtures["web_authorization"],
        ).json()["refresh_token"]
    ]

    def refresh() -> HttpResponse:
        response = http.post(
            "/v1/oauth/token",
            fixtures["refresh_body"].replace("VALUE", chain[-1]),
            content_type=FORM,
            HTTP_AUTHORIZATION=fixtures["web_authorization"],
        )
        chain.append(response.json()["refresh_token"])
        return response

    bearer = {"HTTP_AUTHORIZATION": f"Bearer {fixtures['access_token']}"}
    workloads = {
        "code exchange": lambda: http.post(
            "/v1/oauth/token",
            fixtures["code_exchange_body"].replace("VALUE", next(spare_codes)),
            content_type=FORM,
            HTTP_AUTHORIZATION=fixtures["web_authorization"],
        ),
        WORK_FLOOR: lambda: http.post(
            "/bench/code-exchange-work",
            fixtures["code_exchange_body"].replace("VALUE", next(spare_codes)),
            content_type=FORM,
            HTTP_AUTHORIZATION=fixtures["web_authorization"],
        ),
        "refresh rotation": refresh,
        "client credentials": lambda: http.post(
            "/v1/oauth/token",
            "grant_type=client_credentials&scope=read:participants",
            content_type=FORM,
            HTTP_AUTHORIZATION=fixtures["service_authorization"],
        ),
        "introspection": lambda: http.post(
            "/v1/oauth/introspect",
            urlencode({"token": fixtures["access_token"]}),
            content_type=FORM,
            HTTP_AUTHORIZATION=fixtures["service_authorization"],
        ),
        "userinfo": lambda: http.get("/v1/oauth/userinfo", **bearer),
        "jwks": lambda: http.get("/v1/oauth/jwks"),
        "authorize POST (consent)": lambda: browser.post(
            "/v1/oauth/authorize", fixtures["consent_body"], content_type=FORM
        ),
        "healthz (floor)": lambda: http.get("/healthz"),
    }
    if not work_floor_mounted():
        del workloads[WORK_FLOOR]
    counts = {}
    for name, send in workloads.items():
        send()
        with CaptureQueriesContext(connection) as queries:
            response = send()
        assert response.status_code in (200, 302), (name, response.status_code, response.content[:200])
        if name == "authorize POST (consent)":
            assert "code" in parse_qs(urlsplit(response["Location"]).query), response["Location"]
        counts[name] = sum(query["sql"] not in TRANSACTION_CONTROL for query in queries)
    return counts


if __name__ == "__main__":
    main()
