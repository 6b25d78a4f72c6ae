"""What EventBridge's deliveries send through (decisions 0192, 0238, 0273, 0277, 0293): the
sinks of each kind of target — queues and topics, API destinations, Kinesis and Firehose
streams, event buses, log groups, functions — as :class:`~.dispatcher.Deliveries` calls
them, the two failures a sink may name (:class:`DeliveryRefused`, for good;
:class:`DeliveryDeferred`, worth another try) and the metrics' callbacks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from andromede.events.errors import EventsError
from andromede.events.model import Target

__all__ = [
    "AccountMetric",
    "ApiSink",
    "BusSink",
    "DeliveryDeferred",
    "DeliveryRefused",
    "FunctionSink",
    "LogSink",
    "RuleMetric",
    "StreamSink",
    "TargetSink",
]


class DeliveryRefused(EventsError):
    """A delivery that no retry can make succeed; ``code`` is the error AWS would report."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


class DeliveryDeferred(EventsError):
    """A failure worth another try; ``code``: the error AWS reports once the retries are
    spent (``THROTTLING``…)."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


# Decision 0273: (tenant, rule ARN, metric name) of each delivery's outcome — AWS/Events'
# ``Invocations``, ``FailedInvocations``, ``InvocationsSentToDlq``,
# ``InvocationsFailedToBeSentToDlq`` — for the platform's metrics.
RuleMetric = Callable[[str, str, str], None]
# Decision 0332: (tenant, metric name, value, unit, bus or None) of AWS/Events' metrics
# without a rule (``IngestionToInvocationStartLatency``).
AccountMetric = Callable[[str, str, float, str, str | None], None]


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
        role_arn: str | None = None,
        trace: str | None = None,
    ) -> None:
        """Send ``message`` to the queue or topic ``arn``; DeliveryRefused when it can never
        be, any other exception for a failure worth another try. ``role_arn``: the target's
        execution role, as which a queue or topic of another account is written (decision
        0273); ``trace``: the event's trace header, the message's ``AWSTraceHeader`` or the
        publish's (decision 0351)."""
        ...


class ApiSink(Protocol):
    async def send(
        self,
        tenant_id: str,
        target: Target,
        message: str,
        *,
        source_arn: str | None = None,
        trace: str | None = None,
    ) -> None:
        """Invoke the API destination ``target`` names (decision 0200), its role taken for
        ``source_arn`` (the rule, decision 0321), ``trace`` its ``X-Amzn-Trace-Id`` (decision
        0351); DeliveryRefused when no retry can succeed, any other exception for a failure
        worth another."""
        ...


class StreamSink(Protocol):
    async def send(
        self, tenant_id: str, target: Target, message: str, event: dict[str, Any], rule_arn: str
    ) -> None:
        """Put ``message`` as one record into the Kinesis or Firehose stream ``target`` names,
        as its role taken for the rule ``rule_arn`` (its trust policy's ``aws:SourceArn``,
        decision 0321; decision 0238; a Kinesis record's partition key read from ``event``);
        DeliveryRefused when no retry can succeed, DeliveryDeferred (or any other exception)
        for a failure worth another."""
        ...


class BusSink(Protocol):
    async def send(
        self,
        tenant_id: str,
        target: Target,
        event: dict[str, Any],
        *,
        rule_arn: str,
        trace: str | None = None,
    ) -> None:
        """Put ``event``, as it is, onto the event bus ``target`` names (decision 0273), as
        the target's role when it has one, for the rule ``rule_arn`` (the receiving bus's
        ``aws:SourceArn``), its trace header ``trace`` going on to the receiving bus's targets
        (decision 0360); DeliveryRefused when no retry can succeed, DeliveryDeferred (or any
        other exception) for a failure worth another."""
        ...


class LogSink(Protocol):
    async def send(
        self, tenant_id: str, target: Target, message: str, event: dict[str, Any], rule_arn: str
    ) -> None:
        """Write ``message`` as one log event into the log group ``target`` names, as
        EventBridge by the group's resource policy (decision 0277); errors as StreamSink's."""
        ...


class FunctionSink(Protocol):
    async def send(
        self, tenant_id: str, target: Target, message: str, rule_arn: str, trace: str | None
    ) -> None:
        """Invoke the function ``target`` names with ``message`` asynchronously, as
        EventBridge by the function's resource-based policy (decision 0293), with the event's
        trace header (its lineage, decision 0351); errors as StreamSink's."""
        ...
