"""KeyService: the one public entry of key management, the one the object path calls.

It owns the policy that ties the pieces together: one fresh data key per object or part,
wrapped under the tenant KEK's current version (old versions keep unwrapping), unwrapped keys
and the chunk keys derived from them cached for a bounded time, a destroyed tenant's cached
keys dropped at once, and the chunk size of the encrypted blob format. Storage-independent:
callers hand it bytes and get bytes.

A PUT::

    data_key, wrapped = keys.new_data_key(tenant_id)       # store `wrapped` with the object
    encryptor = keys.object_encryptor(data_key, blob_id)   # update() per piece, then finish()

A GET of plaintext bytes ``[start, stop)``::

    data_key = keys.unwrap_data_key(tenant_id, wrapped)
    plan = keys.plan_range(size, start, stop)              # read [0, header_size) and the plan
    decryptor = keys.object_decryptor(data_key, blob_id, header, plan)

Provider calls block (file I/O, HSM); a cache hit does not. Async callers run ``new_data_key``
and cache misses in a thread.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, NamedTuple

from andromede.kms.cache import ChunkKeyCache, DataKeyCache
from andromede.kms.chunks import (
    CHUNK_SIZE,
    HEADER_SIZE,
    TAG_SIZE,
    ChunkDecryptor,
    ChunkEncryptor,
    ChunkRange,
    ciphertext_size,
    derive_chunk_key,
    plaintext_size,
    plan_range,
)
from andromede.kms.errors import (
    IntegrityError,
    InvalidWrappedKey,
    KeyAlreadyExists,
    KeyDestroyed,
    KeyNotFound,
    KmsError,
    ProviderError,
    UnsupportedFormatVersion,
)
from andromede.kms.model import (
    DATA_KEY_SIZE,
    TenantKeyRing,
    WrappedDataKey,
    check_tenant_id,
    data_key_aad,
)
from andromede.kms.providers import RootKeyProvider

if TYPE_CHECKING:
    from typing_extensions import Buffer

__all__ = [
    "ChunkDecryptor",
    "ChunkEncryptor",
    "ChunkRange",
    "IntegrityError",
    "InvalidWrappedKey",
    "KeyAlreadyExists",
    "KeyDestroyed",
    "KeyNotFound",
    "KeyService",
    "KmsError",
    "NewDataKey",
    "ProviderError",
    "RootKeyProvider",
    "TenantKeyRing",
    "UnsupportedFormatVersion",
]

DEFAULT_CACHE_TTL_SECONDS = 300.0
DEFAULT_CACHE_MAX_ENTRIES = 10_000


class NewDataKey(NamedTuple):
    """A fresh data key: use ``plaintext`` now (then zero it), store ``wrapped``."""

    plaintext: bytearray
    wrapped: bytes


class KeyService:
    """Tenant keys, data keys and object encryption over one root-key provider."""

    def __init__(
        self,
        provider: RootKeyProvider,
        *,
        cache_ttl_seconds: float = DEFAULT_CACHE_TTL_SECONDS,
        cache_max_entries: int = DEFAULT_CACHE_MAX_ENTRIES,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        self._provider = provider
        self._cache = DataKeyCache(ttl_seconds=cache_ttl_seconds, max_entries=cache_max_entries)
        self._chunk_keys = ChunkKeyCache(
            derive_chunk_key, ttl_seconds=cache_ttl_seconds, max_entries=cache_max_entries
        )
        self._chunk_size = chunk_size

    # --- tenant keys -------------------------------------------------------------------------

    def create_tenant_key(self, tenant_id: str) -> TenantKeyRing:
        return self._provider.create_tenant_key(check_tenant_id(tenant_id))

    def ensure_tenant_key(self, tenant_id: str) -> TenantKeyRing:
        """The tenant's key ring, created on first use (``KeyDestroyed`` if it was destroyed)."""
        try:
            return self._provider.tenant_key_ring(check_tenant_id(tenant_id))
        except KeyNotFound:
            pass
        try:
            return self._provider.create_tenant_key(tenant_id)
        except KeyAlreadyExists:  # another worker created it in between
            return self._provider.tenant_key_ring(tenant_id)

    def rotate_tenant_key(self, tenant_id: str) -> TenantKeyRing:
        return self._provider.rotate_tenant_key(check_tenant_id(tenant_id))

    def destroy_tenant_key(self, tenant_id: str) -> None:
        """Crypto-shred the tenant: every data key its KEKs wrapped becomes unopenable."""
        self._provider.destroy_tenant_key(check_tenant_id(tenant_id))
        self._cache.drop_tenant(tenant_id)
        # Chunk keys are not filed by tenant; destruction is rare, so all of them go.
        self._chunk_keys.clear()

    def tenant_key_ring(self, tenant_id: str) -> TenantKeyRing:
        return self._provider.tenant_key_ring(check_tenant_id(tenant_id))

    def list_tenants(self) -> list[str]:
        return self._provider.list_tenants()

    # --- data keys ---------------------------------------------------------------------------

    def new_data_key(self, tenant_id: str) -> NewDataKey:
        """A random 256-bit data key, and its form wrapped under the tenant's current KEK."""
        version = self._provider.tenant_key_ring(check_tenant_id(tenant_id)).current
        plaintext = bytearray(secrets.token_bytes(DATA_KEY_SIZE))
        sealed = self._provider.seal(
            tenant_id, version, bytes(plaintext), data_key_aad(tenant_id, version)
        )
        wrapped = WrappedDataKey(tenant_id=tenant_id, kek_version=version, sealed=sealed).encode()
        self._cache.put(tenant_id, wrapped, plaintext)  # a GET soon after the PUT is common
        return NewDataKey(plaintext=plaintext, wrapped=wrapped)

    def unwrap_data_key(self, tenant_id: str, wrapped: bytes) -> bytearray:
        """The data key inside ``wrapped`` (cached for a bounded time); the caller may zero it."""
        cached = self._cache.get(tenant_id, wrapped)
        if cached is not None:
            return cached
        parsed = self._parse(tenant_id, wrapped)
        plaintext = self._provider.open(
            tenant_id,
            parsed.kek_version,
            parsed.sealed,
            data_key_aad(tenant_id, parsed.kek_version),
        )
        if len(plaintext) != DATA_KEY_SIZE:
            raise InvalidWrappedKey("wrapped data key does not hold a 256-bit key")
        self._cache.put(tenant_id, wrapped, plaintext)
        return plaintext

    def rewrap_data_key(self, tenant_id: str, wrapped: bytes) -> bytes:
        """``wrapped`` re-sealed under the tenant's current KEK version (after a rotation)."""
        plaintext = self.unwrap_data_key(tenant_id, wrapped)
        try:
            version = self._provider.tenant_key_ring(tenant_id).current
            if self._parse(tenant_id, wrapped).kek_version == version:
                return wrapped
            sealed = self._provider.seal(
                tenant_id, version, bytes(plaintext), data_key_aad(tenant_id, version)
            )
        finally:
            plaintext[:] = bytes(len(plaintext))
        return WrappedDataKey(tenant_id=tenant_id, kek_version=version, sealed=sealed).encode()

    def _parse(self, tenant_id: str, wrapped: bytes) -> WrappedDataKey:
        parsed = WrappedDataKey.decode(wrapped)
        if parsed.tenant_id != check_tenant_id(tenant_id):
            raise InvalidWrappedKey("wrapped data key belongs to another tenant")
        return parsed

    # --- object encryption -------------------------------------------------------------------

    @property
    def chunk_size(self) -> int:
        return self._chunk_size

    @property
    def header_size(self) -> int:
        """Bytes at the start of every encrypted blob that a range read must also fetch."""
        return HEADER_SIZE

    @property
    def read_block_size(self) -> int:
        """A good read size for encrypted blobs: 16 whole stored chunks (~1 MiB).

        Blocks that hold whole chunks are decrypted straight from the read buffer; a chunk
        split across two reads is first copied together.
        """
        return 16 * (self._chunk_size + TAG_SIZE)

    def stored_size(self, plaintext_bytes: int) -> int:
        """Size of the encrypted blob of a ``plaintext_bytes``-byte object or part."""
        return ciphertext_size(plaintext_bytes, self._chunk_size)

    def plaintext_size(self, stored_bytes: int) -> int:
        """Inverse of :meth:`stored_size` (``IntegrityError`` for an impossible size)."""
        return plaintext_size(stored_bytes, self._chunk_size)

    def plan_range(self, plaintext_bytes: int, start: int, stop: int) -> ChunkRange:
        """The chunks to read for plaintext ``[start, stop)``; ``(0, 0)`` for an empty object."""
        return plan_range(plaintext_bytes, start, stop, self._chunk_size)

    def object_encryptor(self, data_key: Buffer, object_id: bytes | str) -> ChunkEncryptor:
        # The new blob's chunk key is cached too: a GET soon after the PUT is common.
        return ChunkEncryptor(
            data_key, object_id, chunk_size=self._chunk_size, chunk_key=self._chunk_keys.chunk_key
        )

    def object_decryptor(
        self, data_key: Buffer, object_id: bytes | str, header: Buffer, plan: ChunkRange
    ) -> ChunkDecryptor:
        if plan.chunk_size != self._chunk_size:
            raise ValueError("the range was planned for another chunk size")
        return ChunkDecryptor(
            data_key, object_id, header, plan, chunk_key=self._chunk_keys.chunk_key
        )

    def close(self) -> None:
        self._cache.clear()
        self._chunk_keys.clear()
        self._provider.close()
