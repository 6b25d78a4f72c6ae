"""Bounded caches of unwrapped data keys and of the chunk keys derived from them, so GETs of
hot objects neither unwrap nor derive every time. A data-key entry files the chunk keys of the
blobs it seals, so a read finds its chunk key in one look-up without the data key leaving the
cache (decision 0026); ``ChunkKeyCache`` serves the callers that hold the data key (writes,
SSE-C, bucket keys).

Entries live at most ``ttl_seconds`` after they were unwrapped (a hit does not extend that) and
at most ``max_entries`` are kept (the oldest goes first). An evicted, expired or dropped key is
overwritten with zeros in place; :meth:`DataKeyCache.drop_tenant` is what makes a destroyed
tenant's keys leave this process at once.

What zeroing can and cannot do in Python: the cache owns one ``bytearray`` per key and zeroes
it, and callers get their own ``bytearray`` copy they can zero too. But ``bytes`` copies made
on the way — by ``cryptography`` when a key object is built, by HKDF, by the PKCS#11 binding —
are immutable and freed whenever the garbage collector decides, without being overwritten; the
allocator may also have moved an older copy. So this narrows the time a key sits in memory, it
does not guarantee erasure: a process memory dump can still find recent keys. Other worker
processes hold a destroyed tenant's cached keys until their TTL runs out or their next use,
but never *use* them again: ``KeyService`` asks the root-key provider on every hit whether the
ring was destroyed (``RootKeyProvider.check_usable``: a token handle, or the keystore as
last rechecked, at most ``key_file_recheck_interval`` ago), and drops them when it was.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

from andromede.kms.chunks import NO_SALT

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from typing_extensions import Buffer

__all__ = ["ChunkKeyCache", "DataKeyCache"]


def _zero(key: bytearray) -> None:
    key[:] = bytes(len(key))


_CHUNK_KEYS_PER_DATA_KEY = 16  # one per blob the key seals: SSE-S3 gives each blob its own


class _Entry:
    """One cached data key and the chunk keys derived from it, which go when it goes."""

    __slots__ = ("chunk_keys", "expires", "key")

    def __init__(self, expires: float, key: bytearray) -> None:
        self.expires = expires
        self.key = key
        self.chunk_keys: dict[bytes, AESGCM] = {}

    def drop(self) -> None:
        _zero(self.key)
        self.chunk_keys.clear()


class DataKeyCache:
    """Unwrapped data keys by (tenant id, wrapped blob), with a lifetime and a size bound.

    Each entry also files the chunk keys derived from its data key (:meth:`chunk_key`), so a
    GET finds its blob's chunk key in one look-up without the data key leaving the cache; they
    live no longer than the data key and are dropped with it (expiry, eviction, a destroyed
    tenant).
    """

    def __init__(
        self,
        *,
        ttl_seconds: float,
        max_entries: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_seconds < 0 or max_entries < 0:
            raise ValueError("cache TTL and size must be >= 0")
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        # Insertion order is expiry order, since every entry gets the same lifetime.
        self._entries: OrderedDict[tuple[str, bytes], _Entry] = OrderedDict()
        # When the oldest entry expires: until then a look-up has nothing to expire.
        self._next_expiry = math.inf

    def __len__(self) -> int:
        with self._lock:
            self._expire()
            return len(self._entries)

    def get(self, tenant_id: str, wrapped: bytes) -> bytearray | None:
        """A copy of the cached key, or None."""
        with self._lock:
            self._expire()
            entry = self._entries.get((tenant_id, wrapped))
            return None if entry is None else bytearray(entry.key)

    def chunk_key(
        self, tenant_id: str, wrapped: bytes, salt: bytes, derive: Callable[[bytes, bytes], AESGCM]
    ) -> AESGCM | None:
        """The chunk key of the blob with ``salt`` under the cached data key (derived from it on
        first use, then filed with it), or None if the data key is not cached."""
        with self._lock:
            if self._clock() >= self._next_expiry:  # _expire's own test, without the call
                self._expire()
            entry = self._entries.get((tenant_id, wrapped))
            if entry is None:
                return None
            aead = entry.chunk_keys.get(salt)
            if aead is None:
                if len(entry.chunk_keys) >= _CHUNK_KEYS_PER_DATA_KEY:
                    entry.chunk_keys.clear()
                aead = entry.chunk_keys[salt] = derive(bytes(entry.key), salt)
            return aead

    def put(
        self,
        tenant_id: str,
        wrapped: bytes,
        key: bytearray,
        chunk_keys: tuple[bytes, AESGCM] | None = None,
    ) -> None:
        """Cache a copy of ``key`` (the caller keeps and may zero its own); ``chunk_keys``: a
        (salt, chunk key) already made from it, filed with it (a new blob's)."""
        if self._ttl == 0 or self._max_entries == 0:
            return
        cache_key = (tenant_id, wrapped)
        with self._lock:
            now = self._clock()
            if now >= self._next_expiry:  # _expire's own test, without the call
                self._expire()
            entries = self._entries
            previous = entries.pop(cache_key, None)
            oldest_changed = previous is not None or not entries
            if previous is not None:
                previous.drop()
            while len(entries) >= self._max_entries:
                entries.popitem(last=False)[1].drop()
                oldest_changed = True
            entry = _Entry(now + self._ttl, bytearray(key))
            if chunk_keys is not None:
                entry.chunk_keys[chunk_keys[0]] = chunk_keys[1]
            entries[cache_key] = entry
            # Insertion order is expiry order: the oldest entry changes only when the cache
            # was empty or lost entries here (an object's first read: neither, usually).
            if oldest_changed:
                self._set_next_expiry()

    def put_many(self, tenant_id: str, keys: list[tuple[bytes, bytearray, AESGCM]]) -> None:
        """:meth:`put` for fresh format-2 keys of one tenant: (wrapped blob, key, its AES-GCM
        object, filed as the key's own chunk key), under one lock."""
        if self._ttl == 0 or self._max_entries == 0:
            return
        with self._lock:
            self._expire()
            entries = self._entries
            expires = self._clock() + self._ttl
            for wrapped, key, aead in keys:
                previous = entries.pop((tenant_id, wrapped), None)
                if previous is not None:
                    previous.drop()
                while len(entries) >= self._max_entries:
                    entries.popitem(last=False)[1].drop()
                entry = _Entry(expires, bytearray(key))
                entry.chunk_keys[NO_SALT] = aead
                entries[(tenant_id, wrapped)] = entry
            if entries:
                self._next_expiry = next(iter(entries.values())).expires

    def drop_tenant(self, tenant_id: str) -> None:
        """Zero and forget every key of one tenant (its KEK was destroyed)."""
        with self._lock:
            for cache_key in [k for k in self._entries if k[0] == tenant_id]:
                self._entries.pop(cache_key).drop()
            self._set_next_expiry()

    def clear(self) -> None:
        with self._lock:
            for entry in self._entries.values():
                entry.drop()
            self._entries.clear()
            self._next_expiry = math.inf

    def _expire(self) -> None:
        now = self._clock()
        if now < self._next_expiry:
            return
        entries = self._entries
        while entries:
            entry = next(iter(entries.values()))
            if entry.expires > now:
                break
            entries.popitem(last=False)[1].drop()
        self._set_next_expiry()

    def _set_next_expiry(self) -> None:
        entries = self._entries
        self._next_expiry = next(iter(entries.values())).expires if entries else math.inf


class ChunkKeyCache:
    """Derived chunk keys (AES-GCM objects) by (data key, blob salt), lifetime- and size-bound.

    Deriving a blob's chunk key (HKDF, then an AES key schedule) was a fifth of the key work of
    a small GET. Looking an entry up takes the data key itself, so a cached chunk key is
    reachable only by a caller who already holds the data key — through :class:`DataKeyCache`
    or the provider, which is where destruction is enforced. :meth:`clear` empties it when a
    tenant is destroyed all the same, so no derived key outlives the data key in this process.
    """

    def __init__(
        self,
        derive: Callable[[bytes, bytes], AESGCM],
        *,
        ttl_seconds: float,
        max_entries: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_seconds < 0 or max_entries < 0:
            raise ValueError("cache TTL and size must be >= 0")
        self._derive = derive
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[bytes, tuple[float, AESGCM]] = OrderedDict()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def chunk_key(self, data_key: Buffer, salt: bytes) -> AESGCM:
        key = bytes(data_key)
        if self._ttl == 0 or self._max_entries == 0:
            return self._derive(key, salt)
        cache_key = key + salt
        now = self._clock()
        # One lock section, derivation included (microseconds): a miss costs no second one.
        with self._lock:
            entry = self._entries.get(cache_key)
            if entry is not None:
                if entry[0] > now:
                    return entry[1]
                del self._entries[cache_key]
            aead = self._derive(key, salt)
            entries = self._entries
            # Insertion order is expiry order (one lifetime for all): drop from the front.
            while entries and (
                len(entries) >= self._max_entries or next(iter(entries.values()))[0] <= now
            ):
                entries.popitem(last=False)
            entries[cache_key] = (now + self._ttl, aead)
            return aead

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
