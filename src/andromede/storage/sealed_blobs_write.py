"""Sealed blobs written: a body streamed through the hashes and the encryption into a new
blob (or, small, kept for its metadata row), hashed in a worker thread when large, sealed in one
call when it fits one chunk, and sealed twice for DSSE-KMS.

Mixed into :class:`~andromede.storage.sealed_blobs.SealedBlobs`; split off only for size.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterable

from andromede.storage.blobs import BlobStore, BlobWriter
from andromede.storage.checksums import BodyHasher
from andromede.storage.encryption import BlobSealer, ObjectCipher
from andromede.storage.errors import IncompleteBody
from andromede.storage.integrity import BodyIntegrity, update_all, verify_body
from andromede.storage.model import ChecksumAlgorithm
from andromede.storage.sealed_blobs_keys import BlobKeys, inner_layer_id

__all__ = ["SealedBlobWrites"]

_THREADED_HASH_MIN = 1024 * 1024
_HASH_BLOCK = 1024 * 1024


class SealedBlobWrites:
    """Writing sealed blobs (mixed into SealedBlobs)."""

    _blobs: BlobStore
    _cipher: ObjectCipher

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


def _hash_and_seal(
    hasher: BodyHasher, sealer: BlobSealer, batch: list[bytes]
) -> list[bytes | bytearray]:
    """Hash and encrypt a batch in a worker thread (hashlib and AES-GCM release the GIL)."""
    update_all(hasher, batch)
    return [sealed for chunk in batch if (sealed := sealer.update(chunk))]
