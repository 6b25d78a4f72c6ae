"""Delivery of matched events to their targets (decision 0192).

:class:`Deliveries` sends each (event, target) at least once: :meth:`Deliveries.submit`
writes them into the delivery queue (:mod:`.delivery_queue`; durable and sealed over SQL,
session 48 addendum) before PutEvents answers, and every gateway's worker claims them under a
lease. The message is what the target's input settings make of the event when it is
accepted; a failure the sink calls transient is tried again with exponential back-off
(``retry_base`` doubling, capped at a minute) until the target's ``RetryPolicy`` (its
attempts, bounded by the gateway's ``max_attempts``, and its ``MaximumEventAgeInSeconds``
counted from the event's acceptance) is spent; a permanent one (the queue gone, its policy not
letting EventBridge in) is not tried again. Either way an undelivered event goes to the
target's dead-letter queue, when it has one, with the attributes AWS adds (``RULE_ARN``,
``TARGET_ARN``, ``ERROR_CODE``, ``ERROR_MESSAGE``, ``EXHAUSTED_RETRY_CONDITION``,
``RETRY_ATTEMPTS``). A gateway that stops leaves its claims to the others after their lease.
Kinesis and Firehose streams (decision 0238) are written by :class:`StreamSink` as the
target's role, event buses (decision 0273) receive the event itself through :class:`BusSink`,
CloudWatch Logs groups (decision 0277) by :class:`LogSink` as EventBridge, Lambda functions
(decision 0293) by :class:`FunctionSink` as ``events.amazonaws.com``.
Failures carry AWS's ``ERROR_CODE`` names (decision 0238): ``NO_RESOURCE``,
``NO_PERMISSIONS``, ``FAILED_TO_ASSUME_ROLE``, ``INVALID_PARAMETER`` for good;
``THROTTLING``… worth another try (:class:`DeliveryDeferred`); ``INTERNAL_ERROR`` for an
unnamed one once its retries are spent.
A bus under a customer's KMS key (decision 0213) has its deliveries sealed under a data key of
that key before they are queued; one that no longer opens (the key disabled or closed) goes,
as the event's metadata with the reason, to the bus's dead-letter queue (the target's when the
bus has none).

The sinks and their failures are :mod:`.sinks`'; the scheduled rules fire in
:mod:`.scheduler`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from andromede.events.delivery_queue import (
    DeliveryQueue,
    HeldDelivery,
    MemoryDeliveryQueue,
    NewDelivery,
    QueuedDelivery,
)
from andromede.events.event_keys import EventKeys, KeyScope, KeyUnusable
from andromede.events.model import (
    DEFAULT_BUS,
    EventBus,
    Rule,
    Target,
    bus_of_target,
    parse_arn,
    rule_arn,
)
from andromede.events.sinks import (
    AccountMetric,
    ApiSink,
    BusSink,
    DeliveryDeferred,
    DeliveryRefused,
    FunctionSink,
    LogSink,
    RuleMetric,
    StreamSink,
    TargetSink,
)
from andromede.events.transform import render_input
from andromede.wakeup import Doorbell, Pacer

__all__ = [
    "AccountMetric",
    "ApiSink",
    "BusSink",
    "Deliveries",
    "DeliveryDeferred",
    "DeliveryRefused",
    "FunctionSink",
    "LogSink",
    "RuleMetric",
    "StreamSink",
    "TargetSink",
]

log = logging.getLogger(__name__)

# Decision 0332: AWS/Events' wait of a first attempt since the event came in.
_LATENCY: Final = "IngestionToInvocationStartLatency"


def _traced(trace: str | None) -> dict[str, str]:
    """A queued document's ``trace`` member: only when the event has one."""
    return {"trace": trace} if trace else {}


def _is_stream(arn: str) -> bool:
    return arn.startswith(("arn:aws:kinesis:", "arn:aws:firehose:"))


class Deliveries:
    """The deliveries' queue and its worker: :meth:`submit` queues (durably, with an SQL
    queue) before the caller answers; :meth:`run_forever` is every gateway's worker."""

    def __init__(
        self,
        sink: TargetSink,
        queue: DeliveryQueue | None = None,
        *,
        max_attempts: int = 185,
        retry_base: float = 1.0,
        lease: float = 60.0,
        batch: int = 50,
        poll_interval: float = 1.0,
        on_result: Callable[[str, bool], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        api: ApiSink | None = None,
        idle_poll_max: float | None = None,
        doorbell: Doorbell | None = None,
    ) -> None:
        """``doorbell``: rung after the commits that queued deliveries in this process; idle,
        the worker backs off from ``poll_interval`` to ``idle_poll_max`` (decision 0206)."""
        self._sink = sink
        # API destinations' invoker (decision 0200); None where they are not served.
        self.api = api
        self.queue: DeliveryQueue = MemoryDeliveryQueue() if queue is None else queue
        self._max_attempts = max_attempts
        self._retry_base = retry_base
        self._lease = timedelta(seconds=lease)
        self._batch = batch
        self._clock = clock
        # Rung by a submit too (a memory queue has no commit): this gateway's worker looks at
        # once rather than at its next poll.
        self._pacer = Pacer(poll_interval, idle_poll_max, doorbell)
        # Told (tenant, delivered) of each finished delivery: the metering hook.
        self._on_result = on_result
        # Customer KMS keys of buses (decision 0213); None where not served.
        self.keys: EventKeys | None = None
        # Kinesis and Firehose streams as targets (decision 0238); None where not served.
        self.streams: StreamSink | None = None
        # Event buses as targets (decision 0273); None where not served.
        self.buses: BusSink | None = None
        # The deliveries' AWS/Events metrics (decision 0273); None: not counted.
        self.metrics: RuleMetric | None = None
        self.measures: AccountMetric | None = None  # decision 0332
        # Decision 0360: the account metrics of a Region's series (by the rule's Region);
        # None: every delivery's in ``measures``.
        self.measures_in: Callable[[str], AccountMetric] | None = None
        # CloudWatch Logs groups as targets (decision 0277); None where not served.
        self.log_groups: LogSink | None = None
        # Lambda functions as targets (decision 0293); None where not served.
        self.functions: FunctionSink | None = None

    def _count(self, tenant_id: str, rule: str, *names: str) -> None:
        if self.metrics is not None:
            for name in names:
                self.metrics(tenant_id, rule, name)

    async def submit(
        self,
        tenant_id: str,
        matched: Sequence[tuple[Rule, Target, dict[str, Any]]],
        *,
        bus: EventBus | None = None,
        traces: Mapping[str, str | None] | None = None,
    ) -> None:
        """Queue each (rule, target, event) in one write; the target's input rendered now,
        as the rule and target stand when the event is accepted, the event's trace header
        (``traces`` by id, decision 0351) kept with it. Under ``bus``'s key when it
        has one (decision 0213): the event, the target's settings and the rendered input
        sealed with one data key, only the event's metadata (which AWS does not encrypt
        either), the target's ARN and the dead-letter queues left readable."""
        documents = [
            (
                rule,
                target,
                event,
                json.dumps(
                    {
                        "target": {"Id": target.id, "Arn": target.arn, "Spec": target.spec},
                        "event": event,
                        "message": render_input(
                            event,
                            constant=target.input,
                            input_path=target.input_path,
                            transformer=target.input_transformer,
                            rule_arn=rule.arn,
                            rule_name=rule.name,
                        ),
                    }
                    | _traced((traces or {}).get(str(event.get("id")))),
                    separators=(",", ":"),
                ),
            )
            for rule, target, event in matched
        ]
        if bus is not None and bus.kms_key is not None:
            texts = await self._sealed(bus, [(t, e, text) for _, t, e, text in documents])
            documents = [
                (r, t, e, text) for (r, t, e, _), text in zip(documents, texts, strict=True)
            ]
        new = [NewDelivery(rule.arn, target.id, text) for rule, target, _, text in documents]
        if new:
            await self.queue.add(tenant_id, new, self._clock())
            self._pacer.doorbell.ring()

    async def _sealed(
        self, bus: EventBus, documents: list[tuple[Target, dict[str, Any], str]]
    ) -> list[str]:
        if self.keys is None:
            raise KeyUnusable("Customer KMS keys are not served by this deployment.")
        scope = KeyScope(bus.tenant_id, bus.kms_key, bus.arn, bus.arn)
        sealed = await self.keys.seal(scope, [text for *_, text in documents])
        return [
            json.dumps(
                {
                    "sealed": text,
                    "bus": bus.arn,
                    "bus_dead_letter": bus.dead_letter_arn,
                    "target": {"Id": target.id, "Arn": target.arn},
                    "target_dead_letter": target.dead_letter_arn,
                    "metadata": {k: v for k, v in event.items() if k != "detail"},
                },
                separators=(",", ":"),
            )
            for (target, event, _), text in zip(documents, sealed, strict=True)
        ]

    async def reseal(self, bus: EventBus, key_arn: str | None) -> int:
        """Decision 0218: the bus's waiting deliveries as the bus under ``key_arn`` (None:
        EventBridge's own key) keeps them — opened under their former key and sealed under
        the new one, or left in the queue's own sealing —; how many were rewritten or
        changed under it (another pass needed). ``KeyUnusable`` when a former key refuses."""
        touched, after = 0, 0
        while True:
            page = await self.queue.held(bus.tenant_id, after, 200)
            if not page:
                return touched
            for held in page:
                after = held.delivery_id
                message = await self._resealed(bus, key_arn, held)
                if message is not None:
                    await self.queue.rewrite(bus.tenant_id, held, message)
                    touched += 1

    async def holds_sealed(self, bus: EventBus) -> bool:
        """Whether a delivery of the bus waits sealed under a customer key."""
        after = 0
        while True:
            page = await self.queue.held(bus.tenant_id, after, 200)
            if not page:
                return False
            for held in page:
                after = held.delivery_id
                try:
                    document = json.loads(held.message)
                except ValueError:
                    continue
                if "sealed" in document and document.get("bus") == bus.arn:
                    return True

    async def _resealed(self, bus: EventBus, key_arn: str | None, held: HeldDelivery) -> str | None:
        try:
            document = json.loads(held.message)
        except ValueError:
            return None
        if "sealed" in document:
            if document.get("bus") != bus.arn or self.keys is None:
                return None
            text = str(document["sealed"])
            if key_arn is not None and self.keys.key_of(text) == key_arn:
                return None
            scope = KeyScope(bus.tenant_id, None, bus.arn, bus.arn)
            opened = (await self.keys.open(scope, [text]))[0]
            if bus.kms_key is None:
                return opened
            document = json.loads(opened)
        elif bus.kms_key is None or not _of_bus(bus, held.rule_arn):
            return None
        event = document.get("event") or {}
        if str(event.get("source", "")).startswith("aws."):
            return None  # the platform's own events stay under its key (decision 0213)
        given = document["target"]
        target = Target(given["Id"], given["Arn"], given["Spec"])
        plain = json.dumps(document, separators=(",", ":"))
        return (await self._sealed(bus, [(target, event, plain)]))[0]

    async def run_forever(self) -> None:
        while True:
            try:
                taken = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("event deliveries pass failed")
                taken = 0
            if not taken:
                await self._pacer.pause(worked=False)
            else:
                self._pacer.reset()

    async def run_once(self) -> int:
        """Claim a batch and deliver it; how many were claimed."""
        claimed = await self.queue.claim(self._clock(), lease=self._lease, limit=self._batch)
        for delivery in claimed:
            await self._deliver(delivery)
        return len(claimed)

    async def drain(self) -> None:
        """Deliver until nothing waits (tests)."""
        while await self.queue.waiting():
            if not await self.run_once():
                await asyncio.sleep(min(self._retry_base, 0.05))

    async def _deliver(self, delivery: QueuedDelivery) -> None:
        now = self._clock()
        if delivery.unopened is not None:
            if delivery.shredded:  # its tenant's key is gone: it never will open
                log.info("event delivery %d dropped: %s", delivery.delivery_id, delivery.unopened)
                await self.queue.complete(delivery)
            else:
                later = now + timedelta(seconds=self._retry_base)
                await self.queue.retry(delivery, later, delivery.unopened)
            return
        try:
            document = json.loads(delivery.message)
            if "sealed" in document:
                opened = await self._opened(delivery, document)
                if opened is None:
                    await self.queue.complete(delivery)
                    return
                document = opened
            given = document["target"]
            target = Target(given["Id"], given["Arn"], given["Spec"])
            event: dict[str, Any] = document["event"]
            trace = document.get("trace")
            trace = trace if isinstance(trace, str) and trace else None
        except (ValueError, KeyError, TypeError):  # never deliverable: not kept forever
            log.warning("event delivery %d dropped: malformed", delivery.delivery_id)
            await self.queue.complete(delivery)
            return
        done = delivery.attempts - 1  # the retries before this attempt
        # Decision 0332: each attempt, and the first one's wait since the event came in.
        self._count(delivery.tenant_id, delivery.rule_arn, "InvocationAttempts")
        if done:
            self._count(delivery.tenant_id, delivery.rule_arn, "RetryInvocationAttempts")
        elif self.measures is not None:
            waited = max(0.0, (now - delivery.created).total_seconds() * 1000)
            region = (parse_arn(delivery.rule_arn) or ("", "", "", ""))[1]
            measure = self.measures
            if self.measures_in is not None and region:
                measure = self.measures_in(region)
            measure(delivery.tenant_id, _LATENCY, waited, "Milliseconds", None)
        try:
            if ":api-destination/" in target.arn:
                if self.api is None:
                    raise DeliveryRefused("NO_RESOURCE", "API destinations are not served")
                await self.api.send(
                    delivery.tenant_id,
                    target,
                    document["message"],
                    source_arn=delivery.rule_arn,
                    trace=trace,
                )
            elif bus_of_target(target.arn) is not None:
                if self.buses is None:
                    raise DeliveryRefused("NO_RESOURCE", "event bus targets are not served")
                await self.buses.send(
                    delivery.tenant_id, target, event, rule_arn=delivery.rule_arn, trace=trace
                )
            elif _is_stream(target.arn):
                if self.streams is None:
                    raise DeliveryRefused("NO_RESOURCE", "stream targets are not served")
                await self.streams.send(
                    delivery.tenant_id, target, document["message"], event, delivery.rule_arn
                )
            elif target.arn.startswith("arn:aws:logs:"):
                if self.log_groups is None:
                    raise DeliveryRefused("NO_RESOURCE", "log group targets are not served")
                await self.log_groups.send(
                    delivery.tenant_id, target, document["message"], event, delivery.rule_arn
                )
            elif target.arn.startswith("arn:aws:lambda:"):
                if self.functions is None:
                    raise DeliveryRefused("NO_RESOURCE", "Lambda function targets are not served")
                await self.functions.send(
                    delivery.tenant_id, target, document["message"], delivery.rule_arn, trace
                )
            elif (parse_arn(target.arn) or ("", "", "", ""))[2] != delivery.tenant_id:
                # Decision 0273: another account's queue or topic, as the target's role.
                await self._sink.send(
                    delivery.tenant_id,
                    target.arn,
                    document["message"],
                    rule_arn=delivery.rule_arn,
                    group_id=target.message_group_id,
                    dedup_id=str(event.get("id", uuid.uuid4())),
                    role_arn=target.role_arn,
                    trace=trace,
                )
            else:
                await self._sink.send(
                    delivery.tenant_id,
                    target.arn,
                    document["message"],
                    rule_arn=delivery.rule_arn,
                    group_id=target.message_group_id,
                    dedup_id=str(event.get("id", uuid.uuid4())),
                    trace=trace,
                )
        except DeliveryRefused as exc:
            await self._dead_letter(delivery, target, event, exc.code, str(exc), done, "")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.info("delivery to %s failed (attempt %d): %r", target.arn, done + 1, exc)
            if isinstance(exc, DeliveryDeferred):
                code, error = exc.code, str(exc)
                if code == "THROTTLING":  # decision 0332: the target held the rule back
                    self._count(delivery.tenant_id, delivery.rule_arn, "ThrottledRules")
            else:  # its kind only: a foreign message may carry what the DLQ must not
                code, error = "INTERNAL_ERROR", type(exc).__name__
            delay = min(self._retry_base * 2**done, 60.0)
            age = (now - delivery.created).total_seconds()
            if done >= min(target.maximum_retry_attempts, self._max_attempts):
                condition = "MaximumRetryAttempts"
            elif age + delay > target.maximum_event_age:
                condition = "MaximumEventAgeInSeconds"
            else:
                await self.queue.retry(delivery, now + timedelta(seconds=delay), repr(exc))
                return
            await self._dead_letter(delivery, target, event, code, error, done, condition)
        else:
            if self._on_result is not None:
                self._on_result(delivery.tenant_id, True)
            self._count(
                delivery.tenant_id, delivery.rule_arn, "Invocations", "SuccessfulInvocationAttempts"
            )
        await self.queue.complete(delivery)

    async def _opened(
        self, delivery: QueuedDelivery, document: dict[str, Any]
    ) -> dict[str, Any] | None:
        """A delivery sealed under its bus's key, opened; None when the key refuses (decision
        0213): then, as AWS documents for a non-retriable decryption error, the event's
        readable metadata goes to the bus's dead-letter queue (the target's when the bus has
        none) with the reason, and the delivery is not tried again."""
        bus = str(document["bus"])
        scope = KeyScope(delivery.tenant_id, None, bus, bus)
        if self.keys is None:
            error = KeyUnusable("Customer KMS keys are not served by this deployment.")
        else:
            try:
                opened: dict[str, Any] = json.loads(
                    (await self.keys.open(scope, [str(document["sealed"])]))[0]
                )
                return opened
            except KeyUnusable as exc:
                error = exc
        if self._on_result is not None:
            self._on_result(delivery.tenant_id, False)
        self._count(delivery.tenant_id, delivery.rule_arn, "Invocations", "FailedInvocations")
        metadata = document.get("metadata") or {}
        target = document["target"]
        dlq, source = document.get("bus_dead_letter"), bus
        if dlq is None:
            dlq, source = document.get("target_dead_letter"), delivery.rule_arn
        log.warning(
            "sealed event %s of %s not opened (%s): %s",
            metadata.get("id"),
            bus,
            type(error).__name__,
            "dead-lettered" if dlq else "dropped",
        )
        if dlq is None:
            return None
        attributes = {
            "RULE_ARN": delivery.rule_arn,
            "TARGET_ARN": str(target.get("Arn")),
            "ERROR_CODE": "AccessDeniedException",
            "ERROR_MESSAGE": error.message[:256],
            "RETRY_ATTEMPTS": str(delivery.attempts - 1),
        }
        try:
            await self._sink.send(
                delivery.tenant_id,
                str(dlq),
                json.dumps(metadata, separators=(",", ":")),
                rule_arn=source,
                group_id=None,
                dedup_id=str(metadata.get("id", uuid.uuid4())),
                attributes=attributes,
            )
        except Exception as exc:  # the dead-letter queue is gone or refuses: nothing left
            log.info("dead letter of %s to %s dropped: %r", metadata.get("id"), dlq, exc)
            self._count(delivery.tenant_id, delivery.rule_arn, "InvocationsFailedToBeSentToDlq")
        else:
            self._count(delivery.tenant_id, delivery.rule_arn, "InvocationsSentToDlq")
        return None

    async def _dead_letter(
        self,
        delivery: QueuedDelivery,
        target: Target,
        event: dict[str, Any],
        code: str,
        message: str,
        attempts: int,
        condition: str,
    ) -> None:
        if self._on_result is not None:
            self._on_result(delivery.tenant_id, False)
        self._count(delivery.tenant_id, delivery.rule_arn, "Invocations", "FailedInvocations")
        dlq = target.dead_letter_arn
        if dlq is None:
            log.info("event %s to %s dropped: %s", event.get("id"), target.arn, code)
            return
        attributes = {
            "RULE_ARN": delivery.rule_arn,
            "TARGET_ARN": target.arn,
            "ERROR_CODE": code,
            "ERROR_MESSAGE": message[:256],
            "RETRY_ATTEMPTS": str(attempts),
        }
        if condition:
            attributes["EXHAUSTED_RETRY_CONDITION"] = condition
        try:
            await self._sink.send(
                delivery.tenant_id,
                dlq,
                json.dumps(event, separators=(",", ":")),
                rule_arn=delivery.rule_arn,
                group_id=None,
                dedup_id=str(event.get("id")),
                attributes=attributes,
            )
        except Exception as exc:  # the dead-letter queue is gone or refuses: nothing left
            log.info("dead letter of %s to %s dropped: %r", event.get("id"), dlq, exc)
            self._count(delivery.tenant_id, delivery.rule_arn, "InvocationsFailedToBeSentToDlq")
        else:
            self._count(delivery.tenant_id, delivery.rule_arn, "InvocationsSentToDlq")


def _of_bus(bus: EventBus, arn: str) -> bool:
    """Whether a rule's ARN is of a rule of ``bus``."""
    prefix = rule_arn(bus.region, bus.tenant_id, bus.name, "")
    if not arn.startswith(prefix):
        return False
    return bus.name != DEFAULT_BUS or "/" not in arn.removeprefix(prefix)
