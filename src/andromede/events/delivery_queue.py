"""The durable queue of EventBridge's deliveries (decision 0192, session 48 addendum): one
entry per matched event and target, added before PutEvents answers (or the platform's event
is taken), claimed under a lease by a worker of any gateway, completed, put back for a retry
or dropped. A gateway that stops mid-delivery leaves its claims to the next worker once
their lease ends: none is lost, a delivery may come twice (EventBridge's at-least-once).

:class:`MemoryDeliveryQueue` is the in-process twin (tests, the memory stores);
:mod:`andromede.events.delivery_queue_sql` keeps the entries in ``events_deliveries``,
sealed under their tenant's key. The contract suite (``tests/contract/test_events_stores.py``)
holds both to the same behaviour.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

__all__ = [
    "DeliveryQueue",
    "HeldDelivery",
    "MemoryDeliveryQueue",
    "NewDelivery",
    "QueuedDelivery",
]


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """A delivery to queue: ``message`` is the document the worker needs (opaque here)."""

    rule_arn: str
    target_id: str
    message: str


@dataclass(frozen=True, slots=True)
class QueuedDelivery:
    """A claimed delivery; ``attempts`` counts the claims, this one included. ``unopened``:
    why its message could not be opened (``shredded``: never will, its tenant's key gone)."""

    delivery_id: int
    tenant_id: str
    rule_arn: str
    target_id: str
    message: str
    attempts: int
    created: datetime
    unopened: str | None = None
    shredded: bool = False


@dataclass(frozen=True, slots=True)
class HeldDelivery:
    """A waiting delivery as a re-seal reads it (decision 0218): its message opened, and
    ``stored`` what the queue holds, which :meth:`DeliveryQueue.rewrite` compares."""

    delivery_id: int
    rule_arn: str
    target_id: str
    message: str
    stored: str


class DeliveryQueue(Protocol):
    async def add(self, tenant_id: str, deliveries: Sequence[NewDelivery], now: datetime) -> None:
        """Queue them, due at once, in one transaction."""
        ...

    async def claim(self, now: datetime, *, lease: timedelta, limit: int) -> list[QueuedDelivery]:
        """Due, unleased deliveries, oldest first, leased until ``now + lease``; each claim
        counts as an attempt. Two claimers never take the same one while its lease runs."""
        ...

    async def complete(self, delivery: QueuedDelivery) -> None:
        """Delivered, dead-lettered or dropped: gone."""
        ...

    async def retry(self, delivery: QueuedDelivery, not_before: datetime, error: str) -> None:
        """Claimable again from ``not_before``."""
        ...

    async def waiting(self) -> int:
        """How many deliveries wait, leased or not."""
        ...

    async def held(self, tenant_id: str, after: int, limit: int) -> list[HeldDelivery]:
        """The account's waiting deliveries (leased or not) after the id ``after``, in id
        order, their messages opened (one that does not open is left out)."""
        ...

    async def rewrite(self, tenant_id: str, held: HeldDelivery, message: str) -> bool:
        """The delivery's message replaced by ``message`` if it is still ``held``'s and still
        waits; whether it was (its attempts, lease and due time untouched)."""
        ...

    async def forget_tenant(self, tenant_id: str) -> int:
        """Delete a closed tenant's deliveries; how many."""
        ...


@dataclass(slots=True)
class _Row:
    delivery: QueuedDelivery
    not_before: datetime
    lease_until: datetime | None = None
    last_error: str | None = None


class MemoryDeliveryQueue:
    def __init__(self) -> None:
        self._rows: dict[int, _Row] = {}
        self._next = 1

    async def add(self, tenant_id: str, deliveries: Sequence[NewDelivery], now: datetime) -> None:
        for new in deliveries:
            queued = QueuedDelivery(
                self._next, tenant_id, new.rule_arn, new.target_id, new.message, 0, now
            )
            self._rows[self._next] = _Row(queued, now)
            self._next += 1

    async def claim(self, now: datetime, *, lease: timedelta, limit: int) -> list[QueuedDelivery]:
        taken: list[QueuedDelivery] = []
        for row in sorted(self._rows.values(), key=lambda r: r.delivery.delivery_id):
            if len(taken) >= limit:
                break
            if row.not_before > now or (row.lease_until is not None and row.lease_until > now):
                continue
            row.lease_until = now + lease
            row.delivery = dataclasses.replace(row.delivery, attempts=row.delivery.attempts + 1)
            taken.append(row.delivery)
        return taken

    async def complete(self, delivery: QueuedDelivery) -> None:
        self._rows.pop(delivery.delivery_id, None)

    async def retry(self, delivery: QueuedDelivery, not_before: datetime, error: str) -> None:
        row = self._rows.get(delivery.delivery_id)
        if row is not None:
            row.not_before, row.lease_until, row.last_error = not_before, None, error[:1024]

    async def waiting(self) -> int:
        return len(self._rows)

    async def held(self, tenant_id: str, after: int, limit: int) -> list[HeldDelivery]:
        found = [
            HeldDelivery(
                key,
                row.delivery.rule_arn,
                row.delivery.target_id,
                row.delivery.message,
                row.delivery.message,
            )
            for key, row in sorted(self._rows.items())
            if key > after and row.delivery.tenant_id == tenant_id
        ]
        return found[:limit]

    async def rewrite(self, tenant_id: str, held: HeldDelivery, message: str) -> bool:
        row = self._rows.get(held.delivery_id)
        if (
            row is None
            or row.delivery.tenant_id != tenant_id
            or row.delivery.message != held.stored
        ):
            return False
        row.delivery = dataclasses.replace(row.delivery, message=message)
        return True

    async def forget_tenant(self, tenant_id: str) -> int:
        gone = [k for k, row in self._rows.items() if row.delivery.tenant_id == tenant_id]
        for key in gone:
            del self._rows[key]
        return len(gone)
