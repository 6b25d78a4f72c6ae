"""The sweeper: deletes blobs nothing references any more, and leftovers of crashed writers.

Three jobs per round, each bounded by batches of 500:

1. blobs queued for deletion (replaced or deleted objects, aborted uploads) whose grace period
   has passed — the grace lets GETs in flight finish reading them;
2. temporaries of writers that died before committing (older than the orphan grace);
3. orphans: committed blobs older than the orphan grace that no object, part or queue entry
   names — a crash between the blob commit and the metadata commit leaves one. The grace must
   exceed the longest gap between those two commits, so a PUT about to commit its row never
   loses its blob.

A sweeper works on one blob store: with regions, one per region the gateway serves, each taking
from the deletion queue only the blobs queued for its own region.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from andromede.storage.blobs import BlobStore
from andromede.storage.store import MetadataStore

__all__ = ["BATCH_SIZE", "SweepReport", "Sweeper"]

BATCH_SIZE = 500

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SweepReport:
    queued_deleted: int
    temporaries_removed: int
    orphans_deleted: int


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Sweeper:
    def __init__(
        self,
        store: MetadataStore,
        blobs: BlobStore,
        *,
        orphan_grace: float,
        interval: float,
        regions: Collection[str | None] | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        """``regions``: the queued deletions that are this store's (None among them: those
        queued without a region, the default region's); None: every queued deletion."""
        self._store = store
        self._blobs = blobs
        self._regions = regions
        self._orphan_grace = timedelta(seconds=orphan_grace)
        self._interval = interval
        self._clock = clock

    async def run_once(self, now: datetime) -> SweepReport:
        queued = await self._delete_queued(now)
        temporaries = await self._blobs.remove_stale_temporaries(now - self._orphan_grace)
        orphans = await self._delete_orphans(now - self._orphan_grace)
        return SweepReport(queued, temporaries, orphans)

    async def run_forever(self) -> None:
        """Sweep every ``interval`` seconds until cancelled; a failed round is logged."""
        while True:
            try:
                report = await self.run_once(self._clock())
            except Exception:
                _log.exception("sweep failed; retrying in %s s", self._interval)
            else:
                if report != SweepReport(0, 0, 0):
                    _log.info(
                        "sweep: %d queued blobs, %d temporaries, %d orphans deleted",
                        report.queued_deleted,
                        report.temporaries_removed,
                        report.orphans_deleted,
                    )
            await asyncio.sleep(self._interval)

    async def _delete_queued(self, now: datetime) -> int:
        deleted = 0
        while True:
            batch = await self._store.take_due_blob_deletions(
                now, BATCH_SIZE, regions=self._regions
            )
            for blob_id in batch:
                await self._blobs.delete(blob_id)
            deleted += len(batch)
            if len(batch) < BATCH_SIZE:
                return deleted

    async def _delete_orphans(self, older_than: datetime) -> int:
        deleted = 0
        batch: list[str] = []
        async for blob_id in self._blobs.list_blobs(older_than):
            batch.append(blob_id)
            if len(batch) == BATCH_SIZE:
                deleted += await self._delete_unreferenced(batch)
                batch = []
        if batch:
            deleted += await self._delete_unreferenced(batch)
        return deleted

    async def _delete_unreferenced(self, candidates: list[str]) -> int:
        referenced = await self._store.referenced_blob_ids(candidates)
        orphans = [blob_id for blob_id in candidates if blob_id not in referenced]
        for blob_id in orphans:
            _log.info("deleting orphan blob %s", blob_id)
            await self._blobs.delete(blob_id)
        return len(orphans)
