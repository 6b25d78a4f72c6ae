"""One Region's view of EventBridge's store (decision 0349), as DynamoDB's is (0265).

Event buses are regional: ``orders`` of one Region and ``orders`` of another are two buses,
and the store keys buses (and, under them, rules, targets and policies) by (account, bus
name). The deployment's default Region (``home``) keeps its buses under their own names, as
before other Regions were served; any other Region's are kept under ``~<region>~<name>``.
``~`` is outside a bus name's alphabet (``[/.\\-_A-Za-z0-9]+``), so no bus of one Region
meets one of another, and it sorts after every name character, so a Region's buses are one
contiguous run of the store's order (ListEventBuses pages within it). No migration: the
prefix lives in the existing key.

What the Region's service is given back carries the bus's own name and the Region; what it
hands in is renamed on the way. A closed account is forgotten once, by the default Region's
view, which reaches every Region's rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from andromede.events.model import DEFAULT_BUS, EventBus, Rule, Target
from andromede.events.store import EventsStore, KeyGuard
from andromede.regional_names import RegionalView
from andromede.regional_names import stored_name as stored_bus_name

__all__ = ["RegionalEventsStore", "stored_bus_name"]


class RegionalEventsStore(RegionalView[EventsStore]):
    """``store`` as ``region`` sees it (an :class:`~andromede.events.store.EventsStore`)."""

    def _bus_in(self, bus: EventBus) -> EventBus:
        return dataclasses.replace(bus, region=self._home, name=self._in(bus.name))

    def _bus_out(self, bus: EventBus) -> EventBus:
        return dataclasses.replace(
            bus, region=self.region, name=bus.name.removeprefix(self._prefix)
        )

    def _rule_in(self, rule: Rule) -> Rule:
        return dataclasses.replace(rule, region=self._home, bus_name=self._in(rule.bus_name))

    def _rule_out(self, rule: Rule) -> Rule:
        return dataclasses.replace(
            rule, region=self.region, bus_name=rule.bus_name.removeprefix(self._prefix)
        )

    # --- buses ----------------------------------------------------------------------------

    async def create_bus(
        self, bus: EventBus, *, limit: int, counted: Callable[[str], bool] | None = None
    ) -> None:
        # The limit is a Region's, as AWS's quota: only this Region's buses count.
        await self.inner.create_bus(self._bus_in(bus), limit=limit, counted=self._custom)

    def _custom(self, stored: str) -> bool:
        # This Region's custom buses: its default bus, kept under ``~<region>~default`` once
        # configured (tags, UpdateEventBus), is no more counted than the default Region's
        # (decision 0402).
        return self._mine(stored) and self._out(stored) != DEFAULT_BUS

    async def get_bus(self, tenant_id: str, name: str) -> EventBus | None:
        found = await self.inner.get_bus(tenant_id, self._in(name))
        return None if found is None else self._bus_out(found)

    async def list_buses(
        self, tenant_id: str, prefix: str, after: str, limit: int
    ) -> list[EventBus]:
        start = self._in(after) if after else ""
        buses = await self.inner.list_buses(tenant_id, self._in(prefix), start, limit)
        return [self._bus_out(b) for b in buses if self._mine(b.name)]

    async def change_bus(
        self,
        tenant_id: str,
        name: str,
        change: Callable[[EventBus], EventBus],
        *,
        blank: EventBus | None = None,
    ) -> EventBus:
        def changed(held: EventBus) -> EventBus:
            return self._bus_in(change(self._bus_out(held)))

        done = await self.inner.change_bus(
            tenant_id,
            self._in(name),
            changed,
            blank=None if blank is None else self._bus_in(blank),
        )
        return self._bus_out(done)

    async def delete_bus(self, tenant_id: str, name: str) -> None:
        await self.inner.delete_bus(tenant_id, self._in(name))

    async def get_bus_policy(self, tenant_id: str, name: str) -> str | None:
        return await self.inner.get_bus_policy(tenant_id, self._in(name))

    async def change_bus_policy(
        self, tenant_id: str, name: str, change: Callable[[str | None], str | None]
    ) -> None:
        await self.inner.change_bus_policy(tenant_id, self._in(name), change)

    async def resealing_buses(self, limit: int) -> list[EventBus]:
        buses = await self.inner.resealing_buses(limit)
        return [self._bus_out(b) for b in buses if self._mine(b.name)]

    # --- rules ----------------------------------------------------------------------------

    async def put_rule(self, rule: Rule, *, limit: int, guard: KeyGuard | None = None) -> None:
        await self.inner.put_rule(self._rule_in(rule), limit=limit, guard=guard)

    async def replace_rule(self, before: Rule, after: Rule) -> bool:
        return await self.inner.replace_rule(self._rule_in(before), self._rule_in(after))

    async def get_rule(self, tenant_id: str, bus: str, name: str) -> Rule | None:
        found = await self.inner.get_rule(tenant_id, self._in(bus), name)
        return None if found is None else self._rule_out(found)

    async def list_rules(
        self, tenant_id: str, bus: str, prefix: str, after: str, limit: int
    ) -> list[Rule]:
        rules = await self.inner.list_rules(tenant_id, self._in(bus), prefix, after, limit)
        return [self._rule_out(r) for r in rules]

    async def delete_rule(self, tenant_id: str, bus: str, name: str) -> None:
        await self.inner.delete_rule(tenant_id, self._in(bus), name)

    async def scheduled_rules(self) -> list[Rule]:
        rules = await self.inner.scheduled_rules()
        return [self._rule_out(r) for r in rules if self._mine(r.bus_name)]

    # --- targets --------------------------------------------------------------------------

    async def put_targets(
        self,
        tenant_id: str,
        bus: str,
        rule: str,
        targets: Sequence[Target],
        *,
        limit: int,
        guard: KeyGuard | None = None,
    ) -> None:
        await self.inner.put_targets(
            tenant_id, self._in(bus), rule, targets, limit=limit, guard=guard
        )

    async def replace_target(
        self, tenant_id: str, bus: str, rule: str, before: Target, after: Target
    ) -> bool:
        return await self.inner.replace_target(tenant_id, self._in(bus), rule, before, after)

    async def remove_targets(
        self, tenant_id: str, bus: str, rule: str, ids: Sequence[str]
    ) -> list[str]:
        return await self.inner.remove_targets(tenant_id, self._in(bus), rule, ids)

    async def list_targets(self, tenant_id: str, bus: str, rule: str) -> list[Target]:
        return await self.inner.list_targets(tenant_id, self._in(bus), rule)

    async def targets_by_rule(self, tenant_id: str, bus: str) -> dict[str, list[Target]]:
        return await self.inner.targets_by_rule(tenant_id, self._in(bus))

    async def rules_by_target(
        self, tenant_id: str, bus: str, arn: str, after: str, limit: int
    ) -> list[str]:
        return await self.inner.rules_by_target(tenant_id, self._in(bus), arn, after, limit)

    async def forget_tenant(self, tenant_id: str) -> int:
        # The default Region's view forgets every Region's rows (they share the account's
        # keys); another Region's has nothing left to do.
        return await self.inner.forget_tenant(tenant_id) if not self._prefix else 0
