"""The OIDC userinfo endpoint."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from rest_framework.exceptions import ParseError, Throttled
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import InvalidToken

from accounts.claims import user_claims
from core import ratelimits
from core.middleware import request_log_client
from core.ratelimits import RateLimitExceeded, limit_count
from oauth_apps.models import Application
from oauth_apps.views.authentication import RevocationCheckedAccessTokenAuthentication
from oauth_apps.views.cors import cors_allow, cors_preflight


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
        request_log_client(client_id)
        if "Origin" not in request.headers:
            return response
        application = Application.objects.filter(client_id=client_id).first() if client_id else None
        return cors_allow(request, response, application)
