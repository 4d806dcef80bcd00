from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from contextvars import ContextVar

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from core.http import no_store, oauth_error

EXEMPT_PATHS = frozenset({"/healthz", "/readyz"})
JSON_PATH_PREFIXES = ("/v1/", "/.well-known/")


class RequireHttpsMiddleware:
    """Refuse plain-HTTP requests (OAUTH_REQUIRE_HTTPS) instead of redirecting them.

    A redirect to https would come too late: the credentials have already crossed the
    network in clear text, and the client would learn nothing from it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.OAUTH_REQUIRE_HTTPS and not request.is_secure() and request.path not in EXEMPT_PATHS:
            if request.path.startswith(JSON_PATH_PREFIXES):
                return no_store(oauth_error("invalid_request", "HTTPS is required"))
            return HttpResponse(
                "HTTPS is required: open this page with https://.", status=400, content_type="text/plain"
            )
        return self.get_response(request)


# No form-action: browsers apply it to the redirects that follow a form post, and after
# sign-in or consent those lead to the client's redirect URI on another site.
PAGE_CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"


class PageSecurityPolicyMiddleware:
    """Give every HTML page of ours (sign-in, consent, account pages) a Content-Security-Policy
    that allows only our own assets and no framing. The admin keeps Django's defaults."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        is_page = response.get("Content-Type", "").startswith("text/html")
        if is_page and not request.path.startswith("/admin/"):
            response.setdefault("Content-Security-Policy", PAGE_CSP)
        return response


request_log = logging.getLogger("wetrials.requests")

_logged_client_id: ContextVar[str | None] = ContextVar("logged_client_id", default=None)


def request_log_client(client_id: str | None) -> None:
    """Name the client in the request's log line (views call it once they know which)."""
    _logged_client_id.set(client_id)


class OAuthRequestLogMiddleware:
    """One structured line per OAuth request: endpoint, method, status, client id, outcome and
    duration. Nothing else from the request is logged: no token, code, secret or password
    ever reaches a log line. Views name the client with `request_log_client`."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith("/v1/"):
            return self.get_response(request)
        started = time.perf_counter()
        token = _logged_client_id.set(None)
        try:
            response = self.get_response(request)
            client_id = _logged_client_id.get()
        finally:
            _logged_client_id.reset(token)
        request_log.info(
            json.dumps(
                {
                    "endpoint": request.path,
                    "method": request.method,
                    "status": response.status_code,
                    "client_id": client_id,
                    "outcome": _outcome(response),
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                }
            )
        )
        return response


def _outcome(response: HttpResponse) -> str:
    if response.status_code < 400:
        return "ok"
    if response.get("Content-Type", "").startswith("application/json"):
        try:
            error = json.loads(response.content).get("error")
        except (ValueError, AttributeError):
            error = None
        if isinstance(error, str):
            return error
    return f"http_{response.status_code}"
