"""The in-memory twin of :class:`~andromede.dynamodb.backups.BackupStore` (decision 0253),
copying from a :class:`~andromede.dynamodb.memory.MemoryDynamoStore` and reading the item
history it keeps for point-in-time recovery (tests, and the contract suite's reference)."""

from __future__ import annotations

import dataclasses

from andromede.dynamodb.backups import Backup
from andromede.dynamodb.memory import MemoryDynamoStore
from andromede.dynamodb.model import StoredItem, Table
from andromede.dynamodb.store import ScanRange

__all__ = ["MemoryBackupStore"]


class MemoryBackupStore:
    def __init__(self, tables: MemoryDynamoStore) -> None:
        self._tables = tables
        self._backups: dict[tuple[str, str], Backup] = {}
        self._items: dict[tuple[str, str], list[StoredItem]] = {}

    async def create_backup(self, backup: Backup) -> Backup | None:
        # No await yields between the reads below (the twin's calls do no I/O): one snapshot.
        table = backup.table
        held = await self._tables.get_table(table.tenant_id, table.name)
        if held is None or held.revision != table.revision:
            return None
        rows = await self._tables.scan(table.tenant_id, table.name, ScanRange(), None, 1 << 62)
        copied = [dataclasses.replace(r, revision=1, expires=None, index_keys=()) for r in rows]
        made = dataclasses.replace(backup, size=sum(r.size for r in copied), item_count=len(copied))
        self._backups[(backup.tenant_id, backup.backup_id)] = made
        self._items[(backup.tenant_id, backup.backup_id)] = copied
        return made

    async def get_backup(self, tenant_id: str, backup_id: str) -> Backup | None:
        return self._backups.get((tenant_id, backup_id))

    async def list_backups(
        self,
        tenant_id: str,
        table_name: str | None,
        low: int | None,
        high: int | None,
        after: str | None,
        limit: int,
    ) -> list[Backup]:
        listed = sorted(
            (b for (t, _), b in self._backups.items() if t == tenant_id),
            key=lambda b: b.backup_id,
        )
        return [
            b
            for b in listed
            if (table_name is None or b.table.name == table_name)
            and (low is None or b.created >= low)
            and (high is None or b.created < high)
            and (after is None or b.backup_id > after)
        ][:limit]

    async def delete_backup(self, tenant_id: str, backup_id: str) -> bool:
        self._items.pop((tenant_id, backup_id), None)
        return self._backups.pop((tenant_id, backup_id), None) is not None

    async def backup_items(
        self, tenant_id: str, backup_id: str, after: tuple[bytes, bytes] | None, limit: int
    ) -> list[StoredItem]:
        rows = self._items.get((tenant_id, backup_id), [])
        return [r for r in rows if after is None or (r.hash_token, r.sort_token) > after][:limit]

    async def backup_bytes(self) -> dict[str, int]:
        sizes: dict[str, int] = {}
        for (tenant, _), backup in self._backups.items():
            sizes[tenant] = sizes.get(tenant, 0) + backup.size
        return sizes

    async def start_history(self, table: Table) -> bool:
        held = await self._tables.get_table(table.tenant_id, table.name)
        if held is None or held.revision != table.revision or table.pitr is None:
            return False
        rows = await self._tables.scan(table.tenant_id, table.name, ScanRange(), None, 1 << 62)
        self._tables.versions[(table.tenant_id, table.name, table.created)] = [
            (table.pitr[1], r.hash_token, r.sort_token, r.sealed, r.size) for r in rows
        ]
        return True

    async def stop_history(self, tenant_id: str, name: str, created: int) -> None:
        self._tables.versions.pop((tenant_id, name, created), None)

    async def items_at(
        self,
        tenant_id: str,
        name: str,
        created: int,
        at: int,
        after: tuple[bytes, bytes] | None,
        limit: int,
    ) -> list[StoredItem]:
        latest: dict[tuple[bytes, bytes], tuple[bytes | None, int]] = {}
        for when, hash_token, sort_token, sealed, size in self._tables.versions.get(
            (tenant_id, name, created), []
        ):
            if when <= at:  # kept in the order written: the last one wins
                latest[(hash_token, sort_token)] = (sealed, size)
        found = [
            StoredItem(k[0], k[1], sealed, size)
            for k, (sealed, size) in sorted(latest.items())
            if sealed is not None and (after is None or k > after)
        ]
        return found[:limit]

    async def prune_history(self, now: int) -> int:
        removed = 0
        for key in list(self._tables.versions):
            tenant_id, name, created = key
            table = await self._tables.get_table(tenant_id, name)
            versions = self._tables.versions[key]
            if table is None or table.pitr is None or table.created != created:
                removed += len(versions)
                del self._tables.versions[key]
                continue
            cutoff = now - table.pitr[0] * 86_400_000
            state_then: dict[tuple[bytes, bytes], int] = {}  # each item's at the cutoff
            for n, v in enumerate(versions):
                if v[0] <= cutoff:
                    state_then[(v[1], v[2])] = n
            keep = [
                v
                for n, v in enumerate(versions)
                if v[0] >= cutoff or (state_then.get((v[1], v[2])) == n and v[3] is not None)
            ]
            removed += len(versions) - len(keep)
            self._tables.versions[key] = keep
        return removed

    async def forget_tenant(self, tenant_id: str) -> int:
        for history in [k for k in self._tables.versions if k[0] == tenant_id]:
            del self._tables.versions[history]
        held = [k for k in self._backups if k[0] == tenant_id]
        for key in held:
            await self.delete_backup(*key)
        return len(held)
