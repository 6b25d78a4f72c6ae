"""What a receive does to the rows of one queue, on the SQL stores' standard and FIFO paths
alike (decisions 0158, 0164, 0165): how many it may hand out, expired messages gone first;
hand one out under a new receipt until ``visible_until``, or move it to its dead-letter queue
(if that exists), recording the queue it came from for a message move task back."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from andromede.db import tables
from andromede.db.doorbells import SQS_MESSAGES, queued
from andromede.db.types import utc_from_stored
from andromede.queues.errors import OverLimit
from andromede.queues.store import ReceivedMessage, Redrive

__all__ = ["dead_letter", "hand_out", "redrive_exists", "room"]

_M = tables.queue_messages
_Q = tables.queues


def redrive_exists(conn: Connection, redrive: Redrive | None) -> bool:
    """Whether there is a ``redrive`` and its queue exists (a message is dead-lettered only
    into a queue that does)."""
    if redrive is None:
        return False
    found = conn.execute(
        sa.select(_Q.c.name).where(
            _Q.c.tenant_id == redrive.tenant_id, _Q.c.name == redrive.queue_name
        )
    ).first()
    return found is not None


def dead_letter(
    conn: Connection, row: RowMapping, redrive: Redrive, source: str, now: datetime
) -> None:
    """Move the message to ``redrive``'s queue, visible at once, its receives counted anew."""
    conn.execute(
        _M.update()
        .where(_M.c.id == row["id"])
        .values(
            tenant_id=redrive.tenant_id,
            queue_name=redrive.queue_name,
            visible_at=now,
            receive_count=0,
            first_received_at=None,
            receipt=None,
            dead_letter_source=source,
        )
    )
    queued(conn, SQS_MESSAGES)  # visible at once in the dead-letter queue (decision 0331)


def hand_out(
    conn: Connection,
    row: RowMapping,
    receipt: str,
    now: datetime,
    visible_until: datetime,
    *,
    with_sequence: bool = False,
) -> ReceivedMessage:
    """Hide the message until ``visible_until`` under ``receipt`` and count this receive;
    ``with_sequence``: answer the row's id as its sequence (a FIFO queue's SequenceNumber)."""
    first = row["first_received_at"]
    first_received = now if first is None else utc_from_stored(first)
    count = int(row["receive_count"]) + 1
    conn.execute(
        _M.update()
        .where(_M.c.id == row["id"])
        .values(
            visible_at=visible_until,
            receive_count=count,
            first_received_at=first_received,
            receipt=receipt,
        )
    )
    return ReceivedMessage(
        row["message_id"],
        bytes(row["sealed"]),
        utc_from_stored(row["sent_at"]),
        receipt,
        count,
        first_received,
        int(row["id"]) if with_sequence else 0,
    )


def room(
    conn: Connection,
    mine: tuple[sa.ColumnElement[bool], ...],
    now: datetime,
    limit: int,
    in_flight_limit: int,
    receipts: int,
) -> int:
    """Delete the queue's (``mine``) expired messages, then how many a receive may take: at
    most ``limit`` and ``receipts``, and what the queue's in-flight ceiling leaves
    (OverLimit once it is reached, as SQS)."""
    conn.execute(_M.delete().where(*mine, _M.c.expires_at <= now))
    in_flight = int(
        conn.scalar(
            sa.select(sa.func.count())
            .select_from(_M)
            .where(*mine, _M.c.visible_at > now, _M.c.receipt.is_not(None))
        )
        or 0
    )
    if in_flight >= in_flight_limit:
        raise OverLimit("Too many messages in flight.")
    return min(limit, in_flight_limit - in_flight, receipts)
