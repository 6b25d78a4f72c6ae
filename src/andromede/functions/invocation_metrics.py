"""Lambda's ``AWS/Lambda`` CloudWatch metrics (decision 0323): which metric each outcome of
an invocation publishes, with which dimensions, into the function's account.

AWS publishes an invocation's metrics under several dimension sets at once, and so does
:class:`FunctionMetrics`: none (across all the account's functions in the Region),
``FunctionName``, ``FunctionName`` + ``Resource`` (``name:qualifier``) when a version or an
alias was invoked, and ``FunctionName`` + ``Resource`` + ``ExecutedVersion`` when an alias
was (the version its weights chose). The metrics are binary indicators as AWS's are:
``Invocations`` 1 and ``Errors`` 0 or 1 for every run, so ``Sum`` counts them and
``Average`` gives the error rate.

The points go to a :class:`MetricRecorder` the wiring fills with the platform's metrics
sink, whose ``record`` only merges in memory (bounded; a full buffer drops the point and
counts it in the flush's log line): a metric never delays nor fails an invocation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final, Protocol

from andromede.functions.model import LATEST

__all__ = ["NAMESPACE", "FunctionMetrics", "MetricRecorder"]

NAMESPACE: Final = "AWS/Lambda"
_COUNT: Final = "Count"
_MS: Final = "Milliseconds"

Dimensions = tuple[tuple[str, str], ...]


class MetricRecorder(Protocol):
    def record(
        self,
        tenant_id: str,
        namespace: str,
        name: str,
        dimensions: Sequence[tuple[str, str]],
        value: float,
        unit: str = "None",
    ) -> None:
        """One value of a platform metric for the account it describes, now."""
        ...


def qualifier_of(arn: str) -> str | None:
    """The qualifier an invocation's ARN names, None for the unqualified function."""
    parts = arn.split(":")
    return parts[7] if len(parts) > 7 and parts[7] else None


def dimension_sets(name: str, qualifier: str | None, executed: str | None) -> list[Dimensions]:
    """The dimension sets an invocation of ``name`` (``qualifier`` invoked, ``executed`` the
    version that ran) is published under."""
    function = ("FunctionName", name)
    found: list[Dimensions] = [(), (function,)]
    if qualifier is None:
        return found
    resource = ("Resource", f"{name}:{qualifier}")
    found.append((function, resource))
    if executed is not None and _is_alias(qualifier):
        found.append((function, resource, ("ExecutedVersion", executed)))
    return found


def _is_alias(qualifier: str) -> bool:
    return qualifier != LATEST and not qualifier.isdigit()


class FunctionMetrics:
    """The ``AWS/Lambda`` metrics of one deployment's functions, recorded into ``recorder``."""

    def __init__(self, recorder: MetricRecorder) -> None:
        self._recorder = recorder

    def _each(
        self,
        tenant_id: str,
        sets: Sequence[Dimensions],
        name: str,
        value: float,
        unit: str = _COUNT,
    ) -> None:
        for dimensions in sets:
            self._recorder.record(tenant_id, NAMESPACE, name, dimensions, value, unit)

    def invoked(
        self,
        tenant_id: str,
        function: str,
        qualifier: str | None,
        executed: str,
        *,
        ok: bool,
        duration_ms: float,
    ) -> None:
        """A run of the function's code, successful or a function error (a timeout too)."""
        sets = dimension_sets(function, qualifier, executed)
        self._each(tenant_id, sets, "Invocations", 1.0)
        self._each(tenant_id, sets, "Errors", 0.0 if ok else 1.0)
        self._each(tenant_id, sets, "Duration", duration_ms, _MS)

    def throttled(self, tenant_id: str, function: str, qualifier: str | None) -> None:
        """An invocation refused for want of concurrency (not an ``Invocations`` point)."""
        self._each(tenant_id, dimension_sets(function, qualifier, None), "Throttles", 1.0)

    def concurrency(
        self,
        tenant_id: str,
        function: str,
        *,
        function_running: int,
        account_running: int,
        unreserved_running: int,
        claimed: int,
        qualifier: str | None = None,
        qualifier_running: int = 0,
    ) -> None:
        """The executions running as one more starts, read with ``Maximum``: the function's
        ``ConcurrentExecutions``, the ``qualifier``'s (a version or alias invoked: its
        ``Resource``, decision 0337) and the account's, the account's
        ``UnreservedConcurrentExecutions`` and ``ClaimedAccountConcurrency``."""
        record = self._recorder.record
        name = "ConcurrentExecutions"
        named = ("FunctionName", function)
        record(tenant_id, NAMESPACE, name, (named,), function_running, _COUNT)
        if qualifier is not None:
            resource = ("Resource", f"{function}:{qualifier}")
            record(tenant_id, NAMESPACE, name, (named, resource), qualifier_running, _COUNT)
        record(tenant_id, NAMESPACE, name, (), account_running, _COUNT)
        record(
            tenant_id, NAMESPACE, "UnreservedConcurrentExecutions", (), unreserved_running, _COUNT
        )
        record(tenant_id, NAMESPACE, "ClaimedAccountConcurrency", (), claimed, _COUNT)

    def provisioned(
        self, tenant_id: str, function: str, qualifier: str, *, taken: bool, busy: int, live: int
    ) -> None:
        """An invocation of a qualifier with provisioned concurrency: ``taken`` whether it ran
        in one of its initialised sandboxes (else it spilled over to on-demand ones), ``busy``
        of its ``live`` sandboxes running now."""
        sets = dimension_sets(function, qualifier, None)[1:]
        if taken:
            self._each(tenant_id, sets, "ProvisionedConcurrencyInvocations", 1.0)
        else:
            self._each(tenant_id, sets, "ProvisionedConcurrencySpilloverInvocations", 1.0)
        configured = sets[1:]  # the qualifier's own, as its configuration is
        self._each(tenant_id, configured, "ProvisionedConcurrentExecutions", float(busy))
        if live:
            utilization = busy / live
            self._each(
                tenant_id, configured, "ProvisionedConcurrencyUtilization", utilization, "None"
            )

    def recursion_dropped(self, tenant_id: str, function: str) -> None:
        """An invocation stopped by recursive loop detection (decision 0328): AWS publishes
        ``RecursiveInvocationsDropped`` under the function's name."""
        self._each(
            tenant_id, dimension_sets(function, None, None), "RecursiveInvocationsDropped", 1.0
        )

    def async_received(self, tenant_id: str, function: str, qualifier: str | None) -> None:
        """An Event invocation queued."""
        self._each(tenant_id, dimension_sets(function, qualifier, None), "AsyncEventsReceived", 1.0)

    def async_age(
        self, tenant_id: str, function: str, qualifier: str | None, age_ms: float
    ) -> None:
        """An Event invocation taken from the queue to run, ``age_ms`` after it was queued."""
        sets = dimension_sets(function, qualifier, None)
        self._each(tenant_id, sets, "AsyncEventAge", max(0.0, age_ms), _MS)

    def async_dropped(self, tenant_id: str, function: str, qualifier: str | None) -> None:
        """An Event invocation given up without a successful run (sent to a failure
        destination or a dead-letter queue first, if any)."""
        self._each(tenant_id, dimension_sets(function, qualifier, None), "AsyncEventsDropped", 1.0)

    def delivery_failed(self, tenant_id: str, function: str, qualifier: str | None) -> None:
        """A destination's invocation record not delivered."""
        sets = dimension_sets(function, qualifier, None)
        self._each(tenant_id, sets, "DestinationDeliveryFailures", 1.0)

    def dead_letter_failed(self, tenant_id: str, function: str, qualifier: str | None) -> None:
        """A failed event not sent to the function's dead-letter queue or topic."""
        self._each(tenant_id, dimension_sets(function, qualifier, None), "DeadLetterErrors", 1.0)

    def iterator_age(
        self, tenant_id: str, function: str, qualifier: str | None, age_ms: float
    ) -> None:
        """The age of the last record of a batch a stream mapping (Kinesis, DynamoDB) read."""
        sets = dimension_sets(function, qualifier, None)
        self._each(tenant_id, sets, "IteratorAge", max(0.0, age_ms), _MS)

    def mapping_events(self, tenant_id: str, uuid: str, counts: Mapping[str, int]) -> None:
        """An event source mapping's event counts of one batch (``PolledEventCount``,
        ``FilteredOutEventCount``, ``InvokedEventCount``, ``FailedInvokeEventCount``,
        ``DeletedEventCount``), published when its ``MetricsConfig`` asks for
        ``EventCount``, under its ``EventSourceMappingUUID`` as AWS publishes them."""
        dimensions = (("EventSourceMappingUUID", uuid),)
        for name, count in counts.items():
            self._recorder.record(tenant_id, NAMESPACE, name, dimensions, float(count), _COUNT)
