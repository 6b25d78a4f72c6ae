"""The CMK metadata store on SQLAlchemy Core (SQLite embedded, PostgreSQL distributed).

Each method is one read or one write job of :class:`andromede.db.database.Database`. Key ids
and alias names compare in byte order (``key_text``) so listings page alike on both engines.
Concurrent changes to one key are optimistic: a record carries a revision, a write names the
revision it was computed from and fails (the service reads again and re-validates) if another
gateway changed the key in between. Deletion is claimed by a conditional DELETE, so a deletion
cancelled at the last moment is never carried out. A rotation under a quota locks its key's row
(PostgreSQL; SQLite's writes are serial) while it counts and records, so two gateways rotating
at once cannot pass the quota.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.db.types import utc_from_stored
from andromede.kms.keys_errors import AliasAlreadyExists, CmkNotFound
from andromede.kms.keys_model import (
    Alias,
    CustomerKey,
    Grant,
    GrantConstraints,
    KeyMaterial,
    KeyRotation,
    KeyState,
    MultiRegionKeyType,
    RotationType,
    key_id_of,
)
from andromede.kms.xks_errors import XksKeyAlreadyInUse

__all__ = ["SqlCustomerKeyStore"]

_K = tables.kms_keys
_A = tables.kms_aliases
_R = tables.kms_key_rotations
_G = tables.kms_grants
_Row = TypeVar("_Row")


def _key_row(key: CustomerKey) -> dict[str, Any]:
    return {
        "key_id": key.record_id,
        "tenant_id": key.tenant_id,
        "region": key.region,
        "description": key.description,
        "key_usage": key.key_usage,
        "key_spec": key.key_spec,
        "origin": key.origin,
        "key_manager": key.key_manager,
        "state": key.state.value,
        "created_at": key.created_at,
        "deletion_date": key.deletion_date,
        "rotation_enabled": key.rotation_enabled,
        "rotation_period_days": key.rotation_period_days,
        "next_rotation_date": key.next_rotation_date,
        "policy": key.policy,
        "tags": json.dumps([list(tag) for tag in key.tags]),
        "public_key": _b64(key.public_key),
        "private_key": _b64(key.sealed_private_key),
        "has_material": key.has_material,
        "key_material_id": key.key_material_id,
        "expiration_model": key.expiration_model,
        "valid_to": key.valid_to,
        "materials": (json.dumps([m.to_json() for m in key.materials]) if key.materials else None),
        "material_expiry": key.material_expiry,
        "custom_key_store_id": key.custom_key_store_id,
        "xks_key_id": key.xks_key_id,
        "multi_region_type": (
            None if key.multi_region_type is None else key.multi_region_type.value
        ),
        "pending_window_days": key.pending_window_days,
        "format_version": key.format_version,
        "revision": key.revision,
    }


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


def _optional_time(value: Any) -> datetime | None:
    return None if value is None else utc_from_stored(value)


def _key(row: Any) -> CustomerKey:
    return CustomerKey(
        key_id=key_id_of(row.key_id),
        tenant_id=row.tenant_id,
        region=row.region,
        description=row.description,
        state=KeyState(row.state),
        created_at=utc_from_stored(row.created_at),
        policy=row.policy,
        key_usage=row.key_usage,
        key_spec=row.key_spec,
        origin=row.origin,
        key_manager=row.key_manager,
        deletion_date=_optional_time(row.deletion_date),
        rotation_enabled=bool(row.rotation_enabled),
        rotation_period_days=int(row.rotation_period_days),
        next_rotation_date=_optional_time(row.next_rotation_date),
        tags=tuple((str(k), str(v)) for k, v in json.loads(row.tags)),
        public_key=_unb64(row.public_key),
        sealed_private_key=_unb64(row.private_key),
        has_material=bool(row.has_material),
        key_material_id=row.key_material_id,
        expiration_model=row.expiration_model,
        valid_to=_optional_time(row.valid_to),
        materials=_materials(row),
        custom_key_store_id=row.custom_key_store_id,
        xks_key_id=row.xks_key_id,
        multi_region_type=(
            None if row.multi_region_type is None else MultiRegionKeyType(row.multi_region_type)
        ),
        pending_window_days=row.pending_window_days,
        format_version=int(row.format_version),
        revision=int(row.revision),
    )


def _materials(row: Any) -> tuple[KeyMaterial, ...]:
    """A symmetric EXTERNAL key's materials (migration 0032; NULL before it, and for other
    keys: ``CustomerKey.imported_materials`` reads an older key's one material from the
    columns of 0021)."""
    if row.materials is None:
        return ()
    return tuple(KeyMaterial.from_json(entry) for entry in json.loads(row.materials))


def _alias(row: Any) -> Alias:
    return Alias(
        tenant_id=row.tenant_id,
        name=row.name,
        key_id=row.key_id,
        created_at=utc_from_stored(row.created_at),
        updated_at=utc_from_stored(row.updated_at),
        region=row.region,
    )


def _alias_is(tenant_id: str, region: str, name: str) -> tuple[sa.ColumnElement[bool], ...]:
    """The one alias ``name`` of ``tenant_id`` in ``region`` (decision 0138)."""
    return (_A.c.tenant_id == tenant_id, _A.c.region == region, _A.c.name == name)


def _rotation(row: Any) -> KeyRotation:
    return KeyRotation(
        rotation_id=int(row.id),
        key_id=row.key_id,
        rotated_at=utc_from_stored(row.rotated_at),
        rotation_type=RotationType(row.rotation_type),
    )


def _pairs(value: Any) -> tuple[tuple[str, str], ...] | None:
    return None if value is None else tuple((str(k), str(v)) for k, v in value)


def _grant_row(grant: Grant) -> dict[str, Any]:
    constraints = {
        "subset": None if grant.constraints.subset is None else list(grant.constraints.subset),
        "equals": None if grant.constraints.equals is None else list(grant.constraints.equals),
    }
    return {
        "grant_id": grant.grant_id,
        "key_id": grant.key_id,
        "key_tenant": grant.key_tenant,
        "grantee": grant.grantee,
        "retiring": grant.retiring,
        "operations": json.dumps(list(grant.operations)),
        "constraints": json.dumps(constraints),
        "issuer": grant.issuer,
        "name": grant.name,
        "created_at": grant.created_at,
    }


def _grant(row: Any) -> Grant:
    constraints = json.loads(row.constraints)
    return Grant(
        grant_id=row.grant_id,
        key_id=row.key_id,
        key_tenant=row.key_tenant,
        grantee=row.grantee,
        operations=tuple(str(o) for o in json.loads(row.operations)),
        constraints=GrantConstraints(_pairs(constraints["subset"]), _pairs(constraints["equals"])),
        issuer=row.issuer,
        created_at=utc_from_stored(row.created_at),
        name=row.name,
        retiring=row.retiring,
    )


class _NotDue(Exception):
    """Rolls back a deletion claim whose key is no longer due."""


class SqlCustomerKeyStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def _page(
        self,
        query: sa.Select[Any],
        order: sa.ColumnElement[Any],
        after: object | None,
        limit: int,
        decode: Callable[[Any], _Row],
    ) -> list[_Row]:
        """One page of a listing: the rows of ``query`` after ``after`` in ``order``."""
        if after is not None:
            query = query.where(order > after)
        query = query.order_by(order).limit(limit)
        rows = await self._db.read(lambda conn: list(conn.execute(query).all()))
        return [decode(row) for row in rows]

    async def insert_key(self, key: CustomerKey) -> None:
        row = _key_row(key)
        try:
            await self._db.write(lambda conn: conn.execute(_K.insert().values(**row)))
        except sa.exc.IntegrityError as exc:
            if key.xks_key_id is None:
                raise
            raise XksKeyAlreadyInUse(
                f"External key {key.xks_key_id} is already associated with a KMS key in "
                f"custom key store {key.custom_key_store_id}"
            ) from exc

    async def keys_in_store(self, custom_key_store_id: str) -> int:
        query = (
            sa.select(sa.func.count())
            .select_from(_K)
            .where(_K.c.custom_key_store_id == custom_key_store_id)
        )
        return int(await self._db.read(lambda conn: conn.execute(query).scalar_one()))

    async def get_key(self, key_id: str) -> CustomerKey | None:
        query = sa.select(_K).where(_K.c.key_id == key_id)
        row = await self._db.read(lambda conn: conn.execute(query).first())
        return None if row is None else _key(row)

    async def replace_key(self, key: CustomerKey) -> bool:
        row = {**_key_row(key), "revision": key.revision + 1}
        statement = (
            _K.update()
            .where(_K.c.key_id == key.record_id, _K.c.revision == key.revision)
            .values(**row)
        )
        exists = sa.select(_K.c.key_id).where(_K.c.key_id == key.record_id)

        def work(conn: Connection) -> bool:
            if conn.execute(statement).rowcount:
                return True
            if conn.execute(exists).first() is None:
                raise CmkNotFound(f"key {key.key_id} does not exist")
            return False

        return await self._db.write(work)

    async def delete_key(self, key_id: str) -> None:
        def work(conn: Connection) -> None:
            conn.execute(_A.delete().where(_A.c.key_id == key_id))
            conn.execute(_R.delete().where(_R.c.key_id == key_id))
            conn.execute(_G.delete().where(_G.c.key_id == key_id))
            conn.execute(_K.delete().where(_K.c.key_id == key_id))

        await self._db.write(work)

    async def list_keys(
        self, tenant_id: str, *, after: str | None, limit: int
    ) -> list[CustomerKey]:
        query = sa.select(_K).where(_K.c.tenant_id == tenant_id)
        return await self._page(query, _K.c.key_id, after, limit, _key)

    async def keys_due_for_deletion(self, now: datetime, limit: int) -> list[CustomerKey]:
        query = (
            sa.select(_K)
            .where(_K.c.state == KeyState.PENDING_DELETION.value, _K.c.deletion_date <= now)
            .order_by(_K.c.key_id)
            .limit(limit)
        )
        rows = await self._db.read(lambda conn: list(conn.execute(query).all()))
        return [_key(r) for r in rows]

    async def claim_deletion(self, key_id: str, now: datetime) -> bool:
        def work(conn: Connection) -> bool:
            # Aliases, rotations and grants first (they reference the key); the key row only
            # if still due: a deletion cancelled in between leaves all untouched (the
            # transaction rolls back).
            conn.execute(_A.delete().where(_A.c.key_id == key_id))
            conn.execute(_R.delete().where(_R.c.key_id == key_id))
            conn.execute(_G.delete().where(_G.c.key_id == key_id))
            deleted = conn.execute(
                _K.delete().where(
                    _K.c.key_id == key_id,
                    _K.c.state == KeyState.PENDING_DELETION.value,
                    _K.c.deletion_date <= now,
                )
            ).rowcount
            if not deleted:
                raise _NotDue
            return True

        try:
            return await self._db.write(work)
        except _NotDue:
            return False

    async def keys_due_for_rotation(self, now: datetime, limit: int) -> list[CustomerKey]:
        query = (
            sa.select(_K)
            .where(
                _K.c.state == KeyState.ENABLED.value,
                _K.c.rotation_enabled.is_(True),
                _K.c.next_rotation_date <= now,
            )
            .order_by(_K.c.key_id)
            .limit(limit)
        )
        rows = await self._db.read(lambda conn: list(conn.execute(query).all()))
        return [_key(r) for r in rows]

    async def keys_with_expired_material(self, now: datetime, limit: int) -> list[CustomerKey]:
        query = sa.select(_K).where(_K.c.material_expiry <= now).order_by(_K.c.key_id).limit(limit)
        rows = await self._db.read(lambda conn: list(conn.execute(query).all()))
        return [_key(r) for r in rows]

    async def add_rotation(
        self,
        key_id: str,
        rotated_at: datetime,
        rotation_type: RotationType,
        *,
        limit: int | None = None,
    ) -> KeyRotation | None:
        lock = sa.select(_K.c.key_id).where(_K.c.key_id == key_id).with_for_update()
        made = (
            sa.select(sa.func.count())
            .select_from(_R)
            .where(_R.c.key_id == key_id, _R.c.rotation_type == rotation_type.value)
        )
        insert = (
            _R.insert()
            .values(key_id=key_id, rotated_at=rotated_at, rotation_type=rotation_type.value)
            .returning(_R.c.id)  # SQLite 3.35+ and PostgreSQL
        )

        def work(conn: Connection) -> KeyRotation | None:
            if conn.execute(lock).first() is None:
                raise CmkNotFound(f"key {key_id} does not exist")
            if limit is not None and int(conn.execute(made).scalar_one()) >= limit:
                return None
            rotation_id = int(conn.execute(insert).scalar_one())
            return KeyRotation(rotation_id, key_id, rotated_at, rotation_type)

        return await self._db.write(work)

    async def delete_rotation(self, rotation_id: int) -> None:
        statement = _R.delete().where(_R.c.id == rotation_id)
        await self._db.write(lambda conn: conn.execute(statement))

    async def list_rotations(
        self, key_id: str, *, after: int | None, limit: int
    ) -> list[KeyRotation]:
        query = sa.select(_R).where(_R.c.key_id == key_id)
        return await self._page(query, _R.c.id, after, limit, _rotation)

    async def insert_grant(self, grant: Grant, *, limit: int) -> bool:
        lock = sa.select(_K.c.key_id).where(_K.c.key_id == grant.key_id).with_for_update()
        made = sa.select(sa.func.count()).select_from(_G).where(_G.c.key_id == grant.key_id)
        insert = _G.insert().values(**_grant_row(grant))

        def work(conn: Connection) -> bool:
            if conn.execute(lock).first() is None:
                raise CmkNotFound(f"key {grant.key_id} does not exist")
            if int(conn.execute(made).scalar_one()) >= limit:
                return False
            conn.execute(insert)
            return True

        return await self._db.write(work)

    async def get_grant(self, grant_id: str) -> Grant | None:
        query = sa.select(_G).where(_G.c.grant_id == grant_id)
        row = await self._db.read(lambda conn: conn.execute(query).first())
        return None if row is None else _grant(row)

    async def grants_for(self, key_id: str, grantees: tuple[str, ...]) -> list[Grant]:
        query = (
            sa.select(_G)
            .where(_G.c.key_id == key_id, _G.c.grantee.in_(grantees))
            .order_by(_G.c.grant_id)
        )
        rows = await self._db.read(lambda conn: list(conn.execute(query).all()))
        return [_grant(r) for r in rows]

    async def list_grants(
        self,
        key_id: str,
        *,
        after: str | None,
        limit: int,
        grant_id: str | None = None,
        grantee: str | None = None,
    ) -> list[Grant]:
        query = sa.select(_G).where(_G.c.key_id == key_id)
        if grant_id is not None:
            query = query.where(_G.c.grant_id == grant_id)
        if grantee is not None:
            query = query.where(_G.c.grantee == grantee)
        return await self._page(query, _G.c.grant_id, after, limit, _grant)

    async def list_retirable_grants(
        self, retiring: str, *, after: str | None, limit: int
    ) -> list[Grant]:
        query = sa.select(_G).where(_G.c.retiring == retiring)
        return await self._page(query, _G.c.grant_id, after, limit, _grant)

    async def delete_grant(self, grant_id: str) -> bool:
        statement = _G.delete().where(_G.c.grant_id == grant_id)
        return bool(await self._db.write(lambda conn: conn.execute(statement).rowcount))

    async def insert_alias(self, alias: Alias) -> None:
        values = {
            "tenant_id": alias.tenant_id,
            "region": alias.region,
            "name": alias.name,
            "key_id": alias.key_id,
            "created_at": alias.created_at,
            "updated_at": alias.updated_at,
        }
        try:
            await self._db.write(lambda conn: conn.execute(_A.insert().values(**values)))
        except sa.exc.IntegrityError as exc:
            raise AliasAlreadyExists(f"alias {alias.name} already exists") from exc

    async def get_alias(self, tenant_id: str, region: str, name: str) -> Alias | None:
        query = sa.select(_A).where(*_alias_is(tenant_id, region, name))
        row = await self._db.read(lambda conn: conn.execute(query).first())
        return None if row is None else _alias(row)

    async def point_alias(
        self, tenant_id: str, region: str, name: str, key_id: str, now: datetime
    ) -> None:
        statement = (
            _A.update()
            .where(*_alias_is(tenant_id, region, name))
            .values(key_id=key_id, updated_at=now)
        )
        changed = await self._db.write(lambda conn: conn.execute(statement).rowcount)
        if changed == 0:
            raise CmkNotFound(f"alias {name} does not exist")

    async def delete_alias(self, tenant_id: str, region: str, name: str) -> bool:
        statement = _A.delete().where(*_alias_is(tenant_id, region, name))
        deleted = await self._db.write(lambda conn: conn.execute(statement).rowcount)
        return bool(deleted)

    async def list_aliases(
        self, tenant_id: str, region: str, *, key_id: str | None, after: str | None, limit: int
    ) -> list[Alias]:
        query = sa.select(_A).where(_A.c.tenant_id == tenant_id, _A.c.region == region)
        if key_id is not None:
            query = query.where(_A.c.key_id == key_id)
        return await self._page(query, _A.c.name, after, limit, _alias)
