"""Every private API of a dependency that this project relies on, and nowhere else.

Each seam names the defect or gap it works around and is written against the versions in
`WRITTEN_AGAINST`; tests/test_seams.py fails, in one place, when an installed version
differs, so an upgrade starts by re-reading this file rather than by auditing the tree.
Everything else uses the dependencies' public APIs only.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from django.db.models import Model
from django.http import HttpRequest
from django_ratelimit import core as ratelimit_core

WRITTEN_AGAINST = {
    "Django": "5.2.19",
    "django-oauth-toolkit": "3.4.1",
    "oauthlib": "3.3.1",
    "django-ratelimit": "4.1.0",
}


# --- Django -----------------------------------------------------------------------------


def model_check_related_before_save(instance: Model) -> None:
    """What `Model.save()` checks first: no related object assigned to `instance` is unsaved
    (ValueError), and one saved since its assignment gives its primary key to the foreign key.

    core/rows.py stores instances as save() would without calling it; Django has this check
    only as the private `_prepare_related_fields_for_save`.
    """
    instance._prepare_related_fields_for_save(operation_name="save")


# --- django-oauth-toolkit ---------------------------------------------------------------


class DotValidatorHooks(ABC):
    """Mixed in before DOT's OAuth2Validator.

    Every DOT check that needs the client (validate_client_id, authenticate_client_id,
    is_pkce_required, ...) loads it through the private `_load_application`, which runs a
    select_related query and may fetch a client ID metadata document: the one hook to load
    it once, in one plain statement, is to replace that method. Subclasses implement
    `client_load` instead.
    """

    @abstractmethod
    def client_load(self, client_id: str, request: Any) -> Any:
        """The usable client with this id, or None; also set as `request.client`."""

    def _load_application(self, client_id: str, request: Any) -> Any:
        return self.client_load(client_id, request)


def dot_oauthlib_params(core: Any, request: HttpRequest) -> tuple[str, str, str, dict[str, Any]]:
    """oauthlib's (uri, http_method, body, headers) for a Django request, as DOT builds them.

    DOT's create_*_response methods build them and call oauthlib in one step, which leaves
    no way to hand oauthlib the request's TokenRequest (oauth_apps/oauth2/token_request.py).
    """
    return core._extract_params(request)


# --- django-ratelimit -------------------------------------------------------------------


def ratelimit_counter(*, group: str, rate: str, key: str) -> tuple[int, int, str, int]:
    """(limit, window end, cache key, cache timeout) of django-ratelimit's counter for one
    request against `rate` in `group`, keyed by `key`.

    django-ratelimit's public `get_usage` takes two cache round trips per counter and a
    request object; the token path counts two or three limits in one round trip
    (core/ratelimits.py), in exactly django-ratelimit's windows and keys.
    """
    limit, period = ratelimit_core._split_rate(rate)
    window_end = ratelimit_core._get_window(key, period)
    cache_key = ratelimit_core._make_cache_key(group, window_end, rate, key, None)
    return limit, window_end, cache_key, period + ratelimit_core.EXPIRATION_FUDGE


def ratelimit_now() -> int:
    """django-ratelimit's clock, so windows computed here and there agree (tests move it)."""
    return int(ratelimit_core.time.time())


# --- Django's Redis cache backend -------------------------------------------------------


def redis_connection_pool(cache_client: Any, *, write: bool) -> Any:
    """The connection pool Django's RedisCacheClient uses for reads or writes.

    Its `get_client` builds a new `redis.Redis` around the pool on every call (about half a
    millisecond of Python, several times per request); core/cache.py keeps one per pool.
    """
    return cache_client._get_connection_pool(write)


def redis_client_class(cache_client: Any) -> Any:
    """The `redis.Redis` class (or the one configured) Django's RedisCacheClient builds."""
    return cache_client._client


def redis_cache_use_client_class(cache: Any, client_class: type) -> None:
    """Make Django's RedisCache use `client_class` as its RedisCacheClient: the backend
    takes no option for it."""
    cache._class = client_class


def redis_cache_client(cache: Any) -> Any:
    """The RedisCacheClient a RedisCache talks through (for core/cache.py's counters)."""
    return cache._cache
