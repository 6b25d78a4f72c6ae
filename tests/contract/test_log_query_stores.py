"""Decision 0186's Logs Insights query store (session-48 addendum) over every implementation
(memory, SQLite, PostgreSQL): a query kept with its account's bound on running ones, its end
written only from the statuses it may leave (a stop is never overwritten), listed newest
first by pages and status, expired by age; saved query definitions made, replaced, bounded,
listed by name under a prefix and deleted."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.logs.errors import LimitExceeded
from andromede.logs.queries import (
    ACTIVE,
    MemoryQueryStore,
    QueryDefinition,
    QueryRecord,
    QueryStatus,
    QueryStore,
)
from andromede.logs.queries_sql import SqlQueryStore
from support.store_backends import BACKENDS, backend_database

T0 = 1_800_000_000_000


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[QueryStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryQueryStore() if db is None else SqlQueryStore(db)


def record(query_id: str, created: int = T0, tenant_id: str = "t1") -> QueryRecord:
    return QueryRecord(tenant_id, query_id, ("/a", "/b"), "fields @message", 10, 20, 100, created)


async def test_create_get_finish(store: QueryStore) -> None:
    await store.create(record("q1"), 2)
    assert await store.get("t1", "q1") == record("q1")
    assert await store.get("t2", "q1") is None
    running = frozenset({QueryStatus.SCHEDULED})
    assert await store.finish("t1", "q1", QueryStatus.RUNNING, [], {}, running)
    assert not await store.finish("t1", "q1", QueryStatus.RUNNING, [], {}, running)
    rows = [[("@message", "x"), ("n", "1")], [("@message", "é")]]
    stats = {"recordsMatched": 2.0, "recordsScanned": 5.0, "bytesScanned": 99.0}
    assert await store.finish("t1", "q1", QueryStatus.CANCELLED, [], {}, ACTIVE)
    # The gateway that ran it ends it later: the stop stands.
    ended = frozenset({QueryStatus.RUNNING})
    assert not await store.finish("t1", "q1", QueryStatus.COMPLETE, rows, stats, ended)
    assert (await store.get("t1", "q1")).status is QueryStatus.CANCELLED  # type: ignore[union-attr]
    await store.create(record("q2"), 2)
    await store.finish("t1", "q2", QueryStatus.RUNNING, [], {}, running)
    # Session 49: partial rows and statistics written while it runs, read by any gateway.
    assert await store.finish(
        "t1", "q2", QueryStatus.RUNNING, rows[:1], {"recordsScanned": 1.0}, ended
    )
    partial = await store.get("t1", "q2")
    assert partial is not None and partial.status is QueryStatus.RUNNING
    assert (partial.results, partial.statistics) == ((rows[0],), {"recordsScanned": 1.0})
    assert await store.finish("t1", "q2", QueryStatus.COMPLETE, rows, stats, ended)
    assert await store.get("t1", "q2") == dataclasses.replace(
        record("q2"), status=QueryStatus.COMPLETE, results=tuple(rows), statistics=stats
    )


async def test_the_bound_counts_running_queries_only(store: QueryStore) -> None:
    await store.create(record("q1"), 2)
    await store.create(record("q2"), 2)
    with pytest.raises(LimitExceeded, match=r"concurrency limit of \[2\]"):
        await store.create(record("q3"), 2)
    await store.create(record("q3", tenant_id="t2"), 2)  # another account's own bound
    await store.finish("t1", "q1", QueryStatus.FAILED, [], {}, ACTIVE)
    await store.create(record("q3"), 2)


async def test_list_and_expire(store: QueryStore) -> None:
    for n in range(5):
        await store.create(record(f"q{n}", T0 + n // 2), 10)
    await store.finish("t1", "q3", QueryStatus.COMPLETE, [], {}, ACTIVE)
    page = await store.recent("t1", None, None, 3)
    assert [q.query_id for q in page] == ["q4", "q3", "q2"]
    after = (page[-1].created, page[-1].query_id)
    assert [q.query_id for q in await store.recent("t1", None, after, 3)] == ["q1", "q0"]
    done = await store.recent("t1", QueryStatus.COMPLETE, None, 3)
    assert [q.query_id for q in done] == ["q3"]
    assert await store.recent("t2", None, None, 3) == []
    assert await store.expire(T0 + 2) == 4
    assert [q.query_id for q in await store.recent("t1", None, None, 10)] == ["q4"]


async def test_query_definitions(store: QueryStore) -> None:
    def saved(definition_id: str, name: str, tenant_id: str = "t1") -> QueryDefinition:
        return QueryDefinition(tenant_id, definition_id, name, "fields a", ("/a",), T0)

    assert await store.put_definition(saved("d1", "ops/errors"), 3, must_exist=False)
    assert await store.put_definition(saved("d2", "ops/latency"), 3, must_exist=False)
    assert await store.put_definition(saved("d3", "Ops/upper"), 3, must_exist=False)
    with pytest.raises(LimitExceeded):
        await store.put_definition(saved("d4", "x"), 3, must_exist=False)
    assert not await store.put_definition(saved("d4", "x"), 9, must_exist=True)
    await store.put_definition(saved("d1", "other", "t2"), 3, must_exist=False)
    replaced = dataclasses.replace(saved("d1", "ops/a"), groups=(), modified=T0 + 1)
    assert await store.put_definition(replaced, 3, must_exist=True)
    names = [(d.name, d.definition_id) for d in await store.list_definitions("t1", "", None, 9)]
    assert names == [("Ops/upper", "d3"), ("ops/a", "d1"), ("ops/latency", "d2")]
    found = await store.list_definitions("t1", "ops/", None, 1)
    assert found == [replaced]
    after = (found[0].name, found[0].definition_id)
    assert [d.definition_id for d in await store.list_definitions("t1", "ops/", after, 9)] == ["d2"]
    assert await store.delete_definition("t1", "d1")
    assert not await store.delete_definition("t1", "d1")
    assert [d.name for d in await store.list_definitions("t2", "", None, 9)] == ["other"]
