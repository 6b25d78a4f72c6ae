"""The work queues a write transaction added to, and their doorbells, rung once it committed
(decision 0206).

A writer that queues work for a background loop (a replication task, an event notification,
a message move task, an EventBridge delivery or replay, an SNS replay) marks its transaction
with :func:`queued`; the database rings that queue's :class:`~andromede.wakeup.Doorbell` after
the commit, never before (the loop's claim must find the row), and forgets the mark when the
transaction rolls back. The bells are this process's: a queue filled by another gateway on a
shared PostgreSQL is found by the loop's polling, within ``background_idle_poll_max``.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection

from andromede.wakeup import Doorbell

__all__ = [
    "EVENT_DELIVERIES",
    "EVENT_REPLAYS",
    "MESSAGE_MOVES",
    "NOTIFICATIONS",
    "REPLICATION",
    "SNS_REPLAYS",
    "Doorbells",
    "queued",
    "taken",
]

# The queues, by the loop that works them.
REPLICATION = "replication"  # storage.replicator
NOTIFICATIONS = "notifications"  # notifications.delivery (S3 events, SNS messages)
SNS_REPLAYS = "sns-replays"  # notifications.replay
MESSAGE_MOVES = "message-moves"  # queues.mover
EVENT_DELIVERIES = "event-deliveries"  # events.dispatcher
EVENT_REPLAYS = "event-replays"  # events.replays

# The mark, in the connection's info (which outlives one transaction: popped at its end).
_QUEUED = "andromede_queued"


def queued(conn: Connection, queue: str) -> None:
    """In a write transaction: work was added to ``queue``, whose bell rings after the commit."""
    marks: set[str] = conn.info.setdefault(_QUEUED, set())
    marks.add(queue)


class Doorbells:
    """The doorbells of one database's queues in this process, one per queue name."""

    def __init__(self) -> None:
        self._bells: dict[str, Doorbell] = {}

    def of(self, queue: str) -> Doorbell:
        """``queue``'s bell, made on first use (by the loop or by a commit, either first)."""
        bell = self._bells.get(queue)
        if bell is None:
            # setdefault, one step under the GIL: SQLite's writer thread may make it meanwhile.
            bell = self._bells.setdefault(queue, Doorbell())
        return bell

    def committed(self, conn: Connection) -> None:
        """The transaction on ``conn`` committed: ring the queues it added to."""
        self.ring(taken(conn))

    def rolled_back(self, conn: Connection) -> None:
        """The transaction on ``conn`` did not commit: nothing of it is there to claim."""
        taken(conn)

    def ring(self, queues: Iterable[str]) -> None:
        for queue in queues:
            self.of(queue).ring()


def taken(conn: Connection) -> set[str]:
    """The queues marked on ``conn`` since the last call, the marks removed."""
    marks: set[str] = conn.info.pop(_QUEUED, set())
    return marks
