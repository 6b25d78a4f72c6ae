"""The SQL identity store's SAML providers and used SAML assertions (decision 0095).

Mixed into :class:`~andromede.iam.store_sql.SqlIdentityStore`; split off only for size. A
provider's key is its account and name, so two gateways creating the same provider at once
cannot both succeed. A used assertion's key is its account and a hash of its issuer and ID: the
insert of the second use of one fails on it, whichever gateway it reaches, which is what makes
an assertion good once across a cluster.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.iam.errors import EntityAlreadyExists, NoSuchEntity
from andromede.iam.model import SamlProvider
from andromede.iam.store_sql_profiles import stored_tags, tags_text

__all__ = ["SqlSamlProvidersMixin"]


def _provider(row: Any) -> SamlProvider:
    return SamlProvider(
        tenant_id=row.tenant_id,
        name=row.name,
        uuid=row.uuid,
        metadata=row.metadata,
        entity_id=row.entity_id,
        certificates=tuple(json.loads(row.certificates)),
        created_at=row.created_at,
        valid_until=row.valid_until,
        tags=stored_tags(row.tags),
    )


class SqlSamlProvidersMixin:
    _db: Database

    async def create_saml_provider(self, provider: SamlProvider) -> None:
        statement = tables.iam_saml_providers.insert().values(
            tenant_id=provider.tenant_id,
            name=provider.name,
            uuid=provider.uuid,
            metadata=provider.metadata,
            entity_id=provider.entity_id,
            certificates=json.dumps(list(provider.certificates)),
            created_at=provider.created_at,
            valid_until=provider.valid_until,
            tags=tags_text(provider.tags),
        )
        try:
            await self._db.write(lambda conn: conn.execute(statement))
        except sa.exc.IntegrityError as exc:
            raise EntityAlreadyExists(provider.name) from exc

    async def get_saml_provider(self, tenant_id: str, name: str) -> SamlProvider | None:
        s = tables.iam_saml_providers
        query = sa.select(s).where(s.c.tenant_id == tenant_id, s.c.name == name)
        row = await self._db.read(lambda conn: conn.execute(query).first())
        return None if row is None else _provider(row)

    async def list_saml_providers(self, tenant_id: str) -> list[SamlProvider]:
        s = tables.iam_saml_providers
        query = sa.select(s).where(s.c.tenant_id == tenant_id).order_by(s.c.name)
        rows = await self._db.read(lambda conn: list(conn.execute(query)))
        return [_provider(row) for row in rows]

    async def update_saml_provider(self, provider: SamlProvider, read: SamlProvider) -> bool:
        s = tables.iam_saml_providers
        where = (s.c.tenant_id == provider.tenant_id, s.c.name == provider.name)
        # Compare-and-set on what was read (the stored texts are what these functions wrote).
        unchanged = (
            s.c.metadata == read.metadata,
            s.c.tags.is_(None)
            if tags_text(read.tags) is None
            else s.c.tags == tags_text(read.tags),
        )
        statement = (
            s.update()
            .where(*where, *unchanged)
            .values(
                metadata=provider.metadata,
                entity_id=provider.entity_id,
                certificates=json.dumps(list(provider.certificates)),
                valid_until=provider.valid_until,
                tags=tags_text(provider.tags),
            )
        )
        exists = sa.select(s.c.name).where(*where)

        def work(conn: Connection) -> bool:
            if conn.execute(statement).rowcount == 1:
                return True
            if conn.execute(exists).first() is None:
                raise NoSuchEntity(provider.name)
            return False

        return bool(await self._db.write(work))

    async def delete_saml_provider(self, tenant_id: str, name: str) -> bool:
        s = tables.iam_saml_providers
        statement = s.delete().where(s.c.tenant_id == tenant_id, s.c.name == name)
        return bool(await self._db.write(lambda conn: conn.execute(statement).rowcount))

    async def use_saml_assertion(
        self, tenant_id: str, assertion_key: str, expires_at: datetime, now: datetime
    ) -> bool:
        a = tables.iam_saml_assertions
        purge = a.delete().where(a.c.expires_at <= now)
        insert = a.insert().values(
            tenant_id=tenant_id, assertion_key=assertion_key, expires_at=expires_at
        )

        def work(conn: Connection) -> None:
            conn.execute(purge)
            conn.execute(insert)

        try:
            await self._db.write(work)
        except sa.exc.IntegrityError:
            return False  # the key is there: the assertion was used (the purge rolls back too)
        return True
