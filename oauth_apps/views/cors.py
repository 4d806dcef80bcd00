"""CORS for the endpoints a single-page app calls from the browser: token, revoke, userinfo.

An origin is echoed back (never `*`, never with credentials) only when it is registered
on the client the request is for; a preflight names no client, so it is allowed for an
origin registered on any client. Every other page sends no CORS headers at all.

Anyone may send a preflight, unauthenticated and unthrottled, so answering one reads no
table: each process keeps the set of registered origins for OAUTH_SCOPE_REFRESH_SECONDS
(as it does scopes). Saving or deleting a client clears it at once in the process that did
it (oauth_apps.signals); other processes see the change within that time.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers

from oauth_apps.models import Application

PREFLIGHT_MAX_AGE_SECONDS = 600
ALLOWED_HEADERS = "Authorization, Content-Type"


class _ProcessCopy:
    origins: frozenset[str] | None = None
    loaded_at = 0.0
    # Bumped by every forget, so a load that raced a change doesn't keep the old set.
    generation = 0


def registered_origins() -> frozenset[str]:
    """Every origin any client lists among its allowed origins."""
    origins = _ProcessCopy.origins
    if origins is None or time.monotonic() - _ProcessCopy.loaded_at >= settings.OAUTH_SCOPE_REFRESH_SECONDS:
        generation = _ProcessCopy.generation
        origins = _origins_from_database()
        if generation == _ProcessCopy.generation:
            _ProcessCopy.origins, _ProcessCopy.loaded_at = origins, time.monotonic()
    return origins


def _origins_from_database() -> frozenset[str]:
    listed = Application.objects.exclude(allowed_origins="").values_list("allowed_origins", flat=True)
    return frozenset(origin for origins in listed for origin in origins.split())


def registered_origins_forget() -> None:
    _ProcessCopy.generation += 1
    _ProcessCopy.origins = None


def origin_registered(origin: str) -> bool:
    """Whether any client lists `origin` among its allowed origins (Application.origin_allowed)."""
    return origin in registered_origins()


def cors_preflight(request: HttpRequest, *, methods: Sequence[str]) -> HttpResponse:
    response = HttpResponse(status=204)
    response["Allow"] = ", ".join([*methods, "OPTIONS"])
    patch_vary_headers(response, ["Origin"])
    origin = request.headers.get("Origin", "")
    if origin and origin_registered(origin):
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Methods"] = ", ".join(methods)
        response["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        response["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE_SECONDS)
    return response


def cors_allow(request: HttpRequest, response: HttpResponse, application: Application | None) -> HttpResponse:
    """Let the browser hand `response` to the page only if its origin belongs to `application`."""
    del response["Access-Control-Allow-Origin"]  # oauthlib's own, for some grants only
    patch_vary_headers(response, ["Origin"])
    origin = request.headers.get("Origin", "")
    if origin and application is not None and application.origin_allowed(origin):
        response["Access-Control-Allow-Origin"] = origin
    return response
