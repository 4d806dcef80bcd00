from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.contrib.auth import logout
from django.core.cache import cache
from django.db import connection, transaction
from django.db.utils import Error as DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider import views as dot_views
from oauth2_provider.http import OAuth2ResponseRedirect
from oauth2_provider.views.mixins import OAuthLibMixin
from oauthlib.oauth2.rfc6749 import errors as oauth_errors

from oauth_apps import metadata
from oauth_apps.http import form_body_problem, no_store, oauth_error, with_error_description
from oauth_apps.keys import key_ring
from oauth_apps.models import Application

JWKS_MAX_AGE_SECONDS = 300
METADATA_MAX_AGE_SECONDS = 300
# No form-action: browsers apply it to the redirect back to the client after consent.
CONSENT_PAGE_CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'"


def with_issuer(url: str) -> str:
    """Add the RFC 9207 `iss` parameter to an authorization response redirect."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "iss"]
    query.append(("iss", settings.OAUTH_ISSUER))
    return urlunsplit(parts._replace(query=urlencode(query)))


@method_decorator(never_cache, name="dispatch")
class AuthorizationView(dot_views.AuthorizationView):
    """RFC 6749 §4.1.1: sign-in (if needed), consent, then a redirect with code, state and iss."""

    template_name = "oauth2_provider/authorize.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().dispatch(request, *args, **kwargs)
        response["Content-Security-Policy"] = CONSENT_PAGE_CSP
        response["Referrer-Policy"] = "no-referrer"
        return response

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # OIDC Core §3.1.2.1: prompt=login and an exceeded max_age ask for a fresh sign-in.
        if "login" in request.GET.get("prompt", "").split() or self.sign_in_too_old(request):
            logout(request)
            return self.handle_no_permission()
        return super().get(request, *args, **kwargs)

    @staticmethod
    def sign_in_too_old(request: HttpRequest) -> bool:
        max_age = request.GET.get("max_age", "")
        if not max_age.isdigit() or request.user.last_login is None:
            return False
        return (timezone.now() - request.user.last_login).total_seconds() > int(max_age)

    def redirect(self, redirect_to: str, application: Application | None) -> HttpResponse:
        # oauthlib only redirects to a URI it has matched against the client's registration,
        # whatever its scheme (https, loopback http or a native app's private-use scheme).
        scheme = urlsplit(redirect_to).scheme
        return OAuth2ResponseRedirect(with_issuer(redirect_to), [scheme])

    def form_valid(self, form: Any) -> HttpResponse:
        try:
            return super().form_valid(form)
        except Application.DoesNotExist:
            # DOT looks the client up by the posted (possibly forged) client_id first.
            return self.invalid_form_response()

    def form_invalid(self, form: Any) -> HttpResponse:
        return self.invalid_form_response()

    def invalid_form_response(self) -> HttpResponse:
        error = oauth_errors.InvalidRequestFatalError(description="The consent form was incomplete or altered.")
        return self.render_to_response({"error": error}, status=400)


@method_decorator(csrf_exempt, name="dispatch")
class TokenView(OAuthLibMixin, View):
    """RFC 6749 §3.2: the token endpoint, one transaction per request."""

    def post(self, request: HttpRequest) -> HttpResponse:
        problem = form_body_problem(request)
        if problem:
            return no_store(oauth_error("invalid_request", problem))
        with transaction.atomic():
            _uri, headers, body, status = self.create_token_response(request)
        if status >= 400:
            body = with_error_description(body)
        response = HttpResponse(body, status=status, content_type="application/json")
        for name, value in headers.items():
            response[name] = value
        if status == 401:
            # RFC 6749 §5.2: answer invalid_client with the scheme clients authenticate with.
            response["WWW-Authenticate"] = 'Basic realm="WeTrials Auth", charset="UTF-8"'
        return no_store(response)

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = oauth_error("invalid_request", "The token endpoint accepts POST only.", status=405)
        response["Allow"] = "POST"
        return no_store(response)


def jwks(request: HttpRequest) -> JsonResponse:
    """RFC 7517: every public key that may still verify a live token."""
    response = JsonResponse({"keys": key_ring.public_jwks()})
    response["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE_SECONDS}"
    response["Access-Control-Allow-Origin"] = "*"
    return response


def server_metadata(request: HttpRequest) -> JsonResponse:
    """RFC 8414 and OpenID Connect Discovery 1.0: one document, at both well-known paths."""
    response = JsonResponse(metadata.server_metadata())
    response["Cache-Control"] = f"public, max-age={METADATA_MAX_AGE_SECONDS}"
    response["Access-Control-Allow-Origin"] = "*"
    return response


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


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
