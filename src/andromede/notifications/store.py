"""What the notification context keeps: topics, their subscriptions (decision 0163), the
queue of events to push (written by the object store in its write transactions, claimed
and settled here), and FIFO topics' archives and their replays (decision 0175)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from andromede.notifications.archive import Archived, Replay
from andromede.notifications.model import Topic
from andromede.notifications.subscriptions import Subscription

__all__ = [
    "FIFO_DESTINATION",
    "ArchiveStore",
    "EventQueue",
    "QueuedEvent",
    "SubscriptionStore",
    "TopicStore",
]

# What only a FIFO topic's subscription ARN holds (the topic's ``.fifo`` name, then ``:`` and
# the subscription's UUID): its events are claimed in order (decision 0171).
FIFO_DESTINATION = ".fifo:"


@dataclass(frozen=True, slots=True)
class QueuedEvent:
    event_id: int
    tenant_id: str
    topic_arn: str
    message: str  # the S3 event JSON, ready to push (opened: decision 0163's addendum)
    attempts: int  # counting the claim that returned it
    # Why the stored message did not open, when it did not (``message`` is then empty):
    # ``shredded`` says it never will (its tenant's key destroyed), else a passing failure.
    unopened: str | None = None
    shredded: bool = False
    # The X-Amzn-Trace-Id of the request that queued it (Publish, the bucket's write): the
    # Lambda lineage its delivery passes on (decision 0336).
    trace: str | None = None


class TopicStore(Protocol):
    async def put_topic(self, topic: Topic, *, limit: int) -> Topic:
        """Create the topic, or replace the attributes of the tenant's topic of that name
        (RGW's CreateTopic): the topic as kept (its first ``created_at``).
        TopicLimitExceeded when a new one would make more than ``limit``."""

    async def get_topic(self, tenant_id: str, name: str) -> Topic | None: ...

    async def list_topics(self, tenant_id: str) -> list[Topic]:
        """The tenant's topics by name."""

    async def delete_topic(self, tenant_id: str, name: str) -> bool:
        """Whether there was one."""

    async def deduplicate(
        self, topic: Topic, dedup_key: str, message_id: str, now: datetime, until: datetime
    ) -> tuple[str, int, bool]:
        """A FIFO topic's publish (decision 0171): ``(message_id, sequence, True)`` for a
        deduplication key not seen since ``now`` (kept until ``until``), else the first
        message's ``(message_id, sequence, False)``. Sequences grow with each new key."""


class EventQueue(Protocol):
    async def claim(self, now: datetime, *, lease: timedelta, limit: int) -> list[QueuedEvent]:
        """Due, unleased events, oldest first, leased until ``now + lease``; each claim
        counts as an attempt. Two claimers never take the same event while its lease runs.
        An event for a FIFO topic's subscription (:data:`FIFO_DESTINATION`) is not taken
        while an earlier one of that subscription is leased or waiting for its retry, so a
        retried message is not overtaken (decision 0171)."""

    async def complete(self, event: QueuedEvent) -> None:
        """Delivered: the event is gone."""

    async def retry(
        self, event: QueuedEvent, not_before: datetime, error: str, *, spent: bool = True
    ) -> None:
        """Not delivered: claimable again from ``not_before``; ``spent=False``: the claim
        that returned it does not count as an attempt (a throttled message, decision 0168)."""

    async def drop(self, event: QueuedEvent) -> None:
        """Given up (attempts spent, or its topic gone): the event is gone."""

    async def waiting(self, tenant_id: str) -> int:
        """How many of the tenant's events wait."""

    async def add(
        self,
        tenant_id: str,
        topic_arn: str,
        message: str,
        now: datetime,
        *,
        bound: int,
        trace: str | None = None,
    ) -> bool:
        """Queue one message outside any write (S3's test event of a configuration just put),
        due at once; whether it was queued: not when the tenant already has ``bound``
        events waiting (the bound of the writes' events, decision 0132). ``trace``: the
        caller's trace header, kept with it (decision 0336)."""


class SubscriptionStore(Protocol):
    """Subscriptions (decision 0163), and the region's SNS signing key."""

    async def put_subscription(self, subscription: Subscription, *, limit: int) -> Subscription:
        """Add it, or (as SNS) the topic's subscription of that protocol and endpoint as
        held. SubscriptionLimitExceeded when the topic would hold more than ``limit``."""

    async def get_subscription(self, arn: str) -> Subscription | None: ...

    async def update_subscription(self, subscription: Subscription) -> bool:
        """Replace its attributes and token; whether it was there."""

    async def delete_subscription(self, arn: str) -> bool: ...

    async def delete_topic_subscriptions(self, topic_arn: str) -> int: ...

    async def delete_pending_before(self, cutoff: datetime, *, topic_arn: str | None) -> int:
        """Delete the subscriptions still pending confirmation made at or before ``cutoff`` (of
        ``topic_arn``, or of every topic); how many (decision 0168)."""

    async def list_subscriptions(
        self, *, topic_arn: str | None = None, owner: str | None = None, after: str, limit: int
    ) -> list[Subscription]:
        """Those of the topic, or of the subscriber ``owner``, by ARN, after ``after``."""

    async def signing_key(self) -> tuple[str, str] | None:
        """The (sealed key, certificate) kept, if any."""

    async def add_signing_key(
        self, key_id: str, sealed_key: str, certificate: str, now: datetime
    ) -> tuple[str, str]:
        """Keep this key unless one is already kept (another gateway's, made at once):
        the (sealed key, certificate) kept."""


class ArchiveStore(Protocol):
    """FIFO topics' archived messages and subscriptions' replays (decision 0175). Records
    are sealed at rest by the SQL store (its tenant's key, bound to the topic's ARN)."""

    async def archive(
        self, tenant_id: str, topic_arn: str, record: str, published_at: datetime, until: datetime
    ) -> None:
        """Keep ``record`` until ``until``."""

    async def archived(
        self,
        topic_arn: str,
        *,
        after: int,
        start: datetime,
        end: datetime | None,
        now: datetime,
        limit: int,
    ) -> list[Archived]:
        """The topic's messages not expired at ``now``, published in ``[start, end]``, after
        the archive id ``after``, in publish order."""

    async def end_archive(self, topic_arn: str, now: datetime) -> int:
        """Every message of the topic's archive expired at ``now`` (deleted by
        :meth:`expire`); how many."""

    async def expire(self, now: datetime, *, limit: int) -> int:
        """Delete up to ``limit`` messages expired at ``now``; how many."""

    async def archived_bytes(self) -> dict[str, int]:
        """Each tenant's archived bytes (for the ``sns.archive`` meter)."""

    async def put_replay(self, replay: Replay) -> None:
        """Start (or replace) the subscription's replay."""

    async def drop_replay(self, subscription_arn: str) -> None: ...

    async def replay(self, subscription_arn: str) -> Replay | None: ...

    async def due_replays(self, *, limit: int) -> list[Replay]:
        """Replays Pending or In progress, oldest subscription ARN first."""

    async def advance_replay(self, replay: Replay, cursor: int, status: str) -> bool:
        """Record how far ``replay`` went, and its status, only while it is still as read (a
        replay replaced or advanced meanwhile is left as it is); whether it was."""
