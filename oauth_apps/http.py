"""Responses and request checks shared by the OAuth endpoints."""

from __future__ import annotations

from django.core.exceptions import BadRequest, RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, JsonResponse

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


def oauth_error(error: str, description: str, *, status: int = 400) -> JsonResponse:
    """An RFC 6749 §5.2 error body."""
    return JsonResponse({"error": error, "error_description": description}, status=status)


def form_body_problem(request: HttpRequest) -> str | None:
    """Why a form-encoded OAuth request body can't be processed, or None if it can."""
    if request.content_type != FORM_CONTENT_TYPE:
        return f"The request body must be {FORM_CONTENT_TYPE}."
    try:
        params = request.POST.lists()
    except RequestDataTooBig:
        return "The request body is too large."
    except TooManyFieldsSent:
        return "The request has too many parameters."
    except BadRequest:
        return "The request body must be UTF-8 encoded."
    for name, values in params:
        if len(values) > 1:
            # RFC 6749 §3.1/§3.2: parameters must not be included more than once.
            return f"The parameter {name!r} is repeated."
        if any(ord(ch) < 0x20 or ch == "\x7f" for ch in name + values[0]):
            return f"The parameter {name!r} contains control characters."
    return None


def no_store(response: JsonResponse) -> JsonResponse:
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response
