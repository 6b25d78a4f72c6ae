"""The in-memory twin of the queue store, for tests and apps built without a database. Every
operation runs without awaiting, so each is atomic on the event loop."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from andromede.queues.errors import OverLimit
from andromede.queues.model import Queue, RedrivePolicy
from andromede.queues.store import (
    QueueCounts,
    ReceivedMessage,
    Redrive,
    StoredMessage,
)

__all__ = ["MemoryQueueStore"]


@dataclass
class _Row:
    seq: int
    message: StoredMessage
    visible_at: datetime
    receive_count: int = 0
    first_received_at: datetime | None = None
    receipt: str | None = None
    dead_letter_source: str | None = None  # the queue it was dead-lettered from


class MemoryQueueStore:
    def __init__(self) -> None:
        self._queues: dict[tuple[str, str], Queue] = {}
        self._messages: dict[tuple[str, str], dict[str, _Row]] = {}
        self._seq = 0

    async def create_queue(self, queue: Queue, *, limit: int) -> Queue:
        key = (queue.tenant_id, queue.name)
        held = self._queues.get(key)
        if held is not None:
            return held
        if sum(1 for tenant, _ in self._queues if tenant == queue.tenant_id) >= limit:
            raise OverLimit(f"You can create at most {limit} queues.")
        self._queues[key] = queue
        self._messages[key] = {}
        return queue

    async def get_queue(self, tenant_id: str, name: str) -> Queue | None:
        return self._queues.get((tenant_id, name))

    async def list_queues(
        self, tenant_id: str, prefix: str, after: str | None, limit: int
    ) -> list[Queue]:
        found = sorted(
            (q for (t, n), q in self._queues.items() if t == tenant_id and n.startswith(prefix)),
            key=lambda q: q.name,
        )
        return [q for q in found if after is None or q.name > after][:limit]

    async def update_queue(self, queue: Queue) -> bool:
        key = (queue.tenant_id, queue.name)
        if key not in self._queues:
            return False
        self._queues[key] = queue
        return True

    async def delete_queue(self, tenant_id: str, name: str) -> bool:
        self._messages.pop((tenant_id, name), None)
        return self._queues.pop((tenant_id, name), None) is not None

    async def send(self, tenant_id: str, name: str, messages: Sequence[StoredMessage]) -> None:
        rows = self._messages.setdefault((tenant_id, name), {})
        for message in messages:
            self._seq += 1
            rows[message.message_id] = _Row(self._seq, message, message.visible_at)

    async def receive(
        self,
        tenant_id: str,
        name: str,
        now: datetime,
        *,
        limit: int,
        visible_until: datetime,
        receipts: Sequence[str],
        redrive: Redrive | None,
        in_flight_limit: int,
    ) -> list[ReceivedMessage]:
        rows = self._messages.get((tenant_id, name), {})
        for message_id in [i for i, row in rows.items() if row.message.expires_at <= now]:
            del rows[message_id]
        in_flight = sum(1 for r in rows.values() if r.receipt is not None and r.visible_at > now)
        if in_flight >= in_flight_limit:
            raise OverLimit("Too many messages in flight.")
        limit = min(limit, in_flight_limit - in_flight, len(receipts))
        due = sorted((r for r in rows.values() if r.visible_at <= now), key=lambda r: r.seq)
        target = None
        if redrive is not None:
            target = self._messages.get((redrive.tenant_id, redrive.queue_name))
        received: list[ReceivedMessage] = []
        for row in due:
            if len(received) >= limit:
                break
            message_id = row.message.message_id
            if (
                redrive is not None
                and target is not None
                and row.receive_count >= (redrive.max_receive_count)
            ):
                del rows[message_id]
                self._seq += 1
                target[message_id] = _Row(self._seq, row.message, now, dead_letter_source=name)
                continue
            row.receive_count += 1
            row.first_received_at = row.first_received_at or now
            row.receipt = receipts[len(received)]
            row.visible_at = visible_until
            received.append(
                ReceivedMessage(
                    message_id,
                    row.message.sealed,
                    row.message.sent_at,
                    row.receipt,
                    row.receive_count,
                    row.first_received_at,
                )
            )
        return received

    async def delete_message(
        self, tenant_id: str, name: str, message_id: str, receipt: str
    ) -> bool:
        rows = self._messages.get((tenant_id, name), {})
        row = rows.get(message_id)
        if row is None or row.receipt != receipt:
            return False
        del rows[message_id]
        return True

    async def change_visibility(
        self,
        tenant_id: str,
        name: str,
        message_id: str,
        receipt: str,
        visible_at: datetime,
        now: datetime,
    ) -> bool:
        row = self._messages.get((tenant_id, name), {}).get(message_id)
        if row is None or row.receipt != receipt or row.visible_at <= now:
            return False
        row.visible_at = visible_at
        return True

    async def purge(self, tenant_id: str, name: str) -> int:
        rows = self._messages.get((tenant_id, name), {})
        count = len(rows)
        rows.clear()
        return count

    async def counts(self, tenant_id: str, name: str, now: datetime) -> QueueCounts:
        rows = [
            r
            for r in self._messages.get((tenant_id, name), {}).values()
            if r.message.expires_at > now
        ]
        return QueueCounts(
            visible=sum(1 for r in rows if r.visible_at <= now),
            in_flight=sum(1 for r in rows if r.visible_at > now and r.receipt is not None),
            delayed=sum(1 for r in rows if r.visible_at > now and r.receipt is None),
        )

    async def dead_letter_sources(self, tenant_id: str, target_arn: str) -> list[str]:
        return sorted(
            q.name
            for (t, _), q in self._queues.items()
            if t == tenant_id
            and "RedrivePolicy" in q.attributes
            and RedrivePolicy.parse(q.attributes["RedrivePolicy"]).dead_letter_arn == target_arn
        )

    async def in_flight_since(
        self, tenant_id: str, name: str, message_id: str, receipt: str, now: datetime
    ) -> datetime | None:
        row = self._messages.get((tenant_id, name), {}).get(message_id)
        if row is None or row.receipt != receipt or row.visible_at <= now:
            return None
        return row.first_received_at

    async def move_messages(
        self,
        tenant_id: str,
        source: str,
        destination: str | None,
        limit: int,
        now: datetime,
        *,
        fallback: str | None = None,
    ) -> int:
        rows = self._messages.get((tenant_id, source), {})
        due = sorted(
            (r for r in rows.values() if r.visible_at <= now and r.message.expires_at > now),
            key=lambda r: r.seq,
        )[:limit]
        moved = 0
        for row in due:
            name = destination or row.dead_letter_source or fallback
            target = None if name is None else self._messages.get((tenant_id, name))
            if target is None:
                continue
            del rows[row.message.message_id]
            self._seq += 1
            target[row.message.message_id] = _Row(self._seq, row.message, now)
            moved += 1
        return moved
