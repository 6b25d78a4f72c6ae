"""Logs Insights queries run (decision 0186, session-48 and -49 addenda): StartQuery's checks, a
query run as a task over a group's sealed events a chunk at a time to Complete with its
statistics and metered bytes; several groups; StopQuery here and through another gateway
(a second service over the same store); the account's bound on running queries; the
timeout, a query whose gateway went away answered Timeout, a query too large Failed;
DescribeQueries by group, status and pages; results expired; partial results while a
query runs (with ``stats``, the aggregation so far), over the memory and SQLite stores."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from andromede.logs.errors import InvalidParameter, LimitExceeded, ResourceNotFound
from andromede.logs.insights import InsightsLimits, InsightsService
from andromede.logs.insights_query import MalformedQuery
from andromede.logs.model import InputEvent
from andromede.logs.queries import MemoryQueryStore, QueryRecord, QueryStatus, QueryStore
from andromede.logs.queries_sql import SqlQueryStore
from support.logsapp import NOW, LogsWorld, logs_world
from support.store_backends import backend_database

T = "000000000001"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[LogsWorld]:
    yield from logs_world(tmp_path / "w")


async def filled(world: LogsWorld, group: str, count: int) -> None:
    await world.service.create_group(T, group, None, {})
    await world.service.create_stream(T, group, "s")
    events = [InputEvent(NOW - 60_000 + n, json.dumps({"n": n})) for n in range(count)]
    await world.service.put_events(T, group, "s", events)


async def ended(service: InsightsService, query_id: str) -> QueryRecord:
    for _ in range(500):
        record = await service.get_results(T, query_id)
        if record.status not in (QueryStatus.SCHEDULED, QueryStatus.RUNNING):
            return record
        await asyncio.sleep(0.01)
    raise AssertionError("the query did not end")


def insights(world: LogsWorld, store: MemoryQueryStore | None = None, **limits: int) -> tuple[
    InsightsService, list[tuple[str, int]]
]:  # fmt: skip
    metered: list[tuple[str, int]] = []
    service = InsightsService(
        world.service,
        store or MemoryQueryStore(),
        InsightsLimits(**{"chunk": 7, **limits}),
        lambda tenant, size: metered.append((tenant, size)),
        world.clock,
    )
    return service, metered


SECONDS = ((NOW - 120_000) // 1000, NOW // 1000)


async def test_a_query_runs_to_complete(world: LogsWorld) -> None:
    await filled(world, "/a", 30)
    await filled(world, "/b", 5)
    service, metered = insights(world)
    query_id = await service.start_query(
        T, ["/a", "/b"], *SECONDS, "filter n >= 3 | stats count(*) as c, sum(n) as s", None
    )
    record = await ended(service, query_id)
    assert record.status is QueryStatus.COMPLETE
    # /a: 3..29 (27 events, sum 432); /b: 3, 4.
    assert record.results == ([("c", "29"), ("s", "439")],)
    assert record.statistics["recordsScanned"] == 35.0
    assert record.statistics["recordsMatched"] == 29.0
    assert metered == [(T, int(record.statistics["bytesScanned"]))] and metered[0][1] > 35 * 26
    # The range is in seconds, endTime included; before it nothing is read.
    early = await service.start_query(T, ["/a"], 0, SECONDS[0] - 60, "fields n", 5)
    assert (await ended(service, early)).results == ()


async def test_start_query_checks(world: LogsWorld) -> None:
    await filled(world, "/a", 1)
    service, _ = insights(world)
    with pytest.raises(MalformedQuery):
        await service.start_query(T, ["/a"], 0, 1, "fields |", None)
    with pytest.raises(ResourceNotFound):
        await service.start_query(T, ["/a", "/missing"], 0, 1, "fields n", None)
    for groups, start, end, limit in (([], 0, 1, None), (["/a"], 5, 1, None),
                                      (["/a"], 0, 1, 0), (["/a"] * 51, 0, 1, None)):  # fmt: skip
        with pytest.raises(InvalidParameter):
            await service.start_query(T, groups, start, end, "fields n", limit)
    with pytest.raises(ResourceNotFound):
        await service.get_results(T, "nope")
    # Without a limit, AWS's 10,000 rows (session 49; session 48 answered 1,000).
    query_id = await service.start_query(T, ["/a"], 0, 1, "fields n", None)
    assert (await service.get_results(T, query_id)).limit == 10_000


async def test_stop_here_and_through_another_gateway(world: LogsWorld) -> None:
    await filled(world, "/a", 200)
    store = MemoryQueryStore()
    here, _ = insights(world, store, chunk=1)
    there, _ = insights(world, store)
    first = await here.start_query(T, ["/a"], *SECONDS, "stats count(*)", None)
    assert await here.stop_query(T, first)
    assert (await ended(here, first)).status is QueryStatus.CANCELLED
    assert not await here.stop_query(T, first)
    second = await here.start_query(T, ["/a"], *SECONDS, "stats count(*)", None)
    await asyncio.sleep(0.01)  # running, a chunk of one event at a time
    assert await there.stop_query(T, second)
    for _ in range(200):
        if not here._tasks:
            break
        await asyncio.sleep(0.01)
    assert not here._tasks  # the task saw the stop in the store and ended
    assert (await store.get(T, second)).status is QueryStatus.CANCELLED  # type: ignore[union-attr]


async def test_bound_timeout_and_failure(world: LogsWorld) -> None:
    await filled(world, "/a", 50)
    store = MemoryQueryStore()
    service, _ = insights(world, store, max_concurrent=1, max_groups=5)
    # A query the gateway that took it never ran (it stopped): Running in the store.
    orphan = QueryRecord(T, "orphan", ("/a",), "fields n", 0, 1, 10, NOW,
                         QueryStatus.RUNNING)  # fmt: skip
    await store.create(orphan, 1)
    with pytest.raises(LimitExceeded):
        await service.start_query(T, ["/a"], *SECONDS, "fields n", None)
    world.clock.now = NOW + 3_600_001
    assert (await service.get_results(T, "orphan")).status is QueryStatus.TIMEOUT
    world.clock.now = NOW
    too_many = await service.start_query(T, ["/a"], *SECONDS, "stats count(*) by n", None)
    record = await ended(service, too_many)
    assert record.status is QueryStatus.FAILED and record.results == ()
    slow, _ = insights(world, store, timeout_ms=0)
    timed = await slow.start_query(T, ["/a"], *SECONDS, "fields n", None)
    assert (await ended(slow, timed)).status is QueryStatus.TIMEOUT


async def test_describe_queries_and_expiry(world: LogsWorld) -> None:
    await filled(world, "/a", 3)
    await filled(world, "/b", 3)
    service, _ = insights(world)
    made = []
    for n, group in enumerate(["/a", "/b", "/a", "/a"]):
        world.clock.now = NOW + n
        made.append(await service.start_query(T, [group], *SECONDS, "fields n", None))
        await ended(service, made[-1])
    await service.describe_queries(T, None, None, None, None)
    found, token = await service.describe_queries(T, "/a", "Complete", 2, None)
    assert [q.query_id for q in found] == [made[3], made[2]] and token is not None
    found, token = await service.describe_queries(T, "/a", None, 2, token)
    assert [q.query_id for q in found] == [made[0]] and token is None
    assert await service.describe_queries(T, None, "Running", None, None) == ([], None)
    for bad in ({"status": "Nope"}, {"limit": 0}, {"token": "!!"}):
        with pytest.raises(InvalidParameter):
            await service.describe_queries(
                T,
                None,
                bad.get("status"),
                bad.get("limit"),
                bad.get("token"),  # type: ignore[arg-type]
            )
    world.clock.now = NOW + 7 * 86_400_000 + 2
    assert await service.expire() == 2
    await service.close()


async def test_a_stopping_gateway_ends_its_queries_failed(world: LogsWorld) -> None:
    await filled(world, "/a", 300)
    store = MemoryQueryStore()
    service, _ = insights(world, store, chunk=1)
    query_id = await service.start_query(T, ["/a"], *SECONDS, "stats count(*)", None)
    await asyncio.sleep(0.01)
    await service.close()
    record = await store.get(T, query_id)
    assert record is not None and record.status is QueryStatus.FAILED


@pytest.fixture(params=["memory", "sqlite"])
async def query_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[QueryStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryQueryStore() if db is None else SqlQueryStore(db)


async def test_partial_results_while_running(world: LogsWorld, query_store: QueryStore) -> None:
    """Session 49: GetQueryResults answers the rows found so far and the statistics while
    the query runs (written every ``partial_interval``: here after every chunk of 7)."""
    await filled(world, "/a", 300)
    service = InsightsService(
        world.service, query_store, InsightsLimits(chunk=7, partial_interval=0), None, world.clock
    )
    query_id = await service.start_query(T, ["/a"], *SECONDS, "filter n % 2 = 0 | fields n", None)
    partial: QueryRecord | None = None
    for _ in range(5000):
        record = await service.get_results(T, query_id)
        assert record.status is not QueryStatus.COMPLETE, "the query ended before it was seen"
        if record.status is QueryStatus.RUNNING and record.results:
            partial = record
            break
        await asyncio.sleep(0)
    assert partial is not None
    scanned = partial.statistics["recordsScanned"]
    assert 7 <= scanned < 300 and scanned % 7 == 0
    assert partial.statistics["recordsMatched"] == len(partial.results) == (scanned + 1) // 2
    assert [row[0] for row in partial.results] == [
        ("n", str(2 * i)) for i in range(len(partial.results))
    ]
    # A stop through another gateway: the next partial write finds it and the task ends.
    other = InsightsService(world.service, query_store, InsightsLimits(), None, world.clock)
    assert await other.stop_query(T, query_id)
    await asyncio.sleep(0.05)
    assert (await service.get_results(T, query_id)).status is QueryStatus.CANCELLED
    assert not service._tasks
    # To the end, the rows complete; an aggregation's rows only when it completes.
    finished = await ended(service, await service.start_query(T, ["/a"], *SECONDS, "fields n", 500))
    assert len(finished.results) == 300 and finished.statistics["recordsScanned"] == 300


async def test_partial_stats_while_running(world: LogsWorld, query_store: QueryStore) -> None:
    """Session 49: a query with ``stats`` answers the aggregation of the events read so far
    while it runs, then the whole one."""
    await filled(world, "/a", 300)
    service = InsightsService(
        world.service, query_store, InsightsLimits(chunk=7, partial_interval=0), None, world.clock
    )
    query = "stats count(*) as c, max(n) as top by n % 2 as odd | sort odd asc"
    query_id = await service.start_query(T, ["/a"], *SECONDS, query, None)
    partial: QueryRecord | None = None
    for _ in range(5000):
        record = await service.get_results(T, query_id)
        assert record.status is not QueryStatus.COMPLETE, "the query ended before it was seen"
        if record.status is QueryStatus.RUNNING and record.results:
            partial = record
            break
        await asyncio.sleep(0)
    assert partial is not None
    scanned = int(partial.statistics["recordsScanned"])
    assert 7 <= scanned < 300 and scanned % 7 == 0
    assert [list(map(tuple, row)) for row in partial.results] == [
        [("odd", "0"), ("c", str((scanned + 1) // 2)), ("top", str((scanned - 1) // 2 * 2))],
        [("odd", "1"), ("c", str(scanned // 2)), ("top", str(scanned // 2 * 2 - 1))],
    ]
    finished = await ended(service, query_id)
    assert [list(map(tuple, row)) for row in finished.results] == [
        [("odd", "0"), ("c", "150"), ("top", "298")],
        [("odd", "1"), ("c", "150"), ("top", "299")],
    ]
    await service.close()


async def test_diff_scans_the_compared_window(world: LogsWorld) -> None:
    """Session 50: ``diff`` reads the window of the same length just before the query's (its
    events scanned and billed too) and answers each pattern's change; ``pattern`` answers the
    patterns of the query's window only."""
    await world.service.create_group(T, "/d", None, {})
    await world.service.create_stream(T, "/d", "s")
    start, end = SECONDS
    before = [InputEvent(NOW - 200_000 + n, "job 7 failed on node 2") for n in range(4)]
    now = [InputEvent(NOW - 60_000 + n, f"job {n} failed on node 3") for n in range(2)]
    now += [InputEvent(NOW - 50_000, "cache warmed")]
    await world.service.put_events(T, "/d", "s", before + now)
    service, metered = insights(world)
    record = await ended(service, await service.start_query(T, ["/d"], start, end, "diff", None))
    assert record.status is QueryStatus.COMPLETE
    rows = [dict(row) for row in record.results]
    assert [(r["@pattern"], r["@diffStatus"], r["@diffSampleCount"]) for r in rows] == [
        ("job <*> failed on node <*>", "Decreased", "-2"),
        ("cache warmed", "New", "1"),
    ]
    assert record.statistics["recordsScanned"] == 7.0
    assert record.statistics["recordsMatched"] == 3.0
    assert sum(size for _, size in metered) == sum(len(e.message) + 26 for e in before + now)
    plain = await ended(
        service, await service.start_query(T, ["/d"], start, end, "pattern @message", None)
    )
    assert [dict(row)["@sampleCount"] for row in plain.results] == ["2", "1"]
    await service.close()
