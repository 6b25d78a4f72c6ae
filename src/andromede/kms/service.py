"""KeyService: the one public entry of key management, the one the object path calls.

It owns the policy that ties the pieces together: one fresh data key per object or part,
wrapped under the tenant KEK's current version (old versions keep unwrapping), unwrapped keys
and the chunk keys derived from them cached for a bounded time, a destroyed tenant's cached
keys dropped at once and refused on every cache hit once the provider sees the destruction
(another process's too: ``RootKeyProvider.check_usable``) — and so for a ring whose imported
material was withdrawn, until the same material is imported again —, and the chunk size of the
encrypted blob format. Storage-independent: callers hand it bytes and get bytes.

A PUT::

    new = keys.new_data_key(tenant_id)                     # store `new.wrapped` with the object
    encryptor = keys.fresh_blob_encryptor(new.cipher, blob_id)  # the key is this blob's alone
    ...                                                    # update() per piece, then finish()

A GET of plaintext bytes ``[start, stop)``::

    plan = keys.plan_range(size, start, stop)              # read [0, header_size) and the plan
    salt = blob_salt(header, keys.chunk_size)
    aead = keys.blob_chunk_key(tenant_id, wrapped, b"", salt)
    decryptor = ChunkDecryptor.with_chunk_key(aead, blob_id, plan, format_of_salt(salt))

(the data key stays in the cache, which files the chunk keys derived from it; callers that
need the data key itself — SSE-C mixes the customer's key into it — use ``unwrap_data_key``
and ``object_decryptor``).

An SSE-KMS data key is *bound* to its encryption context (the context's digest is in the
wrap's AAD: ``bound_context``), so it unwraps only with that context. With a *bucket key* (S3
Bucket Keys) the data keys of a bucket's objects are wrapped locally under a bucket-level key
that is itself a data key of the ring, bound to the bucket's context and made at most once per
``bucket_key_ttl_seconds`` per process: the ring (the HSM, the KMS key) is used once per bucket
and lifetime instead of once per object.

A KMS key in an external key store (decision 0094) wraps S3's and EBS's data keys in two
layers (``kms.external_keys``): this service makes and opens the inner form, under the ring,
and never calls the customer's proxy, which is a network call. Asked for a two-layer key it
does not hold, it raises ``ExternalLayerNeeded``; the async caller asks the proxy, hands the
inner form to :meth:`open_external_data_key` (which files the key in the cache, under the
two-layer form) and asks again. Such a ring, once :meth:`mark_external` (the KMS key was found
to be in an external key store), neither makes nor opens a one-layer key bound to a context:
only ciphertext blobs (no bound context here; their format checks their layers) use it so.

Provider calls block (file I/O, HSM); a cache hit does not. Async callers run ``new_data_key``
and cache misses in a thread. ``provider_calls`` counts the seal and open operations of the
root-key provider by ring (the uses of a tenant's or a KMS key's ring).

The service is split by concern for size (STYLE §10): ``service_bucket_keys``,
``service_external_keys`` (two-layer keys), ``service_object_encryption`` and
``service_private_keys`` are mixed into :class:`KeyService`, which keeps the tenant keys, the
data keys and their caches here. Callers import from here.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections import Counter
from typing import TYPE_CHECKING, NamedTuple

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from andromede.kms.cache import ChunkKeyCache, DataKeyCache
from andromede.kms.chunks import (
    CHUNK_SIZE,
    NO_SALT,
    ChunkDecryptor,
    ChunkEncryptor,
    ChunkRange,
    derive_chunk_key,
)
from andromede.kms.errors import (
    ExternalLayerNeeded,
    IntegrityError,
    InvalidWrappedKey,
    KeyAlreadyExists,
    KeyDestroyed,
    KeyNotFound,
    KeyWithdrawn,
    KmsError,
    ProviderError,
    UnsupportedFormatVersion,
)
from andromede.kms.external_keys import ExternalWrappedKey, is_external_form
from andromede.kms.model import (
    DATA_KEY_SIZE,
    TenantKeyRing,
    WrappedDataKey,
    check_tenant_id,
    data_key_aad,
    encode_wrapped_key,
    parse_wrapped_key,
)
from andromede.kms.providers import RootKeyProvider
from andromede.kms.service_bucket_keys import BucketDataKey, BucketKeysMixin
from andromede.kms.service_external_keys import ExternalKeysMixin
from andromede.kms.service_object_encryption import ObjectEncryptionMixin
from andromede.kms.service_private_keys import PrivateKeysMixin

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "BucketDataKey",
    "ChunkDecryptor",
    "ChunkEncryptor",
    "ChunkRange",
    "IntegrityError",
    "InvalidWrappedKey",
    "KeyAlreadyExists",
    "KeyDestroyed",
    "KeyNotFound",
    "KeyService",
    "KeyWithdrawn",
    "KmsError",
    "NewDataKey",
    "ProviderError",
    "RootKeyProvider",
    "TenantKeyRing",
    "UnsupportedFormatVersion",
]

DEFAULT_CACHE_TTL_SECONDS = 300.0
DEFAULT_CACHE_MAX_ENTRIES = 10_000
# Fresh SSE-S3 data keys made at a time per tenant (decision 0035): a small PUT made and wrapped
# its key alone, a few microseconds in a loop but several times that amid a request's other
# work (caches taken, the GIL released and taken back for the random bytes).
FRESH_KEY_BATCH = 16


class NewDataKey(NamedTuple):
    """A fresh data key: use ``plaintext`` now (then zero it), store ``wrapped``. ``cipher``:
    its AES-GCM object, for what is sealed under the key itself (a format-2 blob's chunks,
    headers), filed in the cache with the key so that the blob's first read finds it."""

    plaintext: bytearray
    wrapped: bytes
    cipher: AESGCM


# Services holding fresh keys. A forked child would hand out the same keys as its parent (the
# same data key for two blobs, whose chunk nonces both count from zero): it drops them first.
# (The server spawns its workers; this guards any other use of fork.)
_services: weakref.WeakSet[KeyService] = weakref.WeakSet()


def _drop_fresh_keys_in_child() -> None:
    for service in _services:
        service._fresh_lock = threading.Lock()  # another thread may have held it at the fork
        for _, _, held in service._fresh_keys.values():
            _forget_keys(held)
        service._fresh_keys.clear()


os.register_at_fork(after_in_child=_drop_fresh_keys_in_child)


def _forget_keys(keys: list[NewDataKey]) -> None:
    """Zero fresh keys never handed out (their cached copies go with the cache)."""
    for new in keys:
        new.plaintext[:] = bytes(len(new.plaintext))
    keys.clear()


class KeyService(PrivateKeysMixin, BucketKeysMixin, ExternalKeysMixin, ObjectEncryptionMixin):
    """Tenant keys, data keys and object encryption over one root-key provider."""

    def __init__(
        self,
        provider: RootKeyProvider,
        *,
        cache_ttl_seconds: float = DEFAULT_CACHE_TTL_SECONDS,
        cache_max_entries: int = DEFAULT_CACHE_MAX_ENTRIES,
        chunk_size: int = CHUNK_SIZE,
        bucket_key_ttl_seconds: float = DEFAULT_CACHE_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._provider = provider
        self._cache = DataKeyCache(ttl_seconds=cache_ttl_seconds, max_entries=cache_max_entries)
        self._chunk_keys = ChunkKeyCache(
            derive_chunk_key, ttl_seconds=cache_ttl_seconds, max_entries=cache_max_entries
        )
        self._chunk_size = chunk_size
        self._bucket_key_ttl = bucket_key_ttl_seconds
        self._clock = clock
        self._bucket_lock = threading.Lock()
        # (ring, bucket context digest) -> (expiry, bucket key, its wrapped form)
        self._bucket_keys: dict[tuple[str, bytes], tuple[float, bytearray, bytes]] = {}
        self._bucket_keys_max = cache_max_entries
        # Tenant -> (KEK version, when they go, fresh keys not yet handed out): made
        # FRESH_KEY_BATCH at a time, kept no longer than cached keys, none without a cache.
        cached = cache_ttl_seconds > 0 and cache_max_entries > 0
        self._caching = cached
        self._fresh_batch = FRESH_KEY_BATCH if cached else 1
        self._fresh_ttl = cache_ttl_seconds
        self._fresh_lock = threading.Lock()
        self._fresh_keys: dict[str, tuple[int, float, list[NewDataKey]]] = {}
        _services.add(self)
        self.provider_calls: Counter[str] = Counter()
        # Rings of KMS keys in external key stores met by this process (never forgotten: a
        # key does not leave its store). Few: one per such key used here.
        self._external_rings: set[str] = set()
        self._handoff: dict[tuple[str, bytes], bytearray] = {}

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

    def import_tenant_key(
        self, tenant_id: str, material: bytes, *, version: int = 1, pending: bool = False
    ) -> TenantKeyRing:
        """``version`` of the ring is ``material`` (imported key material, 32 bytes): live, so
        that what it sealed before a withdrawal opens again, or ``pending`` until
        :meth:`promote_tenant_key`. See ``RootKeyProvider.import_tenant_key``."""
        return self._provider.import_tenant_key(
            check_tenant_id(tenant_id), material, version=version, pending=pending
        )

    def promote_tenant_key(self, tenant_id: str, version: int) -> TenantKeyRing:
        """Make the pending ``version`` live and current (AWS RotateKeyOnDemand of imported
        material). The ring's fresh and cached keys go at once: fresh keys were wrapped under
        the version that was current, and the new one must wrap every key made from now on."""
        check_tenant_id(tenant_id)
        try:
            return self._provider.promote_tenant_key(tenant_id, version)
        finally:  # a failure half-way (a token call) may have changed the ring too
            self._forget_ring(tenant_id)

    def withdraw_tenant_key(self, tenant_id: str, version: int | None = None) -> None:
        """Delete the ring's imported material, ``version`` alone or (None) every version (no
        tombstone: it may be imported again); the ring's cached keys go at once, as a
        destroyed ring's do (all of them: the cache does not file keys by KEK version).

        Limit: another process checks its cached keys with ``check_usable``, which asks about
        the ring, not a version. A whole ring withdrawn there is seen as a destruction is; one
        version withdrawn while others stay live is not, and that process's cached keys of
        that version serve until the cache lifetime ends (its provider refuses to open the
        version again at once with a token, within ``key_file_recheck_interval`` with the
        key file)."""
        check_tenant_id(tenant_id)
        try:
            self._provider.withdraw_tenant_key(tenant_id, version)
        finally:  # a failure half-way (a token call) may have withdrawn some of it
            self._forget_ring(tenant_id)

    def rotate_tenant_key(self, tenant_id: str) -> TenantKeyRing:
        return self._provider.rotate_tenant_key(check_tenant_id(tenant_id))

    def destroy_tenant_key(self, tenant_id: str) -> None:
        """Crypto-shred the tenant: every data key its KEKs wrapped becomes unopenable."""
        self._provider.destroy_tenant_key(check_tenant_id(tenant_id))
        self._forget_ring(tenant_id)

    def _forget_ring(self, tenant_id: str) -> None:
        """Zero and drop every cached key of a ring destroyed, withdrawn (in whole or in part)
        or promoted to a new version, and its fresh keys."""
        self._drop_fresh_keys(tenant_id)
        self._cache.drop_tenant(tenant_id)
        with self._bucket_lock:
            self._drop_bucket_keys(lambda ring: ring == tenant_id)
        # Chunk keys are not filed by tenant; destruction is rare, so all of them go.
        self._chunk_keys.clear()

    def check_usable(self, tenant_id: str) -> None:
        """``KeyDestroyed`` if the tenant's ring was destroyed, ``KeyWithdrawn`` if it holds no
        key (its imported material withdrawn), here or by another process: before a cached key
        is used, and for callers that remember what a data key of the ring opened, before they
        use it. Such a ring's cached keys are dropped. (No
        check of the id's form here: it runs on every read, and a provider that looks ids up
        anywhere but in a dictionary checks them itself.)"""
        try:
            self._provider.check_usable(tenant_id)
        except (KeyDestroyed, KeyWithdrawn):
            self._forget_ring(tenant_id)
            raise

    def tenant_key_ring(self, tenant_id: str) -> TenantKeyRing:
        return self._provider.tenant_key_ring(check_tenant_id(tenant_id))

    def list_tenants(self) -> list[str]:
        return self._provider.list_tenants()

    # --- data keys ---------------------------------------------------------------------------

    def new_data_key(self, tenant_id: str, bound_context: bytes = b"") -> NewDataKey:
        """A random 256-bit data key, and its form wrapped under the tenant's current KEK
        (bound to ``bound_context``, a :func:`~andromede.kms.model.context_digest`, if given).

        Keys bound to no context (SSE-S3, every small PUT) are made :data:`FRESH_KEY_BATCH` at
        a time and handed out one each; a batch goes when the tenant's current KEK changes,
        when its ring is destroyed, or after the cache lifetime, zeroed. Every call still asks
        the provider for the current version, which refuses a destroyed ring."""
        # Every PUT comes here: the provider's cheapest answers, no ring or key objects built
        # (an invalid id is refused by the provider's checked path).
        try:
            version = self._provider.current_version(tenant_id)
        except (KeyDestroyed, KeyWithdrawn):
            # Destroyed or withdrawn, perhaps by another process: this one's keys of it go now.
            self._forget_ring(tenant_id)
            raise
        if bound_context or self._fresh_batch == 1:
            if bound_context and tenant_id in self._external_rings:
                raise ExternalLayerNeeded(tenant_id, b"", bound_context)
            return self._make_data_keys(tenant_id, version, bound_context, 1)[0]
        with self._fresh_lock:
            held = self._fresh_keys.get(tenant_id)
            if held is not None and held[0] == version and held[1] > self._clock() and held[2]:
                return held[2].pop()
        made = self._make_data_keys(tenant_id, version, b"", self._fresh_batch)
        key = made.pop()
        with self._fresh_lock:
            stale = self._fresh_keys.get(tenant_id)
            self._fresh_keys[tenant_id] = (version, self._clock() + self._fresh_ttl, made)
        if stale is not None:
            _forget_keys(stale[2])
        return key

    def _make_data_keys(
        self, tenant_id: str, version: int, bound_context: bytes, count: int
    ) -> list[NewDataKey]:
        """``count`` fresh data keys wrapped under KEK ``version``, filed in the cache (a GET
        soon after the PUT is common; the context is part of the cache key: a hit must have
        passed the same check as an unwrap)."""
        material = os.urandom(DATA_KEY_SIZE * count)
        keys = [material[at : at + DATA_KEY_SIZE] for at in range(0, len(material), DATA_KEY_SIZE)]
        self.provider_calls[tenant_id] += count
        sealed = self._provider.seal_many(
            tenant_id, version, keys, data_key_aad(tenant_id, version, bound_context)
        )
        made = [
            NewDataKey(bytearray(key), encode_wrapped_key(tenant_id, version, one), AESGCM(key))
            for key, one in zip(keys, sealed, strict=True)
        ]
        self._cache.put_many(
            tenant_id, [(new.wrapped + bound_context, new.plaintext, new.cipher) for new in made]
        )
        return made

    def _drop_fresh_keys(self, tenant_id: str) -> None:
        with self._fresh_lock:
            held = self._fresh_keys.pop(tenant_id, None)
        if held is not None:
            _forget_keys(held[2])

    def unwrap_data_key(
        self, tenant_id: str, wrapped: bytes, bound_context: bytes = b""
    ) -> bytearray:
        """The data key inside ``wrapped`` (cached for a bounded time); the caller may zero it.
        A key bound to a context opens only with the same ``bound_context``."""
        cached = self._cache.get(tenant_id, wrapped + bound_context)
        if cached is not None:
            try:
                self.check_usable(tenant_id)
            except BaseException:
                cached[:] = bytes(len(cached))
                raise
            return cached
        if is_external_form(wrapped):
            handed = self._handoff.pop((tenant_id, wrapped + bound_context), None)
            if handed is None:
                if ExternalWrappedKey.decode(wrapped).ring != tenant_id:  # its shape, checked
                    raise InvalidWrappedKey("wrapped data key belongs to another tenant")
                raise ExternalLayerNeeded(tenant_id, wrapped, bound_context)
            self.check_usable(tenant_id)
            return handed
        if bound_context and tenant_id in self._external_rings:
            # A one-layer key bound to a context under a ring that must have two layers.
            raise InvalidWrappedKey("a key of an external key store is wrapped in two layers")
        parsed = self._parse(tenant_id, wrapped)
        self.provider_calls[tenant_id] += 1
        plaintext = self._provider.open(
            tenant_id,
            parsed.kek_version,
            parsed.sealed,
            data_key_aad(tenant_id, parsed.kek_version, bound_context),
        )
        if len(plaintext) != DATA_KEY_SIZE:
            raise InvalidWrappedKey("wrapped data key does not hold a 256-bit key")
        self._cache.put(tenant_id, wrapped + bound_context, plaintext)
        return plaintext

    def blob_chunk_key(
        self,
        tenant_id: str,
        wrapped: bytes,
        bound_context: bytes,
        salt: bytes,
        *,
        ring_checked: bool = False,
    ) -> AESGCM:
        """The chunk key of the blob with ``salt`` (from its header) whose data key is
        ``wrapped``: what a read needs, without the data key leaving the cache. Filed with the
        cached data key, so a hot object costs one look-up. ``ring_checked``: the caller found
        the ring usable (:meth:`check_usable`) for this very use, in the same request; any
        other hit asks the provider, as :meth:`unwrap_data_key` does."""
        if not ring_checked:
            self.check_usable(tenant_id)
        cache_key = wrapped + bound_context if bound_context else wrapped
        # A chunk key not yet filed with its data key comes through the write path's chunk-key
        # cache: a blob written by this process moments ago (the GET after its PUT) has its key
        # there already, so its first read does not derive it again (HKDF, key schedule).
        # (A format-2 key's object is filed with its data key when made or first unwrapped:
        # it never passes through that cache, so it is made directly.)
        written = self._chunk_keys.chunk_key if salt else derive_chunk_key
        aead = self._cache.chunk_key(tenant_id, cache_key, salt, written)
        if aead is not None:
            return aead
        plaintext = self.unwrap_data_key(tenant_id, wrapped, bound_context)
        try:
            aead = self._cache.chunk_key(tenant_id, cache_key, salt, written)
            return aead if aead is not None else derive_chunk_key(plaintext, salt)
        finally:
            plaintext[:] = bytes(len(plaintext))

    def data_key_cipher(self, tenant_id: str, wrapped: bytes) -> AESGCM:
        """The AES-GCM object of the data key inside ``wrapped`` (bound to no context), the key
        staying in the cache: for what is sealed under the data key itself (an object's
        headers, a format-2 blob's chunks, which share it). Checked as :meth:`blob_chunk_key`."""
        self.check_usable(tenant_id)
        aead = self._cache.chunk_key(tenant_id, wrapped, NO_SALT, derive_chunk_key)
        if aead is not None:
            return aead
        # Not cached (another worker wrote the object, or its key left the cache): the first
        # read of an object in this process comes here. What blob_chunk_key reaches through
        # unwrap_data_key, flat: one parse, one unwrap, the key's object made once and filed
        # with the key, the cache entered once (decision 0033).
        owner, kek_version, sealed = parse_wrapped_key(wrapped)
        if owner != tenant_id:  # the parse checked the name: equal means valid
            raise InvalidWrappedKey("wrapped data key belongs to another tenant")
        return self._open_data_key_cipher(tenant_id, wrapped, kek_version, sealed)

    def owned_data_key_cipher(self, wrapped: bytes) -> tuple[str, AESGCM]:
        """:meth:`data_key_cipher` for the tenant the wrapped key names, and that tenant: for a
        caller that has not met this key yet (an object's first read in a process), parsed
        once. The name is bound in the wrap's AAD, so a key relabelled for another tenant
        does not open."""
        tenant_id, kek_version, sealed = parse_wrapped_key(wrapped)
        self.check_usable(tenant_id)
        aead = self._cache.chunk_key(tenant_id, wrapped, NO_SALT, derive_chunk_key)
        if aead is None:
            aead = self._open_data_key_cipher(tenant_id, wrapped, kek_version, sealed)
        return tenant_id, aead

    def _open_data_key_cipher(
        self, tenant_id: str, wrapped: bytes, kek_version: int, sealed: bytes
    ) -> AESGCM:
        """The unwrap behind :meth:`data_key_cipher`, of a key parsed and found not cached."""
        self.provider_calls[tenant_id] += 1
        plaintext = self._provider.open(
            tenant_id, kek_version, sealed, data_key_aad(tenant_id, kek_version)
        )
        try:
            if len(plaintext) != DATA_KEY_SIZE:
                raise InvalidWrappedKey("wrapped data key does not hold a 256-bit key")
            aead = AESGCM(plaintext)
            self._cache.put(tenant_id, wrapped, plaintext, (NO_SALT, aead))
        finally:
            plaintext[:] = bytes(len(plaintext))
        return aead

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
        if parsed.tenant_id != tenant_id:  # decode checked the name: equal means valid
            raise InvalidWrappedKey("wrapped data key belongs to another tenant")
        return parsed

    def close(self) -> None:
        with self._fresh_lock:
            batches, self._fresh_keys = list(self._fresh_keys.values()), {}
        for _, _, held in batches:
            _forget_keys(held)
        with self._bucket_lock:
            self._drop_bucket_keys(lambda _: True)
        self._cache.clear()
        self._chunk_keys.clear()
        self._provider.close()
