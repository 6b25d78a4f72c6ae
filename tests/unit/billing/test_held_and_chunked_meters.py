"""Decision 0169's meters in billing's core and service: the 64 KiB chunk rule, the catalogue's
new meters and their price units, and snapshots, public IPv4 addresses and NAT gateways
sampled as held, pro rata per second and cut at each hour, with an injected clock."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from andromede.billing.model import (
    PAYLOAD_CHUNK,
    catalogue,
    line_amounts,
    parse_month,
    payload_requests,
)
from andromede.billing.sampler import UsageSampler
from andromede.billing.service import (
    NAT_GATEWAY_SAMPLER,
    PUBLIC_IPV4_SAMPLER,
    SNAPSHOT_SAMPLER,
    BillingService,
)
from andromede.billing.store import MemoryBillingStore

T0 = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
DECEMBER = parse_month("2026-12")
NEW_METERS = (
    "sqs.requests",
    "sns.requests",
    "sns.deliveries.http",
    "sns.deliveries.sqs",
    "ec2.snapshot",
    "ec2.public-ipv4",
    "ec2.nat-gateway",
)


@pytest.mark.parametrize(
    ("payload", "requests"),
    [(0, 1), (1, 1), (PAYLOAD_CHUNK, 1), (PAYLOAD_CHUNK + 1, 2), (256 * 1024, 4), (10**6, 16)],
)
def test_a_request_per_64_kib_chunk_begun_and_one_at_least(payload: int, requests: int) -> None:
    assert payload_requests(payload) == requests


def test_the_new_meters_are_catalogued_and_priced_as_aws_prices_them() -> None:
    meters = catalogue(["t3.nano"])
    assert set(NEW_METERS) <= meters.keys()
    assert {meters[m].divisor for m in NEW_METERS[:4]} == {1_000_000}  # per million
    # A public address held a whole month at EUR 0.005 an hour; a 10 GiB snapshot a month
    # at EUR 0.05 per GiB-month; a NAT gateway a day at EUR 0.045 an hour.
    month_seconds = 730 * 3600
    usage, net, _ = line_amounts(
        month_seconds, meters["ec2.public-ipv4"], Decimal("0.005"), Decimal(0)
    )
    assert (usage, net) == (Decimal(730), Decimal("3.65"))
    _, net, _ = line_amounts(
        10 * month_seconds, meters["ec2.snapshot"], Decimal("0.05"), Decimal(0)
    )
    assert net == Decimal("0.50")
    _, net, _ = line_amounts(86_400, meters["ec2.nat-gateway"], Decimal("0.045"), Decimal(0))
    assert net == Decimal("1.08")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


async def test_held_meters_are_unit_seconds_cut_at_each_hour() -> None:
    clock = Clock()
    store = MemoryBillingStore()
    billing = BillingService(store, region="eu-fr-1", instance_types=[], clock=clock)
    held = {
        SNAPSHOT_SAMPLER: {("t1", "eu-fr-1"): 10, ("t2", "eu-fr-1"): 0},
        PUBLIC_IPV4_SAMPLER: {("t1", "eu-fr-1"): 2},
        NAT_GATEWAY_SAMPLER: {("t1", "eu-fr-1"): 1},
    }

    def reading(name: str) -> Callable[[], Awaitable[dict[tuple[str, str], int]]]:
        async def read() -> dict[tuple[str, str], int]:
            return held[name]

        return read

    sampler = UsageSampler(
        billing,
        interval=60,
        snapshot_gib=reading(SNAPSHOT_SAMPLER),
        public_ipv4=reading(PUBLIC_IPV4_SAMPLER),
        nat_gateways=reading(NAT_GATEWAY_SAMPLER),
    )
    await sampler.sample()  # the first sample starts the clocks
    clock.now = T0 + timedelta(minutes=45)  # 09:30 -> 10:15: 1,800 s in 09:00, 900 s in 10:00
    await sampler.sample()
    by_hour = {
        (i.meter, i.hour.hour): i.quantity
        for i in await store.usage_by_hour("t1", DECEMBER.start, DECEMBER.end)
    }
    assert by_hour == {
        ("ec2.snapshot", 9): 10 * 1800,
        ("ec2.snapshot", 10): 10 * 900,
        ("ec2.public-ipv4", 9): 2 * 1800,
        ("ec2.public-ipv4", 10): 2 * 900,
        ("ec2.nat-gateway", 9): 1800,
        ("ec2.nat-gateway", 10): 900,
    }
    assert await store.usage_by_hour("t2", DECEMBER.start, DECEMBER.end) == []
    # Another gateway sampling the same instant bills nothing twice.
    assert not await billing.sample_amounts(SNAPSHOT_SAMPLER, held[SNAPSHOT_SAMPLER])
    with pytest.raises(ValueError, match="no sampler"):
        await billing.sample_amounts("ec2.elsewhere", {})


async def test_spot_instances_are_billed_at_the_spot_price_of_each_period() -> None:
    """Decision 0202: the ``ec2.spot`` sampler holds what the tenant's Spot Instances cost per
    hour (millionths of EUR) over each period; priced 1, its line is that money in EUR."""
    from andromede.billing.service import SPOT_SAMPLER

    clock = Clock()
    store = MemoryBillingStore()
    billing = BillingService(store, region="eu-fr-1", instance_types=["t3.nano"], clock=clock)
    charges = {("t1", "eu-fr-1"): 3_000}  # one Spot Instance at EUR 0.003 an hour

    async def read() -> dict[tuple[str, str], int]:
        return charges

    sampler = UsageSampler(billing, interval=60, spot_charges=read)
    await sampler.sample()
    clock.now = T0 + timedelta(hours=2)  # two hours at 0.003
    await sampler.sample()
    charges[("t1", "eu-fr-1")] = 6_000  # the Spot price doubled for the next hour
    clock.now = T0 + timedelta(hours=3)
    await sampler.sample()
    meters = catalogue(["t3.nano"])
    total = sum(
        i.quantity
        for i in await store.usage_by_hour("t1", DECEMBER.start, DECEMBER.end)
        if i.meter == SPOT_SAMPLER
    )
    usage, net, _ = line_amounts(total, meters[SPOT_SAMPLER], Decimal(1), Decimal(0))
    assert usage == Decimal("0.012")  # 2 h x 0.003 + 1 h x 0.006, in EUR
    assert net == Decimal("0.01")
    assert "Spot" in meters[SPOT_SAMPLER].description
