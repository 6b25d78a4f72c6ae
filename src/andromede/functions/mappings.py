"""Lambda's event source mappings (decision 0295): the model of one mapping, the checks
CreateEventSourceMapping and UpdateEventSourceMapping make of their parameters as AWS does,
the ``MappingStore`` interface and its in-memory twin.

A mapping is one JSON definition (its parameters, state and last processing result)
written by compare-and-set on ``version``, with a lease (``lease_owner``, ``lease_until``):
of the gateways polling, one at a time reads a mapping's source. Its ``state`` moves as
AWS's does: ``Creating`` → ``Enabled`` (or ``Disabled``), ``Enabling``, ``Disabling`` →
``Disabled``, ``Updating``, ``Deleting`` → gone; the gateway holding the lease settles it.
A Kinesis or DynamoDB stream source (decision 0301) has its stream-only parameters checked by
``mapping_streams`` and its checkpoints, by shard, in the store beside it, with the shard's
open tumbling window (decision 0319: its start and its state, sealed) on the same row.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final, Protocol

from andromede.events.errors import EventsError
from andromede.events.pattern import compile_pattern
from andromede.functions.errors import InvalidParameterValue
from andromede.functions.mapping_streams import check_stream_parameters, stream_source_kind

__all__ = [
    "SETTLED",
    "EventSourceMapping",
    "MappingStore",
    "MemoryMappingStore",
    "ShardWindow",
    "check_mapping_parameters",
    "source_kind",
]

# What each transitional state settles to.
SETTLED: Final = {
    "Creating": None,  # Enabled or Disabled, by its Enabled
    "Enabling": "Enabled",
    "Updating": None,
    "Disabling": "Disabled",
}
_SQS_ARN: Final = re.compile(r"arn:aws:sqs:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):[\w-]{1,80}")
_MAX_FILTERS: Final = 5
_MAX_PATTERN: Final = 4096
_SQS_MAX_BATCH: Final = 10_000
_SQS_DEFAULT_BATCH: Final = 10
_MAX_WINDOW: Final = 300
# Options of the API model this Lambda does not serve: refused by name, never ignored.
_NOT_SERVED: Final = (
    "KMSKeyArn",
    "LoggingConfig",
    "Topics",
    "Queues",
    "SourceAccessConfigurations",
    "SelfManagedEventSource",
    "AmazonManagedKafkaEventSourceConfig",
    "SelfManagedKafkaEventSourceConfig",
    "DocumentDBEventSourceConfig",
    "ProvisionedPollerConfig",
)
# The stream-only options, refused on a queue as AWS refuses them.
_STREAM_ONLY: Final = (
    "StartingPosition",
    "StartingPositionTimestamp",
    "ParallelizationFactor",
    "BisectBatchOnFunctionError",
    "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds",
    "DestinationConfig",
    "TumblingWindowInSeconds",
)
_STREAM_DEFAULT_BATCH: Final = 100
# The metric groups MetricsConfig may turn on (decision 0323): the event counts.
_MAPPING_METRICS: Final = ("EventCount",)


@dataclass(frozen=True, slots=True)
class ShardWindow:
    """A shard's open tumbling window (decision 0319): its ``start`` (ms, aligned on the
    window's length) and the function's last returned state, sealed under the account's keys."""

    start: int
    sealed_state: bytes


@dataclass(frozen=True, slots=True)
class EventSourceMapping:
    uuid: str
    tenant_id: str
    function_name: str
    qualifier: str | None
    function_arn: str  # as AWS answers it: qualified when the mapping names a qualifier
    source_arn: str
    source_kind: str  # "sqs", "kinesis" or "dynamodb"
    state: str
    last_modified: int  # ms
    parameters: dict[str, Any] = field(default_factory=dict)  # BatchSize, FilterCriteria…
    enabled: bool = True
    state_reason: str = "USER_INITIATED"
    last_result: str = "No records processed"
    version: int = 1
    lease_owner: str = ""
    lease_until: int = 0
    created: int = 0  # ms; a stream mapping's LATEST reads what arrived since

    def replaced(self, **fields: object) -> EventSourceMapping:
        return replace(self, version=self.version + 1, **fields)  # type: ignore[arg-type]

    @property
    def batch_size(self) -> int:
        default = _SQS_DEFAULT_BATCH if self.source_kind == "sqs" else _STREAM_DEFAULT_BATCH
        return int(self.parameters.get("BatchSize", default))

    @property
    def window_seconds(self) -> int:
        return int(self.parameters.get("MaximumBatchingWindowInSeconds", 0))

    @property
    def tumbling_seconds(self) -> int:
        return int(self.parameters.get("TumblingWindowInSeconds", 0))

    @property
    def counts_events(self) -> bool:
        """Whether the mapping publishes its event counts (``MetricsConfig``, decision 0323)."""
        return "EventCount" in self.parameters.get("MetricsConfig", {}).get("Metrics", [])

    @property
    def reports_failures(self) -> bool:
        return "ReportBatchItemFailures" in self.parameters.get("FunctionResponseTypes", [])

    def definition(self) -> str:
        return json.dumps(
            {
                "function_name": self.function_name,
                "qualifier": self.qualifier,
                "function_arn": self.function_arn,
                "source_kind": self.source_kind,
                "state": self.state,
                "last_modified": self.last_modified,
                "parameters": self.parameters,
                "enabled": self.enabled,
                "state_reason": self.state_reason,
                "last_result": self.last_result,
                "created": self.created,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_definition(
        cls,
        uuid: str,
        tenant_id: str,
        source_arn: str,
        definition: str,
        version: int,
        lease_owner: str,
        lease_until: int,
    ) -> EventSourceMapping:
        kept = json.loads(definition)
        return cls(
            uuid=uuid,
            tenant_id=tenant_id,
            source_arn=source_arn,
            version=version,
            lease_owner=lease_owner,
            lease_until=lease_until,
            **kept,
        )


def source_kind(arn: object, region: str, tenant_id: str) -> str:
    """The kind of source ``arn`` names (the account's, in this Region), as AWS reads it."""
    if not isinstance(arn, str) or not arn:
        raise InvalidParameterValue("EventSourceArn is required")
    found = _SQS_ARN.fullmatch(arn)
    if found is not None:
        if found["region"] != region or found["account"] != tenant_id:
            raise InvalidParameterValue(
                "The event source must be a queue of the function's account and Region"
            )
        return "sqs"
    stream = stream_source_kind(arn, region, tenant_id)
    if stream is not None:
        return stream
    raise InvalidParameterValue(f"Unrecognized event source: {arn[:256]}")


def _whole(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidParameterValue(
            f"1 validation error detected: Value '{str(value)[:32]}' at '{name}' failed to "
            f"satisfy constraint: Member must have value between {low} and {high}"
        )
    return value


def _metrics_config(given: object) -> list[str]:
    metrics = given.get("Metrics", []) if isinstance(given, Mapping) else None
    if not isinstance(metrics, list) or any(m not in _MAPPING_METRICS for m in metrics):
        raise InvalidParameterValue(
            f"1 validation error detected: Value '{str(metrics)[:64]}' at "
            "'metricsConfig.metrics' failed to satisfy constraint: Member must satisfy "
            f"constraint: [Member must satisfy enum value set: [{', '.join(_MAPPING_METRICS)}]]"
        )
    return sorted(set(metrics))


def _filters(given: object) -> dict[str, Any]:
    if not isinstance(given, Mapping) or not isinstance(given.get("Filters", []), list):
        raise InvalidParameterValue("FilterCriteria must hold a list of Filters")
    filters = given.get("Filters", [])
    if len(filters) > _MAX_FILTERS:
        raise InvalidParameterValue(f"FilterCriteria may hold at most {_MAX_FILTERS} filters")
    kept = []
    for one in filters:
        pattern = one.get("Pattern") if isinstance(one, Mapping) else None
        if not isinstance(pattern, str):
            raise InvalidParameterValue("Each filter must have a Pattern")
        try:
            compile_pattern(pattern, max_length=_MAX_PATTERN)
        except EventsError as exc:
            raise InvalidParameterValue(f"Invalid filter pattern definition. {exc}") from None
        kept.append({"Pattern": pattern})
    return {"Filters": kept}


def check_mapping_parameters(
    given: Mapping[str, Any],
    kind: str,
    previous: Mapping[str, Any] | None = None,
    *,
    region: str = "",
    tenant_id: str = "",
) -> dict[str, Any]:
    """The mapping's parameters once checked as AWS checks them for a source of ``kind``
    (``previous``: the mapping's, which an update changes; ``region`` and ``tenant_id``:
    the mapping's, which a stream's on-failure destination must be of)."""
    for name in _NOT_SERVED:
        if given.get(name) is not None:
            raise InvalidParameterValue(f"{name} is not supported by this Lambda yet")
    if kind == "sqs":
        for name in _STREAM_ONLY:
            if given.get(name) is not None:
                raise InvalidParameterValue(f"Unsupported {name} parameter for given event source")
    kept = dict(previous or {})
    if given.get("BatchSize") is not None:
        kept["BatchSize"] = _whole("batchSize", given["BatchSize"], 1, _SQS_MAX_BATCH)
    kept.setdefault("BatchSize", _SQS_DEFAULT_BATCH if kind == "sqs" else _STREAM_DEFAULT_BATCH)
    if given.get("MaximumBatchingWindowInSeconds") is not None:
        kept["MaximumBatchingWindowInSeconds"] = _whole(
            "maximumBatchingWindowInSeconds",
            given["MaximumBatchingWindowInSeconds"],
            0,
            _MAX_WINDOW,
        )
    kept.setdefault("MaximumBatchingWindowInSeconds", 0)
    if (
        kind == "sqs"
        and kept["BatchSize"] > _SQS_DEFAULT_BATCH
        and kept["MaximumBatchingWindowInSeconds"] < 1
    ):
        raise InvalidParameterValue(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size "
            "is greater than 10"
        )
    if given.get("FilterCriteria") is not None:
        kept["FilterCriteria"] = _filters(given["FilterCriteria"])
        if not kept["FilterCriteria"]["Filters"]:  # an empty one removes them, as AWS
            del kept["FilterCriteria"]
    if given.get("MetricsConfig") is not None:  # decision 0323; no metric turns them off
        kept.pop("MetricsConfig", None)
        if metrics := _metrics_config(given["MetricsConfig"]):
            kept["MetricsConfig"] = {"Metrics": metrics}
    if given.get("FunctionResponseTypes") is not None:
        types = given["FunctionResponseTypes"]
        if not isinstance(types, list) or any(t != "ReportBatchItemFailures" for t in types):
            raise InvalidParameterValue(
                "FunctionResponseTypes may only hold ReportBatchItemFailures"
            )
        kept["FunctionResponseTypes"] = sorted(set(types))
    if kind != "sqs":
        return check_stream_parameters(
            given,
            kind,
            kept,
            creating=previous is None,
            region=region,
            tenant_id=tenant_id,
        )
    if given.get("ScalingConfig") is not None:
        scaling = given["ScalingConfig"]
        if not isinstance(scaling, Mapping):
            raise InvalidParameterValue("ScalingConfig must be an object")
        if scaling.get("MaximumConcurrency") is None:
            kept.pop("ScalingConfig", None)
        else:
            concurrency = _whole(
                "scalingConfig.maximumConcurrency", scaling["MaximumConcurrency"], 2, 1000
            )
            kept["ScalingConfig"] = {"MaximumConcurrency": concurrency}
    return kept


class MappingStore(Protocol):
    async def add(self, mapping: EventSourceMapping) -> None: ...

    async def get(self, tenant_id: str, uuid: str) -> EventSourceMapping | None: ...

    async def mappings(self, tenant_id: str) -> list[EventSourceMapping]:
        """The account's mappings, by UUID."""

    async def replace(self, mapping: EventSourceMapping) -> bool:
        """Write ``mapping`` if the stored one is still at ``mapping.version - 1``."""

    async def delete(self, tenant_id: str, uuid: str) -> bool: ...

    async def claim(
        self, owner: str, now: int, lease_until: int, limit: int
    ) -> list[EventSourceMapping]:
        """Up to ``limit`` mappings whose lease ran out or is ``owner``'s, now leased to
        ``owner`` until ``lease_until``: of two gateways claiming at once, each goes to one."""

    async def forget_tenant(self, tenant_id: str) -> int: ...

    async def checkpoints(self, uuid: str) -> dict[str, str]:
        """A stream mapping's checkpoints: the last sequence number done with, by shard."""

    async def save_checkpoint(
        self, uuid: str, owner: str, shard: str, sequence: str, window: ShardWindow | None = None
    ) -> bool:
        """Move a shard's checkpoint and set its open tumbling window (None: none open), only
        while ``owner`` holds the mapping's lease (a gateway that stalled past its lease
        never moves one another took over)."""

    async def windows(self, uuid: str) -> dict[str, ShardWindow]:
        """A stream mapping's open tumbling windows, by shard."""


class MemoryMappingStore:
    def __init__(self) -> None:
        self._items: dict[str, EventSourceMapping] = {}
        self._points: dict[str, dict[str, str]] = {}
        self._windows: dict[str, dict[str, ShardWindow]] = {}

    async def checkpoints(self, uuid: str) -> dict[str, str]:
        return dict(self._points.get(uuid, {}))

    async def windows(self, uuid: str) -> dict[str, ShardWindow]:
        return dict(self._windows.get(uuid, {}))

    async def save_checkpoint(
        self, uuid: str, owner: str, shard: str, sequence: str, window: ShardWindow | None = None
    ) -> bool:
        held = self._items.get(uuid)
        if held is None or held.lease_owner != owner:
            return False
        self._points.setdefault(uuid, {})[shard] = sequence
        if window is None:
            self._windows.get(uuid, {}).pop(shard, None)
        else:
            self._windows.setdefault(uuid, {})[shard] = window
        return True

    async def add(self, mapping: EventSourceMapping) -> None:
        self._items[mapping.uuid] = mapping

    async def get(self, tenant_id: str, uuid: str) -> EventSourceMapping | None:
        found = self._items.get(uuid)
        return found if found is not None and found.tenant_id == tenant_id else None

    async def mappings(self, tenant_id: str) -> list[EventSourceMapping]:
        return sorted(
            (m for m in self._items.values() if m.tenant_id == tenant_id), key=lambda m: m.uuid
        )

    async def replace(self, mapping: EventSourceMapping) -> bool:
        stored = self._items.get(mapping.uuid)
        if stored is None or stored.version != mapping.version - 1:
            return False
        self._items[mapping.uuid] = replace(
            mapping, lease_owner=stored.lease_owner, lease_until=stored.lease_until
        )
        return True

    async def delete(self, tenant_id: str, uuid: str) -> bool:
        if await self.get(tenant_id, uuid) is None:
            return False
        del self._items[uuid]
        self._points.pop(uuid, None)
        self._windows.pop(uuid, None)
        return True

    async def claim(
        self, owner: str, now: int, lease_until: int, limit: int
    ) -> list[EventSourceMapping]:
        free = sorted(
            (m for m in self._items.values() if m.lease_until <= now or m.lease_owner == owner),
            key=lambda m: m.uuid,
        )[:limit]
        claimed = [replace(m, lease_owner=owner, lease_until=lease_until) for m in free]
        for mapping in claimed:
            self._items[mapping.uuid] = mapping
        return claimed

    async def forget_tenant(self, tenant_id: str) -> int:
        gone = [k for k, v in self._items.items() if v.tenant_id == tenant_id]
        for key in gone:
            del self._items[key]
            self._points.pop(key, None)
            self._windows.pop(key, None)
        return len(gone)
