"""Decision 0334's pure core: CloudWatch Logs records gunzipped within a bound, their messages
extracted, and what cannot be told apart by folder and code."""

from __future__ import annotations

import gzip
import json

from andromede.firehose.log_records import (
    DECOMPRESSION_FAILED,
    DECOMPRESSION_FOLDER,
    EXTRACTION_FAILED,
    unpack,
)
from andromede.firehose.model import BufferedRecord, Partitioning

EXTRACTING = Partitioning(processing=True, decompression="GZIP", message_extraction=True)


def batch(*data: bytes) -> tuple[list[BufferedRecord], list[bytes]]:
    made = [BufferedRecord(i + 1, f"id{i}", 1_000 + i, len(d), b"") for i, d in enumerate(data)]
    return made, list(data)


def data_message(*messages: object) -> bytes:
    events = [{"id": "1", "timestamp": 1, "message": m} for m in messages]
    return gzip.compress(json.dumps({"messageType": "DATA_MESSAGE", "logEvents": events}).encode())


def test_each_message_is_a_record_named_after_its_envelope() -> None:
    records, opened = batch(data_message("a", "bc"), data_message("d"))
    unpacked = unpack(EXTRACTING, records, opened, 1024)
    assert unpacked.opened == [b"a", b"bc", b"d"]
    assert [(r.record_id, r.seq, r.size) for r in unpacked.records] == [
        ("id0:0", 1, 1), ("id0:1", 1, 2), ("id1:0", 2, 1),
    ]  # fmt: skip
    assert unpacked.failed == []


def test_a_record_inflating_past_the_bound_fails_as_undecompressable() -> None:
    bomb = gzip.compress(b"x" * 10_000)
    records, opened = batch(bomb, b"\x1f\x8b truncated", gzip.compress(b"{}")[:-4])
    unpacked = unpack(EXTRACTING, records, opened, 4096)
    assert [(f.index, f.folder, f.code) for f in unpacked.failed] == [
        (0, DECOMPRESSION_FOLDER, DECOMPRESSION_FAILED),
        (1, DECOMPRESSION_FOLDER, DECOMPRESSION_FAILED),
        (2, DECOMPRESSION_FOLDER, DECOMPRESSION_FAILED),  # its trailer cut off
    ]
    assert "4096" in unpacked.failed[0].message
    assert unpacked.records == []


def test_envelopes_not_cloudwatch_logs_fail_their_extraction() -> None:
    records, opened = batch(
        gzip.compress(b"[1, 2]"),
        gzip.compress(b"\xff\xfe"),
        data_message("fine", 42),  # a message that is not text
        gzip.compress(b'{"messageType": "DATA_MESSAGE"}'),  # no logEvents
        gzip.compress(b'{"messageType": "CONTROL_MESSAGE"}'),  # dropped
    )
    unpacked = unpack(EXTRACTING, records, opened, 4096)
    assert [(f.index, f.folder, f.code) for f in unpacked.failed] == [
        (i, "processing-failed", EXTRACTION_FAILED) for i in range(4)
    ]
    assert unpacked.records == []


def test_without_extraction_the_envelope_is_kept_whole() -> None:
    records, opened = batch(gzip.compress(b'{"messageType": "CONTROL_MESSAGE"}'))
    processing = Partitioning(processing=True, decompression="GZIP", message_extraction=False)
    unpacked = unpack(processing, records, opened, 4096)
    assert unpacked.opened == [b'{"messageType": "CONTROL_MESSAGE"}']
    assert unpacked.records[0].record_id == "id0"
