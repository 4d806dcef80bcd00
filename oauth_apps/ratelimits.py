"""Rate limits (contract, "Rate limits"): fixed one-minute windows counted with
django-ratelimit in the shared cache, so every server instance enforces one limit.

If the cache is unreachable, a limit either lets the request through (fail open) or
refuses it (fail closed); each limit below says which and why.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_ratelimit.core import get_usage
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

CACHE_ERRORS = (RedisError, OSError)


@dataclass(frozen=True)
class Limit:
    group: str
    rate_setting: str
    fail_open: bool

    @property
    def rate(self) -> str:
        return getattr(settings, self.rate_setting)


# Token, userinfo, authorize, revoke and introspect requests need an unguessable credential
# (a 128-character secret, a token, a PKCE verifier, a session): during a cache outage they
# go on unthrottled rather than stop every app. People's passwords can be guessed, so
# sign-in attempts fail closed.
AUTHORIZE = Limit("authorize", "OAUTH_RATE_AUTHORIZE", fail_open=True)
TOKEN = Limit("token", "OAUTH_RATE_TOKEN", fail_open=True)
REVOKE = Limit("revoke", "OAUTH_RATE_REVOKE", fail_open=True)
INTROSPECT = Limit("introspect", "OAUTH_RATE_INTROSPECT", fail_open=True)
USERINFO = Limit("userinfo", "OAUTH_RATE_USERINFO", fail_open=True)
CLIENT_AUTH_FAILURES_PER_IP = Limit("client-auth-failures-ip", "OAUTH_RATE_CLIENT_AUTH_FAILURES", fail_open=True)
CLIENT_AUTH_FAILURES_PER_CLIENT = Limit(
    "client-auth-failures-client", "OAUTH_RATE_CLIENT_AUTH_FAILURES", fail_open=True
)
SIGN_IN_PER_IP = Limit("sign-in-ip", "OAUTH_RATE_SIGN_IN", fail_open=False)
SIGN_IN_PER_USERNAME = Limit("sign-in-username", "OAUTH_RATE_SIGN_IN", fail_open=False)


class RateLimitExceeded(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Rate limit exceeded; retry after {retry_after} s.")
        self.retry_after = retry_after


class RateLimitUnavailable(Exception):
    """The counters can't be read and the limit fails closed."""


def limit_count(limit: Limit, key: str) -> None:
    """Count one request against `key`; raise RateLimitExceeded once it is over the limit."""
    _check(limit, key, increment=True)


def limit_check(limit: Limit, key: str) -> None:
    """Raise RateLimitExceeded if `key` is already over the limit, without counting."""
    _check(limit, key, increment=False)


def _check(limit: Limit, key: str, *, increment: bool) -> None:
    try:
        # No request object: the key is computed by the caller, and the method is not checked.
        usage = get_usage(
            None, group=limit.group, key=lambda _group, _request: key, rate=limit.rate, increment=increment
        )
    except CACHE_ERRORS:
        log.exception(
            "Rate-limit counters unavailable (%s fails %s)", limit.group, "open" if limit.fail_open else "closed"
        )
        if limit.fail_open:
            return
        raise RateLimitUnavailable() from None
    if usage is None:  # RATELIMIT_ENABLE = False
        return
    over = usage["count"] > usage["limit"] if increment else usage["count"] >= usage["limit"]
    if over:
        raise RateLimitExceeded(retry_after=max(1, usage["time_left"]))


def limit_page(request: HttpRequest, limit: Limit, key: str) -> HttpResponse | None:
    """For pages people see: None if the request may go on, else the page that says why not."""
    try:
        limit_count(limit, key)
    except RateLimitExceeded as exc:
        response = render(request, "rate_limited.html", {"retry_after": exc.retry_after}, status=429)
        response["Retry-After"] = str(exc.retry_after)
        return response
    except RateLimitUnavailable:
        return render(request, "temporarily_unavailable.html", status=503)
    return None


def client_address(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "")
