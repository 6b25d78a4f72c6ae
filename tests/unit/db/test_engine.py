"""The SQLite engine: pragmas, serialised writers, aware UTC datetimes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from andromede.db import tables
from andromede.db.engine import create_engine, write_transaction
from andromede.db.migrate import upgrade


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'meta.db'}"
    await upgrade(url)
    engine = create_engine(url)
    try:
        yield engine
    finally:
        await engine.dispose()


async def test_pragmas(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        assert await conn.scalar(sa.text("PRAGMA journal_mode")) == "wal"
        assert await conn.scalar(sa.text("PRAGMA synchronous")) == 2  # FULL
        assert await conn.scalar(sa.text("PRAGMA foreign_keys")) == 1
        assert (await conn.scalar(sa.text("PRAGMA busy_timeout")) or 0) > 0


async def test_concurrent_writers_never_see_a_locked_database(engine: AsyncEngine) -> None:
    now = datetime.now(UTC)

    async def writer(i: int) -> None:
        async with write_transaction(engine) as conn:
            count = await conn.scalar(sa.select(sa.func.count()).select_from(tables.buckets))
            await asyncio.sleep(0)  # let the others try to write meanwhile
            await conn.execute(
                tables.buckets.insert().values(
                    name=f"b{i}-{count}", tenant_id="t", owner_id="o", region="r", created_at=now
                )
            )

    await asyncio.gather(*(writer(i) for i in range(30)))
    async with engine.connect() as conn:
        names = (await conn.scalars(sa.select(tables.buckets.c.name))).all()
    # Serialised: each writer saw the count the previous ones left, so suffixes are 0..29.
    assert sorted(int(n.split("-")[1]) for n in names) == list(range(30))


async def test_write_transaction_rolls_back_on_error(engine: AsyncEngine) -> None:
    now = datetime.now(UTC)
    with pytest.raises(RuntimeError):
        async with write_transaction(engine) as conn:
            await conn.execute(
                tables.buckets.insert().values(
                    name="b", tenant_id="t", owner_id="o", region="r", created_at=now
                )
            )
            raise RuntimeError("boom")
    async with engine.connect() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(tables.buckets)) == 0


async def test_datetimes_round_trip_as_aware_utc(engine: AsyncEngine) -> None:
    paris = timezone(timedelta(hours=2))
    moment = datetime(2026, 6, 1, 14, 30, 15, 123456, tzinfo=paris)
    async with write_transaction(engine) as conn:
        await conn.execute(
            tables.tenants.insert().values(id="t", name="n", status="active", created_at=moment)
        )
    async with engine.connect() as conn:
        stored = await conn.scalar(sa.select(tables.tenants.c.created_at))
    assert stored == moment
    assert stored.tzinfo is not None and stored.utcoffset() == timedelta(0)
    assert stored.microsecond == 123456


async def test_naive_datetimes_are_refused(engine: AsyncEngine) -> None:
    with pytest.raises(sa.exc.StatementError):
        async with write_transaction(engine) as conn:
            await conn.execute(
                tables.tenants.insert().values(
                    id="t", name="n", status="active", created_at=datetime(2026, 1, 1)
                )
            )
