"""BillingService over the in-memory store: request counts batched into one write per flush
and kept when a write fails, samplers billing what is held between samples, instance runs from
state changes (and from what runs, when a change was missed), and the catalogue's checks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from andromede.billing.errors import InvalidPrice, UnknownMeter
from andromede.billing.model import UsageIncrement, UsageTotal, parse_month
from andromede.billing.sampler import UsageSampler
from andromede.billing.service import STORAGE_SAMPLER, BillingService, RunningInstance
from andromede.billing.store import MemoryBillingStore
from andromede.db.errors import DatabaseUnavailable

T0 = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
DECEMBER = parse_month("2026-12")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class CountingStore(MemoryBillingStore):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.fail = False

    async def add_usage(self, increments: Sequence[UsageIncrement]) -> None:
        if self.fail:
            raise DatabaseUnavailable("down")
        self.writes += 1
        await super().add_usage(increments)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store() -> CountingStore:
    return CountingStore()


@pytest.fixture
def billing(store: CountingStore, clock: Clock) -> BillingService:
    return BillingService(store, region="eu-fr-1", instance_types=["t3.micro"], clock=clock)


async def usage(billing: BillingService, tenant: str = "t1") -> dict[tuple[str, str], int]:
    report = await billing.usage_report(tenant, DECEMBER)
    return {(line.region, line.meter): line.quantity for line in report.lines}


async def test_requests_are_counted_in_memory_and_written_once_per_flush(
    billing: BillingService, store: CountingStore
) -> None:
    for _ in range(1000):
        billing.count("t1", "eu-fr-1", "s3.requests.class-a")
        billing.count("t1", "eu-fr-1", "s3.transfer.in", 4096)
    billing.count("t2", "eu-de-1", "s3.requests.class-b")
    billing.count("t2", "eu-de-1", "s3.transfer.out", 0)  # nothing to count
    assert store.writes == 0
    await billing.flush()
    await billing.flush()  # nothing pending: no write
    assert store.writes == 1
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    month = parse_month(hour.strftime("%Y-%m"))
    assert await store.usage("t1", month.start, month.end) == [
        UsageTotal("eu-fr-1", "s3.requests.class-a", 1000),
        UsageTotal("eu-fr-1", "s3.transfer.in", 4096 * 1000),
    ]
    assert await store.usage("t2", month.start, month.end) == [
        UsageTotal("eu-de-1", "s3.requests.class-b", 1)
    ]
    assert (await store.usage_by_hour("t2", month.start, month.end))[0].hour == hour


async def test_counts_survive_a_failed_flush_and_go_with_the_next(
    billing: BillingService, store: CountingStore
) -> None:
    billing.count("t1", "eu-fr-1", "kms.requests", 2)
    store.fail = True
    with pytest.raises(DatabaseUnavailable):
        await billing.flush()
    billing.count("t1", "eu-fr-1", "kms.requests", 3)
    store.fail = False
    await billing.close()
    now = datetime.now(UTC)
    month = parse_month(now.strftime("%Y-%m"))
    assert await store.usage("t1", month.start, month.end) == [
        UsageTotal("eu-fr-1", "kms.requests", 5)
    ]


async def test_the_background_task_flushes_every_interval(store: CountingStore) -> None:
    billing = BillingService(store, region="r", instance_types=[], flush_interval=0.01)
    billing.start()
    billing.count("t1", "r", "kms.requests")
    for _ in range(200):
        if store.writes:
            break
        await asyncio.sleep(0.01)
    await billing.close()
    assert store.writes == 1


async def test_a_sampler_bills_what_is_held_since_its_last_sample(
    billing: BillingService, clock: Clock
) -> None:
    gib = 2**30
    held = {("t1", "eu-fr-1"): 10 * gib, ("t2", "eu-fr-1"): 0}

    async def stored() -> dict[tuple[str, str], int]:
        return held

    sampler = UsageSampler(billing, interval=60, stored_bytes=stored)
    await sampler.sample()  # the first sample starts the clock
    assert await usage(billing) == {}
    clock.advance(minutes=45)  # 09:30 -> 10:15: 30 min in each hour
    await sampler.sample()
    assert await usage(billing) == {("eu-fr-1", "s3.storage"): 10 * gib * 3 // 4}
    # The same instant again (another gateway): nothing more.
    assert not await billing.sample_amounts(STORAGE_SAMPLER, held)
    assert await usage(billing) == {("eu-fr-1", "s3.storage"): 10 * gib * 3 // 4}


async def test_volumes_and_keys_are_unit_seconds(billing: BillingService, clock: Clock) -> None:
    async def volumes() -> dict[tuple[str, str], int]:
        return {("t1", "eu-fr-1"): 8}

    async def keys() -> dict[tuple[str, str], int]:
        return {("t1", "eu-fr-1"): 2}

    sampler = UsageSampler(billing, interval=60, volume_gib=volumes, kms_keys=keys)
    await sampler.sample()
    clock.advance(seconds=100)
    await sampler.sample()
    assert await usage(billing) == {("eu-fr-1", "ec2.volume"): 800, ("eu-fr-1", "kms.keys"): 200}


async def test_a_failed_reading_skips_its_meter_only(billing: BillingService, clock: Clock) -> None:
    async def broken() -> dict[tuple[str, str], int]:
        raise RuntimeError("the storage service is away")

    async def keys() -> dict[tuple[str, str], int]:
        return {("t1", "eu-fr-1"): 1}

    sampler = UsageSampler(billing, interval=60, stored_bytes=broken, kms_keys=keys)
    await sampler.sample()
    clock.advance(seconds=10)
    await sampler.sample()
    assert await usage(billing) == {("eu-fr-1", "kms.keys"): 10}


async def test_instance_runs_from_state_changes(billing: BillingService, clock: Clock) -> None:
    meter = ("eu-fr-1", "ec2.instance.t3.micro")
    await billing.instance_started("i-1", "t1", "t3.micro", clock.now)
    clock.advance(seconds=20)
    await billing.instance_stopped("i-1", clock.now)
    assert await usage(billing) == {meter: 60}  # a minute at least
    await billing.instance_started("i-1", "t1", "t3.micro", clock.now)
    clock.advance(minutes=40)  # 09:30:20 -> 10:10:20
    await billing.bill_instances(running([RunningInstance("i-1", "t1", "t3.micro", T0)]))
    assert await usage(billing) == {meter: 60 + 2400}
    clock.advance(seconds=5)
    await billing.instance_stopped("i-1", clock.now)
    assert await usage(billing) == {meter: 60 + 2405}
    await billing.instance_stopped("i-1", clock.now)  # twice: nothing more
    assert await usage(billing) == {meter: 60 + 2405}


async def test_runs_are_brought_in_line_with_what_runs(
    billing: BillingService, clock: Clock
) -> None:
    meter = ("eu-fr-1", "ec2.instance.t3.micro")
    await billing.instance_started("i-gone", "t1", "t3.micro", clock.now)
    clock.advance(seconds=300)
    # i-gone stopped unseen; i-new runs since two minutes and has no run yet.
    since = clock.now - timedelta(seconds=120)
    await billing.bill_instances(running([RunningInstance("i-new", "t1", "t3.micro", since)]))
    assert await usage(billing) == {meter: 300 + 120}


async def test_a_stop_between_the_readings_bills_its_minute_once(
    billing: BillingService, clock: Clock
) -> None:
    """The sampler reads what runs while compute records a stop: the run ended by the stop
    must not be opened again for the instance it saw running."""
    meter = ("eu-fr-1", "ec2.instance.t3.micro")
    await billing.instance_started("i-1", "t1", "t3.micro", clock.now)
    clock.advance(seconds=10)

    async def read_while_it_stops() -> list[RunningInstance]:
        seen = [RunningInstance("i-1", "t1", "t3.micro", T0)]
        await billing.instance_stopped("i-1", clock.now)
        return seen

    await billing.bill_instances(read_while_it_stops)
    clock.advance(seconds=300)
    await billing.bill_instances(running([]))
    assert await usage(billing) == {meter: 60}


async def test_a_start_seen_by_the_sampler_first_bills_its_minute_once(
    billing: BillingService, clock: Clock
) -> None:
    """The sampler opens a run for an instance just started before compute's start reaches
    billing: that start keeps the run rather than closing it (a minute) and opening another."""
    meter = ("eu-fr-1", "ec2.instance.t3.micro")
    await billing.bill_instances(running([RunningInstance("i-1", "t1", "t3.micro", clock.now)]))
    await billing.instance_started("i-1", "t1", "t3.micro", clock.now)
    clock.advance(seconds=20)
    await billing.instance_stopped("i-1", clock.now)
    assert await usage(billing) == {meter: 60}


async def test_a_missed_restart_is_billed_from_the_previous_reconciliation_at_most(
    billing: BillingService, clock: Clock
) -> None:
    """An instance launched long ago, stopped, then started again unseen: its launch time is
    its first launch, and billing from it would bill the hours it was stopped."""
    meter = ("eu-fr-1", "ec2.instance.t3.micro")
    clock.advance(hours=5)
    await billing.bill_instances(running([]))  # stopped then
    clock.advance(seconds=300)
    await billing.bill_instances(running([RunningInstance("i-1", "t1", "t3.micro", T0)]))
    assert await usage(billing) == {meter: 300}


async def test_a_missed_stop_then_a_start_does_not_bill_the_stopped_gap(
    billing: BillingService, clock: Clock
) -> None:
    """Compute's stop did not reach billing; its start does, with the stop compute recorded:
    the run ends at that stop, not at the start (0108 billed the gap)."""
    meter = ("eu-fr-1", "ec2.instance.t3.micro")
    await billing.instance_started("i-1", "t1", "t3.micro", clock.now)
    clock.advance(seconds=100)
    stopped = clock.now  # missed by billing
    clock.advance(seconds=200)
    await billing.instance_started("i-1", "t1", "t3.micro", clock.now, previous_stop=stopped)
    clock.advance(seconds=50)
    await billing.instance_stopped("i-1", clock.now)
    assert await usage(billing) == {meter: 100 + 60}


async def test_a_missed_stop_and_start_are_ended_and_opened_by_the_sampler(
    billing: BillingService, clock: Clock
) -> None:
    """Both changes missed: the sampler sees the instance running since its latest start,
    stopped before it, with a run open from before the stop."""
    meter = ("eu-fr-1", "ec2.instance.t3.micro")
    await billing.instance_started("i-1", "t1", "t3.micro", clock.now)
    clock.advance(seconds=100)
    stopped = clock.now
    clock.advance(seconds=1000)
    restarted = clock.now
    clock.advance(seconds=120)
    seen = [RunningInstance("i-1", "t1", "t3.micro", restarted, stopped)]
    await billing.bill_instances(running(seen))
    assert await usage(billing) == {meter: 100 + 120}
    clock.advance(seconds=300)  # and again: the new run is this period's, kept
    await billing.bill_instances(running(seen))
    assert await usage(billing) == {meter: 100 + 420}


def running(instances: list[RunningInstance]) -> Callable[[], Awaitable[list[RunningInstance]]]:
    async def read() -> list[RunningInstance]:
        return instances

    return read


async def test_prices_are_checked_against_the_catalogue(billing: BillingService) -> None:
    await billing.set_price("eu-fr-1", "ec2.instance.t3.micro", "0.0104")
    with pytest.raises(UnknownMeter):
        await billing.set_price("eu-fr-1", "ec2.instance.x9.huge", "1")
    with pytest.raises(InvalidPrice):
        await billing.set_price("eu-fr-1", "kms.keys", "-1")
    assert await billing.set_vat_rate("eu-fr-1", "0.20") == Decimal("0.20")
    [price] = await billing.prices("eu-fr-1")
    assert price.unit_price == Decimal("0.0104")
    assert await billing.prices("eu-de-1") == []
    assert await billing.delete_price("eu-fr-1", "ec2.instance.t3.micro")
    assert not await billing.delete_price("eu-fr-1", "ec2.instance.t3.micro")
