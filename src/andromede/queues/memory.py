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


def _received(row: _Row, *, with_sequence: bool = True) -> ReceivedMessage:
    """The message as received; ``with_sequence``: its order of sends as its sequence (a
    FIFO queue's SequenceNumber), 0 otherwise, as the SQL stores answer."""
    return ReceivedMessage(
        row.message.message_id,
        row.message.sealed,
        row.message.sent_at,
        row.receipt or "",
        row.receive_count,
        row.first_received_at or row.message.sent_at,
        row.seq if with_sequence else 0,
    )


def _room(
    rows: dict[str, _Row], now: datetime, limit: int, in_flight_limit: int, receipts: int
) -> int:
    """Delete the queue's expired messages (``rows``), then how many a receive may take: at
    most ``limit`` and ``receipts``, and what the queue's in-flight ceiling leaves
    (OverLimit once it is reached, as SQS) — ``store_sql_rows.room``'s twin."""
    for message_id in [i for i, row in rows.items() if row.message.expires_at <= now]:
        del rows[message_id]
    in_flight = sum(1 for r in rows.values() if r.receipt is not None and r.visible_at > now)
    if in_flight >= in_flight_limit:
        raise OverLimit("Too many messages in flight.")
    return min(limit, in_flight_limit - in_flight, receipts)


def _hand_out(
    row: _Row, receipt: str, now: datetime, visible_until: datetime, *, with_sequence: bool
) -> ReceivedMessage:
    """Hide the message until ``visible_until`` under ``receipt`` and count this receive —
    ``store_sql_rows.hand_out``'s twin."""
    row.receive_count += 1
    row.first_received_at = row.first_received_at or now
    row.receipt = receipt
    row.visible_at = visible_until
    return _received(row, with_sequence=with_sequence)


class MemoryQueueStore:
    def __init__(self) -> None:
        self._queues: dict[tuple[str, str], Queue] = {}
        self._messages: dict[tuple[str, str], dict[str, _Row]] = {}
        self._seq = 0
        # FIFO queues (decision 0164): deduplication keys and receive attempts, each with the
        # time it is forgotten.
        self._dedup: dict[tuple[str, str, str], tuple[str, int, datetime]] = {}
        self._attempts: dict[tuple[str, str, str], tuple[list[tuple[str, str]], datetime]] = {}

    async def create_queue(self, queue: Queue, *, limit: int) -> Queue:
        key = (queue.tenant_id, queue.name)
        held = self._queues.get(key)
        if held is not None:
            return held
        held_here = sum(
            1
            for (tenant, _), q in self._queues.items()
            if tenant == queue.tenant_id and q.region == queue.region
        )
        if held_here >= limit:  # a Region's queues (decision 0414)
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
        for table in (self._dedup, self._attempts):
            for key in [k for k in table if k[:2] == (tenant_id, name)]:
                del table[key]
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
        limit = _room(rows, now, limit, in_flight_limit, len(receipts))
        due = sorted((r for r in rows.values() if r.visible_at <= now), key=lambda r: r.seq)
        target = self._redrive_target(redrive)
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
            receipt = receipts[len(received)]
            received.append(_hand_out(row, receipt, now, visible_until, with_sequence=False))
        return received

    def _redrive_target(self, redrive: Redrive | None) -> dict[str, _Row] | None:
        """The messages of the queue ``redrive`` names, if it exists."""
        if redrive is None:
            return None
        return self._messages.get((redrive.tenant_id, redrive.queue_name))

    async def send_fifo(
        self,
        tenant_id: str,
        name: str,
        messages: Sequence[StoredMessage],
        now: datetime,
        dedup_until: datetime,
        *,
        per_group: bool = False,
    ) -> list[tuple[str, int]]:
        rows = self._messages.setdefault((tenant_id, name), {})
        for key in [
            k for k, v in self._dedup.items() if k[:2] == (tenant_id, name) and v[2] <= now
        ]:
            del self._dedup[key]
        answers: list[tuple[str, int]] = []
        for message in messages:
            key = (tenant_id, name, message.dedup_key or "")
            held = self._dedup.get(key)
            if held is not None:
                answers.append((held[0], held[1]))
                continue
            self._seq += 1
            rows[message.message_id] = _Row(self._seq, message, message.visible_at)
            self._dedup[key] = (message.message_id, self._seq, dedup_until)
            answers.append((message.message_id, self._seq))
        return answers

    async def receive_fifo(
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
        attempt: str | None = None,
        attempt_until: datetime | None = None,
    ) -> list[ReceivedMessage]:
        rows = self._messages.get((tenant_id, name), {})
        for key in [
            k for k, v in self._attempts.items() if k[:2] == (tenant_id, name) and v[1] <= now
        ]:
            del self._attempts[key]
        if attempt is not None:
            held = self._attempts.get((tenant_id, name, attempt))
            if held is not None and held[1] > now:
                again = [
                    rows[i] for i, receipt in held[0] if i in rows and rows[i].receipt == receipt
                ]
                for row in again:
                    row.visible_at = visible_until
                if again:
                    return [_received(row) for row in again]
        limit = _room(rows, now, limit, in_flight_limit, len(receipts))
        # Each group in the order of its oldest message; from a group with no message in
        # flight, its visible messages in order up to the first one that is not, as many as
        # the limit allows (SQS returns as many of one group as it can).
        groups: dict[str | None, list[_Row]] = {}
        for row in sorted(rows.values(), key=lambda r: r.seq):
            groups.setdefault(row.message.group_key, []).append(row)
        target = self._redrive_target(redrive)
        received: list[ReceivedMessage] = []
        for members in groups.values():
            if any(r.receipt is not None and r.visible_at > now for r in members):
                continue
            for row in members:
                if len(received) >= limit or row.visible_at > now:
                    break
                if (
                    redrive is not None
                    and target is not None
                    and row.receive_count >= redrive.max_receive_count
                ):
                    # To the dead-letter queue with its group; the group waits for the next
                    # receive, as the SQL stores do.
                    del rows[row.message.message_id]
                    target[row.message.message_id] = _Row(
                        row.seq, row.message, now, dead_letter_source=name
                    )
                    break
                receipt = receipts[len(received)]
                received.append(_hand_out(row, receipt, now, visible_until, with_sequence=True))
        if attempt is not None and attempt_until is not None and received:
            self._attempts[(tenant_id, name, attempt)] = (
                [(m.message_id, m.receipt) for m in received],
                attempt_until,
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
            oldest=min((r.message.sent_at for r in rows), default=None),
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
