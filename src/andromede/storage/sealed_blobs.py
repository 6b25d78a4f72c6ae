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
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from andromede.storage.blobs import BlobStore, BlobWriter
from andromede.storage.checksums import BodyHasher
from andromede.storage.encryption import (
    BlobOpener,
    BlobSealer,
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
    IncompleteBody,
    ObjectCorrupted,
)
from andromede.storage.integrity import BodyIntegrity, update_all, verify_body
from andromede.storage.model import (
    ChecksumAlgorithm,
    ContentHeaders,
    MultipartUpload,
    ObjectRecord,
    SealedContext,
    SealedHeaders,
    Segment,
    SegmentKey,
    build_content_headers,
    build_segment_key,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["BlobKeys", "SealedBlobs", "forget", "inner_layer_id", "stored_form"]

_THREADED_HASH_MIN = 1024 * 1024
# Entries, by default (the setting opened_headers_cache_size); user metadata is at most a few
# KiB each. As many as the data-key cache holds keys: a worker that keeps an object's key keeps
# what it opened. (Decision 0033 found no gain at 10,000 while the row memos, at 4,096 and
# evicting by a scan, still missed; decision 0039 measured it again.)
DEFAULT_OPENED_HEADERS_MEMO_SIZE = 10_000
_HASH_BLOCK = 1024 * 1024


class SealedBlobs:
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

    async def read_segment(
        self,
        segment: Segment,
        start: int,
        stop: int,
        customer: CustomerKey | None,
        context: Mapping[str, str] | None = None,
        checked: KeyCheck | None = None,
    ) -> AsyncIterator[bytes]:
        """Plaintext ``[start, stop)`` of one segment, decrypting only the chunks it touches
        (``context``: the SSE-KMS encryption context its data key is bound to; ``checked``: the
        key check of this request's headers, which the cipher may take for this key's)."""
        if segment.key is None:
            if self._cipher.encrypts:
                # Every blob is encrypted; a plaintext one is a legacy row that the start-up
                # re-encryption has not reached, or a row written by the benchmark switch.
                raise ObjectCorrupted("the object is stored without encryption")
            if segment.inline is not None:
                yield _inline_range(segment.inline, start, stop - start)
                return
            plain = self._blobs.read(segment.blob_id, start, stop - start, self._read_chunk_size)
            try:
                async for chunk in plain:
                    yield chunk
            finally:
                await _close(plain)
            return
        cipher = self._cipher
        segment_key = segment.key
        if segment_key.inner_wrapped is not None:
            async for opened in self._read_two_layers(segment, segment_key, start, stop, context):
                yield opened
            return
        blob_key: bytearray | None = None
        if segment_key.customer_key_check is not None or segment_key.bucket_key is not None:
            # SSE-C mixes the customer's key into the data key, a bucket key wraps it: these
            # open the data key itself, before any read.
            blob_key = await self._blob_key(segment_key, customer, context)
        if segment_key.context is None:
            context = None
        plan = cipher.plan(segment.size, start, stop)
        inline = segment.inline
        if inline is not None and blob_key is None and plan.ciphertext_start == cipher.header_size:
            # A small object's body from its row: opened in one call when the range lies in
            # the first chunk, without a stream over bytes already in hand.
            if plan.ciphertext_end > len(inline):
                raise ObjectCorrupted("the object's stored bytes are truncated")
            whole = await cipher.open_first_chunk(
                segment_key.wrapped,
                segment.blob_id,
                inline if plan.ciphertext_end == len(inline) else inline[: plan.ciphertext_end],
                plan,
                context=context,
                checked=checked,
            )
            if whole is not None:
                if whole:
                    yield whole
                return
        header_size = cipher.header_size
        stream: AsyncIterator[bytes] | None = None
        header: bytes | memoryview
        try:
            if plan.ciphertext_start == header_size:
                # The range starts at the first chunk: one read holds the header too.
                first_read = 0
                header = b""
            else:
                first_read = plan.ciphertext_start
                header = await self._read_all(segment, 0, header_size)
            opener = None
            # The store's stream itself, closed below: no generator in between.
            stream = self.stored_bytes(
                segment, first_read, plan.ciphertext_end - first_read, cipher.read_block_size
            )
            async for block in stream:
                piece: bytes | memoryview = block
                if opener is None:
                    if not header:
                        if len(block) < header_size:
                            raise ObjectCorrupted("the object's stored bytes are truncated")
                        if blob_key is None and len(block) == plan.ciphertext_end:
                            # The header and the whole range in one block (a small object):
                            # opened in one call when the range lies in the first chunk.
                            whole = await cipher.open_first_chunk(
                                segment_key.wrapped,
                                segment.blob_id,
                                block,
                                plan,
                                context=context,
                                checked=checked,
                            )
                            if whole is not None:
                                if whole:
                                    yield whole
                                return
                        # Views, not copies of the block: the opener reads them at once.
                        view = memoryview(block)
                        header, piece = view[:header_size], view[header_size:]
                    if blob_key is None:
                        # SSE-S3 and SSE-KMS: the cipher keeps the data key, and hands out
                        # the blob's chunk key filed with it (one cache look-up).
                        opener = await cipher.blob_opener(
                            segment_key.wrapped,
                            segment.blob_id,
                            header,
                            plan,
                            context=context,
                            checked=checked,
                        )
                    else:
                        opener = cipher.opener(blob_key, segment.blob_id, header, plan)
                if piece:
                    out = opener.update(piece)
                    if out:
                        # A fresh buffer per call, never reused: handed on without a copy
                        # (ASGI servers write any bytes-like body).
                        yield out  # type: ignore[misc]
            if opener is None:
                raise ObjectCorrupted("the object's stored bytes are truncated")
            opener.finish()
        finally:
            if blob_key is not None:
                forget(blob_key)
            if stream is not None:
                await _close(stream)

    async def _read_two_layers(
        self,
        segment: Segment,
        segment_key: SegmentKey,
        start: int,
        stop: int,
        context: Mapping[str, str] | None,
    ) -> AsyncIterator[bytes]:
        """Plaintext ``[start, stop)`` of a DSSE-KMS segment: the inner layer's chunks that hold
        it (and its header), read through the outer layer, opened with the inner key."""
        cipher = self._cipher
        inner_wrapped = segment_key.inner_wrapped
        if inner_wrapped is None:
            raise ValueError("not a two-layer segment")
        inner_plan = cipher.plan(segment.size, start, stop)
        # The outer layer: an SSE-KMS blob whose plaintext is the inner layer's sealed bytes.
        outer = dataclasses.replace(
            segment,
            size=cipher.stored_size(segment.size),
            key=dataclasses.replace(segment_key, inner_wrapped=None),
        )
        header_size = cipher.header_size
        header = bytearray()
        first = 0
        if inner_plan.ciphertext_start != header_size:
            # The range starts past the first chunk: the inner header is read on its own.
            first = inner_plan.ciphertext_start
            async for header_piece in self.read_segment(outer, 0, header_size, None, context):
                header += header_piece
            if len(header) != header_size:
                raise ObjectCorrupted("the object's stored bytes are truncated")
        stream = self.read_segment(outer, first, inner_plan.ciphertext_end, None, context)
        opener: BlobOpener | None = None
        try:
            async for block in stream:
                piece: memoryview = memoryview(block)
                if opener is None:
                    if len(header) < header_size:
                        taken = header_size - len(header)
                        header += piece[:taken]
                        piece = piece[taken:]
                        if len(header) < header_size:
                            continue
                    opener = await cipher.blob_opener(
                        inner_wrapped,
                        inner_layer_id(segment.blob_id),
                        bytes(header),
                        inner_plan,
                        context=context,
                    )
                if piece:
                    out = opener.update(piece)
                    if out:
                        yield out  # type: ignore[misc]
            if opener is None:
                raise ObjectCorrupted("the object's stored bytes are truncated")
            opener.finish()
        finally:
            await _close(stream)

    async def _blob_key(
        self,
        segment_key: SegmentKey,
        customer: CustomerKey | None,
        context: Mapping[str, str] | None,
    ) -> bytearray:
        """What an SSE-C or bucket-key blob's chunks are derived from (the caller zeroes it)."""
        data_key = await self._cipher.open_data_key(
            segment_key.wrapped,
            context if segment_key.context is not None else None,
            bucket_key=segment_key.bucket_key,
        )
        if segment_key.customer_key_check is None:
            return data_key
        try:
            if customer is None or not customer_key_matches(
                data_key, customer, segment_key.customer_key_check
            ):
                raise CustomerKeyMismatch("The provided customer key does not match the object's.")
            return customer_blob_key(data_key, customer)
        finally:
            forget(data_key)

    def stored_bytes(
        self, segment: Segment, offset: int, length: int, chunk_size: int
    ) -> AsyncIterator[bytes]:
        """A segment's stored bytes ``[offset, offset + length)``: from its row, or streamed
        from its blob."""
        if segment.inline is not None:
            return _InlineStream(_inline_range(segment.inline, offset, length))
        return self._blobs.read(segment.blob_id, offset, length, chunk_size)

    async def _read_all(self, segment: Segment, offset: int, length: int) -> bytes:
        stream = self.stored_bytes(segment, offset, length, length)
        try:
            return b"".join([piece async for piece in stream])
        finally:
            await _close(stream)

    async def write(
        self,
        body: AsyncIterable[bytes],
        size: int,
        algorithm: ChecksumAlgorithm | None,
        integrity: BodyIntegrity,
        keys: BlobKeys,
        *,
        inline_max: int = 0,
        exact_size: bool = True,
    ) -> tuple[str, BodyHasher, bytes | None]:
        """Stream ``body`` through the hashes and the encryption into a new blob, check it,
        commit it (durable). The hashes are of the plaintext: ETag and checksums are the
        object's, as S3 shows them for SSE-S3. Returns the blob's id, the hashes, and, when
        ``size`` is at most ``inline_max``, the sealed bytes themselves instead of a blob (the
        caller keeps them in the metadata row; the id still binds the chunks).

        ``exact_size`` False: ``size`` is only a bound the body never exceeds (a form upload,
        whose file's length is known at its end), so a shorter body is the whole object.

        On any failure, cancellation included, the writer is aborted and nothing is left.
        ``keys`` seal this one blob and are spent by it (a second write with them is refused).
        """
        keys.spend_on_blob()
        blob_id = uuid.uuid4().hex
        sealer: BlobSealer
        if keys.inner_cipher is None:
            if size <= self._cipher.whole_seal_max:
                return await self._write_whole(
                    body,
                    size,
                    algorithm,
                    integrity,
                    keys,
                    blob_id,
                    inline=size <= inline_max,
                    exact_size=exact_size,
                )
            sealer = self._cipher.sealer(keys.blob_cipher, blob_id)
        else:
            sealer = _TwoLayerSealer(
                self._cipher.sealer(keys.inner_cipher, inner_layer_id(blob_id)),
                self._cipher.sealer(keys.blob_cipher, blob_id),
            )
        inline = _InlineWriter() if size <= inline_max else None
        writer = inline or await self._blobs.create(blob_id)
        # Large bodies are hashed in a worker thread a block at a time (hashlib releases the
        # GIL): MD5 on the event loop was half the CPU of a 64 MiB PUT and kept the loop from
        # reading the other uploads' bytes. Small bodies are hashed inline, cheaper than a hop.
        threaded = size > _THREADED_HASH_MIN
        try:
            hasher = BodyHasher(algorithm)
            received = 0
            batch: list[bytes] = []
            batch_size = 0
            async for chunk in body:
                if not chunk:
                    continue
                received += len(chunk)
                if received > size:
                    # The caller's framing is wrong (more bytes than announced): stop here.
                    raise IncompleteBody(f"the body is longer than the announced {size} bytes")
                if not threaded:
                    hasher.update(chunk)
                    sealed = sealer.update(chunk)
                    if sealed:
                        await writer.write(sealed)
                    continue
                batch.append(chunk)
                batch_size += len(chunk)
                if batch_size >= _HASH_BLOCK:
                    await self._hash_and_write(hasher, sealer, writer, batch)
                    batch, batch_size = [], 0
            if batch:
                await self._hash_and_write(hasher, sealer, writer, batch)
            if hasher.size < size and exact_size:
                raise IncompleteBody(f"{hasher.size} bytes received, {size} announced")
            verify_body(hasher, integrity)  # after the body: a trailer may carry the checksum
            await writer.write(sealer.finish())
            await writer.commit()
        except BaseException:
            await writer.abort()
            raise
        return blob_id, hasher, None if inline is None else inline.sealed()

    async def _write_whole(
        self,
        body: AsyncIterable[bytes],
        size: int,
        algorithm: ChecksumAlgorithm | None,
        integrity: BodyIntegrity,
        keys: BlobKeys,
        blob_id: str,
        *,
        inline: bool,
        exact_size: bool = True,
    ) -> tuple[str, BodyHasher, bytes | None]:
        """:meth:`write` for a body of at most one chunk (a small object): received whole (it
        is bounded by ``size``), checked, then sealed in one call, not streamed through a
        sealer (a fifth of a small PUT's encryption cost was the streaming machinery)."""
        hasher = BodyHasher(algorithm)
        pieces: list[bytes] = []
        received = 0
        async for chunk in body:
            if not chunk:
                continue
            received += len(chunk)
            if received > size:
                raise IncompleteBody(f"the body is longer than the announced {size} bytes")
            hasher.update(chunk)
            pieces.append(chunk)
        if received < size and exact_size:
            raise IncompleteBody(f"{received} bytes received, {size} announced")
        verify_body(hasher, integrity)  # after the body: a trailer may carry the checksum
        plaintext = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        stored = self._cipher.seal_whole(keys.blob_cipher, blob_id, bytes(plaintext))
        if inline:
            return blob_id, hasher, stored
        writer = await self._blobs.create(blob_id)
        try:
            await writer.write(stored)
            await writer.commit()
        except BaseException:
            await writer.abort()
            raise
        return blob_id, hasher, None

    @staticmethod
    async def _hash_and_write(
        hasher: BodyHasher, sealer: BlobSealer, writer: BlobWriter, batch: list[bytes]
    ) -> None:
        for sealed in await asyncio.to_thread(_hash_and_seal, hasher, sealer, batch):
            await writer.write(sealed)

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


@dataclass(slots=True)
class BlobKeys:
    """The keys of one blob being written: zeroed (``forget``) once the blob is sealed.

    Single-use: the blob key seals its blob's chunks directly (format 2, with nonces that
    count from zero in every blob), so :meth:`SealedBlobs.write` refuses a second blob under
    the same keys rather than reuse a (key, nonce) pair."""

    data_key: bytearray  # the data key that seals the headers (a tenant key)
    data_key_wrapped: bytes  # ... and its wrapped form, stored with the sealed headers
    data_key_cipher: AESGCM | None  # ... and its AES-GCM object; None only with encryption off
    blob_key: bytearray  # what seals the chunks: the data key, SSE-C's mix, SSE-KMS's
    blob_cipher: AESGCM | None  # ... as an AES-GCM object; None only with encryption off
    segment_key: SegmentKey | None  # what the segment stores; None only with encryption off
    blob_sealed: bool = False  # spent by a write
    # DSSE-KMS: the inner layer's data key (``blob_key`` then seals the outer layer).
    inner_key: bytearray | None = None
    inner_cipher: AESGCM | None = None

    def seal(self, bucket: str, key: str, headers: ContentHeaders) -> SealedHeaders | None:
        if self.data_key_cipher is None:
            return None
        return seal_headers(self.data_key_cipher, self.data_key_wrapped, bucket, key, headers)

    def spend_on_blob(self) -> None:
        if self.blob_sealed:
            raise RuntimeError("a blob's keys sealed another blob already")
        self.blob_sealed = True

    def forget(self) -> None:
        forget(self.data_key)
        forget(self.blob_key)
        if self.inner_key is not None:
            forget(self.inner_key)


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


_INNER_LAYER_SUFFIX = "/inner"


def inner_layer_id(blob_id: str) -> str:
    """What a DSSE-KMS blob's inner layer binds in its chunks' AAD: not the outer layer's id,
    so that no chunk of one layer can pass for a chunk of the other."""
    return blob_id + _INNER_LAYER_SUFFIX


class _TwoLayerSealer:
    """DSSE-KMS's sealer: the inner layer's sealed bytes, sealed again by the outer layer.
    Each layer holds back at most one chunk, so memory stays bounded."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, inner: BlobSealer, outer: BlobSealer) -> None:
        self._inner = inner
        self._outer = outer

    def update(self, data: bytes) -> bytes | bytearray:
        # The inner layer's output is a fresh buffer each call: the outer one may read it
        # in place (it copies what it holds back).
        sealed = self._inner.update(data)
        return self._outer.update(sealed) if sealed else b""  # type: ignore[arg-type]

    def finish(self) -> bytes | bytearray:
        tail = self._outer.update(self._inner.finish())  # type: ignore[arg-type]
        return tail + self._outer.finish()


class _InlineWriter:
    """A :class:`BlobWriter` that keeps the sealed bytes of a small object in memory, for its
    metadata row (bounded by ``inline_max``: the announced size is checked before)."""

    __slots__ = ("_pieces",)

    def __init__(self) -> None:
        self._pieces: list[bytes] = []

    async def write(self, data: bytes | bytearray) -> None:
        self._pieces.append(bytes(data))

    async def commit(self) -> None:
        """Nothing to make durable here: the row's commit does it."""

    async def abort(self) -> None:
        self._pieces.clear()

    def sealed(self) -> bytes:
        return b"".join(self._pieces)


class _InlineStream:
    """Stored bytes from a row, as a one-block stream (the shape a blob store's read has)."""

    __slots__ = ("_block",)

    def __init__(self, block: bytes) -> None:
        self._block: bytes | None = block

    def __aiter__(self) -> _InlineStream:
        return self

    async def __anext__(self) -> bytes:
        block, self._block = self._block, None
        if block is None:
            raise StopAsyncIteration
        return block


def _inline_range(stored: bytes, offset: int, length: int) -> bytes:
    """Bytes ``[offset, offset + length)`` of a segment kept inline. ObjectCorrupted if it is
    shorter (what a short blob is)."""
    if offset + length > len(stored):
        raise ObjectCorrupted("the object's stored bytes are truncated")
    return stored[offset : offset + length]


async def _close(stream: AsyncIterator[bytes]) -> None:
    """Close a blob stream now, not whenever the garbage collector finalises it."""
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()


def forget(key: bytearray) -> None:
    key[:] = bytes(len(key))


def _hash_and_seal(
    hasher: BodyHasher, sealer: BlobSealer, batch: list[bytes]
) -> list[bytes | bytearray]:
    """Hash and encrypt a batch in a worker thread (hashlib and AES-GCM release the GIL)."""
    update_all(hasher, batch)
    return [sealed for chunk in batch if (sealed := sealer.update(chunk))]
