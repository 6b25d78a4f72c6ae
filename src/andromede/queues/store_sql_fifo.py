"""FIFO queues over the metadata database (decision 0164, migration 0077): the transactions
:class:`andromede.queues.store_sql.SqlQueueStore` runs for a FIFO queue's sends and receives.

Order. A message's sequence is its row id. Sends to one FIFO queue take the queue's row
``FOR UPDATE`` first, so they commit in the order of their ids: a receiver never sees a later
message of a group committed before an earlier one (a sequence allocated but not yet
committed would let it overtake). AWS's FIFO queues take 300 sends a second (3,000 batched);
one lock per queue is well within that here.

High throughput (``FifoThroughputLimit=perMessageGroupId``, decision 0173). Order is owed
within a group only, and deduplication is per group (``DeduplicationScope=messageGroup``, which
that mode requires): a send locks the groups it sends to rather than the queue, so sends to
different groups run side by side and a group's still commit in the order of their ids. On
PostgreSQL the lock is a transaction-scoped advisory lock on a 64-bit digest of the queue and
the group (two groups sharing a digest only wait for each other); SQLite runs one write
transaction at a time, so there the mode keeps the queue-wide path, which costs nothing
more. The groups of a batch are locked in one order, so two batches never wait on each other
in a cycle. The sweep of expired deduplication keys takes only rows no other send holds
(``SKIP LOCKED``), a bounded number at a time and in one send of eight, so it does not make
sends of different groups wait for each other either; the queue's row is held in KEY SHARE
with the groups' locks, in one round trip, so a send still under the queue-wide lock (a change
of mode under way) excludes them. Measured (``bench/sqs_fifo_groups.py``, 32 groups, PostgreSQL
with durable commits): 204-456 sends/s queue-wide, 796-999 per group.

Groups. A receive looks only at each group's head (its oldest message still held) and takes
the heads it can ``FOR UPDATE SKIP LOCKED``: two gateways receiving at once on PostgreSQL
never take one group, since the second skips a head the first holds and sees no other head of
that group (the held head is still the oldest); once the first commits, the group's message
is in flight, which closes the group to every receiver. From a head it holds, a receive takes
the group's following visible messages in order. The lock is the head's row lock rather than
an advisory lock: it is portable SQL (SQLite, which runs one write transaction at a time,
ignores it), it is released by the commit that makes the messages in flight, and it needs
no mapping of group digests to the advisory lock's 64-bit keys.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from datetime import datetime
from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.types import utc_from_stored
from andromede.queues.model import FORMAT_VERSION
from andromede.queues.store import ReceivedMessage, Redrive, StoredMessage
from andromede.queues.store_sql_rows import dead_letter, hand_out, redrive_exists, room

__all__ = ["forget_fifo_state", "receive_fifo", "send_fifo", "sweep_dedup_keys"]

_Q = tables.queues
_M = tables.queue_messages
_D = tables.queue_deduplications
_A = tables.queue_receive_attempts


def _of(table: sa.Table, tenant_id: str, name: str) -> tuple[sa.ColumnElement[bool], ...]:
    return (table.c.tenant_id == tenant_id, table.c.queue_name == name)


def forget_fifo_state(conn: Connection, tenant_id: str, name: str) -> None:
    """A deleted queue's deduplication keys and receive attempts (a queue made again under
    its name starts afresh)."""
    conn.execute(_D.delete().where(*_of(_D, tenant_id, name)))
    conn.execute(_A.delete().where(*_of(_A, tenant_id, name)))


# Expired deduplication keys a high-throughput send sweeps at most, one send in eight (a
# send adds ten keys at most): the sweep keeps ahead of the keys added, and most sends pay no
# round trip for it.
_SWEEP: Final = 100
_SWEEP_ONE_IN: Final = 8


def _group_lock(tenant_id: str, name: str, group: str) -> int:
    """A signed 64-bit key for PostgreSQL's advisory lock of one group of one queue."""
    digest = hashlib.sha256(f"{tenant_id}\x00{name}\x00{group}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _lock_groups(conn: Connection, tenant_id: str, name: str, groups: set[str]) -> None:
    """The queue's row in KEY SHARE and the groups' advisory locks, in one round trip: sends
    to other groups do not wait, a send holding the queue-wide lock (from before a change of
    FifoThroughputLimit) excludes them all, so a group's order holds across a change of
    mode. The keys are taken in one order (left to right, sorted): no cycle between two
    batches."""
    keys = sorted(_group_lock(tenant_id, name, group) for group in groups)
    conn.execute(
        sa.select(_Q.c.name, *(sa.func.pg_advisory_xact_lock(key) for key in keys))
        .where(_Q.c.tenant_id == tenant_id, _Q.c.name == name)
        .with_for_update(read=True, key_share=True, of=_Q)
    ).first()


def sweep_dedup_keys(conn: Connection, tenant_id: str, name: str, now: datetime) -> None:
    """Up to ``_SWEEP`` of the queue's deduplication keys past their interval, those no other
    transaction holds (``SKIP LOCKED``: a sweep never makes a send wait)."""
    expired = conn.scalars(
        sa.select(_D.c.dedup_key)
        .where(*_of(_D, tenant_id, name), _D.c.expires_at <= now)
        .limit(_SWEEP)
        .with_for_update(skip_locked=True)
    ).all()
    if expired:
        conn.execute(_D.delete().where(*_of(_D, tenant_id, name), _D.c.dedup_key.in_(expired)))


def send_fifo(
    conn: Connection,
    tenant_id: str,
    name: str,
    messages: Sequence[StoredMessage],
    now: datetime,
    dedup_until: datetime,
    *,
    per_group: bool = False,
) -> list[tuple[str, int]]:
    # SQLite runs one write transaction at a time: there the queue-wide path costs nothing more.
    per_group = per_group and conn.dialect.name == "postgresql"
    if per_group:
        _lock_groups(conn, tenant_id, name, {m.group_key or "" for m in messages})
        if os.urandom(1)[0] < 256 // _SWEEP_ONE_IN:
            sweep_dedup_keys(conn, tenant_id, name, now)
    else:
        conn.execute(
            sa.select(_Q.c.name)
            .where(_Q.c.tenant_id == tenant_id, _Q.c.name == name)
            .with_for_update()
        ).first()
        conn.execute(_D.delete().where(*_of(_D, tenant_id, name), _D.c.expires_at <= now))
    answers: list[tuple[str, int]] = []
    for message in messages:
        key = message.dedup_key or ""
        held = conn.execute(
            sa.select(_D.c.message_id, _D.c.sequence, _D.c.expires_at).where(
                *_of(_D, tenant_id, name), _D.c.dedup_key == key
            )
        ).first()
        if held is not None and utc_from_stored(held[2]) > now:
            answers.append((str(held[0]), int(held[1])))
            continue
        if held is not None:
            # The key past its five minutes, which no sweep reached yet: new again.
            conn.execute(_D.delete().where(*_of(_D, tenant_id, name), _D.c.dedup_key == key))
        inserted = conn.execute(
            _M.insert().values(
                message_id=message.message_id,
                tenant_id=tenant_id,
                queue_name=name,
                sealed=message.sealed,
                format_version=FORMAT_VERSION,
                sent_at=message.sent_at,
                visible_at=message.visible_at,
                expires_at=message.expires_at,
                receive_count=0,
                first_received_at=None,
                receipt=None,
                group_key=message.group_key,
            )
        )
        primary_key = inserted.inserted_primary_key
        if primary_key is None:  # never for an INSERT of one row; kept for the type checker
            raise RuntimeError("the message's INSERT returned no id")
        sequence = int(primary_key[0])
        conn.execute(
            _D.insert().values(
                tenant_id=tenant_id,
                queue_name=name,
                dedup_key=key,
                message_id=message.message_id,
                sequence=sequence,
                expires_at=dedup_until,
            )
        )
        answers.append((message.message_id, sequence))
    return answers


def _received(row: sa.Row[tuple[object, ...]]) -> ReceivedMessage:
    m = row._mapping
    return ReceivedMessage(
        m["message_id"],
        bytes(m["sealed"]),
        utc_from_stored(m["sent_at"]),
        m["receipt"],
        int(m["receive_count"]),
        utc_from_stored(m["first_received_at"]),
        int(m["id"]),
    )


def _retried(
    conn: Connection,
    tenant_id: str,
    name: str,
    attempt: str,
    now: datetime,
    visible_until: datetime,
) -> list[ReceivedMessage]:
    """The messages an earlier receive of ``attempt`` gave that are still in flight under
    its receipts, hidden again until ``visible_until``."""
    document = conn.scalar(
        sa.select(_A.c.document).where(*_of(_A, tenant_id, name), _A.c.attempt_key == attempt)
    )
    if document is None:
        return []
    again: list[ReceivedMessage] = []
    for message_id, receipt in json.loads(document):
        changed = conn.execute(
            _M.update()
            .where(
                *_of(_M, tenant_id, name),
                _M.c.message_id == message_id,
                _M.c.receipt == receipt,
            )
            .values(visible_at=visible_until)
        ).rowcount
        if changed:
            row = conn.execute(sa.select(_M).where(_M.c.message_id == message_id)).one()
            again.append(_received(row))
    return again


def receive_fifo(
    conn: Connection,
    tenant_id: str,
    name: str,
    now: datetime,
    *,
    limit: int,
    visible_until: datetime,
    receipts: Sequence[str],
    redrive: Redrive | None,
    in_flight_limit: int,
    attempt: str | None,
    attempt_until: datetime | None,
) -> list[ReceivedMessage]:
    # Every receive sweeps the queue's attempts past their five minutes, so they never pile up.
    conn.execute(_A.delete().where(*_of(_A, tenant_id, name), _A.c.expires_at <= now))
    if attempt is not None:
        again = _retried(conn, tenant_id, name, attempt, now, visible_until)
        if again:
            return again
    mine = _of(_M, tenant_id, name)
    take = room(conn, mine, now, limit, in_flight_limit, len(receipts))
    other = _M.alias("other")
    oldest = (
        sa.select(sa.func.min(other.c.id))
        .where(
            other.c.tenant_id == tenant_id,
            other.c.queue_name == name,
            other.c.group_key == _M.c.group_key,
        )
        .scalar_subquery()
    )
    busy = sa.select(other.c.group_key).where(
        other.c.tenant_id == tenant_id,
        other.c.queue_name == name,
        other.c.receipt.is_not(None),
        other.c.visible_at > now,
    )
    heads = conn.execute(
        sa.select(_M.c.id, _M.c.group_key)
        .where(
            *mine,
            _M.c.visible_at <= now,
            _M.c.id == oldest,
            _M.c.group_key.not_in(busy),
        )
        .order_by(_M.c.id)
        .limit(take)
        .with_for_update(skip_locked=True, of=_M)
    ).all()
    target_exists = redrive_exists(conn, redrive)
    received: list[ReceivedMessage] = []
    for head_id, group in heads:
        if len(received) >= take:
            break
        run = conn.execute(
            sa.select(_M)
            .where(*mine, _M.c.group_key == group, _M.c.id >= head_id)
            .order_by(_M.c.id)
            .limit(take - len(received))
            .with_for_update()
        ).all()
        for row in run:
            m = row._mapping
            if utc_from_stored(m["visible_at"]) > now:
                break  # the group's next message is not visible: the rest wait behind it
            if (
                redrive is not None
                and target_exists
                and int(m["receive_count"]) >= redrive.max_receive_count
            ):
                # To the dead-letter queue with its group; the group waits for the next
                # receive.
                dead_letter(conn, m, redrive, name, now)  # for a move task back (0165)
                break
            received.append(
                hand_out(conn, m, receipts[len(received)], now, visible_until, with_sequence=True)
            )
    if attempt is not None and attempt_until is not None and received:
        conn.execute(_A.delete().where(*_of(_A, tenant_id, name), _A.c.attempt_key == attempt))
        conn.execute(
            _A.insert().values(
                tenant_id=tenant_id,
                queue_name=name,
                attempt_key=attempt,
                document=json.dumps([[m.message_id, m.receipt] for m in received]),
                expires_at=attempt_until,
            )
        )
    return received
