"""The in-memory twins of the topic store and the event queue, for tests and the in-process
app. The queue takes the events the memory metadata store appends to its outbox (decision
0132): ``(tenant, topic ARN, message, trace header)``, in the step that commits each write."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from andromede.notifications.errors import TopicLimitExceeded
from andromede.notifications.model import Topic
from andromede.notifications.store import FIFO_DESTINATION, QueuedEvent

__all__ = ["MemoryEventQueue", "MemoryTopicStore"]


class MemoryTopicStore:
    def __init__(self) -> None:
        self._topics: dict[tuple[str, str], Topic] = {}
        # FIFO topics' deduplication keys (decision 0171): (message id, sequence, until).
        self._dedup: dict[tuple[str, str, str], tuple[str, int, datetime]] = {}
        self._sequence = 0

    async def put_topic(self, topic: Topic, *, limit: int) -> Topic:
        key = (topic.tenant_id, topic.name)
        held = self._topics.get(key)
        if held is None:
            if sum(1 for t, _ in self._topics if t == topic.tenant_id) >= limit:
                raise TopicLimitExceeded("Exceeded topic limit.")
            self._topics[key] = topic
            return topic
        kept = dataclasses.replace(held, attributes=dict(topic.attributes), tags=dict(topic.tags))
        self._topics[key] = kept
        return kept

    async def get_topic(self, tenant_id: str, name: str) -> Topic | None:
        return self._topics.get((tenant_id, name))

    async def list_topics(self, tenant_id: str) -> list[Topic]:
        return sorted(
            (t for (owner, _), t in self._topics.items() if owner == tenant_id),
            key=lambda t: t.name.encode(),
        )

    async def delete_topic(self, tenant_id: str, name: str) -> bool:
        for key in [k for k in self._dedup if k[:2] == (tenant_id, name)]:
            del self._dedup[key]
        return self._topics.pop((tenant_id, name), None) is not None

    async def deduplicate(
        self, topic: Topic, dedup_key: str, message_id: str, now: datetime, until: datetime
    ) -> tuple[str, int, bool]:
        key = (topic.tenant_id, topic.name, dedup_key)
        held = self._dedup.get(key)
        if held is not None and held[2] > now:
            return held[0], held[1], False
        self._sequence += 1
        self._dedup[key] = (message_id, self._sequence, until)
        return message_id, self._sequence, True


@dataclasses.dataclass(slots=True)
class _Entry:
    event: QueuedEvent
    not_before: datetime | None  # None: due at once
    lease_until: datetime | None = None


class MemoryEventQueue:
    def __init__(self, outbox: list[tuple[str, str, str, str | None]]) -> None:
        self._outbox = outbox
        self._entries: dict[int, _Entry] = {}
        self._next_id = 1

    def _take_outbox(self) -> None:
        for tenant_id, topic_arn, message, trace in self._outbox:
            event = QueuedEvent(self._next_id, tenant_id, topic_arn, message, 0, trace=trace)
            self._entries[self._next_id] = _Entry(event, None)
            self._next_id += 1
        self._outbox.clear()

    async def claim(self, now: datetime, *, lease: timedelta, limit: int) -> list[QueuedEvent]:
        self._take_outbox()
        claimed: list[QueuedEvent] = []
        # FIFO destinations with an earlier event leased or delayed (decision 0171).
        held_back: set[str] = set()
        for entry in self._entries.values():
            if len(claimed) == limit:
                break
            arn = entry.event.topic_arn
            waiting = (entry.not_before is not None and entry.not_before > now) or (
                entry.lease_until is not None and entry.lease_until > now
            )
            if waiting or arn in held_back:
                if FIFO_DESTINATION in arn:
                    held_back.add(arn)
                continue
            entry.event = dataclasses.replace(entry.event, attempts=entry.event.attempts + 1)
            entry.lease_until = now + lease
            claimed.append(entry.event)
        return claimed

    async def complete(self, event: QueuedEvent) -> None:
        self._entries.pop(event.event_id, None)

    async def retry(
        self, event: QueuedEvent, not_before: datetime, error: str, *, spent: bool = True
    ) -> None:
        entry = self._entries.get(event.event_id)
        if entry is not None:
            entry.not_before = not_before
            entry.lease_until = None
            if not spent:
                entry.event = dataclasses.replace(entry.event, attempts=entry.event.attempts - 1)

    async def drop(self, event: QueuedEvent) -> None:
        self._entries.pop(event.event_id, None)

    async def waiting(self, tenant_id: str) -> int:
        self._take_outbox()
        return sum(1 for e in self._entries.values() if e.event.tenant_id == tenant_id)

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
        waiting = sum(1 for queued in self._outbox if queued[0] == tenant_id) + sum(
            1 for e in self._entries.values() if e.event.tenant_id == tenant_id
        )
        if waiting >= bound:
            return False
        self._outbox.append((tenant_id, topic_arn, message, trace))
        return True
