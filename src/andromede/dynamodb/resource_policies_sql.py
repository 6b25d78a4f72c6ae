"""The resource policies of DynamoDB tables and streams over the metadata database
(decision 0266, migration 0128): each conditional write checks the stored revision in the
statement that changes the row, so two gateways writing one policy at once cannot both win."""

from __future__ import annotations

from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from andromede.db import tables
from andromede.db.database import Database
from andromede.dynamodb.resource_policies import ResourcePolicy

__all__ = ["SqlResourcePolicyStore"]

_P = tables.dynamodb_resource_policies
FORMAT_VERSION: Final = 1


def _policy(m: Any) -> ResourcePolicy:
    return ResourcePolicy(
        tenant_id=str(m["tenant_id"]),
        resource_arn=str(m["resource_arn"]),
        table_name=str(m["table_name"]),
        table_created=int(m["table_created"]),
        text=str(m["policy"]),
        revision_id=str(m["revision_id"]),
    )


def _of(tenant_id: str, resource_arn: str) -> Any:
    return sa.and_(_P.c.tenant_id == tenant_id, _P.c.resource_arn == resource_arn)


class SqlResourcePolicyStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get_policy(self, tenant_id: str, resource_arn: str) -> ResourcePolicy | None:
        query = sa.select(_P).where(_of(tenant_id, resource_arn))

        def work(conn: Connection) -> ResourcePolicy | None:
            row = conn.execute(query).mappings().first()
            return None if row is None else _policy(row)

        return await self._db.read(work)

    async def replace_policy(self, policy: ResourcePolicy, expected: str | None) -> bool:
        values = {
            "table_name": policy.table_name,
            "table_created": policy.table_created,
            "policy": policy.text,
            "revision_id": policy.revision_id,
            "format_version": FORMAT_VERSION,
        }

        def work(conn: Connection) -> bool:
            if expected is None:
                conn.execute(
                    sa.insert(_P).values(
                        tenant_id=policy.tenant_id, resource_arn=policy.resource_arn, **values
                    )
                )
                return True
            changed = conn.execute(
                sa.update(_P)
                .where(_of(policy.tenant_id, policy.resource_arn), _P.c.revision_id == expected)
                .values(**values)
            ).rowcount
            return bool(changed == 1)

        try:
            return await self._db.write(work)
        except IntegrityError:  # another gateway wrote the first policy in between
            return False

    async def delete_policy(self, tenant_id: str, resource_arn: str, expected: str) -> bool:
        statement = sa.delete(_P).where(_of(tenant_id, resource_arn), _P.c.revision_id == expected)
        return await self._db.write(lambda conn: bool(conn.execute(statement).rowcount == 1))

    async def drop_table_policies(self, tenant_id: str, table_arn: str) -> int:
        statement = sa.delete(_P).where(
            _P.c.tenant_id == tenant_id,
            sa.or_(
                _P.c.resource_arn == table_arn,
                _P.c.resource_arn.startswith(f"{table_arn}/", autoescape=True),
            ),
        )
        return await self._db.write(lambda conn: int(conn.execute(statement).rowcount))

    async def forget_tenant(self, tenant_id: str) -> int:
        statement = sa.delete(_P).where(_P.c.tenant_id == tenant_id)
        return await self._db.write(lambda conn: int(conn.execute(statement).rowcount))
