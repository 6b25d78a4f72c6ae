"""The in-memory blob store: the fast twin of ``blob_local.py`` for tests and benchmarks.

Same contract, checked by ``tests/contract/test_blob_store.py``: a blob is visible only once
committed, an abort leaves nothing, a reader that started keeps its bytes even if the blob is
deleted meanwhile, and writers that are neither committed nor aborted count as temporaries.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

from andromede.storage.errors import BlobError

__all__ = ["MemoryBlobStore", "MemoryBlobWriter"]


@dataclass(frozen=True, slots=True)
class _Blob:
    data: bytes
    modified: datetime


class MemoryBlobWriter:
    def __init__(self, store: MemoryBlobStore, blob_id: str) -> None:
        self._store = store
        self._blob_id = blob_id
        self._chunks: list[bytes] = []
        self._done = False
        self.started = datetime.now(UTC)

    async def write(self, data: bytes | bytearray) -> None:
        if self._done:
            raise BlobError(f"blob {self._blob_id}: write after the writer ended")
        if self not in self._store._temporaries:
            raise BlobError(f"blob {self._blob_id}: temporary data was removed")
        self._chunks.append(bytes(data))

    async def commit(self) -> None:
        if self._done:
            raise BlobError(f"blob {self._blob_id}: commit after the writer ended")
        self._done = True
        if self not in self._store._temporaries:
            raise BlobError(f"blob {self._blob_id}: temporary data was removed")
        self._store._temporaries.discard(self)
        self._store._blobs[self._blob_id] = _Blob(b"".join(self._chunks), datetime.now(UTC))
        self._chunks = []

    async def abort(self) -> None:
        self._done = True
        self._chunks = []
        self._store._temporaries.discard(self)


class MemoryBlobStore:
    def __init__(self) -> None:
        self._blobs: dict[str, _Blob] = {}
        self._temporaries: set[MemoryBlobWriter] = set()

    async def create(self, blob_id: str) -> MemoryBlobWriter:
        writer = MemoryBlobWriter(self, blob_id)
        self._temporaries.add(writer)
        return writer

    async def read(
        self, blob_id: str, offset: int, length: int, chunk_size: int
    ) -> AsyncIterator[bytes]:
        blob = self._blobs.get(blob_id)  # taken before the first chunk: a later delete is moot
        if blob is None:
            raise BlobError(f"blob {blob_id} is missing")
        if offset < 0 or length < 0 or offset + length > len(blob.data):
            raise BlobError(
                f"blob {blob_id}: range {offset}+{length} beyond its {len(blob.data)} bytes"
            )
        view = memoryview(blob.data)
        for start in range(offset, offset + length, chunk_size):
            yield bytes(view[start : min(start + chunk_size, offset + length)])

    async def delete(self, blob_id: str) -> None:
        self._blobs.pop(blob_id, None)

    async def list_blobs(self, older_than: datetime) -> AsyncIterator[str]:
        for blob_id, blob in list(self._blobs.items()):
            if blob.modified < older_than:
                yield blob_id

    async def remove_stale_temporaries(self, older_than: datetime) -> int:
        stale = [w for w in self._temporaries if w.started < older_than]
        for writer in stale:
            self._temporaries.discard(writer)
        return len(stale)

    # -- for tests ------------------------------------------------------------------------
    def blob_ids(self) -> set[str]:
        """Every committed blob id (tests use it to check that nothing was left behind)."""
        return set(self._blobs)

    def temporary_count(self) -> int:
        return len(self._temporaries)
