"""The external key store records on SQLAlchemy Core (SQLite embedded, PostgreSQL distributed).

Uniqueness (a name, a proxy URI per account) is the database's: a conflicting write fails on
its unique constraint and is told apart by reading which one. The per-account limit is counted
in the inserting transaction, the account's stores locked on PostgreSQL (SQLite's writes are
serial), so two gateways creating at once cannot pass it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.db.types import utc_from_stored
from andromede.kms.xks_errors import (
    CustomKeyStoreLimitExceeded,
    CustomKeyStoreNameInUse,
    CustomKeyStoreNotFound,
    XksProxyUriInUse,
)
from andromede.kms.xks_model import ConnectionErrorCode, ConnectionState, CustomKeyStore

__all__ = ["SqlCustomKeyStoreStore"]

_S = tables.kms_custom_key_stores


def _row(store: CustomKeyStore) -> dict[str, Any]:
    return {
        "store_id": store.store_id,
        "tenant_id": store.tenant_id,
        "name": store.name,
        "store_type": store.store_type,
        "connectivity": store.connectivity,
        "endpoint": store.endpoint,
        "uri_path": store.uri_path,
        "access_key_id": store.access_key_id,
        "sealed_secret": store.sealed_secret,
        "state": store.state.value,
        "error_code": None if store.error_code is None else store.error_code.value,
        "created_at": store.created_at,
        "format_version": store.format_version,
        "revision": store.revision,
    }


def _store(row: Any) -> CustomKeyStore:
    return CustomKeyStore(
        store_id=row.store_id,
        tenant_id=row.tenant_id,
        name=row.name,
        created_at=utc_from_stored(row.created_at),
        endpoint=row.endpoint,
        uri_path=row.uri_path,
        access_key_id=row.access_key_id,
        sealed_secret=row.sealed_secret,
        connectivity=row.connectivity,
        state=ConnectionState(row.state),
        error_code=None if row.error_code is None else ConnectionErrorCode(row.error_code),
        store_type=row.store_type,
        format_version=int(row.format_version),
        revision=int(row.revision),
    )


class SqlCustomKeyStoreStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def _conflict(self, store: CustomKeyStore) -> Exception:
        """Which uniqueness rule ``store`` broke (read after its write failed)."""
        same_name = sa.select(_S.c.store_id).where(
            _S.c.tenant_id == store.tenant_id,
            _S.c.name == store.name,
            _S.c.store_id != store.store_id,
        )
        if await self._db.read(lambda conn: conn.execute(same_name).first()) is not None:
            return CustomKeyStoreNameInUse(f"A custom key store named {store.name} exists")
        return XksProxyUriInUse("Another external key store uses this proxy URI")

    async def insert_store(self, store: CustomKeyStore, *, limit: int) -> None:
        lock = sa.select(_S.c.store_id).where(_S.c.tenant_id == store.tenant_id).with_for_update()
        count = sa.select(sa.func.count()).select_from(_S).where(_S.c.tenant_id == store.tenant_id)
        insert = _S.insert().values(**_row(store))

        def work(conn: Connection) -> None:
            conn.execute(lock).all()
            if int(conn.execute(count).scalar_one()) >= limit:
                raise CustomKeyStoreLimitExceeded(
                    f"An account has at most {limit} custom key stores"
                )
            conn.execute(insert)

        try:
            await self._db.write(work)
        except sa.exc.IntegrityError:
            raise await self._conflict(store) from None

    async def get_store(self, tenant_id: str, store_id: str) -> CustomKeyStore | None:
        query = sa.select(_S).where(_S.c.store_id == store_id, _S.c.tenant_id == tenant_id)
        row = await self._db.read(lambda conn: conn.execute(query).first())
        return None if row is None else _store(row)

    async def find_store(self, tenant_id: str, name: str) -> CustomKeyStore | None:
        query = sa.select(_S).where(_S.c.tenant_id == tenant_id, _S.c.name == name)
        row = await self._db.read(lambda conn: conn.execute(query).first())
        return None if row is None else _store(row)

    async def list_stores(
        self, tenant_id: str, *, after: str | None, limit: int
    ) -> list[CustomKeyStore]:
        query = sa.select(_S).where(_S.c.tenant_id == tenant_id)
        if after is not None:
            query = query.where(_S.c.store_id > after)
        query = query.order_by(_S.c.store_id).limit(limit)
        rows = await self._db.read(lambda conn: list(conn.execute(query).all()))
        return [_store(r) for r in rows]

    async def replace_store(self, store: CustomKeyStore) -> bool:
        row = {**_row(store), "revision": store.revision + 1}
        statement = (
            _S.update()
            .where(
                _S.c.store_id == store.store_id,
                _S.c.tenant_id == store.tenant_id,
                _S.c.revision == store.revision,
            )
            .values(**row)
        )
        exists = sa.select(_S.c.store_id).where(
            _S.c.store_id == store.store_id, _S.c.tenant_id == store.tenant_id
        )

        def work(conn: Connection) -> bool:
            if conn.execute(statement).rowcount:
                return True
            if conn.execute(exists).first() is None:
                raise CustomKeyStoreNotFound(f"Custom key store {store.store_id} does not exist")
            return False

        try:
            return await self._db.write(work)
        except sa.exc.IntegrityError:
            raise await self._conflict(store) from None

    async def delete_store(self, tenant_id: str, store_id: str) -> bool:
        statement = _S.delete().where(_S.c.store_id == store_id, _S.c.tenant_id == tenant_id)
        return bool(await self._db.write(lambda conn: conn.execute(statement).rowcount))
