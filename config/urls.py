from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from accounts import views as account_views
from core import views as core_views
from oauth_apps.views import discovery

urlpatterns = [
    path("v1/oauth/", include("oauth_apps.urls")),
    path(".well-known/oauth-authorization-server", discovery.server_metadata, name="oauth-server-metadata"),
    path(".well-known/openid-configuration", discovery.server_metadata, name="openid-configuration"),
    path("v1/me", account_views.MeView.as_view(), name="me"),
    path("v1/openapi.json", discovery.openapi_description, name="openapi"),
    path("accounts/", include("accounts.urls")),
    path("admin/", admin.site.urls),
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
]

handler500 = "core.views.server_error"
