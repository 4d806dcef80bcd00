"""The client-authenticated endpoints oauthlib answers: token, revocation and introspection."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from oauth2_provider.signals import app_authorized
from oauth2_provider.views.mixins import OAuthLibMixin

from core import ratelimits
from core.http import form_body_problem, no_store, oauth_error, with_error_description
from core.middleware import request_log_client
from core.ratelimits import Limit, client_address
from oauth_apps.audit import Actor, Kind, Outcome, audit_record
from oauth_apps.oauth2.oauth2_backends import EndpointResponse, OAuthLibCore
from oauth_apps.oauth2.token_request import TokenRequest
from oauth_apps.views.cors import cors_allow, cors_preflight

# The credentials these endpoints receive: an error report (mail to ADMINS, a logged
# traceback) shows them masked.
CREDENTIAL_PARAMETERS = ("client_secret", "code", "code_verifier", "refresh_token", "token", "client_assertion")


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(sensitive_post_parameters(*CREDENTIAL_PARAMETERS), name="dispatch")
class OAuthEndpointView(OAuthLibMixin, View, ABC):
    """A form-encoded, client-authenticated OAuth endpoint answered by oauthlib, one
    transaction per request, with RFC 6749 §5.2 errors and no caching.

    A request leaves an audit row only once it reached client authentication and was not
    rate limited: anything earlier is anonymous and would let anyone grow the trail.
    """

    endpoint_name = ""
    rate_limit: Limit | None = None
    # Whether browser apps may call it (token and revocation: yes; introspection: no).
    cors_enabled = True
    # RFC 7662 §2.1: introspection answers only clients that authenticate.
    client_authentication_required = False

    @abstractmethod
    def oauthlib_response(self, core: OAuthLibCore, request: HttpRequest, state: TokenRequest) -> EndpointResponse:
        """oauthlib's answer for this endpoint: the one OAuthLibCore method each view calls."""

    def post(self, request: HttpRequest) -> HttpResponse:
        problem = form_body_problem(request)
        if problem:
            return no_store(oauth_error("invalid_request", problem))
        state = TokenRequest(
            rate_limit=self.rate_limit,
            client_address=client_address(request),
            client_authentication_required=self.client_authentication_required,
        )
        with transaction.atomic():
            headers, body, status = self.oauthlib_response(self.get_oauthlib_core(), request, state)
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
            if not state.rate_limited:
                self.audit(response, state)
            if status == 200 and state.access_token is not None:
                # What DOT's TokenView sends, with the row save_bearer_token inserted rather
                # than one read back by checksum. Inside the transaction: a failing receiver
                # leaves no token behind that the client never received.
                app_authorized.send(sender=self, request=request, token=state.access_token)
            cors_allow(request, response, state.client if self.cors_enabled else None)
        request_log_client(state.logged_client_id)
        return no_store(response)

    def options(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not self.cors_enabled:
            return super().options(request, *args, **kwargs)
        return cors_preflight(request, methods=["POST"])

    def audit(self, response: HttpResponse, state: TokenRequest) -> None:
        if state.audit_kind == Kind.CLIENT_AUTH_FAILED:
            audit_record(
                state.audit_kind,
                actor=Actor.CLIENT,
                outcome=Outcome.FAILURE,
                client_id=state.claimed_client_id,
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
    rate_limit = ratelimits.TOKEN

    def oauthlib_response(self, core: OAuthLibCore, request: HttpRequest, state: TokenRequest) -> EndpointResponse:
        return core.token_response(request, state)

    def audit(self, response: HttpResponse, state: TokenRequest) -> None:
        if not state.client_authentication_reached:
            return
        if response.status_code == 200:
            audit_record(Kind.TOKENS_ISSUED, actor=Actor.CLIENT, application=state.client, user=state.user)
            return
        error = json.loads(response.content).get("error", "")
        replay = state.audit_kind in (Kind.CODE_REPLAY, Kind.REFRESH_TOKEN_REPLAY)
        audit_record(
            state.audit_kind or Kind.TOKEN_REQUEST_REJECTED,
            actor=Actor.REPLAY if replay else Actor.CLIENT,
            outcome=Outcome.FAILURE,
            application=state.client,
            client_id=state.claimed_client_id,
            user=state.user,
            detail=error,
        )


class RevocationView(OAuthEndpointView):
    """RFC 7009: revoke an access or refresh token the client holds."""

    endpoint_name = "revocation"
    rate_limit = ratelimits.REVOKE

    def oauthlib_response(self, core: OAuthLibCore, request: HttpRequest, state: TokenRequest) -> EndpointResponse:
        return core.revocation_response(request, state)


class IntrospectionView(OAuthEndpointView):
    """RFC 7662: whether a token is live, for confidential clients and service accounts."""

    endpoint_name = "introspection"
    rate_limit = ratelimits.INTROSPECT
    cors_enabled = False
    client_authentication_required = True

    def oauthlib_response(self, core: OAuthLibCore, request: HttpRequest, state: TokenRequest) -> EndpointResponse:
        return core.introspection_response(request, state)
