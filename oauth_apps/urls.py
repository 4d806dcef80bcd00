from __future__ import annotations

from django.urls import path

from oauth_apps import views

# DOT's namespace, so its views and helpers that reverse "oauth2_provider:..." keep working.
app_name = "oauth2_provider"

urlpatterns = [
    path("authorize", views.AuthorizationView.as_view(), name="authorize"),
    path("token", views.TokenView.as_view(), name="token"),
    path("revoke", views.RevocationView.as_view(), name="revoke-token"),
    path("introspect", views.IntrospectionView.as_view(), name="introspect"),
    path("userinfo", views.UserInfoView.as_view(), name="user-info"),
    path("jwks", views.jwks, name="jwks-info"),
]
