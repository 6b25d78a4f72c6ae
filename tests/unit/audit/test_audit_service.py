"""Audit: events are queued without blocking and flushed in order, none lost on close."""

from __future__ import annotations

import asyncio

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore


def _record(audit: AuditService, n: int) -> None:
    for i in range(n):
        audit.record(
            request_id=f"r{i}",
            tenant_id="t",
            principal="arn:aws:iam::t:root",
            action="s3:PutObject",
            resource=f"arn:aws:s3:::b/k{i}",
            outcome=Outcome.SUCCESS,
        )


async def test_close_flushes_everything_in_order() -> None:
    store = MemoryAuditStore()
    audit = AuditService(store, max_batch=3)
    audit.start()
    _record(audit, 10)
    await audit.close()
    events = await store.list_events("t", after_id=0, limit=100)
    assert [e.request_id for _, e in events] == [f"r{i}" for i in range(10)]
    assert await store.list_events("other", after_id=0, limit=100) == []


async def test_pending_events_are_written_after_the_flush_interval_without_a_close() -> None:
    store = MemoryAuditStore()
    audit = AuditService(store, flush_interval=0.05)
    audit.start()
    try:
        audit.record(
            request_id="r1",
            tenant_id="t",
            principal="arn:aws:iam::t:root",
            action="s3:GetObject",
            resource="arn:aws:s3:::b/k",
            outcome=Outcome.SUCCESS,
        )
        assert await store.list_events("t", after_id=0, limit=10) == []  # not yet: batched
        for _ in range(100):
            await asyncio.sleep(0.01)
            if await store.list_events("t", after_id=0, limit=10):
                break
        assert [e.request_id for _, e in await store.list_events("t", after_id=0, limit=10)] == [
            "r1"
        ]
    finally:
        await audit.close()


class SlowStore(MemoryAuditStore):
    """A store whose appends wait to be let through, as a database's do (they yield)."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = asyncio.Event()
        self.go = asyncio.Event()

    async def append(self, events):  # type: ignore[no-untyped-def]
        self.entered.set()
        await self.go.wait()
        await super().append(events)


async def test_two_flushes_at_once_write_each_event_once() -> None:
    """The background flusher and a caller's flush (a test's, or close's) at the same time:
    each event lands in the log once. Both used to write the batch the first was writing (a
    console test's refusals came out twice)."""
    store = SlowStore()
    audit = AuditService(store, max_batch=3)
    _record(audit, 5)
    first = asyncio.create_task(audit.flush())
    await store.entered.wait()
    second = asyncio.create_task(audit.flush())
    await asyncio.sleep(0)
    store.go.set()
    await asyncio.gather(first, second)
    events = await store.list_events("t", after_id=0, limit=100)
    assert [e.request_id for _, e in events] == [f"r{i}" for i in range(5)]


class ThreadedStore(SlowStore):
    """As the SQL store: the write runs on (in a thread) when the caller awaiting it is
    cancelled."""

    async def append(self, events):  # type: ignore[no-untyped-def]
        self.entered.set()

        async def write() -> None:
            await self.go.wait()
            await MemoryAuditStore.append(self, events)

        await asyncio.shield(asyncio.ensure_future(write()))


async def test_a_flush_cancelled_while_its_batch_is_written_leaves_nothing_to_write_twice() -> None:
    """close() cancels the background flusher, then flushes: a batch the flusher was writing
    is finished and dropped from the pending events, not written again."""
    store = ThreadedStore()
    audit = AuditService(store, flush_interval=0.01)
    audit.start()
    _record(audit, 4)
    await store.entered.wait()  # the background flusher is writing the batch
    closing = asyncio.create_task(audit.close())
    await asyncio.sleep(0.01)
    store.go.set()
    await closing
    events = await store.list_events("t", after_id=0, limit=100)
    assert [e.request_id for _, e in events] == [f"r{i}" for i in range(4)]


class CountingService(AuditService):
    """Counts the flusher's passes (each pass calls ``flush``)."""

    flushes = 0

    async def flush(self) -> None:
        self.flushes += 1
        await super().flush()


async def test_an_idle_flusher_sleeps_until_an_event_is_recorded_then_writes_it() -> None:
    # Decision 0325: nothing pending, the flusher does not wake every flush interval.
    store = MemoryAuditStore()
    audit = CountingService(store, flush_interval=0.01)
    audit.start()
    try:
        await asyncio.sleep(0.2)  # twenty intervals
        assert audit.flushes == 0
        _record(audit, 1)
        for _ in range(100):
            await asyncio.sleep(0.01)
            if await store.list_events("t", after_id=0, limit=10):
                break
        assert [e.request_id for _, e in await store.list_events("t", after_id=0, limit=10)] == [
            "r0"
        ]
        passes = audit.flushes
        await asyncio.sleep(0.2)
        assert audit.flushes == passes  # asleep again once written
        _record(audit, 1)
        for _ in range(100):
            await asyncio.sleep(0.01)
            if len(await store.list_events("t", after_id=0, limit=10)) == 2:
                break
        assert len(await store.list_events("t", after_id=0, limit=10)) == 2
    finally:
        await audit.close()
