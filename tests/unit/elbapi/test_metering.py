"""Load balancers metered: the catalogue's ``elb.network-load-balancer`` (decision 0191) and
``elb.application-load-balancer`` (decision 0216's addendum), lb-seconds priced per hour,
sampled as held per second from the load balancing service's count of each account's load
balancers of each type."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from andromede.billing.model import catalogue, parse_month
from andromede.billing.sampler import UsageSampler
from andromede.billing.service import (
    APPLICATION_LB_SAMPLER,
    LOAD_BALANCER_SAMPLER,
    BillingService,
)
from andromede.billing.store import MemoryBillingStore
from support.elbapp import REGION, elb_world

T0 = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def test_the_catalogue_prices_load_balancers_per_hour() -> None:
    for name in ("elb.network-load-balancer", "elb.application-load-balancer"):
        meter = catalogue([])[name]
        assert (meter.unit, meter.price_unit, meter.divisor) == ("lb-seconds", "hour", 3600)


async def test_each_accounts_load_balancers_are_sampled_per_second(tmp_path: Path) -> None:
    async with elb_world(tmp_path) as world:
        await world.load_balancer("a")
        await world.load_balancer("b", Subnets=[world.subnets[1]])
        group = await world.ec2.root.call(
            "CreateSecurityGroup", GroupName="alb", Description="alb", VpcId=world.vpc_id
        )
        await world.load_balancer("shop", Type="application", SecurityGroups=[group["GroupId"]])
        assert await world.service.count_by_tenant() == {world.tenant_id: 2}
        assert await world.service.count_by_tenant("application") == {world.tenant_id: 1}
        clock = Clock()
        store = MemoryBillingStore()
        billing = BillingService(store, region=REGION, instance_types=[], clock=clock)

        def held(lb_type: str) -> Callable[[], Awaitable[dict[tuple[str, str], int]]]:
            async def read() -> dict[tuple[str, str], int]:
                counts = await world.service.count_by_tenant(lb_type)
                return {(t, REGION): n for t, n in counts.items()}

            return read

        sampler = UsageSampler(
            billing,
            interval=60,
            load_balancers=held("network"),
            application_load_balancers=held("application"),
        )
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
            (APPLICATION_LB_SAMPLER, 9): 1800,
            (APPLICATION_LB_SAMPLER, 10): 900,
        }
