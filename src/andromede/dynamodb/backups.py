"""DynamoDB's on-demand backups (decision 0253): a backup is a table's definition as it was
(key schema, attributes, indexes, billing and throughput, stream and time-to-live settings,
its wrapped data key) and a copy of its items' sealed rows, taken in one database transaction
(a consistent snapshot, never opened: the rows stay sealed under the account's key ring); it
outlives its table, as AWS keeps on-demand backups until deleted.

A restore makes a new table (the backup's definition with the call's overrides), opens each
backed-up row under the source table's identity (its ARN, creation time and wrapped key, the
AAD each row was sealed under) and seals it again under the new table's key, its hash key
MACed anew, its index entries computed for the new table's indexes: plaintext only in memory.

The :class:`BackupStore` is implemented in memory (``dynamodb.backup_memory``) and over the
metadata database (``dynamodb.backup_store_sql``), one contract suite for both.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from andromede.dynamodb.errors import DynamoError, TableInUse
from andromede.dynamodb.model import BillingMode, SecondaryIndex, StoredItem, Table
from andromede.dynamodb.service import DynamoService
from andromede.dynamodb.store import ABSENT

__all__ = [
    "Backup",
    "BackupInUse",
    "BackupNotFound",
    "BackupStore",
    "DynamoBackups",
    "RestoreOverrides",
    "TableAlreadyExists",
    "backup_arn",
]

_ATTEMPTS: Final = 8
_BATCH: Final = 100
_ARN: Final = re.compile(
    r"arn:aws[\w-]*:dynamodb:([a-z0-9-]+):(\d{12}):table/([a-zA-Z0-9_.-]{3,255})"
    r"/backup/(\d{13}-[0-9a-f]{8})"
)


class BackupNotFound(DynamoError):
    pass


class BackupInUse(DynamoError):
    pass


class TableAlreadyExists(DynamoError):
    pass


def backup_arn(table: Table, backup_id: str) -> str:
    return f"{table.arn}/backup/{backup_id}"


@dataclass(frozen=True, slots=True)
class Backup:
    """One on-demand backup: ``table`` its source as it was when taken (its revision the one
    copied), its items' count and size as AWS counts them."""

    tenant_id: str
    backup_id: str
    name: str
    table: Table
    created: int  # ms
    size: int = 0
    item_count: int = 0

    @property
    def arn(self) -> str:
        return backup_arn(self.table, self.backup_id)


@dataclass(frozen=True, slots=True)
class RestoreOverrides:
    """What RestoreTableFromBackup may change of the backed-up definition (None: as it was)."""

    billing_mode: BillingMode | None = None
    read_capacity: int = 0
    write_capacity: int = 0
    throughput: bool = False
    global_indexes: tuple[SecondaryIndex, ...] | None = None
    local_indexes: tuple[SecondaryIndex, ...] | None = None


class BackupStore(Protocol):
    async def create_backup(self, backup: Backup) -> Backup | None:
        """The items of ``backup.table`` copied under the backup, with its record, in one
        transaction, if the table's row is still at ``backup.table.revision``: the backup
        with its count and size; None when the table changed or went meanwhile."""
        ...

    async def get_backup(self, tenant_id: str, backup_id: str) -> Backup | None: ...

    async def list_backups(
        self,
        tenant_id: str,
        table_name: str | None,
        low: int | None,
        high: int | None,
        after: str | None,
        limit: int,
    ) -> list[Backup]:
        """The account's backups (of ``table_name`` only, if given) made within [low, high)
        (ms), in id order (their creation's), after the id ``after``, at most ``limit``."""
        ...

    async def delete_backup(self, tenant_id: str, backup_id: str) -> bool: ...

    async def backup_items(
        self, tenant_id: str, backup_id: str, after: tuple[bytes, bytes] | None, limit: int
    ) -> list[StoredItem]:
        """The backup's rows in (hash token, sort token) order after ``after``."""
        ...

    async def backup_bytes(self) -> dict[str, int]:
        """Per account, the size of its backups (the storage meter's sample)."""
        ...

    async def forget_tenant(self, tenant_id: str) -> int:
        """The account's backups and their rows removed, and its tables' histories; how many
        backups."""
        ...

    # --- point-in-time recovery: the item history of the tables with it on -------------------

    async def start_history(self, table: Table) -> bool:
        """The history of ``table`` (recovery on, since ``table.pitr[1]``) begun with its
        items as they are, as versions at that instant, if its row is still at
        ``table.revision``; False otherwise."""
        ...

    async def stop_history(self, tenant_id: str, name: str, created: int) -> None: ...

    async def items_at(
        self,
        tenant_id: str,
        name: str,
        created: int,
        at: int,
        after: tuple[bytes, bytes] | None,
        limit: int,
    ) -> list[StoredItem]:
        """The table's items as they were at ``at`` (ms), in key order after ``after``."""
        ...

    async def prune_history(self, now: int) -> int:
        """Versions older than each table's recovery period removed, but each item's latest
        before it (unless a removal); a deleted or no longer recovering table's all."""
        ...


def _now() -> int:
    return int(time.time() * 1000)


class DynamoBackups:
    def __init__(
        self, dynamodb: DynamoService, store: BackupStore, restore_lag: float = 300.0
    ) -> None:
        self.dynamodb = dynamodb
        self.store = store
        self.restore_lag = restore_lag  # s: how far behind the present a restore may be
        self._last = 0  # ms of the last backup made here: ids in creation order

    async def create(self, table: Table, name: str) -> Backup:
        """A consistent snapshot of ``table`` under ``name``; taken again when the table's
        definition changed between its read and the copy."""
        held: Table | None = table
        for _ in range(_ATTEMPTS):
            if held is None:
                break
            created = self._last = max(_now(), self._last + 1)
            backup_id = f"{created:013d}-{secrets.token_hex(4)}"
            made = await self.store.create_backup(
                Backup(held.tenant_id, backup_id, name, held, created)
            )
            if made is not None:
                return made
            held = await self.dynamodb.store.get_table(table.tenant_id, table.name)
        raise TableInUse(f"Table is being changed: {table.name}")

    async def backup(self, tenant_id: str, region: str, arn: str) -> Backup:
        """The account's backup ``arn`` names (another account's, or none: not found)."""
        matched = _ARN.fullmatch(arn)
        found = None
        if matched is not None and matched.group(1) == region and matched.group(2) == tenant_id:
            found = await self.store.get_backup(tenant_id, matched.group(4))
        if found is None or found.arn != arn:
            raise BackupNotFound(f"Backup not found: {arn[:1024]}")
        return found

    async def delete(self, backup: Backup) -> None:
        if not await self.store.delete_backup(backup.tenant_id, backup.backup_id):
            raise BackupNotFound(f"Backup not found: {backup.arn}")

    async def restore(self, backup: Backup, target: str, overrides: RestoreOverrides) -> Table:
        """A new table ``target`` with the backup's definition (as overridden) and items,
        ACTIVE when the call answers; its RestoreSummary names the backup."""
        source = backup.table
        table = await self._target(source, target, overrides, backup.arn)
        await self.copy_items(table, source, self._backed_up(backup))
        return table

    async def restore_to(
        self, source: Table, at: int, target: str, overrides: RestoreOverrides
    ) -> Table:
        """A new table ``target`` with ``source``'s definition (as overridden) and its items
        as they were at ``at`` (ms), read from its history."""
        table = await self._target(source, target, overrides, None, at)
        store, tenant_id = self.store, source.tenant_id

        async def rows(after: tuple[bytes, bytes] | None, limit: int) -> list[StoredItem]:
            return await store.items_at(tenant_id, source.name, source.created, at, after, limit)

        await self.copy_items(table, source, rows)
        return table

    async def _target(
        self,
        source: Table,
        target: str,
        overrides: RestoreOverrides,
        backup_arn: str | None,
        at: int | None = None,
    ) -> Table:
        indexes = _indexes(source.indexes, overrides)
        mode = overrides.billing_mode or source.billing_mode
        read, write = source.read_capacity, source.write_capacity
        if overrides.throughput or mode is not source.billing_mode:
            read, write = overrides.read_capacity, overrides.write_capacity
        used = set(source.key_names) | {
            k.name for i in indexes for k in (i.hash_key, i.sort_key) if k is not None
        }
        try:
            table = await self.dynamodb.create_table(
                source.tenant_id,
                target,
                source.hash_key,
                source.sort_key,
                [a for a in source.attributes if a.name in used],
                mode,
                read,
                write,
                (),  # tags, time to live and streams are set again by hand, as on AWS
                False,  # the AWS-owned key, as AWS restores; the API applies another
                indexes,
            )
        except TableInUse:
            raise TableAlreadyExists(f"Table already exists: {target}") from None
        restored = (backup_arn, source.arn, _now() if at is None else at)
        return await self.dynamodb.change_table(table, restored_from=restored)

    # --- point-in-time recovery -------------------------------------------------------------

    async def recover(self, table: Table, days: int | None) -> Table:
        """Point-in-time recovery turned on for ``days`` (its history begun with the items as
        they are; already on: only the period changed), or off (``None``: history dropped)."""
        if days is None:
            if table.pitr is None:
                return table
            changed = await self.dynamodb.change_table(table, pitr=None)
            await self.store.stop_history(table.tenant_id, table.name, table.created)
            return changed
        if table.pitr is not None:
            if table.pitr[0] == days:
                return table
            return await self.dynamodb.change_table(table, pitr=(days, table.pitr[1]))
        changed = await self.dynamodb.change_table(table, pitr=(days, _now()))
        if not await self.store.start_history(changed):  # changed meanwhile: the caller retries
            raise TableInUse(f"Attempt to change a resource which is still in use: {table.name}")
        return changed

    async def prune(self) -> int:
        return await self.store.prune_history(_now())

    def _backed_up(self, backup: Backup) -> _Rows:
        async def rows(after: tuple[bytes, bytes] | None, limit: int) -> list[StoredItem]:
            return await self.store.backup_items(backup.tenant_id, backup.backup_id, after, limit)

        return rows

    async def copy_items(self, table: Table, source: Table, rows: _Rows) -> None:
        """Every row ``rows`` pages through, opened under ``source`` and sealed again into
        ``table`` (a restore's own writes: no condition, no stream, not billed as writes)."""
        after: tuple[bytes, bytes] | None = None
        while True:
            batch = await rows(after, _BATCH)
            for row in batch:
                item = await self.dynamodb.open_item(source, row)
                key = {n: item[n] for n in table.key_names}
                hash_token, sort_token, _ = await self.dynamodb.held(table, key)
                sealed = await self.dynamodb.row(
                    table, hash_token, sort_token, item, row.size, None
                )
                await self.dynamodb.store.put_item(table.tenant_id, table.name, sealed, ABSENT)
            if len(batch) < _BATCH:
                return
            after = (batch[-1].hash_token, batch[-1].sort_token)


class _Rows(Protocol):
    async def __call__(
        self, after: tuple[bytes, bytes] | None, limit: int
    ) -> Sequence[StoredItem]: ...


def _indexes(
    held: tuple[SecondaryIndex, ...], overrides: RestoreOverrides
) -> tuple[SecondaryIndex, ...]:
    """The backed-up indexes, each kind replaced by its override when given (an empty
    override: none of that kind)."""
    global_ = tuple(i for i in held if not i.local)
    local = tuple(i for i in held if i.local)
    if overrides.global_indexes is not None:
        global_ = overrides.global_indexes
    if overrides.local_indexes is not None:
        local = overrides.local_indexes
    if overrides.billing_mode is BillingMode.PAY_PER_REQUEST:
        global_ = tuple(dataclasses.replace(i, read_capacity=0, write_capacity=0) for i in global_)
    return global_ + local
