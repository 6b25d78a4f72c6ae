"""A delivery stream's row of ``firehose_streams`` (migration 0105, decision 0223) and back:
its destination, HTTP endpoint, source and processors as the JSON of their columns, the
columns a caller's write sets. Apart from ``firehose.store_sql`` (its buffer and leases), so
that each stays one responsibility (split for decision 0379)."""

from __future__ import annotations

import base64
import json
from typing import Any

from andromede.firehose.model import (
    DeliveryStream,
    HttpEndpoint,
    KinesisSource,
    LambdaProcessor,
    LoggingOptions,
    Partitioning,
    S3Destination,
    StreamStatus,
)
from andromede.firehose.staging import intake_hints

__all__ = ["described", "stream_of"]


def _destination(text: str) -> tuple[S3Destination, HttpEndpoint | None]:
    fields = json.loads(text)
    http = fields.pop("http_endpoint", None)
    return _s3(fields), None if http is None else _http_endpoint(http)


def _s3(fields: dict[str, Any]) -> S3Destination:
    logging = _logging(fields.pop("logging", None))
    partitioning = _partitioning(fields.pop("partitioning", None))
    backup = fields.pop("backup", None)  # decision 0367; rows before: none
    return S3Destination(
        **fields,
        logging=logging,
        partitioning=partitioning,
        backup=None if backup is None else _s3(backup),
    )


def _logging(fields: dict[str, Any] | None) -> LoggingOptions:
    """CloudWatchLoggingOptions (decision 0270; rows written before: disabled)."""
    return LoggingOptions() if fields is None else LoggingOptions(**fields)


def _logging_fields(options: LoggingOptions) -> dict[str, Any]:
    return {"enabled": options.enabled, "group": options.group, "stream": options.stream}


def _transform(fields: dict[str, Any] | None) -> LambdaProcessor | None:
    """A Lambda processor (decision 0315; rows written before: none)."""
    if fields is None:
        return None
    return LambdaProcessor(**fields | {"given": tuple(fields["given"])})


def _transform_fields(processor: LambdaProcessor | None) -> dict[str, Any] | None:
    if processor is None:
        return None
    return {
        "function_arn": processor.function_arn,
        "retries": processor.retries,
        "role_arn": processor.role_arn,
        "buffer_size_mb": processor.buffer_size_mb,
        "buffer_interval_seconds": processor.buffer_interval_seconds,
        "given": list(processor.given),
    }


def _partitioning(fields: dict[str, Any] | None) -> Partitioning | None:
    if fields is None:
        return None
    append = fields.pop("append_delimiter")
    transform = _transform(fields.pop("transform", None))
    return Partitioning(
        transform=transform,
        **fields
        | {
            "deaggregation_delimiter": base64.b64decode(fields["deaggregation_delimiter"]),
            "append_delimiter": None if append is None else base64.b64decode(append),
            "processors": tuple(fields["processors"]),
        },
    )


def _partitioning_fields(partitioning: Partitioning | None) -> dict[str, Any] | None:
    """Dynamic partitioning and its processors (decision 0270), the delimiters in base64."""
    if partitioning is None:
        return None
    append = partitioning.append_delimiter
    return {
        "enabled": partitioning.enabled,
        "retry_seconds": partitioning.retry_seconds,
        "processing": partitioning.processing,
        "query": partitioning.query,
        "deaggregation": partitioning.deaggregation,
        "deaggregation_delimiter": base64.b64encode(partitioning.deaggregation_delimiter).decode(),
        "append_delimiter": None if append is None else base64.b64encode(append).decode(),
        "processors": list(partitioning.processors),
        "configured": partitioning.configured,
        "transform": _transform_fields(partitioning.transform),
        "decompression": partitioning.decompression,  # decision 0334
        "message_extraction": partitioning.message_extraction,
    }


def _http_endpoint(fields: dict[str, Any]) -> HttpEndpoint:
    sealed = fields.pop("access_key", None)
    attributes = tuple((str(k), str(v)) for k, v in fields.pop("common_attributes", []))
    logging = _logging(fields.pop("logging", None))
    transform = _transform(fields.pop("transform", None))
    processors = tuple(fields.pop("processors", ()))  # decision 0342; rows before: none
    return HttpEndpoint(
        **fields,
        transform=transform,
        processors=processors,
        access_key=None if sealed is None else base64.b64decode(sealed),
        common_attributes=attributes,
        logging=logging,
    )


def _http_endpoint_fields(http: HttpEndpoint) -> dict[str, Any]:
    """The endpoint's fields, its AccessKey as sealed (decision 0250): never in clear."""
    return {
        "url": http.url,
        "name": http.name,
        "access_key": None
        if http.access_key is None
        else base64.b64encode(http.access_key).decode(),
        "secret_arn": http.secret_arn,
        "secret_role_arn": http.secret_role_arn,
        "secret_enabled": http.secret_enabled,
        "content_encoding": http.content_encoding,
        "common_attributes": [list(pair) for pair in http.common_attributes],
        "size_mb": http.size_mb,
        "interval_seconds": http.interval_seconds,
        "retry_seconds": http.retry_seconds,
        "backup_mode": http.backup_mode,
        "role_arn": http.role_arn,
        "logging": _logging_fields(http.logging),
        "transform": _transform_fields(http.transform),
        "decompression": http.decompression,  # decision 0342
        "message_extraction": http.message_extraction,
        "processors": list(http.processors),
    }


def _destination_text(destination: S3Destination, http: HttpEndpoint | None = None) -> str:
    """The S3 destination (an HTTP endpoint's backup bucket) and the HTTP endpoint, if any,
    in the ``destination`` column: no new column for decision 0250."""
    extra = {} if http is None else {"http_endpoint": _http_endpoint_fields(http)}
    return json.dumps(extra | _s3_fields(destination), sort_keys=True)


def _s3_fields(destination: S3Destination) -> dict[str, Any]:
    backup = destination.backup
    return {
        "role_arn": destination.role_arn,
        "bucket_arn": destination.bucket_arn,
        "prefix": destination.prefix,
        "error_output_prefix": destination.error_output_prefix,
        "size_mb": destination.size_mb,
        "interval_seconds": destination.interval_seconds,
        "compression": destination.compression,
        "kms_key_arn": destination.kms_key_arn,
        "extended": destination.extended,
        "file_extension": destination.file_extension,
        "logging": _logging_fields(destination.logging),
        "partitioning": _partitioning_fields(destination.partitioning),
        "backup": None if backup is None else _s3_fields(backup),
    }


def _source(text: str | None) -> KinesisSource | None:
    if text is None:
        return None
    fields = json.loads(text)
    return KinesisSource(
        str(fields["stream_arn"]), str(fields["role_arn"]), int(fields["delivery_start"])
    )


def _source_text(source: KinesisSource | None) -> str | None:
    if source is None:
        return None
    return json.dumps(
        {
            "stream_arn": source.stream_arn,
            "role_arn": source.role_arn,
            "delivery_start": source.delivery_start,
        },
        sort_keys=True,
    )


def _failure(text: str) -> tuple[str, str]:
    kind, details = json.loads(text)
    return str(kind), str(details)


def stream_of(m: Any) -> DeliveryStream:
    destination, http = _destination(m["destination"])
    return DeliveryStream(
        tenant_id=m["tenant_id"],
        name=m["stream_name"],
        region=m["region"],
        status=StreamStatus(m["status"]),
        version=int(m["version"]),
        created=int(m["created"]),
        updated=int(m["updated"]),
        destination=destination,
        http=http,
        tags=tuple((str(k), str(v)) for k, v in json.loads(m["tags"])),
        sse_key_type=m["sse_key_type"],
        sse_key_arn=m["sse_key_arn"],
        sse_status=m["sse_status"],
        sse_failure=None if m["sse_failure"] is None else _failure(m["sse_failure"]),
        sealing_key_arn=m["sealing_key_arn"],
        revision=int(m["revision"]),
        failing_since=None if m["failing_since"] is None else int(m["failing_since"]),
        next_attempt=int(m["next_attempt"]),
        source=_source(m["source"]),
    )


def described(stream: DeliveryStream) -> dict[str, Any]:
    """The columns a caller's write sets (never the buffer's, the lease's or the streak's);
    the claim's hints are a Lambda processor's when the stream has one (decision 0344)."""
    size_hint, interval_hint = intake_hints(stream)
    return {
        "region": stream.region,
        "status": stream.status.value,
        "version": stream.version,
        "created": stream.created,
        "updated": stream.updated,
        "destination": _destination_text(stream.destination, stream.http),
        "tags": json.dumps([list(t) for t in stream.tags]),
        "sse_key_type": stream.sse_key_type,
        "sse_key_arn": stream.sse_key_arn,
        "sse_status": stream.sse_status,
        "sse_failure": None if stream.sse_failure is None else json.dumps(list(stream.sse_failure)),
        "sealing_key_arn": stream.sealing_key_arn,
        "revision": stream.revision,
        "size_bytes": size_hint,
        "interval_ms": interval_hint,
        "source": _source_text(stream.source),
    }
