"""Audit: events are queued without blocking and flushed in order, none lost on close."""

from __future__ import annotations

import asyncio

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore


async def test_close_flushes_everything_in_order() -> None:
    store = MemoryAuditStore()
    audit = AuditService(store, max_batch=3)
    audit.start()
    for i in range(10):
        audit.record(
            request_id=f"r{i}",
            tenant_id="t",
            principal="arn:aws:iam::t:root",
            action="s3:PutObject",
            resource=f"arn:aws:s3:::b/k{i}",
            outcome=Outcome.SUCCESS,
        )
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
