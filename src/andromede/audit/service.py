"""AuditService: the interface every context emits audit events through.

Events are appended to the store in batches by a background task (one transaction per batch
instead of one per request, which on SQLite would double the fsyncs of every PUT). ``close()``
flushes what is pending; a crash can lose at most the last ``flush_interval`` of events. Each
batch goes to the transparency logs (decision 0105): the store appends every event to its
tenant's log and advances the Merkle trees in the batch's one transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, datetime

from andromede.audit.model import AuditEvent, Outcome
from andromede.audit.store import AuditStore
from andromede.db.errors import DatabaseUnavailable
from andromede.wakeup import set_within

__all__ = ["AuditService"]

log = logging.getLogger(__name__)


class AuditService:
    def __init__(
        self, store: AuditStore, *, flush_interval: float = 0.2, max_batch: int = 1000
    ) -> None:
        self._store = store
        self._flush_interval = flush_interval
        self._max_batch = max_batch
        self._pending: list[AuditEvent] = []
        self._writing = asyncio.Lock()
        self._wakeup = asyncio.Event()  # a batch is full: flush now
        # Something is pending: the flusher sleeps on this while nothing is, so an idle gateway's
        # flusher does not wake every flush interval to find nothing (decision 0325).
        self._queued = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._unavailable = False  # the last flush found the database down

    def authentication_failed(
        self, *, request_id: str, action: str, error: str, resource: str = "*"
    ) -> None:
        """A request refused before anyone was identified (bad signature, unknown key...)."""
        self.record(
            request_id=request_id,
            tenant_id=None,
            principal=None,
            action=action,
            resource=resource,
            outcome=Outcome.FAILURE,
            details={"error": error},
        )

    def record(
        self,
        *,
        request_id: str,
        tenant_id: str | None,
        principal: str | None,
        action: str,
        resource: str,
        outcome: Outcome,
        details: Mapping[str, str] | None = None,
    ) -> None:
        """Queue one event; never blocks the request."""
        self._pending.append(
            AuditEvent(
                occurred_at=datetime.now(UTC),
                request_id=request_id,
                tenant_id=tenant_id,
                principal=principal,
                action=action,
                resource=resource,
                outcome=outcome,
                details=details or {},
            )
        )
        self._queued.set()
        if len(self._pending) >= self._max_batch:
            self._wakeup.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="audit-flush")

    async def events(
        self, tenant_id: str, *, after_id: int, limit: int
    ) -> list[tuple[int, AuditEvent]]:
        """A tenant's events in the order appended, numbered, those still pending included
        (flushed first): IAM's service-last-accessed summary reads them (decision 0193)."""
        await self.flush()
        return await self._store.list_events(tenant_id, after_id=after_id, limit=limit)

    async def flush(self) -> None:
        while self._pending:
            # Shielded: a flush cancelled while its batch is written (close() cancelling the
            # background flusher) must not leave that batch pending once the store has it (the
            # SQL store's write goes on in its thread), or the next flush would write it again.
            await asyncio.shield(self._write_batch())

    async def _write_batch(self) -> None:
        # One batch at a time: two flushes at once (the background flusher and a caller's)
        # would otherwise both take the batch the first is writing.
        async with self._writing:
            batch = self._pending[: self._max_batch]
            if batch:
                await self._store.append(batch)
                # Events queued while the append ran sit after the batch: drop only those
                # written.
                del self._pending[: len(batch)]

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        await self.flush()

    async def _run(self) -> None:
        while True:
            if not self._pending:
                # Idle until an event is recorded; then written within the flush interval, as
                # before. Cleared first: one recorded meanwhile sets it again.
                self._queued.clear()
                if not self._pending:
                    await self._queued.wait()
            await set_within(self._wakeup, self._flush_interval)
            self._wakeup.clear()
            try:
                await self.flush()
            except DatabaseUnavailable:
                # Expected while the database is down: say it once, not every flush interval.
                if not self._unavailable:
                    log.warning("audit flush: database unavailable; events kept until it is back")
                    self._unavailable = True
                continue
            except Exception:
                log.exception("audit flush failed; events kept for the next attempt")
                continue
            if self._unavailable:
                log.warning("audit flush: database back; kept events written")
                self._unavailable = False
