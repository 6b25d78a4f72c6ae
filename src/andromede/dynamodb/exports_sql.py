"""DynamoDB's export and import jobs over the metadata database (decision 0261, migration
0125): one ``dynamodb_jobs`` row per job, its record a JSON document with a format version;
a client token is unique per account and kind, so two gateways starting the same token's job
at once make one (the loser answers the winner's)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from andromede.db import tables
from andromede.db.database import Database
from andromede.dynamodb.exports import ExportJob, ImportJob, ImportSource, JobStatus

__all__ = ["SqlExportStore"]

_J = tables.dynamodb_jobs
FORMAT_VERSION: Final = 1
_EXPORT: Final = "export"
_IMPORT: Final = "import"


def _document(job: ExportJob | ImportJob) -> str:
    fields = dataclasses.asdict(job)
    fields["status"] = job.status.value
    return json.dumps(fields, sort_keys=True)


def _export(document: str) -> ExportJob:
    fields: dict[str, Any] = json.loads(document)
    fields["status"] = JobStatus(fields["status"])
    return ExportJob(**fields)


def _import(document: str) -> ImportJob:
    fields: dict[str, Any] = json.loads(document)
    fields["status"] = JobStatus(fields["status"])
    source = fields["source"]
    source["header"] = tuple(source["header"])
    fields["source"] = ImportSource(**source)
    return ImportJob(**fields)


class SqlExportStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def _put(self, kind: str, job: ExportJob | ImportJob) -> str:
        """The document of the job saved, or of the account's job holding its token."""
        key = (_J.c.tenant_id == job.tenant_id, _J.c.kind == kind)
        values = {
            "table_arn": job.table_arn,
            "client_token": job.client_token,
            "status": job.status.value,
            "document": _document(job),
            "format_version": FORMAT_VERSION,
        }

        def work(conn: Connection) -> str:
            held = conn.execute(
                sa.select(_J.c.arn, _J.c.document).where(
                    *key, _J.c.client_token == job.client_token
                )
            ).first()
            if held is not None and held[0] != job.arn:
                return str(held[1])
            if held is None:
                conn.execute(
                    sa.insert(_J).values(tenant_id=job.tenant_id, kind=kind, arn=job.arn, **values)
                )
            else:
                conn.execute(sa.update(_J).where(*key, _J.c.arn == job.arn).values(**values))
            return values["document"]  # type: ignore[return-value]

        try:
            return await self._db.write(work)
        except IntegrityError:  # another gateway took the token between the read and the write
            return await self._db.write(work)

    async def put_export(self, job: ExportJob) -> ExportJob:
        return _export(await self._put(_EXPORT, job))

    async def put_import(self, job: ImportJob) -> ImportJob:
        return _import(await self._put(_IMPORT, job))

    async def _get(self, kind: str, tenant_id: str, arn: str) -> str | None:
        query = sa.select(_J.c.document).where(
            _J.c.tenant_id == tenant_id, _J.c.kind == kind, _J.c.arn == arn
        )

        def work(conn: Connection) -> str | None:
            row = conn.execute(query).first()
            return None if row is None else str(row[0])

        return await self._db.read(work)

    async def import_by_token(self, tenant_id: str, client_token: str) -> ImportJob | None:
        query = sa.select(_J.c.document).where(
            _J.c.tenant_id == tenant_id, _J.c.kind == _IMPORT, _J.c.client_token == client_token
        )

        def work(conn: Connection) -> str | None:
            row = conn.execute(query).first()
            return None if row is None else str(row[0])

        found = await self._db.read(work)
        return None if found is None else _import(found)

    async def get_export(self, tenant_id: str, arn: str) -> ExportJob | None:
        found = await self._get(_EXPORT, tenant_id, arn)
        return None if found is None else _export(found)

    async def get_import(self, tenant_id: str, arn: str) -> ImportJob | None:
        found = await self._get(_IMPORT, tenant_id, arn)
        return None if found is None else _import(found)

    async def _list(
        self, kind: str, tenant_id: str, table_arn: str | None, after: str | None, limit: int
    ) -> list[str]:
        query = sa.select(_J.c.document).where(_J.c.tenant_id == tenant_id, _J.c.kind == kind)
        if table_arn is not None:
            query = query.where(_J.c.table_arn == table_arn)
        if after is not None:
            query = query.where(_J.c.arn > after)
        query = query.order_by(_J.c.arn).limit(limit)

        def work(conn: Connection) -> list[str]:
            return [str(r[0]) for r in conn.execute(query)]

        return await self._db.read(work)

    async def list_exports(
        self, tenant_id: str, table_arn: str | None, after: str | None, limit: int
    ) -> list[ExportJob]:
        return [_export(d) for d in await self._list(_EXPORT, tenant_id, table_arn, after, limit)]

    async def list_imports(
        self, tenant_id: str, table_arn: str | None, after: str | None, limit: int
    ) -> list[ImportJob]:
        return [_import(d) for d in await self._list(_IMPORT, tenant_id, table_arn, after, limit)]

    async def unfinished(self) -> tuple[list[ExportJob], list[ImportJob]]:
        query = sa.select(_J.c.kind, _J.c.document).where(
            _J.c.status == JobStatus.IN_PROGRESS.value
        )

        def work(conn: Connection) -> list[tuple[str, str]]:
            return [(str(r[0]), str(r[1])) for r in conn.execute(query)]

        rows = await self._db.read(work)
        return (
            [_export(d) for k, d in rows if k == _EXPORT],
            [_import(d) for k, d in rows if k == _IMPORT],
        )

    async def forget_tenant(self, tenant_id: str) -> int:
        statement = sa.delete(_J).where(_J.c.tenant_id == tenant_id)

        def work(conn: Connection) -> int:
            return int(conn.execute(statement).rowcount)

        return await self._db.write(work)
