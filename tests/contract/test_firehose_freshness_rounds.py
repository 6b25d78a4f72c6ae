"""Decision 0398: with several gateways on one database (memory twins, SQLite, PostgreSQL),
each minute's ``DataFreshness`` round is claimed (``metric_runs``, decision 0181), so a
waiting stream gets one point a minute however many gateways tick — the round's pages said
by the gateway that claimed it, the next minute's by whichever claims it first."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from andromede.db.database import open_database
from andromede.firehose.freshness import PERIOD_MS, FreshnessGauges, RoundClaims
from andromede.firehose.memory import MemoryFirehoseStore
from andromede.firehose.model import DeliveryStream, S3Destination, StreamStatus
from andromede.firehose.store import FirehoseStore, SealedRecord
from andromede.firehose.store_sql import SqlFirehoseStore
from andromede.metrics.runs_sql import SqlMetricRuns
from andromede.metrics.stream_minutes import MemoryMinuteRuns
from support.store_backends import BACKENDS, sql_url

T0 = 1_800_000_000_000  # a minute's start
MIB = 1024 * 1024
Gateway = tuple[FirehoseStore, RoundClaims]


@pytest.fixture(params=BACKENDS)
async def gateways(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Gateway, Gateway]]:
    """Two gateways' stores and claims over one database (each its own connection)."""
    if request.param == "memory":
        shared: Gateway = (MemoryFirehoseStore(), MemoryMinuteRuns())
        yield shared, shared
        return
    url = sql_url(request, tmp_path)
    async with AsyncExitStack() as stack:
        made = []
        for _ in range(2):
            db = open_database(url)
            stack.push_async_callback(db.close)
            made.append((SqlFirehoseStore(db), SqlMetricRuns(db)))
        yield made[0], made[1]


def stream(name: str) -> DeliveryStream:
    return DeliveryStream(
        tenant_id="t1", name=name, region="eu-fr-1", status=StreamStatus.CREATING, version=1,
        created=T0, updated=T0,
        destination=S3Destination("arn:aws:iam::000000000001:role/r", "arn:aws:s3:::b",
                                  interval_seconds=900),
    )  # fmt: skip


async def waiting(store: FirehoseStore, names: list[str]) -> None:
    for name in names:
        await store.create(stream(name), max_streams=10)
    await store.activate()
    for name in names:
        await store.append("t1", name, [SealedRecord(f"{name}1", 3, b"x" * 31)], T0, MIB)


def gauge(gateway: Gateway, holder: str, said: list[tuple[str, str, int]]) -> FreshnessGauges:
    store, claims = gateway
    return FreshnessGauges(
        store, "eu-fr-1", 2,
        fresh=lambda s, _destination, ms: said.append((holder, s.name, ms)),
        backup_fresh=lambda s, ms: said.append((holder, s.name + " backup", ms)),
        claims=claims, holder=holder,
    )  # fmt: skip


async def test_one_gateway_says_each_minute(gateways: tuple[Gateway, Gateway]) -> None:
    first, second = gateways
    await waiting(first[0], ["a", "b", "c"])
    said: list[tuple[str, str, int]] = []
    a, b = gauge(first, "gw-a", said), gauge(second, "gw-b", said)
    now = T0 + 10_000
    assert await a.tick(now) == 2  # gw-a claims the minute: its first page
    assert await b.tick(now + 1) == 0  # the minute is gw-a's
    assert await b.tick(now + 5_000) == 0  # tried once a minute, not at every pass
    assert await a.tick(now + 5_000) == 1  # gw-a's round goes on, then is over
    assert said == [("gw-a", "a", 10_000), ("gw-a", "b", 10_000), ("gw-a", "c", 15_000)]
    said.clear()
    # The next minute: gw-b ticks first and claims it; gw-a, a minute after its round
    # started, finds it taken.
    assert await b.tick(T0 + PERIOD_MS + 20_000) == 2
    assert await a.tick(T0 + PERIOD_MS + 21_000) == 0
    assert await b.tick(T0 + PERIOD_MS + 25_000) == 1
    assert sorted(name for _, name, _ in said) == ["a", "b", "c"]
    assert {holder for holder, _, _ in said} == {"gw-b"}
    said.clear()
    # The minute after, gw-a's again: each minute one point a stream, whoever says it.
    assert await a.tick(T0 + 2 * PERIOD_MS + 30_000) == 2
    assert await b.tick(T0 + 2 * PERIOD_MS + 30_001) == 0
    assert await a.tick(T0 + 2 * PERIOD_MS + 35_000) == 1
    assert [name for _, name, _ in said] == ["a", "b", "c"]


async def test_a_round_is_claimed_once_even_when_it_ends_in_its_minute(
    gateways: tuple[Gateway, Gateway],
) -> None:
    """A round over before its minute ends is marked done: a gateway ticking later in the
    same minute does not say it again."""
    first, second = gateways
    await waiting(first[0], ["a"])
    said: list[tuple[str, str, int]] = []
    a, b = gauge(first, "gw-a", said), gauge(second, "gw-b", said)
    assert await a.tick(T0 + 1_000) == 1  # a short page: the round is over, marked done
    assert await b.tick(T0 + 59_000) == 0
    assert said == [("gw-a", "a", 1_000)]
