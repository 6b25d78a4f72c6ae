"""Token buckets per client identity: the request-rate limit S3 answers with ``SlowDown``.

Each identity (an access key id) gets a bucket of ``rate`` tokens refilled continuously, holding
at most one second's worth (the burst). State is per process: with several workers the limit
applies to each, and buckets of keys idle for a minute are dropped so the table stays small.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["RateLimiter"]

_IDLE_DROP = 60.0


class RateLimiter:
    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = rate
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # identity -> (tokens, last refill)
        self._last_sweep = clock()

    def allow(self, identity: str) -> bool:
        """Take one token for ``identity``; False when it has none left."""
        if self._rate <= 0:
            return True
        now = self._clock()
        tokens, last = self._buckets.get(identity, (self._rate, now))
        tokens = min(self._rate, tokens + (now - last) * self._rate)
        allowed = tokens >= 1.0
        self._buckets[identity] = (tokens - 1.0 if allowed else tokens, now)
        if now - self._last_sweep > _IDLE_DROP:
            self._sweep(now)
        return allowed

    def _sweep(self, now: float) -> None:
        self._last_sweep = now
        idle = [k for k, (_, last) in self._buckets.items() if now - last > _IDLE_DROP]
        for key in idle:
            del self._buckets[key]
