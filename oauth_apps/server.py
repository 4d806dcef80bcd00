from __future__ import annotations

from typing import Any

from oauthlib.common import Request
from oauthlib.oauth2.rfc6749.errors import InvalidClientError
from oauthlib.oauth2.rfc6749.grant_types.authorization_code import code_challenge_method_s256
from oauthlib.openid import Server as OpenIDServer


class Server(OpenIDServer):
    """oauthlib's OpenID server cut down to what WeTrials offers.

    Response type `code` only; grants authorization_code, refresh_token and
    client_credentials; PKCE with S256 only, so `plain` (and a challenge without a method,
    which RFC 7636 reads as plain) is invalid_request.
    """

    def __init__(self, request_validator: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(request_validator, *args, **kwargs)
        for grant in (self.auth_grant, self.openid_connect_auth.proxy_target):
            grant._code_challenge_methods = {"S256": code_challenge_method_s256}
        self._response_types = {"code": self.auth_grant_choice}
        self._grant_types = {
            "authorization_code": self.token_grant_choice,
            "refresh_token": self.refresh_grant,
            "client_credentials": self.credentials_grant,
        }

    def validate_introspect_request(self, request: Request) -> None:
        """RFC 7662 §2.1, for confidential clients (service accounts included) only: a public
        client has no secret to prove who it is, so it may not learn about tokens."""
        self._raise_on_bad_method(request)
        self._raise_on_bad_post_request(request)
        self._raise_on_missing_token(request)
        if not self.request_validator.authenticate_client(request):
            raise InvalidClientError(request=request)
