"""Firehose's actions (decision 0223): one handler per operation, each authorising
``firehose:<Action>`` on the stream's ARN (the request's tags as ``aws:RequestTag/…``, the
stream's as ``aws:ResourceTag/…``) before it calls the service, then answering in the API
model's shape. Direct PUT and Kinesis data streams (decision 0235) are the sources served,
S3 and HTTP endpoints (decision 0250) the destinations; the others (MSK, databases;
Redshift, OpenSearch, Splunk…) are refused ``InvalidArgumentException``, in AWS's words,
never accepted silently."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

from andromede.firehose.model import DeliveryStream, KinesisSource, stream_arn
from andromede.firehose.store import BufferTotals
from andromede.firehoseapi.http_endpoint import http_endpoint_description, http_endpoint_input
from andromede.firehoseapi.params import (
    FirehoseCall,
    extended_description,
    invalid,
    is_kms_key_arn,
    is_role_arn,
    refused,
    s3_description,
)

__all__ = ["ACTIONS", "DATA_ACTIONS"]

Handler = Callable[[FirehoseCall], Awaitable[dict[str, Any]]]

DESTINATION_ID: Final = "destinationId-000000000001"
_MAX_BATCH_RECORDS: Final = 500
_MAX_BATCH_BYTES: Final = 4 * 1024 * 1024
_OTHER_DESTINATIONS: Final = (
    "RedshiftDestinationConfiguration", "ElasticsearchDestinationConfiguration",
    "AmazonopensearchserviceDestinationConfiguration", "SplunkDestinationConfiguration",
    "AmazonOpenSearchServerlessDestinationConfiguration", "SnowflakeDestinationConfiguration",
    "IcebergDestinationConfiguration",
)  # fmt: skip
_OTHER_UPDATES: Final = tuple(
    name.replace("Configuration", "Update") for name in _OTHER_DESTINATIONS
)
_KEY_TYPES: Final = ("AWS_OWNED_CMK", "CUSTOMER_MANAGED_CMK")
_TYPES: Final = ("DirectPut", "KinesisStreamAsSource")
_KINESIS_ARN: Final = "arn:aws:kinesis:"


def _tag_keys(stream: DeliveryStream) -> dict[str, Any]:
    return {f"aws:ResourceTag/{k}": v for k, v in stream.tags}


def _request_tags(tags: list[tuple[str, str]]) -> dict[str, Any]:
    keys: dict[str, Any] = {f"aws:RequestTag/{k}": v for k, v in tags}
    keys["aws:TagKeys"] = [k for k, _ in tags]
    return keys


async def _stream(
    call: FirehoseCall, action: str, extra: dict[str, Any] | None = None
) -> DeliveryStream:
    """The named stream, once the caller may do ``action`` on it (a stream that does not
    exist is authorised on its would-be ARN first, so that no one probes names)."""
    name = call.stream_name()
    arn = stream_arn(call.firehose.region, call.tenant_id, name)
    call.resources.append(arn)
    found = await call.firehose.store.get(call.tenant_id, name)
    keys = (extra or {}) | ({} if found is None else _tag_keys(found))
    await call.authorise(f"firehose:{action}", arn, keys)
    return found or await call.firehose.get(call.tenant_id, name)


def _epoch(ms: int) -> float:
    return round(ms / 1000, 3)


def _description(stream: DeliveryStream, totals: BufferTotals) -> dict[str, Any]:
    s3 = s3_description(stream.destination)
    destination: dict[str, Any] = {"DestinationId": DESTINATION_ID, "S3DestinationDescription": s3}
    if stream.http is not None:
        destination = {
            "DestinationId": DESTINATION_ID,
            "HttpEndpointDestinationDescription": http_endpoint_description(
                stream.http, stream.destination
            ),
        }
    elif stream.destination.extended:
        backup = stream.destination.backup  # decision 0367
        extended = (
            dict(s3)
            | {"S3BackupMode": "Disabled" if backup is None else "Enabled", "CustomTimeZone": "UTC"}
            | extended_description(stream.destination)
        )
        if backup is not None:
            extended["S3BackupDescription"] = s3_description(backup)
        if stream.destination.file_extension is not None:
            extended["FileExtension"] = stream.destination.file_extension
        destination["ExtendedS3DestinationDescription"] = extended
    sse: dict[str, Any] = {"Status": stream.sse_status}
    if stream.sse_key_type is not None:
        sse["KeyType"] = stream.sse_key_type
        if stream.sse_key_arn is not None:
            sse["KeyARN"] = stream.sse_key_arn
    if stream.sse_failure is not None:
        sse["FailureDescription"] = {
            "Type": stream.sse_failure[0], "Details": stream.sse_failure[1],
        }  # fmt: skip
    return {
        "DeliveryStreamDescription": {
            "DeliveryStreamName": stream.name,
            "DeliveryStreamARN": stream.arn,
            "DeliveryStreamStatus": stream.status.value,
            "DeliveryStreamEncryptionConfiguration": sse,
            "DeliveryStreamType": stream.kind,
            **_source_description(stream),
            "VersionId": str(stream.version),
            "CreateTimestamp": _epoch(stream.created),
            "LastUpdateTimestamp": _epoch(stream.updated),
            "Destinations": [destination],
            "HasMoreDestinations": False,
        }
    }


def _source_description(stream: DeliveryStream) -> dict[str, Any]:
    if stream.source is None:
        return {}
    return {
        "Source": {
            "KinesisStreamSourceDescription": {
                "KinesisStreamARN": stream.source.stream_arn,
                "RoleARN": stream.source.role_arn,
                "DeliveryStartTimestamp": _epoch(stream.source.delivery_start),
            }
        }
    }


def _source_input(call: FirehoseCall, kind: str) -> KinesisSource | None:
    """``KinesisStreamSourceConfiguration``: required with ``KinesisStreamAsSource``, refused
    otherwise (as AWS)."""
    config = call.mapping("KinesisStreamSourceConfiguration")
    if kind == "DirectPut":
        if config is not None:
            raise refused(
                "KinesisStreamSourceConfiguration is only allowed with DeliveryStreamType "
                "KinesisStreamAsSource."
            )
        return None
    if config is None:
        raise refused(
            "KinesisStreamSourceConfiguration is required for a KinesisStreamAsSource delivery "
            "stream."
        )
    arn = call.string("KinesisStreamARN", required=True, min_length=1, max_length=512,
                      source=config)  # fmt: skip
    role = call.string("RoleARN", required=True, min_length=1, max_length=512, source=config)
    assert arn is not None and role is not None  # noqa: S101 (required)
    if not arn.startswith(_KINESIS_ARN):
        raise refused(f"KinesisStreamARN {arn[:256]!r} is not a valid Kinesis stream ARN.")
    if not is_role_arn(role):
        raise refused(f"RoleARN {role[:256]!r} is not a valid IAM role ARN.")
    return KinesisSource(arn, role, 0)  # the delivery start: the service's creation time


def _encryption_input(call: FirehoseCall) -> tuple[str | None, str | None]:
    asked = call.mapping("DeliveryStreamEncryptionConfigurationInput")
    if asked is None:
        return None, None
    key_type = call.string("KeyType", required=True, source=asked)
    if key_type not in _KEY_TYPES:
        raise invalid(
            "DeliveryStreamEncryptionConfigurationInput.keyType",
            "Member must satisfy enum value set: [AWS_OWNED_CMK, CUSTOMER_MANAGED_CMK]",
        )
    key_arn = call.string("KeyARN", max_length=512, source=asked)
    if (key_type == "CUSTOMER_MANAGED_CMK") != (key_arn is not None):
        raise refused("KeyARN is required with CUSTOMER_MANAGED_CMK, and only with it.")
    if key_arn is not None and not is_kms_key_arn(key_arn):
        raise refused(f"KeyARN {key_arn[:256]!r} is not a valid KMS key ARN.")
    return key_type, key_arn


async def create_delivery_stream(call: FirehoseCall) -> dict[str, Any]:
    kind = call.string("DeliveryStreamType") or "DirectPut"
    if kind not in _TYPES:
        raise refused(f"DeliveryStreamType {kind[:64]} is not offered by this platform: "
                      "Direct PUT and Kinesis data stream sources only (decisions 0223, "
                      "0235).")  # fmt: skip
    source = _source_input(call, kind)
    for other in _OTHER_DESTINATIONS:
        if call.params.get(other) is not None:
            raise refused(f"{other}: only S3 and HTTP endpoint destinations are offered by "
                          "this platform (decisions 0223, 0250).")  # fmt: skip
    extended = call.mapping("ExtendedS3DestinationConfiguration")
    plain = call.mapping("S3DestinationConfiguration")
    http_config = call.mapping("HttpEndpointDestinationConfiguration")
    if sum(c is not None for c in (extended, plain, http_config)) != 1:
        raise refused(
            "Exactly one destination configuration must be provided: "
            "ExtendedS3DestinationConfiguration, S3DestinationConfiguration or "
            "HttpEndpointDestinationConfiguration."
        )
    http, access_key = None, None
    if http_config is not None:
        http, destination, access_key = http_endpoint_input(call, http_config)
    else:
        destination = call.destination(extended or plain or {}, extended=extended is not None)
    tags = call.tags()
    key_type, key_arn = _encryption_input(call)
    name = call.stream_name()
    arn = stream_arn(call.firehose.region, call.tenant_id, name)
    call.resources.append(arn)
    await call.authorise("firehose:CreateDeliveryStream", arn, _request_tags(tags))
    if tags:
        await call.authorise("firehose:TagDeliveryStream", arn, _request_tags(tags))
    made = await call.firehose.create(
        call.tenant_id, name, destination, tags, key_type, key_arn, call.kms_caller, source,
        http, access_key,
    )  # fmt: skip
    return {"DeliveryStreamARN": made.arn}


async def describe_delivery_stream(call: FirehoseCall) -> dict[str, Any]:
    call.integer("Limit", minimum=1, maximum=10000)
    call.string("ExclusiveStartDestinationId", max_length=100)
    stream = await _stream(call, "DescribeDeliveryStream")
    return _description(stream, await call.firehose.store.totals(stream.tenant_id, stream.name))


async def list_delivery_streams(call: FirehoseCall) -> dict[str, Any]:
    limit = call.integer("Limit", minimum=1, maximum=10000) or 10
    kind = call.string("DeliveryStreamType")
    after = call.string("ExclusiveStartDeliveryStreamName", max_length=64)
    await call.authorise("firehose:ListDeliveryStreams", "*", {})
    if kind is None:
        names, more = await call.firehose.names(call.tenant_id, after, limit)
        return {"DeliveryStreamNames": names, "HasMoreDeliveryStreams": more}
    if kind not in _TYPES:
        return {"DeliveryStreamNames": [], "HasMoreDeliveryStreams": False}
    return await _names_of_kind(call, kind, after, limit)


async def _names_of_kind(
    call: FirehoseCall, kind: str, after: str | None, limit: int
) -> dict[str, Any]:
    """The account's streams of one DeliveryStreamType, read by pages of names."""
    found: list[str] = []
    while True:
        names, more = await call.firehose.names(call.tenant_id, after, 100)
        for name in names:
            stream = await call.firehose.store.get(call.tenant_id, name)
            if stream is None or stream.kind != kind:
                continue
            if len(found) == limit:
                return {"DeliveryStreamNames": found, "HasMoreDeliveryStreams": True}
            found.append(name)
        if not more:
            return {"DeliveryStreamNames": found, "HasMoreDeliveryStreams": False}
        after = names[-1]


async def delete_delivery_stream(call: FirehoseCall) -> dict[str, Any]:
    force = call.params.get("AllowForceDelete")
    if force is not None and not isinstance(force, bool):
        raise invalid("AllowForceDelete", "Member must be a boolean")
    stream = await _stream(call, "DeleteDeliveryStream")
    await call.firehose.delete(call.tenant_id, stream.name)
    return {}


async def put_record(call: FirehoseCall) -> dict[str, Any]:
    data = call.data(call.params.get("Record"))
    stream = await _stream(call, "PutRecord")
    (result,) = await call.firehose.put(call.tenant_id, stream.name, [data])
    if result.record_id is None:
        raise call.firehose.slow_down()
    return {"RecordId": result.record_id, "Encrypted": stream.encrypted}


async def put_record_batch(call: FirehoseCall) -> dict[str, Any]:
    raw = call.params.get("Records")
    if not isinstance(raw, list) or not 1 <= len(raw) <= _MAX_BATCH_RECORDS:
        raise invalid("Records", f"Member must have length between 1 and {_MAX_BATCH_RECORDS}")
    datas = [call.data(r, f"Records.{i + 1}.member") for i, r in enumerate(raw)]
    if sum(len(d) for d in datas) > _MAX_BATCH_BYTES:
        raise refused("Records size exceeds 4 MiB limit")
    stream = await _stream(call, "PutRecordBatch")
    results = await call.firehose.put(call.tenant_id, stream.name, datas)
    responses = [
        {"RecordId": r.record_id}
        if r.record_id is not None
        else {"ErrorCode": r.error_code, "ErrorMessage": r.error_message}
        for r in results
    ]
    return {
        "FailedPutCount": sum(1 for r in results if r.record_id is None),
        "Encrypted": stream.encrypted,
        "RequestResponses": responses,
    }


async def update_destination(call: FirehoseCall) -> dict[str, Any]:
    version = call.string("CurrentDeliveryStreamVersionId", required=True, min_length=1,
                          max_length=50)  # fmt: skip
    destination_id = call.string("DestinationId", required=True, min_length=1, max_length=100)
    for other in _OTHER_UPDATES:
        if call.params.get(other) is not None:
            raise refused(f"{other}: only S3 and HTTP endpoint destinations are offered by "
                          "this platform (decisions 0223, 0250).")  # fmt: skip
    extended = call.mapping("ExtendedS3DestinationUpdate")
    plain = call.mapping("S3DestinationUpdate")
    http_update = call.mapping("HttpEndpointDestinationUpdate")
    if sum(u is not None for u in (extended, plain, http_update)) != 1:
        raise refused("Exactly one destination update must be provided: "
                      "ExtendedS3DestinationUpdate, S3DestinationUpdate or "
                      "HttpEndpointDestinationUpdate.")  # fmt: skip
    stream = await _stream(call, "UpdateDestination")
    if destination_id != DESTINATION_ID:
        raise refused(f"Destination {str(destination_id)[:100]} not found in {stream.name}.")
    assert version is not None  # noqa: S101 (required)
    if http_update is not None:
        if stream.http is None:
            raise refused("HttpEndpointDestinationUpdate: the delivery stream's destination is "
                          "Amazon S3; changing the destination type is not supported by this "
                          "platform (decision 0250).")  # fmt: skip
        http, backup, access_key = http_endpoint_input(
            call, http_update, (stream.http, stream.destination)
        )
        await call.firehose.update_destination(
            call.tenant_id, stream.name, version, backup, http, access_key
        )
        return {}
    if stream.http is not None:
        raise refused("The delivery stream's destination is an HTTP endpoint: update it with "
                      "HttpEndpointDestinationUpdate (decision 0250).")  # fmt: skip
    updated = call.destination(
        extended or plain or {}, extended=extended is not None, base=stream.destination
    )
    await call.firehose.update_destination(call.tenant_id, stream.name, version, updated)
    return {}


async def tag_delivery_stream(call: FirehoseCall) -> dict[str, Any]:
    tags = call.tags(required=True)
    stream = await _stream(call, "TagDeliveryStream", _request_tags(tags))
    await call.firehose.tag(call.tenant_id, stream.name, tags)
    return {}


async def untag_delivery_stream(call: FirehoseCall) -> dict[str, Any]:
    keys = call.params.get("TagKeys")
    if (
        not isinstance(keys, list)
        or not 1 <= len(keys) <= 50
        or not all(isinstance(k, str) and 1 <= len(k) <= 128 for k in keys)
    ):
        raise invalid("TagKeys", "Member must have length between 1 and 50")
    stream = await _stream(call, "UntagDeliveryStream", {"aws:TagKeys": list(keys)})
    await call.firehose.untag(call.tenant_id, stream.name, keys)
    return {}


async def list_tags_for_delivery_stream(call: FirehoseCall) -> dict[str, Any]:
    limit = call.integer("Limit", minimum=1, maximum=50) or 50
    after = call.string("ExclusiveStartTagKey", min_length=1, max_length=128)
    stream = await _stream(call, "ListTagsForDeliveryStream")
    pairs = sorted(stream.tags)
    if after is not None:
        pairs = [(k, v) for k, v in pairs if k > after]
    return {
        "Tags": [{"Key": k, "Value": v} for k, v in pairs[:limit]],
        "HasMoreTags": len(pairs) > limit,
    }


async def start_delivery_stream_encryption(call: FirehoseCall) -> dict[str, Any]:
    key_type, key_arn = _encryption_input(call)
    stream = await _stream(call, "StartDeliveryStreamEncryption")
    await call.firehose.set_encryption(
        call.tenant_id, stream.name, key_type or "AWS_OWNED_CMK", key_arn, call.kms_caller
    )
    return {}


async def stop_delivery_stream_encryption(call: FirehoseCall) -> dict[str, Any]:
    stream = await _stream(call, "StopDeliveryStreamEncryption")
    await call.firehose.set_encryption(call.tenant_id, stream.name, None, None)
    return {}


ACTIONS: Final[dict[str, Handler]] = {
    "CreateDeliveryStream": create_delivery_stream,
    "DeleteDeliveryStream": delete_delivery_stream,
    "DescribeDeliveryStream": describe_delivery_stream,
    "ListDeliveryStreams": list_delivery_streams,
    "ListTagsForDeliveryStream": list_tags_for_delivery_stream,
    "PutRecord": put_record,
    "PutRecordBatch": put_record_batch,
    "StartDeliveryStreamEncryption": start_delivery_stream_encryption,
    "StopDeliveryStreamEncryption": stop_delivery_stream_encryption,
    "TagDeliveryStream": tag_delivery_stream,
    "UntagDeliveryStream": untag_delivery_stream,
    "UpdateDestination": update_destination,
}
# Data events, which CloudTrail does not log by default: audited when refused only.
DATA_ACTIONS: Final = frozenset({"PutRecord", "PutRecordBatch"})
