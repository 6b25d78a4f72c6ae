"""EventBridge's service (decision 0192), the context's one public entry: an account's event
buses (its implicit ``default`` bus and the custom ones it creates), their rules (an event
pattern and/or, on the default bus, a schedule), the rules' targets, and PutEvents — each
entry checked, turned into EventBridge's event envelope, matched against the bus's enabled
rules and handed, once per matching target, to the deliveries (:mod:`.dispatcher`)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from andromede.events.entries import EntryRefused, checked_entry, customers, entry_size, moment_of
from andromede.events.errors import (
    ConcurrentModification,
    InvalidEventPattern,
    ResourceAlreadyExists,
    ResourceNotFound,
    ValidationError,
)
from andromede.events.event_keys import EventKeys, KeyScope, KeyUnusable
from andromede.events.managed_rules import is_archive_target, refuse_managed
from andromede.events.model import (
    DEFAULT_BUS,
    EventBus,
    Rule,
    RuleState,
    Target,
    bus_of_target,
    check_bus_name,
    check_rule_name,
    event_envelope,
    parse_arn,
)
from andromede.events.pattern import EventPattern, compile_pattern
from andromede.events.rule_checks import check_rule_input, checked_test_event
from andromede.events.rule_seals import RuleSeals
from andromede.events.store import EventsStore, KeyGuard
from andromede.events.targets import check_target

__all__ = [
    "BusResealing",
    "EntryResult",
    "EventArchiver",
    "EventsLimits",
    "EventsService",
    "TargetDeliveries",
]

log = logging.getLogger(__name__)

# The default bus's creation time until its first configuration makes its row.
_DEFAULT_BUS_CREATED: Final = datetime(2020, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class EventsLimits:
    max_buses: int = 100
    max_rules: int = 300
    max_targets: int = 5
    max_put_entries: int = 10
    max_put_size: int = 256 * 1024
    max_pattern_length: int = 4096
    max_input: int = 8192
    # Decision 0218: opened patterns and target inputs a gateway keeps for PutEvents.
    opened_rule_cache: int = 10_000


@dataclass(frozen=True, slots=True)
class EntryResult:
    event_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None


class TargetDeliveries(Protocol):
    async def submit(
        self,
        tenant_id: str,
        matched: Sequence[tuple[Rule, Target, dict[str, Any]]],
        *,
        bus: EventBus | None = None,
        traces: Mapping[str, str | None] | None = None,
    ) -> None:
        """Queue each ``event`` for ``target`` of ``rule`` with its trace (``traces`` by id,
        decision 0351), delivered at least once after; sealed under ``bus``'s key when it has
        one (decision 0213: ``KeyUnusable``, nothing queued, when the key refuses)."""
        ...


class EventArchiver(Protocol):
    async def archive(self, tenant_id: str, bus: str, events: Sequence[dict[str, Any]]) -> int:
        """Keep each event in the bus's archives it belongs to (decision 0196)."""
        ...


class BusResealing(Protocol):
    async def reseal(self, bus: EventBus) -> bool:
        """The bus's rules, targets and waiting deliveries as its key keeps them, its
        ``resealing`` mark then cleared (decision 0218, :mod:`.reseal`)."""
        ...

    async def holds_sealed(self, bus: EventBus) -> bool:
        """Whether anything of the bus is sealed under a customer key."""
        ...


class EventsService:
    def __init__(
        self,
        store: EventsStore,
        deliveries: TargetDeliveries,
        *,
        region: str,
        limits: EventsLimits | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.region = region
        # Decision 0349: the deployment's other Regions, whose buses may be targets.
        self.bus_regions: frozenset[str] = frozenset()
        self._deliveries = deliveries
        self._limits = limits or EventsLimits()
        self._clock = clock
        # Compiled patterns by their text: PutEvents reads them on every call.
        self._patterns: dict[str, EventPattern] = {}
        # The bus's archives (decision 0196), told of every event routed, before its rules.
        self.archiver: EventArchiver | None = None
        # Decision 0218: the rules and targets of a bus under a customer key, sealed and
        # opened (with this gateway's cache of what PutEvents opened).
        self.seals = RuleSeals(cache_size=self._limits.opened_rule_cache)
        # The re-seal of a bus's data after a change of its key; None: not served.
        self.resealer: BusResealing | None = None
        # Decision 0273: (tenant, rule ARN, metric) of AWS/Events' ``TriggeredRules`` and
        # ``DeadLetterInvocations`` (a forwarded event not sent on); None: not counted.
        self.metrics: Callable[[str, str, str], None] | None = None
        # Decision 0332: AWS/Events' metrics of the account (tenant, name, value, unit, and
        # the bus for its ``EventBusName`` series besides the one without dimension).
        self.measures: Callable[[str, str, float, str, str | None], None] | None = None
        # Decision 0332 (0341): told of a managed rule deleted (its targets removed) by Force.
        self.on_managed_delete: Callable[[Rule], Awaitable[None]] | None = None

    @property
    def keys(self) -> EventKeys | None:
        """Customer KMS keys for buses (decision 0213); None where not served."""
        return self.seals.keys

    @keys.setter
    def keys(self, keys: EventKeys | None) -> None:
        self.seals.keys = keys

    # -- buses

    def bus_name(self, tenant_id: str, given: str | None) -> str:
        """The bus a parameter names, by name or ARN (the caller's account's only)."""
        if not given:
            return DEFAULT_BUS
        if not isinstance(given, str):
            raise ValidationError("EventBusName must be a string.")
        if given.startswith("arn:"):
            parts = parse_arn(given)
            if parts is None or parts[0] != "events" or not parts[3].startswith("event-bus/"):
                raise ValidationError(f"Parameter {given[:256]} is not valid.")
            if parts[2] != tenant_id or parts[1] != self.region:
                raise ResourceNotFound(f"Event bus {given[:256]} does not exist.")
            given = parts[3].removeprefix("event-bus/")
        return check_bus_name(given)

    async def create_bus(
        self,
        tenant_id: str,
        name: str,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        kms_key: str | None = None,
        dead_letter_arn: str | None = None,
    ) -> EventBus:
        check_bus_name(name, custom=True)
        if description is not None and len(description) > 512:
            raise ValidationError("Description must be at most 512 characters.")
        bus = EventBus(
            tenant_id,
            self.region,
            name,
            description,
            self._clock(),
            dict(tags or {}),
            kms_key=kms_key,
            dead_letter_arn=dead_letter_arn,
        )
        await self._check_config(bus)
        await self.store.create_bus(bus, limit=self._limits.max_buses)
        return bus

    def key_scope(self, bus: EventBus) -> KeyScope:
        """What the bus's key seals (decision 0213): its events, the bus their encryption
        context, as AWS's ``aws:events:event-bus:arn``."""
        return KeyScope(bus.tenant_id, bus.kms_key, bus.arn, bus.arn)

    async def bus_key_arn(self, bus: EventBus) -> str:
        """The ARN of the key the bus would name (an alias resolved), for the caller's
        ``kms:DescribeKey``; ValidationError when there is no such key."""
        if self.keys is None:
            raise ValidationError("KmsKeyIdentifier is not supported by this deployment.")
        try:
            return await self.keys.key_arn(self.key_scope(bus))
        except KeyUnusable as exc:
            raise ValidationError(exc.message) from exc

    async def _check_config(self, bus: EventBus) -> None:
        """A bus's key usable by EventBridge now and its dead-letter queue an SQS queue of
        the account and region, as CreateEventBus and UpdateEventBus require."""
        if bus.dead_letter_arn is not None:
            parts = parse_arn(bus.dead_letter_arn)
            if parts is None or parts[0] != "sqs" or ":" in parts[3]:
                raise ValidationError(
                    f"Parameter DeadLetterConfig.Arn is not valid: {bus.dead_letter_arn[:1600]} "
                    "is not the ARN of an Amazon SQS queue."
                )
            if parts[1] != self.region or parts[2] != bus.tenant_id:
                raise ValidationError(
                    "Parameter DeadLetterConfig.Arn is not valid: the queue must be in the event "
                    "bus's account and Region."
                )
        if bus.kms_key is None:
            return
        if not 1 <= len(bus.kms_key) <= 2048:
            raise ValidationError("KmsKeyIdentifier must be 1 to 2048 characters.")
        if self.keys is None:
            raise ValidationError("KmsKeyIdentifier is not supported by this deployment.")
        try:
            await self.keys.check(self.key_scope(bus))
        except KeyUnusable as exc:
            raise ValidationError(exc.message) from exc

    def _default_bus(self, tenant_id: str) -> EventBus:
        """The account's default bus as it stands before any UpdateEventBus made its row."""
        return EventBus(tenant_id, self.region, DEFAULT_BUS, created=_DEFAULT_BUS_CREATED)

    async def describe_bus(self, tenant_id: str, name: str) -> EventBus:
        found = await self.store.get_bus(tenant_id, name)
        if found is not None:
            return found
        if name == DEFAULT_BUS:
            return self._default_bus(tenant_id)
        raise ResourceNotFound(f"Event bus {name} does not exist.")

    def bus_owner(self, tenant_id: str, given: str | None) -> tuple[str, str]:
        """(account, bus) a PutEvents entry names: an ARN of this region may name another
        account's bus, which only its policy can open (decision 0192, session 48)."""
        if isinstance(given, str) and given.startswith("arn:"):
            parts = parse_arn(given)
            if (
                parts is not None
                and parts[0] == "events"
                and parts[1] == self.region
                and parts[3].startswith("event-bus/")
            ):
                name = check_bus_name(parts[3].removeprefix("event-bus/"))
                return parts[2], name
        return tenant_id, self.bus_name(tenant_id, given)

    async def update_bus(
        self,
        tenant_id: str,
        name: str,
        *,
        description: str | None = None,
        add_tags: Mapping[str, str] | None = None,
        remove_tags: Sequence[str] = (),
    ) -> EventBus:
        """A bus's description (when given) and tags changed (TagResource, UntagResource);
        the default bus's tags make its row as its first configuration does (decision 0218;
        its description goes through :meth:`configure_bus`)."""
        if description is not None and len(description) > 512:
            raise ValidationError("Description must be at most 512 characters.")

        def change(bus: EventBus) -> EventBus:
            tags = {
                k: v for k, v in {**bus.tags, **(add_tags or {})}.items() if k not in remove_tags
            }
            if len(tags) > 50:
                raise ValidationError("An event bus holds at most 50 tags.")
            kept = bus.description if description is None else description
            return replace(bus, description=kept, tags=tags)

        blank = self._default_bus(tenant_id) if name == DEFAULT_BUS else None
        return await self.store.change_bus(tenant_id, name, change, blank=blank)

    async def configure_bus(
        self,
        tenant_id: str,
        name: str,
        *,
        description: str | None,
        kms_key: str | None,
        dead_letter_arn: str | None,
    ) -> EventBus:
        """UpdateEventBus (decision 0213): the key and dead-letter queue replaced by those
        given — none given is EventBridge's own key and no queue, as AWS documents — and the
        description when given. The default bus's first configuration makes its row
        (session 51 addendum); until then it is EventBridge's own key and no queue.

        A change of key re-seals the bus's rules, targets and waiting deliveries under the
        new one before the answer (decision 0218, as AWS "decrypts any data stored on the
        event bus and then encrypts it using the new key"): refused (ValidationException,
        nothing changed) while the former key cannot open them; one that fails mid-way keeps
        the bus marked and is resumed by any gateway."""
        if description is not None and len(description) > 512:
            raise ValidationError("Description must be at most 512 characters.")
        held = await self.describe_bus(tenant_id, name)
        wanted = replace(held, kms_key=kms_key, dead_letter_arn=dead_letter_arn)
        await self._check_config(wanted)
        rekeyed = held.kms_key != kms_key
        if (
            rekeyed
            and held.kms_key is not None
            and self.keys is not None
            and self.resealer is not None
            and await self.resealer.holds_sealed(held)
        ):
            try:  # what the former key holds must open before anything changes
                await self.keys.check(self.key_scope(held))
            except KeyUnusable as exc:
                raise ValidationError(
                    f"The event bus's data cannot be re-encrypted: {exc.message}"
                ) from exc

        def change(bus: EventBus) -> EventBus:
            kept = bus.description if description is None else description
            return replace(
                bus,
                description=kept,
                kms_key=kms_key,
                dead_letter_arn=dead_letter_arn,
                resealing=bus.resealing or bus.kms_key != kms_key,
            )

        blank = self._default_bus(tenant_id) if name == DEFAULT_BUS else None
        bus = await self.store.change_bus(tenant_id, name, change, blank=blank)
        if bus.resealing and self.resealer is not None:
            try:
                await self.resealer.reseal(bus)
            except KeyUnusable as exc:
                raise ValidationError(
                    f"The event bus's key changed, but its data is not all re-encrypted yet "
                    f"(it will be once the keys are usable): {exc.message}"
                ) from exc
            bus = replace(bus, resealing=False)
        return bus

    async def bus_policy(self, tenant_id: str, name: str) -> str | None:
        """The bus's resource policy, None when it has none or the bus does not exist."""
        return await self.store.get_bus_policy(tenant_id, name)

    async def change_bus_policy(
        self, tenant_id: str, name: str, change: Callable[[str | None], str | None]
    ) -> None:
        """The bus's policy replaced by ``change(held)`` in one transaction with the bus."""
        await self.store.change_bus_policy(tenant_id, name, change)

    async def delete_bus(self, tenant_id: str, name: str) -> None:
        if name == DEFAULT_BUS:
            raise ValidationError("Cannot delete event bus default.")
        await self.store.delete_bus(tenant_id, name)

    async def list_buses(
        self, tenant_id: str, prefix: str, after: str, limit: int
    ) -> list[EventBus]:
        """A page of the account's buses in name order, the default bus among them."""
        found = await self.store.list_buses(tenant_id, prefix, after, limit)
        if (
            DEFAULT_BUS.startswith(prefix)
            and DEFAULT_BUS > after
            and all(bus.name != DEFAULT_BUS for bus in found)
        ):
            found.append(self._default_bus(tenant_id))
            found.sort(key=lambda bus: bus.name.encode())
        return found[:limit]

    async def _existing_bus(self, tenant_id: str, name: str) -> None:
        if name != DEFAULT_BUS and await self.store.get_bus(tenant_id, name) is None:
            raise ResourceNotFound(f"Event bus {name} does not exist.")

    # -- rules

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

    # -- events

    def test_event_pattern(self, pattern: str, event_text: str) -> bool:
        compiled = self.pattern(pattern)
        return compiled.matches(checked_test_event(event_text))

    async def put_events(
        self,
        tenant_id: str,
        entries: Sequence[Mapping[str, Any]],
        *,
        other_accounts: bool = False,
        denied: Mapping[int, EntryResult] | None = None,
        trace: str | None = None,
    ) -> list[EntryResult]:
        """Each entry's event onto its bus. ``other_accounts``: an entry may name another
        account's bus by ARN, its policy having allowed the sender (the caller checked it);
        the event's ``account`` is the sender's, as on AWS (decision 0192, session 48).
        ``denied``: the entries (by index) the caller's policies refused, answered in their
        place with their own error (decision 0318). ``trace``: the request's trace header,
        each event's unless its entry's ``TraceHeader`` names one (decision 0351)."""
        limits = self._limits
        if not entries or len(entries) > limits.max_put_entries:
            raise ValidationError(
                f"1 validation error detected: Value at 'entries' failed to satisfy constraint: "
                f"Member must have length between 1 and {limits.max_put_entries}"
            )
        if sum(entry_size(entry) for entry in entries) > limits.max_put_size:
            raise ValidationError("Total size of the entries in the request is over the limit.")
        results: list[EntryResult] = []
        by_bus: dict[tuple[str, str], list[dict[str, Any]]] = {}
        traces: dict[str, str | None] = {}
        for index, entry in enumerate(entries):
            if denied is not None and index in denied:
                results.append(denied[index])
                continue
            try:
                event, place = await self._event_of(tenant_id, entry, other_accounts)
            except EntryRefused as refused:
                results.append(EntryResult(None, refused.code, refused.message))
                continue
            by_bus.setdefault(place, []).append(event)
            own = entry.get("TraceHeader")  # AWS's entry member, before the request's header
            traces[event["id"]] = own if isinstance(own, str) and own else trace
            results.append(EntryResult(event["id"]))
        for (owner, bus), events in by_bus.items():
            try:
                await self.route(owner, bus, events, traces=traces)
            except KeyUnusable as exc:
                # Decision 0213: the bus's key refuses (disabled, deleted, its policy closed):
                # its entries fail with AWS's non-retryable AccessDeniedException, none kept.
                unkept = {event["id"] for event in events}
                results = [
                    EntryResult(None, "AccessDeniedException", exc.message)
                    if result.event_id in unkept
                    else result
                    for result in results
                ]
        return results

    async def route(
        self,
        tenant_id: str,
        bus: str,
        events: Sequence[dict[str, Any]],
        *,
        rule_arns: frozenset[str] | None = None,
        forwarded: bool = False,
        traces: Mapping[str, str | None] | None = None,
    ) -> int:
        """Hand each event to the targets of the bus's enabled rules it matches (of
        ``rule_arns`` only when given: a replay's FilterArns); how many deliveries that made.
        ``forwarded``: the events came from another bus (decision 0273); as AWS, "EventBridge
        can't route events received from a sender event bus to a third event bus": the rules'
        bus targets do not receive them (their other targets do). ``traces``: the events'
        trace headers by id (decision 0351). The platform's own events come in here too, and
        replays' (decision 0196); each is archived after its deliveries are queued.

        A bus's customer key (the default bus's too) seals its customers' events only: the
        platform's own (an ``aws.`` source, which PutEvents refuses to customers) stay under
        the platform's key, as AWS keeps its services' events under an AWS owned key — so a
        disabled key never stops them (decision 0213, session 51 addendum)."""
        row = await self.store.get_bus(tenant_id, bus)
        keyed = row if row is not None and row.kms_key is not None else None
        sealing = keyed is not None and any(customers(event) for event in events)
        targets = await self.store.targets_by_rule(tenant_id, bus)
        if not targets:
            if sealing:  # the key must seal the bus's events even when none match
                await self._deliveries.submit(tenant_id, [], bus=keyed)
            if self.archiver is not None:
                await self.archiver.archive(tenant_id, bus, events)
            return 0
        rules = [
            rule
            for rule in await self.store.list_rules(tenant_id, bus, "", "", self._limits.max_rules)
            if rule.enabled
            and (rule.event_pattern is not None or rule.sealed is not None)
            and rule.name in targets
            and (rule_arns is None or rule.arn in rule_arns)
        ]
        rules, targets = await self._opened(
            row or self._default_bus(tenant_id), rules, targets, refuse=sealing
        )
        handed: list[tuple[Rule, Target, dict[str, Any]]] = []
        matched_events = 0  # decision 0332: AWS/Events' MatchedEvents of the bus
        for event in events:
            hit = False
            for rule in rules:
                try:
                    matched = self.pattern(rule.event_pattern or "{}").matches(event)
                except InvalidEventPattern:
                    continue  # a pattern stored before a stricter check: matches nothing
                if matched:
                    # An archive's target is the archive service's, which keeps the bus's
                    # events below: no delivery (decision 0341).
                    handed += [
                        (rule, target, event)
                        for target in targets[rule.name]
                        if not is_archive_target(target.arn)
                    ]
                    self._count(tenant_id, rule.arn, "TriggeredRules")
                    self._count(tenant_id, rule.arn, "MatchedEvents")
                    hit = True
            matched_events += hit
        if matched_events and self.measures is not None:
            self.measures(tenant_id, "MatchedEvents", float(matched_events), "Count", bus)
        if forwarded:
            onward = []
            for match in handed:
                if bus_of_target(match[1].arn) is None:
                    onward.append(match)
                else:  # AWS counts it among the invocations a loop would make
                    self._count(tenant_id, match[0].arn, "DeadLetterInvocations")
            if len(onward) < len(handed):
                log.info("%d forwarded deliveries to buses of %s dropped: one hop only",
                         len(handed) - len(onward), bus)  # fmt: skip
            handed = onward
        if handed and self.measures is not None:  # decision 0341: AWS's, without dimension
            self.measures(tenant_id, "InvocationsCreated", float(len(handed)), "Count", None)
        # Queued before the caller answers: an accepted event's deliveries are not lost. A
        # bus's key refusing stops here, before the archives keep what the bus refused.
        sealed = [match for match in handed if sealing and customers(match[2])]
        if sealing:
            await self._deliveries.submit(tenant_id, sealed, bus=keyed, traces=traces)
        if len(sealed) < len(handed) or not sealing:
            plain = [match for match in handed if not (sealing and customers(match[2]))]
            await self._deliveries.submit(tenant_id, plain, traces=traces)
        if self.archiver is not None:
            await self.archiver.archive(tenant_id, bus, events)
        return len(handed)

    def _count(self, tenant_id: str, rule: str, name: str) -> None:
        if self.metrics is not None:
            self.metrics(tenant_id, rule, name)

    async def receive(self, owner: str, bus: str, event: dict[str, Any]) -> int:
        """Decision 0273: ``event``, as another bus's rule sent it, onto ``owner``'s bus — its
        ``id``, ``account`` and ``region`` those of its origin, as AWS keeps them — routed to
        the bus's rules and archived as any of its events, never sent on to a third bus.
        ResourceNotFound when the bus does not exist; KeyUnusable when its key refuses."""
        await self._existing_bus(owner, check_bus_name(bus))
        return await self.route(owner, bus, [event], forwarded=True)

    async def _opened(
        self, bus: EventBus, rules: list[Rule], targets: dict[str, list[Target]], *, refuse: bool
    ) -> tuple[list[Rule], dict[str, list[Target]]]:
        """The rules and their targets in clear for matching (decision 0218), from this
        gateway's cache of what it opened when it can. When the bus's key refuses: raised
        for customers' events (``refuse``), else — the platform's own events — the rules
        that need the key match nothing."""
        if all(r.sealed is None for r in rules) and all(
            t.sealed is None for r in rules for t in targets[r.name]
        ):
            return rules, targets
        by_arn = {rule.arn: targets[rule.name] for rule in rules}
        try:
            opened_rules, opened = await self.seals.open_for_matching(bus, rules, by_arn)
        except KeyUnusable as exc:
            if refuse:
                raise
            log.warning("rules of %s not matched: %s", bus.arn, type(exc).__name__)
            plain = [
                rule
                for rule in rules
                if rule.sealed is None and all(t.sealed is None for t in targets[rule.name])
            ]
            return plain, targets
        return opened_rules, {rule.name: opened[rule.arn] for rule in rules}

    async def _event_of(
        self, tenant_id: str, entry: Mapping[str, Any], other_accounts: bool
    ) -> tuple[dict[str, Any], tuple[str, str]]:
        source, detail_type, parsed, resources = checked_entry(entry)
        try:
            given = entry.get("EventBusName")
            if other_accounts:
                owner, bus = self.bus_owner(tenant_id, given)
            else:
                owner, bus = tenant_id, self.bus_name(tenant_id, given)
            await self._existing_bus(owner, bus)
        except (ResourceNotFound, ValidationError) as exc:
            raise EntryRefused("InvalidArgument", exc.message) from exc
        moment = moment_of(entry.get("Time")) or self._clock()
        event = event_envelope(
            event_id=str(uuid.uuid4()),
            detail_type=detail_type,
            source=source,
            account=tenant_id,
            moment=moment,
            region=self.region,
            resources=list(resources),
            detail=parsed,
        )
        return event, (owner, bus)
