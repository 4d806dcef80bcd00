"""Rate limits (contract, "Rate limits"): django-ratelimit's fixed one-minute windows,
counted in the shared cache, so every server instance enforces one limit.

If the cache is unreachable, a limit either lets the request through (fail open) or
refuses it (fail closed); each limit below says which and why.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from redis.exceptions import RedisError

from core import seams
from core.cache import window_counts

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


@dataclass(frozen=True)
class Charge:
    """One request against `limit` for `key`; `look_only` reads the counter without counting."""

    limit: Limit
    key: str
    look_only: bool = False


def limit_count(limit: Limit, key: str) -> None:
    """Count one request against `key`; raise RateLimitExceeded once it is over the limit."""
    limits_charge(Charge(limit, key))


def limits_charge(*charges: Charge) -> None:
    """Apply several limits in one cache round trip (one Lua call on Redis): the token path
    counts two or three per request. Raise RateLimitExceeded if any of them is over: a
    counted request once its counter passes the limit, a look once the counter reaches it.
    Windows and cache keys are django-ratelimit's, so its own counters and these agree."""
    if not charges or not getattr(settings, "RATELIMIT_ENABLE", True):
        return
    counters, windows = [], []
    for charge in charges:
        limit, window_end, key, timeout = seams.ratelimit_counter(
            group=charge.limit.group, rate=charge.limit.rate, key=charge.key
        )
        counters.append((key, 0 if charge.look_only else 1, timeout))
        windows.append((limit, window_end))
    try:
        counts = window_counts(caches[getattr(settings, "RATELIMIT_USE_CACHE", "default")], counters)
    except CACHE_ERRORS:
        groups = ", ".join(charge.limit.group for charge in charges)
        fails_closed = any(not charge.limit.fail_open for charge in charges)
        log.exception("Rate-limit counters unavailable (%s fail %s)", groups, "closed" if fails_closed else "open")
        if fails_closed:
            raise RateLimitUnavailable() from None
        return
    now = seams.ratelimit_now()
    retry_after = [
        max(1, window_end - now)
        for charge, (limit, window_end), count in zip(charges, windows, counts, strict=True)
        if (count >= limit if charge.look_only else count > limit)
    ]
    if retry_after:
        raise RateLimitExceeded(retry_after=max(retry_after))


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
