"""The keys of one blob being written (:class:`BlobKeys`, zeroed with :func:`forget` once the
blob is sealed) and the id a DSSE-KMS blob's inner layer binds in its chunks' AAD.

Split off ``sealed_blobs.py`` for size; callers import these names from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from andromede.storage.encryption import seal_headers
from andromede.storage.model import ContentHeaders, SealedHeaders, SegmentKey

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["BlobKeys", "forget", "inner_layer_id"]


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


_INNER_LAYER_SUFFIX = "/inner"


def inner_layer_id(blob_id: str) -> str:
    """What a DSSE-KMS blob's inner layer binds in its chunks' AAD: not the outer layer's id,
    so that no chunk of one layer can pass for a chunk of the other."""
    return blob_id + _INNER_LAYER_SUFFIX


def forget(key: bytearray) -> None:
    key[:] = bytes(len(key))
