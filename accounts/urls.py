from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.SignInView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(template_name="accounts/logged_out.html"), name="logout"),
    path("", views.account_home, name="home"),
    path("apps/", views.connected_apps, name="connected-apps"),
    path("apps/<str:client_id>/revoke/", views.connected_app_revoke, name="connected-app-revoke"),
]
