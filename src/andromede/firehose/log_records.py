"""CloudWatch Logs records in a Firehose stream (decision 0334), pure: the ``Decompression``
and ``CloudWatchLogProcessing`` processors, as AWS's "Decompress CloudWatch Logs" and
"Extract message after decompression of CloudWatch Logs" describe them.

- **Decompression** (``CompressionFormat`` GZIP): each record — a subscription filter's
  gzip'd envelope — is gunzipped, at most ``max_size`` bytes (a record that inflates past
  it fails as one that is not gzip does). A record that cannot be is written as it came
  (compressed) under the error output prefix's ``decompression-failed`` folder, and the other
  records go on.
- **Message extraction** (``DataMessageExtraction`` true): the envelope's metadata (owner,
  group, stream, filters) is left out: a ``CONTROL_MESSAGE`` (Logs' test of the
  destination) is dropped, and each log event of a ``DATA_MESSAGE`` becomes a record of its
  own holding its ``message`` (``AppendDelimiterToRecord`` then ends each with a newline).
  A record that is not such an envelope goes, compressed as it came, under
  ``processing-failed``, as AWS writes the records that fail after decompression.

What comes out goes on to the Lambda processor, dynamic partitioning and the delimiter as
records put would.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from andromede.firehose.model import ERROR_OUTPUT_TYPE, BufferedRecord, Partitioning

__all__ = [
    "DECOMPRESSION_FAILED",
    "DECOMPRESSION_FOLDER",
    "EXTRACTION_FAILED",
    "LogFailure",
    "Unpacked",
    "failure_lines",
    "unpack",
]

DECOMPRESSION_FOLDER: Final = "decompression-failed"
DECOMPRESSION_FAILED: Final = "Decompression.Failed"
EXTRACTION_FAILED: Final = "CloudWatchLogProcessing.MessageExtractionFailed"
_NOT_GZIP: Final = "The record could not be decompressed: it is not a whole GZIP stream."
_TOO_LARGE: Final = "The record could not be decompressed: it inflates past {limit} bytes."
_NOT_ENVELOPE: Final = (
    "The decompressed record is not a CloudWatch Logs message (messageType, logEvents)."
)
_GZIP_WINDOW: Final = 16 + zlib.MAX_WBITS  # a gzip header and trailer around deflate


@dataclass(frozen=True, slots=True)
class LogFailure:
    """A record that failed: its index in the batch, the folder it goes under, AWS's code."""

    index: int
    folder: str
    code: str
    message: str


@dataclass(slots=True)
class Unpacked:
    """The batch unpacked: the records that go on (each extracted message its own, named
    ``<record id>:<n>``) and their data, and the records that failed."""

    records: list[BufferedRecord] = field(default_factory=list)
    opened: list[bytes] = field(default_factory=list)
    failed: list[LogFailure] = field(default_factory=list)


def _gunzip(data: bytes, max_size: int) -> bytes | str:
    """The record inflated, or why it could not be."""
    inflater = zlib.decompressobj(_GZIP_WINDOW)
    try:
        out = inflater.decompress(data, max_size + 1)
    except zlib.error:
        return _NOT_GZIP
    if len(out) > max_size:
        return _TOO_LARGE.format(limit=max_size)
    if not inflater.eof:
        return _NOT_GZIP
    return out


def _messages(data: bytes) -> list[bytes] | None:
    """A CloudWatch Logs envelope's messages (none for a CONTROL_MESSAGE); None: not one."""
    try:
        envelope: Any = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(envelope, dict):
        return None
    kind = envelope.get("messageType")
    if kind == "CONTROL_MESSAGE":
        return []
    events = envelope.get("logEvents")
    if kind != "DATA_MESSAGE" or not isinstance(events, list):
        return None
    messages: list[bytes] = []
    for event in events:
        message = event.get("message") if isinstance(event, dict) else None
        if not isinstance(message, str):
            return None
        messages.append(message.encode())
    return messages


def unpack(
    processing: Partitioning,
    records: Sequence[BufferedRecord],
    opened: Sequence[bytes],
    max_size: int,
) -> Unpacked:
    """The batch through ``Decompression`` and, when it extracts, ``CloudWatchLogProcessing``."""
    unpacked = Unpacked()
    for index, (record, data) in enumerate(zip(records, opened, strict=True)):
        inflated = _gunzip(data, max_size)
        if isinstance(inflated, str):
            unpacked.failed.append(
                LogFailure(index, DECOMPRESSION_FOLDER, DECOMPRESSION_FAILED, inflated)
            )
            continue
        if not processing.message_extraction:
            unpacked.records.append(dataclasses.replace(record, size=len(inflated)))
            unpacked.opened.append(inflated)
            continue
        messages = _messages(inflated)
        if messages is None:
            unpacked.failed.append(
                LogFailure(index, ERROR_OUTPUT_TYPE, EXTRACTION_FAILED, _NOT_ENVELOPE)
            )
            continue
        for n, message in enumerate(messages):
            unpacked.records.append(
                dataclasses.replace(record, record_id=f"{record.record_id}:{n}", size=len(message))
            )
            unpacked.opened.append(message)
    return unpacked


def failure_lines(
    records: Sequence[BufferedRecord],
    opened: Sequence[bytes],
    failed: Sequence[LogFailure],
    now: int,
) -> bytes:
    """The failed records as AWS writes them into the error output: one JSON line each,
    the record's data as it came (compressed)."""
    return b"".join(
        json.dumps(
            {
                "attemptsMade": 1,
                "arrivalTimestamp": records[failure.index].arrived,
                "errorCode": failure.code,
                "errorMessage": failure.message,
                "attemptEndingTimestamp": now,
                "rawData": base64.b64encode(opened[failure.index]).decode(),
            },
            separators=(",", ":"),
        ).encode()
        + b"\n"
        for failure in failed
    )
