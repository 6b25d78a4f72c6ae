"""What becomes of a queued Event invocation (decision 0300), the runner of the Event
worker (``functions.event_queue``), as AWS's asynchronous invocation does:

- the configuration of the qualifier invoked (``$LATEST`` when none) gives the retries
  after a function error (``MaximumRetryAttempts``, default 2) and the events' maximum age
  (``MaximumEventAgeInSeconds``, default six hours);
- an event whose lineage has run the function its 16 times is not run (decision 0328): given
  up at once to the destination and dead-letter queue;
- a function error is tried again after ``RetryPolicy.first_delay_ms``, doubled at each
  retry (AWS: one minute, then two); a throttle or a host that cannot run it now is tried
  again with a growing delay (half the event's age, from a second up to
  ``throttle_max_delay_ms``), not counted against the retries, until the event is too old;
- then the invocation record AWS sends — ``version`` 1.0, ``timestamp``, ``requestContext``
  (``requestId``, ``functionArn``, ``condition`` ``Success``, ``RetriesExhausted`` or
  ``EventAgeExceeded``, ``approximateInvokeCount``), ``requestPayload``,
  ``responseContext`` (``statusCode``, ``executedVersion``, ``functionError``) and
  ``responsePayload`` — goes to the ``OnSuccess`` or ``OnFailure`` destination, and a failed
  event's payload to the function's dead-letter queue with AWS's ``RequestID``,
  ``ErrorCode`` and ``ErrorMessage`` attributes (both when both are set, as AWS), through a
  :class:`Destinations` (``function_destinations``: as the function's execution role).

A delivery refused or failed is logged (and audited by the destinations), never a crash
of the worker; the invocation is finished with either way, as AWS drops it. With the
invoker's metrics (decision 0323) the worker publishes ``AsyncEventAge`` as it takes an
event, ``AsyncEventsDropped`` as it gives one up, and ``DestinationDeliveryFailures`` and
``DeadLetterErrors`` for the deliveries that failed."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from andromede.functions.errors import (
    ExecutorUnavailable,
    RecursiveInvocation,
    ResourceNotFound,
    TooManyRequests,
)
from andromede.functions.event_queue import EventInvocation, TryAgain
from andromede.functions.invocation_metrics import qualifier_of
from andromede.functions.invoke_configs import EventInvokeConfig, InvokeConfigStore
from andromede.functions.invoker import Invocation, Invoker
from andromede.functions.model import LATEST, FunctionVersion
from andromede.functions.service import FunctionsService

__all__ = ["AsyncInvocations", "Destinations", "RetryPolicy", "invocation_record"]

log = logging.getLogger(__name__)

SUCCESS: Final = "Success"
RETRIES_EXHAUSTED: Final = "RetriesExhausted"
EVENT_AGE_EXCEEDED: Final = "EventAgeExceeded"
# An event stopped by recursive loop detection (decision 0328): AWS sends it to the
# destination or dead-letter queue; this condition's word is ours (AWS documents none).
RECURSIVE_LOOP: Final = "RecursiveInvocationDetected"
_MIN_THROTTLE_DELAY_MS: Final = 1000
_ERROR_MESSAGE_BYTES: Final = 1024  # AWS: the first kilobyte of the error message


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    first_delay_ms: int = 60_000
    throttle_max_delay_ms: int = 300_000


class Destinations(Protocol):
    async def deliver(
        self, version: FunctionVersion, destination: str, record: dict[str, Any]
    ) -> bool:
        """Send an invocation record to a destination as the function's execution role;
        whether it was delivered."""

    async def dead_letter(
        self, version: FunctionVersion, target: str, event: bytes, attributes: Mapping[str, str]
    ) -> bool:
        """Send a failed event to the function's dead-letter queue or topic as its role;
        whether it was delivered."""


def _json_or_text(data: bytes | None) -> Any:
    if data is None:
        return None
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return data.decode("utf-8", "replace")


def invocation_record(
    request_id: str,
    function_arn: str,
    condition: str,
    invoke_count: int,
    event: bytes,
    done: Invocation | None,
    now_ms: int,
) -> dict[str, Any]:
    """AWS's asynchronous invocation record; without ``done`` (an event too old to have run)
    it has no response."""
    moment = datetime.fromtimestamp(now_ms / 1000, UTC)
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z",
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
        "requestPayload": _json_or_text(event),
    }
    if done is not None:
        response: dict[str, Any] = {"statusCode": 200, "executedVersion": done.version}
        if not done.ok:
            response["functionError"] = "Unhandled"
        record["responseContext"] = response
        record["responsePayload"] = _json_or_text(done.payload or None)
    return record


def _qualifier(arn: str) -> str:
    """The qualifier an invocation named (``$LATEST`` when its ARN has none)."""
    parts = arn.split(":")
    return parts[7] if len(parts) > 7 and parts[7] else LATEST


def _error_message(done: Invocation | None, condition: str) -> str:
    if done is None:
        return condition
    found = _json_or_text(done.payload)
    message = found.get("errorMessage") if isinstance(found, dict) else None
    text = str(message) if message is not None else condition
    return text.encode()[:_ERROR_MESSAGE_BYTES].decode("utf-8", "ignore") or condition


class AsyncInvocations:
    def __init__(
        self,
        functions: FunctionsService,
        invoker: Invoker,
        configs: InvokeConfigStore,
        destinations: Destinations | None = None,
        policy: RetryPolicy | None = None,
        clock: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self._functions = functions
        self._invoker = invoker
        self._configs = configs
        self.destinations = destinations
        self._policy = policy or RetryPolicy()
        self._clock = clock

    async def __call__(self, item: EventInvocation) -> TryAgain | None:
        now = self._clock()
        qualifier = _qualifier(item.arn)
        config = await self._configs.get(item.tenant_id, item.name, qualifier) or EventInvokeConfig(
            item.tenant_id, item.name, qualifier
        )
        try:
            record, version = await self._functions.resolve(item.tenant_id, item.name, item.version)
        except ResourceNotFound:
            log.warning(
                "Lambda: event invocation %s of %s: function gone, dropped", item.id, item.arn
            )
            return None
        event = await self._invoker.queued_event(item)
        metrics = self._invoker.metrics
        if metrics is not None:
            metrics.async_age(item.tenant_id, item.name, qualifier_of(item.arn), now - item.created)
        if now - item.created > config.max_age_ms:
            await self._finish(item, config, version, event, EVENT_AGE_EXCEEDED, None)
            return None
        try:
            await self._invoker.refresh_reserves(item.tenant_id)
            done = await self._invoker.invoke(record, version, event, item.arn, trace=item.trace)
        except RecursiveInvocation:
            await self._finish(item, config, version, event, RECURSIVE_LOOP, None)
            return None
        except (TooManyRequests, ExecutorUnavailable) as exc:
            delay = min(
                self._policy.throttle_max_delay_ms,
                max(_MIN_THROTTLE_DELAY_MS, (now - item.created) // 2),
            )
            log.info("Lambda: event invocation %s of %s: %s, tried again", item.id, item.arn,
                     type(exc).__name__)  # fmt: skip
            return TryAgain(now + delay, counted=False)
        if done.ok:
            await self._finish(item, config, version, event, SUCCESS, done)
            return None
        if item.attempts >= config.retries:
            await self._finish(item, config, version, event, RETRIES_EXHAUSTED, done)
            return None
        return TryAgain(self._clock() + self._policy.first_delay_ms * 2**item.attempts)

    async def _finish(
        self,
        item: EventInvocation,
        config: EventInvokeConfig,
        version: FunctionVersion,
        event: bytes,
        condition: str,
        done: Invocation | None,
    ) -> None:
        failed = condition != SUCCESS
        destination = config.on_failure if failed else config.on_success
        invoke_count = item.attempts + (0 if done is None else 1)
        metrics = self._invoker.metrics
        qualifier = qualifier_of(item.arn)
        if failed and metrics is not None:
            metrics.async_dropped(item.tenant_id, item.name, qualifier)
        if failed and not destination and not version.dead_letter_target:
            log.warning(
                "Lambda: event invocation %s of %s: %s after %d runs, dropped",
                item.id, item.arn, condition, invoke_count,
            )  # fmt: skip
        if self.destinations is None:
            return
        if destination:
            arn = self._functions.arn(item.tenant_id, item.name, config.qualifier)
            shaped = invocation_record(
                item.id, arn, condition, invoke_count, event, done, self._clock()
            )
            sent = await self._safely(self.destinations.deliver(version, destination, shaped), item)
            if not sent and metrics is not None:
                metrics.delivery_failed(item.tenant_id, item.name, qualifier)
        if failed and version.dead_letter_target:
            attributes = {
                "RequestID": item.id,
                "ErrorCode": "200",
                "ErrorMessage": _error_message(done, condition),
            }
            sent = await self._safely(
                self.destinations.dead_letter(
                    version, version.dead_letter_target, event, attributes
                ),
                item,
            )
            if not sent and metrics is not None:
                metrics.dead_letter_failed(item.tenant_id, item.name, qualifier)

    async def _safely(self, sending: Awaitable[bool], item: EventInvocation) -> bool:
        try:
            return await sending
        except Exception:  # a destination's fault must not stop the worker
            log.exception("Lambda: event invocation %s of %s: delivery failed", item.id, item.arn)
            return False
