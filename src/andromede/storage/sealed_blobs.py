"""Blobs sealed and opened: one blob streamed in through the hashes and the encryption, and
out through the decryption of only the chunks a range touches.

The object service orchestrates objects, parts and rows; this module owns what happens to the
bytes of one blob and to the keys that open it (see ``encryption.py`` for the interface to key
management and docs/decisions/0011-encryption-in-the-object-path.md).

DSSE-KMS blobs are two layers of the cipher's one format (decision 0075): the inner layer seals
the plaintext under one data key, with the blob's id and ``/inner`` in every chunk's AAD; the
outer layer seals the inner layer's bytes under a second data key, with the blob's id. Both keys
are the KMS key's, bound to the object's context. A read is the outer layer read as an SSE-KMS
blob whose plaintext is the inner layer, piped through the inner layer's opener.

The class is split by concern for size (STYLE §10): ``sealed_blobs_read`` (a segment's
plaintext range) and ``sealed_blobs_write`` (a body into a new blob) are mixed into
:class:`SealedBlobs`, which keeps the keys and the headers here; ``sealed_blobs_keys`` has
:class:`BlobKeys`, :func:`forget` and :func:`inner_layer_id`. Callers import from here.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from typing import TypeVar

from andromede.storage.blobs import BlobStore
from andromede.storage.encryption import (
    CustomerKey,
    KeyCheck,
    ObjectCipher,
    ObjectEncryption,
    customer_blob_key,
    customer_key_check,
    customer_key_matches,
    open_context,
    open_headers,
    seal_context,
    seal_headers,
)
from andromede.storage.errors import (
    CustomerKeyMismatch,
    CustomerKeyNotApplicable,
    CustomerKeyRequired,
)
from andromede.storage.model import (
    ContentHeaders,
    MultipartUpload,
    ObjectRecord,
    SealedContext,
    SealedHeaders,
    SegmentKey,
    build_content_headers,
    build_segment_key,
)
from andromede.storage.sealed_blobs_keys import BlobKeys, forget, inner_layer_id
from andromede.storage.sealed_blobs_read import SealedBlobReads
from andromede.storage.sealed_blobs_write import SealedBlobWrites

__all__ = ["BlobKeys", "SealedBlobs", "forget", "inner_layer_id", "stored_form"]

# Entries, by default (the setting opened_headers_cache_size); user metadata is at most a few
# KiB each. As many as the data-key cache holds keys: a worker that keeps an object's key keeps
# what it opened. (Decision 0033 found no gain at 10,000 while the row memos, at 4,096 and
# evicting by a scan, still missed; decision 0039 measured it again.)
DEFAULT_OPENED_HEADERS_MEMO_SIZE = 10_000


class SealedBlobs(SealedBlobReads, SealedBlobWrites):
    """The blob store seen through the object cipher."""

    def __init__(
        self,
        blobs: BlobStore,
        cipher: ObjectCipher,
        read_chunk_size: int,
        *,
        memo_size: int = DEFAULT_OPENED_HEADERS_MEMO_SIZE,
    ) -> None:
        if memo_size < 1:
            raise ValueError("the opened-headers memo holds at least one entry")
        self._memo_size = memo_size
        self._blobs = blobs
        self._cipher = cipher
        self._read_chunk_size = read_chunk_size
        # Opened headers by (wrapped key, sealed bytes, bucket, key). AES-GCM and JSON per HEAD
        # or GET were a quarter of a small GET's encryption cost. Sealed bytes carry a fresh
        # nonce, so changed headers are a new entry; the bucket and key are the AAD they were
        # checked against. Headers this process seals are filed as they are sealed (what
        # opening them would give): benchmarks and clients read what was just written, and an
        # object's first GET opening them cost a PUT-then-GET workload more than all its later
        # GETs (decision 0026). Bounded: the oldest entries go first.
        self._opened_headers: OrderedDict[tuple[bytes, bytes, str, str], ContentHeaders] = (
            OrderedDict()
        )
        # Opened SSE-KMS contexts, for the same reason and on the same terms.
        self._opened_contexts: dict[tuple[bytes, bytes, str, str], dict[str, str]] = {}

    async def new_keys(self, encryption: ObjectEncryption, bucket: str, key: str) -> BlobKeys:
        """A fresh data key for one blob (and its headers) of ``bucket``/``key``, with what to
        store beside it."""
        cipher = self._cipher
        if not cipher.encrypts:
            return BlobKeys(bytearray(), b"", None, bytearray(), None, None)
        context = encryption.kms_context
        if encryption.kms_key_arn is not None and context:
            if encryption.dual_layer:
                return await self._two_layer_keys(encryption, bucket, key)
            # SSE-KMS: the blob's key is bound to the context; a tenant key seals the context
            # and the headers (opening them must not need the context).
            bucket_key = None
            if encryption.bucket_key:
                data_key, wrapped, bucket_key = await cipher.new_bucket_data_key(
                    encryption.key_ring, context
                )
                blob_cipher = cipher.key_cipher(data_key)
            else:
                data_key, wrapped, blob_cipher = await cipher.new_data_key(
                    encryption.key_ring, context
                )
            try:
                tenant_key, tenant_wrapped, tenant_cipher = await cipher.new_data_key(
                    encryption.tenant_id
                )
            except BaseException:
                forget(data_key)
                raise
            sealed = seal_context(tenant_cipher, tenant_wrapped, bucket, key, context)
            segment_key = SegmentKey(
                wrapped,
                kms_key_arn=encryption.kms_key_arn,
                context=sealed,
                bucket_key=bucket_key,
            )
            return BlobKeys(
                tenant_key, tenant_wrapped, tenant_cipher, data_key, blob_cipher, segment_key
            )
        data_key, wrapped, data_cipher = await cipher.new_data_key(encryption.key_ring)
        customer = encryption.customer_key
        if customer is None:
            # SSE-S3: one key, one AES-GCM object, for the headers and the chunks alike.
            return BlobKeys(
                data_key,
                wrapped,
                data_cipher,
                data_key,
                data_cipher,
                build_segment_key(wrapped, None, encryption.kms_key_arn, None, None, None),
            )
        check = customer_key_check(data_key, customer)
        blob_key = customer_blob_key(data_key, customer)
        return BlobKeys(
            data_key,
            wrapped,
            data_cipher,
            blob_key,
            cipher.key_cipher(blob_key),
            SegmentKey(wrapped, check),
        )

    async def _two_layer_keys(
        self, encryption: ObjectEncryption, bucket: str, key: str
    ) -> BlobKeys:
        """DSSE-KMS: two data keys of the KMS key, both bound to the context (the outer layer's
        and the inner layer's), and a tenant key for the context and the headers."""
        if encryption.bucket_key:
            raise ValueError("DSSE-KMS does not use an S3 Bucket Key")
        cipher = self._cipher
        context = encryption.kms_context
        drawn: list[bytearray] = []
        try:
            outer_key, outer_wrapped, outer_cipher = await cipher.new_data_key(
                encryption.key_ring, context
            )
            drawn.append(outer_key)
            inner_key, inner_wrapped, inner_cipher = await cipher.new_data_key(
                encryption.key_ring, context
            )
            drawn.append(inner_key)
            tenant_key, tenant_wrapped, tenant_cipher = await cipher.new_data_key(
                encryption.tenant_id
            )
        except BaseException:
            for drawn_key in drawn:
                forget(drawn_key)
            raise
        segment_key = SegmentKey(
            outer_wrapped,
            kms_key_arn=encryption.kms_key_arn,
            context=seal_context(tenant_cipher, tenant_wrapped, bucket, key, context),
            inner_wrapped=inner_wrapped,
        )
        return BlobKeys(
            tenant_key,
            tenant_wrapped,
            tenant_cipher,
            outer_key,
            outer_cipher,
            segment_key,
            inner_key=inner_key,
            inner_cipher=inner_cipher,
        )

    async def open_context(self, sealed: SealedContext, bucket: str, key: str) -> dict[str, str]:
        """An SSE-KMS object's encryption context (remembered as headers are)."""
        aead, _ = await self._cipher.data_key_cipher(sealed.wrapped)
        remembered = (sealed.wrapped, sealed.ciphertext, bucket, key)
        context = self._opened_contexts.get(remembered)
        if context is None:
            context = open_context(aead, sealed, bucket, key)
            if len(self._opened_contexts) >= self._memo_size:
                self._opened_contexts.clear()
            self._opened_contexts[remembered] = context
        return dict(context)

    async def check_customer(
        self, wrapped: bytes, check: bytes | None, customer: CustomerKey | None
    ) -> None:
        if check is None:
            if customer is not None:
                raise CustomerKeyNotApplicable(
                    "The encryption parameters are not applicable to this object."
                )
            return
        if customer is None:
            raise CustomerKeyRequired(
                "The object was stored using a form of Server Side Encryption. The correct "
                "parameters must be provided to retrieve the object."
            )
        data_key = await self._cipher.open_data_key(wrapped)
        try:
            if not customer_key_matches(data_key, customer, check):
                raise CustomerKeyMismatch("The provided customer key does not match the object's.")
        finally:
            forget(data_key)

    async def open_headers(
        self, sealed: SealedHeaders, bucket: str, key: str
    ) -> tuple[ContentHeaders, KeyCheck | None]:
        """The headers of one object; opened ones are remembered (see ``_opened_headers``).
        With them, the check of their key made for this request, which the body's read may
        spend (``read_segment``'s ``checked``)."""
        remembered = (sealed.wrapped, sealed.ciphertext, bucket, key)
        headers = self._opened_headers.get(remembered)
        if headers is not None:
            # Remembered headers are shown only while the key that opened them is usable: that
            # is where a destroyed tenant key is refused, so the memo never outlives it. The
            # check is what a cached data key's use would run, without copying and zeroing it.
            return headers, await self._cipher.check_key_usable(sealed.wrapped)
        # The data key's AES-GCM object from the key cache (the chunks of a format-2 blob
        # share it), checked for this use: that check may stand for the body's read.
        aead, checked = await self._cipher.data_key_cipher(sealed.wrapped)
        headers = open_headers(aead, sealed, bucket, key)
        self._remember(remembered, headers)
        return headers, checked

    async def reseal_headers(
        self, sealed: SealedHeaders, bucket: str, key: str, headers: ContentHeaders
    ) -> SealedHeaders:
        """``headers`` sealed in place of ``sealed``, under the same data key (its wrapped form
        is kept): a change of the object's tags. A fresh random nonce, as on every sealing:
        a key of one object sees a handful of sealings, far within what random nonces allow."""
        aead, _ = await self._cipher.data_key_cipher(sealed.wrapped)
        resealed = seal_headers(aead, sealed.wrapped, bucket, key, headers)
        self.remember_headers(resealed, bucket, key, headers)
        return resealed

    def remember_headers(
        self, sealed: SealedHeaders, bucket: str, key: str, headers: ContentHeaders
    ) -> None:
        """Headers this process has just sealed, for the reads that often follow a write (a
        GET or HEAD after the PUT): served as opened ones are, after the same key check. Filed
        as opening them would give them: the caller's metadata mapping is not shared (a copy
        from its fields, not ``dataclasses.replace``, which introspects them on every call)."""
        opened = build_content_headers(*headers.field_values())
        self._remember((sealed.wrapped, sealed.ciphertext, bucket, key), opened)

    def _remember(self, remembered: tuple[bytes, bytes, str, str], headers: ContentHeaders) -> None:
        memo = self._opened_headers
        if len(memo) >= self._memo_size:
            memo.popitem(last=False)  # the oldest, not everything
        memo[remembered] = headers


_StoredT = TypeVar("_StoredT", ObjectRecord, MultipartUpload)
_PLAINTEXT_FORMAT_VERSION = 1  # records before encryption at rest: plaintext blobs and headers
_DEFAULT_CONTENT_TYPE = ContentHeaders().content_type  # a stored sealed record's empty headers


def stored_form(record: _StoredT) -> _StoredT:
    """What the store keeps: sealed headers only. Without them (the benchmark switch) the row
    is a plaintext one, format 1, which the start-up re-encryption converts later."""
    if isinstance(record, ObjectRecord):  # every PUT: without replace's introspection
        if record.sealed_headers is None:
            return record.rebuilt(
                record.headers, record.kms_context, record.key_check, _PLAINTEXT_FORMAT_VERSION
            )
        empty = build_content_headers(
            _DEFAULT_CONTENT_TYPE, None, None, None, None, None, {}, (), None
        )
        return record.rebuilt(empty, None, record.key_check, record.format_version)
    if record.sealed_headers is None:
        return dataclasses.replace(record, format_version=_PLAINTEXT_FORMAT_VERSION)
    return dataclasses.replace(record, headers=ContentHeaders(), kms_context=None)
