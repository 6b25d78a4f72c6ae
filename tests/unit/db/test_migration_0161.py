"""Migration 0161 (decision 0409), on SQLite and a real PostgreSQL: a database at 0160 holding
a canceled profile, an active one, a revoked job with a signature and a failed job without
one. After the upgrade each row's filtered members are columns, copied from its JSON; the
store's filtered pages find them by status, platform, requester, revocation and expiry. Down
and up again, nothing is lost."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from andromede.db.database import create_engine, open_database
from andromede.signer.listing import JobFilter, ProfileFilter
from andromede.signer.model import JobStatus, ProfileStatus
from andromede.signer.store_sql import SqlSignerStore
from support.migrations import migrate

_BEFORE = "0160"
_OWNER = "111111111111"
_PLATFORM = "AWSLambda-SHA384-ECDSA"


def _execute(url: str, statement: str, params: dict[str, Any] | None = None) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(sa.text(statement), params or {})
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


def _profile(url: str, name: str, status: str) -> None:
    """A profile's row as decision 0403's store wrote it."""
    definition = json.dumps(
        {
            "version": "abcdefghij", "platform_id": _PLATFORM,
            "validity": {"value": 135, "type": "MONTHS"}, "public_key": "00", "created": 1,
            "status": status, "tags": {}, "revoked_from": None, "revoked_at": None,
            "revoked_by": None, "revoked_reason": None, "permissions": [],
            "policy_revision": "",
        },
        sort_keys=True,
    )  # fmt: skip
    _execute(
        url,
        "INSERT INTO signer_profiles (tenant_id, name, definition, sealed_key, format_version)"
        " VALUES (:tenant, :name, :definition, :key, 1)",
        {"tenant": _OWNER, "name": name, "definition": definition, "key": b"sealed"},
    )


def _job(url: str, job_id: str, created: int, **members: Any) -> None:
    definition = json.dumps(
        {
            "profile_name": "p", "profile_version": "abcdefghij", "platform_id": _PLATFORM,
            "source_bucket": "s", "source_key": "k", "source_version": "1",
            "destination_bucket": "d", "destination_prefix": "", "created": created,
            "client_token": "", "request_digest": "x", "invoker": "", **members,
        },
        sort_keys=True,
    )  # fmt: skip
    _execute(
        url,
        "INSERT INTO signer_jobs (tenant_id, job_id, created, definition, format_version)"
        " VALUES (:tenant, :job, :created, :definition, 1)",
        {"tenant": _OWNER, "job": job_id, "created": created, "definition": definition},
    )


async def _check(url: str) -> None:
    await asyncio.to_thread(migrate, url, _BEFORE)
    await asyncio.to_thread(_profile, url, "gone", "Canceled")
    await asyncio.to_thread(_profile, url, "live", "Active")
    await asyncio.to_thread(
        _job, url, "revoked", 1, status="Succeeded", requested_by="alice", expires=5000,
        revoked_at=10,
    )  # fmt: skip
    await asyncio.to_thread(_job, url, "failed", 2, status="Failed", requested_by="bob")

    await asyncio.to_thread(migrate, url, "0161")

    columns = await asyncio.to_thread(
        _execute,
        url,
        "SELECT job_id, status, platform_id, requested_by, expires, revoked_at FROM signer_jobs",
    )
    assert sorted(columns) == [
        ("failed", "Failed", _PLATFORM, "bob", None, None),
        ("revoked", "Succeeded", _PLATFORM, "alice", 5000, 10),
    ]
    db = open_database(url)
    try:
        store = SqlSignerStore(db)
        canceled = ProfileFilter(statuses=frozenset({ProfileStatus.CANCELED}))
        assert [p.name for p in await store.profile_page(_OWNER, canceled, None, 5)] == ["gone"]
        default = ProfileFilter(platform_id=_PLATFORM)
        assert [p.name for p in await store.profile_page(_OWNER, default, None, 5)] == ["live"]
        for wanted, expected in (
            (JobFilter(), ["failed", "revoked"]),
            (JobFilter(revoked=True), ["revoked"]),
            (JobFilter(status=JobStatus.FAILED), ["failed"]),
            (JobFilter(requested_by="alice"), ["revoked"]),
            (JobFilter(expires_before=6000), ["revoked"]),
            (JobFilter(platform_id=_PLATFORM, revoked=False), ["failed"]),
        ):
            found = await store.job_page(_OWNER, wanted, None, 5)
            assert [j.job_id for j in found] == expected, wanted
    finally:
        await db.close()

    await asyncio.to_thread(migrate, url, _BEFORE, down=True)
    assert len(await asyncio.to_thread(_execute, url, "SELECT job_id FROM signer_jobs")) == 2
    await asyncio.to_thread(migrate, url, "0161")
    statuses = await asyncio.to_thread(_execute, url, "SELECT name, status FROM signer_profiles")
    assert sorted(statuses) == [("gone", "Canceled"), ("live", "Active")]


async def test_on_sqlite(tmp_path: Path) -> None:
    await _check(f"sqlite:///{tmp_path / 'meta.db'}")


async def test_on_postgresql(postgres_empty_url: str) -> None:
    await _check(postgres_empty_url)
