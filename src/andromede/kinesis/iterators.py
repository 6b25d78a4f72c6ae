"""Shard iterators (decision 0228): opaque, tamper-proof and short-lived, as AWS's are.

An iterator names the stream and its account (the stream's owner, whoever asked for it:
another account reads a shared stream with it, decision 0248), the shard, the first sequence
number it reads and the time it was issued, and ends with an HMAC-SHA256 of all that and the
account's id under the stream's own iterator key (random, made with the stream, kept in its
row): a gateway checks any other gateway's iterators, an iterator of another account or of a
deleted stream of the same name does not verify, and a changed byte is refused. Compared in
constant time. It is refused ``ExpiredIteratorException`` once older than its lifetime (AWS:
5 minutes).
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

# 2: the owner's account after the stream's name (decision 0248); 1 named none, its reader's.
_VERSION: Final = b"\x02"
_UNOWNED: Final = b"\x01"
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
    """``where`` in the stream of ``tenant_id`` (its owner's account)."""
    name = where.stream.encode()
    account = tenant_id.encode()
    body = (
        _VERSION
        + _FIELDS.pack(where.issued, where.position, where.shard)
        + bytes([len(name)])
        + name
        + bytes([len(account)])
        + account
    )
    return base64.b64encode(body + _mac(key, tenant_id, body)).decode("ascii")


def _unpack(token: str) -> tuple[bytes, bytes, IteratorPosition, str | None]:
    try:
        raw = base64.b64decode(token.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise _invalid() from None
    head = 1 + _FIELDS.size + 1
    if len(raw) < head + 1 + _MAC or raw[:1] not in (_VERSION, _UNOWNED):
        raise _invalid()
    size = raw[head - 1]
    end = head + size
    account: bytes | None = None
    if raw[:1] == _VERSION:
        if len(raw) < end + 1:
            raise _invalid()
        account = raw[end + 1 : end + 1 + raw[end]]
        end += 1 + raw[end]
    body, mac = raw[:end], raw[end:]
    if len(mac) != _MAC:
        raise _invalid()
    issued, position, shard = _FIELDS.unpack(raw[1 : 1 + _FIELDS.size])
    try:
        name = body[head : head + size].decode()
        owner = None if account is None else account.decode()
    except UnicodeDecodeError:
        raise _invalid() from None
    return body, mac, IteratorPosition(name, shard, position, issued), owner


def iterator_stream(token: str) -> tuple[str | None, str]:
    """The account and the stream an iterator names, unverified (no account: an iterator
    issued before decision 0248, of its reader's account): the caller reads the stream's
    key, then :func:`open_iterator`."""
    _, _, where, owner = _unpack(token)
    return owner, where.stream


def open_iterator(
    key: bytes, tenant_id: str, token: str, now: int, lifetime_ms: int
) -> IteratorPosition:
    """The iterator's position once its MAC verifies; ``ExpiredIterator`` past its lifetime."""
    body, mac, where, owner = _unpack(token)
    if owner not in (None, tenant_id) or not hmac.compare_digest(mac, _mac(key, tenant_id, body)):
        raise _invalid()
    if now - where.issued > lifetime_ms:
        raise ExpiredIterator(
            f"Iterator expired. The iterator was created at time {where.issued} while right now "
            f"it is {now} which is further in the future than the tolerated delay of "
            f"{lifetime_ms} milliseconds."
        )
    return where
