"""Imported certificates and the accounts' ACM configuration over the metadata database
(SQLite or PostgreSQL), the tables of migration 0111 (decision 0230)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.acm.errors import LimitExceeded
from andromede.acm.model import Certificate, Inspected, imports_exceeded
from andromede.db import tables
from andromede.db.database import Database

__all__ = ["SqlCertificateStore"]

_C = tables.acm_certificates
_A = tables.acm_configurations
_I = tables.acm_imports
FORMAT_VERSION: Final = 1


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def _when(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _facts_text(facts: Inspected) -> str:
    return json.dumps(
        {
            "domain_name": facts.domain_name,
            "alternative_names": list(facts.alternative_names),
            "serial": facts.serial,
            "subject": facts.subject,
            "issuer": facts.issuer,
            "not_before": _ms(facts.not_before),
            "not_after": _ms(facts.not_after),
            "key_algorithm": facts.key_algorithm,
            "signature_algorithm": facts.signature_algorithm,
            "key_usages": list(facts.key_usages),
            "extended_key_usages": [list(u) for u in facts.extended_key_usages],
        },
        sort_keys=True,
    )


def _facts(text: str) -> Inspected:
    f = json.loads(text)
    return Inspected(
        domain_name=str(f["domain_name"]),
        alternative_names=tuple(str(n) for n in f["alternative_names"]),
        serial=str(f["serial"]),
        subject=str(f["subject"]),
        issuer=str(f["issuer"]),
        not_before=_when(int(f["not_before"])),
        not_after=_when(int(f["not_after"])),
        key_algorithm=str(f["key_algorithm"]),
        signature_algorithm=str(f["signature_algorithm"]),
        key_usages=tuple(str(u) for u in f["key_usages"]),
        extended_key_usages=tuple((str(n), str(o)) for n, o in f["extended_key_usages"]),
    )


def _columns(certificate: Certificate) -> dict[str, Any]:
    return {
        "region": certificate.region,
        "body": certificate.body,
        "chain": certificate.chain,
        "sealed_key": certificate.sealed_key,
        "facts": _facts_text(certificate.facts),
        "not_after": _ms(certificate.facts.not_after),
        "created_at": _ms(certificate.created_at),
        "imported_at": _ms(certificate.imported_at),
        "tags": json.dumps([list(t) for t in certificate.tags]),
        "revision": certificate.revision,
        "kind": certificate.kind,
        "authority_arn": certificate.authority_arn,
        "format_version": FORMAT_VERSION,
    }


def _certificate(m: Any) -> Certificate:
    return Certificate(
        tenant_id=m["tenant_id"],
        certificate_id=m["certificate_id"],
        region=m["region"],
        body=m["body"],
        chain=m["chain"],
        sealed_key=bytes(m["sealed_key"]),
        facts=_facts(m["facts"]),
        created_at=_when(int(m["created_at"])),
        imported_at=_when(int(m["imported_at"])),
        tags=tuple((str(k), str(v)) for k, v in json.loads(m["tags"])),
        revision=int(m["revision"]),
        kind=str(m["kind"]),
        authority_arn=m["authority_arn"],
    )


def _one(tenant_id: str, certificate_id: str) -> Any:
    return sa.and_(_C.c.tenant_id == tenant_id, _C.c.certificate_id == certificate_id)


class SqlCertificateStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, certificate: Certificate, max_certificates: int) -> None:
        count = (
            sa.select(sa.func.count())
            .select_from(_C)
            .where(_C.c.tenant_id == certificate.tenant_id)
        )
        insert = sa.insert(_C).values(
            tenant_id=certificate.tenant_id,
            certificate_id=certificate.certificate_id,
            **_columns(certificate),
            expiry_checked_day=0,
        )

        def work(conn: Connection) -> None:
            if int(conn.execute(count).scalar_one()) >= max_certificates:
                raise LimitExceeded(
                    f"Cannot exceed quota for certificates per account: {max_certificates}"
                )
            conn.execute(insert)

        await self._db.write(work)

    async def count_import(self, tenant_id: str, now_ms: int, since_ms: int, most: int) -> None:
        # Counted before the insert, as the certificates' bound (a quota, not a guarantee).
        forget = sa.delete(_I).where(_I.c.tenant_id == tenant_id, _I.c.imported_at < since_ms)
        count = sa.select(sa.func.count()).select_from(_I).where(_I.c.tenant_id == tenant_id)
        insert = sa.insert(_I).values(tenant_id=tenant_id, imported_at=now_ms)

        def work(conn: Connection) -> None:
            conn.execute(forget)
            if int(conn.execute(count).scalar_one()) >= most:
                raise LimitExceeded(imports_exceeded(most))
            conn.execute(insert)

        await self._db.write(work)

    async def get(self, tenant_id: str, certificate_id: str) -> Certificate | None:
        query = sa.select(_C).where(_one(tenant_id, certificate_id))

        def work(conn: Connection) -> Certificate | None:
            row = conn.execute(query).mappings().first()
            return None if row is None else _certificate(row)

        return await self._db.read(work)

    async def list_certificates(self, tenant_id: str) -> list[Certificate]:
        query = (
            sa.select(_C)
            .where(_C.c.tenant_id == tenant_id)
            .order_by(_C.c.created_at, _C.c.certificate_id)
        )

        def work(conn: Connection) -> list[Certificate]:
            return [_certificate(m) for m in conn.execute(query).mappings()]

        return await self._db.read(work)

    async def replace(self, certificate: Certificate) -> bool:
        statement = (
            sa.update(_C)
            .where(
                _one(certificate.tenant_id, certificate.certificate_id),
                _C.c.revision == certificate.revision - 1,
            )
            .values(**_columns(certificate))
        )

        def work(conn: Connection) -> bool:
            return bool(conn.execute(statement).rowcount == 1)

        return await self._db.write(work)

    async def delete(self, tenant_id: str, certificate_id: str) -> bool:
        statement = sa.delete(_C).where(_one(tenant_id, certificate_id))

        def work(conn: Connection) -> bool:
            return bool(conn.execute(statement).rowcount == 1)

        return await self._db.write(work)

    async def unchecked(self, region: str, day: int, limit: int) -> list[Certificate]:
        query = (
            sa.select(_C)
            .where(_C.c.region == region, _C.c.expiry_checked_day < day)
            .order_by(_C.c.tenant_id, _C.c.certificate_id)
            .limit(limit)
        )

        def work(conn: Connection) -> list[Certificate]:
            return [_certificate(m) for m in conn.execute(query).mappings()]

        return await self._db.read(work)

    async def mark_checked(self, tenant_id: str, certificate_id: str, day: int) -> bool:
        # One UPDATE guarded by the day: of two gateways, one changes the row.
        statement = (
            sa.update(_C)
            .where(_one(tenant_id, certificate_id), _C.c.expiry_checked_day < day)
            .values(expiry_checked_day=day)
        )

        def work(conn: Connection) -> bool:
            return bool(conn.execute(statement).rowcount == 1)

        return await self._db.write(work)

    async def days_before_expiry(self, tenant_id: str) -> int | None:
        query = sa.select(_A.c.days_before_expiry).where(_A.c.tenant_id == tenant_id)

        def work(conn: Connection) -> int | None:
            found = conn.execute(query).scalar_one_or_none()
            return None if found is None else int(found)

        return await self._db.read(work)

    async def put_days_before_expiry(self, tenant_id: str, days: int) -> None:
        update = (
            sa.update(_A)
            .where(_A.c.tenant_id == tenant_id)
            .values(days_before_expiry=days, format_version=FORMAT_VERSION)
        )
        insert = sa.insert(_A).values(
            tenant_id=tenant_id, days_before_expiry=days, format_version=FORMAT_VERSION
        )

        def work(conn: Connection) -> None:
            if conn.execute(update).rowcount == 0:
                conn.execute(insert)

        await self._db.write(work)

    async def forget_tenant(self, tenant_id: str) -> int:
        certificates = sa.delete(_C).where(_C.c.tenant_id == tenant_id)
        configuration = sa.delete(_A).where(_A.c.tenant_id == tenant_id)
        imports = sa.delete(_I).where(_I.c.tenant_id == tenant_id)

        def work(conn: Connection) -> int:
            conn.execute(configuration)
            conn.execute(imports)
            return int(conn.execute(certificates).rowcount)

        return await self._db.write(work)
