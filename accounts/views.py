from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import InvalidToken

from accounts.claims import user_claims
from core import ratelimits
from core.ratelimits import client_address, limit_page
from oauth_apps.contrib.rest_framework.permissions import HasScope
from oauth_apps.models import AuditEvent, Consent
from oauth_apps.selectors import connected_app_list
from oauth_apps.services import access_revoke


@method_decorator(never_cache, name="dispatch")
class SignInView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # Every attempt counts, per address and per username, before the password is checked.
        username = request.POST.get("username", "")[:150].casefold()
        refused = limit_page(request, ratelimits.SIGN_IN_PER_IP, client_address(request)) or limit_page(
            request, ratelimits.SIGN_IN_PER_USERNAME, username
        )
        return refused or super().post(request, *args, **kwargs)


@login_required
@never_cache
def account_home(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/home.html")


@login_required
@never_cache
def connected_apps(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/connected_apps.html", {"apps": connected_app_list(user=request.user)})


@login_required
@never_cache
def connected_app_revoke(request: HttpRequest, client_id: str) -> HttpResponse:
    """Confirm on GET, revoke on POST: only ever the signed-in user's own grant."""
    consent = get_object_or_404(
        Consent.objects.select_related("application"), user=request.user, application__client_id=client_id
    )
    application = consent.application
    if request.method != "POST":
        return render(request, "accounts/connected_app_revoke.html", {"application": application})
    access_revoke(actor=AuditEvent.Actor.USER, user=request.user, application=application, actor_user=request.user)
    messages.success(request, f"{application.name} can no longer access your WeTrials account.")
    return redirect("accounts:connected-apps")


class MeView(APIView):
    """GET /v1/me: the token's user profile. The example API built on the resource-server kit."""

    permission_classes = [HasScope("read:profile")]

    def get(self, request: Request) -> Response:
        if request.auth.is_service_account:
            raise InvalidToken("This token was issued to a service account, not a user.")
        return Response(user_claims(user=request.user, scopes=request.auth.scopes))
