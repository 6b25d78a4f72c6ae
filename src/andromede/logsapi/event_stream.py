"""AWS's event stream framing (``application/vnd.amazon.eventstream``), as StartLiveTail's
answer uses it (decision 0186, session 50): each message a prelude (total length, headers'
length, the prelude's CRC32), its headers (a name, type 7 — a string — and the value), its
payload, then the CRC32 of all before it. An answer in the JSON protocol starts with an
``initial-response`` event (botocore's parser requires it) holding the response's other
members."""

from __future__ import annotations

import json
import zlib
from typing import Any, Final

__all__ = ["CONTENT_TYPE", "event", "exception", "message"]

CONTENT_TYPE: Final = "application/vnd.amazon.eventstream"
_STRING: Final = 7


def _crc(data: bytes) -> bytes:
    return (zlib.crc32(data) & 0xFFFFFFFF).to_bytes(4, "big")


def message(headers: list[tuple[str, str]], payload: bytes) -> bytes:
    """One framed message."""
    encoded = bytearray()
    for name, value in headers:
        raw_name, raw_value = name.encode(), value.encode()
        encoded += len(raw_name).to_bytes(1, "big") + raw_name + bytes([_STRING])
        encoded += len(raw_value).to_bytes(2, "big") + raw_value
    total = 12 + len(encoded) + len(payload) + 4
    prelude = total.to_bytes(4, "big") + len(encoded).to_bytes(4, "big")
    framed = prelude + _crc(prelude) + bytes(encoded) + payload
    return framed + _crc(framed)


def _json(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def event(event_type: str, payload: dict[str, Any]) -> bytes:
    return message(
        [
            (":event-type", event_type),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        _json(payload),
    )


def exception(exception_type: str, text: str) -> bytes:
    """An error inside the stream, as the model's stream exceptions are sent."""
    return message(
        [
            (":exception-type", exception_type),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ],
        _json({"message": text}),
    )
