"""Decision 0241's meter: the advanced parameters each account's region holds, sampled as
``ssm.advanced-parameters`` (AWS's parameter-month, pro rata); standard ones are free."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from andromede.billing.model import catalogue, line_amounts, parse_month
from andromede.billing.sampler import UsageSampler
from andromede.billing.service import BillingService
from andromede.billing.store import MemoryBillingStore
from support.ssmapp import REGION, Harness


async def test_advanced_parameters_are_sampled_as_parameter_months(ssm: Harness) -> None:
    for name, tier in (("/a", "Advanced"), ("/b", "Advanced"), ("/s", "Standard")):
        await ssm.ok("PutParameter", {"Name": name, "Value": "v", "Type": "String", "Tier": tier})
    other = await ssm.other_tenant("other")
    await other.ok(
        "PutParameter",
        {"Name": "/o", "Value": "v", "Type": "String", "Tier": "Intelligent-Tiering"},
    )  # fmt: skip (standard)
    held = await ssm.app.service.advanced_held()
    assert held == {(ssm.tenant_id, REGION): 2}
    start = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
    now = [start]
    store = MemoryBillingStore()
    billing = BillingService(store, region=REGION, instance_types=[], clock=lambda: now[0])
    sampler = UsageSampler(billing, interval=60, advanced_parameters=ssm.app.service.advanced_held)
    await sampler.sample()
    await ssm.ok("DeleteParameter", {"Name": "/b"})
    now[0] = start + timedelta(minutes=45)
    await sampler.sample()
    december = parse_month("2026-12")
    by_hour = {
        (i.meter, i.hour.hour): i.quantity
        for i in await store.usage_by_hour(ssm.tenant_id, december.start, december.end)
    }
    # The amount read at a sample is taken as held over the interval it closes.
    assert by_hour == {("ssm.advanced-parameters", 9): 1800, ("ssm.advanced-parameters", 10): 900}
    await billing.set_price(REGION, "ssm.advanced-parameters", "0.05")
    report = await billing.usage_report(ssm.tenant_id, december)
    [line] = [x for x in report.lines if x.meter == "ssm.advanced-parameters"]
    assert (line.unit, line.price_unit) == ("parameter-seconds", "parameter-month")
    meter = catalogue([])["ssm.advanced-parameters"]
    usage, net, _ = line_amounts(730 * 3600, meter, Decimal("0.05"), Decimal(0))
    assert (usage, net) == (Decimal(1), Decimal("0.05"))  # AWS's USD 0.05 a parameter-month
    await billing.close()
