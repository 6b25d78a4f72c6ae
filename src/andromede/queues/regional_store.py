"""One Region's view of the queues' store (decision 0414), as EventBridge's buses (decision
0349) and Pipes (decision 0408) are seen a Region at a time.

Queues are regional on AWS: ``q`` of one Region and ``q`` of another are two queues, each ARN
of its Region, and a ListQueues in one never shows the other's. The store keys queues and
their messages by (account, name): another Region's are kept under ``~<region>~<name>``
(``regional_names``), the queue row's ``region`` column holding its own Region, so the
account's limit of queues is counted a Region (``sqs_max_queues``, as AWS's quota). What the
Region's service is given back carries the queue's own name and Region, so its ARN, its URL
and its KMS context are of that Region. No migration: the prefix lives in the existing key,
and the default Region's queues keep theirs.

The default Region's service forgets a closed account in each Region, through each view.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

from andromede.queues.model import Queue
from andromede.queues.store import (
    QueueCounts,
    QueueObserver,
    QueueStore,
    ReceivedMessage,
    Redrive,
    StoredMessage,
)
from andromede.regional_names import RegionalView, stored_name

__all__ = ["RegionalQueueObserver", "RegionalQueueStore"]


class RegionalQueueStore(RegionalView[QueueStore]):
    """``store`` as ``region`` sees it (a :class:`~.store.QueueStore`)."""

    def _queue_in(self, queue: Queue) -> Queue:
        return dataclasses.replace(queue, name=self._in(queue.name), region=self.region)

    def _queue_out(self, queue: Queue) -> Queue:
        return dataclasses.replace(queue, name=self._out(queue.name), region=self.region)

    def _redrive_in(self, redrive: Redrive | None) -> Redrive | None:
        # A dead-letter queue is of its source's Region (the service checks it).
        if redrive is None:
            return None
        return dataclasses.replace(redrive, queue_name=self._in(redrive.queue_name))

    async def create_queue(self, queue: Queue, *, limit: int) -> Queue:
        made = self._queue_in(queue)
        kept = await self.inner.create_queue(made, limit=limit)
        # The service tells a new queue from a namesake by identity.
        return queue if kept is made else self._queue_out(kept)

    async def get_queue(self, tenant_id: str, name: str) -> Queue | None:
        # Every call on a queue finds it first: a stored name (a QueueUrl's path may say
        # anything), which no queue's own name can be (``~`` is outside their alphabet),
        # finds nothing.
        if "~" in name:
            return None
        found = await self.inner.get_queue(tenant_id, self._in(name))
        return None if found is None else self._queue_out(found)

    async def list_queues(
        self, tenant_id: str, prefix: str, after: str | None, limit: int
    ) -> list[Queue]:
        # A Region's names are one contiguous run of the store's order: the default
        # Region's page may end on another Region's names, never begin with them.
        found = await self.inner.list_queues(
            tenant_id, self._in(prefix), None if after is None else self._in(after), limit
        )
        return [self._queue_out(q) for q in found if self._mine(q.name)]

    async def update_queue(self, queue: Queue) -> bool:
        return await self.inner.update_queue(self._queue_in(queue))

    async def delete_queue(self, tenant_id: str, name: str) -> bool:
        return "~" not in name and await self.inner.delete_queue(tenant_id, self._in(name))

    async def send(self, tenant_id: str, name: str, messages: Sequence[StoredMessage]) -> None:
        await self.inner.send(tenant_id, self._in(name), messages)

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
        return await self.inner.receive(
            tenant_id,
            self._in(name),
            now,
            limit=limit,
            visible_until=visible_until,
            receipts=receipts,
            redrive=self._redrive_in(redrive),
            in_flight_limit=in_flight_limit,
        )

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
        return await self.inner.send_fifo(
            tenant_id, self._in(name), messages, now, dedup_until, per_group=per_group
        )

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
        return await self.inner.receive_fifo(
            tenant_id,
            self._in(name),
            now,
            limit=limit,
            visible_until=visible_until,
            receipts=receipts,
            redrive=self._redrive_in(redrive),
            in_flight_limit=in_flight_limit,
            attempt=attempt,
            attempt_until=attempt_until,
        )

    async def delete_message(
        self, tenant_id: str, name: str, message_id: str, receipt: str
    ) -> bool:
        return await self.inner.delete_message(tenant_id, self._in(name), message_id, receipt)

    async def change_visibility(
        self,
        tenant_id: str,
        name: str,
        message_id: str,
        receipt: str,
        visible_at: datetime,
        now: datetime,
    ) -> bool:
        return await self.inner.change_visibility(
            tenant_id, self._in(name), message_id, receipt, visible_at, now
        )

    async def purge(self, tenant_id: str, name: str) -> int:
        return await self.inner.purge(tenant_id, self._in(name))

    async def counts(self, tenant_id: str, name: str, now: datetime) -> QueueCounts:
        return await self.inner.counts(tenant_id, self._in(name), now)

    async def dead_letter_sources(self, tenant_id: str, target_arn: str) -> list[str]:
        # The ARN names the Region; a namesake's policy naming it is of its own Region.
        found = await self.inner.dead_letter_sources(tenant_id, target_arn)
        return [self._out(name) for name in found if self._mine(name)]

    async def in_flight_since(
        self, tenant_id: str, name: str, message_id: str, receipt: str, now: datetime
    ) -> datetime | None:
        return await self.inner.in_flight_since(tenant_id, self._in(name), message_id, receipt, now)

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
        return await self.inner.move_messages(
            tenant_id,
            self._in(source),
            None if destination is None else self._in(destination),
            limit,
            now,
            fallback=None if fallback is None else self._in(fallback),
        )


class RegionalQueueObserver:
    """``observer`` told of ``region``'s queues by their stored names, as the store's own
    counts are (the metered store files both under the Region's series, decision 0360)."""

    def __init__(self, observer: QueueObserver, region: str, home: str) -> None:
        self._observer = observer
        self._region = region
        self._home = home

    def empty_receive(self, tenant_id: str, name: str) -> None:
        self._observer.empty_receive(tenant_id, stored_name(self._region, self._home, name))

    def sent_sizes(self, tenant_id: str, name: str, sizes: Sequence[int]) -> None:
        self._observer.sent_sizes(tenant_id, stored_name(self._region, self._home, name), sizes)
