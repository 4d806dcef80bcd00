"""The OIDC userinfo endpoint: a plain Django view.

It answers as the DRF APIs do (the kit's authentication, RFC 6750 errors from
`bearer_error`) without DRF's request wrapping, content negotiation and exception handling,
which cost it more CPU than anything it needs them for (bench/README.md).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from rest_framework.exceptions import AuthenticationFailed, Throttled

from accounts.claims import user_claims
from core import ratelimits
from core.http import body_parse_problem, no_store
from core.middleware import request_log_client
from core.ratelimits import RateLimitExceeded, limit_count
from oauth_apps.contrib.rest_framework.authentication import REALM
from oauth_apps.contrib.rest_framework.exceptions import error_description
from oauth_apps.selectors import application_by_client_id
from oauth_apps.views.authentication import RevocationCheckedAccessTokenAuthentication
from oauth_apps.views.cors import cors_allow, cors_preflight

AUTHENTICATION = RevocationCheckedAccessTokenAuthentication()


def bearer_error(error: str, description: str, *, status: int, challenge: bool = False) -> JsonResponse:
    """RFC 6750 §3: the error, and for 401 a `WWW-Authenticate: Bearer` challenge that names
    it (bare when no token was sent: §3.1)."""
    response = no_store(JsonResponse({"error": error, "error_description": description}, status=status))
    if status == 401:
        response["WWW-Authenticate"] = (
            f'Bearer realm="{REALM}", error="{error}"' if challenge else f'Bearer realm="{REALM}"'
        )
    return response


def token_sent_elsewhere(request: HttpRequest) -> str | None:
    """Why the request can't be read, when it sends the token as a parameter (RFC 6750 §2.2
    and §2.3 are not offered) or a body Django can't parse; else None."""
    if "access_token" in request.GET:
        return "Send the access token in the Authorization header only."
    if request.method != "POST":
        return None
    problem = body_parse_problem(request)
    if problem:
        return problem
    return "Send the access token in the Authorization header only." if "access_token" in request.POST else None


@method_decorator(csrf_exempt, name="dispatch")
class UserInfoView(View):
    """OIDC Core §5.3: the claims of the token's user, by the token's scopes.

    The token is checked against the database too, so a revoked one fails at once even
    though its signature still verifies.
    """

    http_method_names = ["get", "post", "head", "options"]

    def get(self, request: HttpRequest) -> HttpResponse:
        response, client_id = self.answer(request)
        # The client the token was issued to, once the token proved good: in the log and,
        # for a browser app, in the CORS headers.
        request_log_client(client_id)
        if "Origin" not in request.headers:
            return response
        application = application_by_client_id(client_id=client_id) if client_id else None
        return cors_allow(request, response, application)

    @staticmethod
    def answer(request: HttpRequest) -> tuple[HttpResponse, str | None]:
        problem = token_sent_elsewhere(request)
        if problem:
            return bearer_error("invalid_request", problem, status=400), None
        try:
            authenticated = AUTHENTICATION.authenticate(request)
        except AuthenticationFailed as exc:
            return bearer_error("invalid_token", error_description(exc), status=401, challenge=True), None
        if authenticated is None:
            if request.META.get("HTTP_AUTHORIZATION"):
                description = "The Authorization header must be 'Bearer <token>'."
                return bearer_error("invalid_token", description, status=401, challenge=True), None
            return bearer_error("invalid_request", "A bearer token is required.", status=401), None
        user, token = authenticated
        try:
            limit_count(ratelimits.USERINFO, f"user:{token['sub']}")
        except RateLimitExceeded as exc:
            response = bearer_error("rate_limited", str(Throttled(wait=exc.retry_after).detail), status=429)
            response["Retry-After"] = str(exc.retry_after)
            return response, token["client_id"]
        if token.is_service_account:
            description = "This token was issued to a service account, not a user."
            return bearer_error("invalid_token", description, status=401, challenge=True), token["client_id"]
        return no_store(JsonResponse(user_claims(user=user, scopes=token.scopes))), token["client_id"]

    post = get

    def options(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # A CORS preflight carries no token.
        return cors_preflight(request, methods=["GET", "POST"])

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = bearer_error("invalid_request", f'Method "{request.method}" not allowed.', status=405)
        response["Allow"] = "GET, POST, HEAD, OPTIONS"
        return response
