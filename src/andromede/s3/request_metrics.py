"""What the S3 app tells CloudWatch's request metrics of each request (decision 0187): the
hook it is handed (:class:`RequestMetricsHook`, implemented by
``andromede.s3_request_metrics``), the request's outcome, and which of S3's request kinds
(``GetRequests``, ``PutRequests``…) it counts as.

S3's kinds: GET, PUT, DELETE, HEAD and POST requests for objects (``GetRequests`` counts no
listing; ``DeleteRequests`` counts DeleteObjects too, as AWS says; ``HeadRequests`` and
``PostRequests`` any HEAD or POST to the bucket), ``ListRequests`` the requests that list
the bucket's contents, and ``SelectRequests`` SelectObjectContent (a POST counted there
only). Every request counts in ``AllRequests``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol
from urllib.parse import parse_qsl

from andromede.s3.operations import S3Operation
from andromede.s3.operations import Scope as OpScope
from andromede.storage.metrics_configuration import MetricsConfiguration
from andromede.storage.model import Bucket

__all__ = ["RequestMetricsHook", "RequestOutcome", "request_kind", "request_tags"]

_O = S3Operation
_LISTS: Final = frozenset(
    {_O.ListObjects, _O.ListObjectsV2, _O.ListObjectVersions, _O.ListMultipartUploads, _O.ListParts}
)


def request_kind(operation: S3Operation, method: str) -> str | None:
    """The kind metric (``GetRequests``…) a request counts in besides ``AllRequests``."""
    if operation in _LISTS:
        return "ListRequests"
    if operation is _O.SelectObjectContent:
        return "SelectRequests"
    if method == "HEAD":
        return "HeadRequests"
    if method == "POST":
        return "DeleteRequests" if operation is _O.DeleteObjects else "PostRequests"
    if operation.scope is not OpScope.OBJECT:
        return None  # a bucket's configuration: counted in AllRequests only
    return {"GET": "GetRequests", "PUT": "PutRequests", "DELETE": "DeleteRequests"}.get(method)


def request_tags(headers: Mapping[str, str]) -> dict[str, str] | None:
    """The object tags a request knows: those of its ``x-amz-tagging`` header (PutObject,
    CreateMultipartUpload, CopyObject's replacement tags); None where it names none."""
    header = headers.get("x-amz-tagging")
    if header is None:
        return None
    return dict(parse_qsl(header, keep_blank_values=True))


@dataclass(frozen=True, slots=True)
class RequestOutcome:
    """One answered request to a bucket with request metrics on. Latencies in milliseconds:
    ``first_byte_ms`` from the request's last byte received to its answer's first byte sent
    (AWS's FirstByteLatency), ``total_ms`` from its first byte received to its answer's last
    (TotalRequestLatency)."""

    bucket: Bucket
    kind: str | None
    key: str | None
    tags: Mapping[str, str] | None
    access_point_arn: str | None
    status: int
    received: int
    sent: int
    first_byte_ms: float
    total_ms: float
    # SelectObjectContent's bytes read from the object and returned in Records events.
    select_scanned: int | None = None
    select_returned: int = 0


class RequestMetricsHook(Protocol):
    def observes(self, bucket: str) -> bool:
        """Whether ``bucket`` has request metrics configurations: a dictionary look-up, so
        that the requests of other buckets cost nothing more."""
        ...

    def configured(self, bucket: str, configs: Sequence[MetricsConfiguration]) -> None:
        """This gateway changed ``bucket``'s configurations: effective now."""
        ...

    def record(self, outcome: RequestOutcome) -> None:
        """Count one request (in memory: never a write on the request's path)."""
        ...
