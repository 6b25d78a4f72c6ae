"""One suite over every BillingStore: the in-memory twin, SQLite and PostgreSQL — usage only
ever added to, samplers' watermarks billing an interval once, instance runs with their minute
minimum, the catalogue as exact decimals, and two gateways writing the same rows at once on
the real PostgreSQL adding up rather than overwriting each other."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from andromede.billing.model import Price, Run, UsageIncrement, UsageTotal, seconds_by_hour
from andromede.billing.store import BillingStore, MemoryBillingStore
from andromede.billing.store_sql import SqlBillingStore
from andromede.db.database import Database, open_database
from support.store_backends import BACKENDS, backend_database

H = datetime(2026, 12, 4, 9, tzinfo=UTC)
DAY = (H.replace(hour=0), H.replace(hour=0) + timedelta(days=1))


@pytest.fixture(params=BACKENDS)
async def database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Database | None]:
    async with backend_database(request, tmp_path) as db:
        yield db


@pytest.fixture
def store(database: Database | None) -> BillingStore:
    return MemoryBillingStore() if database is None else SqlBillingStore(database)


def inc(tenant: str, meter: str, quantity: int, hour: int = 0) -> UsageIncrement:
    return UsageIncrement(tenant, "eu-fr-1", meter, H + timedelta(hours=hour), quantity)


async def test_usage_is_added_to_never_overwritten(store: BillingStore) -> None:
    await store.add_usage([inc("t1", "s3.transfer.in", 10), inc("t1", "s3.transfer.in", 5)])
    await store.add_usage([inc("t1", "s3.transfer.in", 1), inc("t1", "kms.requests", 2, hour=1)])
    await store.add_usage([inc("t2", "kms.requests", 7), inc("t1", "kms.requests", 3, hour=-5)])
    await store.add_usage([])
    assert await store.usage("t1", *DAY) == [
        UsageTotal("eu-fr-1", "kms.requests", 5),
        UsageTotal("eu-fr-1", "s3.transfer.in", 16),
    ]
    # Periods are half-open: the hour at their end is not theirs.
    assert await store.usage("t1", H + timedelta(hours=1), H + timedelta(hours=2)) == [
        UsageTotal("eu-fr-1", "kms.requests", 2)
    ]
    assert await store.usage("t1", H, H + timedelta(hours=1)) == [
        UsageTotal("eu-fr-1", "s3.transfer.in", 16)
    ]
    assert await store.usage("t3", *DAY) == []
    hourly = await store.usage_by_hour("t1", *DAY)
    assert [(i.hour, i.meter, i.quantity) for i in hourly] == [
        (H - timedelta(hours=5), "kms.requests", 3),
        (H, "s3.transfer.in", 16),
        (H + timedelta(hours=1), "kms.requests", 2),
    ]


async def test_quantities_past_32_bits_are_kept(store: BillingStore) -> None:
    big = 2**60
    await store.add_usage([inc("t1", "s3.storage", big)])
    await store.add_usage([inc("t1", "s3.storage", 1)])
    assert await store.usage("t1", *DAY) == [UsageTotal("eu-fr-1", "s3.storage", big + 1)]


async def test_a_sampler_bills_each_interval_once(store: BillingStore) -> None:
    calls: list[tuple[datetime, datetime]] = []

    def held(previous: datetime, now: datetime) -> list[UsageIncrement]:
        calls.append((previous, now))
        return [
            UsageIncrement("t1", "eu-fr-1", "kms.keys", h, s)
            for h, s in seconds_by_hour(previous, now)
        ]

    assert await store.advance_sampler("kms.keys", H, held)  # starts the clock
    assert calls == []
    assert await store.advance_sampler("kms.keys", H + timedelta(seconds=90), held)
    assert not await store.advance_sampler("kms.keys", H + timedelta(seconds=90), held)
    assert not await store.advance_sampler("kms.keys", H + timedelta(seconds=30), held)
    assert await store.advance_sampler("s3.storage", H, held)  # another sampler, its own clock
    assert calls == [(H, H + timedelta(seconds=90))]
    assert await store.usage("t1", *DAY) == [UsageTotal("eu-fr-1", "kms.keys", 90)]


def run(resource: str, start: datetime) -> Run:
    return Run(resource, "t1", "eu-fr-1", "ec2.instance.t3.micro", start, start)


async def test_runs_are_billed_as_they_go_and_closed_with_the_minute_minimum(
    store: BillingStore,
) -> None:
    start = H - timedelta(seconds=30)
    await store.start_run(run("i-1", start))
    await store.start_run(run("i-2", H))
    await store.bill_runs(H + timedelta(seconds=10))
    assert [(r.resource_id, r.billed_until) for r in await store.open_runs()] == [
        ("i-1", H + timedelta(seconds=10)),
        ("i-2", H + timedelta(seconds=10)),
    ]
    assert await store.end_run("i-1", H + timedelta(seconds=20))  # lasted 50 s: billed 60
    assert not await store.end_run("i-1", H + timedelta(seconds=30))
    # i-2 "starts" while its run is open (compute's start after the sampler opened it, or
    # a missed stop): the open run is kept, not closed with a minute and opened again.
    await store.start_run(run("i-2", H + timedelta(seconds=15)))
    await store.bill_runs(H + timedelta(seconds=100))
    assert [(r.resource_id, r.started_at) for r in await store.open_runs()] == [("i-2", H)]
    hourly = await store.usage_by_hour("t1", *DAY)
    assert [(i.hour, i.quantity) for i in hourly] == [
        (H - timedelta(hours=1), 30),
        (H, 30 + 100),
    ]
    assert [r.resource_id for r in await store.open_runs()] == ["i-2"]


async def test_a_run_open_from_before_the_last_stop_ends_at_that_stop(
    store: BillingStore,
) -> None:
    """A stop billing missed then a start: the old run is billed up to the stop compute
    recorded and closed, the new one opened — the stopped gap is not billed (0114)."""
    await store.start_run(run("i-1", H))
    await store.bill_runs(H + timedelta(seconds=100))
    stop = H + timedelta(seconds=200)
    restart = H + timedelta(seconds=3000)
    await store.start_run(run("i-1", restart), previous_stop=stop)
    assert [(r.resource_id, r.started_at) for r in await store.open_runs()] == [("i-1", restart)]
    # Again (the sampler's reconciliation after compute's start): this period's run is kept.
    await store.start_run(run("i-1", restart + timedelta(seconds=5)), previous_stop=stop)
    assert [(r.resource_id, r.started_at) for r in await store.open_runs()] == [("i-1", restart)]
    await store.end_run("i-1", restart + timedelta(seconds=90))
    assert await store.usage("t1", *DAY) == [
        UsageTotal("eu-fr-1", "ec2.instance.t3.micro", 200 + 90)
    ]


async def test_the_catalogue_keeps_exact_decimals(store: BillingStore) -> None:
    await store.set_price(Price("eu-fr-1", "s3.storage", Decimal("0.000000001")))
    await store.set_price(Price("eu-fr-1", "kms.keys", Decimal("1.10")))
    await store.set_price(Price("eu-fr-1", "kms.keys", Decimal("0.95")))  # replaced
    await store.set_price(Price("eu-de-1", "kms.keys", Decimal("123456789.123456789")))
    assert await store.prices() == [
        Price("eu-de-1", "kms.keys", Decimal("123456789.123456789")),
        Price("eu-fr-1", "kms.keys", Decimal("0.95")),
        Price("eu-fr-1", "s3.storage", Decimal("1E-9")),
    ]
    assert await store.delete_price("eu-de-1", "kms.keys")
    assert not await store.delete_price("eu-de-1", "kms.keys")
    await store.set_vat_rate("eu-fr-1", Decimal("0.20"))
    await store.set_vat_rate("eu-fr-1", Decimal("0.055"))
    assert await store.vat_rates() == {"eu-fr-1": Decimal("0.055")}


async def test_two_gateways_add_up_on_postgresql(postgres_url: str) -> None:
    """Two databases (two gateways' pools) adding to the same rows and sampling the same
    watermark at once: every increment counts, and each interval is billed once."""
    first, second = open_database(postgres_url), open_database(postgres_url)
    try:
        stores = [SqlBillingStore(first), SqlBillingStore(second)]
        batch = [inc("t1", "s3.requests.class-a", 1, hour=h) for h in range(3)]

        async def writer(store: SqlBillingStore) -> None:
            for _ in range(25):
                await store.add_usage(batch + list(reversed(batch)))

        await asyncio.gather(*(writer(s) for s in stores))

        def held(previous: datetime, now: datetime) -> list[UsageIncrement]:
            return [
                UsageIncrement("t2", "eu-fr-1", "kms.keys", h, s)
                for h, s in seconds_by_hour(previous, now)
            ]

        await stores[0].advance_sampler("kms.keys", H, held)
        for step in range(1, 11):
            now = H + timedelta(seconds=10 * step)
            await asyncio.gather(*(s.advance_sampler("kms.keys", now, held) for s in stores))
        totals = await stores[1].usage("t1", *DAY)
        assert totals == [UsageTotal("eu-fr-1", "s3.requests.class-a", 2 * 25 * 2 * 3)]
        assert await stores[0].usage("t2", *DAY) == [UsageTotal("eu-fr-1", "kms.keys", 100)]
    finally:
        await first.close()
        await second.close()
