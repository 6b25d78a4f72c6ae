"""Amazon Data Firehose's pure core (decision 0223): delivery streams into S3, their buffering
hints and object keys, the records they buffer, and the ports the service is built on.

A Direct PUT stream buffers the records it is given until its size hint (``SizeInMBs``) or
its interval hint (``IntervalInSeconds``) is reached, then writes them, concatenated as they
came (no separator added, as AWS), into one object of its bucket named
``<Prefix>YYYY/MM/DD/HH/<stream>-<version>-YYYY-MM-DD-HH-MM-SS-<uuid>`` (UTC, the oldest
record's arrival; ``.gz`` when GZIP). A prefix with ``!{timestamp:…}`` or
``!{firehose:random-string}`` expressions is evaluated instead, and gets no time folders,
as AWS does (its "custom prefixes"). A ``KinesisStreamAsSource`` stream (decision 0235)
buffers what its reader reads from its :class:`KinesisSource` instead, through the
:class:`SourceStreams` port, and refuses puts.

:class:`RecordSink` is the port other services put records through (CloudWatch Logs
subscription filters, SNS ``firehose`` subscriptions, metric streams, later): the service
implements it, addressed by the stream's ARN.
"""

from __future__ import annotations

import base64
import enum
import json
import re
import secrets
import string
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Protocol

from andromede.firehose.errors import InvalidArgument

__all__ = [
    "COMPRESSIONS",
    "COPY_PENDING",
    "CUSTOMER_MANAGED_CMK",
    "DEFAULT_INTERVAL_SECONDS",
    "DEFAULT_SIZE_MB",
    "KINESIS_RECORD",
    "LAMBDA_KEY",
    "MIB",
    "SSE_DISABLED",
    "SSE_DISABLING",
    "SSE_ENABLED",
    "SSE_ENABLING",
    "SSE_ENABLING_FAILED",
    "BufferedRecord",
    "DeliveryFailed",
    "DeliveryStream",
    "HttpEndpoint",
    "KinesisMetadata",
    "KinesisSource",
    "LambdaProcessor",
    "LoggingOptions",
    "NewRecord",
    "Partitioning",
    "PutResult",
    "RecordSealer",
    "RecordSink",
    "S3Destination",
    "S3Writer",
    "SourcePage",
    "SourceRecord",
    "SourceShard",
    "SourceStreams",
    "StreamKeyCheck",
    "StreamStatus",
    "check_prefixes",
    "error_object_key",
    "failure_lines",
    "kinesis_metadata",
    "kinesis_record_id",
    "kinesis_user_record_id",
    "new_record_id",
    "object_key",
    "stream_arn",
]

MIB: Final = 1024 * 1024
DEFAULT_SIZE_MB: Final = 5
DEFAULT_INTERVAL_SECONDS: Final = 300
COMPRESSIONS: Final = ("UNCOMPRESSED", "GZIP")
# The record ids of an acknowledged HTTP endpoint batch buffered again for its AllData copy
# only (decision 0270): never sent to the endpoint again.
COPY_PENDING: Final = "allDataCopy:"
# The error output type of records this platform could not deliver (AWS's word for it).
ERROR_OUTPUT_TYPE: Final = "processing-failed"
# How a partition key a Lambda processor gave is told apart from a query's (decision 0315).
LAMBDA_KEY: Final = "lambda:"
_EXPRESSION: Final = re.compile(r"!\{([A-Za-z]+):([^}]*)\}")
# The java.time letters AWS's timestamp expressions use, as strftime spells them.
_TIME_LETTERS: Final = (
    ("yyyy", "%Y"),
    ("yy", "%y"),
    ("MM", "%m"),
    ("dd", "%d"),
    ("HH", "%H"),
    ("mm", "%M"),
    ("ss", "%S"),
)


SSE_ENABLED: Final = "ENABLED"
SSE_ENABLING: Final = "ENABLING"
SSE_ENABLING_FAILED: Final = "ENABLING_FAILED"
SSE_DISABLED: Final = "DISABLED"
SSE_DISABLING: Final = "DISABLING"
CUSTOMER_MANAGED_CMK: Final = "CUSTOMER_MANAGED_CMK"


class StreamStatus(enum.Enum):
    CREATING = "CREATING"
    ACTIVE = "ACTIVE"
    DELETING = "DELETING"


@dataclass(frozen=True, slots=True)
class LoggingOptions:
    """``CloudWatchLoggingOptions`` (decision 0270): where a destination's delivery errors are
    written, as its role, when ``enabled``."""

    enabled: bool = False
    group: str | None = None
    stream: str | None = None


@dataclass(frozen=True, slots=True)
class LambdaProcessor:
    """The ``Lambda`` processor of a ``ProcessingConfiguration`` (decision 0315): the function
    a batch's records are transformed by, invoked as ``role_arn`` (None: the destination's
    role), retried ``retries`` times; its invocations at most ``buffer_size_mb`` (AWS's
    ``BufferSizeInMBs``, 0.2-3)."""

    function_arn: str
    retries: int = 3
    role_arn: str | None = None
    buffer_size_mb: float = 1.0
    buffer_interval_seconds: int = 60
    given: tuple[str, ...] = ()  # the parameters given, described back as given


@dataclass(frozen=True, slots=True)
class Partitioning:
    """Extended S3's dynamic partitioning and its record processors (decision 0270):
    ``DynamicPartitioningConfiguration`` (``enabled``, ``retry_seconds``) and the
    ``ProcessingConfiguration`` processors ``MetadataExtraction`` (``query``, a JQ
    expression), ``RecordDeAggregation`` (``deaggregation`` JSON or DELIMITED, its
    ``deaggregation_delimiter``) and ``AppendDelimiterToRecord`` (``append_delimiter``)."""

    enabled: bool = False
    retry_seconds: int = 300
    processing: bool = False  # ProcessingConfiguration.Enabled
    query: str | None = None
    deaggregation: str | None = None
    deaggregation_delimiter: bytes = b"\n"
    append_delimiter: bytes | None = None
    processors: tuple[str, ...] = ()  # the processors' types, in the order given
    configured: bool = False  # DynamicPartitioningConfiguration given (then described back)
    transform: LambdaProcessor | None = None  # the Lambda processor (decision 0315)
    # CloudWatch Logs records (decision 0334): ``Decompression``'s CompressionFormat (GZIP;
    # None: the processor is absent) and ``CloudWatchLogProcessing``'s DataMessageExtraction
    # (None: the processor is absent).
    decompression: str | None = None
    message_extraction: bool | None = None


@dataclass(frozen=True, slots=True)
class S3Destination:
    """An (Extended)S3DestinationConfiguration as the stream keeps it."""

    role_arn: str
    bucket_arn: str
    prefix: str = ""
    error_output_prefix: str = ""
    size_mb: int = DEFAULT_SIZE_MB
    interval_seconds: int = DEFAULT_INTERVAL_SECONDS
    compression: str = "UNCOMPRESSED"
    kms_key_arn: str | None = None  # EncryptionConfiguration.KMSEncryptionConfig
    extended: bool = True
    file_extension: str | None = None  # Extended S3's FileExtension, instead of ``.gz``
    logging: LoggingOptions = LoggingOptions()  # decision 0270
    partitioning: Partitioning | None = None  # Extended S3 only (decision 0270)
    # Extended S3's source record backup (S3BackupMode Enabled, decision 0367): where each
    # batch is copied as it arrived, before any processor (None: Disabled).
    backup: S3Destination | None = None

    @property
    def bucket(self) -> str:
        return self.bucket_arn.removeprefix("arn:aws:s3:::")

    @property
    def size_bytes(self) -> int:
        return self.size_mb * MIB


@dataclass(frozen=True, slots=True)
class HttpEndpoint:
    """An HttpEndpointDestinationConfiguration as the stream keeps it (decision 0250); its
    S3Configuration (the backup bucket) is the stream's :class:`S3Destination`.

    ``access_key`` is the AccessKey sealed under the account's key ring, bound to the
    stream (``firehose.http_endpoint``), never the text itself; a Secrets Manager secret
    (``secret_arn``, read as ``secret_role_arn`` or the destination's role) replaces it when
    ``secret_enabled``."""

    url: str
    name: str | None = None
    access_key: bytes | None = None
    secret_arn: str | None = None
    secret_role_arn: str | None = None
    secret_enabled: bool = False
    content_encoding: str = "NONE"
    common_attributes: tuple[tuple[str, str], ...] = ()
    size_mb: int = DEFAULT_SIZE_MB
    interval_seconds: int = DEFAULT_INTERVAL_SECONDS
    retry_seconds: int = 300  # RetryOptions.DurationInSeconds (AWS's default)
    backup_mode: str = "FailedDataOnly"
    role_arn: str | None = None
    logging: LoggingOptions = LoggingOptions()  # decision 0270
    transform: LambdaProcessor | None = None  # ProcessingConfiguration's Lambda (0315)
    # ProcessingConfiguration's CloudWatch Logs processors (decision 0342): ``Decompression``'s
    # CompressionFormat and ``CloudWatchLogProcessing``'s DataMessageExtraction (None: the
    # processor is absent), and the enabled processors' types in the order given.
    decompression: str | None = None
    message_extraction: bool | None = None
    processors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class KinesisSource:
    """A ``KinesisStreamAsSource`` stream's source (decision 0235): the Kinesis data stream it
    reads as ``role_arn``, from ``delivery_start`` (ms: its creation, as AWS starts reading
    at the stream's LATEST position then)."""

    stream_arn: str
    role_arn: str
    delivery_start: int


@dataclass(frozen=True, slots=True)
class DeliveryStream:
    tenant_id: str
    name: str
    region: str
    status: StreamStatus
    version: int  # VersionId: one more at each UpdateDestination
    created: int  # ms
    updated: int  # ms
    destination: S3Destination
    tags: tuple[tuple[str, str], ...] = ()
    # The server-side encryption asked for (CreateDeliveryStream's or
    # StartDeliveryStreamEncryption's "AWS_OWNED_CMK" / "CUSTOMER_MANAGED_CMK" and key), or
    # None once stopped; its Status (ENABLING, ENABLED, ENABLING_FAILED, DISABLING, DISABLED)
    # and the last failure's FailureDescription (Type, Details). ``sealing_key_arn`` is the
    # customer-managed key new records are sealed under once ENABLED (None: the account's key
    # ring); each buffered record names the key that sealed it (decision 0223's addendum).
    sse_key_type: str | None = None
    sse_key_arn: str | None = None
    sse_status: str = SSE_DISABLED
    sse_failure: tuple[str, str] | None = None
    sealing_key_arn: str | None = None
    revision: int = 1  # every write's compare-and-set
    # The delivery's failing streak: since when (ms), and when the next attempt is due.
    failing_since: int | None = None
    next_attempt: int = 0
    source: KinesisSource | None = None  # None: Direct PUT
    # An HTTP endpoint destination (decision 0250): ``destination`` is then its S3 backup.
    http: HttpEndpoint | None = None

    @property
    def arn(self) -> str:
        return stream_arn(self.region, self.tenant_id, self.name)

    @property
    def size_bytes(self) -> int:
        """The buffer's size hint: the HTTP endpoint's, else the bucket's."""
        return self.destination.size_bytes if self.http is None else self.http.size_mb * MIB

    @property
    def interval_seconds(self) -> int:
        """The buffer's interval hint: the HTTP endpoint's, else the bucket's."""
        if self.http is None:
            return self.destination.interval_seconds
        return self.http.interval_seconds

    @property
    def transform(self) -> LambdaProcessor | None:
        """The Lambda processor its batches go through before delivery (decision 0315)."""
        if self.http is not None:
            return self.http.transform
        partitioning = self.destination.partitioning
        if partitioning is None or not partitioning.processing:
            return None
        return partitioning.transform

    @property
    def log_processing(self) -> Partitioning | None:
        """The processing whose ``Decompression`` processor gunzips its CloudWatch Logs
        records before anything else (decision 0334); None: the records are kept as put."""
        if self.http is not None:  # decision 0342
            if self.http.decompression is None:
                return None
            return Partitioning(
                processing=True,
                decompression=self.http.decompression,
                message_extraction=self.http.message_extraction,
            )
        partitioning = self.destination.partitioning
        if partitioning is None or not partitioning.processing or not partitioning.decompression:
            return None
        return partitioning

    @property
    def kind(self) -> str:
        """DeliveryStreamType."""
        return "DirectPut" if self.source is None else "KinesisStreamAsSource"

    @property
    def encrypted(self) -> bool:
        """PutRecord's ``Encrypted``: whether a record put now is under the stream's SSE
        (not while ENABLING, as AWS; still while DISABLING, and under the key kept when a
        change of key failed)."""
        return self.sse_status in (SSE_ENABLED, SSE_DISABLING) or self.sealing_key_arn is not None


@dataclass(frozen=True, slots=True)
class NewRecord:
    record_id: str
    data: bytes


@dataclass(frozen=True, slots=True)
class BufferedRecord:
    seq: int
    record_id: str
    arrived: int  # ms
    size: int  # the plaintext's bytes
    sealed: bytes


@dataclass(frozen=True, slots=True)
class PutResult:
    """One record's answer: its RecordId, or AWS's error code and message."""

    record_id: str | None
    error_code: str | None = None
    error_message: str | None = None


class DeliveryFailed(Exception):
    """The destination refused a write: ``code`` as AWS's delivery errors name them
    (``S3.AccessDenied``, ``S3.NoSuchBucket``, ``S3.KMS.KeyDisabled``…)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class RecordSealer(Protocol):
    async def seal(self, stream: DeliveryStream, records: Sequence[NewRecord]) -> list[bytes]:
        """Each record's data sealed under one data key of the stream's sealing key (its
        customer-managed key once ENABLED, else the account's key ring), bound to the stream
        and its record id; each sealed record names what sealed it."""
        ...

    async def open(
        self, stream: DeliveryStream, records: Sequence[BufferedRecord]
    ) -> list[bytes]: ...


class StreamKeyCheck(Protocol):
    """A stream's customer-managed key, as Firehose checks it (errors: ``KmsResourceError``,
    ``InvalidArgument`` for a key Firehose does not take)."""

    async def authorise(self, stream: DeliveryStream, key_arn: str, caller: object) -> None:
        """That ``caller`` (the wire layer's KMS caller of CreateDeliveryStream or
        StartDeliveryStreamEncryption) may ``kms:CreateGrant`` and ``kms:DescribeKey`` on the
        key, an enabled symmetric encryption key of the stream's account's Region."""
        ...

    async def usable(self, stream: DeliveryStream, key_arn: str) -> None:
        """That Firehose may use the key now (enabled, not pending deletion)."""
        ...


class S3Writer(Protocol):
    async def check(self, stream: DeliveryStream) -> None:
        """InvalidArgument unless the role is the account's and trusts Firehose."""
        ...

    async def write(self, stream: DeliveryStream, key: str, body: bytes, content_type: str) -> None:
        """``body`` into the stream's bucket at ``key``, as the stream's role
        (:class:`DeliveryFailed` when it may not, or the bucket is gone)."""
        ...


class RecordSink(Protocol):
    """What another service puts records through into a delivery stream of its account."""

    async def put_records(
        self, tenant_id: str, stream_arn: str, records: Sequence[bytes], *, from_logs: bool = False
    ) -> list[PutResult]:
        """``from_logs``: CloudWatch Logs' subscription records, the only ones a stream that
        decompresses them takes (AWS's ``InvalidSourceException``, decision 0334)."""
        ...


def stream_arn(region: str, tenant_id: str, name: str) -> str:
    return f"arn:aws:firehose:{region}:{tenant_id}:deliverystream/{name}"


def new_record_id() -> str:
    """An opaque RecordId (AWS's are 224 bits of base-62ish text)."""
    return secrets.token_hex(28)


def check_prefixes(
    prefix: str,
    error_prefix: str,
    partition_keys: frozenset[str] | None = None,
    from_lambda: bool = False,
) -> None:
    """AWS's rules on custom prefixes: known expressions only, ``error-output-type`` only in
    the error prefix, and an error prefix whenever the prefix has expressions. With dynamic
    partitioning (``partition_keys``: the keys its query makes, decision 0270), the prefix
    takes ``!{partitionKeyFromQuery:k}`` of those keys, and ``!{partitionKeyFromLambda:k}``
    when a Lambda processor gives keys (``from_lambda``, decision 0315), and must use one at
    least."""
    used: set[str] = set()
    for text, is_error in ((prefix, False), (error_prefix, True)):
        for namespace, argument in _EXPRESSION.findall(text):
            if namespace == "timestamp":
                _strftime(argument)
            elif namespace == "firehose" and argument == "random-string":
                pass
            elif namespace == "firehose" and argument == "error-output-type" and is_error:
                pass
            elif (
                namespace == "partitionKeyFromQuery" and partition_keys is not None and not is_error
            ):
                if argument not in partition_keys:
                    raise InvalidArgument(
                        f"The partition key {argument!r} of Prefix is not produced by the "
                        "MetadataExtractionQuery."
                    )
                used.add(argument)
            elif (
                namespace == "partitionKeyFromLambda"
                and from_lambda
                and partition_keys is not None
                and not is_error
            ):
                used.add(f"{LAMBDA_KEY}{argument}")
            elif namespace == "partitionKeyFromLambda":
                raise InvalidArgument(
                    "partitionKeyFromLambda can only be used in Prefix when dynamic "
                    "partitioning is enabled with a Lambda processor."
                )
            else:
                raise InvalidArgument(
                    f"The expression !{{{namespace}:{argument}}} is not supported in "
                    f"{'ErrorOutputPrefix' if is_error else 'Prefix'}."
                )
    if _EXPRESSION.search(prefix) and not error_prefix:
        raise InvalidArgument(
            "ErrorOutputPrefix cannot be null or empty when Prefix contains expressions."
        )
    if partition_keys is not None and not used:
        raise InvalidArgument(
            "When dynamic partitioning is enabled, Prefix must contain at least one "
            "!{partitionKeyFromQuery:…} or !{partitionKeyFromLambda:…} expression."
        )
    if partition_keys is not None and not error_prefix:
        raise InvalidArgument(
            "ErrorOutputPrefix cannot be null or empty when dynamic partitioning is enabled."
        )


def _strftime(pattern: str) -> str:
    if not pattern:
        raise InvalidArgument("The timestamp expression's format cannot be empty.")
    rest, out = pattern, []
    while rest:
        for letters, spelled in _TIME_LETTERS:
            if rest.startswith(letters):
                out.append(spelled)
                rest = rest[len(letters) :]
                break
        else:
            char = rest[0]
            if char in string.ascii_letters:
                raise InvalidArgument(
                    f"The timestamp expression's format {pattern!r} is not supported."
                )
            out.append("%%" if char == "%" else char)
            rest = rest[1:]
    return "".join(out)


def _evaluate(
    text: str, when: datetime, error_type: str, partition: Mapping[str, str] | None = None
) -> str:
    def expand(match: re.Match[str]) -> str:
        namespace, argument = match.group(1), match.group(2)
        if namespace == "timestamp":
            return when.strftime(_strftime(argument))
        if namespace == "partitionKeyFromQuery":
            return "" if partition is None else partition.get(argument, "")
        if namespace == "partitionKeyFromLambda":
            return "" if partition is None else partition.get(f"{LAMBDA_KEY}{argument}", "")
        if argument == "random-string":
            return secrets.token_hex(6)[:11]
        return error_type

    return _EXPRESSION.sub(expand, text)


def _folders(text: str, when: datetime, partition: Mapping[str, str] | None = None) -> str:
    """A prefix with its expressions evaluated; without any, followed by AWS's time folders."""
    if _EXPRESSION.search(text):
        return _evaluate(text, when, ERROR_OUTPUT_TYPE, partition)
    return f"{text}{when:%Y/%m/%d/%H}/"


def object_key(
    stream: DeliveryStream,
    first_arrival_ms: int,
    partition: Mapping[str, str] | None = None,
    unique: str | None = None,
) -> str:
    """The object's key; ``partition``: its dynamic partition's keys (decision 0270);
    ``unique``: the part that tells objects apart (a new UUID unless given: an HTTP endpoint
    batch's request id makes its ``AllData`` copy's key the same at every attempt)."""
    when = datetime.fromtimestamp(first_arrival_ms / 1000, UTC)
    destination = stream.destination
    suffix = ".gz" if destination.compression == "GZIP" else ""
    if destination.file_extension is not None:
        suffix = destination.file_extension
    return (
        f"{_folders(destination.prefix, when, partition)}{stream.name}-{stream.version}-"
        f"{when:%Y-%m-%d-%H-%M-%S}-{unique or uuid.uuid4()}{suffix}"
    )


def error_object_key(
    stream: DeliveryStream, first_arrival_ms: int, error_type: str = ERROR_OUTPUT_TYPE
) -> str:
    """Where records that could not be delivered go: the error prefix evaluated, or (no
    expression in it) followed by ``<error_type>/YYYY/MM/DD/HH/`` (``processing-failed``;
    ``http-endpoint-failed`` for an HTTP endpoint's, decision 0250)."""
    when = datetime.fromtimestamp(first_arrival_ms / 1000, UTC)
    text = stream.destination.error_output_prefix
    folders = (
        _evaluate(text, when, error_type)
        if _EXPRESSION.search(text)
        else f"{text}{error_type}/{when:%Y/%m/%d/%H}/"
    )
    return f"{folders}{stream.name}-{stream.version}-{when:%Y-%m-%d-%H-%M-%S}-{uuid.uuid4()}"


def failure_lines(
    stream: DeliveryStream,
    records: Sequence[BufferedRecord],
    opened: Sequence[bytes],
    failure: DeliveryFailed,
    attempts: int,
    now: int,
) -> bytes:
    """Undelivered records as AWS writes them into the bucket: one JSON line each, with
    AWS's fields."""
    return b"".join(
        json.dumps(
            {
                "attemptsMade": attempts,
                "arrivalTimestamp": record.arrived,
                "errorCode": failure.code,
                "errorMessage": failure.message,
                "attemptEndingTimestamp": now,
                "rawData": base64.b64encode(data).decode(),
                "deliveryStreamArn": stream.arn,
            },
            separators=(",", ":"),
        ).encode()
        + b"\n"
        for record, data in zip(records, opened, strict=True)
    )


@dataclass(frozen=True, slots=True)
class SourceShard:
    """A source shard; ``epoch`` tells apart the streams a name has had (the source stream's
    creation): a stream deleted and made again under its name numbers its records afresh, so
    its shards' checkpoints must not be its predecessor's."""

    shard_id: str
    parents: tuple[str, ...] = ()
    epoch: int = 0

    def key(self, shard_id: str | None = None) -> str:
        """Where this shard's (or one of its parents') checkpoint is kept."""
        return f"{shard_id or self.shard_id}@{self.epoch}"


@dataclass(frozen=True, slots=True)
class SourceRecord:
    sequence: str
    data: bytes
    partition_key: str = ""
    arrived: int = 0  # ms: the Kinesis record's ApproximateArrivalTimestamp


# A Kinesis source's record is buffered under an id that keeps its Kinesis metadata, for a
# Lambda processor's ``kinesisRecordMetadata`` (decision 0334; no column needed):
# ``kinesis:<shard id>:<sequence number>:<arrival ms>:<partition key in base64url>``. A KPL
# user record de-aggregated from it at delivery (decision 0342) is named after it with its own
# partition key and ``:s<subsequence number>`` (the ``s`` tells it apart from the ``:<n>`` a
# CloudWatch Logs message's id ends with, decision 0334).
KINESIS_RECORD: Final = "kinesis:"


@dataclass(frozen=True, slots=True)
class KinesisMetadata:
    """A record's ``kinesisRecordMetadata`` (decision 0334)."""

    shard_id: str
    partition_key: str
    sequence: str
    arrived: int  # ms
    subsequence: int = 0


def _key_text(partition_key: str) -> str:
    return base64.urlsafe_b64encode(partition_key.encode()).decode()


def kinesis_record_id(shard_id: str, record: SourceRecord) -> str:
    key = _key_text(record.partition_key)
    return f"{KINESIS_RECORD}{shard_id}:{record.sequence}:{record.arrived}:{key}"


def kinesis_user_record_id(record_id: str, partition_key: str, subsequence: int) -> str:
    """The id of the KPL user record ``subsequence`` of the aggregate ``record_id``."""
    shard_sequence_arrival = record_id.rsplit(":", 1)[0]
    return f"{shard_sequence_arrival}:{_key_text(partition_key)}:s{subsequence}"


def kinesis_metadata(record_id: str) -> KinesisMetadata | None:
    """A record id's Kinesis metadata; None for a record not read from a Kinesis source."""
    if not record_id.startswith(KINESIS_RECORD):
        return None
    parts = record_id.removeprefix(KINESIS_RECORD).split(":")
    if len(parts) < 4 or not parts[2].isdigit():
        return None
    shard, sequence, arrived, key = parts[:4]
    try:
        partition_key = base64.urlsafe_b64decode(key.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    sub = parts[4] if len(parts) > 4 else ""
    subsequence = int(sub[1:]) if sub[:1] == "s" and sub[1:].isdigit() else 0
    return KinesisMetadata(shard, partition_key, sequence, int(arrived), subsequence)


@dataclass(frozen=True, slots=True)
class SourcePage:
    records: list[SourceRecord]
    ended: bool  # a closed shard read to its end


class SourceStreams(Protocol):
    """The Kinesis data streams a source stream reads, as its source's role
    (``andromede.firehose_kinesis_source``)."""

    async def check(self, stream: DeliveryStream) -> None:
        """At creation: ``InvalidArgument`` when the role cannot be assumed or the source
        stream is not the account's."""
        ...

    async def shards(self, stream: DeliveryStream) -> list[SourceShard]:
        """The source's listed shards, oldest first; ``SourceUnavailable``."""
        ...

    async def read(
        self, stream: DeliveryStream, shard_id: str, after: str | None, limit: int
    ) -> SourcePage:
        """Up to ``limit`` records after sequence number ``after`` (None: from the delivery
        start); ``SourceUnavailable``."""
        ...
