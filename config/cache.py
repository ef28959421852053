"""Rate limits that keep the desk answering while Redis is away.

django-ratelimit counts in a cache; Django's Redis cache raises when Redis is down, which
would turn a survey page or a login into a 500. This cache answers "unknown" instead, and
with ``RATELIMIT_FAIL_OPEN`` the request goes through (uncounted) until Redis is back.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

UNREACHABLE = (RedisConnectionError, RedisTimeoutError)


class ForgivingRedisCache(RedisCache):
    def add(self, key: Any, value: Any, timeout: Any = None, version: Any = None) -> bool:
        try:
            return super().add(key, value, timeout, version)
        except UNREACHABLE as error:
            logger.warning("Rate limits not counted, Redis is unreachable: %s", error)
            return False

    def get(self, key: Any, default: Any = None, version: Any = None) -> Any:
        try:
            return super().get(key, default, version)
        except UNREACHABLE:
            return None

    def incr(self, key: Any, delta: int = 1, version: Any = None) -> Any:
        try:
            return super().incr(key, delta, version)
        except UNREACHABLE:
            return None
