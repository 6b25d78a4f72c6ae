"""Migration 0160 (decision 0403), on SQLite and a real PostgreSQL: a database at 0159 holding
the owner's job, an invoker's job and two jobs the same token started at once (0394's race).
After the upgrade each row's invoker and token are columns, the oldest of the two keeps the
token (a retry answers it), the later one none; the store finds them by token, by id and by
invoker, and a new job under a token already used is refused by the unique index. Down and
up again, nothing is lost."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from andromede.db.database import create_engine, open_database
from andromede.signer.listing import JobFilter
from andromede.signer.store_sql import SqlSignerStore
from support.migrations import migrate

_BEFORE = "0159"
_OWNER = "111111111111"
_PARTNER = "222222222222"


def _execute(url: str, statement: str, params: dict[str, Any] | None = None) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(sa.text(statement), params or {})
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


def _definition(token: str, invoker: str) -> str:
    """A job's JSON as decision 0394's store wrote it (the members this migration reads)."""
    return json.dumps(
        {
            "profile_name": "shared", "profile_version": "abcdefghij",
            "platform_id": "AWSLambda-SHA384-ECDSA", "source_bucket": "s", "source_key": "k",
            "source_version": "1", "destination_bucket": "d", "destination_prefix": "",
            "requested_by": "me", "created": 0, "status": "Succeeded", "client_token": token,
            "request_digest": "x", "invoker": invoker,
        },
        sort_keys=True,
    )  # fmt: skip


def _insert(url: str, job_id: str, created: int, token: str, invoker: str = "") -> None:
    _execute(
        url,
        "INSERT INTO signer_jobs (tenant_id, job_id, created, definition, format_version)"
        " VALUES (:tenant, :job, :created, :definition, 1)",
        {"tenant": _OWNER, "job": job_id, "created": created,
         "definition": _definition(token, invoker)},
    )  # fmt: skip


def _columns(url: str) -> dict[str, tuple[Any, ...]]:
    rows = _execute(url, "SELECT job_id, invoker, client_token FROM signer_jobs")
    return {row[0]: tuple(row[1:]) for row in rows}


async def _check(url: str) -> None:
    await asyncio.to_thread(migrate, url, _BEFORE)
    _insert(url, "own", 1, "")
    _insert(url, "theirs", 2, "t", _PARTNER)
    _insert(url, "first", 3, "t")
    _insert(url, "second", 4, "t")  # the same owner, invoker and token: the race's trace

    await asyncio.to_thread(migrate, url, "0160")

    assert await asyncio.to_thread(_columns, url) == {
        "own": ("", None),
        "theirs": (_PARTNER, "t"),
        "first": ("", "t"),
        "second": ("", None),
    }
    # The store of this release reads the listing's columns too (migration 0161).
    await asyncio.to_thread(migrate, url, "0161")
    db = open_database(url)
    try:
        store = SqlSignerStore(db)
        first = await store.job_by_token(_OWNER, "", "t")
        assert first is not None and first.job_id == "first"
        theirs = await store.job_by_id("theirs")
        assert theirs is not None and theirs.invoker == _PARTNER
        listed = await store.job_page(_PARTNER, JobFilter(), None, 25)
        assert [j.job_id for j in listed] == ["theirs"]
        assert await store.create_job(first.replaced(job_id="third")) == first
    finally:
        await db.close()

    await asyncio.to_thread(migrate, url, _BEFORE, down=True)
    assert len(await asyncio.to_thread(_execute, url, "SELECT job_id FROM signer_jobs")) == 4
    await asyncio.to_thread(migrate, url, "0160")
    assert (await asyncio.to_thread(_columns, url))["theirs"] == (_PARTNER, "t")


async def test_on_sqlite(tmp_path: Path) -> None:
    await _check(f"sqlite:///{tmp_path / 'meta.db'}")


async def test_on_postgresql(postgres_empty_url: str) -> None:
    await _check(postgres_empty_url)
