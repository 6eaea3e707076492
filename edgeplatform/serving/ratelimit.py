"""The API's rate limit per user: a token bucket of ``EDGE_API_RATE_LIMIT_BURST`` requests refilled at
``EDGE_API_RATE_LIMIT_QPS`` a second (seed §5 ``rateLimit: {qps, burst}``), kept in the shared cache.

The bucket is stored as one number, the time at which it would be full again (the "theoretical arrival time" of
GCRA, the generic cell rate algorithm, which is a token bucket written with one value): a request moves it on by
``1/qps``; it is refused when that would put it more than ``burst/qps`` seconds ahead of now, and told how long
to wait. With Redis (``REDIS_URL``) the step is one Lua script, atomic and on Redis' clock, so every worker and
replica shares one bucket per user; with the in-process cache each process keeps its own buckets under a lock.
While Redis does not answer, requests are let through (and a warning logged), as the grant cache carries on
without its shared level.

DRF's own throttles keep a list of timestamps per user, read and written back without atomicity, and know no
burst; django-ratelimit counts fixed windows (a client may send twice the rate across a window's edge). Hence this
one, plugged in as DRF's ``DEFAULT_THROTTLE_CLASSES``: a refused request is answered 429 ``TooManyRequests`` with
``Retry-After`` by the API's exception handler. Users are told apart by their id, anonymous callers by address.
"""
from __future__ import annotations

import logging
import math
import threading
import time

from django.conf import settings
from django.core.cache import caches
from rest_framework.throttling import BaseThrottle

__all__ = ["UserRateLimit", "take"]

log = logging.getLogger(__name__)
KEY = "ratelimit:api:"
_LUA = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local interval, capacity = tonumber(ARGV[1]), tonumber(ARGV[2])
local full_at = tonumber(redis.call('GET', KEYS[1]) or now)
if full_at < now then full_at = now end
local after = full_at + interval
local wait = after - now - capacity
if wait > 0 then return {0, tostring(wait)} end
redis.call('SET', KEYS[1], tostring(after), 'PX', math.ceil((after - now) * 1000) + 1000)
return {1, '0'}
"""
_lock = threading.Lock()
_scripts: dict[int, object] = {}


def take(ident: str, qps: float, burst: int) -> tuple[bool, float]:
    """Take one request from ``ident``'s bucket: (allowed, seconds to wait before the next one may pass)."""
    cache = caches["default"]
    interval, capacity = 1.0 / qps, max(burst, 1) / qps
    client = _redis(cache)
    if client is not None:
        script = _scripts.get(id(client))
        if script is None:
            script = _scripts[id(client)] = client.register_script(_LUA)
        try:
            allowed, wait = script(keys=[cache.make_key(KEY + ident)], args=[repr(interval), repr(capacity)])
        except Exception:  # the shared cache being down must not stop the API: the limit is off meanwhile
            log.warning("rate limit: the shared cache is unavailable, request let through", exc_info=True)
            return True, 0.0
        return bool(int(allowed)), float(wait)
    with _lock:
        now = time.time()
        after = max(cache.get(KEY + ident) or now, now) + interval
        wait = after - now - capacity
        if wait > 0:
            return False, wait
        cache.set(KEY + ident, after, math.ceil(after - now) + 1)
        return True, 0.0


def _redis(cache):
    """The Redis client behind a django-redis cache, or None for any other cache."""
    if not type(cache).__module__.startswith("django_redis"):
        return None
    return cache.client.get_client(write=True)


class UserRateLimit(BaseThrottle):
    """DRF throttle: the caller's bucket (``EDGE_API_RATE_LIMIT_QPS`` 0 turns the limit off)."""

    def allow_request(self, request, view) -> bool:
        """Take a request from the bucket of the user (or, anonymous, of the address)."""
        qps = settings.EDGE_API_RATE_LIMIT_QPS
        if qps <= 0:
            return True
        user = getattr(request, "user", None)
        ident = f"user:{user.pk}" if getattr(user, "is_authenticated", False) else f"addr:{self.get_ident(request)}"
        allowed, self._wait = take(ident, qps, settings.EDGE_API_RATE_LIMIT_BURST)
        return allowed

    def wait(self) -> float:
        """Seconds until the refused caller's next request may pass."""
        return self._wait
