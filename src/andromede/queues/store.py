"""What the queue context keeps: queues, and their messages (sealed by the service before
they reach a store, so a store only ever holds ciphertext)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from andromede.queues.model import Queue

__all__ = [
    "QueueCounts",
    "QueueObserver",
    "QueueStore",
    "ReceivedMessage",
    "Redrive",
    "StoredMessage",
]


class QueueObserver(Protocol):
    """What the service tells of the calls' outcomes that no store sees (decision 0181: the
    platform's AWS/SQS metrics): synchronous, cheap, never failing the call."""

    def empty_receive(self, tenant_id: str, name: str) -> None:
        """A ReceiveMessage that answered no message, its wait included."""

    def sent_sizes(self, tenant_id: str, name: str, sizes: Sequence[int]) -> None:
        """The sizes (body and attributes) of messages just stored by a send."""


@dataclass(frozen=True, slots=True)
class StoredMessage:
    message_id: str
    sealed: bytes
    sent_at: datetime
    visible_at: datetime  # later than sent_at for a delayed message
    expires_at: datetime  # sent_at + the queue's MessageRetentionPeriod
    # A FIFO queue's message (decision 0164): digests of its group and deduplication ids.
    group_key: str | None = None
    dedup_key: str | None = None


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    message_id: str
    sealed: bytes
    sent_at: datetime
    receipt: str  # this receive's token: only it deletes the message
    receive_count: int  # counting this receive
    first_received_at: datetime
    sequence: int = 0  # the store's order of sends; a FIFO queue's SequenceNumber


@dataclass(frozen=True, slots=True)
class QueueCounts:
    visible: int
    in_flight: int
    delayed: int
    # When the oldest message not deleted nor expired was sent (decision 0181: the queue's
    # ApproximateAgeOfOldestMessage); None: the queue is empty.
    oldest: datetime | None = None


@dataclass(frozen=True, slots=True)
class Redrive:
    """Where a message goes instead of being received once more after ``max_receive_count``
    receives (the queue's RedrivePolicy, its target resolved to a queue that exists)."""

    tenant_id: str
    queue_name: str
    max_receive_count: int


class QueueStore(Protocol):
    async def create_queue(self, queue: Queue, *, limit: int) -> Queue:
        """The new queue, or the tenant's queue of that name as it is (the caller compares).
        OverLimit when a new one would make more than ``limit``."""

    async def get_queue(self, tenant_id: str, name: str) -> Queue | None: ...

    async def list_queues(
        self, tenant_id: str, prefix: str, after: str | None, limit: int
    ) -> list[Queue]:
        """The tenant's queues whose name starts with ``prefix``, after ``after``, by name."""

    async def update_queue(self, queue: Queue) -> bool:
        """Replace attributes, tags and modified time; whether the queue was there."""

    async def delete_queue(self, tenant_id: str, name: str) -> bool:
        """The queue and its messages; whether it was there."""

    async def send(self, tenant_id: str, name: str, messages: Sequence[StoredMessage]) -> None:
        """Add messages to the queue (which the caller found)."""

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
        """Up to ``limit`` visible, unexpired messages, oldest first, each hidden until
        ``visible_until`` under the next of ``receipts`` (one per message at most). A message
        received ``redrive.max_receive_count`` times already moves to the redrive queue
        instead. Expired messages are removed. OverLimit when ``in_flight_limit`` messages
        are in flight already. Two receivers never get one message within its visibility."""

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
        """Add a FIFO queue's messages in order, each with its ``group_key`` and
        ``dedup_key``; for each, its (message id, sequence). A message whose ``dedup_key``
        was sent to the queue before and not past ``now`` is not added: its answer is the
        first message's id and sequence. A new key is remembered until ``dedup_until``.
        Sequences grow with the order of sends on a queue (sends to one queue are
        serialised) or, ``per_group`` (the high-throughput mode, decision 0173), with the
        order of sends to each group: only sends to one group are serialised."""

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
        """As :meth:`receive` for a FIFO queue: the messages of a group in their order,
        none of a group while one of its messages is in flight, and never one group to two
        receivers at once. ``attempt`` (a digest of a ReceiveRequestAttemptId) given to an
        earlier receive whose ``attempt_until`` is not past ``now``: that receive's messages
        still in flight under its receipts, hidden again until ``visible_until`` (a new
        receive otherwise, its attempt remembered until ``attempt_until``)."""

    async def delete_message(
        self, tenant_id: str, name: str, message_id: str, receipt: str
    ) -> bool:
        """Delete the message if ``receipt`` is its latest receive's; whether it was."""

    async def change_visibility(
        self,
        tenant_id: str,
        name: str,
        message_id: str,
        receipt: str,
        visible_at: datetime,
        now: datetime,
    ) -> bool:
        """Set when the message becomes visible again, if it is in flight under ``receipt``
        (its latest receive); whether it was."""

    async def purge(self, tenant_id: str, name: str) -> int:
        """Delete every message of the queue; how many."""

    async def counts(self, tenant_id: str, name: str, now: datetime) -> QueueCounts: ...

    async def dead_letter_sources(self, tenant_id: str, target_arn: str) -> list[str]:
        """Names of the tenant's queues whose RedrivePolicy names ``target_arn``."""

    async def in_flight_since(
        self, tenant_id: str, name: str, message_id: str, receipt: str, now: datetime
    ) -> datetime | None:
        """When the message was first received, if it is in flight under ``receipt`` (its
        latest receive); None otherwise (decision 0165: the 12 hours' cap of visibility)."""

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
        """Move up to ``limit`` visible, unexpired messages of queue ``source``, oldest first,
        to queue ``destination`` of the same account — or, ``destination`` None, each to the
        queue it was dead-lettered from (``fallback`` for one that has none recorded) —,
        visible there at once and as never received (a message move task's step, decision
        0165); how many. A message whose queue does not exist stays."""
