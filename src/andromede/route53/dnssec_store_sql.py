"""Route 53's DNSSEC state over the metadata database (SQLite or PostgreSQL), the tables of
migration 0144 (decision 0317). Adding a KSK locks its zone's row first (``FOR UPDATE``;
SQLite's writes are serial anyway), so that two creations racing cannot pass the zone's
limit; the unique constraints keep a name and a KMS key once in a zone."""

from __future__ import annotations

import base64
import json
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from andromede.db import tables
from andromede.db.database import Database
from andromede.route53.dnssec_model import KeySigningKey, KskStatus, ZoneSigning, ZoneSigningKey
from andromede.route53.dnssec_store import already_exists, too_many

__all__ = ["SqlDnssecStore"]

_K = tables.route53_key_signing_keys
_S = tables.route53_zone_signing
_Z = tables.route53_zones
_FORMAT: Final = 1


def _key(row: Any) -> KeySigningKey:
    return KeySigningKey(
        tenant_id=str(row["tenant_id"]),
        zone_id=str(row["zone_id"]),
        name=str(row["name"]),
        kms_arn=str(row["kms_arn"]),
        status=KskStatus(row["status"]),
        public_key=bytes(row["public_key"]),
        caller_reference=str(row["caller_reference"]),
        created=int(row["created"]),
        modified=int(row["modified"]),
        status_message=str(row["status_message"]),
    )


def _zone_keys_text(signing: ZoneSigning) -> str:
    return json.dumps(
        [
            {
                "created": k.created,
                "public": base64.b64encode(k.public_key).decode(),
                "sealed": base64.b64encode(k.sealed_private_key).decode(),
            }
            for k in signing.zone_keys
        ]
    )


def _signing(row: Any) -> ZoneSigning:
    keys = tuple(
        ZoneSigningKey(
            int(k["created"]), base64.b64decode(k["public"]), base64.b64decode(k["sealed"])
        )
        for k in json.loads(row["zone_keys"])
    )
    return ZoneSigning(
        tenant_id=str(row["tenant_id"]),
        zone_id=str(row["zone_id"]),
        signing=bool(row["signing"]),
        zone_keys=keys,
        modified=int(row["modified"]),
        version=int(row["version"]),
    )


class SqlDnssecStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add_key(self, ksk: KeySigningKey, limit: int) -> None:
        lock = sa.select(_Z.c.zone_id).where(_Z.c.zone_id == ksk.zone_id).with_for_update()
        count = sa.select(sa.func.count()).select_from(_K).where(_K.c.zone_id == ksk.zone_id)
        same = sa.select(_K.c.name).where(
            _K.c.zone_id == ksk.zone_id,
            sa.or_(_K.c.name == ksk.name, _K.c.kms_arn == ksk.kms_arn),
        )
        insert = sa.insert(_K).values(
            zone_id=ksk.zone_id,
            name=ksk.name,
            tenant_id=ksk.tenant_id,
            kms_arn=ksk.kms_arn,
            status=ksk.status.value,
            status_message=ksk.status_message,
            public_key=ksk.public_key,
            caller_reference=ksk.caller_reference,
            created=ksk.created,
            modified=ksk.modified,
            format_version=_FORMAT,
        )

        def work(conn: Connection) -> None:
            conn.execute(lock)
            if conn.execute(same).first() is not None:
                raise already_exists(ksk)
            if int(conn.execute(count).scalar_one()) >= limit:
                raise too_many(limit)
            conn.execute(insert)

        try:
            await self._db.write(work)
        except IntegrityError as exc:
            raise already_exists(ksk) from exc

    async def keys(self, tenant_id: str, zone_id: str) -> list[KeySigningKey]:
        query = (
            sa.select(_K)
            .where(_K.c.tenant_id == tenant_id, _K.c.zone_id == zone_id)
            .order_by(_K.c.created, _K.c.name)
        )

        def work(conn: Connection) -> list[KeySigningKey]:
            return [_key(row) for row in conn.execute(query).mappings()]

        return await self._db.read(work)

    async def set_key_status(
        self, tenant_id: str, zone_id: str, name: str, status: KskStatus, now: int, message: str
    ) -> bool:
        update = (
            sa.update(_K)
            .where(_K.c.tenant_id == tenant_id, _K.c.zone_id == zone_id, _K.c.name == name)
            .values(status=status.value, modified=now, status_message=message)
        )
        return await self._db.write_statement(lambda c: int(c.execute(update).rowcount)) > 0

    async def delete_key(self, tenant_id: str, zone_id: str, name: str) -> bool:
        delete = sa.delete(_K).where(
            _K.c.tenant_id == tenant_id, _K.c.zone_id == zone_id, _K.c.name == name
        )
        return await self._db.write_statement(lambda c: int(c.execute(delete).rowcount)) > 0

    async def signing(self, tenant_id: str, zone_id: str) -> ZoneSigning | None:
        query = sa.select(_S).where(_S.c.tenant_id == tenant_id, _S.c.zone_id == zone_id)

        def work(conn: Connection) -> ZoneSigning | None:
            row = conn.execute(query).mappings().first()
            return None if row is None else _signing(row)

        return await self._db.read(work)

    async def put_signing(self, signing: ZoneSigning, expected_version: int | None) -> bool:
        values = {
            "signing": signing.signing,
            "zone_keys": _zone_keys_text(signing),
            "modified": signing.modified,
            "format_version": _FORMAT,
        }
        if expected_version is None:
            insert = sa.insert(_S).values(
                zone_id=signing.zone_id, tenant_id=signing.tenant_id, version=1, **values
            )
            try:
                await self._db.write_statement(lambda c: c.execute(insert))
            except IntegrityError:
                return False
            return True
        update = (
            sa.update(_S)
            .where(
                _S.c.zone_id == signing.zone_id,
                _S.c.tenant_id == signing.tenant_id,
                _S.c.version == expected_version,
            )
            .values(version=expected_version + 1, **values)
        )
        return await self._db.write_statement(lambda c: int(c.execute(update).rowcount)) > 0

    async def signed_zones(self) -> list[tuple[ZoneSigning, list[KeySigningKey]]]:
        zones = sa.select(_S).where(_S.c.signing.is_(True)).order_by(_S.c.zone_id)
        keys = (
            sa.select(_K)
            .where(_K.c.zone_id.in_(sa.select(_S.c.zone_id).where(_S.c.signing.is_(True))))
            .order_by(_K.c.created, _K.c.name)
        )

        def work(conn: Connection) -> list[tuple[ZoneSigning, list[KeySigningKey]]]:
            signed = [_signing(row) for row in conn.execute(zones).mappings()]
            by_zone: dict[str, list[KeySigningKey]] = {}
            for row in conn.execute(keys).mappings():
                by_zone.setdefault(str(row["zone_id"]), []).append(_key(row))
            return [
                (s, [k for k in by_zone.get(s.zone_id, []) if k.tenant_id == s.tenant_id])
                for s in signed
            ]

        return await self._db.read(work)

    async def delete_zone(self, tenant_id: str, zone_id: str) -> None:
        keys = sa.delete(_K).where(_K.c.tenant_id == tenant_id, _K.c.zone_id == zone_id)
        signing = sa.delete(_S).where(_S.c.tenant_id == tenant_id, _S.c.zone_id == zone_id)

        def work(conn: Connection) -> None:
            conn.execute(keys)
            conn.execute(signing)

        await self._db.write(work)

    async def forget_tenant(self, tenant_id: str) -> int:
        keys = sa.delete(_K).where(_K.c.tenant_id == tenant_id)
        signing = sa.delete(_S).where(_S.c.tenant_id == tenant_id)

        def work(conn: Connection) -> int:
            return int(conn.execute(keys).rowcount) + int(conn.execute(signing).rowcount)

        return await self._db.write(work)
