"""Access point rows as other releases write them into the schema of migration 0159: a row of
the release before decision 0392 (format 1, no ``tags`` given: the column's default) reads with
no tags; a row a gateway of 0392's release tagged during a rolling upgrade (format 2: the
settings document in ``public_access_block``) reads with its tags over the column's, and the
next tag change rewrites it as format 1 with the tags in their column."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from andromede.db import tables
from andromede.db.database import Database, open_database
from andromede.storage.access_points import SqlAccessPointStore
from andromede.storage.model import PublicAccessBlock
from support.schema import migrated_sqlite

_ACCOUNT = "111111111111"
_BLOCK = PublicAccessBlock(True, False, True, False)


def _row(name: str, public_access_block: str, format_version: int) -> dict[str, Any]:
    return {
        "tenant_id": _ACCOUNT,
        "name": name,
        "bucket": "b1",
        "bucket_account": _ACCOUNT,
        "alias": f"{name}-abcdefghijklmn-s3alias",
        "policy": None,
        "vpc_id": None,
        "public_access_block": public_access_block,
        "format_version": format_version,
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
    }


async def _stored(db: Database, name: str) -> tuple[Any, ...]:
    t = tables.access_points
    query = sa.select(t.c.public_access_block, t.c.format_version, t.c.tags).where(t.c.name == name)
    row = await db.read(lambda conn: conn.execute(query).one())
    return tuple(row)


async def test_a_row_written_without_tags_reads_with_none(tmp_path: Path) -> None:
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    insert = tables.access_points.insert()
    await db.write(lambda conn: conn.execute(insert, [_row("old", _BLOCK.to_json(), 1)]))
    store = SqlAccessPointStore(db)
    found = await store.get(_ACCOUNT, "old")
    assert found is not None
    assert (found.public_access_block, found.tags) == (_BLOCK, ())
    assert await store.change_tags(_ACCOUNT, "old", lambda tags: (("k", "v"),))
    assert await _stored(db, "old") == (_BLOCK.to_json(), 1, '[["k", "v"]]')
    await db.close()


async def test_a_row_tagged_by_a_gateway_of_0392_is_read_and_rewritten(tmp_path: Path) -> None:
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    # The column holds what this release set; the older gateway, which does not see the
    # column, added "env" and gave "team" another value in its document.
    document = {"block": [True, False, True, False], "tags": [["env", "prod"], ["team", "red"]]}
    row = _row("mixed", json.dumps(document), 2) | {"tags": '[["team", "blue"], ["cost", "1"]]'}
    await db.write(lambda conn: conn.execute(tables.access_points.insert(), [row]))
    store = SqlAccessPointStore(db)
    found = await store.get(_ACCOUNT, "mixed")
    assert found is not None
    assert found.public_access_block == _BLOCK
    assert found.tags == (("team", "red"), ("cost", "1"), ("env", "prod"))
    assert await store.change_tags(_ACCOUNT, "mixed", lambda tags: tags[1:])
    assert await _stored(db, "mixed") == (
        _BLOCK.to_json(),
        1,
        '[["cost", "1"], ["env", "prod"]]',
    )
    found = await store.get(_ACCOUNT, "mixed")
    assert found is not None and found.tags == (("cost", "1"), ("env", "prod"))
    await db.close()
