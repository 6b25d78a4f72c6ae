"""Network Load Balancers metered (decision 0191): the catalogue's
``elb.network-load-balancer`` (lb-seconds priced per hour), sampled as held per second from
the load balancing service's count of each account's load balancers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from andromede.billing.model import catalogue, parse_month
from andromede.billing.sampler import UsageSampler
from andromede.billing.service import LOAD_BALANCER_SAMPLER, BillingService
from andromede.billing.store import MemoryBillingStore
from support.elbapp import REGION, elb_world

T0 = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def test_the_catalogue_prices_load_balancers_per_hour() -> None:
    meter = catalogue([])["elb.network-load-balancer"]
    assert (meter.unit, meter.price_unit, meter.divisor) == ("lb-seconds", "hour", 3600)


async def test_each_accounts_load_balancers_are_sampled_per_second(tmp_path: Path) -> None:
    async with elb_world(tmp_path) as world:
        await world.load_balancer("a")
        await world.load_balancer("b", Subnets=[world.subnets[1]])
        assert await world.service.count_by_tenant() == {world.tenant_id: 2}
        clock = Clock()
        store = MemoryBillingStore()
        billing = BillingService(store, region=REGION, instance_types=[], clock=clock)

        async def held() -> dict[tuple[str, str], int]:
            return {(t, REGION): n for t, n in (await world.service.count_by_tenant()).items()}

        sampler = UsageSampler(billing, interval=60, load_balancers=held)
        await sampler.sample()
        clock.now = T0 + timedelta(minutes=45)
        await sampler.sample()
        month = parse_month("2026-12")
        by_hour = {
            (i.meter, i.hour.hour): i.quantity
            for i in await store.usage_by_hour(world.tenant_id, month.start, month.end)
        }
        assert by_hour == {
            (LOAD_BALANCER_SAMPLER, 9): 2 * 1800,
            (LOAD_BALANCER_SAMPLER, 10): 2 * 900,
        }
