"""The work queues a write transaction added to, and their doorbells, rung once it committed
(decision 0206).

A writer that queues work for a background loop (a replication task, an event notification,
a message move task, an EventBridge delivery or replay, an SNS replay) marks its transaction
with :func:`queued`; the database rings that queue's :class:`~andromede.wakeup.Doorbell` after
the commit, never before (the loop's claim must find the row), and forgets the mark when the
transaction rolls back. The bells are this process's; on a shared PostgreSQL, another gateway's
commits ring them too, through ``db.postgres_doorbells``'s notifications (which start listening
when a loop first waits: :meth:`Doorbells.when_waited`).

**Stamps** (decision 0331). On one SQLite file, the processes sharing it (the workers of one
``serve``) have no such channel: a commit marking a queue some loop asked :meth:`changes` of
also sets the modification time of a file of that name in a folder next to the database (one
``utime``), and the loop looks at those files between its passes (a ``stat`` each, no SQL) —
Pipes and Lambda's mappings, which must see another worker's SQS send within their interval.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from sqlalchemy import Connection

from andromede.wakeup import Doorbell

__all__ = [
    "DYNAMODB_KINESIS",
    "DYNAMODB_STREAMS",
    "EVENT_DELIVERIES",
    "EVENT_REPLAYS",
    "KINESIS_RECORDS",
    "LAMBDA_EVENTS",
    "LOGS_SUBSCRIPTIONS",
    "MESSAGE_MOVES",
    "NOTIFICATIONS",
    "REPLICATION",
    "SNS_REPLAYS",
    "SOURCES",
    "SQS_MESSAGES",
    "STEP_FUNCTIONS",
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
# Decision 0331: the sources Pipes and Lambda's event source mappings read (their loops follow
# these bells, ``Doorbell.forward_to``), and Step Functions' executions made due.
SQS_MESSAGES = "sqs-messages"  # a message sent, moved, dead-lettered or made visible at once
KINESIS_RECORDS = "kinesis-records"  # records put into a Kinesis data stream
DYNAMODB_STREAMS = "dynamodb-streams"  # a change appended to a table's stream
STEP_FUNCTIONS = "step-functions"  # stepfunctions.runner (an execution started or answered)
SOURCES = (SQS_MESSAGES, KINESIS_RECORDS, DYNAMODB_STREAMS)

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
        self._stamps: Path | None = None  # SQLite's folder of stamps (decision 0331)
        self._stamped: frozenset[str] = frozenset()
        self._stamping = threading.Lock()

    def stamp_in(self, folder: Path) -> None:
        """Stamp the commits of the queues some loop asked :meth:`changes` of in ``folder``:
        the processes sharing one SQLite file see each other's."""
        self._stamps = folder

    def changes(self, queues: Iterable[str]) -> Callable[[], bool] | None:
        """Whether any of ``queues`` was committed to, by any process stamping in the same
        folder, since the last call (a ``stat`` a queue): a :class:`~andromede.wakeup.Pacer`'s
        probe. None when nothing stamps (PostgreSQL's notifications ring instead)."""
        folder = self._stamps
        if folder is None:
            return None
        names = sorted(set(queues))
        with self._stamping:
            self._stamped = self._stamped | set(names)
        paths = [folder / name for name in names]
        seen: list[list[int | None]] = [[_stamp_of(path) for path in paths]]

        def changed() -> bool:
            now = [_stamp_of(path) for path in paths]
            before, seen[0] = seen[0], now
            return now != before

        return changed

    def follower(self, queues: Iterable[str]) -> tuple[Doorbell, Callable[[], bool] | None]:
        """A loop's own bell that every ring of ``queues``' bells rings soon (a loop reading
        those sources: Pipes, Lambda's mappings), and the probe of their stamps
        (:meth:`changes`)."""
        bell = self.bell()
        names = sorted(set(queues))
        for name in names:
            self.of(name).forward_to(bell)
        return bell, self.changes(names)

    def bell(self) -> Doorbell:
        """A loop's own bell, unnamed (rung by what it follows, ``Doorbell.forward_to``); its
        waits start PostgreSQL's listener as a named bell's do."""
        return Doorbell(on_wait=self._waited)

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
        """The transaction on ``conn`` committed: ring the queues it added to (and stamp those
        stamped)."""
        queues = taken(conn)
        self.ring(queues)
        folder = self._stamps
        if folder is not None and queues & self._stamped:
            _stamp(folder, sorted(queues & self._stamped))

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


def _stamp_of(path: Path) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def _stamp(folder: Path, queues: Iterable[str]) -> None:
    """Set the stamps' modification times to now (made at first use); a folder that cannot be
    written only costs the other processes their wait, up to the ceiling."""
    moment = time.time_ns()
    for queue in queues:
        path = folder / queue
        try:
            os.utime(path, ns=(moment, moment))
        except FileNotFoundError:
            with contextlib.suppress(OSError):
                folder.mkdir(parents=True, exist_ok=True)
                path.touch()
        except OSError:
            continue
