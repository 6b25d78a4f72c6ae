"""The SQL identity store's credential reports and service-last-accessed jobs (decision 0193):
an account's last report, one row replaced by each generation, so every gateway serves the same
report; and the last job per entity of an account, replaced the same way.

Mixed into :class:`~andromede.iam.store_sql.SqlIdentityStore`; split off only for size.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.iam.model import AccessJob

__all__ = ["REPORT_FORMAT_VERSION", "SqlCredentialReportsMixin"]

# The CSV's columns are AWS's; a change of them (a new AWS column) bumps this.
REPORT_FORMAT_VERSION = 1


class SqlCredentialReportsMixin:
    _db: Database

    async def put_credential_report(
        self, tenant_id: str, generated_at: datetime, content: str
    ) -> None:
        table = tables.iam_credential_reports

        def work(conn: Connection) -> None:
            conn.execute(table.delete().where(table.c.tenant_id == tenant_id))
            conn.execute(
                table.insert().values(
                    tenant_id=tenant_id,
                    generated_at=generated_at,
                    content=content,
                    format_version=REPORT_FORMAT_VERSION,
                )
            )

        await self._db.write(work)

    async def get_credential_report(self, tenant_id: str) -> tuple[datetime, str] | None:
        table = tables.iam_credential_reports
        query = sa.select(table.c.generated_at, table.c.content).where(
            table.c.tenant_id == tenant_id
        )
        row = await self._db.read(lambda conn: conn.execute(query).first())
        return None if row is None else (row.generated_at, row.content)

    async def put_access_job(self, job: AccessJob) -> None:
        table = tables.iam_access_jobs

        def work(conn: Connection) -> None:
            conn.execute(
                table.delete().where(table.c.tenant_id == job.tenant_id, table.c.arn == job.arn)
            )
            conn.execute(
                table.insert().values(
                    job_id=job.job_id,
                    tenant_id=job.tenant_id,
                    arn=job.arn,
                    granularity=job.granularity,
                    created_at=job.created_at,
                )
            )

        await self._db.write(work)

    async def get_access_job(self, tenant_id: str, job_id: str) -> AccessJob | None:
        table = tables.iam_access_jobs
        query = sa.select(table).where(table.c.tenant_id == tenant_id, table.c.job_id == job_id)
        row = await self._db.read(lambda conn: conn.execute(query).first())
        if row is None:
            return None
        return AccessJob(row.job_id, row.tenant_id, row.arn, row.granularity, row.created_at)
