from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from oauth_apps.http import no_store, oauth_error

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
