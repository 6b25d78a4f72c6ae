"""Signing profiles and jobs over the metadata database (SQLite or PostgreSQL): the
``signer_profiles`` and ``signer_jobs`` tables of migration 0156 (decision 0386). A profile's
private key is stored as it is given: sealed under the account's key ring.

A profile change reads the row and writes it in one transaction, the row locked on PostgreSQL
(SQLite runs one write transaction at a time); a job's invoker and client token are columns
too (migration 0160), the token unique per owner and invoker (decision 0403). The members the
listings filter on are columns as well, written with every change (migration 0161): the
listings filter and page by keyset in the query (decision 0409)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from andromede.db import tables
from andromede.db.database import Database
from andromede.signer.listing import JobFilter, JobKey, ProfileFilter
from andromede.signer.model import JobStatus, ProfileStatus, SigningJob, SigningProfile, Validity
from andromede.signer.permissions import ProfilePermission
from andromede.signer.store import ProfileChange

__all__ = ["SqlSignerStore"]

_P = tables.signer_profiles
_J = tables.signer_jobs
FORMAT_VERSION: Final = 1
_BIGINT: Final = 2**63


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
        "status": str(profile.status),
        "platform_id": profile.platform_id,
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
        **_job_filtered(job),
    }


def _job_filtered(job: SigningJob) -> dict[str, Any]:
    """The columns ListSigningJobs filters on; they change with the job (put_job)."""
    return {
        "status": str(job.status),
        "platform_id": job.platform_id,
        "requested_by": job.requested_by,
        "expires": job.expires,
        "revoked_at": job.revoked_at,
    }


def _profile_where(tenant_id: str, wanted: ProfileFilter, after: str | None) -> list[Any]:
    where: list[Any] = [
        _P.c.tenant_id == tenant_id,
        _P.c.status.in_(sorted(str(s) for s in wanted.wanted_statuses)),
    ]
    if wanted.platform_id is not None:
        where.append(_P.c.platform_id == wanted.platform_id)
    if after is not None:
        where.append(_P.c.name > after)
    return where


def _bigint(value: int) -> int:
    return max(-_BIGINT, min(_BIGINT - 1, value))


def _job_where(tenant_id: str, wanted: JobFilter, after: JobKey | None) -> list[Any]:
    """The WHERE of ``wanted`` over the account's jobs and those it invoked."""
    where: list[Any] = [sa.or_(_J.c.tenant_id == tenant_id, _J.c.invoker == tenant_id)]
    for column, value in (
        (_J.c.status, None if wanted.status is None else str(wanted.status)),
        (_J.c.platform_id, wanted.platform_id),
        (_J.c.requested_by, wanted.requested_by),
    ):
        if value is not None:
            where.append(column == value)
    if wanted.revoked is not None:
        where.append(_J.c.revoked_at.is_not(None) if wanted.revoked else _J.c.revoked_at.is_(None))
    if wanted.invoker is not None:  # the account that started it: the invoker, else the owner
        where.append(
            sa.or_(
                _J.c.invoker == wanted.invoker,
                sa.and_(_J.c.invoker == "", _J.c.tenant_id == wanted.invoker),
            )
        )
    # A job with no signature (expires NULL) passes neither bound, as SQL's NULL compares.
    # The bounds as the column's integers: expires < 9.5 is expires < 10, expires > 9.5 is
    # expires > 9, each kept within BIGINT, where PostgreSQL would refuse a larger one.
    if wanted.expires_before is not None:
        where.append(_J.c.expires < _bigint(math.ceil(wanted.expires_before)))
    if wanted.expires_after is not None:
        where.append(_J.c.expires > _bigint(math.floor(wanted.expires_after)))
    if after is not None:
        created, job_id = after
        where.append(
            sa.or_(_J.c.created < created, sa.and_(_J.c.created == created, _J.c.job_id > job_id))
        )
    return where


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
            written = _profile_row(changed)
            update = sa.update(_P).where(*where)
            conn.execute(
                update.values(
                    definition=written["definition"],
                    format_version=FORMAT_VERSION,
                    status=written["status"],
                    platform_id=written["platform_id"],
                )
            )
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
            .values(
                definition=row["definition"], format_version=FORMAT_VERSION, **_job_filtered(job)
            )
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

    async def profile_page(
        self, tenant_id: str, wanted: ProfileFilter, after: str | None, limit: int
    ) -> list[SigningProfile]:
        query = (
            sa.select(_P)
            .where(*_profile_where(tenant_id, wanted, after))
            .order_by(_P.c.name)
            .limit(limit)
        )
        rows = await self._db.read(lambda conn: conn.execute(query).mappings().all())
        return [_profile(r) for r in rows]

    async def job_page(
        self, tenant_id: str, wanted: JobFilter, after: JobKey | None, limit: int
    ) -> list[SigningJob]:
        query = (
            sa.select(_J)
            .where(*_job_where(tenant_id, wanted, after))
            .order_by(_J.c.created.desc(), _J.c.job_id)
            .limit(limit)
        )
        rows = await self._db.read(lambda conn: conn.execute(query).mappings().all())
        return [_job(r) for r in rows]

    async def forget_tenant(self, tenant_id: str) -> int:
        def work(conn: Connection) -> int:
            jobs = conn.execute(sa.delete(_J).where(_J.c.tenant_id == tenant_id)).rowcount
            profiles = conn.execute(sa.delete(_P).where(_P.c.tenant_id == tenant_id)).rowcount
            return int(jobs) + int(profiles)

        return await self._db.write(work)
