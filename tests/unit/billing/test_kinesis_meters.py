"""Decision 0255's Kinesis meters in billing's core and sampler: each catalogued with the
unit AWS prices it by, and the held ones sampled from one grouped reading, pro rata per
second (shards, streams, consumer-shards, metrics) or in byte-hours (retained bytes), every
watermark advancing even for a meter nothing holds; a failed group leaves the others."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from andromede.billing.model import catalogue, line_amounts, parse_month
from andromede.billing.sampler import UsageSampler
from andromede.billing.service import KINESIS_SAMPLERS, SECRETS_SAMPLER, BillingService
from andromede.billing.store import MemoryBillingStore

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
DECEMBER = parse_month("2026-12")
GIB = 2**30
WHERE = ("t1", "eu-fr-1")


@pytest.mark.parametrize(
    ("meter", "unit", "price_unit", "quantity", "price", "net"),
    [
        # A shard held a 30-day month at AWS's $0.015 a shard hour: 720 h.
        ("kinesis.shard-hours", "shard-seconds", "shard-hour", 720 * 3600, "0.015", "10.80"),
        ("kinesis.extended-retention", "shard-seconds", "shard-hour", 720 * 3600, "0.02",
         "14.40"),
        ("kinesis.on-demand.stream-hours", "stream-seconds", "stream-hour", 100 * 3600,
         "0.04", "4.00"),
        ("kinesis.on-demand.ingested", "bytes", "GiB", 100 * GIB, "0.08", "8.00"),
        ("kinesis.on-demand.retrieved", "bytes", "GiB", 100 * GIB, "0.04", "4.00"),
        ("kinesis.fan-out.consumer-shard-hours", "consumer-shard-seconds",
         "consumer-shard-hour", 1000 * 3600, "0.015", "15.00"),
        ("kinesis.fan-out.retrieved", "bytes", "GiB", 100 * GIB, "0.013", "1.30"),
        ("kinesis.on-demand.fan-out.retrieved", "bytes", "GiB", 100 * GIB, "0.05", "5.00"),
        # 10 GiB retained a whole month (730 h) at $0.023 a GB-month.
        ("kinesis.long-term-retention", "byte-hours", "GiB-month", 10 * GIB * 730, "0.023",
         "0.23"),
        ("kinesis.on-demand.extended-retention", "byte-hours", "GiB-month", 10 * GIB * 730,
         "0.10", "1.00"),
        # 7 shard-level metrics on 4 shards a month: 28 custom metrics at $0.30.
        ("kinesis.shard-level-metrics", "metric-seconds", "metric-month", 28 * 730 * 3600,
         "0.30", "8.40"),
        ("kinesis.put-units", "units", "1000000 units", 2_000_000, "0.014", "0.03"),
    ],
)  # fmt: skip
def test_each_kinesis_meter_is_priced_in_the_unit_aws_prices_it(
    meter: str, unit: str, price_unit: str, quantity: int, price: str, net: str
) -> None:
    meters = catalogue([])
    assert (meters[meter].unit, meters[meter].price_unit) == (unit, price_unit)
    _, amount, _ = line_amounts(quantity, meters[meter], Decimal(price), Decimal(0))
    assert amount == Decimal(net)


def test_every_sampled_kinesis_meter_is_catalogued() -> None:
    meters = catalogue([])
    assert all(name in meters for name in KINESIS_SAMPLERS)
    assert len(set(KINESIS_SAMPLERS)) == 7


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


async def test_grouped_holdings_are_billed_pro_rata_and_retained_bytes_as_byte_hours() -> None:
    clock = Clock()
    store = MemoryBillingStore()
    billing = BillingService(store, region="eu-fr-1", instance_types=[], clock=clock)
    held: dict[str, dict[tuple[str, str], int]] = {name: {} for name in KINESIS_SAMPLERS}
    held["kinesis.shard-hours"] = {WHERE: 4}
    held["kinesis.long-term-retention"] = {WHERE: 3600}

    async def holdings() -> Mapping[str, Mapping[tuple[str, str], int]]:
        return held

    sampler = UsageSampler(billing, interval=60, grouped=[holdings])
    await sampler.sample()  # starts every clock, the empty meters' too
    held["kinesis.on-demand.stream-hours"] = {WHERE: 2}  # held from now on
    clock.now = T0 + timedelta(minutes=30)
    await sampler.sample()
    used = {
        i.meter: i.quantity for i in await store.usage_by_hour("t1", DECEMBER.start, DECEMBER.end)
    }
    assert used == {
        "kinesis.shard-hours": 4 * 1800,
        "kinesis.long-term-retention": 1800,  # 3,600 bytes over half an hour
        "kinesis.on-demand.stream-hours": 2 * 1800,
    }


async def test_a_failed_group_reading_leaves_the_other_samplers() -> None:
    clock = Clock()
    store = MemoryBillingStore()
    billing = BillingService(store, region="eu-fr-1", instance_types=[], clock=clock)

    async def broken() -> Mapping[str, Mapping[tuple[str, str], int]]:
        raise RuntimeError("store down")

    async def secrets() -> dict[tuple[str, str], int]:
        return {WHERE: 1}

    sampler = UsageSampler(billing, interval=60, secrets=secrets, grouped=[broken])
    await sampler.sample()
    clock.now = T0 + timedelta(minutes=10)
    await sampler.sample()
    used = await store.usage_by_hour("t1", DECEMBER.start, DECEMBER.end)
    assert [(i.meter, i.quantity) for i in used] == [(SECRETS_SAMPLER, 600)]


def test_the_readme_meters_table_lists_every_kinesis_meter() -> None:
    readme = (Path(__file__).parents[3] / "README.md").read_text(encoding="utf-8")
    kinesis = [name for name in catalogue([]) if name.startswith("kinesis.")]
    assert len(kinesis) == 12
    missing = [name for name in kinesis if f"| `{name}` |" not in readme]
    assert missing == []
