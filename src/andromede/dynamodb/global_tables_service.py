"""DynamoDB global tables' service (decision 0265): replicas made and removed, and every
item write of one replica carried to the others.

**A replica** is the table of the same name in another region of the deployment: the same
keys, attributes, billing and indexes, its own data key (its items sealed again under it:
each region's table is sealed under a key of its own), its stream ``NEW_AND_OLD_IMAGES``. It
is begun in the UpdateTable call that asks for it, by a gateway serving both regions: the
source's stream is turned on if it was off (AWS turns it on), the source's position taken at
its stream's tip, the table made (``CREATING``, the source ``UPDATING`` with the replica
``CREATING``: decision 0291); then in the background, under the table's lease, every item
copied (the progress told in DescribeTable's ``ReplicaStatusPercentProgress``), the
replica's own stream enabled (the copy leaves no record, so it is never replicated back) and
both tables ``ACTIVE``. A copy cut short by a restart is done again by the next pass.

**Replication** (:meth:`GlobalTables.replicate_all`, every ``dynamodb_replication_interval``
in the DynamoDB upkeep): per global table, under its lease, each region's stream is read
from the stored position. A record whose row the replicator itself wrote (``applied``) is
skipped: no loop. Any other is a local write: the item's clock in that region becomes its
time and region, then it is applied to every other region unless the item's clock there
beats it (last writer wins by (time, region)). When a region's row is not the one its clock
describes, a local write there is not read yet: the record waits for the next pass (the
region's own record is read first, and the later write wins). Positions are stored after each
pass: a restart or another gateway resumes there, and applying twice is harmless (the same
clock does not beat itself).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Mapping
from typing import Final

from andromede.dynamodb.errors import ValidationError
from andromede.dynamodb.global_tables import (
    REQUIRED_VIEW,
    ReplicaStatus,
    ReplicaUpdate,
    change_digest,
    check_update,
    row_digest,
)
from andromede.dynamodb.global_tables_store import ItemClock, ReplicationStore
from andromede.dynamodb.model import StoredItem, Table
from andromede.dynamodb.service import DynamoService, write_units
from andromede.dynamodb.store import ABSENT, ScanRange
from andromede.dynamodb.stream_service import enable_stream
from andromede.dynamodb.streams import StreamRecord, StreamViewType, change_record
from andromede.dynamodb.values import Item, item_size
from andromede.wakeup import set_within

__all__ = ["GlobalTables", "ReplicatedWrites"]

_BATCH: Final = 100
_RECORDS: Final = 500
log = logging.getLogger(__name__)

# Told of each replicated write: (account, region written, write units).
ReplicatedWrites = Callable[[str, str, float], None]


def _now() -> int:
    return int(time.time() * 1000)


class GlobalTables:
    def __init__(
        self,
        services: Mapping[str, DynamoService],
        declared: frozenset[str],
        store: ReplicationStore,
        owner: str,
        lease_ms: int = 30_000,
        metered: ReplicatedWrites | None = None,
    ) -> None:
        self._services = dict(services)  # the regions this gateway serves
        self.declared = declared
        self.store = store
        self._owner = owner
        self._lease_ms = lease_ms
        self._metered = metered
        # Decision 0291: the creations begun here (for the tests' ``settled``), the ones
        # being copied, and the replication loop's wake-up.
        self._started: list[tuple[str, str, str, str]] = []
        self._finishing: set[tuple[str, str, str]] = set()
        self._wake = asyncio.Event()

    def service(self, region: str) -> DynamoService:
        served = self._services.get(region)
        if served is None:
            raise ValidationError(
                f"Region {region} is not served by this gateway: ask a gateway serving it "
                "(decision 0265)"
            )
        return served

    # --- replica updates --------------------------------------------------------------------

    async def apply(self, table: Table, updates: list[ReplicaUpdate]) -> Table:
        """``updates`` applied to ``table`` in order, each checked first; ``table`` again."""
        for update in updates:
            check_update(table, update, self.declared)
        for update in updates:
            if update.action == "Create":
                table = await self.create_replica(table, update)
            elif update.action == "Delete":
                table = await self.delete_replica(table, update.region)
            else:  # Update: the overrides of an existing replica
                table = await self._update_replica(table, update)
        return table

    async def create_replica(self, table: Table, update: ReplicaUpdate) -> Table:
        """The replica of ``update.region`` begun (decision 0291): the source's stream on and
        its position taken, the replica's table made empty and ``CREATING``, the source
        ``UPDATING`` with the replica ``CREATING``; its items are copied in the background
        (:meth:`finish`). ``table`` as it is now."""
        source = self.service(table.region)
        target = self.service(update.region)
        tenant, name = table.tenant_id, table.name
        if await target.store.get_table(tenant, name) is not None:
            raise ValidationError(
                f"Failed to create a the new replica of table with name: '{name}' because "
                "one or more replicas already existed as tables."
            )
        if table.stream_view is None:  # AWS turns the stream on for its replicas
            table = await enable_stream(source, table, StreamViewType(REQUIRED_VIEW))
        members = await self.store.members(tenant, name)
        if table.region not in members:
            assert table.stream_label is not None  # noqa: S101 (enabled above)
            stream = await source.store.get_stream(tenant, name, table.stream_label)
            at = 0 if stream is None else stream.next_sequence
            await self.store.join(tenant, name, table.region, table.stream_label, at)
        indexes = tuple(
            dataclasses.replace(
                i,
                backfilling=False,
                read_capacity=dict(update.index_read_capacity).get(i.name, i.read_capacity),
            )
            for i in table.indexes
        )
        replica = await target.create_table(
            tenant,
            name,
            table.hash_key,
            table.sort_key,
            table.attributes,
            table.billing_mode,
            update.read_capacity or table.read_capacity,
            table.write_capacity,
            table.tags,
            table.sse_kms,
            indexes,
        )
        await target.change_table(
            replica,
            replicas=((table.region, ReplicaStatus.ACTIVE.value),),
            replica_progress=((update.region, 0),),
        )
        table = await source.change_table(
            table,
            replicas=(*table.replicas, (update.region, ReplicaStatus.CREATING.value)),
            replica_progress=(*table.replica_progress, (update.region, 0)),
        )
        self._finish_soon(tenant, name, table.region, update.region)
        return table

    def _finish_soon(self, tenant_id: str, name: str, source: str, region: str) -> None:
        """The replication loop woken: its pass finishes the creation (:meth:`resume`), as
        it would after a restart."""
        self._started.append((tenant_id, name, source, region))
        self._wake.set()

    async def wait(self, interval: float) -> None:
        """Until a replica creation is begun, or ``interval`` seconds (the upkeep's pause)."""
        await set_within(self._wake, interval)
        self._wake.clear()

    async def settled(self) -> None:
        """Every replica creation this gateway began, finished now (the tests' upkeep)."""
        while self._started:
            await self.finish(*self._started.pop(0))

    async def finish(self, tenant_id: str, name: str, source_region: str, region: str) -> None:
        """A replica's initial copy, under the global table's lease: every item of the
        source written into it (its progress told), then its stream on, the replica a member
        and both tables ``ACTIVE``. Copying again after a restart rewrites the same items."""
        key = (tenant_id, name, region)
        if key in self._finishing:
            return
        self._finishing.add(key)
        try:
            now = _now()
            if not await self.store.take_lease(
                tenant_id, name, self._owner, now, now + self._lease_ms
            ):
                return  # another gateway is at it; the next pass looks again
            source = self.service(source_region)
            target = self.service(region)
            table = await source.store.get_table(tenant_id, name)
            replica = await target.store.get_table(tenant_id, name)
            pending = table is not None and region in dict(table.replica_progress)
            if table is None or replica is None or not pending:
                await self._abandon(tenant_id, name, source_region, region)
                return
            await self._copy(table, replica)
            replica = await enable_stream(target, replica, StreamViewType(REQUIRED_VIEW))
            assert replica.stream_label is not None  # noqa: S101 (enabled just now)
            stream = await target.store.get_stream(tenant_id, name, replica.stream_label)
            first = 0 if stream is None else stream.first_sequence
            await self.store.join(tenant_id, name, region, replica.stream_label, first)
            await target.change_table(replica, replica_progress=())
            table = await source.table(tenant_id, name)
            await source.change_table(table, replica_progress=_without(table, region))
            await self._share_members(await source.table(tenant_id, name))
            # The lease let go: the replication passes of any gateway take it from here.
            done = _now()
            await self.store.take_lease(tenant_id, name, self._owner, done, done)
        except Exception:  # the next pass of the upkeep tries again
            log.exception("DynamoDB replica creation failed")
        finally:
            self._finishing.discard(key)

    async def _abandon(self, tenant_id: str, name: str, source_region: str, region: str) -> None:
        """A creation whose source or replica went away: what is left of it removed."""
        source, target = self._services[source_region], self._services[region]
        held = await source.store.get_table(tenant_id, name)
        if held is not None and region in dict(held.replica_progress):
            held = await source.change_table(
                held,
                replica_progress=_without(held, region),
                replicas=tuple(r for r in held.replicas if r[0] != region),
            )
            await self._share_members(held)  # alone again: no longer a global table
        replica = await target.store.get_table(tenant_id, name)
        if replica is not None and region in dict(replica.replica_progress):
            await target.delete_table(tenant_id, name)

    async def resume(self, tenant_id: str, name: str) -> None:
        """The creations of the global table's served members' replicas left unfinished
        (a gateway stopped during the copy)."""
        for region, service in self._services.items():
            held = await service.store.get_table(tenant_id, name)
            for other, _ in () if held is None else held.replica_progress:
                if other != region and other in self._services:
                    await self.finish(tenant_id, name, region, other)

    async def _copy(self, table: Table, replica: Table) -> None:
        """Every item of ``table`` written into ``replica`` (which has no stream yet), each
        clock set in both regions at time 0: any replicated write beats the copy. The
        source's ``replica_progress`` told after each batch."""
        source, target = self.service(table.region), self.service(replica.region)
        total, _ = await source.usage(table)
        done = 0
        after: tuple[bytes, bytes] | None = None
        while True:
            rows = await source.store.scan(table.tenant_id, table.name, ScanRange(), after, _BATCH)
            for row in rows:
                item = await source.open_item(table, row)
                key = {n: item[n] for n in table.key_names}
                hash_token, sort_token, held = await target.held(replica, key)
                size = item_size(item)
                copied = await target.row(replica, hash_token, sort_token, item, size, held)
                expected = ABSENT if held is None else held.revision
                await target.store.put_item(replica.tenant_id, replica.name, copied, expected)
                await self._set_clock(replica, hash_token, sort_token, 0, table.region, copied)
                await self._set_clock(table, row.hash_token, row.sort_token, 0, table.region, row)
                self._meter(replica, size)
            done += len(rows)
            if len(rows) < _BATCH:
                return
            after = (rows[-1].hash_token, rows[-1].sort_token)
            percent = min(99, done * 100 // max(total, 1))
            held_table = await source.table(table.tenant_id, table.name)
            progress = (*_without(held_table, replica.region), (replica.region, percent))
            await source.change_table(held_table, replica_progress=progress)

    async def _set_clock(
        self, table: Table, hash_token: bytes, sort_token: bytes, at: int, origin: str,
        row: StoredItem | None,
    ) -> None:  # fmt: skip
        clock = ItemClock(at, origin, row_digest(None if row is None else row.sealed))
        await self.store.set_clock(
            table.tenant_id, table.name, table.region, hash_token, sort_token, clock
        )

    async def delete_replica(self, table: Table, region: str) -> Table:
        """The replica of ``region`` deleted (its table, its stream ended); ``table`` no
        longer global once it is the last."""
        target = self.service(region)
        await self.store.leave(table.tenant_id, table.name, region)
        if await target.store.get_table(table.tenant_id, table.name) is not None:
            await target.delete_table(table.tenant_id, table.name)
        return await self._share_members(table)

    async def left(self, table: Table) -> None:
        """``table`` deleted by DeleteTable in its region: the others carry on without it."""
        if not table.replicas:
            return
        await self.store.leave(table.tenant_id, table.name, table.region)
        for region, _ in table.replicas:
            other = self._services.get(region)
            held = None if other is None else await other.table(table.tenant_id, table.name)
            if held is not None:
                await self._share_members(held)
                return

    async def _update_replica(self, table: Table, update: ReplicaUpdate) -> Table:
        target = self.service(update.region)
        replica = await target.table(table.tenant_id, table.name)
        if update.read_capacity is not None:
            await target.change_table(replica, read_capacity=update.read_capacity)
        return table

    async def _share_members(self, table: Table) -> Table:
        """Each served member's table told the other members (``Replicas``); a member left
        alone is no longer a global table. ``table`` as it is now."""
        members = sorted(await self.store.members(table.tenant_id, table.name))
        if len(members) == 1 and not table.replica_progress:  # none being made either
            await self.store.leave(table.tenant_id, table.name, members[0])
            members = []
        mine = table
        for region in {table.region, *members}:
            service = self._services.get(region)
            held = (
                None
                if service is None
                else await service.store.get_table(table.tenant_id, table.name)
            )
            if service is None or held is None:
                continue
            replicas = tuple((r, ReplicaStatus.ACTIVE.value) for r in members if r != region)
            creating = [r for r, _ in held.replica_progress if r != region and r not in members]
            replicas += tuple((r, ReplicaStatus.CREATING.value) for r in creating)
            if held.replicas != replicas:
                held = await service.change_table(held, replicas=replicas)
            if region == table.region:
                mine = held
        return mine

    # --- replication ------------------------------------------------------------------------

    async def replicate_all(self, limit: int = 1000) -> None:
        for tenant_id, name in await self.store.global_tables(limit):
            try:
                await self.resume(tenant_id, name)
                await self.replicate(tenant_id, name)
            except Exception:  # one table's failure must not stop the others
                log.exception("DynamoDB global table replication failed")

    async def replicate(self, tenant_id: str, name: str) -> None:
        """One pass over the global table's streams (see the module's docstring)."""
        members = await self.store.members(tenant_id, name)
        if len(members) < 2 or any(r not in self._services for r in members):
            return  # a gateway serving every member region replicates it
        now = _now()
        if not await self.store.take_lease(tenant_id, name, self._owner, now, now + self._lease_ms):
            return
        tables: dict[str, Table] = {}
        for region in members:
            held = await self._services[region].store.get_table(tenant_id, name)
            if held is None:  # deleted meanwhile: the others carry on
                await self.store.leave(tenant_id, name, region)
                continue
            tables[region] = held
        if len(tables) < len(members):
            for held in tables.values():
                await self._share_members(held)
                break
            return
        read = {r: await self._local_writes(tables[r], *members[r]) for r in members}
        for region, records in read.items():
            label, position = members[region]
            for record, clock in records:
                if clock is not None and not await self._forward(tables, region, record, clock):
                    break  # waits for the target's own write to be read
                if clock is None:
                    await self.store.take_applied(
                        tenant_id, name, region, change_digest(record.change)
                    )
                position = record.sequence + 1
            await self.store.set_position(tenant_id, name, region, label, position)

    async def _local_writes(
        self, table: Table, label: str, position: int
    ) -> list[tuple[StreamRecord, ItemClock | None]]:
        """The region's records from ``position``, each with its clock (None: the
        replicator's own write); each local write's clock set in its region. A local write
        supersedes what its region held, so its clock beats the one there (a tie in the same
        millisecond, or another region's clock ahead, moves it one past)."""
        service = self._services[table.region]
        records = await service.store.read_changes(
            table.tenant_id, table.name, label, position, _RECORDS, 1 << 40
        )
        read: list[tuple[StreamRecord, ItemClock | None]] = []
        for record in records:
            change = record.change
            digest = change_digest(change)
            if await self.store.is_applied(table.tenant_id, table.name, table.region, digest):
                read.append((record, None))
                continue
            row = row_digest(change.new_sealed)
            clock = ItemClock(change.created, table.region, row)
            held = await self.store.clock(
                table.tenant_id, table.name, table.region, change.hash_token, change.sort_token
            )
            if held is not None and held.origin == table.region and held.row == row:
                clock = held  # read before (a pass that waited)
            elif held is not None and not clock.beats(held):
                clock = ItemClock(held.time + 1, table.region, row)
            if clock != held:
                await self.store.set_clock(
                    table.tenant_id,
                    table.name,
                    table.region,
                    change.hash_token,
                    change.sort_token,
                    clock,
                )
            read.append((record, clock))
        return read

    async def _forward(
        self, tables: dict[str, Table], region: str, record: StreamRecord, clock: ItemClock
    ) -> bool:
        """A local write of ``region`` applied to every other region; False if one must
        wait."""
        table, change = tables[region], record.change
        service = self._services[region]

        async def opened(sealed: bytes | None) -> Item | None:
            if sealed is None:
                return None
            row = StoredItem(change.hash_token, change.sort_token, sealed, change.size)
            return await service.open_item(table, row)

        new = await opened(change.new_sealed)
        image = new if new is not None else await opened(change.old_sealed)
        if image is None:
            return True
        key = {n: image[n] for n in table.key_names}
        for other, replica in tables.items():
            if other != region and not await self._apply(replica, key, new, clock):
                return False
        return True

    async def _apply(self, replica: Table, key: Item, new: Item | None, clock: ItemClock) -> bool:
        """``new`` (None: a deletion) written at ``key`` of ``replica`` unless its clock
        there beats ``clock``; False when a local write there is not read yet."""
        service = self._services[replica.region]
        tenant, name = replica.tenant_id, replica.name
        hash_token, sort_token, held = await service.held(replica, key)
        clocked = await self.store.clock(tenant, name, replica.region, hash_token, sort_token)
        current = row_digest(None if held is None else held.sealed)
        if clocked is None:
            if held is not None:
                return False  # written there and not read yet
        elif clocked.row != current:
            return False
        elif not clock.beats(clocked):
            return True  # an older write: the later one stays
        now = _now()
        old = None if held is None else await service.open_item(replica, held)
        if new is None:
            if held is not None:
                record = change_record(replica, held, None, old, None, now)
                await self.store.mark_applied(
                    tenant, name, replica.region, b"del:" + row_digest(held.sealed), now
                )
                if not await service.store.delete_item(
                    tenant, name, hash_token, sort_token, held.revision, record
                ):
                    return False
                self._meter(replica, held.size)
            written: StoredItem | None = None
        else:
            size = item_size(new)
            written = await service.row(replica, hash_token, sort_token, new, size, held)
            record = change_record(replica, held, written, old, new, now)
            await self.store.mark_applied(
                tenant, name, replica.region, row_digest(written.sealed), now
            )
            expected = ABSENT if held is None else held.revision
            if not await service.store.put_item(tenant, name, written, expected, record):
                return False
            self._meter(replica, max(size, 0 if held is None else held.size))
        await self._set_clock(replica, hash_token, sort_token, clock.time, clock.origin, written)
        return True

    def _meter(self, replica: Table, size: int) -> None:
        if self._metered is not None:
            self._metered(replica.tenant_id, replica.region, write_units(size))

    async def prune(self, retention_ms: int) -> int:
        """Applied marks older than the streams' retention forgotten."""
        return await self.store.prune_applied(_now() - retention_ms)

    async def forever(self, interval: float) -> None:
        """Every ``interval`` seconds, a replication pass over every global table."""
        while True:
            await asyncio.sleep(interval)
            await self.replicate_all()


def _without(table: Table, region: str) -> tuple[tuple[str, int], ...]:
    return tuple(p for p in table.replica_progress if p[0] != region)
