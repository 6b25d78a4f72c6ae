"""The SQL identity store's server certificates (decision 0205).

Mixed into :class:`~andromede.iam.store_sql.SqlIdentityStore`; split off for size. The key is
the account and the name, so two gateways uploading one name at once cannot both succeed; a
rename is one conditional update (the new name taken: the key's integrity error).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.iam.errors import EntityAlreadyExists, NoSuchEntity
from andromede.iam.model import ServerCertificate
from andromede.iam.store_sql_profiles import stored_tags, tags_text

__all__ = ["SqlServerCertificatesMixin"]


def _certificate(row: Any) -> ServerCertificate:
    return ServerCertificate(
        tenant_id=row.tenant_id,
        name=row.name,
        path=row.path,
        certificate_id=row.certificate_id,
        body=row.body,
        chain=row.chain,
        sealed_private_key=bytes(row.sealed_private_key),
        uploaded_at=row.uploaded_at,
        expiration=row.expiration,
        tags=stored_tags(row.tags),
    )


class SqlServerCertificatesMixin:
    _db: Database

    async def create_server_certificate(self, certificate: ServerCertificate) -> None:
        statement = tables.iam_server_certificates.insert().values(
            tenant_id=certificate.tenant_id,
            name=certificate.name,
            path=certificate.path,
            certificate_id=certificate.certificate_id,
            body=certificate.body,
            chain=certificate.chain,
            sealed_private_key=certificate.sealed_private_key,
            uploaded_at=certificate.uploaded_at,
            expiration=certificate.expiration,
            tags=tags_text(certificate.tags),
        )
        try:
            await self._db.write(lambda conn: conn.execute(statement))
        except sa.exc.IntegrityError as exc:
            raise EntityAlreadyExists(certificate.name) from exc

    async def get_server_certificate(self, tenant_id: str, name: str) -> ServerCertificate | None:
        c = tables.iam_server_certificates
        query = sa.select(c).where(c.c.tenant_id == tenant_id, c.c.name == name)
        row = await self._db.read(lambda conn: conn.execute(query).first())
        return None if row is None else _certificate(row)

    async def list_server_certificates(self, tenant_id: str) -> list[ServerCertificate]:
        c = tables.iam_server_certificates
        query = sa.select(c).where(c.c.tenant_id == tenant_id).order_by(c.c.name)
        rows = await self._db.read(lambda conn: list(conn.execute(query)))
        return [_certificate(row) for row in rows]

    async def update_server_certificate(
        self, certificate: ServerCertificate, read: ServerCertificate
    ) -> bool:
        c = tables.iam_server_certificates
        where = (
            c.c.tenant_id == read.tenant_id,
            c.c.name == read.name,
            c.c.certificate_id == read.certificate_id,
        )
        read_tags = tags_text(read.tags)
        unchanged = (
            c.c.path == read.path,
            c.c.tags.is_(None) if read_tags is None else c.c.tags == read_tags,
        )
        statement = (
            c.update()
            .where(*where, *unchanged)
            .values(name=certificate.name, path=certificate.path, tags=tags_text(certificate.tags))
        )
        exists = sa.select(c.c.name).where(*where)

        def work(conn: Connection) -> bool:
            if conn.execute(statement).rowcount == 1:
                return True
            if conn.execute(exists).first() is None:
                raise NoSuchEntity(read.name)
            return False

        try:
            return bool(await self._db.write(work))
        except sa.exc.IntegrityError as exc:
            raise EntityAlreadyExists(certificate.name) from exc

    async def delete_server_certificate(self, tenant_id: str, name: str) -> bool:
        c = tables.iam_server_certificates
        statement = c.delete().where(c.c.tenant_id == tenant_id, c.c.name == name)
        return bool(await self._db.write(lambda conn: conn.execute(statement).rowcount))
