"""The authorization endpoint (RFC 6749 §4.1, OIDC Core §3.1.2): sign-in, consent, redirect."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.db import transaction
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import resolve_url
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from oauth2_provider import views as dot_views
from oauth2_provider.exceptions import FatalClientError, OAuthToolkitError
from oauth2_provider.http import OAuth2ResponseRedirect
from oauthlib.oauth2.rfc6749 import errors as oauth_errors
from oauthlib.openid.connect.core.exceptions import LoginRequired

from accounts.sessions import session_auth_time
from core import ratelimits
from core.middleware import PAGE_CSP, request_log_client
from core.ratelimits import client_address, limit_page
from oauth_apps.models import Application
from oauth_apps.scopes import active_scopes
from oauth_apps.selectors import consent_new_scopes


def with_issuer(url: str) -> str:
    """Add the RFC 9207 `iss` parameter to an authorization response redirect."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "iss"]
    query.append(("iss", settings.OAUTH_ISSUER))
    return urlunsplit(parts._replace(query=urlencode(query)))


class UnregisteredRedirect(Exception):
    """A redirect the authorize view refused to send: the client never registered its target."""


# The consent form carries its CSRF token; a third party's authorization request cannot.
CONSENT_FORM_FIELD = "csrfmiddlewaretoken"


def authorization_request_as_get(request: HttpRequest) -> None:
    """OIDC Core §3.1.2.1: an authorization request may come as a form POST. It is handled
    exactly as the same request sent with GET (which is also how it resumes after sign-in)."""
    request.GET = request.POST.copy()
    request.META["QUERY_STRING"] = request.GET.urlencode()
    request.POST = QueryDict()
    request.method = "GET"


@method_decorator(never_cache, name="dispatch")
# A consent decision is CSRF-checked in post(); an authorization request is not ours to check.
@method_decorator(csrf_exempt, name="dispatch")
class AuthorizationView(dot_views.AuthorizationView):
    """RFC 6749 §4.1.1: sign-in (if needed), consent, then a redirect with code, state and iss."""

    template_name = "oauth2_provider/authorize.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "POST" and CONSENT_FORM_FIELD not in request.POST:
            authorization_request_as_get(request)
        request_log_client((request.GET.get("client_id") or request.POST.get("client_id") or "")[:100])
        response = None
        if request.method in ("GET", "HEAD"):
            # Counted before the sign-in redirect: per user once signed in, per address before.
            user = request.user
            key = f"user:{user.pk}" if user.is_authenticated else f"ip:{client_address(request)}"
            response = limit_page(request, ratelimits.AUTHORIZE, key)
            if response is None and not user.is_authenticated:
                response = self.broken_link_response(request)
        try:
            response = response or super().dispatch(request, *args, **kwargs)
        except UnregisteredRedirect:
            error = oauth_errors.InvalidRequestFatalError(description="The redirect URI is not registered.")
            response = self.render_to_response({"error": error}, status=400)
        response["Content-Security-Policy"] = PAGE_CSP
        response.setdefault("Referrer-Policy", "no-referrer")
        return response

    def broken_link_response(self, request: HttpRequest) -> HttpResponse | None:
        """The error page for a request that can never succeed (unknown client, unregistered
        redirect URI), shown before sign-in: signing in would not help."""
        try:
            self.validate_authorization_request(request)
        except FatalClientError as error:
            return self.error_response(error, application=None)
        except OAuthToolkitError:
            return None  # an error the client is told about: after sign-in, as before
        return None

    def error_response(self, error: OAuthToolkitError, application: Application | None, **kwargs: Any) -> Any:
        # DOT names no client for errors found while validating. An error that goes back to
        # the client comes after oauthlib checked the client and its redirect URI: load it,
        # so the redirect can be checked against its registration like every other.
        client_id = error.oauthlib_error.client_id
        if application is None and client_id and not isinstance(error, FatalClientError):
            application = Application.objects.filter(client_id=client_id).first()
        return super().error_response(error, application, **kwargs)

    def handle_no_permission(self) -> HttpResponse:
        prompt = self.request.GET.get("prompt", "").split()
        if "none" in prompt or "create" in prompt:
            return super().handle_no_permission()  # DOT: login_required, or registration
        # The sign-in that follows is the fresh one prompt=login and max_age ask for: the
        # request resumes without them, or it would ask again for ever (OIDC Core §3.1.2.1).
        resumed = self.request.GET.copy()
        resumed.pop("max_age", None)
        prompt = [value for value in prompt if value != "login"]
        if prompt:
            resumed["prompt"] = " ".join(prompt)
        else:
            resumed.pop("prompt", None)
        query = resumed.urlencode()
        return redirect_to_login(
            f"{self.request.path}?{query}" if query else self.request.path,
            resolve_url(self.get_login_url()),
            self.get_redirect_field_name(),
        )

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            scopes, credentials = self.validate_authorization_request(request)
        except OAuthToolkitError as error:
            return self.error_response(error, application=None)
        oauthlib_request = credentials.pop("request")
        application = oauthlib_request.client
        prompt = set(request.GET.get("prompt", "").split())
        if self.sign_in_required(request, prompt):
            if "none" in prompt:
                # OIDC Core §3.1.2.6: prompt=none never shows a page, nor signs anyone out.
                return self.error_response(OAuthToolkitError(LoginRequired(request=oauthlib_request)), application)
            # Only now that the request is known to be valid: a bad link signs nobody out.
            logout(request)
            return self.handle_no_permission()
        new_scopes = consent_new_scopes(user_id=request.user.pk, application=application, scopes=scopes)
        # Remembered consent answers at once, unless the client asks for the page (prompt=consent).
        # DOT's legacy approval_prompt and skip_authorization play no part.
        if not new_scopes and "consent" not in prompt:
            return self.approve(request, scopes, credentials, application)
        return self.consent_page(scopes, new_scopes, credentials, application)

    @staticmethod
    def sign_in_required(request: HttpRequest, prompt: set[str]) -> bool:
        """Whether the request needs a fresh sign-in: prompt=login, a sign-in older than
        max_age seconds (its syntax is checked with the rest of the request), or a session
        that doesn't know when it signed in (one older than that record)."""
        auth_time = session_auth_time(request)
        if "login" in prompt or auth_time is None:
            return True
        max_age = request.GET.get("max_age")
        return max_age is not None and time.time() - auth_time > int(max_age)

    @transaction.atomic
    def approve(
        self, request: HttpRequest, scopes: list[str], credentials: dict[str, Any], application: Application
    ) -> HttpResponse:
        if isinstance(credentials.get("ui_locales"), list):
            credentials["ui_locales"] = " ".join(credentials["ui_locales"])
        try:
            uri, _headers, _body, _status = self.create_authorization_response(
                request=request, scopes=" ".join(scopes), credentials=credentials, allow=True
            )
        except OAuthToolkitError as error:
            return self.error_response(error, application)
        return self.redirect(uri, application)

    def consent_page(
        self, scopes: list[str], new_scopes: list[str], credentials: dict[str, Any], application: Application
    ) -> HttpResponse:
        claims = credentials.get("claims")
        # What the consent form carries to the POST (DOT's get_initial reads it).
        self.oauth2_data = {
            "scopes": scopes,
            "redirect_uri": credentials["redirect_uri"],
            "nonce": credentials.get("nonce"),
            "client_id": credentials["client_id"],
            "state": credentials.get("state"),
            "response_type": credentials["response_type"],
            "code_challenge": credentials.get("code_challenge"),
            "code_challenge_method": credentials.get("code_challenge_method"),
            "claims": json.dumps(claims) if claims else None,
        }
        descriptions = active_scopes()
        # Two scopes may tell the user the same thing (profile, read:profile): say it once.
        scope_items: dict[str, bool] = {}
        for scope in scopes:
            description = descriptions.get(scope, scope)
            scope_items[description] = scope_items.get(description, False) or scope in new_scopes
        redirect_parts = urlsplit(credentials["redirect_uri"])
        context = self.get_context_data(
            form=self.get_form(),
            application=application,
            scope_items=[{"description": text, "is_new": is_new} for text, is_new in scope_items.items()],
            asked_before=len(new_scopes) < len(scopes),
            redirect_host=redirect_parts.netloc or f"{redirect_parts.scheme}:",
        )
        response = self.render_to_response(context)
        # Not no-referrer: under it, browsers post the consent form with `Origin: null`,
        # which the CSRF check must refuse. same-origin still sends nothing to other sites.
        response["Referrer-Policy"] = "same-origin"
        return response

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if session_auth_time(request) is None:
            # A consent page shown to a session older than its sign-in record: sign in again.
            logout(request)
            return self.handle_no_permission()
        return csrf_protect(self.decide)(request, *args, **kwargs)

    @transaction.atomic
    def decide(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # One transaction: a redirect refused at the last moment leaves no code, consent or family.
        return super().post(request, *args, **kwargs)

    def redirect(self, redirect_to: str, application: Application | None) -> HttpResponse:
        # Every redirect, success or error, goes only to a URI registered for the client,
        # whatever the request (or a tampered consent form) named. Its scheme may be https,
        # loopback http or a native app's private-use scheme.
        if application is None or not application.redirect_target_allowed(redirect_to):
            raise UnregisteredRedirect  # out through the decision's transaction, rolling it back
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
