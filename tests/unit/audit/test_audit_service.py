"""Audit: events are queued without blocking and flushed in order, none lost on close."""

from __future__ import annotations

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
