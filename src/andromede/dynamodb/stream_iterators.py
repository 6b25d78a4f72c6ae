"""DynamoDB Streams' shard iterators (decision 0246), made as Kinesis' are (decision 0228):
opaque, tamper-proof and short-lived.

An iterator names the table, the stream's label, the first sequence number it reads (0: the
oldest record kept, TRIM_HORIZON's) and when it was issued, and ends with an HMAC-SHA256 of
all that and the account's id under the stream's own iterator key (random, made with the
stream, kept in its row): any gateway checks it, one of another account or of another stream
does not verify, a changed byte is refused (compared in constant time). Past its lifetime
(AWS: 15 minutes) it is ``ExpiredIteratorException``.

Format 2 (decision 0266) names the stream's account too, after the label, so that another
account's reader allowed by the stream's resource policy reaches the owner's stream from the
iterator alone; the MAC covers it as the rest. Format 1 iterators (alive 15 minutes at most
after an upgrade) still open, as their reader's own stream's.

Format 3 (decision 0275) names the shard too: its generation and partition, after the
position. Formats 1 and 2 name none (a stream had one shard): their shard is the first
partition of the generation their position falls in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from dataclasses import dataclass
from typing import Final

from andromede.dynamodb.errors import ExpiredIterator, ValidationError

__all__ = [
    "StreamPosition",
    "iterator_owner",
    "iterator_stream",
    "open_iterator",
    "seal_iterator",
]

_VERSION: Final = b"\x03"
_OWNED: Final = b"\x02"  # without the shard
_FORMER: Final = b"\x01"  # without the owner's account either
_FIELDS: Final = struct.Struct(">QQ")  # issued (ms), next sequence number
_SHARD: Final = struct.Struct(">IH")  # generation, partition
_MAC: Final = hashlib.sha256().digest_size


@dataclass(frozen=True, slots=True)
class StreamPosition:
    table_name: str
    label: str
    position: int
    issued: int  # ms
    owner: str | None = None  # the stream's account (format 2)
    generation: int | None = None  # the shard (format 3); None: the position's generation
    partition: int = 0


def _invalid() -> ValidationError:
    return ValidationError("Invalid ShardIterator")


def _mac(key: bytes, tenant_id: str, body: bytes) -> bytes:
    return hmac.new(key, tenant_id.encode() + b"\n" + body, hashlib.sha256).digest()


def seal_iterator(key: bytes, tenant_id: str, where: StreamPosition) -> str:
    name, label = where.table_name.encode(), where.label.encode()
    owner = (where.owner or tenant_id).encode()
    body = (
        _VERSION
        + _FIELDS.pack(where.issued, where.position)
        + _SHARD.pack(where.generation or 0, where.partition)
        + bytes([len(name)])
        + name
        + bytes([len(label)])
        + label
        + bytes([len(owner)])
        + owner
    )
    return base64.b64encode(body + _mac(key, tenant_id, body)).decode("ascii")


def _unpack(token: str) -> tuple[bytes, bytes, StreamPosition]:
    try:
        raw = base64.b64decode(token.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise _invalid() from None
    at = 1 + _FIELDS.size
    version = raw[:1]
    if len(raw) < at + 2 + _MAC or version not in (_VERSION, _OWNED, _FORMER):
        raise _invalid()
    issued, position = _FIELDS.unpack(raw[1:at])
    generation: int | None = None
    partition = 0
    if version == _VERSION:
        if len(raw) < at + _SHARD.size + 2 + _MAC:
            raise _invalid()
        generation, partition = _SHARD.unpack(raw[at : at + _SHARD.size])
        at += _SHARD.size
    fields: list[str] = []
    for _ in range(2 if version == _FORMER else 3):
        if at >= len(raw):
            raise _invalid()
        size = raw[at]
        try:
            fields.append(raw[at + 1 : at + 1 + size].decode())
        except UnicodeDecodeError:
            raise _invalid() from None
        at += 1 + size
    body, mac = raw[:at], raw[at:]
    if len(mac) != _MAC:
        raise _invalid()
    owner = fields[2] if len(fields) > 2 else None
    where = StreamPosition(fields[0], fields[1], position, issued, owner, generation, partition)
    return body, mac, where


def iterator_stream(token: str) -> tuple[str, str]:
    """(table, label) an iterator names, unverified: the caller reads the stream's key, then
    :func:`open_iterator`."""
    where = _unpack(token)[2]
    return where.table_name, where.label


def iterator_owner(token: str) -> str | None:
    """The account an iterator's stream is of (None for format 1), unverified: the MAC is
    checked under that account's stream's key by :func:`open_iterator`."""
    return _unpack(token)[2].owner


def open_iterator(
    key: bytes, tenant_id: str, token: str, now: int, lifetime_ms: int
) -> StreamPosition:
    """The iterator's position once its MAC verifies; ``ExpiredIterator`` past its lifetime."""
    body, mac, where = _unpack(token)
    if not hmac.compare_digest(mac, _mac(key, tenant_id, body)):
        raise _invalid()
    if now - where.issued > lifetime_ms:
        raise ExpiredIterator(
            f"Iterator expired. The iterator was created at time {where.issued} while right now "
            f"it is {now} which is further in the future than the tolerated delay of "
            f"{lifetime_ms} milliseconds."
        )
    return where
