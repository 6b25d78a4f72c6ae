"""Kinesis Data Streams for DynamoDB (decision 0262): enabling, updating, disabling and
describing a table's Kinesis streaming destinations, and the forwarder that puts each queued
item change into their streams.

**Statuses.** Enabling writes ``ENABLING``, updating ``UPDATING``, disabling ``DISABLING``;
the next look at the table (a DescribeKinesisStreamingDestination, or the forwarder's pass)
settles them (``ACTIVE``, ``DISABLED``). A destination whose stream is gone, or whose key
refuses, when the forwarder puts into it becomes ``ENABLE_FAILED`` with the reason, and is no
longer fed.

**The forwarder.** Every gateway runs one; it takes a table's lease before reading its queue
(one forwarder per table at a time, another taking over once the lease ran out), opens each
change's images under the table's key, puts AWS's record into every destination still fed,
and removes from the queue only what every one of them took: at least once, in order per
item (a change refused is retried before any later change of its table)."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from andromede.dynamodb.errors import LimitExceeded, TableInUse, TableNotFound, ValidationError
from andromede.dynamodb.kinesis_destinations import (
    KINESIS_DESTINATION_LIMIT,
    DestinationStatus,
    ForwardedChange,
    KinesisDestination,
    Precision,
    kinesis_record,
    parse_kinesis_arn,
    partition_key,
)
from andromede.dynamodb.kinesis_forward_queue import ForwardQueue, QueuedChange
from andromede.dynamodb.model import StoredItem, Table
from andromede.dynamodb.service import DynamoService
from andromede.dynamodb.values import Item, item_size
from andromede.wakeup import Doorbell, Pacer

__all__ = [
    "DestinationNotFound",
    "DestinationStreamMissing",
    "DestinationUnusable",
    "ForwarderPolicy",
    "KinesisDestinations",
    "KinesisForwarder",
    "KinesisStreams",
]

log = logging.getLogger(__name__)

_FED: Final = frozenset(
    {
        DestinationStatus.ENABLING,
        DestinationStatus.ACTIVE,
        DestinationStatus.UPDATING,
        DestinationStatus.DISABLING,  # what was queued before the disable still goes
    }
)


class DestinationUnusable(ValidationError):
    """The Kinesis stream is not ACTIVE, or cannot be written as the owner (its key)."""


class DestinationStreamMissing(DestinationUnusable, TableNotFound):
    """The Kinesis stream is not there: AWS's ResourceNotFoundException."""


class DestinationNotFound(ValidationError):
    """The table does not stream to that Kinesis stream."""


class KinesisStreams(Protocol):
    """Kinesis as the destinations reach it, as the table's owner (the wiring's)."""

    async def check(self, tenant_id: str, stream_name: str) -> None:
        """:class:`DestinationUnusable` unless the stream is ACTIVE and its key usable."""
        ...

    async def put(
        self, tenant_id: str, stream_name: str, records: Sequence[tuple[str, bytes]]
    ) -> int:
        """How many of ``records`` (partition key, data), from the first, the stream took;
        :class:`DestinationUnusable` when it is gone or its key refuses."""
        ...


# A settle that loses the race to another change re-reads the table and tries again; past
# this many, the table is busy enough that the next look settles it.
_SETTLE_ATTEMPTS: Final = 3


def _now() -> int:
    return int(time.time() * 1000)


class KinesisDestinations:
    def __init__(self, dynamodb: DynamoService, kinesis: KinesisStreams | None = None) -> None:
        self._dynamodb = dynamodb
        self._kinesis = kinesis

    def stream_name(self, table: Table, arn: str) -> str:
        """The stream's name, refused unless it is a Kinesis stream of the table's account
        and region (AWS streams only there)."""
        parsed = parse_kinesis_arn(arn)
        if parsed is None:
            raise ValidationError(f"Invalid StreamArn: {arn}")
        region, account, name = parsed
        if (region, account) != (table.region, table.tenant_id):
            raise ValidationError(
                "The Kinesis data stream must be in the same account and region as the table"
            )
        return name

    async def enable(self, table: Table, arn: str, precision: Precision) -> KinesisDestination:
        held = {d.stream_arn: d for d in table.kinesis}
        current = held.get(arn)
        if current is not None and current.status.capturing:
            raise ValidationError(
                f"Table {table.name} is already streaming to Kinesis stream {arn}"
            )
        if current is not None and current.status is DestinationStatus.DISABLING:
            raise TableInUse(f"Kinesis streaming destination {arn} is being disabled")
        if sum(1 for d in table.kinesis if d.status.capturing) >= KINESIS_DESTINATION_LIMIT:
            raise LimitExceeded(
                f"Table {table.name} already streams to {KINESIS_DESTINATION_LIMIT} "
                "Kinesis data streams"
            )
        if self._kinesis is None:
            raise DestinationUnusable("Kinesis Data Streams is not offered here")
        await self._kinesis.check(table.tenant_id, self.stream_name(table, arn))
        added = KinesisDestination(arn, DestinationStatus.ENABLING, precision)
        kept = tuple(d for d in table.kinesis if d.stream_arn != arn)
        await self._dynamodb.change_table(table, kinesis=(*kept, added))
        return added

    async def update(self, table: Table, arn: str, precision: Precision) -> KinesisDestination:
        current = self._of(table, arn)
        if current.status is not DestinationStatus.ACTIVE:
            raise TableInUse(
                f"Kinesis streaming destination {arn} is {current.status.value}, not ACTIVE"
            )
        if current.precision is precision:
            raise ValidationError(
                f"ApproximateCreationDateTimePrecision is already {precision.value}"
            )
        changed = dataclasses.replace(
            current, status=DestinationStatus.UPDATING, precision=precision
        )
        await self._replace(table, changed)
        return changed

    async def disable(self, table: Table, arn: str) -> KinesisDestination:
        current = self._of(table, arn)
        if not current.status.capturing:
            raise ValidationError(f"Table {table.name} is not streaming to Kinesis stream {arn}")
        changed = dataclasses.replace(current, status=DestinationStatus.DISABLING, reason="")
        await self._replace(table, changed)
        return changed

    async def settle(self, table: Table) -> Table:
        """The table with its destinations' transient statuses settled (and written).

        Another change written first (most often the forwarder settling the same statuses
        as a Describe looks) is read back and settled in turn: answering the stale copy
        would show a status the table has already left."""
        for _ in range(_SETTLE_ATTEMPTS):
            if all(d.status.settled is d.status for d in table.kinesis):
                return table
            settled = tuple(dataclasses.replace(d, status=d.status.settled) for d in table.kinesis)
            try:
                return await self._dynamodb.change_table(table, kinesis=settled)
            except TableInUse:
                current = await self._dynamodb.store.get_table(table.tenant_id, table.name)
                if current is None:  # deleted meanwhile: what was read is all there is
                    return table
                table = current
        return table  # still changing under us: the next look settles them

    async def fail(self, table: Table, arn: str, reason: str) -> None:
        current = next((d for d in table.kinesis if d.stream_arn == arn), None)
        if current is None or not current.status.capturing:
            return
        failed = dataclasses.replace(current, status=DestinationStatus.ENABLE_FAILED, reason=reason)
        try:
            await self._replace(table, failed)
        except TableInUse:
            log.info("destination %s of %s left for the next pass", arn, table.name)

    def _of(self, table: Table, arn: str) -> KinesisDestination:
        current = next((d for d in table.kinesis if d.stream_arn == arn), None)
        if current is None:
            raise DestinationNotFound(
                f"Table {table.name} is not streaming to Kinesis stream {arn}"
            )
        return current

    async def _replace(self, table: Table, changed: KinesisDestination) -> Table:
        kinesis = tuple(changed if d.stream_arn == changed.stream_arn else d for d in table.kinesis)
        return await self._dynamodb.change_table(table, kinesis=kinesis)


@dataclass(frozen=True, slots=True)
class ForwarderPolicy:
    interval_s: float = 1.0
    idle_poll_max: float | None = None  # background_idle_poll_max (decision 0326)
    batch: int = 500  # AWS's PutRecords at most
    lease_ms: int = 30_000
    tables_per_pass: int = 100


class KinesisForwarder:
    def __init__(
        self,
        dynamodb: DynamoService,
        queue: ForwardQueue,
        kinesis: KinesisStreams,
        owner: str,
        policy: ForwarderPolicy | None = None,
        doorbell: Doorbell | None = None,
    ) -> None:
        self._dynamodb = dynamodb
        self._queue = queue
        self._kinesis = kinesis
        self._owner = owner
        self.policy = policy or ForwarderPolicy()
        self._destinations = KinesisDestinations(dynamodb, kinesis)
        # Rung by a committed write that queued a change (decision 0326); while no table has
        # any queued, the passes back off up to the ceiling.
        self._pacer = Pacer(self.policy.interval_s, self.policy.idle_poll_max, doorbell)
        self._tables_seen = 0

    async def run(self) -> None:
        while True:
            self._tables_seen = 0
            try:
                await self.run_once()
            except Exception:  # the loop outlives one pass's failure, said once
                log.exception("Kinesis streaming destinations: a pass failed")
            # A queue left (a destination refusing, another gateway's lease) is still work:
            # it is looked at every interval, as before.
            await self._pacer.pause(self._tables_seen > 0)

    async def run_once(self) -> int:
        """One pass over the queues: how many changes were delivered."""
        delivered = 0
        tables = await self._queue.queued_tables(self.policy.tables_per_pass)
        self._tables_seen = len(tables)
        for tenant_id, name in tables:
            now = _now()
            if await self._queue.take_lease(
                tenant_id, name, self._owner, now, now + self.policy.lease_ms
            ):
                delivered += await self._forward(tenant_id, name)
        return delivered

    async def _forward(self, tenant_id: str, name: str) -> int:
        table = await self._dynamodb.store.get_table(tenant_id, name)
        if table is None:  # AWS stops streaming a deleted table's changes
            await self._queue.drop_queue(tenant_id, name)
            return 0
        fed = [d for d in table.kinesis if d.status in _FED]  # a DISABLING one's backlog too
        table = await self._destinations.settle(table)
        if not fed:
            await self._queue.drop_queue(tenant_id, name)
            return 0
        queued = await self._queue.queued(tenant_id, name, self.policy.batch)
        if not queued:
            return 0
        changes = [await self._opened(table, q) for q in queued]
        taken: int | None = None  # the fewest any destination took; None: all failed
        for destination in fed:
            records = [
                (
                    partition_key(q.change.hash_token),
                    kinesis_record(table.region, name, c, destination.precision),
                )
                for q, c in zip(queued, changes, strict=True)
            ]
            try:
                took = await self._kinesis.put(
                    tenant_id,
                    self._destinations.stream_name(table, destination.stream_arn),
                    records,
                )
            except DestinationUnusable as exc:
                await self._destinations.fail(table, destination.stream_arn, str(exc))
                continue
            taken = took if taken is None else min(taken, took)
        if not taken:  # nothing taken, or no destination left (dropped by the next pass)
            return 0
        await self._queue.dequeue(tenant_id, name, [q.number for q in queued[:taken]])
        return taken

    async def _opened(self, table: Table, queued: QueuedChange) -> ForwardedChange:
        change = queued.change  # in the queue's form (``queued_form``)
        old_sealed, old_size = change.forward_old, change.forward_old_size
        new_sealed, new_size = change.version, change.version_size

        async def opened(sealed: bytes | None, size: int) -> Item | None:
            if sealed is None:
                return None
            stored = StoredItem(change.hash_token, change.sort_token, sealed, size)
            return await self._dynamodb.open_item(table, stored)

        old = await opened(old_sealed, old_size)
        new = await opened(new_sealed, new_size)
        whole = new if new is not None else old
        assert whole is not None  # noqa: S101 (a change has one image at least)
        keys: dict[str, Any] = {n: whole[n] for n in table.key_names}
        size = item_size(keys) + sum(item_size(i) for i in (old, new) if i is not None)
        seed = f"{table.arn}#{table.created}#{queued.number}#{change.created}".encode()
        return ForwardedChange(
            event=change.event,
            created_ms=change.created,
            keys=keys,
            old=old,
            new=new,
            size=size,
            by_service=change.by_service,
            event_id=hashlib.sha256(seed).hexdigest()[:32],
        )
