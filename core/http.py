"""Responses and request checks shared by the OAuth endpoints."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import BadRequest, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.csrf import csrf_exempt

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")


# RFC 6749 §5.2 makes error_description optional; every error here carries one.
ERROR_DESCRIPTIONS = {
    "invalid_request": "The request is missing a parameter, repeats one, or is otherwise malformed.",
    "invalid_client": "Client authentication failed.",
    "invalid_grant": "The code or refresh token is invalid, expired, revoked, or was issued to another client.",
    "unauthorized_client": "This client is not allowed to use this grant type.",
    "unsupported_grant_type": "This grant type is not supported.",
    "invalid_scope": "The requested scope is invalid, unknown, or exceeds what this client may ask for.",
}


def with_error_description(body: str) -> str:
    """Fill in a missing error_description in an oauthlib JSON error body."""
    try:
        payload = json.loads(body)
    except ValueError:
        return body
    if isinstance(payload, dict) and payload.get("error") and not payload.get("error_description"):
        payload["error_description"] = ERROR_DESCRIPTIONS.get(payload["error"], "The request was refused.")
        return json.dumps(payload)
    return body


def oauth_error(error: str, description: str, *, status: int = 400) -> JsonResponse:
    """An RFC 6749 §5.2 error body."""
    return JsonResponse({"error": error, "error_description": description}, status=status)


def body_parse_problem(request: HttpRequest) -> str | None:
    """Why Django can't parse the request's form body, or None if it can (or has none)."""
    try:
        request.POST  # noqa: B018 - Django parses the body on first access
    except RequestDataTooBig:
        return "The request body is too large."
    except (TooManyFieldsSent, TooManyFilesSent):
        return "The request has too many parameters."
    except BadRequest:
        return "The request body must be UTF-8 encoded."
    except MultiPartParserError:
        return "The multipart request body could not be parsed."
    return None


def form_body_problem(request: HttpRequest) -> str | None:
    """Why a form-encoded OAuth request body can't be processed, or None if it can."""
    if request.content_type != FORM_CONTENT_TYPE:
        return f"The request body must be {FORM_CONTENT_TYPE}."
    problem = body_parse_problem(request)
    if problem:
        return problem
    for name, values in request.POST.lists():
        if len(values) > 1:
            # RFC 6749 §3.1/§3.2: parameters must not be included more than once.
            return f"The parameter {name!r} is repeated."
        if CONTROL_CHARACTER.search(name) or CONTROL_CHARACTER.search(values[0]):
            return f"The parameter {name!r} contains control characters."
    return None


def no_store(response: JsonResponse) -> JsonResponse:
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


def json_get_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """GET (and HEAD) only; any other method is a JSON 405, as on the other OAuth endpoints."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            response = oauth_error("invalid_request", f"{request.path} accepts GET only.", status=405)
            response["Allow"] = "GET, HEAD"
            return response
        return view(request, *args, **kwargs)

    return csrf_exempt(wrapper)
