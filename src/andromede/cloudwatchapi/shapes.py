"""The input shapes of the CloudWatch operations served, and their reading from any protocol
(decision 0172).

A shape is data: a scalar kind (``"string"``, ``"integer"``, ``"double"``, ``"boolean"``,
``"timestamp"``), ``[member]`` for a list, ``{name: shape}`` for a structure — the members
of AWS's service model that Andromède reads. :func:`coerce` checks a decoded JSON or CBOR
document against it (a wrong type is a ``SerializationException``, as AWS answers it);
:func:`from_query` first rebuilds the Query protocol's flattened parameters
(``MetricData.member.1.Dimensions.member.2.Name``) into that document, its scalars then read
from text (a bad number is an ``InvalidParameterValue``). Members the shape does not name
are ignored, as AWS ignores them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from andromede.cloudwatchapi.alarm_shapes import ALARM_INPUTS
from andromede.cloudwatchapi.anomaly_operations import ANOMALY_INPUTS
from andromede.cloudwatchapi.dashboards import DASHBOARD_INPUTS
from andromede.cloudwatchapi.errors import CloudWatchError
from andromede.cloudwatchapi.insight_operations import INSIGHT_INPUTS
from andromede.cloudwatchapi.metric_streams import STREAM_INPUTS

__all__ = ["INPUTS", "coerce", "from_query"]

_DIMENSION: Final = {"Name": "string", "Value": "string"}
_DIMENSIONS: Final = [_DIMENSION]
_METRIC: Final = {"Namespace": "string", "MetricName": "string", "Dimensions": _DIMENSIONS}
_DATUM: Final = {
    "MetricName": "string",
    "Dimensions": _DIMENSIONS,
    "Timestamp": "timestamp",
    "Value": "double",
    "StatisticValues": {
        "SampleCount": "double",
        "Sum": "double",
        "Minimum": "double",
        "Maximum": "double",
    },
    "Values": ["double"],
    "Counts": ["double"],
    "Unit": "string",
    "StorageResolution": "integer",
}
_QUERY: Final = {
    "Id": "string",
    "MetricStat": {
        "Metric": _METRIC,
        "Period": "integer",
        "Stat": "string",
        "Unit": "string",
    },
    "Expression": "string",
    "Label": "string",
    "ReturnData": "boolean",
    "Period": "integer",
    "AccountId": "string",
}
INPUTS: Final[dict[str, dict[str, Any]]] = {
    "PutMetricData": {
        "Namespace": "string",
        "MetricData": [_DATUM],
        "EntityMetricData": [{"MetricData": [_DATUM]}],
    },
    "GetMetricStatistics": {
        "Namespace": "string",
        "MetricName": "string",
        "Dimensions": _DIMENSIONS,
        "StartTime": "timestamp",
        "EndTime": "timestamp",
        "Period": "integer",
        "Statistics": ["string"],
        "ExtendedStatistics": ["string"],
        "Unit": "string",
    },
    "GetMetricData": {
        "MetricDataQueries": [_QUERY],
        "StartTime": "timestamp",
        "EndTime": "timestamp",
        "NextToken": "string",
        "ScanBy": "string",
        "MaxDatapoints": "integer",
        "LabelOptions": {"Timezone": "string"},
    },
    "ListMetrics": {
        "Namespace": "string",
        "MetricName": "string",
        "Dimensions": _DIMENSIONS,
        "NextToken": "string",
        "RecentlyActive": "string",
        "IncludeLinkedAccounts": "boolean",
        "OwningAccount": "string",
    },
    **ALARM_INPUTS,  # decision 0177
    **DASHBOARD_INPUTS,  # decision 0185
    **ANOMALY_INPUTS,  # decision 0189
    **STREAM_INPUTS,  # decision 0233
    **INSIGHT_INPUTS,  # decision 0272
}
_LARGEST_INT: Final = 2**31 - 1


def _wrong(path: str, kind: str, textual: bool) -> CloudWatchError:
    if textual:
        return CloudWatchError(
            "InvalidParameterValue", f"The value for parameter {path[:256]} is not a valid {kind}."
        )
    return CloudWatchError("SerializationException", f"{path[:256]} must be a {kind}.")


def _scalar(value: Any, kind: str, path: str, textual: bool) -> Any:
    if kind == "string":
        if not isinstance(value, str):
            raise _wrong(path, kind, textual)
        return value
    if kind == "boolean":
        if textual and isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise _wrong(path, kind, textual)
        return value
    if kind == "integer":
        if textual and isinstance(value, str):
            try:
                value = int(value)
            except ValueError as exc:
                raise _wrong(path, kind, textual) from exc
        if isinstance(value, bool) or not isinstance(value, int):
            raise _wrong(path, kind, textual)
        if abs(value) > _LARGEST_INT:
            raise _wrong(path, kind, textual)
        return value
    if kind == "double":
        if textual and isinstance(value, str):
            try:
                value = float(value)
            except ValueError as exc:
                raise _wrong(path, "number", textual) from exc
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _wrong(path, "number", textual)
        try:
            return float(value)
        except OverflowError as exc:  # an integer beyond any double
            raise _wrong(path, "number", textual) from exc
    return _timestamp(value, path, textual)


def _timestamp(value: Any, path: str, textual: bool) -> datetime:
    """A datetime from CBOR's tag 1 (cbor2 gives a datetime), JSON's epoch seconds, or the
    Query protocol's ISO 8601 text (epoch seconds accepted too, as AWS does)."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, str) and textual:
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except (ValueError, OverflowError, OSError):
            pass
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise _wrong(path, "timestamp", textual) from exc
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            if math.isfinite(value):
                return datetime.fromtimestamp(value, UTC)
        except (ValueError, OverflowError, OSError) as exc:
            raise _wrong(path, "timestamp", textual) from exc
    raise _wrong(path, "timestamp", textual)


def coerce(value: Any, shape: Any, path: str = "", *, textual: bool = False) -> Any:
    """``value`` checked against ``shape`` and typed: datetimes for timestamps, floats for
    doubles; None members dropped."""
    if isinstance(shape, list):
        if not isinstance(value, list):
            raise _wrong(path, "list", textual)
        return [
            coerce(item, shape[0], f"{path}.member.{i + 1}", textual=textual)
            for i, item in enumerate(value)
        ]
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            raise _wrong(path or "The body", "structure", textual)
        return {
            name: coerce(value[name], member, f"{path}.{name}" if path else name, textual=textual)
            for name, member in shape.items()
            if value.get(name) is not None
        }
    return _scalar(value, shape, path, textual)


def from_query(params: Mapping[str, str], shape: dict[str, Any]) -> dict[str, Any]:
    """The Query protocol's flattened parameters as the document :func:`coerce` reads."""
    tree: dict[str, Any] = {}
    for key, value in params.items():
        if key in ("Action", "Version"):
            continue
        node = tree
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise CloudWatchError("InvalidParameterValue", f"{key[:256]} is not valid.")
            node = child
        if isinstance(node.get(parts[-1]), dict):
            raise CloudWatchError("InvalidParameterValue", f"{key[:256]} is not valid.")
        node[parts[-1]] = value
    return coerce(_unflatten(tree, shape, ""), shape, textual=True)  # type: ignore[no-any-return]


def _unflatten(node: Any, shape: Any, path: str) -> Any:
    if isinstance(shape, list):
        if node == "":
            return []  # botocore sends an empty list as "Name="
        members = node.get("member") if isinstance(node, dict) else None
        if not isinstance(members, dict):
            raise CloudWatchError("InvalidParameterValue", f"{path[:256]} must be a list.")
        try:
            ordered = sorted(members.items(), key=lambda item: int(item[0]))
        except ValueError as exc:
            raise CloudWatchError(
                "InvalidParameterValue", f"{path[:256]}.member must be numbered."
            ) from exc
        return [_unflatten(item, shape[0], f"{path}.member.{i}") for i, item in ordered]
    if isinstance(shape, dict):
        if not isinstance(node, dict):
            raise CloudWatchError("InvalidParameterValue", f"{path[:256]} must be a structure.")
        return {
            name: _unflatten(node[name], member, f"{path}.{name}" if path else name)
            for name, member in shape.items()
            if name in node
        }
    if isinstance(node, dict):
        raise CloudWatchError("InvalidParameterValue", f"{path[:256]} must be a value.")
    return node
