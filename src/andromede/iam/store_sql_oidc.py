"""The SQL identity store's OpenID Connect providers (decision 0087).

Mixed into :class:`~andromede.iam.store_sql.SqlIdentityStore`; split off only for size. The
provider's key is its account and URL, so two gateways creating the same provider at once
cannot both succeed. Client ids and thumbprints are JSON lists in their columns: they are read
and written whole, never queried.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.iam.errors import EntityAlreadyExists, NoSuchEntity
from andromede.iam.model import OidcProvider
from andromede.iam.store_sql_profiles import stored_tags, tags_text

__all__ = ["SqlOidcProvidersMixin"]


def _provider(row: Any) -> OidcProvider:
    return OidcProvider(
        tenant_id=row.tenant_id,
        url=row.url,
        client_ids=tuple(json.loads(row.client_ids)),
        thumbprints=tuple(json.loads(row.thumbprints)),
        created_at=row.created_at,
        tags=stored_tags(row.tags),
    )


class SqlOidcProvidersMixin:
    _db: Database

    async def create_oidc_provider(self, provider: OidcProvider) -> None:
        statement = tables.iam_oidc_providers.insert().values(
            tenant_id=provider.tenant_id,
            url=provider.url,
            client_ids=json.dumps(list(provider.client_ids)),
            thumbprints=json.dumps(list(provider.thumbprints)),
            created_at=provider.created_at,
            tags=tags_text(provider.tags),
        )
        try:
            await self._db.write(lambda conn: conn.execute(statement))
        except sa.exc.IntegrityError as exc:
            raise EntityAlreadyExists(provider.url) from exc

    async def get_oidc_provider(self, tenant_id: str, url: str) -> OidcProvider | None:
        o = tables.iam_oidc_providers
        query = sa.select(o).where(o.c.tenant_id == tenant_id, o.c.url == url)
        row = await self._db.read(lambda conn: conn.execute(query).first())
        return None if row is None else _provider(row)

    async def list_oidc_providers(self, tenant_id: str) -> list[OidcProvider]:
        o = tables.iam_oidc_providers
        query = sa.select(o).where(o.c.tenant_id == tenant_id).order_by(o.c.url)
        rows = await self._db.read(lambda conn: list(conn.execute(query)))
        return [_provider(row) for row in rows]

    async def update_oidc_provider(self, provider: OidcProvider, read: OidcProvider) -> bool:
        o = tables.iam_oidc_providers
        where = (o.c.tenant_id == provider.tenant_id, o.c.url == provider.url)
        # Compare-and-set on what was read (the stored texts are what these functions wrote).
        unchanged = (
            o.c.client_ids == json.dumps(list(read.client_ids)),
            o.c.thumbprints == json.dumps(list(read.thumbprints)),
            o.c.tags.is_(None)
            if tags_text(read.tags) is None
            else o.c.tags == tags_text(read.tags),
        )
        statement = (
            o.update()
            .where(*where, *unchanged)
            .values(
                client_ids=json.dumps(list(provider.client_ids)),
                thumbprints=json.dumps(list(provider.thumbprints)),
                tags=tags_text(provider.tags),
            )
        )

        exists = sa.select(o.c.url).where(*where)

        def work(conn: Connection) -> bool:
            if conn.execute(statement).rowcount == 1:
                return True
            if conn.execute(exists).first() is None:
                raise NoSuchEntity(provider.url)
            return False

        return bool(await self._db.write(work))

    async def delete_oidc_provider(self, tenant_id: str, url: str) -> bool:
        o = tables.iam_oidc_providers
        statement = o.delete().where(o.c.tenant_id == tenant_id, o.c.url == url)
        return bool(await self._db.write(lambda conn: conn.execute(statement).rowcount))
