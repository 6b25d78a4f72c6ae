"""The Amazon Data Firehose calls (decision 0223) the console's delivery stream pages make, in
process as the signed-in principal through Firehose's JSON protocol (``firehoseapi.app``):
its authorisation (``firehose:<Action>`` on the stream's ARN), checks, audit and errors
answer them. Each answer is read into the small rows the pages show; nothing here decides
what Firehose allows. The edits (decision 0251): UpdateDestination, tags, the stream's own
encryption started and stopped, a test record put. A stream's destination is an S3 bucket or
an HTTP endpoint with an S3 backup (decisions 0250, 0252): both are read, and a stream is made
with either; an endpoint's access key is sent once, at creation, and never read back (Firehose
never describes it). Decision 0276: a destination's CloudWatch error logging read and changed
(UpdateDestination's ``CloudWatchLoggingOptions`` alone), an Extended S3 destination's dynamic
partitioning read (its JQ query, the keys its prefix uses) and asked at creation. Decision
0359: a destination's processors read and asked at creation
(``wire_firehose_processing``), an HTTP endpoint's common attributes read, and
:meth:`FirehoseWire.update_member` for the pages' other UpdateDestination forms. Decision
0367: an Extended S3 destination's source record backup read (``S3BackupMode``,
``S3BackupDescription``), and PutRecordBatch (:meth:`FirehoseWire.put_batch`).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from andromede.console.wire import JsonWire
from andromede.console.wire_firehose_processing import (
    ProcessorsForm,
    ProcessorsRow,
    processing_configuration,
    processors_row,
)
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = [
    "BACKUP_MODES",
    "SOURCE_BACKUP_MODES",
    "BackupRow",
    "BatchAnswer",
    "DestinationUpdate",
    "FirehoseWire",
    "HttpEndpointRow",
    "LoggingRow",
    "NewBackup",
    "NewHttpEndpoint",
    "NewPartitioning",
    "NewStream",
    "PartitioningRow",
    "StreamRow",
    "backup_hints",
]

_BUCKET_ARN: Final = "arn:aws:s3:::"
BACKUP_MODES: Final = ("FailedDataOnly", "AllData")  # an HTTP endpoint's S3BackupMode values
SOURCE_BACKUP_MODES: Final = ("Disabled", "Enabled")  # an Extended S3 destination's (0367)


def _when(value: Any) -> str:
    """An epoch-seconds timestamp as the pages show it ("" when absent)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return ""
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True, slots=True)
class HttpEndpointRow:
    """An HTTP endpoint destination as DescribeDeliveryStream tells it (never its access key:
    Firehose does not describe it)."""

    url: str
    name: str
    content_encoding: str  # NONE or GZIP
    retry_seconds: int
    backup_mode: str  # FailedDataOnly or AllData
    role_arn: str
    secret_arn: str  # the Secrets Manager secret holding the key ("" : a key of its own)
    common_attributes: tuple[tuple[str, str], ...] = ()  # sent with each request (0359)


@dataclass(frozen=True, slots=True)
class BackupRow:
    """An Extended S3 destination's source record backup (``S3BackupDescription``, decision
    0367): the bucket the records are copied into as they arrived, before any processor."""

    bucket: str  # the bucket's name, read from its ARN
    prefix: str
    error_prefix: str
    role_arn: str


@dataclass(frozen=True, slots=True)
class BatchAnswer:
    """PutRecordBatch's answer (decision 0367): the records Firehose took, those it refused
    (``FailedPutCount``), their distinct error codes, and whether the stream encrypted them."""

    put: int
    failed: int
    encrypted: bool
    codes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LoggingRow:
    """CloudWatchLoggingOptions (decision 0270): whether delivery errors are logged, where."""

    enabled: bool = False
    group: str = ""
    stream: str = ""

    def payload(self) -> dict[str, Any]:
        sent: dict[str, Any] = {"Enabled": self.enabled}
        if self.group:
            sent["LogGroupName"] = self.group
        if self.stream:
            sent["LogStreamName"] = self.stream
        return sent


@dataclass(frozen=True, slots=True)
class PartitioningRow:
    """An Extended S3 destination's dynamic partitioning (decision 0270): whether on, its
    retry window, its JQ query and the partition keys its prefix uses."""

    enabled: bool
    retry_seconds: int
    query: str
    keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NewPartitioning:
    """What the creation form asks of dynamic partitioning: the JQ query (its keys are the
    prefix's ``!{partitionKeyFromQuery:k}``), and a newline after each record."""

    query: str
    append_newline: bool = False


@dataclass(frozen=True, slots=True)
class StreamRow:
    """A delivery stream as DescribeDeliveryStream tells it, its S3 destination flattened —
    for an HTTP endpoint stream, its S3 backup, the endpoint in ``http`` and the hints the
    endpoint's."""

    name: str
    arn: str
    status: str
    created: str
    bucket: str  # the bucket's name, read from its ARN
    prefix: str
    error_prefix: str
    size_mb: int
    interval_seconds: int
    compression: str
    role_arn: str
    kms_key_arn: str  # the objects' key ("" : the bucket's default encryption)
    sse_status: str  # the stream's own encryption setting (Start/StopDeliveryStreamEncryption)
    sse_key_type: str
    sse_key_arn: str
    version: str  # VersionId, which UpdateDestination names as the version it changes
    destination_id: str
    http: HttpEndpointRow | None = None  # an HTTP endpoint destination (None: an S3 one)
    # Decision 0270: the destination's error logging (an HTTP endpoint's own), partitioning.
    logging: LoggingRow = field(default_factory=LoggingRow)
    partitioning: PartitioningRow | None = None
    processors: ProcessorsRow = field(default_factory=ProcessorsRow)  # decision 0359
    # Decision 0367: an Extended S3 destination's S3BackupMode ("" : an HTTP endpoint's,
    # in ``http``), and its backup when described.
    backup_mode: str = ""
    backup: BackupRow | None = None
    # Decision 0388: the S3 backup's own BufferingHints (an HTTP endpoint's S3Configuration,
    # an S3 destination's source record backup; 0: none described).
    backup_size_mb: int = 0
    backup_interval_seconds: int = 0


@dataclass(frozen=True, slots=True)
class NewStream:
    """What the console's form makes: a Direct PUT stream into an extended S3 destination."""

    name: str
    bucket: str
    role_arn: str
    prefix: str
    error_prefix: str
    size_mb: str  # as typed: Firehose checks the bounds and answers in its words
    interval_seconds: str
    gzip: bool
    kms_key_arn: str = ""  # the objects' key ("" : the bucket's default encryption)
    http: NewHttpEndpoint | None = None  # an HTTP endpoint, the bucket its backup's
    logging: LoggingRow | None = None  # error logging (None: not sent, off)
    partitioning: NewPartitioning | None = None  # an S3 stream's dynamic partitioning
    processors: ProcessorsForm | None = None  # the destination's processors (decision 0359)
    backup: NewBackup | None = None  # an S3 stream's source record backup (decision 0367)
    # The S3 backup's own hints, as typed (decision 0388; both empty: not sent).
    backup_size_mb: str = ""
    backup_interval_seconds: str = ""


def backup_hints(size_mb: str, interval_seconds: str) -> dict[str, Any]:
    """An S3 backup's own ``BufferingHints`` as typed (Firehose checks the bounds, 1-128 MiB
    and 60-900 s, and answers in its words); none when both are empty (AWS's defaults)."""
    if not size_mb.strip() and not interval_seconds.strip():
        return {}
    return {"BufferingHints": {"SizeInMBs": _number(size_mb),
                               "IntervalInSeconds": _number(interval_seconds)}}  # fmt: skip


@dataclass(frozen=True, slots=True)
class NewBackup:
    """The source record backup the creation form asks of an S3 stream (decision 0367):
    ``S3BackupMode`` ``Enabled`` into this bucket as the stream's role."""

    bucket: str
    prefix: str = ""
    error_prefix: str = ""


@dataclass(frozen=True, slots=True)
class NewHttpEndpoint:
    """An HTTP endpoint destination as the creation form gives it; the bucket, prefixes and
    key of the stream's form are its S3 backup's."""

    url: str
    name: str
    access_key: str  # "" : none, or the secret's
    secret_arn: str  # "" : no Secrets Manager secret
    gzip: bool
    retry_seconds: str  # as typed: Firehose checks the bounds and answers in its words
    backup_mode: str


@dataclass(frozen=True, slots=True)
class DestinationUpdate:
    """What the console's destination form changes (UpdateDestination's
    ``ExtendedS3DestinationUpdate``): every field is sent, so the form is the destination."""

    prefix: str
    error_prefix: str
    size_mb: str  # as typed: Firehose checks the bounds and answers in its words
    interval_seconds: str
    compression: str  # UNCOMPRESSED or GZIP (Firehose refuses another in its words)
    kms_key_arn: str  # "" : the bucket's default encryption (NoEncryptionConfig)


def _encryption(kms_key_arn: str) -> dict[str, Any]:
    """An S3 destination's ``EncryptionConfiguration`` for the objects' key ("" : none)."""
    if kms_key_arn:
        return {"KMSEncryptionConfig": {"AWSKMSKeyARN": kms_key_arn}}
    return {"NoEncryptionConfig": "NoEncryption"}


def _number(text: str) -> int | str:
    """A typed number as a number, else as typed (Firehose refuses it in its words)."""
    stripped = text.strip()
    return int(stripped) if stripped.isdigit() else stripped


_KEY_IN_PREFIX: Final = re.compile(r"!\{partitionKeyFromQuery:([^}]*)\}")


def _logging(described: Any) -> LoggingRow:
    options = _mapping(described)
    return LoggingRow(
        enabled=options.get("Enabled") is True,
        group=str(options.get("LogGroupName") or ""),
        stream=str(options.get("LogStreamName") or ""),
    )


def _partitioning(s3: dict[str, Any]) -> PartitioningRow | None:
    dynamic = _mapping(s3.get("DynamicPartitioningConfiguration"))
    if not dynamic:
        return None
    query = ""
    processors = _mapping(s3.get("ProcessingConfiguration")).get("Processors")
    for processor in processors if isinstance(processors, list) else []:
        for parameter in _mapping(processor).get("Parameters") or []:
            if _mapping(parameter).get("ParameterName") == "MetadataExtractionQuery":
                query = str(_mapping(parameter).get("ParameterValue", ""))
    retry = _mapping(dynamic.get("RetryOptions")).get("DurationInSeconds")
    keys = dict.fromkeys(_KEY_IN_PREFIX.findall(str(s3.get("Prefix") or "")))
    return PartitioningRow(
        enabled=dynamic.get("Enabled") is True,
        retry_seconds=retry if isinstance(retry, int) else 0,
        query=query,
        keys=tuple(keys),
    )


def _partitioning_configuration(partitioning: NewPartitioning) -> dict[str, Any]:
    """DynamicPartitioningConfiguration and its ProcessingConfiguration: the JQ query
    (MetadataExtraction, JQ-1.6), a newline appended when asked."""
    processors: list[dict[str, Any]] = [{
        "Type": "MetadataExtraction",
        "Parameters": [
            {"ParameterName": "MetadataExtractionQuery", "ParameterValue": partitioning.query},
            {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"},
        ],
    }]  # fmt: skip
    if partitioning.append_newline:
        processors.append({"Type": "AppendDelimiterToRecord", "Parameters": []})
    return {
        "DynamicPartitioningConfiguration": {"Enabled": True},
        "ProcessingConfiguration": {"Enabled": True, "Processors": processors},
    }


def _http(described: dict[str, Any]) -> HttpEndpointRow:
    endpoint = _mapping(described.get("EndpointConfiguration"))
    retry = _mapping(described.get("RetryOptions")).get("DurationInSeconds")
    secrets = _mapping(described.get("SecretsManagerConfiguration"))
    attributes = _mapping(described.get("RequestConfiguration")).get("CommonAttributes")
    return HttpEndpointRow(
        url=str(endpoint.get("Url", "")),
        name=str(endpoint.get("Name") or ""),
        content_encoding=str(
            _mapping(described.get("RequestConfiguration")).get("ContentEncoding") or "NONE"
        ),
        retry_seconds=retry if isinstance(retry, int) else 0,
        backup_mode=str(described.get("S3BackupMode", "")),
        role_arn=str(described.get("RoleARN") or ""),
        secret_arn=str(secrets.get("SecretARN") or "") if secrets.get("Enabled") else "",
        common_attributes=tuple(
            (str(_mapping(a).get("AttributeName", "")), str(_mapping(a).get("AttributeValue", "")))
            for a in (attributes if isinstance(attributes, list) else [])
        ),
    )


def _backup(extended: dict[str, Any]) -> BackupRow | None:
    described = _mapping(extended.get("S3BackupDescription"))
    if not described:
        return None
    return BackupRow(
        bucket=str(described.get("BucketARN", "")).removeprefix(_BUCKET_ARN),
        prefix=str(described.get("Prefix") or ""),
        error_prefix=str(described.get("ErrorOutputPrefix") or ""),
        role_arn=str(described.get("RoleARN") or ""),
    )


def _stream(description: dict[str, Any]) -> StreamRow:
    destinations = description.get("Destinations")
    first = _mapping(destinations[0]) if isinstance(destinations, list) and destinations else {}
    endpoint = _mapping(first.get("HttpEndpointDestinationDescription"))
    s3 = _mapping(
        first.get("ExtendedS3DestinationDescription")
        or first.get("S3DestinationDescription")
        or endpoint.get("S3DestinationDescription")  # an HTTP endpoint's backup
    )
    extended = _mapping(first.get("ExtendedS3DestinationDescription"))
    hints = _mapping((endpoint or s3).get("BufferingHints"))
    kept_hints = _mapping(
        (s3 if endpoint else _mapping(extended.get("S3BackupDescription"))).get("BufferingHints")
    )
    kms = _mapping(_mapping(s3.get("EncryptionConfiguration")).get("KMSEncryptionConfig"))
    sse = _mapping(description.get("DeliveryStreamEncryptionConfiguration"))
    bucket = str(s3.get("BucketARN", ""))
    size, interval = hints.get("SizeInMBs"), hints.get("IntervalInSeconds")
    return StreamRow(
        name=str(description.get("DeliveryStreamName", "")),
        arn=str(description.get("DeliveryStreamARN", "")),
        status=str(description.get("DeliveryStreamStatus", "")),
        created=_when(description.get("CreateTimestamp")),
        bucket=bucket.removeprefix(_BUCKET_ARN),
        prefix=str(s3.get("Prefix") or ""),
        error_prefix=str(s3.get("ErrorOutputPrefix") or ""),
        size_mb=size if isinstance(size, int) else 0,
        interval_seconds=interval if isinstance(interval, int) else 0,
        compression=str(s3.get("CompressionFormat", "")),
        role_arn=str(s3.get("RoleARN", "")),
        kms_key_arn=str(kms.get("AWSKMSKeyARN", "")),
        sse_status=str(sse.get("Status", "")),
        sse_key_type=str(sse.get("KeyType", "")),
        sse_key_arn=str(sse.get("KeyARN", "")),
        version=str(description.get("VersionId", "")),
        destination_id=str(first.get("DestinationId", "")),
        http=_http(endpoint) if endpoint else None,
        logging=_logging((endpoint or s3).get("CloudWatchLoggingOptions")),
        partitioning=_partitioning(s3) if not endpoint else None,
        processors=processors_row(endpoint or s3, str((endpoint or s3).get("RoleARN") or "")),
        backup_mode=str(extended.get("S3BackupMode") or "Disabled") if extended else "",
        backup=_backup(extended),
        backup_size_mb=_integer(kept_hints.get("SizeInMBs")),
        backup_interval_seconds=_integer(kept_hints.get("IntervalInSeconds")),
    )


def _integer(value: Any) -> int:
    return value if isinstance(value, int) else 0


def _http_configuration(
    http: NewHttpEndpoint, backup: dict[str, Any], own_hints: dict[str, Any]
) -> dict[str, Any]:
    """``HttpEndpointDestinationConfiguration``: the endpoint, the form's hints as the
    endpoint's, the bucket's configuration as its ``S3Configuration`` with its own hints
    (``own_hints``, decision 0388; uncompressed: the compression asked is the requests'
    content encoding)."""
    endpoint: dict[str, Any] = {"Url": http.url}
    if http.name:
        endpoint["Name"] = http.name
    if http.access_key and not http.secret_arn:
        endpoint["AccessKey"] = http.access_key
    hints = backup.pop("BufferingHints")
    backup.pop("CompressionFormat")
    backup |= own_hints
    configuration: dict[str, Any] = {
        "EndpointConfiguration": endpoint,
        "BufferingHints": hints,
        "RequestConfiguration": {"ContentEncoding": "GZIP" if http.gzip else "NONE"},
        "RetryOptions": {"DurationInSeconds": _number(http.retry_seconds)},
        "S3BackupMode": http.backup_mode,
        "RoleARN": backup["RoleARN"],
        "S3Configuration": backup,
    }
    if http.secret_arn:
        configuration["SecretsManagerConfiguration"] = {
            "Enabled": True, "SecretARN": http.secret_arn}  # fmt: skip
    return configuration


class FirehoseWire(JsonWire):
    """The delivery stream calls the console makes (``Firehose_20150804`` JSON 1.1), as
    ``principal``."""

    target_prefix = "Firehose_20150804."
    content_type = "application/x-amz-json-1.1"
    internal_error = "ServiceUnavailableException"

    async def names(
        self, origin: Scope, principal: Principal, *, after: str | None, limit: int
    ) -> tuple[list[str], bool]:
        """One page of ListDeliveryStreams, after the name ``after``; whether more follow."""
        payload: dict[str, Any] = {"Limit": limit}
        if after:
            payload["ExclusiveStartDeliveryStreamName"] = after
        answer = await self._json(origin, principal, "ListDeliveryStreams", payload)
        listed = answer.get("DeliveryStreamNames")
        names = [str(n) for n in listed] if isinstance(listed, list) else []
        return names, answer.get("HasMoreDeliveryStreams") is True

    async def describe(self, origin: Scope, principal: Principal, name: str) -> StreamRow:
        answer = await self._json(
            origin, principal, "DescribeDeliveryStream", {"DeliveryStreamName": name}
        )
        return _stream(_mapping(answer.get("DeliveryStreamDescription")))

    async def tags(self, origin: Scope, principal: Principal, name: str) -> list[tuple[str, str]]:
        """ListTagsForDeliveryStream's first 50 tags (AWS's page bound)."""
        answer = await self._json(
            origin, principal, "ListTagsForDeliveryStream",
            {"DeliveryStreamName": name, "Limit": 50},
        )  # fmt: skip
        listed = answer.get("Tags")
        return [
            (str(t.get("Key", "")), str(t.get("Value", "")))
            for t in (listed if isinstance(listed, list) else [])
            if isinstance(t, dict)
        ]

    async def create(
        self,
        origin: Scope,
        principal: Principal,
        stream: NewStream,
        tags: Sequence[tuple[str, str]] = (),
    ) -> str:
        """CreateDeliveryStream (Direct PUT, ExtendedS3DestinationConfiguration, or
        HttpEndpointDestinationConfiguration with the bucket as its backup); empty prefixes are
        not sent. The stream's ARN."""
        destination: dict[str, Any] = {
            "RoleARN": stream.role_arn,
            "BucketARN": f"{_BUCKET_ARN}{stream.bucket}",
            "BufferingHints": {
                "SizeInMBs": _number(stream.size_mb),
                "IntervalInSeconds": _number(stream.interval_seconds),
            },
            "CompressionFormat": "GZIP" if stream.gzip else "UNCOMPRESSED",
        }
        if stream.prefix:
            destination["Prefix"] = stream.prefix
        if stream.error_prefix:
            destination["ErrorOutputPrefix"] = stream.error_prefix
        if stream.kms_key_arn:
            destination["EncryptionConfiguration"] = _encryption(stream.kms_key_arn)
        if stream.partitioning is not None and stream.http is None:
            destination.update(_partitioning_configuration(stream.partitioning))
        if stream.backup is not None and stream.http is None:
            destination["S3BackupMode"] = "Enabled"
            destination["S3BackupConfiguration"] = {
                "RoleARN": stream.role_arn,
                "BucketARN": f"{_BUCKET_ARN}{stream.backup.bucket}",
                # Its own hints (decision 0388), AWS's defaults when none typed.
                **backup_hints(stream.backup_size_mb, stream.backup_interval_seconds),
                **({"Prefix": stream.backup.prefix} if stream.backup.prefix else {}),
                **({"ErrorOutputPrefix": stream.backup.error_prefix}
                   if stream.backup.error_prefix else {}),
            }  # fmt: skip
        payload: dict[str, Any] = {
            "DeliveryStreamName": stream.name,
            "DeliveryStreamType": "DirectPut",
        }
        if stream.http is None:
            payload["ExtendedS3DestinationConfiguration"] = destination
        else:
            payload["HttpEndpointDestinationConfiguration"] = _http_configuration(
                stream.http,
                destination,
                backup_hints(stream.backup_size_mb, stream.backup_interval_seconds),
            )
        member = next(k for k in payload if k.endswith("DestinationConfiguration"))
        if stream.logging is not None:  # the destination's: the endpoint's, or the bucket's
            payload[member]["CloudWatchLoggingOptions"] = stream.logging.payload()
        if stream.processors is not None and stream.processors.wanted:  # the whole list
            payload[member]["ProcessingConfiguration"] = processing_configuration(stream.processors)
        if tags:
            payload["Tags"] = [{"Key": k, "Value": v} for k, v in tags]
        answer = await self._json(origin, principal, "CreateDeliveryStream", payload)
        return str(answer.get("DeliveryStreamARN", ""))

    async def delete(self, origin: Scope, principal: Principal, name: str) -> None:
        await self._json(origin, principal, "DeleteDeliveryStream", {"DeliveryStreamName": name})

    async def update_destination(
        self,
        origin: Scope,
        principal: Principal,
        name: str,
        *,
        version: str,
        destination_id: str,
        update: DestinationUpdate,
    ) -> None:
        """UpdateDestination of the version the page showed (a change made meanwhile is
        Firehose's ConcurrentModificationException); empty prefixes are sent empty, so
        they are cleared."""
        destination = {
            "Prefix": update.prefix,
            "ErrorOutputPrefix": update.error_prefix,
            "BufferingHints": {
                "SizeInMBs": _number(update.size_mb),
                "IntervalInSeconds": _number(update.interval_seconds),
            },
            "CompressionFormat": update.compression,
            "EncryptionConfiguration": _encryption(update.kms_key_arn),
        }
        payload = {
            "DeliveryStreamName": name,
            "CurrentDeliveryStreamVersionId": version,
            "DestinationId": destination_id,
            "ExtendedS3DestinationUpdate": destination,
        }
        await self._json(origin, principal, "UpdateDestination", payload)

    async def set_logging(
        self, origin: Scope, principal: Principal, name: str, *, version: str,
        destination_id: str, logging: LoggingRow, http: bool,
    ) -> None:  # fmt: skip
        """UpdateDestination of the version the page showed, its error logging only (the
        rest of the destination kept): an HTTP endpoint's, or the S3 destination's."""
        member = "HttpEndpointDestinationUpdate" if http else "ExtendedS3DestinationUpdate"
        payload = {
            "DeliveryStreamName": name,
            "CurrentDeliveryStreamVersionId": version,
            "DestinationId": destination_id,
            member: {"CloudWatchLoggingOptions": logging.payload()},
        }
        await self._json(origin, principal, "UpdateDestination", payload)

    async def update_member(
        self, origin: Scope, principal: Principal, name: str, *, version: str,
        destination_id: str, member: str, fields: dict[str, Any],
    ) -> None:  # fmt: skip
        """UpdateDestination of the version the page showed with ``fields`` as its
        ``member`` (``ExtendedS3DestinationUpdate`` or ``HttpEndpointDestinationUpdate``):
        Firehose keeps what they leave out."""
        payload = {
            "DeliveryStreamName": name,
            "CurrentDeliveryStreamVersionId": version,
            "DestinationId": destination_id,
            member: fields,
        }
        await self._json(origin, principal, "UpdateDestination", payload)

    async def tag(
        self, origin: Scope, principal: Principal, name: str, tags: Sequence[tuple[str, str]]
    ) -> None:
        payload = {"DeliveryStreamName": name, "Tags": [{"Key": k, "Value": v} for k, v in tags]}
        await self._json(origin, principal, "TagDeliveryStream", payload)

    async def untag(self, origin: Scope, principal: Principal, name: str, key: str) -> None:
        payload = {"DeliveryStreamName": name, "TagKeys": [key]}
        await self._json(origin, principal, "UntagDeliveryStream", payload)

    async def start_encryption(
        self, origin: Scope, principal: Principal, name: str, key_arn: str
    ) -> None:
        """StartDeliveryStreamEncryption under a customer key (its ARN), or Firehose's own
        key (``AWS_OWNED_CMK``) when ``key_arn`` is empty."""
        configuration: dict[str, str] = (
            {"KeyType": "CUSTOMER_MANAGED_CMK", "KeyARN": key_arn}
            if key_arn
            else {"KeyType": "AWS_OWNED_CMK"}
        )
        payload = {
            "DeliveryStreamName": name,
            "DeliveryStreamEncryptionConfigurationInput": configuration,
        }
        await self._json(origin, principal, "StartDeliveryStreamEncryption", payload)

    async def stop_encryption(self, origin: Scope, principal: Principal, name: str) -> None:
        payload = {"DeliveryStreamName": name}
        await self._json(origin, principal, "StopDeliveryStreamEncryption", payload)

    async def put_record(
        self, origin: Scope, principal: Principal, name: str, data: bytes
    ) -> tuple[str, bool]:
        """PutRecord of ``data``: the record's id, and whether the stream encrypted it."""
        payload = {"DeliveryStreamName": name, "Record": {"Data": base64.b64encode(data).decode()}}
        answer = await self._json(origin, principal, "PutRecord", payload)
        return str(answer.get("RecordId", "")), answer.get("Encrypted") is True

    async def put_batch(
        self, origin: Scope, principal: Principal, name: str, datas: Sequence[bytes]
    ) -> BatchAnswer:
        """PutRecordBatch of ``datas``, sent whatever their number and size: Firehose checks
        its bounds (1 to 500 records, 4 MiB) and answers in its words; a record it refuses
        alone is counted in ``failed`` with its code."""
        records = [{"Data": base64.b64encode(data).decode()} for data in datas]
        answer = await self._json(
            origin, principal, "PutRecordBatch", {"DeliveryStreamName": name, "Records": records}
        )
        listed = answer.get("RequestResponses")
        responses = [_mapping(r) for r in listed] if isinstance(listed, list) else []
        failed = answer.get("FailedPutCount")
        codes = dict.fromkeys(str(r["ErrorCode"]) for r in responses if r.get("ErrorCode"))
        return BatchAnswer(
            put=sum(1 for r in responses if r.get("RecordId")),
            failed=failed if isinstance(failed, int) else len(codes),
            encrypted=answer.get("Encrypted") is True,
            codes=tuple(codes),
        )
