"""KeyService's object encryption: the encrypted blob format's sizes and range plans, and the
chunk encryptors and decryptors of one blob (format 1: a chunk key derived from a shared data
key and cached; format 2: a blob's own fresh key).

Mixed into :class:`~andromede.kms.service.KeyService`; split off only for size.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from andromede.kms.cache import ChunkKeyCache
from andromede.kms.chunks import (
    HEADER_SIZE,
    NO_SALT,
    SALT_SIZE,
    TAG_SIZE,
    ChunkDecryptor,
    ChunkEncryptor,
    ChunkRange,
    ciphertext_size,
    plaintext_size,
    plan_range,
    seal_single_chunk,
)

if TYPE_CHECKING:
    from typing_extensions import Buffer

__all__ = ["ObjectEncryptionMixin"]


class ObjectEncryptionMixin:
    """Object encryption (mixed into KeyService)."""

    _chunk_size: int
    _chunk_keys: ChunkKeyCache

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
        """The encryptor of one blob under a data key that may seal other blobs too: a salted
        chunk key is derived from it (format 1). A key drawn for this blob alone takes
        :meth:`fresh_blob_encryptor` (format 2)."""
        # The new blob's chunk key is cached too: a GET soon after the PUT is common.
        return ChunkEncryptor(
            data_key, object_id, chunk_size=self._chunk_size, chunk_key=self._chunk_keys.chunk_key
        )

    def fresh_blob_encryptor(self, data_key: AESGCM, object_id: bytes | str) -> ChunkEncryptor:
        """The encryptor of a blob whose data key (given as its AES-GCM object,
        :attr:`NewDataKey.cipher`) is its own: format 2, nothing derived or cached."""
        return ChunkEncryptor.with_fresh_key(data_key, object_id, self._chunk_size)

    def seal_fresh_blob(self, data_key: AESGCM, object_id: str, plaintext: bytes) -> bytes:
        """:meth:`fresh_blob_encryptor`'s blob of a plaintext of at most one chunk, in one call."""
        return seal_single_chunk(data_key, NO_SALT, object_id, plaintext, self._chunk_size)

    def seal_whole_blob(self, data_key: Buffer, object_id: str, plaintext: bytes) -> bytes:
        """The encrypted blob of a plaintext of at most one chunk, in one call: what
        :meth:`object_encryptor` would give for it (its chunk key cached the same way)."""
        salt = os.urandom(SALT_SIZE)
        aead = self._chunk_keys.chunk_key(data_key, salt)
        return seal_single_chunk(aead, salt, object_id, plaintext, self._chunk_size)

    def object_decryptor(
        self, data_key: Buffer, object_id: bytes | str, header: Buffer, plan: ChunkRange
    ) -> ChunkDecryptor:
        if plan.chunk_size != self._chunk_size:
            raise ValueError("the range was planned for another chunk size")
        return ChunkDecryptor(
            data_key, object_id, header, plan, chunk_key=self._chunk_keys.chunk_key
        )
