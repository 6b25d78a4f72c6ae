"""The object path's keys: storage's ``ObjectCipher`` implemented over ``kms.KeyService``.

Storage and key management are separate bounded contexts; this adapter, at the composition
root, is where they meet. It owns three choices:

- **Tenant keys on first write.** A tenant's key-encryption key is created when the tenant
  first stores something (the identity context, which creates tenants, does not call the key
  service): a data-key request for a tenant without one creates it, once per process.
- **Blocking.** Provider calls block. With the local key file a call is a ``stat`` and two
  AES-GCM operations on a small file already in the page cache (microseconds), cheaper inline
  than a thread hop that would cost small PUTs several percent; a PKCS#11 token is called from
  a thread, as are cache misses of it.
- **Errors.** Key-management errors become storage errors: a destroyed tenant key is
  ``EncryptionKeyUnavailable`` (S3 AccessDenied), and so is one whose imported material was
  deleted (until it is imported again); a damaged blob or wrapped key is
  ``ObjectCorrupted``. Never a plaintext byte that failed authentication.

- **Two layers for external key stores** (decision 0094). A KMS key of an external key store
  wraps each data key (an object's, a part's, a bucket key) under its ring and then through the
  customer's XKS proxy (``kms.external_keys``). The key service is synchronous and never calls
  the proxy: it answers ``ExternalLayerNeeded`` for such a key it does not hold, and the
  cipher asks the proxy (the event loop never blocks on it), hands the inner form back and
  tries again. The data key then stays in the key service's bounded cache, so later reads of
  the object call no proxy until the cache lifetime ends. Other keys pay nothing for it (an
  exception handler that never runs). The proxy's failures are the KMS key's errors
  (``KmsKeyUnusable``: S3 answers ``KMS.KMSInvalidStateException``). A bucket key is made
  once however many first PUTs ask for it at the same time. The proxy is told who asked:
  ``sse_kms_keys.S3KmsKeys`` names the S3 caller and request (``http.requester``) when it resolves
  such a key, and only then.

SSE-KMS's view of the customer-managed keys (which key, whose right to use it, in which
region) is ``sse_kms_keys``'s.

``PlaintextBenchCipher`` is the benchmark-only switch (``bench_unencrypted``): it stores new
blobs unencrypted so that the cost of encryption can be measured. It must never serve real data.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import NoReturn, TypeVar

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from andromede.errors import ConfigurationError
from andromede.kms.chunks import (
    FORMAT_FRESH_KEY,
    NO_SALT,
    ChunkDecryptor,
    ChunkRange,
    blob_salt,
    format_of_salt,
    fresh_blob_header,
    open_single_chunk,
    plan_range,
)
from andromede.kms.errors import (
    ExternalLayerNeeded,
    IntegrityError,
    KeyDestroyed,
    KeyNotFound,
    KeyWithdrawn,
    KmsError,
    ProviderError,
)
from andromede.kms.external_keys import ExternalDataKeys, ExternalWrappedKey, take_outer_layer
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.keys_errors import (
    CmkDisabled,
    CmkNotFound,
    CustomerKeyError,
    InvalidCiphertext,
)
from andromede.kms.model import context_digest, wrapped_key_ring
from andromede.kms.providers import RootKeyProvider
from andromede.kms.service import KeyService
from andromede.settings import Settings
from andromede.storage.encryption import (
    BlobOpener,
    BlobSealer,
    CipherRange,
    KeyCheck,
    ObjectCipher,
)
from andromede.storage.errors import (
    EncryptionKeyUnavailable,
    KeyServiceUnavailable,
    KmsKeyDisabled,
    KmsKeyUnusable,
    ObjectCorrupted,
)

__all__ = [
    "KmsObjectCipher",
    "PlaintextBenchCipher",
    "RingCheck",
    "key_service",
    "object_cipher",
]

log = logging.getLogger(__name__)

_T = TypeVar("_T")
_TENANT_MEMO_SIZE = 10_000
_EXTERNAL_ATTEMPTS = 2
_BUCKET_KEY_ATTEMPTS = 3


def root_key_provider(settings: Settings) -> RootKeyProvider:
    """The root of the key hierarchy the settings name."""
    if settings.key_provider == "file":
        return LocalKeyFileProvider.in_data_dir(
            settings.data_dir,
            kek_cache_seconds=settings.data_key_cache_ttl,
            recheck_seconds=settings.key_file_recheck_interval,
        )
    from andromede.kms.hsm import Pkcs11Provider  # python-pkcs11 only where an HSM is used

    if settings.pkcs11_library is None or settings.pkcs11_pin_file is None:
        raise ConfigurationError("key_provider = pkcs11 needs pkcs11_library and pkcs11_pin_file")
    pin = Path(settings.pkcs11_pin_file).read_text().strip()
    try:
        return Pkcs11Provider(
            str(settings.pkcs11_library),
            settings.pkcs11_token_label,
            pin,
            keygen_timeout_seconds=settings.pkcs11_keygen_timeout,
        )
    except ProviderError as exc:
        # No token of that label, a wrong PIN: the settings' fault, told at start. The
        # provider's messages name the token, never the PIN.
        raise ConfigurationError(f"key_provider = pkcs11: {exc}") from None


def key_service(settings: Settings, provider: RootKeyProvider | None = None) -> KeyService:
    """The key service over ``provider``, or over the provider the settings name."""
    return KeyService(
        provider if provider is not None else root_key_provider(settings),
        cache_ttl_seconds=settings.data_key_cache_ttl,
        cache_max_entries=settings.data_key_cache_size,
        bucket_key_ttl_seconds=settings.data_key_cache_ttl,
    )


def object_cipher(settings: Settings, keys: KeyService) -> ObjectCipher:
    if settings.bench_unencrypted:
        log.warning(
            "bench_unencrypted is set: new objects are stored UNENCRYPTED (benchmarks only)"
        )
        return PlaintextBenchCipher()
    return KmsObjectCipher(keys, inline=settings.key_provider == "file")


def _bucket_context(context: Mapping[str, str]) -> bytes:
    """What a bucket key is bound to: the bucket's ARN, which S3 puts in the context of the
    objects encrypted under a bucket key (``aws:s3:arn``) in place of the object's."""
    return context_digest({"aws:s3:arn": context.get("aws:s3:arn", "")})


# Plans are immutable and most GETs read whole objects of a few sizes: one look-up instead of
# the arithmetic and a tuple per GET. Bounded (least recently used go first).
_planned_range = functools.lru_cache(maxsize=4096)(plan_range)


class _Opener:
    """A chunk decryptor whose integrity errors are storage's."""

    __slots__ = ("_decryptor",)

    def __init__(self, decryptor: ChunkDecryptor) -> None:
        self._decryptor = decryptor

    def update(self, data: bytes | memoryview) -> bytearray:
        try:
            return self._decryptor.update(data)
        except IntegrityError:
            raise ObjectCorrupted("the object's stored bytes failed authentication") from None

    def finish(self) -> None:
        try:
            self._decryptor.finish()
        except IntegrityError:
            raise ObjectCorrupted("the object's stored bytes are truncated") from None


class RingCheck:
    """A key ring found usable (``KeyService.check_usable``), standing in for one later use
    of the same ring, then spent (decision 0026). The object service takes one when it opens
    a record's remembered headers and keeps it on that record, which lives for one request
    (records are read per request, never cached); reading the record's body spends it on the
    body's data key. So a GET asks the provider once, not twice, and nothing "usable" outlives
    the request: a multipart object's further parts, a record read again, ask again."""

    __slots__ = ("_ring", "_spent")

    def __init__(self, ring: str) -> None:
        self._ring = ring
        self._spent = False

    def spend(self, ring: str) -> bool:
        """Whether this check stands for a use of ``ring`` now (then it is spent)."""
        if self._spent or ring != self._ring:
            return False
        self._spent = True
        return True


class KmsObjectCipher:
    """Every blob sealed with a fresh data key wrapped under the tenant's KEK (0006, 0007)."""

    encrypts = True

    def __init__(
        self,
        keys: KeyService,
        *,
        inline: bool,
        external: ExternalDataKeys | None = None,
        via_service: str = "s3.amazonaws.com",
    ) -> None:
        self._keys = keys
        self._inline = inline
        self._external = external
        self._via_service = via_service
        self._tenants_with_keys: set[str] = set()
        # Wrapped key -> its tenant: parsing it again on every read of a hot object showed up
        # on small GETs. Filled when a key is made too (an object's first GET follows its PUT
        # closely). Bounded: the oldest entries go first (keys are tiny; cheap refill).
        self._tenant_of: OrderedDict[bytes, str] = OrderedDict()
        # Bucket keys of external key stores being made, by (ring, bucket): one proxy call
        # for concurrent first PUTs into a bucket. Bounded by the PUTs in progress.
        self._bucket_keys_making: dict[tuple[str, bytes], asyncio.Future[None]] = {}
        # Constants of the key service's format, read on every GET: attributes, not properties.
        self.header_size = keys.header_size
        self.read_block_size = keys.read_block_size
        self._chunk_size = keys.chunk_size
        self.whole_seal_max = keys.chunk_size
        # A format-2 blob's header with this chunk size: most reads compare, none parse.
        self._fresh_header = fresh_blob_header(keys.chunk_size)

    def attach_external(self, external: ExternalDataKeys) -> None:
        """The customer's proxies, for the keys of external key stores (the composition root
        builds the KMS service after the object service that holds this cipher). The proxy is
        told the use comes through ``s3.amazonaws.com`` with no region: the KMS names the
        key's, which is the bucket's since S3 uses keys of the bucket's region (0142)."""
        self._external = external

    async def _call(self, work: Callable[[], _T]) -> _T:
        try:
            if self._inline:
                return work()
            return await asyncio.to_thread(work)
        except KmsError as exc:
            _raise_storage_error(exc)

    # --- two-layer keys (decision 0094) ------------------------------------------------------

    def _proxy(self) -> ExternalDataKeys:
        if self._external is None:
            raise KmsKeyUnusable(
                "The KMS key is in an external key store, which this server does not reach."
            )
        return self._external

    async def _new_external(self, ring: str, bound: bytes) -> tuple[bytearray, bytes, AESGCM]:
        """A fresh data key of the external key store's KMS key ``ring``, in two layers: sealed
        under the ring, then by the proxy (its GenerateDataKey); filed in the key cache."""
        keys, proxy = self._keys, self._proxy()
        plaintext, version, inner = await self._call(
            lambda: keys.new_external_data_key(ring, bound)
        )
        try:
            layer = await proxy.wrap_data_key(
                ring,
                version,
                inner,
                bound,
                operation="GenerateDataKey",
                via_service=self._via_service,
            )
        except CustomerKeyError as exc:
            plaintext[:] = bytes(len(plaintext))
            _raise_key_error(exc)
        wrapped = ExternalWrappedKey(ring, version, layer).encode()
        aead = keys.file_external_data_key(ring, wrapped, bound, plaintext)
        self._remember_tenant(wrapped, ring)
        return plaintext, wrapped, aead

    async def _open_external(self, need: ExternalLayerNeeded) -> None:
        """Have the proxy take the outer layer off ``need.wrapped`` (its Decrypt), and the key
        service open the inner form and keep the data key."""
        keys = self._keys

        async def open_inner(parsed: ExternalWrappedKey, inner: bytes) -> None:
            await self._call(
                lambda: keys.open_external_data_key(
                    parsed.ring, need.wrapped, need.bound_context, inner
                )
            )

        try:
            await take_outer_layer(
                self._proxy(),
                need.wrapped,
                need.ring,
                need.bound_context,
                self._via_service,
                open_inner,
            )
        except CustomerKeyError as exc:  # the proxy's answer: the KMS key's error
            _raise_key_error(exc)
        except KmsError:  # the key service's own were mapped by _call: the form is bad
            raise ObjectCorrupted("the object's wrapped data key is malformed") from None

    async def _after_external(
        self, need: ExternalLayerNeeded, attempt: Callable[[], Awaitable[_T]]
    ) -> _T:
        """``attempt`` again once the proxy has opened what ``need`` asks for; a bucket key's
        object asks twice (the bucket key, then nothing: its own key is wrapped locally)."""
        for _ in range(_EXTERNAL_ATTEMPTS):
            await self._open_external(need)
            try:
                return await attempt()
            except ExternalLayerNeeded as again:
                need = again
        log.warning("a two-layer data key was opened but not found again")
        raise KeyServiceUnavailable("The encryption key service is unavailable.")

    async def new_data_key(
        self, tenant_id: str, context: Mapping[str, str] | None = None
    ) -> tuple[bytearray, bytes, AESGCM]:
        keys = self._keys
        # A tenant's own ring (no context) is made on first use. A KMS key's ring (SSE-KMS,
        # always with a context) only by CreateKey or an import: an EXTERNAL key whose material
        # was just deleted must not get a random KEK here (decision 0046).
        if not context and tenant_id not in self._tenants_with_keys:
            await self._call(lambda: keys.ensure_tenant_key(tenant_id))
            self._tenants_with_keys.add(tenant_id)
        bound = context_digest(context) if context else b""
        try:
            if self._inline:  # every PUT: no closure, no coroutine hop
                try:
                    new = keys.new_data_key(tenant_id, bound)
                except KmsError as exc:
                    _raise_storage_error(exc)
            else:
                new = await self._call(lambda: keys.new_data_key(tenant_id, bound))
        except ExternalLayerNeeded as need:  # a KMS key of an external key store
            return await self._new_external(need.ring, need.bound_context)
        self._remember_tenant(new.wrapped, tenant_id)
        return new

    async def new_bucket_data_key(
        self, key_ring: str, context: Mapping[str, str]
    ) -> tuple[bytearray, bytes, bytes]:
        keys = self._keys
        bucket, bound = _bucket_context(context), context_digest(context)
        # At most: a wait for another PUT's making that failed, a making of its own, a draw.
        for attempt in range(_BUCKET_KEY_ATTEMPTS):
            try:
                new = await self._call(lambda: keys.new_bucket_data_key(key_ring, bucket, bound))
            except ExternalLayerNeeded as need:
                # No current bucket key of an external key store's KMS key: one is made
                # through the proxy (one proxy call per bucket key and lifetime, not per
                # object), then the object's key is drawn under it.
                if attempt + 1 < _BUCKET_KEY_ATTEMPTS:
                    await self._make_external_bucket_key(key_ring, bucket, need)
                continue
            return new.plaintext, new.wrapped, new.bucket_key
        log.warning("a bucket key was made through the proxy but not found again")
        raise KeyServiceUnavailable("The encryption key service is unavailable.")

    async def _make_external_bucket_key(
        self, ring: str, bucket: bytes, need: ExternalLayerNeeded
    ) -> None:
        """Make and install the bucket key of ``ring`` for ``bucket`` through the proxy, once
        however many PUTs ask at the same time: the first makes it, the others wait for it
        and draw their keys under the one it installed (each would otherwise make one, and
        call the proxy). The others do not share a failure: each tries again itself."""
        slot = (ring, bucket)
        making = self._bucket_keys_making.get(slot)
        if making is not None:
            await asyncio.shield(making)
            return
        making = asyncio.get_running_loop().create_future()
        self._bucket_keys_making[slot] = making
        try:
            plaintext, wrapped, _ = await self._new_external(need.ring, need.bound_context)
            try:
                self._keys.install_bucket_key(ring, bucket, plaintext, wrapped)
            finally:
                plaintext[:] = bytes(len(plaintext))
        finally:
            # Every exit, a cancellation included, lets the waiters go on, and frees the slot:
            # the dict holds only the makings in progress.
            del self._bucket_keys_making[slot]
            making.set_result(None)

    async def open_data_key(
        self,
        wrapped: bytes,
        context: Mapping[str, str] | None = None,
        *,
        bucket_key: bytes | None = None,
    ) -> bytearray:
        keys = self._keys
        bound = context_digest(context)
        attempt: Callable[[], Awaitable[bytearray]]
        if bucket_key is not None:
            ring = self._owner(bucket_key)
            bucket = _bucket_context(context or {})

            def attempt() -> Awaitable[bytearray]:
                return self._call(
                    lambda: keys.unwrap_bucket_data_key(ring, bucket_key, bucket, wrapped, bound)
                )
        else:
            tenant_id = self._owner(wrapped)

            def attempt() -> Awaitable[bytearray]:
                return self._call(lambda: keys.unwrap_data_key(tenant_id, wrapped, bound))

        try:
            return await attempt()
        except ExternalLayerNeeded as need:
            return await self._after_external(need, attempt)

    async def data_key_cipher(self, wrapped: bytes) -> tuple[AESGCM, RingCheck]:
        keys = self._keys
        known = self._tenant_of.get(wrapped)
        if known is None:
            # A key this process has not met (an object's first read here): the key service
            # parses it once, for its owner and its unwrap.
            try:
                tenant_id, aead = (
                    keys.owned_data_key_cipher(wrapped)
                    if self._inline
                    else await asyncio.to_thread(keys.owned_data_key_cipher, wrapped)
                )
            except KmsError as exc:
                _raise_storage_error(exc)
            self._remember_tenant(wrapped, tenant_id)
        else:
            tenant_id = known
            if self._inline:  # every GET of headers not remembered: no closure, no coroutine
                try:
                    aead = keys.data_key_cipher(tenant_id, wrapped)
                except KmsError as exc:
                    _raise_storage_error(exc)
            else:
                aead = await self._call(lambda: keys.data_key_cipher(known, wrapped))
        # The ring was found usable for this use: that check may stand for the next one.
        return aead, RingCheck(tenant_id)

    async def check_key_usable(self, wrapped: bytes) -> RingCheck:
        tenant_id = self._tenant_of.get(wrapped) or self._owner(wrapped)
        if self._inline:  # the hot path of every HEAD and GET: no closure, no coroutine
            try:
                self._keys.check_usable(tenant_id)
            except KmsError as exc:
                _raise_storage_error(exc)
        else:
            keys = self._keys
            await self._call(lambda: keys.check_usable(tenant_id))
        return RingCheck(tenant_id)

    async def blob_opener(
        self,
        wrapped: bytes,
        blob_id: str,
        header: bytes | memoryview,
        plan: CipherRange,
        *,
        context: Mapping[str, str] | None = None,
        checked: KeyCheck | None = None,
    ) -> BlobOpener:
        if not isinstance(plan, ChunkRange):
            raise TypeError("a range planned by another cipher")
        aead, version = await self._chunk_key(wrapped, header, plan.chunk_size, context, checked)
        return _Opener(ChunkDecryptor.with_chunk_key(aead, blob_id, plan, version))

    async def open_first_chunk(
        self,
        wrapped: bytes,
        blob_id: str,
        stored: bytes | memoryview,
        plan: CipherRange,
        *,
        context: Mapping[str, str] | None = None,
        checked: KeyCheck | None = None,
    ) -> bytes | None:
        if not isinstance(plan, ChunkRange):
            raise TypeError("a range planned by another cipher")
        if plan.last_chunk != 0:
            return None
        header_size = self.header_size
        view = memoryview(stored)
        if self._inline:  # a small object's GET: no coroutine for its key
            ring = self._tenant_of.get(wrapped) or self._owner(wrapped)
            try:
                aead, version = self._chunk_key_now(
                    ring, wrapped, view[:header_size], plan.chunk_size, context, checked
                )
            except ExternalLayerNeeded:  # a key of an external key store, not cached
                aead, version = await self._chunk_key(
                    wrapped, view[:header_size], plan.chunk_size, context, None
                )
        else:
            aead, version = await self._chunk_key(
                wrapped, view[:header_size], plan.chunk_size, context, checked
            )
        try:
            return open_single_chunk(aead, blob_id, plan, view[header_size:], version)
        except IntegrityError:
            raise ObjectCorrupted("the object's stored bytes failed authentication") from None

    async def _chunk_key(
        self,
        wrapped: bytes,
        header: bytes | memoryview,
        chunk_size: int,
        context: Mapping[str, str] | None,
        checked: KeyCheck | None,
    ) -> tuple[AESGCM, int]:
        """The chunk key of the blob with ``header`` and the blob's format version, its data
        key staying in the key cache; the provider called inline or in a thread (one hop)."""
        ring = self._tenant_of.get(wrapped) or self._owner(wrapped)  # on the loop: the memo
        try:
            if self._inline:
                return self._chunk_key_now(ring, wrapped, header, chunk_size, context, checked)
            return await asyncio.to_thread(
                self._chunk_key_now, ring, wrapped, header, chunk_size, context, checked
            )
        except ExternalLayerNeeded as need:
            return await self._after_external(
                need,
                lambda: self._call(
                    lambda: self._chunk_key_now(ring, wrapped, header, chunk_size, context, None)
                ),
            )

    def _chunk_key_now(
        self,
        ring: str,
        wrapped: bytes,
        header: bytes | memoryview,
        chunk_size: int,
        context: Mapping[str, str] | None,
        checked: KeyCheck | None,
    ) -> tuple[AESGCM, int]:
        """:meth:`_chunk_key` in the calling thread, for ``wrapped`` of key ring ``ring``."""
        if chunk_size == self._chunk_size and header == self._fresh_header:
            salt, version = NO_SALT, FORMAT_FRESH_KEY  # what blob_salt would find, compared
        else:
            try:
                salt = blob_salt(header, chunk_size)
            except IntegrityError:
                try:  # a destroyed key is said before damage
                    self._keys.check_usable(ring)
                except KmsError as exc:
                    _raise_storage_error(exc)
                raise ObjectCorrupted("the object's stored header failed authentication") from None
            version = format_of_salt(salt)
        ring_checked = isinstance(checked, RingCheck) and checked.spend(ring)
        bound = context_digest(context) if context else b""
        try:
            aead = self._keys.blob_chunk_key(ring, wrapped, bound, salt, ring_checked=ring_checked)
        except KmsError as exc:
            _raise_storage_error(exc)
        return aead, version

    def _owner(self, wrapped: bytes) -> str:
        tenant_id = self._tenant_of.get(wrapped)
        if tenant_id is None:
            try:
                # The wrapped key names its tenant, and that name is bound in the KEK's AAD: a
                # key relabelled for another tenant does not open. (A two-layer key names its
                # KMS key's ring the same way.)
                tenant_id = wrapped_key_ring(wrapped)
            except KmsError:
                raise ObjectCorrupted("the object's wrapped data key is malformed") from None
            self._remember_tenant(wrapped, tenant_id)
        return tenant_id

    def _remember_tenant(self, wrapped: bytes, tenant_id: str) -> None:
        tenants = self._tenant_of
        if len(tenants) >= _TENANT_MEMO_SIZE:
            tenants.popitem(last=False)
        tenants[wrapped] = tenant_id

    def stored_size(self, plaintext_size: int) -> int:
        return self._keys.stored_size(plaintext_size)

    # Storage hands every blob a data key of its own (one BlobKeys per blob, spent by the
    # write): the blob is sealed under that key itself, format 2.
    def sealer(self, blob_key: AESGCM | None, blob_id: str) -> BlobSealer:
        if blob_key is None:
            raise ValueError("an encrypted blob needs its key")
        return self._keys.fresh_blob_encryptor(blob_key, blob_id)

    def seal_whole(self, blob_key: AESGCM | None, blob_id: str, plaintext: bytes) -> bytes:
        if blob_key is None:
            raise ValueError("an encrypted blob needs its key")
        return self._keys.seal_fresh_blob(blob_key, blob_id, plaintext)

    def key_cipher(self, data_key: bytes | bytearray) -> AESGCM:
        return AESGCM(bytes(data_key))

    def plan(self, plaintext_size: int, start: int, stop: int) -> CipherRange:
        return _planned_range(plaintext_size, start, stop, self._chunk_size)

    def opener(
        self,
        data_key: bytes | bytearray,
        blob_id: str,
        header: bytes | memoryview,
        plan: CipherRange,
    ) -> BlobOpener:
        if not isinstance(plan, ChunkRange):
            raise TypeError("a range planned by another cipher")
        try:
            return _Opener(self._keys.object_decryptor(data_key, blob_id, header, plan))
        except IntegrityError:
            raise ObjectCorrupted("the object's stored header failed authentication") from None


def _raise_key_error(exc: CustomerKeyError) -> NoReturn:
    """Raise the storage error a KMS key's refusal of a two-layer key is (its proxy's answer:
    AWS's messages, passed on)."""
    if isinstance(exc, CmkDisabled):
        raise KmsKeyDisabled(str(exc)) from None
    if isinstance(exc, InvalidCiphertext):
        raise ObjectCorrupted("the object's wrapped data key cannot be opened") from None
    if isinstance(exc, CmkNotFound):
        raise EncryptionKeyUnavailable(
            "The object's KMS key no longer exists; its data cannot be read."
        ) from None
    raise KmsKeyUnusable(str(exc)) from None


def _raise_storage_error(exc: KmsError) -> NoReturn:
    """Raise the storage error a key-management error is, for the object path (a two-layer
    key to open through the proxy is passed on, for the async caller)."""
    if isinstance(exc, ExternalLayerNeeded):
        raise exc
    if isinstance(exc, KeyDestroyed):
        raise EncryptionKeyUnavailable(
            "The object's encryption key has been destroyed; its data cannot be read."
        ) from None
    if isinstance(exc, KeyWithdrawn):  # a KeyNotFound, but not damage: it may come back
        raise EncryptionKeyUnavailable(
            "The key material of the object's encryption key has been deleted; its data "
            "cannot be read until it is imported again."
        ) from None
    if isinstance(exc, IntegrityError | KeyNotFound):
        raise ObjectCorrupted("the object's wrapped data key cannot be opened") from None
    # ProviderError: the token or the key file failed
    log.warning("root-key provider call failed: %s", type(exc).__name__)
    raise KeyServiceUnavailable("The encryption key service is unavailable.") from exc


class _PlainSealer:
    __slots__ = ()

    def update(self, data: bytes) -> bytes:
        return data

    def finish(self) -> bytes:
        return b""


class PlaintextBenchCipher:
    """BENCHMARKS ONLY: blobs stored as plaintext, so the cost of encryption can be measured."""

    encrypts = False
    header_size = 0
    read_block_size = 1024 * 1024
    whole_seal_max = 64 * 1024  # the same write path as the encrypting cipher's

    def key_cipher(self, data_key: bytes | bytearray) -> AESGCM:
        raise RuntimeError("the benchmark cipher has no keys")

    async def new_data_key(
        self, tenant_id: str, context: Mapping[str, str] | None = None
    ) -> tuple[bytearray, bytes, AESGCM]:
        raise RuntimeError("the benchmark cipher has no keys")

    async def new_bucket_data_key(
        self, key_ring: str, context: Mapping[str, str]
    ) -> tuple[bytearray, bytes, bytes]:
        raise RuntimeError("the benchmark cipher has no keys")

    async def open_data_key(
        self,
        wrapped: bytes,
        context: Mapping[str, str] | None = None,
        *,
        bucket_key: bytes | None = None,
    ) -> bytearray:
        raise ObjectCorrupted("an encrypted object cannot be read with encryption switched off")

    async def check_key_usable(self, wrapped: bytes) -> KeyCheck:
        raise ObjectCorrupted("an encrypted object cannot be read with encryption switched off")

    async def data_key_cipher(self, wrapped: bytes) -> tuple[AESGCM, KeyCheck]:
        raise ObjectCorrupted("an encrypted object cannot be read with encryption switched off")

    async def blob_opener(
        self,
        wrapped: bytes,
        blob_id: str,
        header: bytes | memoryview,
        plan: CipherRange,
        *,
        context: Mapping[str, str] | None = None,
        checked: KeyCheck | None = None,
    ) -> BlobOpener:
        raise ObjectCorrupted("an encrypted object cannot be read with encryption switched off")

    async def open_first_chunk(
        self,
        wrapped: bytes,
        blob_id: str,
        stored: bytes | memoryview,
        plan: CipherRange,
        *,
        context: Mapping[str, str] | None = None,
        checked: KeyCheck | None = None,
    ) -> bytes | None:
        raise ObjectCorrupted("an encrypted object cannot be read with encryption switched off")

    def stored_size(self, plaintext_size: int) -> int:
        return plaintext_size

    def sealer(self, blob_key: AESGCM | None, blob_id: str) -> BlobSealer:
        return _PlainSealer()

    def seal_whole(self, blob_key: AESGCM | None, blob_id: str, plaintext: bytes) -> bytes:
        return plaintext

    def plan(self, plaintext_size: int, start: int, stop: int) -> CipherRange:
        raise RuntimeError("plaintext blobs are read directly")

    def opener(
        self,
        data_key: bytes | bytearray,
        blob_id: str,
        header: bytes | memoryview,
        plan: CipherRange,
    ) -> BlobOpener:
        raise RuntimeError("plaintext blobs are read directly")
