"""DRF errors as RFC 6750 errors (REST_FRAMEWORK["EXCEPTION_HANDLER"])."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, status
from rest_framework.response import Response

from oauth_apps.contrib.rest_framework.authentication import REALM
from oauth_apps.contrib.rest_framework.permissions import InsufficientScope

ERROR_CODES = {
    status.HTTP_400_BAD_REQUEST: "invalid_request",
    status.HTTP_401_UNAUTHORIZED: "invalid_token",
    status.HTTP_403_FORBIDDEN: "insufficient_scope",
    status.HTTP_429_TOO_MANY_REQUESTS: "rate_limited",
}


def error_description(exc: Exception) -> str:
    """What went wrong, in words: simplejwt's errors carry a dict, DRF's a string."""
    detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
    if isinstance(detail, dict):
        detail = detail.get("detail", "The request was refused.")
    return str(detail)


def bearer_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF errors as RFC 6750 §3 errors: `{"error", "error_description"}` and, for 401 and
    403, a `WWW-Authenticate: Bearer` challenge that says what was wrong."""
    # Imported here: DRF loads this module while rest_framework.views itself is loading.
    from rest_framework.views import exception_handler

    response = exception_handler(exc, context)
    if response is None:
        return None
    request = context["request"]
    if isinstance(exc, exceptions.NotAuthenticated) and not request.META.get("HTTP_AUTHORIZATION"):
        # No token at all: RFC 6750 §3.1 sends a bare challenge and no error code.
        response.data = {"error": "invalid_request", "error_description": "A bearer token is required."}
        response["WWW-Authenticate"] = f'Bearer realm="{REALM}"'
        return response
    error = ERROR_CODES.get(response.status_code, "invalid_request")
    response.data = {"error": error, "error_description": error_description(exc)}
    if isinstance(exc, InsufficientScope):
        scopes = " ".join(sorted(exc.scopes))
        response["WWW-Authenticate"] = f'Bearer realm="{REALM}", error="insufficient_scope", scope="{scopes}"'
    elif response.status_code == status.HTTP_401_UNAUTHORIZED:
        response["WWW-Authenticate"] = f'Bearer realm="{REALM}", error="invalid_token"'
    return response
