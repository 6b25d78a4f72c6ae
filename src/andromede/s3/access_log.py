"""One server access record per request to a logging bucket, in S3's log format (decision
0084), for ``storage/access_log_delivery.py`` to deliver.

The fields, space-separated, in S3's order: bucket owner, bucket, ``[time]``, remote IP,
requester, request id, operation (``REST.GET.OBJECT``…), key, ``"request-URI"``, HTTP status,
error code, bytes sent, object size, total time (ms), turn-around time, ``"referer"``,
``"user-agent"``, version id, host id, signature version, cipher suite, authentication type,
host header, TLS version, access point ARN, ACL required. What this server does not know is
``-``, as in S3's own records.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final
from urllib.parse import quote

from andromede.s3.operations import S3Operation

__all__ = ["access_record", "log_operation"]

_O = S3Operation
# S3's names where they are not REST.<METHOD>.<sub-resource or scope>.
_OPERATIONS: Final[Mapping[S3Operation, str]] = {
    _O.CopyObject: "REST.COPY.OBJECT",
    _O.UploadPart: "REST.PUT.PART",
    _O.UploadPartCopy: "REST.COPY.PART",
    _O.CreateMultipartUpload: "REST.POST.UPLOADS",
    _O.CompleteMultipartUpload: "REST.POST.UPLOAD",
    _O.AbortMultipartUpload: "REST.DELETE.UPLOAD",
    _O.ListParts: "REST.GET.UPLOAD",
    _O.ListMultipartUploads: "REST.GET.UPLOADS",
    _O.DeleteObjects: "REST.POST.MULTI_OBJECT_DELETE",
    _O.GetBucketPolicy: "REST.GET.BUCKETPOLICY",
    _O.PutBucketPolicy: "REST.PUT.BUCKETPOLICY",
    _O.DeleteBucketPolicy: "REST.DELETE.BUCKETPOLICY",
    _O.GetBucketLogging: "REST.GET.LOGGING_STATUS",
    _O.PutBucketLogging: "REST.PUT.LOGGING_STATUS",
    _O.GetObjectTagging: "REST.GET.OBJECT_TAGGING",
    _O.PutObjectTagging: "REST.PUT.OBJECT_TAGGING",
    _O.DeleteObjectTagging: "REST.DELETE.OBJECT_TAGGING",
    _O.PostObject: "REST.POST.OBJECT",
}


def log_operation(operation: S3Operation, method: str, query: Mapping[str, str]) -> str:
    """S3's name of the operation in its access records."""
    named = _OPERATIONS.get(operation)
    if named is not None:
        return named
    for parameter in query:
        if parameter.isalpha() and parameter != "prefix":  # a sub-resource: ?acl, ?cors…
            return f"REST.{method}.{parameter.upper()}"
    scope = "OBJECT" if operation.scope.name == "OBJECT" else "BUCKET"
    return f"REST.{method}.{scope}"


def _quoted(value: str | None) -> str:
    if not value:
        return '"-"'
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def access_record(
    *,
    bucket_owner: str,
    bucket: str,
    at: datetime,
    remote_ip: str | None,
    requester: str | None,
    request_id: str,
    operation: str,
    key: str | None,
    request_line: str,
    status: int,
    error_code: str | None,
    bytes_sent: int,
    total_ms: float,
    headers: Mapping[str, str],
    signature_version: str | None,
    authentication_type: str | None,
) -> str:
    """One record, as a line without its end."""
    fields = [
        bucket_owner,
        bucket,
        at.strftime("[%d/%b/%Y:%H:%M:%S +0000]"),
        remote_ip or "-",
        requester or "-",
        request_id,
        operation,
        quote(key, safe="/") if key else "-",
        _quoted(request_line),
        str(status),
        error_code or "-",
        str(bytes_sent) if bytes_sent else "-",
        "-",  # object size
        str(round(total_ms)),
        "-",  # turn-around time
        _quoted(headers.get("referer")),
        _quoted(headers.get("user-agent")),
        "-",  # version id: buckets are never versioned
        request_id,  # host id
        signature_version or "-",
        "-",  # cipher suite
        authentication_type or "-",
        headers.get("host") or "-",
        "-",  # TLS version
        "-",  # access point
        "-",  # ACL required
    ]
    return " ".join(fields)
