"""EventBridge's service (decision 0192), the context's one public entry: an account's event
buses (:mod:`.buses`), their rules and the rules' targets (:mod:`.rules`), and here PutEvents —
each entry checked, turned into EventBridge's event envelope, matched against the bus's enabled
rules and handed, once per matching target, to the deliveries (:mod:`.dispatcher`) — and the
events another bus forwards (decision 0273)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from andromede.events.buses import BusResealing, EventsLimits
from andromede.events.entries import EntryRefused, checked_entry, customers, entry_size, moment_of
from andromede.events.errors import InvalidEventPattern, ResourceNotFound, ValidationError
from andromede.events.event_keys import KeyUnusable
from andromede.events.managed_rules import is_archive_target
from andromede.events.model import (
    EventBus,
    Rule,
    Target,
    bus_of_target,
    check_bus_name,
    event_envelope,
)
from andromede.events.rules import EventRules
from andromede.events.store import EventsStore

__all__ = [
    "BusResealing",
    "EntryResult",
    "EventArchiver",
    "EventsLimits",
    "EventsService",
    "TargetDeliveries",
]

log = logging.getLogger(__name__)


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


class EventsService(EventRules):
    def __init__(
        self,
        store: EventsStore,
        deliveries: TargetDeliveries,
        *,
        region: str,
        limits: EventsLimits | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(store, region=region, limits=limits, clock=clock)
        self._deliveries = deliveries
        # The bus's archives (decision 0196), told of every event routed, before its rules.
        self.archiver: EventArchiver | None = None
        # Decision 0273: (tenant, rule ARN, metric) of AWS/Events' ``TriggeredRules`` and
        # ``DeadLetterInvocations`` (a forwarded event not sent on); None: not counted.
        self.metrics: Callable[[str, str, str], None] | None = None
        # Decision 0332: AWS/Events' metrics of the account (tenant, name, value, unit, and
        # the bus for its ``EventBusName`` series besides the one without dimension).
        self.measures: Callable[[str, str, float, str, str | None], None] | None = None

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

    async def receive(
        self, owner: str, bus: str, event: dict[str, Any], *, trace: str | None = None
    ) -> int:
        """Decision 0273: ``event``, as another bus's rule sent it, onto ``owner``'s bus — its
        ``id``, ``account`` and ``region`` those of its origin, as AWS keeps them — routed to
        the bus's rules and archived as any of its events, never sent on to a third bus; its
        ``trace`` header kept for the bus's targets (decision 0360). ResourceNotFound when
        the bus does not exist; KeyUnusable when its key refuses."""
        await self._existing_bus(owner, check_bus_name(bus))
        traces = {str(event.get("id")): trace}
        return await self.route(owner, bus, [event], forwarded=True, traces=traces)

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
