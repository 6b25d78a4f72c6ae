"""The data-key cache: bounded lifetime and size, zeroing what it drops."""

from __future__ import annotations

import pytest

from andromede.kms.cache import DataKeyCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def held(cache: DataKeyCache) -> list[bytearray]:
    # The cache's own copies, to check that dropping one overwrites it.
    return [key for _, key in cache._entries.values()]


def test_a_hit_returns_a_copy_the_caller_may_zero() -> None:
    cache = DataKeyCache(ttl_seconds=10, max_entries=10)
    cache.put("t", b"wrapped", bytearray(b"k" * 32))
    first = cache.get("t", b"wrapped")
    assert first == b"k" * 32
    assert first is not None
    first[:] = bytes(32)
    assert cache.get("t", b"wrapped") == b"k" * 32
    assert cache.get("other-tenant", b"wrapped") is None


def test_entries_expire_after_their_lifetime_and_are_zeroed() -> None:
    clock = Clock()
    cache = DataKeyCache(ttl_seconds=10, max_entries=10, clock=clock)
    cache.put("t", b"w1", bytearray(b"a" * 32))
    (kept,) = held(cache)
    clock.now += 5
    assert cache.get("t", b"w1") is not None  # a hit does not extend the lifetime
    clock.now += 5
    assert cache.get("t", b"w1") is None
    assert kept == bytes(32)
    assert len(cache) == 0


def test_the_oldest_entry_goes_when_full_and_is_zeroed() -> None:
    cache = DataKeyCache(ttl_seconds=10, max_entries=2)
    cache.put("t", b"w1", bytearray(b"1" * 32))
    oldest = held(cache)[0]
    cache.put("t", b"w2", bytearray(b"2" * 32))
    cache.put("t", b"w3", bytearray(b"3" * 32))
    assert len(cache) == 2
    assert cache.get("t", b"w1") is None
    assert oldest == bytes(32)
    assert cache.get("t", b"w3") == b"3" * 32


def test_dropping_a_tenant_zeroes_only_its_keys() -> None:
    cache = DataKeyCache(ttl_seconds=10, max_entries=10)
    cache.put("a", b"w1", bytearray(b"1" * 32))
    cache.put("b", b"w2", bytearray(b"2" * 32))
    a_key = held(cache)[0]
    cache.drop_tenant("a")
    assert a_key == bytes(32)
    assert cache.get("a", b"w1") is None
    assert cache.get("b", b"w2") == b"2" * 32
    cache.clear()
    assert len(cache) == 0


def test_a_zero_ttl_or_size_caches_nothing() -> None:
    for cache in (
        DataKeyCache(ttl_seconds=0, max_entries=10),
        DataKeyCache(ttl_seconds=10, max_entries=0),
    ):
        cache.put("t", b"w", bytearray(32))
        assert cache.get("t", b"w") is None
    with pytest.raises(ValueError, match=">= 0"):
        DataKeyCache(ttl_seconds=-1, max_entries=1)
