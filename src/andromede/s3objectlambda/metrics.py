"""S3 Object Lambda's request metrics (decisions 0399, 0411): for an Object Lambda access
point whose configuration has ``CloudWatchMetricsEnabled``, each request through it is counted
in ``AWS/S3ObjectLambda`` under AWS's dimensions ``AccessPointName`` and ``DataSourceARN``
(the function's ARN when one ran, else the supporting access point's): ``AllRequests``, the
method's ``Get``/``Put``/``Delete``/``Post``/``Head``/``ListRequests``, ``4xxErrors`` and
``5xxErrors`` (0 or 1, their average an error rate), ``ProxiedRequests`` or
``InvokedLambda``, ``BytesDownloaded`` and ``BytesUploaded`` (the response's and the
request's body, when there is one), ``FirstByteLatency`` and ``TotalRequestLatency``; and
each WriteGetObjectResponse its function makes for a GetObject (``record_answer``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

__all__ = [
    "NAMESPACE",
    "AnswerSource",
    "MeasuredRequest",
    "MetricsSink",
    "record_answer",
    "record_request",
]

NAMESPACE: Final = "AWS/S3ObjectLambda"
_METHOD_METRICS: Final = {
    "GET": "GetRequests",
    "PUT": "PutRequests",
    "DELETE": "DeleteRequests",
    "POST": "PostRequests",
    "HEAD": "HeadRequests",
}


class MetricsSink(Protocol):
    """CloudWatch's platform sink (``metrics.sink``), as the wiring hands it."""

    def record(
        self,
        tenant_id: str,
        namespace: str,
        name: str,
        dimensions: Sequence[tuple[str, str]],
        value: float,
        unit: str = "None",
        *,
        resolution: int = 60,
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class MeasuredRequest:
    tenant_id: str
    point_name: str
    data_source: str  # the function's ARN when it ran, else the supporting access point's
    method: str
    operation: str
    status: int
    invoked: bool
    bytes_downloaded: int
    first_byte_ms: float
    total_ms: float
    bytes_uploaded: int = 0


def record_request(sink: MetricsSink, measured: MeasuredRequest) -> None:
    dimensions = (("AccessPointName", measured.point_name), ("DataSourceARN", measured.data_source))

    def put(name: str, value: float, unit: str = "Count") -> None:
        sink.record(measured.tenant_id, NAMESPACE, name, dimensions, value, unit)

    put("AllRequests", 1)
    if measured.operation in ("ListObjects", "ListObjectsV2"):
        put("ListRequests", 1)
    elif measured.method in _METHOD_METRICS:
        put(_METHOD_METRICS[measured.method], 1)
    if measured.operation == "DeleteObjects":
        put("DeleteRequests", 1)  # AWS: DeleteRequests "includes DeleteObjects requests"
    put("4xxErrors", 1 if 400 <= measured.status < 500 else 0)
    put("5xxErrors", 1 if measured.status >= 500 else 0)
    put("InvokedLambda" if measured.invoked else "ProxiedRequests", 1)
    if measured.bytes_downloaded:
        put("BytesDownloaded", measured.bytes_downloaded, "Bytes")
    if measured.bytes_uploaded:
        put("BytesUploaded", measured.bytes_uploaded, "Bytes")
    put("FirstByteLatency", measured.first_byte_ms, "Milliseconds")
    put("TotalRequestLatency", measured.total_ms, "Milliseconds")


@dataclass(frozen=True, slots=True)
class AnswerSource:
    """The Object Lambda access point (with metrics enabled) whose GetObject a function's
    WriteGetObjectResponse answers, and the function."""

    tenant_id: str
    point_name: str
    function_arn: str


def record_answer(sink: MetricsSink, source: AnswerSource, status: int) -> None:
    """One WriteGetObjectResponse of ``source``'s function, answered ``status`` (decision
    0411): AWS's ``LambdaResponseRequests`` and, 0 or 1 as ``4xxErrors`` are,
    ``LambdaResponse4xx`` and ``LambdaResponse5xx``."""
    dimensions = (("AccessPointName", source.point_name), ("DataSourceARN", source.function_arn))
    for name, value in (
        ("LambdaResponseRequests", 1),
        ("LambdaResponse4xx", 1 if 400 <= status < 500 else 0),
        ("LambdaResponse5xx", 1 if status >= 500 else 0),
    ):
        sink.record(source.tenant_id, NAMESPACE, name, dimensions, value, "Count")
