"""The firing of EventBridge's scheduled rules (decision 0192): :class:`Scheduler` runs in every
gateway; each pass reads the scheduled rules and, for each period ("slot") due, claims it
(``RunClaims``, the ``metric_runs`` table of decision 0181) so that one gateway alone fires
it, then hands the rule's targets a ``Scheduled Event`` through the deliveries
(:mod:`.dispatcher`)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from andromede.events.dispatcher import Deliveries
from andromede.events.errors import ValidationError
from andromede.events.event_keys import KeyUnusable
from andromede.events.model import Rule, event_envelope
from andromede.events.rule_seals import RuleSeals
from andromede.events.schedule import Cron, parse_schedule
from andromede.events.store import EventsStore

__all__ = ["RunClaims", "Scheduler"]

log = logging.getLogger(__name__)


class RunClaims(Protocol):
    async def claim(self, name: str, slot: int, holder: str, now: int, lease: int) -> bool: ...

    async def done(self, name: str, slot: int, holder: str) -> None: ...


class Scheduler:
    def __init__(
        self,
        store: EventsStore,
        claims: RunClaims,
        deliveries: Deliveries,
        *,
        holder: str,
        interval: float = 10.0,
        lease: int = 300,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._claims = claims
        self._deliveries = deliveries
        self._holder = holder
        self._interval = interval
        self._lease = lease
        self._clock = clock
        self._checked_minute: int | None = None
        # Decision 0218: the targets of a default bus under a customer key, opened.
        self.seals: RuleSeals | None = None

    async def run_forever(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("scheduled rules pass failed")
            await asyncio.sleep(self._interval)

    async def tick(self) -> int:
        """Fire what is due; how many rules fired."""
        now = self._clock()
        minute = int(now.timestamp()) // 60
        first = minute if self._checked_minute is None else self._checked_minute + 1
        # A pass that was late looks back at most an hour of cron minutes.
        minutes = range(max(first, minute - 59), minute + 1)
        fired = 0
        for rule in await self._store.scheduled_rules():
            if not rule.enabled or rule.schedule is None:
                continue
            try:
                schedule = parse_schedule(rule.schedule)
            except ValidationError:
                continue
            if isinstance(schedule, Cron):
                moments = [datetime.fromtimestamp(m * 60, UTC) for m in minutes]
                slots = [m for m, at in zip(minutes, moments, strict=True) if schedule.matches(at)]
            else:
                slot = schedule.slot(rule.created, now)
                slots = [] if slot is None else [slot]
            for slot in slots:
                if await self._fire(rule, slot, now):
                    fired += 1
        self._checked_minute = minute
        return fired

    async def _fire(self, rule: Rule, slot: int, now: datetime) -> bool:
        # The expression is part of the name: a rule whose schedule changes counts its
        # periods afresh (a rate's slots are small numbers, a cron's are minutes).
        name = f"events-schedule:{rule.arn}:{rule.schedule}"
        stamp = int(now.timestamp())
        if not await self._claims.claim(name, slot, self._holder, stamp, self._lease):
            return False
        targets = await self._store.list_targets(rule.tenant_id, rule.bus_name, rule.name)
        if any(target.sealed is not None for target in targets):
            bus = await self._store.get_bus(rule.tenant_id, rule.bus_name)
            try:
                if self.seals is None or bus is None:
                    raise KeyUnusable("Customer KMS keys are not served by this deployment.")
                targets = await self.seals.open_targets(bus, rule.arn, targets, cached=True)
            except KeyUnusable as exc:
                log.warning("scheduled rule %s not fired: %s", rule.arn, type(exc).__name__)
                targets = [target for target in targets if target.sealed is None]
        if True:
            event = event_envelope(
                event_id=str(uuid.uuid4()),
                detail_type="Scheduled Event",
                source="aws.events",
                account=rule.tenant_id,
                moment=now - timedelta(microseconds=now.microsecond),
                region=rule.region,
                resources=[rule.arn],
                detail={},
            )
            await self._deliveries.submit(rule.tenant_id, [(rule, t, event) for t in targets])
            measure = self._deliveries.measures
            if targets and measure is not None:  # decision 0341: a scheduled event's too
                measure(rule.tenant_id, "InvocationsCreated", float(len(targets)), "Count", None)
        # Marked done once handed over; a gateway dying before leaves it to the next after
        # the lease.
        await self._claims.done(name, slot, self._holder)
        return True
