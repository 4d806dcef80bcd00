from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path, register_converter
from django.urls.converters import StringConverter

from accounts import views


class ClientIdConverter(StringConverter):
    """A client id as its column can hold it: at most 100 characters, none of them control
    characters (PostgreSQL refuses NUL), so any other path is a 404 before the database."""

    regex = r"[^/\x00-\x1f\x7f]{1,100}"


register_converter(ClientIdConverter, "client_id")

app_name = "accounts"

urlpatterns = [
    path("login/", views.SignInView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(template_name="accounts/logged_out.html"), name="logout"),
    path("", views.account_home, name="home"),
    path("apps/", views.connected_apps, name="connected-apps"),
    path("apps/<client_id:client_id>/revoke/", views.connected_app_revoke, name="connected-app-revoke"),
]
