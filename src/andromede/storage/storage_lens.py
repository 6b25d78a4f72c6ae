"""S3 Storage Lens configurations (decision 0415): the configuration as stored and its store
— one Protocol, a memory twin and the SQL store (SQLite or PostgreSQL, the table of
migration 0162).

A configuration belongs to one account and is named by its id (1 to 64 of ``[A-Za-z0-9-_]``).
The store keeps its document — S3 Control's ``StorageLensConfiguration`` XML, already
validated and rewritten by the wire layer — whole, with the two things read without parsing
it: whether it is enabled, and its tags. PutStorageLensConfiguration creates or replaces;
the account's quota counts configurations, a replacement adds none. The metrics export
claims a configuration's period (``claim_export``, a compare-and-set held until a deadline)
so that one gateway of many writes it, and marks it written (``exported``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.errors import AndromedeError

__all__ = [
    "LensTags",
    "MemoryStorageLensStore",
    "SqlStorageLensStore",
    "StorageLensQuotaExceeded",
    "StorageLensRecord",
    "StorageLensStore",
]

LensTags = tuple[tuple[str, str], ...]
# The row's format: the document as S3 Control's XML, the tags as JSON [key, value] pairs.
_FORMAT_VERSION = 1


class StorageLensQuotaExceeded(AndromedeError):
    """The account has as many Storage Lens configurations as its quota allows."""


@dataclass(frozen=True, slots=True)
class StorageLensRecord:
    tenant_id: str
    config_id: str
    is_enabled: bool
    document: str  # the StorageLensConfiguration element, as S3 Control's XML
    tags: LensTags
    updated_at: datetime

    def arn(self, region: str) -> str:
        return f"arn:aws:s3:{region}:{self.tenant_id}:storage-lens/{self.config_id}"


class StorageLensStore(Protocol):
    async def put(self, record: StorageLensRecord, *, quota: int, keep_tags: bool) -> None:
        """Create or replace; ``keep_tags``: a replacement keeps the tags it had
        (:class:`StorageLensQuotaExceeded` for a new one past ``quota``)."""
        ...

    async def get(self, tenant_id: str, config_id: str) -> StorageLensRecord | None: ...

    async def list(
        self, tenant_id: str, *, after: str | None, limit: int
    ) -> Sequence[StorageLensRecord]:
        """The account's configurations by id, after ``after``, at most ``limit``."""
        ...

    async def delete(self, tenant_id: str, config_id: str) -> bool: ...

    async def set_tags(self, tenant_id: str, config_id: str, tags: LensTags) -> bool: ...

    async def enabled(self) -> Sequence[StorageLensRecord]:
        """Every account's enabled configurations (the metrics export's round)."""
        ...

    async def claim_export(
        self, tenant_id: str, config_id: str, slot: str, *, now: datetime, until: datetime
    ) -> bool:
        """Claim the export of period ``slot`` until ``until``: False when it was written
        already, or another claim holds it past ``now``."""
        ...

    async def exported(self, tenant_id: str, config_id: str, slot: str) -> None:
        """Period ``slot`` written (or given up): the claim ends."""
        ...


class MemoryStorageLensStore:
    """The in-memory twin (tests, apps built without a database)."""

    def __init__(self) -> None:
        self._records: dict[tuple[str, str], StorageLensRecord] = {}
        self._exports: dict[tuple[str, str], tuple[str | None, datetime | None]] = {}

    async def put(self, record: StorageLensRecord, *, quota: int, keep_tags: bool) -> None:
        key = (record.tenant_id, record.config_id)
        found = self._records.get(key)
        if found is None and sum(1 for t, _ in self._records if t == record.tenant_id) >= quota:
            raise StorageLensQuotaExceeded(record.tenant_id)
        if found is not None and keep_tags:
            record = replace(record, tags=found.tags)
        self._records[key] = record

    async def get(self, tenant_id: str, config_id: str) -> StorageLensRecord | None:
        return self._records.get((tenant_id, config_id))

    async def list(
        self, tenant_id: str, *, after: str | None, limit: int
    ) -> Sequence[StorageLensRecord]:
        found = sorted(
            (
                r
                for (t, config_id), r in self._records.items()
                if t == tenant_id and (after is None or config_id > after)
            ),
            key=lambda r: r.config_id,
        )
        return found[:limit]

    async def delete(self, tenant_id: str, config_id: str) -> bool:
        self._exports.pop((tenant_id, config_id), None)
        return self._records.pop((tenant_id, config_id), None) is not None

    async def set_tags(self, tenant_id: str, config_id: str, tags: LensTags) -> bool:
        found = self._records.get((tenant_id, config_id))
        if found is None:
            return False
        self._records[(tenant_id, config_id)] = replace(found, tags=tags)
        return True

    async def enabled(self) -> Sequence[StorageLensRecord]:
        return sorted(
            (r for r in self._records.values() if r.is_enabled),
            key=lambda r: (r.tenant_id, r.config_id),
        )

    async def claim_export(
        self, tenant_id: str, config_id: str, slot: str, *, now: datetime, until: datetime
    ) -> bool:
        key = (tenant_id, config_id)
        if key not in self._records:
            return False
        written, claimed = self._exports.get(key, (None, None))
        if written == slot or (claimed is not None and claimed > now):
            return False
        self._exports[key] = (written, until)
        return True

    async def exported(self, tenant_id: str, config_id: str, slot: str) -> None:
        if (tenant_id, config_id) in self._records:
            self._exports[(tenant_id, config_id)] = (slot, None)


_T = tables.storage_lens_configurations


def _tags_json(tags: LensTags) -> str:
    return json.dumps([list(pair) for pair in tags], separators=(",", ":"))


def _record(row: sa.Row[tuple[object, ...]]) -> StorageLensRecord:
    m = row._mapping
    return StorageLensRecord(
        tenant_id=m["tenant_id"],
        config_id=m["config_id"],
        is_enabled=bool(m["is_enabled"]),
        document=m["document"],
        tags=tuple((str(k), str(v)) for k, v in json.loads(m["tags"])),
        updated_at=m["updated_at"],
    )


class SqlStorageLensStore:
    """Storage Lens configurations in the metadata database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def put(self, record: StorageLensRecord, *, quota: int, keep_tags: bool) -> None:
        key = (_T.c.tenant_id == record.tenant_id, _T.c.config_id == record.config_id)
        count_q = sa.select(sa.func.count()).where(_T.c.tenant_id == record.tenant_id)
        values = {
            "is_enabled": record.is_enabled,
            "document": record.document,
            "format_version": _FORMAT_VERSION,
            "updated_at": record.updated_at,
        }
        tags = _tags_json(record.tags)

        def work(conn: Connection) -> None:
            if conn.execute(sa.select(_T.c.config_id).where(*key)).first() is not None:
                changed = values if keep_tags else {**values, "tags": tags}
                conn.execute(_T.update().where(*key).values(**changed))
                return
            # As for access points: two gateways at once may both pass the count; the quota
            # guards against runaway scripts, not a race of two calls.
            if int(conn.execute(count_q).scalar_one()) >= quota:
                raise StorageLensQuotaExceeded(record.tenant_id)
            row = {
                "tenant_id": record.tenant_id,
                "config_id": record.config_id,
                "tags": tags,
                **values,
            }
            conn.execute(_T.insert(), [row])

        await self._db.write(work)

    async def get(self, tenant_id: str, config_id: str) -> StorageLensRecord | None:
        query = sa.select(_T).where(_T.c.tenant_id == tenant_id, _T.c.config_id == config_id)
        row = await self._db.read(lambda conn: conn.execute(query).first())
        return None if row is None else _record(row)

    async def list(
        self, tenant_id: str, *, after: str | None, limit: int
    ) -> Sequence[StorageLensRecord]:
        query = sa.select(_T).where(_T.c.tenant_id == tenant_id)
        if after is not None:
            query = query.where(_T.c.config_id > after)
        query = query.order_by(_T.c.config_id).limit(limit)
        rows = await self._db.read(lambda conn: conn.execute(query).all())
        return [_record(row) for row in rows]

    async def delete(self, tenant_id: str, config_id: str) -> bool:
        statement = _T.delete().where(_T.c.tenant_id == tenant_id, _T.c.config_id == config_id)
        result = await self._db.write(lambda conn: conn.execute(statement))
        return bool(result.rowcount)

    async def set_tags(self, tenant_id: str, config_id: str, tags: LensTags) -> bool:
        statement = (
            _T.update()
            .where(_T.c.tenant_id == tenant_id, _T.c.config_id == config_id)
            .values(tags=_tags_json(tags))
        )
        result = await self._db.write(lambda conn: conn.execute(statement))
        return bool(result.rowcount)

    async def enabled(self) -> Sequence[StorageLensRecord]:
        query = (
            sa.select(_T).where(_T.c.is_enabled.is_(True)).order_by(_T.c.tenant_id, _T.c.config_id)
        )
        rows = await self._db.read(lambda conn: conn.execute(query).all())
        return [_record(row) for row in rows]

    async def claim_export(
        self, tenant_id: str, config_id: str, slot: str, *, now: datetime, until: datetime
    ) -> bool:
        statement = (
            _T.update()
            .where(
                _T.c.tenant_id == tenant_id,
                _T.c.config_id == config_id,
                sa.or_(_T.c.exported_slot.is_(None), _T.c.exported_slot != slot),
                sa.or_(_T.c.claimed_until.is_(None), _T.c.claimed_until <= now),
            )
            .values(claimed_until=until)
        )
        result = await self._db.write(lambda conn: conn.execute(statement))
        return bool(result.rowcount)

    async def exported(self, tenant_id: str, config_id: str, slot: str) -> None:
        statement = (
            _T.update()
            .where(_T.c.tenant_id == tenant_id, _T.c.config_id == config_id)
            .values(exported_slot=slot, claimed_until=None)
        )
        await self._db.write(lambda conn: conn.execute(statement))
