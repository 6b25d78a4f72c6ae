"""What the notification context keeps: topics, and the queue of events to push (written by
the object store in its write transactions, claimed and settled here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from andromede.notifications.model import Topic

__all__ = ["EventQueue", "QueuedEvent", "TopicStore"]


@dataclass(frozen=True, slots=True)
class QueuedEvent:
    event_id: int
    tenant_id: str
    topic_arn: str
    message: str  # the S3 event JSON, ready to push
    attempts: int  # counting the claim that returned it


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


class EventQueue(Protocol):
    async def claim(self, now: datetime, *, lease: timedelta, limit: int) -> list[QueuedEvent]:
        """Due, unleased events, oldest first, leased until ``now + lease``; each claim
        counts as an attempt. Two claimers never take the same event while its lease runs."""

    async def complete(self, event: QueuedEvent) -> None:
        """Delivered: the event is gone."""

    async def retry(self, event: QueuedEvent, not_before: datetime, error: str) -> None:
        """Not delivered: claimable again from ``not_before``."""

    async def drop(self, event: QueuedEvent) -> None:
        """Given up (attempts spent, or its topic gone): the event is gone."""

    async def waiting(self, tenant_id: str) -> int:
        """How many of the tenant's events wait."""

    async def add(
        self, tenant_id: str, topic_arn: str, message: str, now: datetime, *, bound: int
    ) -> bool:
        """Queue one message outside any write (S3's test event of a configuration just put),
        due at once; whether it was queued: not when the tenant already has ``bound``
        events waiting (the bound of the writes' events, decision 0132)."""
