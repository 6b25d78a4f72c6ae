"""A KPL aggregate encoder for tests (decision 0342), written from the KPL's published
``aggregation-format.md`` independently of ``andromede.firehose.kpl``'s decoder: the magic
``F3 89 9A C2``, a protobuf ``AggregatedRecord`` (``partition_key_table`` 1,
``explicit_hash_key_table`` 2, ``records`` 3 of ``Record``: ``partition_key_index`` 1,
``explicit_hash_key_index`` 2, ``data`` 3, ``tags`` 4), then the protobuf's MD5."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

MAGIC = bytes([0xF3, 0x89, 0x9A, 0xC2])


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def length_delimited(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def number_field(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def aggregate(
    records: Sequence[tuple[str, bytes]],
    *,
    explicit_hash_key: str | None = None,
    tag: tuple[str, str] | None = None,
) -> bytes:
    """The KPL's Kinesis record for these (partition key, data) user records, each key once
    in the table; with an explicit hash key and a tag on each record when given (fields a
    decoder must step over)."""
    keys: list[str] = []
    for key, _ in records:
        if key not in keys:
            keys.append(key)
    message = b"".join(length_delimited(1, key.encode()) for key in keys)
    if explicit_hash_key is not None:
        message += length_delimited(2, explicit_hash_key.encode())
    for key, data in records:
        record = number_field(1, keys.index(key))
        if explicit_hash_key is not None:
            record += number_field(2, 0)
        record += length_delimited(3, data)
        if tag is not None:
            record += length_delimited(
                4, length_delimited(1, tag[0].encode()) + length_delimited(2, tag[1].encode())
            )
        message += length_delimited(3, record)
    return framed(message)


def framed(message: bytes) -> bytes:
    """A protobuf message in the KPL's framing (magic, message, MD5)."""
    return MAGIC + message + hashlib.md5(message, usedforsecurity=False).digest()
