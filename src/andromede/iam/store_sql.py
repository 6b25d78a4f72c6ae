"""Identity store on SQLAlchemy Core (SQLite now, PostgreSQL with the distributed issue)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.iam.errors import TenantAlreadyExists
from andromede.iam.model import AccessKey, AccessKeyStatus, Tenant, TenantStatus, User

__all__ = ["SqlIdentityStore"]


class SqlIdentityStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def count_tenants(self) -> int:
        query = sa.select(sa.func.count()).select_from(tables.tenants)
        count = await self._db.read(lambda conn: conn.scalar(query))
        return int(count or 0)

    async def create_tenant_with_root(
        self, tenant: Tenant, root: User, key: AccessKey, secret_sealed: str
    ) -> None:
        def work(conn: Connection) -> None:
            conn.execute(
                tables.tenants.insert().values(
                    id=tenant.id,
                    name=tenant.name,
                    status=tenant.status.value,
                    created_at=tenant.created_at,
                )
            )
            conn.execute(
                tables.users.insert().values(
                    id=root.id,
                    tenant_id=root.tenant_id,
                    name=root.name,
                    is_root=root.is_root,
                    created_at=root.created_at,
                )
            )
            conn.execute(
                tables.access_keys.insert().values(
                    access_key_id=key.access_key_id,
                    user_id=key.user_id,
                    secret_sealed=secret_sealed,
                    status=key.status.value,
                    created_at=key.created_at,
                    last_used_at=key.last_used_at,
                )
            )

        try:
            await self._db.write(work)
        except sa.exc.IntegrityError as exc:
            raise TenantAlreadyExists(tenant.name) from exc

    async def _first(self, query: sa.Select[Any]) -> Any:
        return await self._db.read(lambda conn: conn.execute(query).first())

    async def get_tenant(self, tenant_id: str) -> Tenant | None:
        t = tables.tenants
        row = await self._first(sa.select(t).where(t.c.id == tenant_id))
        if row is None:
            return None
        return Tenant(
            id=row.id, name=row.name, status=TenantStatus(row.status), created_at=row.created_at
        )

    async def get_user(self, user_id: str) -> User | None:
        u = tables.users
        row = await self._first(sa.select(u).where(u.c.id == user_id))
        if row is None:
            return None
        return User(
            id=row.id,
            tenant_id=row.tenant_id,
            name=row.name,
            is_root=bool(row.is_root),
            created_at=row.created_at,
        )

    async def get_access_key(self, access_key_id: str) -> tuple[AccessKey, str] | None:
        k = tables.access_keys
        row = await self._first(sa.select(k).where(k.c.access_key_id == access_key_id))
        if row is None:
            return None
        key = AccessKey(
            access_key_id=row.access_key_id,
            user_id=row.user_id,
            status=AccessKeyStatus(row.status),
            created_at=row.created_at,
            last_used_at=row.last_used_at,
        )
        return key, str(row.secret_sealed)
