"""Per-user rate limits counted atomically in Redis.

DRF's SimpleRateThrottle reads its history from the cache, decides, then writes it back: a burst of concurrent
requests all read the same empty history and all get through. This keeps DRF's rates, scopes and cache keys (which
carry the organization's schema) but counts in one Lua script, a sliding window of request times in a sorted set.

Every door that starts AI work counts against the same per-user rates (REST_FRAMEWORK's DEFAULT_THROTTLE_RATES,
``THROTTLE_UPLOAD`` / ``THROTTLE_GRADE``): the API views use the classes below as DRF throttles, the pages (upload
form, the review page's Grade button, job retry) call ``throttle()`` with the same class, so both share one counter.
"""

from __future__ import annotations

import math
import time
import uuid

from django.core.cache import cache
from django_redis import get_redis_connection
from rest_framework.exceptions import Throttled
from rest_framework.throttling import UserRateThrottle

_SLIDING_WINDOW = """
local key, now, window, limit = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) < limit then
  redis.call('ZADD', key, now, ARGV[4])
  redis.call('EXPIRE', key, math.ceil(window))
  return {1, '0'}
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return {0, tostring(tonumber(oldest[2]) + window - now)}
"""


class AtomicUserRateThrottle(UserRateThrottle):
    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        client = get_redis_connection("default")
        allowed, wait = client.eval(
            _SLIDING_WINDOW,
            1,
            cache.make_key(self.key),
            time.time(),
            self.duration,
            self.num_requests,
            uuid.uuid4().hex,
        )
        self._wait = max(0.0, float(wait))
        return bool(allowed)

    def wait(self) -> float | None:
        return math.ceil(self._wait) if self._wait else None


class UploadThrottle(AtomicUserRateThrottle):
    """Uploads (and retried extraction jobs): THROTTLE_UPLOAD per user."""

    scope = "upload"


class GradeThrottle(AtomicUserRateThrottle):
    """Grading requests (and retried grading jobs): THROTTLE_GRADE per user."""

    scope = "grade"


def throttle(request, throttle_class: type[AtomicUserRateThrottle]) -> None:
    """Count a page's request against the API's rate for the same action; raise DRF's Throttled when over it."""
    limiter = throttle_class()
    if not limiter.allow_request(request, None):
        raise Throttled(wait=limiter.wait())


def throttled_sentence(exc: Throttled, action: str) -> str:
    """What a page says when ``throttle`` refused: the action and how long to wait."""
    wait = int(exc.wait or 60)
    when = f"{wait} seconds" if wait < 120 else f"{round(wait / 60)} minutes"
    return f"You have {action} too often in the last hour; try again in {when}."
