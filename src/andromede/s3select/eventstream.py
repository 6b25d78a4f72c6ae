"""AWS's event stream (``application/vnd.amazon.eventstream``), as SelectObjectContent's
answer carries it: each message is its total length and its headers' length (big-endian
32-bit), the CRC32 of those eight bytes, the headers (name length, name, type 7 — a string —,
value length, value), the payload and the CRC32 of all that came before. botocore's
``eventstream.py`` decodes it; a unit test checks these frames with it.
"""

from __future__ import annotations

import struct
import zlib
from typing import Final

__all__ = [
    "MAX_RECORDS_PAYLOAD",
    "cont",
    "end",
    "error",
    "progress",
    "records",
    "stats",
]

MAX_RECORDS_PAYLOAD: Final = 64 * 1024  # a Records event's payload, at most (as AWS batches)
_STRING: Final = 7


def frame(headers: list[tuple[str, str]], payload: bytes = b"") -> bytes:
    encoded = bytearray()
    for name, value in headers:
        raw_name, raw_value = name.encode(), value.encode()
        encoded += struct.pack(">B", len(raw_name)) + raw_name
        encoded += struct.pack(">BH", _STRING, len(raw_value)) + raw_value
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + bytes(encoded) + payload
    return message + struct.pack(">I", zlib.crc32(message))


def _event(event_type: str, payload: bytes = b"", content_type: str | None = None) -> bytes:
    headers = [(":message-type", "event"), (":event-type", event_type)]
    if content_type is not None:
        headers.append((":content-type", content_type))
    return frame(headers, payload)


def records(payload: bytes) -> bytes:
    return _event("Records", payload, "application/octet-stream")


def _counts(root: str, scanned: int, processed: int, returned: int) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><{root} xmlns="">'
        f"<BytesScanned>{scanned}</BytesScanned><BytesProcessed>{processed}</BytesProcessed>"
        f"<BytesReturned>{returned}</BytesReturned></{root}>"
    ).encode()


def stats(scanned: int, processed: int, returned: int) -> bytes:
    return _event("Stats", _counts("Stats", scanned, processed, returned), "text/xml")


def progress(scanned: int, processed: int, returned: int) -> bytes:
    return _event("Progress", _counts("Progress", scanned, processed, returned), "text/xml")


def cont() -> bytes:
    """A keep-alive: sent when a scan runs long without a record to send."""
    return _event("Cont")


def end() -> bytes:
    return _event("End")


def error(code: str, message: str) -> bytes:
    return frame([(":message-type", "error"), (":error-code", code), (":error-message", message)])
