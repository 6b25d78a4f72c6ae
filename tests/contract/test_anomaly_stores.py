"""Decision 0189's anomaly detector store over every implementation (memory, SQLite,
PostgreSQL): a detector put, replaced (its ordinal kept) and read back whole, single-metric
and metric math; counted and paged per account in creation order with unique ordinals even
when put in the same microsecond; deleted once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.metrics.anomaly_model import Detector
from andromede.metrics.anomaly_store import DetectorStore, MemoryDetectorStore, digest
from andromede.metrics.anomaly_store_sql import SqlDetectorStore
from andromede.metrics.service import DataQuery
from support.store_backends import BACKENDS, backend_database

SINGLE = Detector("t1", "App", "Latency", (("Api", "é"),), "p99", excluded=((10, 20),),
                  timezone="Europe/Paris", periodic_spikes=True)  # fmt: skip
MATH = Detector(
    "t1",
    queries=(
        DataQuery("m1", "App", "Errors", (), 300, "Sum", return_data=False),
        DataQuery("e1", "", "", (), 0, "", label="doubled", expression="m1 * 2"),
    ),
)


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[DetectorStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryDetectorStore() if db is None else SqlDetectorStore(db)


async def test_put_replace_get_page_delete(store: DetectorStore) -> None:
    assert await store.put(SINGLE, 1000)
    assert await store.put(MATH, 1000)  # the same microsecond: the next ordinal
    assert await store.get("t1", digest(SINGLE)) == SINGLE
    assert await store.get("t1", digest(MATH)) == MATH
    assert await store.get("t2", digest(SINGLE)) is None
    changed = Detector("t1", "App", "Latency", (("Api", "é"),), "p99")
    assert not await store.put(changed, 5000)  # the same metric: replaced
    assert await store.get("t1", digest(SINGLE)) == changed
    await store.put(Detector("t2", "App", "Latency", (), "Sum"), 2000)
    assert (await store.count("t1"), await store.count("t2"), await store.count("t3")) == (2, 1, 0)
    page = await store.page("t1", 0, 10)
    assert [d for _, d in page] == [changed, MATH]  # creation order, the ordinal kept
    first, second = (at for at, _ in page)
    assert first < second
    assert [d for _, d in await store.page("t1", first, 10)] == [MATH]
    assert [d for _, d in await store.page("t1", 0, 1)] == [changed]
    assert await store.delete("t1", digest(MATH))
    assert not await store.delete("t1", digest(MATH))
    assert await store.count("t1") == 1
