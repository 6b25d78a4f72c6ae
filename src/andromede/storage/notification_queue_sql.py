"""Queueing a write's events in the transaction that commits it (decision 0132): rows of
``notification_events``, which the delivery worker of ``andromede.notifications`` claims."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.doorbells import NOTIFICATIONS, queued
from andromede.db.notification_events import SEALED_FORMAT, EventSealer, with_version
from andromede.storage.notification import EVENT_FORMAT_VERSION, EventBatch

__all__ = ["queue_events", "sealed"]

_log = logging.getLogger(__name__)
_E = tables.notification_events
_WAITING = (
    sa.select(sa.func.count()).select_from(_E).where(_E.c.tenant_id == sa.bindparam("tenant"))
)


async def sealed(batch: EventBatch | None, sealer: EventSealer | None) -> EventBatch | None:
    """``batch`` sealed by ``sealer`` (if both are given): what a store method does first,
    before its transaction, so that no key provider is called while a write holds the
    database."""
    if batch is None or sealer is None:
        return batch
    return await batch.sealed_by(sealer)


def queue_events(conn: Connection, batch: EventBatch | None, version_id: str | None) -> None:
    """Insert ``batch``'s events, with the committed ``version_id``, in ``conn``'s transaction:
    they exist if and only if the write does. Events sealed beforehand
    (:meth:`EventBatch.sealed_by`) are stored sealed, with ``version_id`` beside them. A
    tenant's queue past ``batch.bound``: the events are dropped and logged (the write itself
    stands)."""
    if batch is None:
        return
    rows = []
    waiting: dict[str, int] = {}
    for event in batch.events:
        if event.tenant_id not in waiting:
            waiting[event.tenant_id] = conn.execute(
                _WAITING, {"tenant": event.tenant_id}
            ).scalar_one()
        if waiting[event.tenant_id] >= batch.bound:
            _log.warning(
                "notification queue of tenant %s full (%d events): an event for %s dropped",
                event.tenant_id,
                batch.bound,
                event.topic_arn,
            )
            continue
        waiting[event.tenant_id] += 1
        rows.append(
            {
                "tenant_id": event.tenant_id,
                "topic_arn": event.topic_arn,
                "message": (
                    event.message(version_id)
                    if event.sealed is None
                    else with_version(event.sealed, version_id)
                ),
                "format_version": EVENT_FORMAT_VERSION if event.sealed is None else SEALED_FORMAT,
                "attempts": 0,
                "not_before": batch.made_at,
                "lease_until": None,
                "created_at": batch.made_at,
                "last_error": None,
                "trace": batch.trace,
            }
        )
    if rows:
        conn.execute(_E.insert(), rows)
        queued(conn, NOTIFICATIONS)
