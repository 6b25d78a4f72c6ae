"""The key caches: bounded lifetime and size, zeroing what they drop."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from andromede.kms.cache import ChunkKeyCache, DataKeyCache
from andromede.kms.chunks import derive_chunk_key


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def held(cache: DataKeyCache) -> list[bytearray]:
    # The cache's own copies, to check that dropping one overwrites it.
    return [entry.key for entry in cache._entries.values()]


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


def test_entries_put_one_after_another_expire_each_after_its_own_lifetime() -> None:
    clock = Clock()
    cache = DataKeyCache(ttl_seconds=10, max_entries=10, clock=clock)
    cache.put("t", b"w1", bytearray(b"1" * 32))
    clock.now += 4
    cache.put("t", b"w2", bytearray(b"2" * 32))
    clock.now += 4
    cache.put("t", b"w3", bytearray(b"3" * 32))
    clock.now += 2  # w1 is 10 s old
    assert cache.chunk_key("t", b"w1", b"", derive_chunk_key) is None
    assert cache.chunk_key("t", b"w2", b"", derive_chunk_key) is not None
    clock.now += 4  # w2 too
    assert cache.chunk_key("t", b"w2", b"", derive_chunk_key) is None
    assert cache.chunk_key("t", b"w3", b"", derive_chunk_key) is not None
    # The oldest put again: it lives from now, and the next oldest is the next to go.
    cache.put("t", b"w3", bytearray(b"3" * 32))
    cache.put("t", b"w4", bytearray(b"4" * 32))
    clock.now += 9
    assert len(cache) == 2
    clock.now += 1
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


class CountingDerivation:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, data_key: bytes, salt: bytes) -> AESGCM:
        self.calls += 1
        return derive_chunk_key(data_key, salt)


def test_a_chunk_key_is_derived_once_per_data_key_and_salt_while_fresh() -> None:
    clock, derive = Clock(), CountingDerivation()
    cache = ChunkKeyCache(derive, ttl_seconds=10, max_entries=10, clock=clock)
    key, salt = bytearray(b"k" * 32), b"s" * 32
    first = cache.chunk_key(key, salt)
    assert cache.chunk_key(bytes(key), salt) is first
    assert derive.calls == 1
    cache.chunk_key(key, b"t" * 32)
    cache.chunk_key(b"j" * 32, salt)
    assert derive.calls == 3
    clock.now += 10
    assert cache.chunk_key(key, salt) is not first
    assert derive.calls == 4


def test_the_chunk_key_cache_is_bounded_and_can_be_cleared() -> None:
    derive = CountingDerivation()
    cache = ChunkKeyCache(derive, ttl_seconds=10, max_entries=2)
    for n in range(5):
        cache.chunk_key(bytes([n]) * 32, b"s" * 32)
    assert len(cache) == 2
    cache.clear()
    assert len(cache) == 0
    off = ChunkKeyCache(derive, ttl_seconds=0, max_entries=2)
    off.chunk_key(b"k" * 32, b"s" * 32)
    off.chunk_key(b"k" * 32, b"s" * 32)
    assert len(off) == 0


def test_a_cached_chunk_key_is_the_derived_one() -> None:
    cache = ChunkKeyCache(derive_chunk_key, ttl_seconds=10, max_entries=10)
    key, salt, nonce = b"k" * 32, b"s" * 32, bytes(12)
    sealed = derive_chunk_key(key, salt).encrypt(nonce, b"plain", None)
    assert cache.chunk_key(key, salt).decrypt(nonce, sealed, None) == b"plain"


def test_chunk_keys_are_filed_with_their_data_key_and_go_with_it() -> None:
    clock, derive = Clock(), CountingDerivation()
    cache = DataKeyCache(ttl_seconds=10, max_entries=10, clock=clock)
    salt = b"s" * 32
    assert cache.chunk_key("t", b"w1", salt, derive) is None  # no data key cached: nothing
    cache.put("t", b"w1", bytearray(b"k" * 32))
    first = cache.chunk_key("t", b"w1", salt, derive)
    assert first is not None
    assert cache.chunk_key("t", b"w1", salt, derive) is first
    assert derive.calls == 1
    nonce = bytes(12)
    assert first.decrypt(nonce, derive_chunk_key(b"k" * 32, salt).encrypt(nonce, b"p", None), None)
    assert cache.chunk_key("other", b"w1", salt, derive) is None  # filed by tenant too
    # Gone with the data key: dropped tenant, expiry.
    cache.drop_tenant("t")
    assert cache.chunk_key("t", b"w1", salt, derive) is None
    cache.put("t", b"w2", bytearray(b"k" * 32))
    assert cache.chunk_key("t", b"w2", salt, derive) is not None
    clock.now += 10
    assert cache.chunk_key("t", b"w2", salt, derive) is None
    assert len(cache) == 0


def test_a_data_key_files_a_bounded_number_of_chunk_keys() -> None:
    derive = CountingDerivation()
    cache = DataKeyCache(ttl_seconds=10, max_entries=10)
    cache.put("t", b"w", bytearray(b"k" * 32))
    for n in range(40):
        cache.chunk_key("t", b"w", bytes([n]) * 32, derive)
    (entry,) = cache._entries.values()
    assert 0 < len(entry.chunk_keys) <= 16
    evicted = dict(entry.chunk_keys)
    cache.put("t", b"w", bytearray(b"j" * 32))  # replaced: the old key's chunk keys go
    assert evicted and not entry.chunk_keys
    assert entry.key == bytes(32)


def test_keys_put_together_are_filed_each_with_its_own_object_and_bounded() -> None:
    clock = Clock()
    cache = DataKeyCache(ttl_seconds=10, max_entries=3, clock=clock)
    cache.put("t", b"old", bytearray(b"o" * 32))
    (old,) = held(cache)
    made = [
        (f"w{n}".encode(), bytearray(bytes([n]) * 32), AESGCM(bytes([n]) * 32)) for n in (1, 2, 3)
    ]
    cache.put_many("t", made)
    assert not any(old)  # the oldest went, zeroed, to make room
    assert cache.get("t", b"old") is None
    for wrapped, key, aead in made:
        assert cache.get("t", wrapped) == key
        assert cache.chunk_key("t", wrapped, b"", derive_chunk_key) is aead  # not derived again
    clock.now += 10
    assert len(cache) == 0


def test_keys_put_together_are_not_kept_by_a_cache_that_is_off() -> None:
    for ttl, size in ((0, 10), (10, 0)):
        cache = DataKeyCache(ttl_seconds=ttl, max_entries=size)
        cache.put_many("t", [(b"w", bytearray(32), AESGCM(bytes(32)))])
        assert cache.get("t", b"w") is None
