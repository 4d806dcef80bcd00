"""Site-wide views: liveness, readiness and the server-error handler."""

from __future__ import annotations

import sys

from django.core.cache import cache
from django.db import connection
from django.db.utils import Error as DatabaseError
from django.db.utils import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader

from core.http import json_get_only, no_store, oauth_error
from core.middleware import JSON_PATH_PREFIXES

# Connection-level failures: the database is down or restarting, not a bug.
DATABASE_UNAVAILABLE_ERRORS = (OperationalError, InterfaceError)
RETRY_AFTER_OUTAGE_SECONDS = 5


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500. A database outage is a 503 the client can retry; anything else a plain
    500. Never a stack trace: JSON on the API, a page for people."""
    unavailable = isinstance(sys.exc_info()[1], DATABASE_UNAVAILABLE_ERRORS)
    status = 503 if unavailable else 500
    if request.path.startswith(JSON_PATH_PREFIXES):
        if unavailable:
            response = oauth_error(
                "temporarily_unavailable", "The service is briefly unavailable; retry shortly.", status=503
            )
        else:
            response = oauth_error("server_error", "The server failed to handle this request.", status=500)
    else:
        template = "temporarily_unavailable.html" if unavailable else "500.html"
        response = HttpResponse(loader.render_to_string(template), status=status)
    if unavailable:
        response["Retry-After"] = str(RETRY_AFTER_OUTAGE_SECONDS)
    return no_store(response)


@json_get_only
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@json_get_only
def readyz(request: HttpRequest) -> JsonResponse:
    checks = {"database": True, "cache": True}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        checks["database"] = False
    try:
        cache.set("readyz", "1", timeout=5)
    except Exception:  # any cache backend failure means "not ready"
        checks["cache"] = False
    ready = all(checks.values())
    return JsonResponse({"status": "ready" if ready else "not ready", **checks}, status=200 if ready else 503)
