"""The in-memory :class:`~andromede.dynamodb.exports.ExportStore` (tests, and the twin the
contract suite holds the SQL store to)."""

from __future__ import annotations

from andromede.dynamodb.exports import ExportJob, ImportJob, JobStatus

__all__ = ["MemoryExportStore"]


class MemoryExportStore:
    def __init__(self) -> None:
        self._exports: dict[tuple[str, str], ExportJob] = {}
        self._imports: dict[tuple[str, str], ImportJob] = {}

    async def put_export(self, job: ExportJob) -> ExportJob:
        for held in self._exports.values():
            if (
                held.tenant_id == job.tenant_id
                and held.client_token == job.client_token
                and held.export_id != job.export_id
            ):
                return held
        self._exports[(job.tenant_id, job.arn)] = job
        return job

    async def get_export(self, tenant_id: str, arn: str) -> ExportJob | None:
        return self._exports.get((tenant_id, arn))

    async def list_exports(
        self, tenant_id: str, table_arn: str | None, after: str | None, limit: int
    ) -> list[ExportJob]:
        found = sorted(
            (
                j
                for (t, a), j in self._exports.items()
                if t == tenant_id and (after is None or a > after)
            ),
            key=lambda j: j.arn,
        )
        return [j for j in found if table_arn is None or j.table_arn == table_arn][:limit]

    async def put_import(self, job: ImportJob) -> ImportJob:
        for held in self._imports.values():
            if (
                held.tenant_id == job.tenant_id
                and held.client_token == job.client_token
                and held.import_id != job.import_id
            ):
                return held
        self._imports[(job.tenant_id, job.arn)] = job
        return job

    async def import_by_token(self, tenant_id: str, client_token: str) -> ImportJob | None:
        return next(
            (
                j
                for j in self._imports.values()
                if j.tenant_id == tenant_id and j.client_token == client_token
            ),
            None,
        )

    async def get_import(self, tenant_id: str, arn: str) -> ImportJob | None:
        return self._imports.get((tenant_id, arn))

    async def list_imports(
        self, tenant_id: str, table_arn: str | None, after: str | None, limit: int
    ) -> list[ImportJob]:
        found = sorted(
            (
                j
                for (t, a), j in self._imports.items()
                if t == tenant_id and (after is None or a > after)
            ),
            key=lambda j: j.arn,
        )
        return [j for j in found if table_arn is None or j.table_arn == table_arn][:limit]

    async def unfinished(self) -> tuple[list[ExportJob], list[ImportJob]]:
        return (
            [j for j in self._exports.values() if j.status is JobStatus.IN_PROGRESS],
            [j for j in self._imports.values() if j.status is JobStatus.IN_PROGRESS],
        )

    async def forget_tenant(self, tenant_id: str) -> int:
        exports = [k for k in self._exports if k[0] == tenant_id]
        imports = [k for k in self._imports if k[0] == tenant_id]
        for key in exports:
            del self._exports[key]
        for ikey in imports:
            del self._imports[ikey]
        return len(exports) + len(imports)
