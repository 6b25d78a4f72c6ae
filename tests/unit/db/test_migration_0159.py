"""Migration 0159 (decision 0392's addendum), on SQLite and a real PostgreSQL: a database at 0158
holding an access point of the release before 0392 (format 1), one 0392 made without tags and
one it tagged (format 2: the settings document in ``public_access_block``). After the upgrade
every row is format 1 with its tags in the ``tags`` column, read back by the store; the
downgrade folds the tags back as 0392 wrote them, leaves an untagged row format 1, and both
read as the releases at 0158 read them; up again, nothing is lost."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from andromede.db import tables
from andromede.db.database import create_engine, open_database
from andromede.storage.access_points import SqlAccessPointStore
from andromede.storage.model import PublicAccessBlock
from support.migrations import migrate

_BEFORE = "0158"
_ACCOUNT = "111111111111"
_OPEN = PublicAccessBlock(False, False, False, False)
_MIXED = PublicAccessBlock(True, False, True, False)
_TAGS = [["team", "blue"], ["env", "prod"]]


def _execute(url: str, statement: str, params: dict[str, Any] | None = None) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(sa.text(statement), params or {})
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


def _insert(url: str, name: str, public_access_block: str, format_version: int) -> None:
    # Through the table's columns for the created_at type; the tags column (absent at 0158) is
    # left out of the statement.
    row = {
        "tenant_id": _ACCOUNT,
        "name": name,
        "bucket": "b",
        "bucket_account": _ACCOUNT,
        "alias": f"{name}-abcdefghijklmn-s3alias",
        "public_access_block": public_access_block,
        "format_version": format_version,
        "created_at": datetime(2026, 12, 5, 12, tzinfo=UTC),
    }
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(tables.access_points.insert(), [row])
    finally:
        engine.dispose()


def _settings_document(block: PublicAccessBlock, tags: list[list[str]]) -> str:
    """A format-2 ``public_access_block`` as decision 0392's store wrote it."""
    return json.dumps({"block": json.loads(block.to_json()), "tags": tags})


def _rows(url: str) -> dict[str, tuple[Any, ...]]:
    columns = "public_access_block, format_version"
    if "tags" in _columns(url):
        columns += ", tags"
    rows = _execute(url, f"SELECT name, {columns} FROM access_points")  # noqa: S608
    return {row[0]: tuple(row[1:]) for row in rows}


def _columns(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return {c["name"] for c in sa.inspect(engine).get_columns("access_points")}
    finally:
        engine.dispose()


def _read_as_0392(text: str, format_version: int) -> tuple[PublicAccessBlock, list[list[str]]]:
    """The Block Public Access and tags as 0392's release (the last at 0158) reads a row."""
    if format_version < 2:
        return PublicAccessBlock.from_json(text), []
    document = json.loads(text)
    return PublicAccessBlock.from_json(json.dumps(document["block"])), document["tags"]


async def _check(url: str) -> None:
    await asyncio.to_thread(migrate, url, _BEFORE)
    _insert(url, "old", _MIXED.to_json(), 1)
    _insert(url, "plain", _settings_document(_OPEN, []), 2)
    _insert(url, "tagged", _settings_document(_MIXED, _TAGS), 2)
    before = await asyncio.to_thread(_rows, url)

    await asyncio.to_thread(migrate, url, "0159")

    assert await asyncio.to_thread(_rows, url) == {
        "old": (_MIXED.to_json(), 1, "[]"),
        "plain": (_OPEN.to_json(), 1, "[]"),
        "tagged": (_MIXED.to_json(), 1, json.dumps(_TAGS)),
    }
    db = open_database(url)
    try:
        store = SqlAccessPointStore(db)
        found = {p.name: p for p in await store.list(_ACCOUNT, bucket=None, after=None, limit=9)}
        assert {n: (p.public_access_block, p.tags) for n, p in found.items()} == {
            "old": (_MIXED, ()),
            "plain": (_OPEN, ()),
            "tagged": (_MIXED, (("team", "blue"), ("env", "prod"))),
        }
        # This release tags "plain"; a gateway of 0392's release (rolling upgrade), which sees
        # no tags in the column, writes its own document into "old".
        assert await store.change_tags(_ACCOUNT, "plain", lambda tags: (("k", "v"),))
    finally:
        await db.close()
    _execute(
        url,
        "UPDATE access_points SET public_access_block = :block, format_version = 2"
        " WHERE name = 'old'",
        {"block": _settings_document(_MIXED, [["by", "0392"]])},
    )

    await asyncio.to_thread(migrate, url, _BEFORE, down=True)

    assert "tags" not in await asyncio.to_thread(_columns, url)
    after = await asyncio.to_thread(_rows, url)
    assert after["tagged"] == before["tagged"]
    read = {name: _read_as_0392(*row) for name, row in after.items()}
    assert read == {
        "old": (_MIXED, [["by", "0392"]]),
        "plain": (_OPEN, [["k", "v"]]),
        "tagged": (_MIXED, _TAGS),
    }

    # Up again: each row's tags in the column, each block format 1.
    await asyncio.to_thread(migrate, url, "0159")
    assert await asyncio.to_thread(_rows, url) == {
        "old": (_MIXED.to_json(), 1, '[["by", "0392"]]'),
        "plain": (_OPEN.to_json(), 1, '[["k", "v"]]'),
        "tagged": (_MIXED.to_json(), 1, json.dumps(_TAGS)),
    }


async def test_an_untagged_row_goes_down_as_format_1(tmp_path: Path) -> None:
    """A row without tags is left format 1 by the downgrade: the release before 0392, which
    parses ``public_access_block`` as the four switches only, reads it as it was."""
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    await asyncio.to_thread(migrate, url, "0159")
    _insert(url, "new", _OPEN.to_json(), 1)
    await asyncio.to_thread(migrate, url, _BEFORE, down=True)
    ((text, version),) = (await asyncio.to_thread(_rows, url)).values()
    assert (PublicAccessBlock.from_json(text), version) == (_OPEN, 1)


async def test_on_sqlite(tmp_path: Path) -> None:
    await _check(f"sqlite:///{tmp_path / 'meta.db'}")


async def test_on_postgresql(postgres_empty_url: str) -> None:
    await _check(postgres_empty_url)
