"""The blob store interface: immutable byte sequences, written once, read by range.

Implementations: ``blob_local.py`` (one file per blob under the data dir, written to a temporary
file, fsynced, renamed into place) and ``blob_memory.py`` (the fast twin); Ceph RADOS joins later
(``blob_rados.py``). A blob becomes visible only through :meth:`BlobWriter.commit`, which returns
once the bytes are durable: the metadata commit that makes an object exist comes after it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Protocol

__all__ = ["BlobInfo", "BlobStore", "BlobWriter"]


class BlobWriter(Protocol):
    """Accumulates one blob. Exactly one of commit() or abort() ends it."""

    async def write(self, data: bytes | bytearray) -> None: ...

    async def commit(self) -> None:
        """Make the blob durable and visible under its id."""

    async def abort(self) -> None:
        """Discard whatever was written; never raises."""


class BlobInfo(Protocol):
    blob_id: str
    modified: datetime


class BlobStore(Protocol):
    async def create(self, blob_id: str) -> BlobWriter: ...

    def read(self, blob_id: str, offset: int, length: int, chunk_size: int) -> AsyncIterator[bytes]:
        """Stream ``length`` bytes from ``offset``. The blob is opened before the first chunk
        is yielded, so a deletion that comes later does not cut a read short (POSIX unlink
        semantics on local disk). BlobError if the blob is missing or shorter."""

    async def delete(self, blob_id: str) -> None:
        """Remove the blob; a missing blob is not an error."""

    def list_blobs(self, older_than: datetime) -> AsyncIterator[str]:
        """Ids of committed blobs last modified before ``older_than`` (for the sweeper)."""

    async def remove_stale_temporaries(self, older_than: datetime) -> int:
        """Remove uncommitted leftovers of crashed writers; returns how many."""
