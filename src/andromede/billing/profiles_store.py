"""Where tenants' billing profiles are kept (decision 0126): one per tenant, replaced whole
when it changes (its history is the tenant's audit log, and each invoice's copy).

:class:`MemoryBillingProfileStore` (tests) and :class:`SqlBillingProfileStore` (migration
0051), held to one contract suite.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.billing.profile import BillingProfile
from andromede.db import tables
from andromede.db.database import Database
from andromede.db.statements import Upsert

__all__ = ["BillingProfileStore", "MemoryBillingProfileStore", "SqlBillingProfileStore"]


class BillingProfileStore(Protocol):
    async def profile(self, tenant_id: str) -> BillingProfile | None: ...

    async def put_profile(self, tenant_id: str, profile: BillingProfile, at: datetime) -> None:
        """Set the tenant's profile, replacing the one it had."""
        ...


class MemoryBillingProfileStore:
    def __init__(self) -> None:
        self._profiles: dict[str, BillingProfile] = {}

    async def profile(self, tenant_id: str) -> BillingProfile | None:
        return self._profiles.get(tenant_id)

    async def put_profile(self, tenant_id: str, profile: BillingProfile, at: datetime) -> None:
        self._profiles[tenant_id] = profile


_P = tables.billing_profiles
_PUT = Upsert(_P, ["tenant_id"])


class SqlBillingProfileStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def profile(self, tenant_id: str) -> BillingProfile | None:
        query = sa.select(_P.c.document).where(_P.c.tenant_id == tenant_id)

        def work(conn: Connection) -> Any:
            return conn.execute(query).scalar_one_or_none()

        found = await self._db.read(work)
        return None if found is None else BillingProfile.from_json(found)

    async def put_profile(self, tenant_id: str, profile: BillingProfile, at: datetime) -> None:
        values = {"tenant_id": tenant_id, "updated_at": at, "document": profile.to_json()}
        await self._db.write(lambda conn: _PUT(conn, values))
