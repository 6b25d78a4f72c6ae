"""The in-memory twin of :class:`~andromede.dynamodb.backups.BackupStore` (decision 0253),
copying from a :class:`~andromede.dynamodb.memory.MemoryDynamoStore` (tests, and the contract
suite's reference)."""

from __future__ import annotations

import dataclasses

from andromede.dynamodb.backups import Backup
from andromede.dynamodb.model import StoredItem
from andromede.dynamodb.store import DynamoStore, ScanRange

__all__ = ["MemoryBackupStore"]


class MemoryBackupStore:
    def __init__(self, tables: DynamoStore) -> None:
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

    async def forget_tenant(self, tenant_id: str) -> int:
        held = [k for k in self._backups if k[0] == tenant_id]
        for key in held:
            await self.delete_backup(*key)
        return len(held)
