from __future__ import annotations

import json
import sys
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.core.cache import cache
from django.db import connection, transaction
from django.db.utils import Error as DatabaseError
from django.db.utils import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import resolve_url
from django.template import loader
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from oauth2_provider import views as dot_views
from oauth2_provider.exceptions import FatalClientError, OAuthToolkitError
from oauth2_provider.http import OAuth2ResponseRedirect
from oauth2_provider.signals import app_authorized
from oauth2_provider.views.mixins import OAuthLibMixin
from oauthlib.oauth2.rfc6749 import errors as oauth_errors
from oauthlib.openid.connect.core.exceptions import LoginRequired
from rest_framework.exceptions import ParseError, Throttled
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import InvalidToken

from accounts.claims import user_claims
from accounts.sessions import session_auth_time
from oauth_apps import metadata, ratelimits
from oauth_apps.audit import Actor, Kind, Outcome, TokenRequestFacts, audit_record, token_request_facts
from oauth_apps.cors import cors_allow, cors_preflight
from oauth_apps.http import form_body_problem, json_get_only, no_store, oauth_error, with_error_description
from oauth_apps.keys import key_ring
from oauth_apps.middleware import JSON_PATH_PREFIXES, PAGE_CSP
from oauth_apps.models import Application
from oauth_apps.ratelimits import Limit, RateLimitExceeded, client_address, limit_count, limit_page
from oauth_apps.resource_server import RevocationCheckedAccessTokenAuthentication
from oauth_apps.scopes import active_scopes
from oauth_apps.services import consent_new_scopes

# Connection-level failures: the database is down or restarting, not a bug.
DATABASE_UNAVAILABLE_ERRORS = (OperationalError, InterfaceError)
RETRY_AFTER_OUTAGE_SECONDS = 5
OPENAPI_PATH = settings.BASE_DIR / "docs" / "openapi.json"
JWKS_MAX_AGE_SECONDS = 300
METADATA_MAX_AGE_SECONDS = 300


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
        request.oauth_client_id = (request.GET.get("client_id") or request.POST.get("client_id") or "")[:100]
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


# The credentials these endpoints receive: an error report (mail to ADMINS, a logged
# traceback) shows them masked.
CREDENTIAL_PARAMETERS = ("client_secret", "code", "code_verifier", "refresh_token", "token", "client_assertion")


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(sensitive_post_parameters(*CREDENTIAL_PARAMETERS), name="dispatch")
class OAuthEndpointView(OAuthLibMixin, View):
    """A form-encoded, client-authenticated OAuth endpoint answered by oauthlib, one
    transaction per request, with RFC 6749 §5.2 errors and no caching.

    A request leaves an audit row only once it reached client authentication and was not
    rate limited: anything earlier is anonymous and would let anyone grow the trail.
    """

    endpoint_name = ""
    # The OAuthLibCore method (DOT's, or ours in oauth_apps.backends) that answers it.
    core_method = ""
    rate_limit: Limit | None = None
    # Whether browser apps may call it (token and revocation: yes; introspection: no).
    cors_enabled = True

    def post(self, request: HttpRequest) -> HttpResponse:
        problem = form_body_problem(request)
        if problem:
            return no_store(oauth_error("invalid_request", problem))
        with transaction.atomic(), token_request_facts(self.rate_limit) as facts:
            _uri, headers, body, status = getattr(self.get_oauthlib_core(), self.core_method)(request)
            if status >= 400:
                body = with_error_description(body)
            response = HttpResponse(body, status=status, content_type="application/json")
            if not body:
                del response["Content-Type"]  # RFC 7009 §2.2: a bare 200
            for name, value in headers.items():
                response[name] = value
            if status == 401:
                # RFC 6749 §5.2: answer invalid_client with the scheme clients authenticate with.
                response["WWW-Authenticate"] = 'Basic realm="WeTrials Auth", charset="UTF-8"'
            if status != 429:
                self.audit(response, facts)
            if status == 200 and facts.access_token is not None:
                # What DOT's TokenView sends, with the row save_bearer_token inserted rather
                # than one read back by checksum. Inside the transaction: a failing receiver
                # leaves no token behind that the client never received.
                app_authorized.send(sender=self, request=request, token=facts.access_token)
            cors_allow(request, response, facts.application if self.cors_enabled else None)
            request.oauth_client_id = facts.application.client_id if facts.application else facts.client_id[:100]
        return no_store(response)

    def options(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not self.cors_enabled:
            return super().options(request, *args, **kwargs)
        return cors_preflight(request, methods=["POST"])

    def audit(self, response: HttpResponse, facts: TokenRequestFacts) -> None:
        if facts.kind == Kind.CLIENT_AUTH_FAILED:
            audit_record(
                facts.kind,
                actor=Actor.CLIENT,
                outcome=Outcome.FAILURE,
                client_id=facts.client_id,
                detail=f"at the {self.endpoint_name} endpoint",
            )

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = oauth_error("invalid_request", f"The {self.endpoint_name} endpoint accepts POST only.", status=405)
        response["Allow"] = "POST"
        return no_store(response)


class TokenView(OAuthEndpointView):
    """RFC 6749 §3.2: the token endpoint.

    A request that reached client authentication leaves exactly one audit event, whatever
    its outcome, unless it was rate limited.
    """

    endpoint_name = "token"
    core_method = "create_token_response"
    rate_limit = ratelimits.TOKEN

    def audit(self, response: HttpResponse, facts: TokenRequestFacts) -> None:
        if not facts.client_authentication_reached:
            return
        if response.status_code == 200:
            audit_record(Kind.TOKENS_ISSUED, actor=Actor.CLIENT, application=facts.application, user=facts.user)
            return
        error = json.loads(response.content).get("error", "")
        audit_record(
            facts.kind or Kind.TOKEN_REQUEST_REJECTED,
            actor=Actor.REPLAY if facts.kind in (Kind.CODE_REPLAY, Kind.REFRESH_TOKEN_REPLAY) else Actor.CLIENT,
            outcome=Outcome.FAILURE,
            application=facts.application,
            client_id=facts.client_id,
            user=facts.user,
            detail=error,
        )


class RevocationView(OAuthEndpointView):
    """RFC 7009: revoke an access or refresh token the client holds."""

    endpoint_name = "revocation"
    core_method = "create_revocation_response"
    rate_limit = ratelimits.REVOKE


class IntrospectionView(OAuthEndpointView):
    """RFC 7662: whether a token is live, for confidential clients and service accounts."""

    endpoint_name = "introspection"
    core_method = "create_introspect_response"
    rate_limit = ratelimits.INTROSPECT
    cors_enabled = False


class UserInfoView(APIView):
    """OIDC Core §5.3: the claims of the token's user, by the token's scopes.

    The token is checked against the database too, so a revoked one fails at once even
    though its signature still verifies.
    """

    authentication_classes = [RevocationCheckedAccessTokenAuthentication]
    permission_classes = [IsAuthenticated]
    token_client_id: str | None = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        sent_elsewhere = "access_token" in request.query_params or (
            request.method == "POST" and "access_token" in request.data
        )
        if sent_elsewhere:
            raise ParseError("Send the access token in the Authorization header only.")
        super().initial(request, *args, **kwargs)
        self.token_client_id = request.auth["client_id"]
        try:
            limit_count(ratelimits.USERINFO, f"user:{request.auth['sub']}")
        except RateLimitExceeded as exc:
            raise Throttled(wait=exc.retry_after) from None

    def get(self, request: Request) -> Response:
        if request.auth.is_service_account:
            raise InvalidToken("This token was issued to a service account, not a user.")
        response = Response(user_claims(user=request.user, scopes=request.auth.scopes))
        response["Cache-Control"] = "no-store"
        return response

    post = get

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "OPTIONS":
            # A CORS preflight carries no token: answer it before DRF asks for one.
            return cors_preflight(request, methods=["GET", "POST"])
        return super().dispatch(request, *args, **kwargs)

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        # The client the token was issued to, once the token proved good.
        client_id = self.token_client_id
        request._request.oauth_client_id = client_id
        if "Origin" not in request.headers:
            return response
        application = Application.objects.filter(client_id=client_id).first() if client_id else None
        return cors_allow(request, response, application)


@json_get_only
def jwks(request: HttpRequest) -> JsonResponse:
    """RFC 7517: every public key that may still verify a live token."""
    response = JsonResponse({"keys": key_ring.public_jwks()})
    response["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE_SECONDS}"
    response["Access-Control-Allow-Origin"] = "*"
    return response


@json_get_only
def server_metadata(request: HttpRequest) -> JsonResponse:
    """RFC 8414 and OpenID Connect Discovery 1.0: one document, at both well-known paths."""
    response = JsonResponse(metadata.server_metadata())
    response["Cache-Control"] = f"public, max-age={METADATA_MAX_AGE_SECONDS}"
    response["Access-Control-Allow-Origin"] = "*"
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500. A database outage is a 503 the client can retry; anything else a plain
    500. Never a stack trace: JSON on the API, a page for people."""
    unavailable = isinstance(sys.exc_info()[1], DATABASE_UNAVAILABLE_ERRORS)
    status = 503 if unavailable else 500
    if request.path.startswith(JSON_PATH_PREFIXES):
        if unavailable:
            response = oauth_error(
                "temporarily_unavailable", "The service is briefly unavailable; retry shortly.", status=503
            )
        else:
            response = oauth_error("server_error", "The server failed to handle this request.", status=500)
    else:
        template = "temporarily_unavailable.html" if unavailable else "500.html"
        response = HttpResponse(loader.render_to_string(template), status=status)
    if unavailable:
        response["Retry-After"] = str(RETRY_AFTER_OUTAGE_SECONDS)
    return no_store(response)


@json_get_only
def openapi_description(request: HttpRequest) -> HttpResponse:
    """The OpenAPI description of the endpoints, kept in the repository as docs/openapi.json."""
    response = HttpResponse(OPENAPI_PATH.read_bytes(), content_type="application/json")
    response["Access-Control-Allow-Origin"] = "*"
    return response


@json_get_only
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@json_get_only
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
