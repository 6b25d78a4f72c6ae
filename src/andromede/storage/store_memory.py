"""The in-memory metadata store: the fast twin of ``store_sql.py`` for tests and benchmarks.

Same behaviour, checked by ``tests/contract/test_metadata_store.py``. Keys of each bucket are
kept in a list sorted by their UTF-8 encoding (S3's order) and searched with :mod:`bisect`.
Every method runs without awaiting, so each is atomic on the event loop.

The store's parts, split off for size as ``store_sql.py``'s are: ``store_memory_core`` (the
state, the steps the parts share, and the current objects), ``store_memory_buckets`` (buckets
and their settings), ``store_memory_versions`` (what only versioned buckets need) and
``store_memory_multipart`` (uploads and parts). This module composes them and keeps the blob
deletion queue's housekeeping. Callers import :class:`MemoryMetadataStore` from here.
"""

from __future__ import annotations

import bisect
from collections.abc import Collection, Iterable
from datetime import datetime

from andromede.storage.model import ObjectRecord
from andromede.storage.store_memory_buckets import MemoryBucketsMixin
from andromede.storage.store_memory_multipart import MemoryMultipartMixin

__all__ = ["MemoryMetadataStore"]


class MemoryMetadataStore(MemoryBucketsMixin, MemoryMultipartMixin):
    """The in-memory metadata store (:class:`~andromede.storage.store.MetadataStore`)."""

    # -- housekeeping -----------------------------------------------------------------------
    async def queue_blob_deletion(
        self, blob_ids: Iterable[str], not_before: datetime, *, region: str | None = None
    ) -> None:
        for blob_id in blob_ids:
            self._deletion_seq += 1
            bisect.insort(self._deletions, (not_before, self._deletion_seq, blob_id, region))

    async def take_due_blob_deletions(
        self, now: datetime, limit: int, *, regions: Collection[str | None] | None = None
    ) -> list[str]:
        taken: list[str] = []
        kept: list[tuple[datetime, int, str, str | None]] = []
        for entry in self._deletions:
            due, _, blob_id, region = entry
            if due <= now and len(taken) < limit and (regions is None or region in regions):
                taken.append(blob_id)
            else:
                kept.append(entry)
        self._deletions = kept
        return taken

    async def referenced_blob_ids(self, candidates: Iterable[str]) -> set[str]:
        wanted = set(candidates)
        found: set[str] = set()
        for state in self._buckets.values():
            for record in state.objects.values():
                found.update(
                    s.blob_id for s in record.segments if s.inline is None and s.blob_id in wanted
                )
            for kept in state.versions.values():
                for entry in kept:
                    if isinstance(entry.version, ObjectRecord):
                        found.update(
                            s.blob_id
                            for s in entry.version.segments
                            if s.inline is None and s.blob_id in wanted
                        )
        for parts in self._parts.values():
            found.update(p.blob_id for p in parts.values() if p.blob_id in wanted)
        found.update(entry[2] for entry in self._deletions if entry[2] in wanted)
        return found
