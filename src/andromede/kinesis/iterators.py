"""Shard iterators (decision 0228): opaque, tamper-proof and short-lived, as AWS's are.

An iterator names the stream, the shard, the first sequence number it reads and the time it
was issued, and ends with an HMAC-SHA256 of all that and the account's id under the stream's
own iterator key (random, made with the stream, kept in its row): a gateway checks any other
gateway's iterators, an iterator of another account or of a deleted stream of the same name
does not verify, and a changed byte is refused. Compared in constant time. It is refused
``ExpiredIteratorException`` once older than its lifetime (AWS: 5 minutes).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from dataclasses import dataclass
from typing import Final

from andromede.kinesis.errors import ExpiredIterator, InvalidArgument

__all__ = ["IteratorPosition", "iterator_stream", "open_iterator", "seal_iterator"]

_VERSION: Final = b"\x01"
_FIELDS: Final = struct.Struct(">QQI")  # issued (ms), next sequence number, shard index
_MAC: Final = hashlib.sha256().digest_size


@dataclass(frozen=True, slots=True)
class IteratorPosition:
    stream: str
    shard: int
    position: int
    issued: int  # ms


def _invalid() -> InvalidArgument:
    return InvalidArgument("Invalid ShardIterator.")


def _mac(key: bytes, tenant_id: str, body: bytes) -> bytes:
    return hmac.new(key, tenant_id.encode() + b"\n" + body, hashlib.sha256).digest()


def seal_iterator(key: bytes, tenant_id: str, where: IteratorPosition) -> str:
    name = where.stream.encode()
    body = (
        _VERSION
        + _FIELDS.pack(where.issued, where.position, where.shard)
        + bytes([len(name)])
        + name
    )
    return base64.b64encode(body + _mac(key, tenant_id, body)).decode("ascii")


def _unpack(token: str) -> tuple[bytes, bytes, IteratorPosition]:
    try:
        raw = base64.b64decode(token.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise _invalid() from None
    head = 1 + _FIELDS.size + 1
    if len(raw) < head + 1 + _MAC or raw[:1] != _VERSION:
        raise _invalid()
    size = raw[head - 1]
    body, mac = raw[: head + size], raw[head + size :]
    if len(mac) != _MAC:
        raise _invalid()
    issued, position, shard = _FIELDS.unpack(raw[1 : 1 + _FIELDS.size])
    try:
        name = body[head:].decode()
    except UnicodeDecodeError:
        raise _invalid() from None
    return body, mac, IteratorPosition(name, shard, position, issued)


def iterator_stream(token: str) -> str:
    """The stream an iterator names, unverified: the caller reads its key, then
    :func:`open_iterator`."""
    return _unpack(token)[2].stream


def open_iterator(
    key: bytes, tenant_id: str, token: str, now: int, lifetime_ms: int
) -> IteratorPosition:
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
