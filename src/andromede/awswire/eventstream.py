"""AWS's event stream (``application/vnd.amazon.eventstream``), the framing every streamed
answer shares — S3's SelectObjectContent, CloudWatch Logs' StartLiveTail, Kinesis'
SubscribeToShard: each message is its total length and its headers' length (big-endian
32-bit), the CRC32 of those eight bytes, the headers (name length, name, type 7 — a string —,
value length, value), the payload and the CRC32 of all that came before. botocore's
``eventstream.py`` decodes it; unit tests check these frames with it.

A JSON-protocol answer (Logs, Kinesis) starts with an ``initial-response`` event, which
botocore's parser requires, then its events and, for a fault, the model's exception events
(:func:`json_event`, :func:`json_exception`)."""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any, Final

__all__ = ["CONTENT_TYPE", "frame", "json_event", "json_exception"]

CONTENT_TYPE: Final = "application/vnd.amazon.eventstream"
_STRING: Final = 7


def frame(headers: list[tuple[str, str]], payload: bytes = b"") -> bytes:
    """One framed message, its headers all strings."""
    encoded = bytearray()
    for name, value in headers:
        raw_name, raw_value = name.encode(), value.encode()
        encoded += struct.pack(">B", len(raw_name)) + raw_name
        encoded += struct.pack(">BH", _STRING, len(raw_value)) + raw_value
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + bytes(encoded) + payload
    return message + struct.pack(">I", zlib.crc32(message))


def _json(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def json_event(event_type: str, payload: dict[str, Any]) -> bytes:
    """An event of the JSON protocol's stream (``initial-response`` first)."""
    return frame(
        [
            (":event-type", event_type),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        _json(payload),
    )


def json_exception(exception_type: str, text: str) -> bytes:
    """An error inside the stream, as the model's stream exceptions are sent."""
    return frame(
        [
            (":exception-type", exception_type),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ],
        _json({"message": text}),
    )
