"""Delivery of matched events to their targets, and the firing of scheduled rules (decision
0192).

:class:`Deliveries` sends each (event, target) in the background, at least once: the
message is what the target's input settings make of the event; a failure the sink calls
transient is tried again with exponential back-off (``retry_base`` doubling, capped at a
minute) until the target's ``RetryPolicy`` (its attempts, bounded by the gateway's
``max_attempts``, and its ``MaximumEventAgeInSeconds``) is spent; a permanent one (the queue
gone, its policy not letting EventBridge in) is not tried again. Either way an undelivered
event goes to the target's dead-letter queue, when it has one, with the attributes AWS adds
(``RULE_ARN``, ``TARGET_ARN``, ``ERROR_CODE``, ``ERROR_MESSAGE``,
``EXHAUSTED_RETRY_CONDITION``, ``RETRY_ATTEMPTS``). Retries live in the gateway's memory:
a gateway that stops loses the retries it held (decision 0192's limits).

:class:`Scheduler` runs in every gateway: each pass reads the scheduled rules and, for each
period ("slot") due, claims it (``RunClaims``, the ``metric_runs`` table of decision 0181)
so that one gateway alone fires it, then sends the rule's targets a ``Scheduled Event``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from andromede.events.errors import EventsError, ValidationError
from andromede.events.model import Rule, Target, event_envelope
from andromede.events.schedule import Cron, parse_schedule
from andromede.events.store import EventsStore
from andromede.events.transform import render_input

__all__ = [
    "Deliveries",
    "DeliveryRefused",
    "RunClaims",
    "Scheduler",
    "TargetSink",
]

log = logging.getLogger(__name__)


class DeliveryRefused(EventsError):
    """A delivery that no retry can make succeed; ``code`` is the error AWS would report."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


class TargetSink(Protocol):
    async def send(
        self,
        tenant_id: str,
        arn: str,
        message: str,
        *,
        rule_arn: str,
        group_id: str | None,
        dedup_id: str,
        attributes: dict[str, str] | None = None,
    ) -> None:
        """Send ``message`` to the queue or topic ``arn``; DeliveryRefused when it can never
        be, any other exception for a failure worth another try."""
        ...


@dataclass(frozen=True, slots=True)
class _Job:
    tenant_id: str
    rule: Rule
    target: Target
    event: dict[str, Any]
    message: str
    started: float


class Deliveries:
    def __init__(
        self,
        sink: TargetSink,
        *,
        max_attempts: int = 185,
        retry_base: float = 1.0,
        on_result: Callable[[str, bool], None] | None = None,
    ) -> None:
        self._sink = sink
        self._max_attempts = max_attempts
        self._retry_base = retry_base
        self._tasks: set[asyncio.Task[None]] = set()
        # Told (tenant, delivered) of each finished delivery: the metering hook.
        self._on_result = on_result

    def submit(self, tenant_id: str, rule: Rule, target: Target, event: dict[str, Any]) -> None:
        message = render_input(
            event,
            constant=target.input,
            input_path=target.input_path,
            transformer=target.input_transformer,
            rule_arn=rule.arn,
            rule_name=rule.name,
        )
        job = _Job(tenant_id, rule, target, event, message, time.monotonic())
        task = asyncio.get_running_loop().create_task(self._deliver(job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for the deliveries under way (tests; a gateway's stop)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _deliver(self, job: _Job) -> None:
        target = job.target
        retries = min(target.maximum_retry_attempts, self._max_attempts)
        attempt = 0
        while True:
            try:
                await self._sink.send(
                    job.tenant_id,
                    target.arn,
                    job.message,
                    rule_arn=job.rule.arn,
                    group_id=target.message_group_id,
                    dedup_id=str(job.event.get("id", uuid.uuid4())),
                )
            except DeliveryRefused as exc:
                await self._dead_letter(job, exc.code, str(exc), attempt, "")
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.info("delivery to %s failed (attempt %d): %r", target.arn, attempt + 1, exc)
                age = time.monotonic() - job.started
                if attempt >= retries:
                    await self._dead_letter(
                        job, "InternalFailure", type(exc).__name__, attempt, "MaximumRetryAttempts"
                    )
                    return
                delay = min(self._retry_base * 2**attempt, 60.0)
                if age + delay > target.maximum_event_age:
                    await self._dead_letter(
                        job,
                        "InternalFailure",
                        type(exc).__name__,
                        attempt,
                        "MaximumEventAgeInSeconds",
                    )
                    return
                attempt += 1
                await asyncio.sleep(delay)
                continue
            if self._on_result is not None:
                self._on_result(job.tenant_id, True)
            return

    async def _dead_letter(
        self, job: _Job, code: str, message: str, attempts: int, condition: str
    ) -> None:
        if self._on_result is not None:
            self._on_result(job.tenant_id, False)
        dlq = job.target.dead_letter_arn
        if dlq is None:
            log.info("event %s to %s dropped: %s", job.event.get("id"), job.target.arn, code)
            return
        attributes = {
            "RULE_ARN": job.rule.arn,
            "TARGET_ARN": job.target.arn,
            "ERROR_CODE": code,
            "ERROR_MESSAGE": message[:256],
            "RETRY_ATTEMPTS": str(attempts),
        }
        if condition:
            attributes["EXHAUSTED_RETRY_CONDITION"] = condition
        try:
            await self._sink.send(
                job.tenant_id,
                dlq,
                json.dumps(job.event, separators=(",", ":")),
                rule_arn=job.rule.arn,
                group_id=None,
                dedup_id=str(job.event.get("id")),
                attributes=attributes,
            )
        except Exception as exc:  # the dead-letter queue is gone or refuses: nothing left
            log.info("dead letter of %s to %s dropped: %r", job.event.get("id"), dlq, exc)


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
            for target in targets:
                self._deliveries.submit(rule.tenant_id, rule, target, event)
        # Marked done once handed over; a gateway dying before leaves it to the next after
        # the lease.
        await self._claims.done(name, slot, self._holder)
        return True
