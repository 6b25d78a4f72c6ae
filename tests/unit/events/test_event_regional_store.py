"""Decision 0349: each Region's view of EventBridge's one store, over the in-memory twin —
the same bus, rule and target names kept apart by Region, listings (paged) and the
store-wide scans (scheduled rules, re-seals) each seeing its own Region, a closed account
forgotten in every Region by the default Region's view, the bus limit a Region's."""

from __future__ import annotations

import pytest

from andromede.events.errors import LimitExceeded
from andromede.events.memory import MemoryEventsStore
from andromede.events.model import EventBus, Rule, Target
from andromede.events.regional_store import RegionalEventsStore, stored_bus_name

HOME, OTHER = "eu-fr-1", "eu-de-1"
TENANT = "111122223333"


def views() -> tuple[MemoryEventsStore, RegionalEventsStore, RegionalEventsStore]:
    inner = MemoryEventsStore()
    return inner, RegionalEventsStore(inner, HOME, HOME), RegionalEventsStore(inner, OTHER, HOME)


async def test_buses_rules_and_targets_apart_by_region() -> None:
    inner, home, other = views()
    for view, region in ((home, HOME), (other, OTHER)):
        for name in ("a", "b", "c"):
            await view.create_bus(EventBus(TENANT, region, name, description=region), limit=10)
    assert stored_bus_name(OTHER, HOME, "a") == "~eu-de-1~a"
    assert (await inner.get_bus(TENANT, "~eu-de-1~a")) is not None

    for view, region in ((home, HOME), (other, OTHER)):
        found = await view.get_bus(TENANT, "b")
        assert found is not None
        assert (found.region, found.name, found.description) == (region, "b", region)
        assert found.arn == f"arn:aws:events:{region}:{TENANT}:event-bus/b"
        first = await view.list_buses(TENANT, "", "", 2)
        assert [b.name for b in first] == ["a", "b"]
        rest = await view.list_buses(TENANT, "", "b", 2)
        assert [(b.name, b.region) for b in rest] == [("c", region)]
        assert [b.name for b in await view.list_buses(TENANT, "c", "", 5)] == ["c"]

    await other.put_rule(Rule(TENANT, OTHER, "a", "r", event_pattern="{}"), limit=5)
    (rule,) = await other.list_rules(TENANT, "a", "", "", 5)
    assert (rule.region, rule.bus_name) == (OTHER, "a")
    assert rule.arn == f"arn:aws:events:{OTHER}:{TENANT}:rule/a/r"
    assert await home.get_rule(TENANT, "a", "r") is None
    target = Target("t", f"arn:aws:events:{HOME}:{TENANT}:event-bus/a", {})
    await other.put_targets(TENANT, "a", "r", [target], limit=5)
    assert await other.list_targets(TENANT, "a", "r") == [target]
    assert await home.list_targets(TENANT, "a", "r") == []
    assert await other.rules_by_target(TENANT, "a", target.arn, "", 5) == ["r"]

    def renamed(bus: EventBus) -> EventBus:
        assert (bus.region, bus.name) == (OTHER, "c")
        return EventBus(bus.tenant_id, bus.region, bus.name, description="changed")

    changed = await other.change_bus(TENANT, "c", renamed)
    assert (changed.name, changed.description) == ("c", "changed")
    held = await home.get_bus(TENANT, "c")
    assert held is not None and held.description == HOME

    await other.change_bus_policy(TENANT, "a", lambda _: '{"Statement": []}')
    assert await other.get_bus_policy(TENANT, "a") == '{"Statement": []}'
    assert await home.get_bus_policy(TENANT, "a") is None


async def test_store_wide_scans_and_a_closed_account() -> None:
    _, home, other = views()
    for view, region in ((home, HOME), (other, OTHER)):
        await view.create_bus(EventBus(TENANT, region, "x", resealing=True), limit=10)
        await view.put_rule(
            Rule(TENANT, region, "default", "tick", schedule="rate(1 hour)"), limit=5
        )
    for view, region in ((home, HOME), (other, OTHER)):
        (rule,) = await view.scheduled_rules()
        assert (rule.region, rule.bus_name, rule.name) == (region, "default", "tick")
        (bus,) = await view.resealing_buses(10)
        assert (bus.region, bus.name) == (region, "x")

    assert await other.forget_tenant(TENANT) == 0
    assert await other.get_bus(TENANT, "x") is not None
    assert await home.forget_tenant(TENANT) == 2
    assert await other.get_bus(TENANT, "x") is None
    assert await other.scheduled_rules() == []


async def test_the_bus_limit_is_a_regions() -> None:
    """``events_max_buses`` counts a Region's custom buses, as AWS's quota per Region: two in
    each Region under a limit of two, a third refused in either."""
    _, home, other = views()
    for view, region in ((home, HOME), (other, OTHER)):
        for name in ("a", "b"):
            await view.create_bus(EventBus(TENANT, region, name), limit=2)
    for view, region in ((home, HOME), (other, OTHER)):
        with pytest.raises(LimitExceeded):
            await view.create_bus(EventBus(TENANT, region, "c"), limit=2)
