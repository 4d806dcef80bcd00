"""Run once through each path bench/scale.py times, capture every SQL statement Django sends,
and EXPLAIN it against the data as it is (ANALYZE for reads, the plan only for writes).
Also signs in the probe user (seven connected apps) and writes its session cookie for the
timing run. Run by bench/scale.py with the server's environment and BENCH_DIR set."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from urllib.parse import urlencode

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.seed import FORM, REDIRECT_URI, VERIFIER, mint_codes  # noqa: E402
from oauth_apps.models import Application  # noqa: E402
from oauth_apps.selectors import expired_token_querysets  # noqa: E402
from oauth_apps.services import access_revoke, consent_record  # noqa: E402

BIG_TABLES = (
    "oauth2_provider_accesstoken",
    "oauth2_provider_refreshtoken",
    "oauth_apps_auditevent",
    "oauth_apps_consent",
    "accounts_user",
)
SEQ_SCAN = re.compile(r"Seq Scan on (\w+)")
SKIPPED = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK", "SET ", "SHOW ")


def probe_user() -> tuple[object, list[Application]]:
    user, _ = get_user_model().objects.get_or_create(
        username="probe", defaults={"first_name": "Pat", "last_name": "Probe", "email": "probe@example.org"}
    )
    clients = list(Application.objects.filter(name__startswith="Scale client").order_by("name"))
    for client in clients:
        consent_record(user=user, application=client, scopes=["openid", "read:profile"])
    return user, clients


def explain(sql: str) -> str:
    is_read = sql.lstrip().upper().startswith("SELECT")
    with connection.cursor() as cursor:
        cursor.execute(("EXPLAIN (ANALYZE, BUFFERS) " if is_read else "EXPLAIN ") + sql)
        return "\n".join(row[0] for row in cursor.fetchall())


def main() -> None:
    out = Path(os.environ["BENCH_DIR"])
    fixtures = json.loads((out / "fixtures.json").read_text())
    user, clients = probe_user()
    browser = Client(HTTP_HOST="127.0.0.1")
    browser.force_login(user)
    (out / "probe_cookie.txt").write_text(f"sessionid={browser.cookies['sessionid'].value}")

    http = Client(HTTP_HOST="127.0.0.1")
    web_app = Application.objects.get(name="Bench Web App")
    bench_user = get_user_model().objects.get(username="bench")
    web = {"HTTP_AUTHORIZATION": fixtures["web_authorization"]}
    service = {"HTTP_AUTHORIZATION": fixtures["service_authorization"]}
    state: dict[str, str] = {}

    # This process's codes carry its own PKCE challenge (bench.seed makes one per process);
    # minted before the capture, as the authorize endpoint would have.
    codes = iter(mint_codes(web_app, bench_user, 2))

    def exchange() -> HttpResponse:
        code = next(codes)
        body = urlencode(
            {"grant_type": "authorization_code", "redirect_uri": REDIRECT_URI, "code_verifier": VERIFIER, "code": code}
        )
        response = http.post("/v1/oauth/token", body, content_type=FORM, **web)
        state["refresh_token"] = response.json()["refresh_token"]
        return response

    def refresh() -> HttpResponse:
        body = fixtures["refresh_body"].replace("VALUE", state["refresh_token"])
        response = http.post("/v1/oauth/token", body, content_type=FORM, **web)
        state["refresh_token"] = response.json()["refresh_token"]
        return response

    def revoke_one_connected_app() -> None:
        access_revoke(actor="user", user=user, application=clients[-1], actor_user=user)

    paths = {
        "code exchange": exchange,
        "refresh rotation": refresh,
        "introspection": lambda: http.post(
            "/v1/oauth/introspect", urlencode({"token": fixtures["access_token"]}), content_type=FORM, **service
        ),
        "userinfo": lambda: http.get("/v1/oauth/userinfo", HTTP_AUTHORIZATION=f"Bearer {fixtures['access_token']}"),
        "connected apps page": lambda: browser.get("/accounts/apps/"),
        "connected-app revoke": revoke_one_connected_app,
    }
    report: dict[str, list[dict[str, str | bool]]] = {}
    for name, send in paths.items():
        if name != "connected-app revoke":
            send()  # warm: caches, prepared keys
        with CaptureQueriesContext(connection) as queries:
            response = send()
        if response is not None:
            assert response.status_code == 200, (name, response.status_code, response.content[:300])
        statements = [q["sql"] for q in queries if not q["sql"].upper().startswith(SKIPPED)]
        report[name] = [plan_entry(sql, explain(sql)) for sql in statements]

    report["purge_tokens batches"] = purge_tokens_plans()
    (out / "explain.json").write_text(json.dumps(report, indent=1))


def plan_entry(sql: str, plan: str) -> dict[str, str | bool]:
    scanned = sorted({table for table in SEQ_SCAN.findall(plan) if table in BIG_TABLES})
    return {"sql": sql, "plan": plan, "seq_scans_of_big_tables": ", ".join(scanned)}


def purge_tokens_plans() -> list[dict[str, str | bool]]:
    """The batch queries of `manage.py purge_tokens` (oauth_apps.services.expired_tokens_delete):
    the first page of each kind and a page resuming from a cursor. Its deletes are by primary key."""
    entries = []
    for _kind, queryset, key in expired_token_querysets(now=timezone.now()):
        first_page = queryset.order_by(key).values_list("pk", key)[:1000]
        cursor = first_page[len(first_page) - 1][1] if first_page else None
        pages = [first_page] + (
            [queryset.filter(**{f"{key}__gte": cursor}).order_by(key).values_list("pk", key)[:1000]]
            if cursor is not None
            else []
        )
        for page in pages:
            sql, params = page.query.sql_with_params()
            with connection.cursor() as database:
                statement = database.mogrify(sql, params)
            entries.append(plan_entry(statement, explain(statement)))
    return entries


if __name__ == "__main__":
    main()
