"""CloudWatch's anomaly detector operations (decision 0189): PutAnomalyDetector,
DescribeAnomalyDetectors and DeleteAnomalyDetector, their input shapes (the members of AWS's
model read) and the calls audited. A detector is named as AWS names it: a
``SingleMetricAnomalyDetector`` (or the legacy top-level Namespace, MetricName, Dimensions
and Stat), or a ``MetricMathAnomalyDetector``'s queries."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from andromede.cloudwatchapi.call import MetricsCall
from andromede.cloudwatchapi.errors import CloudWatchError
from andromede.cloudwatchapi.queries import data_query, dimensions
from andromede.metrics.alarms import query_document
from andromede.metrics.anomaly import AnomalyService
from andromede.metrics.anomaly_model import Detector
from andromede.metrics.errors import ResourceNotFound

__all__ = ["ANOMALY_ACTIONS", "ANOMALY_AUDITED", "ANOMALY_INPUTS"]

_DIMENSIONS: Final = [{"Name": "string", "Value": "string"}]
_QUERY: Final = {
    "Id": "string",
    "MetricStat": {
        "Metric": {"Namespace": "string", "MetricName": "string", "Dimensions": _DIMENSIONS},
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
_SINGLE: Final = {
    "AccountId": "string",
    "Namespace": "string",
    "MetricName": "string",
    "Dimensions": _DIMENSIONS,
    "Stat": "string",
}
_NAMING: Final = {
    "Namespace": "string",
    "MetricName": "string",
    "Dimensions": _DIMENSIONS,
    "Stat": "string",
    "SingleMetricAnomalyDetector": _SINGLE,
    "MetricMathAnomalyDetector": {"MetricDataQueries": [_QUERY]},
}
ANOMALY_INPUTS: Final[dict[str, dict[str, Any]]] = {
    "PutAnomalyDetector": {
        **_NAMING,
        "Configuration": {
            "ExcludedTimeRanges": [{"StartTime": "timestamp", "EndTime": "timestamp"}],
            "MetricTimezone": "string",
        },
        "MetricCharacteristics": {"PeriodicSpikes": "boolean"},
    },
    "DeleteAnomalyDetector": _NAMING,
    "DescribeAnomalyDetectors": {
        "NextToken": "string",
        "MaxResults": "integer",
        "Namespace": "string",
        "MetricName": "string",
        "Dimensions": _DIMENSIONS,
        "AnomalyDetectorTypes": ["string"],
    },
}
# Management events, as CloudTrail logs them.
ANOMALY_AUDITED: Final = frozenset({"PutAnomalyDetector", "DeleteAnomalyDetector"})


def _service(call: MetricsCall) -> AnomalyService:
    if call.anomaly is None:
        raise CloudWatchError("NotImplemented", "Anomaly detectors are not served here.")
    return call.anomaly


def _detector(call: MetricsCall) -> Detector:
    params = call.params
    single: Mapping[str, Any] = params.get("SingleMetricAnomalyDetector") or {}
    math = params.get("MetricMathAnomalyDetector")
    legacy = any(params.get(k) for k in ("Namespace", "MetricName", "Stat", "Dimensions"))
    if legacy and (single or math):
        raise CloudWatchError(
            "InvalidParameterCombination",
            "Give the detector's metric either in SingleMetricAnomalyDetector (or "
            "MetricMathAnomalyDetector) or in the top-level Namespace, MetricName and Stat.",
        )
    if single.get("AccountId") not in (None, call.tenant_id):
        raise CloudWatchError(
            "InvalidParameterValue", "Cross-account observability is not supported."
        )
    source = single or params
    queries = tuple(data_query(q) for q in (math or {}).get("MetricDataQueries", []))
    if math is not None and not queries:
        raise CloudWatchError("MissingParameter", "MetricDataQueries is required.")
    configuration = params.get("Configuration") or {}
    excluded = []
    for item in configuration.get("ExcludedTimeRanges", []):
        start, end = item.get("StartTime"), item.get("EndTime")
        if not isinstance(start, datetime) or not isinstance(end, datetime):
            raise CloudWatchError(
                "MissingParameter", "Each excluded time range needs a StartTime and an EndTime."
            )
        excluded.append((int(start.timestamp()), int(end.timestamp())))
    return Detector(
        tenant_id=call.tenant_id,
        namespace=source.get("Namespace", ""),
        metric_name=source.get("MetricName", ""),
        dimensions=dimensions(source.get("Dimensions"), "Dimensions"),
        stat=source.get("Stat", ""),
        queries=queries,
        excluded=tuple(excluded),
        timezone=configuration.get("MetricTimezone"),
        periodic_spikes=(params.get("MetricCharacteristics") or {}).get("PeriodicSpikes"),
    )


async def put_anomaly_detector(call: MetricsCall) -> dict[str, Any]:
    await _service(call).put(_detector(call))
    return {}


async def delete_anomaly_detector(call: MetricsCall) -> dict[str, Any]:
    try:
        await _service(call).delete(_detector(call))
    except ResourceNotFound as exc:
        raise CloudWatchError("ResourceNotFoundException", exc.message) from exc
    return {}


def _document(detector: Detector, state: str) -> dict[str, Any]:
    document: dict[str, Any] = {"StateValue": state}
    configuration: dict[str, Any] = {
        "ExcludedTimeRanges": [
            {"StartTime": _when(a), "EndTime": _when(b)} for a, b in detector.excluded
        ]
    }
    if detector.timezone is not None:
        configuration["MetricTimezone"] = detector.timezone
    document["Configuration"] = configuration
    if detector.periodic_spikes is not None:
        document["MetricCharacteristics"] = {"PeriodicSpikes": detector.periodic_spikes}
    if detector.queries:
        document["MetricMathAnomalyDetector"] = {
            "MetricDataQueries": [query_document(q) for q in detector.queries]
        }
        return document
    named = {
        "Namespace": detector.namespace,
        "MetricName": detector.metric_name,
        "Dimensions": [{"Name": n, "Value": v} for n, v in detector.dimensions],
        "Stat": detector.stat,
    }
    # The legacy top-level members too: older SDKs and Terraform read them.
    document.update(named)
    document["SingleMetricAnomalyDetector"] = {"AccountId": detector.tenant_id, **named}
    return document


def _when(second: int) -> datetime:
    return datetime.fromtimestamp(second, UTC)


async def describe_anomaly_detectors(call: MetricsCall) -> dict[str, Any]:
    params = call.params
    found, token = await _service(call).describe(
        call.tenant_id,
        namespace=params.get("Namespace"),
        metric_name=params.get("MetricName"),
        dimensions=dimensions(params.get("Dimensions"), "Dimensions"),
        types=params.get("AnomalyDetectorTypes", []),
        max_results=params.get("MaxResults"),
        next_token=params.get("NextToken"),
    )
    answer: dict[str, Any] = {
        "AnomalyDetectors": [_document(d.detector, d.state.value) for d in found]
    }
    if token is not None:
        answer["NextToken"] = token
    return answer


ANOMALY_ACTIONS: Final[dict[str, Callable[[MetricsCall], Awaitable[dict[str, Any]]]]] = {
    "PutAnomalyDetector": put_anomaly_detector,
    "DescribeAnomalyDetectors": describe_anomaly_detectors,
    "DeleteAnomalyDetector": delete_anomaly_detector,
}
