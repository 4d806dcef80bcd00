"""CORS for the endpoints a single-page app calls from the browser: token, revoke, userinfo.

An origin is echoed back (never `*`, never with credentials) only when it is registered
on the client the request is for; a preflight names no client, so it is allowed for an
origin registered on any client. Every other page sends no CORS headers at all.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers

from oauth_apps.models import Application

PREFLIGHT_MAX_AGE_SECONDS = 600
ALLOWED_HEADERS = "Authorization, Content-Type"


def origin_registered(origin: str) -> bool:
    """Whether any client lists `origin` among its allowed origins."""
    candidates = Application.objects.filter(allowed_origins__contains=origin).only("allowed_origins")
    return any(application.origin_allowed(origin) for application in candidates)


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
