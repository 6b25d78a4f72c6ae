"""What a receive does to one message row, on the SQL stores' standard and FIFO paths alike
(decisions 0158, 0164, 0165): hand it out under a new receipt until ``visible_until``, or move
it to its dead-letter queue, recording the queue it came from for a message move task back."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Connection, RowMapping

from andromede.db import tables
from andromede.db.types import utc_from_stored
from andromede.queues.store import ReceivedMessage, Redrive

__all__ = ["dead_letter", "hand_out"]

_M = tables.queue_messages


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
