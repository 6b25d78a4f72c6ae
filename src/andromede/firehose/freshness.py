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

Every gateway ticks (decision 0398): so that a stream gets one point a minute however many
gateways share the database, a round is the round of its wall-clock minute ("slot"), claimed
first through :class:`RoundClaims` — decision 0181's ``metric_runs`` claims, as the load
balancers' host counts and EventBridge's schedules are taken —: the gateway that claims the
minute reports it, the others leave it and try the next minute. The claim holds a minute and
nobody asks for a minute once it is past, so a holder that dies mid-round leaves the rest of
its minute unsaid (a gauge's point is a sample; the next minute has its own), never said twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Protocol

from andromede.firehose.model import DeliveryStream
from andromede.firehose.store import FirehoseStore

__all__ = ["PERIOD_MS", "FreshnessGauges", "RoundClaims"]

PERIOD_MS: Final = 60_000  # AWS's metric period
JOB: Final = "firehose-freshness:"  # + the region: one round a minute and region

# (stream, "S3" or "HttpEndpoint", the oldest undelivered record's age in ms)
Fresh = Callable[[DeliveryStream, str, int], None]
# (stream, the oldest copy's age in ms)
BackupFresh = Callable[[DeliveryStream, int], None]


class RoundClaims(Protocol):
    """``metrics.runs_sql.SqlMetricRuns``'s claims (decision 0181), given by the wiring."""

    async def claim(self, name: str, slot: int, holder: str, now: int, lease: int) -> bool: ...

    async def done(self, name: str, slot: int, holder: str) -> None: ...


class FreshnessGauges:
    def __init__(
        self,
        store: FirehoseStore,
        region: str,
        page: int,
        fresh: Fresh,
        backup_fresh: BackupFresh,
        claims: RoundClaims | None = None,
        holder: str = "",
    ) -> None:
        """``claims``: where the gateways sharing the database claim each minute's round
        (None: this gateway alone reports, every round its own)."""
        self._store = store
        self._region = region
        self._page = max(page, 1)
        self._fresh = fresh
        self._backup_fresh = backup_fresh
        self._claims = claims
        self._holder = holder
        self._cursor: tuple[str, str] | None = None
        self._round = 0  # when the round under way started (ms)
        self._next = 0  # when the next round starts (ms)
        self._slot = -1  # the last minute this gateway tried to claim (or ran)

    async def tick(self, now: int) -> int:
        """One page of the round under way, or of a new one when a minute has passed since
        the last started; how many streams were reported."""
        if self._cursor is None:
            slot = now // PERIOD_MS
            if now < self._next or slot <= self._slot:
                return 0
            self._slot = slot  # tried once: another gateway's claim holds to its end
            if self._claims is not None and not await self._claims.claim(
                JOB + self._region, slot, self._holder, now, PERIOD_MS
            ):
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
            if self._claims is not None:
                await self._claims.done(JOB + self._region, self._slot, self._holder)
        else:
            last = page[-1].stream
            self._cursor = (last.tenant_id, last.name)
        return len(page)
