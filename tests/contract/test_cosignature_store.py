"""The witnesses' cosignatures of the audit logs (decision 0122) on every store: the in-memory
twin, SQLite and PostgreSQL (both migrated with Alembic). A record is replaced only by one of a
size at least as large, whatever order two gateways write them in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from andromede.audit.cosigned import (
    CosignatureStore,
    Cosigned,
    MemoryCosignatureStore,
    SqlCosignatureStore,
)
from andromede.db.database import open_database
from support.schema import migrated_sqlite

T0 = datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[CosignatureStore]:
    if request.param == "memory":
        yield MemoryCosignatureStore()
        return
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        url = migrated_sqlite(tmp_path / "meta.db")
    db = open_database(url)
    try:
        yield SqlCosignatureStore(db)
    finally:
        await db.close()


def cosigned(log: str, witness: str, size: int) -> Cosigned:
    return Cosigned(log, witness, size, bytes([size % 256]) * 32, f"\u2014 {witness} sig{size}", T0)


async def test_the_largest_size_is_kept_per_log_and_witness(store: CosignatureStore) -> None:
    assert await store.latest("111122223333") == []
    assert await store.record(cosigned("111122223333", "w.example/b", 5))
    assert await store.record(cosigned("111122223333", "w.example/a", 7))
    assert await store.record(cosigned("platform", "w.example/a", 2))
    # A later round's larger size replaces; a slow gateway's smaller one does not.
    assert await store.record(cosigned("111122223333", "w.example/b", 9))
    assert not await store.record(cosigned("111122223333", "w.example/b", 6))
    # The same size again (a re-cosigned checkpoint, a later timestamp) replaces.
    again = cosigned("111122223333", "w.example/a", 7)
    assert await store.record(
        Cosigned(again.log, again.witness, 7, again.root_hash, "\u2014 w.example/a new", T0)
    )
    kept = await store.latest("111122223333")
    assert [(c.witness, c.size) for c in kept] == [("w.example/a", 7), ("w.example/b", 9)]
    assert kept[0].cosignature == "\u2014 w.example/a new"
    assert kept[1].root_hash == bytes([9]) * 32 and kept[1].cosignature == "\u2014 w.example/b sig9"
    assert kept[1].cosigned_at == T0
    assert [(c.witness, c.size) for c in await store.latest("platform")] == [("w.example/a", 2)]
