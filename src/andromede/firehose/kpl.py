"""KPL aggregated records (decision 0342), pure: the Kinesis Producer Library's published
aggregation format, undone as Firehose undoes it for a ``KinesisStreamAsSource`` stream
before anything else sees its records (decompression, the Lambda processor, dynamic
partitioning, the destination).

**The format** (the KPL's ``aggregation-format.md``): the 4 magic bytes ``F3 89 9A C2``, a
protobuf ``AggregatedRecord`` — ``partition_key_table`` (1, repeated string),
``explicit_hash_key_table`` (2, repeated string), ``records`` (3, repeated ``Record``: its
``partition_key_index`` (1), ``explicit_hash_key_index`` (2), ``data`` (3, bytes), ``tags``
(4)) — then the MD5 of the protobuf bytes (16 bytes). A user record's subsequence number is
its index in ``records``.

**What is not one** is delivered as the one Kinesis record it is, as the KCL delivers it: no
magic, too short, an MD5 that does not match (the KCL's own test: a record that merely starts
with the magic is a producer's data), and — where the KCL would throw — a protobuf that does
not parse, a record without data or whose key index is past the table, an aggregate of no
record: data is never dropped for its framing.

The decoder reads the protobuf wire format by hand (varints and length-delimited fields; the
other wire types skipped), so no protobuf runtime is needed, and never reads past its input.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from andromede.firehose.model import BufferedRecord, kinesis_metadata, kinesis_user_record_id

__all__ = ["MAGIC", "Deaggregated", "UserRecord", "deaggregate", "expand"]

MAGIC: Final = b"\xf3\x89\x9a\xc2"
_DIGEST: Final = 16  # MD5's
_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5


@dataclass(frozen=True, slots=True)
class UserRecord:
    """One record a producer put through the KPL: its own partition key and data."""

    partition_key: str
    data: bytes


class _Malformed(Exception):
    """The protobuf does not parse as an ``AggregatedRecord``."""


def _varint(buffer: bytes, at: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if at >= len(buffer) or shift > 63:
            raise _Malformed
        byte = buffer[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7


def _fields(buffer: bytes) -> list[tuple[int, int | bytes]]:
    """The message's fields in order: (number, a varint's value or a length-delimited
    field's bytes); fixed-width fields are skipped (none of the format's)."""
    found: list[tuple[int, int | bytes]] = []
    at = 0
    while at < len(buffer):
        key, at = _varint(buffer, at)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise _Malformed
        if wire == _VARINT:
            value, at = _varint(buffer, at)
            found.append((number, value))
        elif wire == _BYTES:
            size, at = _varint(buffer, at)
            if at + size > len(buffer):
                raise _Malformed
            found.append((number, buffer[at : at + size]))
            at += size
        elif wire in (_FIXED64, _FIXED32):
            at += 8 if wire == _FIXED64 else 4
            if at > len(buffer):
                raise _Malformed
        else:  # groups (3, 4) and the reserved 6, 7: never in the format
            raise _Malformed
    return found


def _record(buffer: bytes, keys: Sequence[str]) -> UserRecord:
    index: int | None = None
    data: bytes | None = None
    for number, value in _fields(buffer):
        if number == 1 and isinstance(value, int):
            index = value
        elif number == 3 and isinstance(value, bytes):
            data = value
    if index is None or data is None or index >= len(keys):
        raise _Malformed
    return UserRecord(keys[index], data)


def deaggregate(data: bytes) -> list[UserRecord] | None:
    """A Kinesis record's user records, in subsequence order; None when it is not a whole
    KPL aggregate (then it is delivered as it came)."""
    if len(data) < len(MAGIC) + _DIGEST or not data.startswith(MAGIC):
        return None
    message, digest = data[len(MAGIC) : -_DIGEST], data[-_DIGEST:]
    if hashlib.md5(message, usedforsecurity=False).digest() != digest:
        return None
    try:
        fields = _fields(message)
        keys: list[str] = []
        for number, value in fields:
            if number == 1 and isinstance(value, bytes):
                keys.append(value.decode())
        records = [
            _record(value, keys)
            for number, value in fields
            if number == 3 and isinstance(value, bytes)
        ]
    except (_Malformed, UnicodeDecodeError):
        return None
    return records or None


@dataclass(slots=True)
class Deaggregated:
    """A batch with its aggregates undone: the records that go on, their data, and how many
    aggregates were undone into how many user records."""

    records: list[BufferedRecord] = field(default_factory=list)
    opened: list[bytes] = field(default_factory=list)
    aggregates: int = 0
    user_records: int = 0


def expand(records: Sequence[BufferedRecord], opened: Sequence[bytes]) -> Deaggregated:
    """A Kinesis source's batch with each KPL aggregate replaced by its user records, each
    named after the aggregate's id with its own partition key and subsequence number
    (``kinesisRecordMetadata``), its size its own; the other records as they were."""
    out = Deaggregated()
    for record, data in zip(records, opened, strict=True):
        users = deaggregate(data) if kinesis_metadata(record.record_id) is not None else None
        if users is None:
            out.records.append(record)
            out.opened.append(data)
            continue
        out.aggregates += 1
        out.user_records += len(users)
        for subsequence, user in enumerate(users):
            out.records.append(
                dataclasses.replace(
                    record,
                    record_id=kinesis_user_record_id(
                        record.record_id, user.partition_key, subsequence
                    ),
                    size=len(user.data),
                )
            )
            out.opened.append(user.data)
    return out
