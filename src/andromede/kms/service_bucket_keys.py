"""KeyService's S3 Bucket Keys: a bucket-level key, itself a data key of the ring bound to the
bucket's context, made at most once per ``bucket_key_ttl_seconds`` per process, under which the
data keys of the bucket's objects are wrapped locally (AES-256-GCM, bound to each object's
context): the ring (the HSM, the KMS key) is used once per bucket and lifetime, not per object.

Mixed into :class:`~andromede.kms.service.KeyService`, whose data keys a bucket key is made of
and opened as; split off only for size.
"""

from __future__ import annotations

import secrets
import threading
from typing import TYPE_CHECKING, NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from andromede.kms.cache import DataKeyCache
from andromede.kms.errors import IntegrityError, InvalidWrappedKey
from andromede.kms.model import DATA_KEY_SIZE, NONCE_SIZE

if TYPE_CHECKING:
    from collections.abc import Callable

    from andromede.kms.service import NewDataKey

__all__ = ["BucketDataKey", "BucketKeysMixin"]

_BUCKET_WRAP_AAD = b"andromede/kms bucket-key data key v1\x00"
_BUCKET_WRAPPED_SIZE = NONCE_SIZE + DATA_KEY_SIZE + 16


class BucketDataKey(NamedTuple):
    """A fresh data key under a bucket key: store ``wrapped`` and ``bucket_key`` (the bucket
    key wrapped under the ring) with the object."""

    plaintext: bytearray
    wrapped: bytes
    bucket_key: bytes


class BucketKeysMixin:
    """Bucket keys (mixed into KeyService)."""

    _cache: DataKeyCache
    _clock: Callable[[], float]
    _bucket_lock: threading.Lock
    _bucket_keys: dict[tuple[str, bytes], tuple[float, bytearray, bytes]]
    _bucket_keys_max: int
    _bucket_key_ttl: float

    if TYPE_CHECKING:  # KeyService's own: a bucket key is one of the ring's data keys

        def check_usable(self, tenant_id: str) -> None: ...

        def new_data_key(self, tenant_id: str, bound_context: bytes = b"") -> NewDataKey: ...

        def unwrap_data_key(
            self, tenant_id: str, wrapped: bytes, bound_context: bytes = b""
        ) -> bytearray: ...

    def new_bucket_data_key(
        self, key_ring: str, bucket_context: bytes, bound_context: bytes
    ) -> BucketDataKey:
        """A fresh data key wrapped (AES-256-GCM, bound to ``bound_context``) under the current
        bucket key of ``key_ring`` for ``bucket_context``, which is made under the ring (bound
        to ``bucket_context``) when this process has none younger than the bucket-key TTL."""
        bucket_plain, bucket_wrapped = self._bucket_key(key_ring, bucket_context)
        plaintext = bytearray(secrets.token_bytes(DATA_KEY_SIZE))
        nonce = secrets.token_bytes(NONCE_SIZE)
        sealed = AESGCM(bytes(bucket_plain)).encrypt(
            nonce, bytes(plaintext), _BUCKET_WRAP_AAD + bound_context
        )
        bucket_plain[:] = bytes(len(bucket_plain))
        wrapped = nonce + sealed
        self._cache.put(key_ring, wrapped + bound_context + bucket_wrapped, plaintext)
        return BucketDataKey(plaintext, wrapped, bucket_wrapped)

    def unwrap_bucket_data_key(
        self,
        key_ring: str,
        bucket_wrapped: bytes,
        bucket_context: bytes,
        wrapped: bytes,
        bound_context: bytes,
    ) -> bytearray:
        """The data key ``wrapped`` under the bucket key ``bucket_wrapped`` (both cached)."""
        cache_key = wrapped + bound_context + bucket_wrapped
        cached = self._cache.get(key_ring, cache_key)
        if cached is not None:
            try:
                self.check_usable(key_ring)
            except BaseException:
                cached[:] = bytes(len(cached))
                raise
            return cached
        if len(wrapped) != _BUCKET_WRAPPED_SIZE:
            raise InvalidWrappedKey("wrapped data key has the wrong length")
        bucket_plain = self.unwrap_data_key(key_ring, bucket_wrapped, bucket_context)
        try:
            plaintext = bytearray(
                AESGCM(bytes(bucket_plain)).decrypt(
                    wrapped[:NONCE_SIZE], wrapped[NONCE_SIZE:], _BUCKET_WRAP_AAD + bound_context
                )
            )
        except InvalidTag:
            raise IntegrityError("wrapped data key failed authentication") from None
        finally:
            bucket_plain[:] = bytes(len(bucket_plain))
        self._cache.put(key_ring, cache_key, plaintext)
        return plaintext

    def _bucket_key(self, key_ring: str, bucket_context: bytes) -> tuple[bytearray, bytes]:
        now = self._clock()
        found: tuple[bytearray, bytes] | None = None
        with self._bucket_lock:
            entry = self._bucket_keys.get((key_ring, bucket_context))
            if entry is not None and entry[0] > now:
                found = bytearray(entry[1]), entry[2]
        if found is not None:
            try:
                self.check_usable(key_ring)
            except BaseException:
                found[0][:] = bytes(len(found[0]))
                raise
            return found
        made = self.new_data_key(key_ring, bound_context=bucket_context)
        return self._keep_bucket_key(key_ring, bucket_context, made.plaintext, made.wrapped, now)

    def install_bucket_key(
        self, key_ring: str, bucket_context: bytes, plaintext: bytearray, wrapped: bytes
    ) -> None:
        """Make ``wrapped`` (a two-layer key the caller made through the proxy, on
        ``ExternalLayerNeeded`` from :meth:`new_bucket_data_key`) the current bucket key of
        ``key_ring`` for ``bucket_context``, for the bucket-key lifetime."""
        self._keep_bucket_key(key_ring, bucket_context, plaintext, wrapped, self._clock())

    def _keep_bucket_key(
        self,
        key_ring: str,
        bucket_context: bytes,
        plaintext: bytearray,
        wrapped: bytes,
        now: float,
    ) -> tuple[bytearray, bytes]:
        with self._bucket_lock:
            if len(self._bucket_keys) >= self._bucket_keys_max:
                self._drop_bucket_keys(lambda _: True)
            previous = self._bucket_keys.pop((key_ring, bucket_context), None)
            if previous is not None:
                previous[1][:] = bytes(len(previous[1]))
            self._bucket_keys[(key_ring, bucket_context)] = (
                now + self._bucket_key_ttl,
                bytearray(plaintext),
                wrapped,
            )
        return plaintext, wrapped

    def _drop_bucket_keys(self, dropped: Callable[[str], bool]) -> None:
        for entry_key in [k for k in self._bucket_keys if dropped(k[0])]:
            key = self._bucket_keys.pop(entry_key)[1]
            key[:] = bytes(len(key))
