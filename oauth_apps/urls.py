from __future__ import annotations

from django.urls import path

from oauth_apps.views import authorize, discovery, token, userinfo

# DOT's namespace, so its views and helpers that reverse "oauth2_provider:..." keep working.
app_name = "oauth2_provider"

urlpatterns = [
    path("authorize", authorize.AuthorizationView.as_view(), name="authorize"),
    path("token", token.TokenView.as_view(), name="token"),
    path("revoke", token.RevocationView.as_view(), name="revoke-token"),
    path("introspect", token.IntrospectionView.as_view(), name="introspect"),
    path("userinfo", userinfo.UserInfoView.as_view(), name="user-info"),
    path("jwks", discovery.jwks, name="jwks-info"),
]
