"""Token buckets: a burst of one second's worth, refilled at the rate, per identity."""

from __future__ import annotations

from andromede.http.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refill_per_identity() -> None:
    clock = Clock()
    limiter = RateLimiter(3, clock=clock)
    assert [limiter.allow("a") for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b")  # another key has its own bucket
    clock.now += 0.34  # one token back (3 per second)
    assert limiter.allow("a")
    assert not limiter.allow("a")
    clock.now += 10  # never more than the burst
    assert [limiter.allow("a") for _ in range(4)] == [True, True, True, False]


def test_zero_means_no_limit() -> None:
    limiter = RateLimiter(0)
    assert all(limiter.allow("a") for _ in range(10_000))


def test_idle_buckets_are_dropped() -> None:
    clock = Clock()
    limiter = RateLimiter(1, clock=clock)
    for n in range(100):
        limiter.allow(f"key-{n}")
    clock.now += 120
    limiter.allow("fresh")
    assert len(limiter._buckets) == 1
