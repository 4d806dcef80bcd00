from __future__ import annotations

from django.http import HttpRequest
from oauth2_provider.oauth2_backends import OAuthLibCore as DotOAuthLibCore

from accounts.sessions import session_auth_time

# Not HTTP_* keys, so no client header can forge them.
SIGNED_IN_USER_HEADER = "X_WETRIALS_SIGNED_IN_USER"
AUTH_TIME_HEADER = "X_WETRIALS_AUTH_TIME"


class OAuthLibCore(DotOAuthLibCore):
    """Tells the validator who is signed in and since when (OIDC's prompt=none and
    id_token_hint checks, `auth_time`), and answers RFC 7662 introspection through oauthlib
    like the other endpoints."""

    def extract_headers(self, request: HttpRequest) -> dict[str, str]:
        headers = super().extract_headers(request)
        headers.pop(SIGNED_IN_USER_HEADER, None)
        headers.pop(AUTH_TIME_HEADER, None)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            headers[SIGNED_IN_USER_HEADER] = str(user.pk)
            auth_time = session_auth_time(request)
            if auth_time is not None:  # a session from before it was recorded signs in again
                headers[AUTH_TIME_HEADER] = str(auth_time)
        return headers

    def create_introspect_response(self, request: HttpRequest) -> tuple[None, dict[str, str], str, int]:
        uri, http_method, body, headers = self._extract_params(request)
        headers, body, status = self.server.create_introspect_response(uri, http_method, body, headers)
        return None, headers, body, status
