"""The ``DataFreshness`` gauges while data waits (decision 0388): AWS reports, every minute,
"the age (from getting into Firehose to now) of the oldest record in Firehose" —
``DeliveryToS3.DataFreshness`` / ``DeliveryToHttpEndpoint.DataFreshness`` for the
destination, ``BackupToS3.DataFreshness`` for the backup's copies — whether or not a
delivery happens, so that an alarm sees a stream that stopped delivering.

Each deliverer pass calls :meth:`FreshnessGauges.tick`; once a minute a round starts and
reads the region's streams holding records a page at a time (the pass's stream bound), one
page a pass, so that a tick's work is bounded however many streams wait; the round ends
with a short page and the next starts a minute after this one started. Idle streams report
nothing, as AWS's metric has no datapoint without data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from andromede.firehose.model import DeliveryStream
from andromede.firehose.store import FirehoseStore

__all__ = ["PERIOD_MS", "FreshnessGauges"]

PERIOD_MS: Final = 60_000  # AWS's metric period

# (stream, "S3" or "HttpEndpoint", the oldest undelivered record's age in ms)
Fresh = Callable[[DeliveryStream, str, int], None]
# (stream, the oldest copy's age in ms)
BackupFresh = Callable[[DeliveryStream, int], None]


class FreshnessGauges:
    def __init__(
        self,
        store: FirehoseStore,
        region: str,
        page: int,
        fresh: Fresh,
        backup_fresh: BackupFresh,
    ) -> None:
        self._store = store
        self._region = region
        self._page = max(page, 1)
        self._fresh = fresh
        self._backup_fresh = backup_fresh
        self._cursor: tuple[str, str] | None = None
        self._round = 0  # when the round under way started (ms)
        self._next = 0  # when the next round starts (ms)

    async def tick(self, now: int) -> int:
        """One page of the round under way, or of a new one when a minute has passed since
        the last started; how many streams were reported."""
        if self._cursor is None:
            if now < self._next:
                return 0
            self._round = now
        page = await self._store.waiting(self._region, self._cursor, self._page)
        for waiting in page:
            stream = waiting.stream
            if waiting.oldest is not None:
                destination = "S3" if stream.http is None else "HttpEndpoint"
                self._fresh(stream, destination, max(now - waiting.oldest, 0))
            if waiting.oldest_copy is not None:
                self._backup_fresh(stream, max(now - waiting.oldest_copy, 0))
        if len(page) < self._page:  # the round is over
            self._cursor = None
            self._next = self._round + PERIOD_MS
        else:
            last = page[-1].stream
            self._cursor = (last.tenant_id, last.name)
        return len(page)
