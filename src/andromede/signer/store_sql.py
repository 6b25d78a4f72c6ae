"""Signing profiles and jobs over the metadata database (SQLite or PostgreSQL): the
``signer_profiles`` and ``signer_jobs`` tables of migration 0156 (decision 0386). A profile's
private key is stored as it is given: sealed under the account's key ring.

A profile change reads the row and writes it in one transaction, the row locked on PostgreSQL
(SQLite runs one write transaction at a time); a job's invoker and client token are columns
too (migration 0160), the token unique per owner and invoker (decision 0403)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from andromede.db import tables
from andromede.db.database import Database
from andromede.signer.model import JobStatus, ProfileStatus, SigningJob, SigningProfile, Validity
from andromede.signer.permissions import ProfilePermission
from andromede.signer.store import ProfileChange

__all__ = ["SqlSignerStore"]

_P = tables.signer_profiles
_J = tables.signer_jobs
FORMAT_VERSION: Final = 1


def _profile_row(profile: SigningProfile) -> dict[str, Any]:
    fields = asdict(profile)
    del fields["tenant_id"], fields["name"], fields["sealed_key"]
    fields["public_key"] = profile.public_key.hex()
    return {
        "tenant_id": profile.tenant_id,
        "name": profile.name,
        "definition": json.dumps(fields, sort_keys=True),
        "sealed_key": profile.sealed_key,
        "format_version": FORMAT_VERSION,
    }


def _profile(row: Any) -> SigningProfile:
    fields = json.loads(row["definition"])
    fields["validity"] = Validity(**fields["validity"])
    fields["public_key"] = bytes.fromhex(fields["public_key"])
    fields["status"] = ProfileStatus(fields["status"])
    fields["permissions"] = tuple(ProfilePermission(**p) for p in fields.get("permissions", []))
    return SigningProfile(
        tenant_id=row["tenant_id"], name=row["name"], sealed_key=bytes(row["sealed_key"]), **fields
    )


def _job_row(job: SigningJob) -> dict[str, Any]:
    fields = asdict(job)
    del fields["tenant_id"], fields["job_id"]
    return {
        "tenant_id": job.tenant_id,
        "job_id": job.job_id,
        "created": job.created,
        "definition": json.dumps(fields, sort_keys=True),
        "format_version": FORMAT_VERSION,
        "invoker": job.invoker,
        "client_token": job.client_token or None,
    }


def _job(row: Any) -> SigningJob:
    fields = json.loads(row["definition"])
    fields["status"] = JobStatus(fields["status"])
    return SigningJob(tenant_id=row["tenant_id"], job_id=row["job_id"], **fields)


class SqlSignerStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create_profile(self, profile: SigningProfile) -> bool:
        def work(conn: Connection) -> None:
            conn.execute(sa.insert(_P).values(**_profile_row(profile)))

        try:
            await self._db.write(work)
        except IntegrityError:
            return False
        return True

    async def profile(self, tenant_id: str, name: str) -> SigningProfile | None:
        query = sa.select(_P).where(_P.c.tenant_id == tenant_id, _P.c.name == name)
        row = await self._db.read(lambda conn: conn.execute(query).mappings().first())
        return None if row is None else _profile(row)

    async def profiles(self, tenant_id: str) -> list[SigningProfile]:
        query = sa.select(_P).where(_P.c.tenant_id == tenant_id).order_by(_P.c.name)
        rows = await self._db.read(lambda conn: conn.execute(query).mappings().all())
        return [_profile(r) for r in rows]

    async def change_profile(
        self, tenant_id: str, name: str, change: ProfileChange
    ) -> SigningProfile | None:
        where = (_P.c.tenant_id == tenant_id, _P.c.name == name)
        query = sa.select(_P).where(*where).with_for_update()

        def work(conn: Connection) -> SigningProfile | None:
            row = conn.execute(query).mappings().first()
            if row is None:
                return None
            changed = change(_profile(row))
            definition = _profile_row(changed)["definition"]
            update = sa.update(_P).where(*where)
            conn.execute(update.values(definition=definition, format_version=FORMAT_VERSION))
            return changed

        return await self._db.write(work)

    async def create_job(self, job: SigningJob) -> SigningJob:
        row = _job_row(job)
        try:
            await self._db.write(lambda conn: conn.execute(sa.insert(_J).values(**row)))
        except IntegrityError:
            # Another call created the job of this token first (uq_signer_jobs_token).
            earlier = await self.job_by_token(job.tenant_id, job.invoker, job.client_token)
            if earlier is None:  # pragma: no cover - the job id is a fresh UUID
                raise
            return earlier
        return job

    async def put_job(self, job: SigningJob) -> None:
        row = _job_row(job)
        update = (
            sa.update(_J)
            .where(_J.c.tenant_id == job.tenant_id, _J.c.job_id == job.job_id)
            .values(definition=row["definition"], format_version=FORMAT_VERSION)
        )
        await self._db.write(lambda conn: conn.execute(update))

    async def job_by_token(self, tenant_id: str, invoker: str, token: str) -> SigningJob | None:
        query = sa.select(_J).where(
            _J.c.tenant_id == tenant_id, _J.c.invoker == invoker, _J.c.client_token == token
        )
        row = await self._db.read(lambda conn: conn.execute(query).mappings().first())
        return None if row is None else _job(row)

    async def job(self, tenant_id: str, job_id: str) -> SigningJob | None:
        query = sa.select(_J).where(_J.c.tenant_id == tenant_id, _J.c.job_id == job_id)
        row = await self._db.read(lambda conn: conn.execute(query).mappings().first())
        return None if row is None else _job(row)

    async def job_by_id(self, job_id: str) -> SigningJob | None:
        query = sa.select(_J).where(_J.c.job_id == job_id)
        row = await self._db.read(lambda conn: conn.execute(query).mappings().first())
        return None if row is None else _job(row)

    async def jobs(self, tenant_id: str) -> list[SigningJob]:
        query = (
            sa.select(_J)
            .where(sa.or_(_J.c.tenant_id == tenant_id, _J.c.invoker == tenant_id))
            .order_by(_J.c.created.desc(), _J.c.job_id)
        )
        rows = await self._db.read(lambda conn: conn.execute(query).mappings().all())
        return [_job(r) for r in rows]

    async def forget_tenant(self, tenant_id: str) -> int:
        def work(conn: Connection) -> int:
            jobs = conn.execute(sa.delete(_J).where(_J.c.tenant_id == tenant_id)).rowcount
            profiles = conn.execute(sa.delete(_P).where(_P.c.tenant_id == tenant_id)).rowcount
            return int(jobs) + int(profiles)

        return await self._db.write(work)
