"""Django's Redis cache backend, with fewer round trips and less Python per call."""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient as DjangoRedisCacheClient

# Django's incr, EXISTS then INCR, in one round trip: a missing key stays missing.
INCR_EXISTING = "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('INCRBY', KEYS[1], ARGV[1]) end"


class RedisCacheClient(DjangoRedisCacheClient):
    """Django's Redis client, with fewer round trips and less Python on the hot path.

    Django builds a new `redis.Redis` for every cache call, about half a millisecond of
    Python each, several times per request (rate limits, scopes); a client only wraps its
    connection pool and is thread-safe, so one per pool does the same work. And `incr`,
    which every rate-limit count calls, takes one round trip instead of two.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}
        self._incr_scripts: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client

    def incr(self, key: Any, delta: int) -> int:
        client = self.get_client(key, write=True)
        script = self._incr_scripts.get(id(client))
        if script is None:
            script = self._incr_scripts[id(client)] = client.register_script(INCR_EXISTING)
        value = script(keys=[key], args=[delta])
        if value is None:
            raise ValueError(f"Key '{key}' not found.")
        return value


class RedisCache(DjangoRedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient
