"""The work queues a write transaction added to, and their doorbells, rung once it committed
(decision 0206).

A writer that queues work for a background loop (a replication task, an event notification,
a message move task, an EventBridge delivery or replay, an SNS replay) marks its transaction
with :func:`queued`; the database rings that queue's :class:`~andromede.wakeup.Doorbell` after
the commit, never before (the loop's claim must find the row), and forgets the mark when the
transaction rolls back. The bells are this process's; on a shared PostgreSQL, another gateway's
commits ring them too, through ``db.postgres_doorbells``'s notifications (which start listening
when a loop first waits: :meth:`Doorbells.when_waited`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlalchemy import Connection

from andromede.wakeup import Doorbell

__all__ = [
    "DYNAMODB_KINESIS",
    "EVENT_DELIVERIES",
    "EVENT_REPLAYS",
    "LAMBDA_EVENTS",
    "LOGS_SUBSCRIPTIONS",
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
# Decision 0326.
LAMBDA_EVENTS = "lambda-events"  # functions.event_queue (Invoke with Event)
DYNAMODB_KINESIS = "dynamodb-kinesis"  # dynamodb.kinesis_destination_service
LOGS_SUBSCRIPTIONS = "logs-subscriptions"  # logs.subscription_service

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
        self._on_wait: Callable[[], None] | None = None

    def when_waited(self, hook: Callable[[], None]) -> None:
        """Call ``hook`` (on the waiter's event loop) whenever a loop waits on one of these
        bells: PostgreSQL's listener starts there, in processes that run loops only."""
        self._on_wait = hook

    def of(self, queue: str) -> Doorbell:
        """``queue``'s bell, made on first use (by the loop or by a commit, either first)."""
        bell = self._bells.get(queue)
        if bell is None:
            # setdefault, one step under the GIL: SQLite's writer thread may make it meanwhile.
            bell = self._bells.setdefault(queue, Doorbell(on_wait=self._waited))
        return bell

    def names(self) -> list[str]:
        """The queues whose bells were made so far."""
        return list(self._bells)

    def committed(self, conn: Connection) -> None:
        """The transaction on ``conn`` committed: ring the queues it added to."""
        self.ring(taken(conn))

    def rolled_back(self, conn: Connection) -> None:
        """The transaction on ``conn`` did not commit: nothing of it is there to claim."""
        taken(conn)

    def ring(self, queues: Iterable[str]) -> None:
        for queue in queues:
            self.of(queue).ring()

    def ring_known(self, queue: str) -> None:
        """Ring ``queue``'s bell if this process made one (a notification names any queue:
        none is made for a loop this process does not run)."""
        bell = self._bells.get(queue)
        if bell is not None:
            bell.ring()

    def _waited(self) -> None:
        if self._on_wait is not None:
            self._on_wait()


def taken(conn: Connection) -> set[str]:
    """The queues marked on ``conn`` since the last call, the marks removed."""
    marks: set[str] = conn.info.pop(_QUEUED, set())
    return marks
