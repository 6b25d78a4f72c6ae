"""The length-prefixed framing of sealed envelopes: each field a 2-byte big-endian length
then its bytes, as the log events' and the EventBridge archives' sealed forms lay out the
key ring, key ARN and wrapped data key ahead of the nonce and ciphertext."""

from __future__ import annotations

import struct

__all__ = ["pack_fields", "unpack_fields"]


def pack_fields(*parts: bytes) -> bytes:
    return b"".join(struct.pack(">H", len(p)) + p for p in parts)


def unpack_fields(data: bytes, count: int) -> tuple[list[bytes], bytes]:
    """The first ``count`` fields and what follows them (struct.error when truncated)."""
    parts: list[bytes] = []
    at = 0
    for _ in range(count):
        (size,) = struct.unpack(">H", data[at : at + 2])
        parts.append(data[at + 2 : at + 2 + size])
        at += 2 + size
    return parts, data[at:]
