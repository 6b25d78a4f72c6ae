"""Firehose's Lambda data transformation (decision 0315), pure but for the port the function is
invoked through: a batch's records sent to the stream's ``Lambda`` processor, its answer
checked, as AWS's "Transform source data in Amazon Data Firehose" describes.

- **Invocations.** The batch is cut into invocations whose event is at most the processor's
  ``BufferSizeInMBs`` and Lambda's synchronous payload limit (``max_payload``), each
  AWS's event: ``{"invocationId", "deliveryStreamArn", "region", "records":
  [{"recordId", "approximateArrivalTimestamp", "data"}]}``, the data in base64; a Kinesis
  source's also ``sourceKinesisStreamArn`` and each record's ``kinesisRecordMetadata``
  (``shardId``, ``partitionKey``, ``approximateArrivalTimestamp``, ``sequenceNumber``,
  ``subsequenceNumber``: decision 0334).
- **Answers.** ``{"records": [{"recordId", "result", "data", "metadata":
  {"partitionKeys": {…}}}]}``: every record id sent must come back once, each with a
  result ``Ok``, ``Dropped`` or ``ProcessingFailed`` and, for ``Ok``, base64 data; else the
  whole invocation failed (``Lambda.MissingRecordId``, ``Lambda.DuplicatedRecordId``,
  ``Lambda.JsonProcessingException``…), as AWS fails it.
- **Retries.** A failed invocation is tried again up to the processor's ``NumberOfRetries``
  (a refusal that cannot pass by itself, the role or the function refused, is not); its
  records then failed with the last error. ``ProcessingFailed`` records and failed
  invocations' records go under the error output prefix (``processing-failed``), one JSON
  line each with AWS's fields (:func:`failure_lines`); ``Dropped`` records are gone.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from andromede.firehose.model import (
    MIB,
    BufferedRecord,
    DeliveryStream,
    LambdaProcessor,
    kinesis_metadata,
)

__all__ = [
    "DROPPED",
    "FAILED",
    "OK",
    "FunctionInvoker",
    "Invocation",
    "Outcome",
    "TransformFailed",
    "TransformedBatch",
    "build_event",
    "failure_lines",
    "invocation_batches",
    "read_answer",
    "transform_batch",
]

OK: Final = "Ok"
DROPPED: Final = "Dropped"
FAILED: Final = "ProcessingFailed"
_RESULTS: Final = (OK, DROPPED, FAILED)
_MAX_KEYS: Final = 50  # partition keys a record's metadata may give
# AWS's code and message for a record the function answered ProcessingFailed, and for a
# function that failed (its documented processing-failed example).
PROCESSING_FAILED_CODE: Final = "Lambda.ProcessingFailed"
PROCESSING_FAILED_MESSAGE: Final = "The Lambda function returned ProcessingFailed for the record."
FUNCTION_ERROR: Final = "Lambda.FunctionError"
FUNCTION_ERROR_MESSAGE: Final = (
    "The Lambda function was successfully invoked but it returned an error result."
)
# The event's bytes besides its records', bounded generously (its ids, ARN and Region).
_EVENT_OVERHEAD: Final = 1024
_RECORD_OVERHEAD: Final = 160  # a record's JSON besides its data (id, timestamp, keys)


class TransformFailed(Exception):
    """An invocation failed: AWS's error code (``Lambda.*``) and message; ``retryable``
    False when trying again cannot help (the role or the function refused)."""

    def __init__(self, code: str, message: str, *, retryable: bool = True) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retryable = retryable


class FunctionInvoker(Protocol):
    """Where the processor's function is invoked (``andromede.firehose_transform``: Lambda's
    Invoke, synchronously, as the processor's role)."""

    async def invoke(
        self, stream: DeliveryStream, processor: LambdaProcessor, payload: bytes
    ) -> bytes:
        """The function's answer to ``payload``; TransformFailed when it could not run or
        failed."""
        ...


@dataclass(frozen=True, slots=True)
class Outcome:
    """One record's answer: its result, its new data (``Ok``), its partition keys."""

    result: str
    data: bytes = b""
    keys: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Invocation:
    """One invocation, for the stream's ``ExecuteProcessing.*`` metrics."""

    duration_ms: float
    ok: bool


@dataclass(slots=True)
class TransformedBatch:
    """A batch after its function: each record's outcome by its index in the batch, the
    records failed (index, error code, message, attempts) and the invocations made."""

    outcomes: dict[int, Outcome] = field(default_factory=dict)
    failed: list[tuple[int, str, str, int]] = field(default_factory=list)
    invocations: list[Invocation] = field(default_factory=list)

    def kept(self) -> list[int]:
        """The indices of the records to deliver (``Ok``), in order."""
        return sorted(i for i, outcome in self.outcomes.items() if outcome.result == OK)

    @property
    def dropped(self) -> int:
        return sum(1 for outcome in self.outcomes.values() if outcome.result == DROPPED)


def _encoded_size(size: int) -> int:
    return 4 * -(-size // 3) + _RECORD_OVERHEAD


def invocation_batches(
    sizes: Sequence[int], processor: LambdaProcessor, max_payload: int
) -> list[list[int]]:
    """The records' indices cut into invocations whose event is at most the processor's
    buffer size and ``max_payload`` (a record larger alone goes alone)."""
    limit = min(int(processor.buffer_size_mb * MIB), max_payload) - _EVENT_OVERHEAD
    batches: list[list[int]] = []
    current: list[int] = []
    used = 0
    for index, size in enumerate(sizes):
        encoded = _encoded_size(size)
        if current and used + encoded > limit:
            batches.append(current)
            current, used = [], 0
        current.append(index)
        used += encoded
    if current:
        batches.append(current)
    return batches


def build_event(
    stream: DeliveryStream,
    invocation_id: str,
    records: Sequence[BufferedRecord],
    opened: Sequence[bytes],
) -> bytes:
    """AWS's transformation event for these records; a Kinesis source's names its stream
    (``sourceKinesisStreamArn``) and gives each record's ``kinesisRecordMetadata``
    (decision 0334)."""
    event: dict[str, Any] = {"invocationId": invocation_id}
    if stream.source is not None:
        event["sourceKinesisStreamArn"] = stream.source.stream_arn
    event |= {
        "deliveryStreamArn": stream.arn,
        "region": stream.region,
        "records": [
            _event_record(record, data) for record, data in zip(records, opened, strict=True)
        ],
    }
    return json.dumps(event, separators=(",", ":")).encode()


def _event_record(record: BufferedRecord, data: bytes) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "recordId": record.record_id,
        "approximateArrivalTimestamp": record.arrived,
        "data": base64.b64encode(data).decode(),
    }
    metadata = kinesis_metadata(record.record_id)
    if metadata is not None:
        entry["kinesisRecordMetadata"] = {
            "shardId": metadata.shard_id,
            "partitionKey": metadata.partition_key,
            "approximateArrivalTimestamp": metadata.arrived,
            "sequenceNumber": metadata.sequence,
            "subsequenceNumber": metadata.subsequence,  # a KPL user record's (decision 0342)
        }
    return entry


def _invalid(message: str) -> TransformFailed:
    return TransformFailed("Lambda.JsonProcessingException", message[:512])


def _keys(entry: Mapping[str, Any]) -> dict[str, str]:
    metadata = entry.get("metadata")
    if metadata is None:
        return {}
    keys = metadata.get("partitionKeys") if isinstance(metadata, dict) else None
    if keys is None:
        return {}
    if not isinstance(keys, dict) or len(keys) > _MAX_KEYS:
        raise _invalid("metadata.partitionKeys must be an object of at most 50 keys.")
    found: dict[str, str] = {}
    for name, value in keys.items():
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise _invalid(f"The partition key {str(name)[:64]!r} is not a string.")
        found[str(name)] = value if isinstance(value, str) else json.dumps(value)
    return found


def read_answer(payload: bytes, record_ids: Sequence[str]) -> list[Outcome]:
    """The function's answer for ``record_ids``, in their order; TransformFailed when it is
    not AWS's shape or does not name every record once."""
    try:
        answer = json.loads(payload or b"null")
    except (ValueError, UnicodeDecodeError):
        raise _invalid("The Lambda function's response is not valid JSON.") from None
    entries = answer.get("records") if isinstance(answer, dict) else None
    if not isinstance(entries, list):
        raise _invalid("The Lambda function's response has no records list.")
    wanted = set(record_ids)
    outcomes: dict[str, Outcome] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            raise _invalid("Each record of the Lambda function's response must be an object.")
        record_id = entry.get("recordId")
        if not isinstance(record_id, str) or record_id not in wanted:
            raise TransformFailed(
                "Lambda.MissingRecordId",
                "One or more record Ids were not returned. Ensure that the Lambda function "
                "returns all received record Ids.",
            )
        if record_id in outcomes:
            raise TransformFailed(
                "Lambda.DuplicatedRecordId",
                "Multiple records were returned with the same record Id. Ensure that the "
                "Lambda function returns unique record Ids for each record.",
            )
        result = entry.get("result")
        if result not in _RESULTS:
            raise _invalid(f"The result of record {record_id[:64]} must be Ok, Dropped or "
                           "ProcessingFailed.")  # fmt: skip
        data = b""
        if result == OK:
            text = entry.get("data")
            try:
                data = base64.b64decode(text, validate=True) if isinstance(text, str) else b""
            except (binascii.Error, ValueError):
                text = None
            if not isinstance(text, str):
                raise _invalid(f"The data of record {record_id[:64]} must be base64 text.")
        outcomes[record_id] = Outcome(str(result), data, _keys(entry))
    if len(outcomes) != len(wanted):
        raise TransformFailed(
            "Lambda.MissingRecordId",
            "One or more record Ids were not returned. Ensure that the Lambda function "
            "returns all received record Ids.",
        )
    return [outcomes[record_id] for record_id in record_ids]


async def transform_batch(
    stream: DeliveryStream,
    processor: LambdaProcessor,
    records: Sequence[BufferedRecord],
    opened: Sequence[bytes],
    invoker: FunctionInvoker,
    max_payload: int,
) -> TransformedBatch:
    """Each invocation of the batch made (and retried), its records' outcomes read."""
    batch = TransformedBatch()
    for indices in invocation_batches([len(d) for d in opened], processor, max_payload):
        chosen = [records[i] for i in indices]
        payload = build_event(stream, str(uuid.uuid4()), chosen, [opened[i] for i in indices])
        attempts = 0
        while True:
            attempts += 1
            started = time.monotonic()
            try:
                answer = await invoker.invoke(stream, processor, payload)
                outcomes = read_answer(answer, [r.record_id for r in chosen])
            except TransformFailed as exc:
                batch.invocations.append(Invocation(_since(started), ok=False))
                if exc.retryable and attempts <= processor.retries:
                    continue
                batch.failed.extend((i, exc.code, exc.message, attempts) for i in indices)
                break
            batch.invocations.append(Invocation(_since(started), ok=True))
            for index, outcome in zip(indices, outcomes, strict=True):
                batch.outcomes[index] = outcome
                if outcome.result == FAILED:
                    batch.failed.append(
                        (index, PROCESSING_FAILED_CODE, PROCESSING_FAILED_MESSAGE, attempts)
                    )
            break
    return batch


def _since(started: float) -> float:
    return (time.monotonic() - started) * 1000


def failure_lines(
    processor: LambdaProcessor,
    records: Sequence[BufferedRecord],
    opened: Sequence[bytes],
    failed: Sequence[tuple[int, str, str, int]],
    now: int,
) -> bytes:
    """The records that failed their transformation as AWS writes them under
    ``processing-failed``: one JSON line each, the record's original data."""
    return b"".join(
        json.dumps(
            {
                "attemptsMade": attempts,
                "arrivalTimestamp": records[index].arrived,
                "errorCode": code,
                "errorMessage": message,
                "attemptEndingTimestamp": now,
                "rawData": base64.b64encode(opened[index]).decode(),
                "lambdaArn": processor.function_arn,
            },
            separators=(",", ":"),
        ).encode()
        + b"\n"
        for index, code, message, attempts in failed
    )
