"""CloudWatch's metric stream operations (decision 0233): PutMetricStream, GetMetricStream,
ListMetricStreams, DeleteMetricStream, StartMetricStreams and StopMetricStreams, their input
shapes (the members of AWS's model read), the calls audited, and the ARNs each call is
authorised on — ``arn:aws:cloudwatch:<region>:<account>:metric-stream/<name>``, each name of a
Start or Stop; PutMetricStream also asks ``iam:PassRole`` on its role, as AWS does. The tag
calls on a stream's ARN are answered here too (:func:`stream_tag_call`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from andromede.cloudwatchapi.call import MetricsCall
from andromede.cloudwatchapi.errors import CloudWatchError
from andromede.metrics.errors import ResourceNotFound
from andromede.metrics.stream_service import MetricStreamService
from andromede.metrics.streams import RUNNING, STOPPED, MetricStream, metric_stream_arn

__all__ = [
    "STREAM_ACTIONS",
    "STREAM_AUDITED",
    "STREAM_INPUTS",
    "is_stream_arn",
    "stream_resources",
    "stream_tag_call",
]

_FILTERS: Final = [{"Namespace": "string", "MetricNames": ["string"]}]
_STATISTICS: Final = [
    {
        "IncludeMetrics": [{"Namespace": "string", "MetricName": "string"}],
        "AdditionalStatistics": ["string"],
    }
]
STREAM_INPUTS: Final[dict[str, dict[str, Any]]] = {
    "PutMetricStream": {
        "Name": "string",
        "IncludeFilters": _FILTERS,
        "ExcludeFilters": _FILTERS,
        "FirehoseArn": "string",
        "RoleArn": "string",
        "OutputFormat": "string",
        "Tags": [{"Key": "string", "Value": "string"}],
        "StatisticsConfigurations": _STATISTICS,
        "IncludeLinkedAccountsMetrics": "boolean",
    },
    "GetMetricStream": {"Name": "string"},
    "DeleteMetricStream": {"Name": "string"},
    "ListMetricStreams": {"NextToken": "string", "MaxResults": "integer"},
    "StartMetricStreams": {"Names": ["string"]},
    "StopMetricStreams": {"Names": ["string"]},
}
# Management events, as CloudTrail logs them.
STREAM_AUDITED: Final = frozenset(
    {"PutMetricStream", "DeleteMetricStream", "StartMetricStreams", "StopMetricStreams"}
)
_MARK: Final = ":metric-stream/"


def stream_resources(
    operation: str, region: str, tenant_id: str, params: Mapping[str, Any]
) -> list[str] | None:
    """The ARNs the call is authorised on; None for a call on ``*`` (ListMetricStreams, or
    one not about metric streams)."""
    if operation in ("PutMetricStream", "GetMetricStream", "DeleteMetricStream"):
        name = params.get("Name")
        return [metric_stream_arn(region, tenant_id, name)] if isinstance(name, str) else None
    if operation in ("StartMetricStreams", "StopMetricStreams"):
        names = params.get("Names") or []
        return [metric_stream_arn(region, tenant_id, n) for n in dict.fromkeys(names)] or None
    return None


def _service(call: MetricsCall) -> MetricStreamService:
    if call.streams is None:
        raise CloudWatchError("NotImplemented", "Metric streams are not served here.")
    return call.streams


def _filters(stream_filters: Any) -> list[dict[str, Any]]:
    return [
        {
            "Namespace": f.namespace,
            **({"MetricNames": list(f.metric_names)} if f.metric_names else {}),
        }
        for f in stream_filters
    ]


def _document(stream: MetricStream, region: str) -> dict[str, Any]:
    return {
        "Arn": metric_stream_arn(region, stream.tenant_id, stream.name),
        "Name": stream.name,
        "IncludeFilters": _filters(stream.include),
        "ExcludeFilters": _filters(stream.exclude),
        "FirehoseArn": stream.firehose_arn,
        "RoleArn": stream.role_arn,
        "State": stream.state,
        "CreationDate": stream.created,
        "LastUpdateDate": stream.updated,
        "OutputFormat": stream.output_format,
        "StatisticsConfigurations": [
            {
                "IncludeMetrics": [
                    {"Namespace": ns, "MetricName": name} for ns, name in configuration.metrics
                ],
                "AdditionalStatistics": list(configuration.statistics),
            }
            for configuration in stream.statistics
        ],
        "IncludeLinkedAccountsMetrics": False,
    }


async def put_metric_stream(call: MetricsCall) -> dict[str, Any]:
    return {"Arn": await _service(call).put(call.tenant_id, call.params)}


async def get_metric_stream(call: MetricsCall) -> dict[str, Any]:
    service = _service(call)
    try:
        stream = await service.get(call.tenant_id, call.params.get("Name"))
    except ResourceNotFound as exc:
        raise CloudWatchError("ResourceNotFoundException", exc.message) from exc
    return _document(stream, service.region)


async def list_metric_streams(call: MetricsCall) -> dict[str, Any]:
    service = _service(call)
    found, token = await service.page(
        call.tenant_id, call.params.get("MaxResults"), call.params.get("NextToken")
    )
    answer: dict[str, Any] = {
        "Entries": [
            {
                "Arn": service.arn(s.tenant_id, s.name),
                "CreationDate": s.created,
                "LastUpdateDate": s.updated,
                "Name": s.name,
                "FirehoseArn": s.firehose_arn,
                "State": s.state,
                "OutputFormat": s.output_format,
            }
            for s in found
        ]
    }
    if token is not None:
        answer["NextToken"] = token
    return answer


async def delete_metric_stream(call: MetricsCall) -> dict[str, Any]:
    await _service(call).delete(call.tenant_id, call.params.get("Name"))
    return {}


async def start_metric_streams(call: MetricsCall) -> dict[str, Any]:
    await _service(call).set_state(call.tenant_id, call.params.get("Names"), RUNNING)
    return {}


async def stop_metric_streams(call: MetricsCall) -> dict[str, Any]:
    await _service(call).set_state(call.tenant_id, call.params.get("Names"), STOPPED)
    return {}


def is_stream_arn(arn: Any) -> bool:
    return isinstance(arn, str) and _MARK in arn


async def stream_tag_call(
    call: MetricsCall, add: list[tuple[str, str]], remove: list[str]
) -> tuple[tuple[str, str], ...]:
    """A tag call (TagResource, UntagResource, ListTagsForResource) on a stream's ARN of the
    caller's account."""
    service = _service(call)
    arn = call.params["ResourceARN"]
    prefix = service.arn(call.tenant_id, "")
    if not arn.startswith(prefix) or len(arn) == len(prefix):
        raise CloudWatchError(
            "ResourceNotFoundException", f"{arn[:512]} is not a metric stream of this account."
        )
    try:
        return await service.retag(call.tenant_id, arn[len(prefix) :], add, remove)
    except ResourceNotFound as exc:
        raise CloudWatchError("ResourceNotFoundException", exc.message) from exc


STREAM_ACTIONS: Final[dict[str, Callable[[MetricsCall], Awaitable[dict[str, Any]]]]] = {
    "PutMetricStream": put_metric_stream,
    "GetMetricStream": get_metric_stream,
    "ListMetricStreams": list_metric_streams,
    "DeleteMetricStream": delete_metric_stream,
    "StartMetricStreams": start_metric_streams,
    "StopMetricStreams": stop_metric_streams,
}
