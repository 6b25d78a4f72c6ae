"""Amazon DynamoDB's ``AWS/DynamoDB`` metrics (decision 0254) into the platform's metrics sink
(decision 0172), as AWS publishes them: one point a minute, the calls of the minute merged in
memory by the sink (a sum, a count, a minimum and a maximum per metric and dimensions) and
written at its flush, so a busy table costs one row a metric a minute, not one a call.

- ``ConsumedReadCapacityUnits`` / ``ConsumedWriteCapacityUnits`` (``TableName``; with
  ``GlobalSecondaryIndexName`` for what a global index consumed; a local index's count with
  its table's): the units each item call consumed (decision 0247's tally, what the bill
  counts).
- ``SuccessfulRequestLatency`` (``TableName``, ``Operation``), milliseconds, of each item call
  answered without error; ``ReturnedItemCount`` (``TableName``, ``Operation``) of each Query,
  Scan and ExecuteStatement.
- ``UserErrors`` (no dimension: the account's, in the Region): each call answered HTTP 400
  but for a failed condition, a throttled call or a transaction conflict, which have their own
  metrics: ``ConditionalCheckFailedRequests`` (``TableName``), ``ThrottledRequests``
  (``TableName``, ``Operation``: a call refused for want of capacity, decision 0267, or a
  write contended past its retries; a batch only when all of it was throttled, as on AWS) and
  ``TransactionConflict`` (``TableName``).
- ``ReadThrottleEvents`` / ``WriteThrottleEvents`` (``TableName``; with
  ``GlobalSecondaryIndexName`` for a global index's capacity): each refusal for want of
  capacity (decision 0267), a batch's item by item.
- ``TimeToLiveDeletedItemCount`` (``TableName``): items the time-to-live upkeep deleted.

As on AWS, a metric with nothing to count in a minute has no point (no zeros written).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from andromede.dynamodbapi.capacity import MEASURED
from andromede.dynamodbapi.observed import FinishedCall
from andromede.metrics.sink import MetricsSink

__all__ = ["NAMESPACE", "DynamoMetrics"]

NAMESPACE: Final = "AWS/DynamoDB"
_THROTTLED: Final = frozenset(
    {"ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded"}
)
_CONFLICT: Final = "TransactionConflictException"
_CONDITION: Final = "ConditionalCheckFailedException"


class DynamoMetrics:
    """The API's ``CallObserver`` and the time-to-live upkeep's count, into the sink."""

    def __init__(self, sink: MetricsSink) -> None:
        self._sink = sink

    def _record(
        self, tenant_id: str, name: str, dims: list[tuple[str, str]], value: float, unit: str
    ) -> None:
        self._sink.record(tenant_id, NAMESPACE, name, dims, value, unit)

    def finished(self, call: FinishedCall) -> None:
        tenant = call.tenant_id
        if call.tally is not None:
            for table, units in call.tally.tables.items():
                read, write = units.read, units.write
                for index, (local, used) in call.tally.indexes.get(table, {}).items():
                    if local:
                        read, write = read + used.read, write + used.write
                        continue
                    dims = [("TableName", table), ("GlobalSecondaryIndexName", index)]
                    self._consumed(tenant, dims, used.read, used.write)
                self._consumed(tenant, [("TableName", table)], read, write)
            for throttled, index_name, write_event in call.tally.throttle_events:  # 0267
                dims = [("TableName", throttled)]
                if index_name is not None:
                    dims.append(("GlobalSecondaryIndexName", index_name))
                event = "WriteThrottleEvents" if write_event else "ReadThrottleEvents"
                self._record(tenant, event, dims, 1, "Count")
            for throttled, index_name, write_event in call.tally.key_range_events:  # 0291
                dims = [("TableName", throttled)]
                if index_name is not None:
                    dims.append(("GlobalSecondaryIndexName", index_name))
                event = f"{'Write' if write_event else 'Read'}KeyRangeThroughputThrottleEvents"
                self._record(tenant, event, dims, 1, "Count")
        error = call.error_type
        if error is None:
            if call.action not in MEASURED:
                return
            for table in call.tables:
                dims = [("TableName", table), ("Operation", call.action)]
                self._record(tenant, "SuccessfulRequestLatency", dims, call.seconds * 1000,
                             "Milliseconds")  # fmt: skip
                if call.returned is not None:
                    self._record(tenant, "ReturnedItemCount", dims, call.returned, "Count")
            return
        if error == _CONDITION:
            for table in call.tables:
                self._record(tenant, "ConditionalCheckFailedRequests", [("TableName", table)],
                             1, "Count")  # fmt: skip
        elif error == _CONFLICT:
            for table in call.tables:
                self._record(tenant, "TransactionConflict", [("TableName", table)], 1, "Count")
        elif error in _THROTTLED:
            for table in call.tables:
                dims = [("TableName", table), ("Operation", call.action)]
                self._record(tenant, "ThrottledRequests", dims, 1, "Count")
        elif call.status == 400:
            self._record(tenant, "UserErrors", [], 1, "Count")

    def _consumed(
        self, tenant_id: str, dims: list[tuple[str, str]], read: float, write: float
    ) -> None:
        if read:
            self._record(tenant_id, "ConsumedReadCapacityUnits", dims, read, "Count")
        if write:
            self._record(tenant_id, "ConsumedWriteCapacityUnits", dims, write, "Count")

    def expired(self, counts: Mapping[tuple[str, str], int]) -> None:
        for (tenant_id, table), count in counts.items():
            self._record(tenant_id, "TimeToLiveDeletedItemCount", [("TableName", table)],
                         count, "Count")  # fmt: skip
