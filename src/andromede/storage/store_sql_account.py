"""The SQL metadata store's account-level settings: the account's S3 Block Public Access
(S3 Control's PutPublicAccessBlock, decision 0152), one row per tenant.

Mixed into :class:`~andromede.storage.store_sql.SqlMetadataStore`; split off only for size.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.db.statements import RowQuery
from andromede.storage.model import PublicAccessBlock

__all__ = ["SqlAccountMixin"]

_A = tables.account_public_access_blocks
# The row's format: PublicAccessBlock's JSON list of its four switches.
_FORMAT_VERSION = 1
_READ = RowQuery(sa.select(_A.c.configuration).where(_A.c.tenant_id == sa.bindparam("tenant_id")))


class SqlAccountMixin:
    """Account-level settings (mixed into :class:`SqlMetadataStore`)."""

    _db: Database

    async def get_account_public_access_block(self, tenant_id: str) -> PublicAccessBlock | None:
        row = await self._db.read_row(_READ, {"tenant_id": tenant_id})
        return None if row is None else PublicAccessBlock.from_json(row[0])

    async def put_account_public_access_block(
        self, tenant_id: str, block: PublicAccessBlock | None
    ) -> None:
        def work(conn: Connection) -> None:
            # Delete then insert: one portable upsert for SQLite and PostgreSQL, in one job.
            conn.execute(_A.delete().where(_A.c.tenant_id == tenant_id))
            if block is not None:
                conn.execute(
                    _A.insert().values(
                        tenant_id=tenant_id,
                        configuration=block.to_json(),
                        format_version=_FORMAT_VERSION,
                        updated_at=datetime.now(UTC),
                    )
                )

        await self._db.write(work)
