"""Sealed blobs read: a segment's plaintext range, decrypting only the chunks it touches, from
its row (a small object kept inline) or streamed from its blob; DSSE-KMS's two layers; SSE-C's
and bucket keys' data keys opened before any read.

Mixed into :class:`~andromede.storage.sealed_blobs.SealedBlobs`; split off only for size.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Mapping

from andromede.storage.blobs import BlobStore
from andromede.storage.encryption import (
    BlobOpener,
    CustomerKey,
    KeyCheck,
    ObjectCipher,
    customer_blob_key,
    customer_key_matches,
)
from andromede.storage.errors import CustomerKeyMismatch, ObjectCorrupted
from andromede.storage.model import Segment, SegmentKey
from andromede.storage.sealed_blobs_keys import forget, inner_layer_id

__all__ = ["SealedBlobReads"]


class SealedBlobReads:
    """Reading sealed blobs (mixed into SealedBlobs)."""

    _blobs: BlobStore
    _cipher: ObjectCipher
    _read_chunk_size: int

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
