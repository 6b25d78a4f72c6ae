"""EventBridge's rules and their targets (decision 0192), the second layer of
:class:`~.service.EventsService`: PutRule (an event pattern and/or, on the default bus, a
schedule), its state and tags, rules managed by a service for the account (decision 0332),
PutTargets and RemoveTargets — each kept sealed under its bus's key when the bus has one
(decision 0218) — and the compiled patterns PutEvents matches with."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from andromede.events.buses import EventBuses, EventsLimits
from andromede.events.errors import (
    ConcurrentModification,
    ResourceAlreadyExists,
    ResourceNotFound,
    ValidationError,
)
from andromede.events.managed_rules import refuse_managed
from andromede.events.model import DEFAULT_BUS, Rule, RuleState, Target, check_rule_name, parse_arn
from andromede.events.pattern import EventPattern, compile_pattern
from andromede.events.rule_checks import check_rule_input, checked_test_event
from andromede.events.store import EventsStore, KeyGuard
from andromede.events.targets import check_target

__all__ = ["EventRules"]


class EventRules(EventBuses):
    """The rules and targets of one Region's buses; :class:`~.service.EventsService` routes
    events through them."""

    def __init__(
        self,
        store: EventsStore,
        *,
        region: str,
        limits: EventsLimits | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(store, region=region, limits=limits, clock=clock)
        # Compiled patterns by their text: PutEvents reads them on every call.
        self._patterns: dict[str, EventPattern] = {}
        # Decision 0332 (0341): told of a managed rule deleted (its targets removed) by Force.
        self.on_managed_delete: Callable[[Rule], Awaitable[None]] | None = None

    def pattern(self, text: str) -> EventPattern:
        compiled = self._patterns.get(text)
        if compiled is None:
            compiled = compile_pattern(text, max_length=self._limits.max_pattern_length)
            if len(self._patterns) > 10_000:
                self._patterns.clear()  # a bound, not a cache policy: rules change seldom
            self._patterns[text] = compiled
        return compiled

    async def put_rule(
        self,
        tenant_id: str,
        name: str,
        bus: str,
        *,
        event_pattern: str | None = None,
        schedule: str | None = None,
        state: str | None = None,
        description: str | None = None,
        role_arn: str | None = None,
        tags: Mapping[str, str] | None = None,
        managed_by: str | None = None,
    ) -> Rule:
        """``managed_by``: a service's principal making the rule on the account's behalf
        (decision 0332); a user's PutRule (None) may not change such a rule, nor a service
        take over a user's."""
        check_rule_input(
            name,
            bus,
            event_pattern=event_pattern,
            schedule=schedule,
            state=state,
            description=description,
        )
        if event_pattern is not None:
            self.pattern(event_pattern)
        on = await self.describe_bus(tenant_id, bus)
        held = await self.store.get_rule(tenant_id, bus, name)
        refuse_managed(held if managed_by is None else None)
        if held is not None and managed_by is not None and held.managed_by != managed_by:
            raise ResourceAlreadyExists(f"Rule {name} already exists on EventBus {bus}.")
        rule = Rule(
            tenant_id,
            self.region,
            bus,
            name,
            event_pattern=event_pattern,
            schedule=schedule,
            state=state or RuleState.ENABLED,
            description=description,
            role_arn=role_arn,
            created=self._clock() if held is None else held.created,
            tags={**(held.tags if held else {}), **(tags or {})},
            managed_by=managed_by,
        )
        # Decision 0218: kept sealed under the bus's key, written only while it names it.
        kept = await self.seals.seal_rule(on, rule)
        await self.store.put_rule(kept, limit=self._limits.max_rules, guard=KeyGuard(on.kms_key))
        return rule

    async def _stored_rule(self, tenant_id: str, name: str, bus: str) -> Rule:
        """The rule as kept (sealed on a bus under a key)."""
        found = await self.store.get_rule(tenant_id, bus, check_rule_name(name))
        if found is None:
            raise ResourceNotFound(f"Rule {name} does not exist on EventBus {bus}.")
        return found

    async def managed_by(self, tenant_id: str, arn: str) -> str | None:
        """Decision 0332: the service managing the rule ``arn`` names (None: a user's rule,
        or no such rule of the account)."""
        parts = parse_arn(arn)
        path = [] if parts is None or parts[2] != tenant_id else parts[3].split("/")
        if len(path) not in (2, 3) or path[0] != "rule":
            return None
        bus = path[1] if len(path) == 3 else DEFAULT_BUS
        held = await self.store.get_rule(tenant_id, bus, path[-1])
        return None if held is None else held.managed_by

    async def describe_rule(self, tenant_id: str, name: str, bus: str) -> Rule:
        """The rule in clear: opening it needs its bus's key (``KeyUnusable`` otherwise)."""
        found = await self._stored_rule(tenant_id, name, bus)
        if found.sealed is None:
            return found
        return (await self.seals.open_rules(await self.describe_bus(tenant_id, bus), [found]))[0]

    async def list_rules(
        self, tenant_id: str, bus: str, prefix: str, after: str, limit: int
    ) -> list[Rule]:
        on = await self.describe_bus(tenant_id, bus)
        found = await self.store.list_rules(tenant_id, bus, prefix, after, limit)
        return await self.seals.open_rules(on, found)

    async def delete_rule(
        self, tenant_id: str, name: str, bus: str, *, force: bool = False
    ) -> None:
        """Refused while the rule has targets, as on AWS, and for a managed rule without
        ``force`` (decision 0332); its service told when it goes (:attr:`on_managed_delete`)."""
        held = await self.store.get_rule(tenant_id, bus, check_rule_name(name))
        refuse_managed(held, force=force)
        await self.store.delete_rule(tenant_id, bus, name)
        if held is not None and held.managed_by is not None and self.on_managed_delete:
            await self.on_managed_delete(held)

    async def _change_rule(
        self, tenant_id: str, name: str, bus: str, change: Callable[[Rule], Rule]
    ) -> None:
        """A rule's state or tags changed as kept — its sealed part untouched, replaced only
        if no one (a re-seal) rewrote it meanwhile."""
        for _ in range(5):
            rule = await self._stored_rule(tenant_id, name, bus)
            refuse_managed(rule)  # EnableRule, DisableRule, TagResource, UntagResource
            if await self.store.replace_rule(rule, change(rule)):
                return
        raise ConcurrentModification(f"Rule {name} changed meanwhile; try again.")

    async def set_state(self, tenant_id: str, name: str, bus: str, state: str) -> None:
        await self._change_rule(tenant_id, name, bus, lambda rule: replace(rule, state=state))

    async def tag_rule(
        self, tenant_id: str, name: str, bus: str, add: Mapping[str, str], remove: Sequence[str]
    ) -> None:
        def change(rule: Rule) -> Rule:
            tags = {k: v for k, v in {**rule.tags, **add}.items() if k not in remove}
            return replace(rule, tags=tags)

        await self._change_rule(tenant_id, name, bus, change)

    # -- targets

    async def put_targets(
        self, tenant_id: str, name: str, bus: str, specs: Sequence[Mapping[str, Any]]
    ) -> None:
        if not specs or len(specs) > 10:
            raise ValidationError("PutTargets takes 1 to 10 targets.")
        targets = [
            check_target(
                spec,
                tenant_id=tenant_id,
                region=self.region,
                max_input=self._limits.max_input,
                bus_regions=self.bus_regions,
            )
            for spec in specs
        ]
        if len({t.id for t in targets}) != len(targets):
            raise ValidationError("The target ids of one request must be distinct.")
        rule = await self._stored_rule(tenant_id, name, bus)
        refuse_managed(rule)
        on = await self.describe_bus(tenant_id, bus)
        kept = await self.seals.seal_targets(on, rule.arn, targets)
        await self.store.put_targets(
            tenant_id,
            bus,
            name,
            kept,
            limit=self._limits.max_targets,
            guard=KeyGuard(on.kms_key),
        )

    async def remove_targets(
        self, tenant_id: str, name: str, bus: str, ids: Sequence[str], *, force: bool = False
    ) -> list[str]:
        if not ids or len(ids) > 100:
            raise ValidationError("RemoveTargets takes 1 to 100 ids.")
        rule = await self._stored_rule(tenant_id, name, bus)
        refuse_managed(rule, force=force)
        removed = await self.store.remove_targets(tenant_id, bus, name, ids)
        if removed and rule.managed_by is not None and self.on_managed_delete is not None:
            await self.on_managed_delete(rule)  # decision 0341: its service told, as at a delete
        return removed

    async def put_managed_targets(self, rule: Rule, targets: Sequence[Target]) -> None:
        """Decision 0341: a service's own targets of its managed ``rule``, as it made them."""
        on = await self.describe_bus(rule.tenant_id, rule.bus_name)
        kept = await self.seals.seal_targets(on, rule.arn, targets)
        limit, guard = self._limits.max_targets, KeyGuard(on.kms_key)
        await self.store.put_targets(
            rule.tenant_id, rule.bus_name, rule.name, kept, limit=limit, guard=guard
        )

    async def list_targets(self, tenant_id: str, name: str, bus: str) -> list[Target]:
        """In clear: opening them needs the bus's key (``KeyUnusable`` otherwise)."""
        rule = await self._stored_rule(tenant_id, name, bus)
        found = await self.store.list_targets(tenant_id, bus, name)
        if all(target.sealed is None for target in found):
            return found
        on = await self.describe_bus(tenant_id, bus)
        return await self.seals.open_targets(on, rule.arn, found)

    async def rule_names_by_target(
        self, tenant_id: str, arn: str, bus: str, after: str, limit: int
    ) -> list[str]:
        await self._existing_bus(tenant_id, bus)
        return await self.store.rules_by_target(tenant_id, bus, arn, after, limit)

    def test_event_pattern(self, pattern: str, event_text: str) -> bool:
        compiled = self.pattern(pattern)
        return compiled.matches(checked_test_event(event_text))
