from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from accounts import views as account_views
from oauth_apps import views as oauth_views

urlpatterns = [
    path("v1/oauth/", include("oauth_apps.urls")),
    path(".well-known/oauth-authorization-server", oauth_views.server_metadata, name="oauth-server-metadata"),
    path(".well-known/openid-configuration", oauth_views.server_metadata, name="openid-configuration"),
    path("v1/me", account_views.MeView.as_view(), name="me"),
    path("v1/openapi.json", oauth_views.openapi_description, name="openapi"),
    path("accounts/", include("accounts.urls")),
    path("admin/", admin.site.urls),
    path("healthz", oauth_views.healthz, name="healthz"),
    path("readyz", oauth_views.readyz, name="readyz"),
]

handler500 = "oauth_apps.views.server_error"
