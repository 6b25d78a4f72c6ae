"""The in-memory twin of :class:`andromede.events.store.EventsStore` (decision 0192), for
tests and as the contract suite's reference."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from andromede.events.errors import (
    ConcurrentModification,
    LimitExceeded,
    ResourceAlreadyExists,
    ResourceNotFound,
    ValidationError,
)
from andromede.events.model import DEFAULT_BUS, EventBus, Rule, Target
from andromede.events.store import KeyGuard

__all__ = ["MemoryEventsStore"]

_RuleKey = tuple[str, str, str]


class MemoryEventsStore:
    def __init__(self) -> None:
        self._buses: dict[tuple[str, str], EventBus] = {}
        self._rules: dict[_RuleKey, Rule] = {}
        self._targets: dict[_RuleKey, dict[str, Target]] = {}
        self._policies: dict[tuple[str, str], str] = {}

    async def create_bus(
        self, bus: EventBus, *, limit: int, counted: Callable[[str], bool] | None = None
    ) -> None:
        if (bus.tenant_id, bus.name) in self._buses:
            raise ResourceAlreadyExists(f"Event bus {bus.name} already exists.")
        custom = sum(
            1
            for tenant, name in self._buses
            if tenant == bus.tenant_id
            and name != DEFAULT_BUS
            and (counted is None or counted(name))
        )
        if custom >= limit:
            raise LimitExceeded(
                f"The requested resource exceeds the maximum number allowed ({limit})."
            )
        self._buses[bus.tenant_id, bus.name] = bus

    async def get_bus(self, tenant_id: str, name: str) -> EventBus | None:
        return self._buses.get((tenant_id, name))

    async def list_buses(
        self, tenant_id: str, prefix: str, after: str, limit: int
    ) -> list[EventBus]:
        names = sorted(
            name
            for tenant, name in self._buses
            if tenant == tenant_id and name.startswith(prefix) and name > after
        )
        return [self._buses[tenant_id, name] for name in names[:limit]]

    async def change_bus(
        self,
        tenant_id: str,
        name: str,
        change: Callable[[EventBus], EventBus],
        *,
        blank: EventBus | None = None,
    ) -> EventBus:
        held = self._buses.get((tenant_id, name), blank)
        if held is None:
            raise ResourceNotFound(f"Event bus {name} does not exist.")
        bus = change(held)
        self._buses[tenant_id, name] = replace(
            held,
            description=bus.description,
            tags=bus.tags,
            kms_key=bus.kms_key,
            dead_letter_arn=bus.dead_letter_arn,
            resealing=bus.resealing,
        )
        return self._buses[tenant_id, name]

    def _guarded(self, tenant_id: str, bus: str, guard: KeyGuard | None) -> None:
        if guard is None:
            return
        held = self._buses.get((tenant_id, bus))
        if (None if held is None else held.kms_key) != guard.key:
            raise ConcurrentModification("The event bus's key changed meanwhile; try again.")

    async def resealing_buses(self, limit: int) -> list[EventBus]:
        return [bus for bus in self._buses.values() if bus.resealing][:limit]

    async def get_bus_policy(self, tenant_id: str, name: str) -> str | None:
        return self._policies.get((tenant_id, name))

    async def change_bus_policy(
        self, tenant_id: str, name: str, change: Callable[[str | None], str | None]
    ) -> None:
        if name != DEFAULT_BUS and (tenant_id, name) not in self._buses:
            raise ResourceNotFound(f"Event bus {name} does not exist.")
        policy = change(self._policies.get((tenant_id, name)))
        if policy is None:
            self._policies.pop((tenant_id, name), None)
        else:
            self._policies[tenant_id, name] = policy

    async def delete_bus(self, tenant_id: str, name: str) -> None:
        self._buses.pop((tenant_id, name), None)
        self._policies.pop((tenant_id, name), None)
        for key in [k for k in self._rules if k[:2] == (tenant_id, name)]:
            del self._rules[key]
            self._targets.pop(key, None)

    async def put_rule(self, rule: Rule, *, limit: int, guard: KeyGuard | None = None) -> None:
        self._guarded(rule.tenant_id, rule.bus_name, guard)
        key = (rule.tenant_id, rule.bus_name, rule.name)
        held = sum(1 for k in self._rules if k[:2] == key[:2])
        if key not in self._rules and held >= limit:
            raise LimitExceeded(
                f"The requested resource exceeds the maximum number allowed ({limit})."
            )
        self._rules[key] = rule

    async def replace_rule(self, before: Rule, after: Rule) -> bool:
        key = (before.tenant_id, before.bus_name, before.name)
        if self._rules.get(key) != before:
            return False
        self._rules[key] = after
        return True

    async def get_rule(self, tenant_id: str, bus: str, name: str) -> Rule | None:
        return self._rules.get((tenant_id, bus, name))

    async def list_rules(
        self, tenant_id: str, bus: str, prefix: str, after: str, limit: int
    ) -> list[Rule]:
        names = sorted(
            k[2]
            for k in self._rules
            if k[:2] == (tenant_id, bus) and k[2].startswith(prefix) and k[2] > after
        )
        return [self._rules[tenant_id, bus, name] for name in names[:limit]]

    async def delete_rule(self, tenant_id: str, bus: str, name: str) -> None:
        key = (tenant_id, bus, name)
        if self._targets.get(key):
            raise ValidationError("Rule can't be deleted since it has targets.")
        self._rules.pop(key, None)
        self._targets.pop(key, None)

    async def scheduled_rules(self) -> list[Rule]:
        return [rule for rule in self._rules.values() if rule.schedule is not None]

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
        self._guarded(tenant_id, bus, guard)
        held = dict(self._targets.get((tenant_id, bus, rule), {}))
        for target in targets:
            held[target.id] = target
        if len(held) > limit:
            raise LimitExceeded(
                f"The requested resource exceeds the maximum number allowed ({limit})."
            )
        self._targets[tenant_id, bus, rule] = held

    async def replace_target(
        self, tenant_id: str, bus: str, rule: str, before: Target, after: Target
    ) -> bool:
        held = self._targets.get((tenant_id, bus, rule), {})
        if held.get(before.id) != before:
            return False
        held[before.id] = after
        return True

    async def remove_targets(
        self, tenant_id: str, bus: str, rule: str, ids: Sequence[str]
    ) -> list[str]:
        held = self._targets.get((tenant_id, bus, rule), {})
        return [one for one in dict.fromkeys(ids) if held.pop(one, None) is not None]

    async def list_targets(self, tenant_id: str, bus: str, rule: str) -> list[Target]:
        held = self._targets.get((tenant_id, bus, rule), {})
        return [held[one] for one in sorted(held)]

    async def targets_by_rule(self, tenant_id: str, bus: str) -> dict[str, list[Target]]:
        return {
            key[2]: [held[one] for one in sorted(held)]
            for key, held in self._targets.items()
            if key[:2] == (tenant_id, bus) and held
        }

    async def forget_tenant(self, tenant_id: str) -> int:
        rules = [key for key in self._rules if key[0] == tenant_id]
        for key in rules:
            del self._rules[key]
        for key in [key for key in self._targets if key[0] == tenant_id]:
            del self._targets[key]
        for bus in [bus for bus in self._buses if bus[0] == tenant_id]:
            del self._buses[bus]
        for bus in [bus for bus in self._policies if bus[0] == tenant_id]:
            del self._policies[bus]
        return len(rules)

    async def rules_by_target(
        self, tenant_id: str, bus: str, arn: str, after: str, limit: int
    ) -> list[str]:
        names = sorted(
            key[2]
            for key, held in self._targets.items()
            if key[:2] == (tenant_id, bus)
            and key[2] > after
            and any(t.arn == arn for t in held.values())
        )
        return names[:limit]
