"""Decision 0246's core: stream labels and ARNs as AWS writes them, sequence numbers of 21
digits that grow from one stream of a table to the next, which write makes which event (none
when the item is unchanged, numbers and sets compared by value), and shard iterators that
verify only under their stream's key and account, unaltered and in their lifetime."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import struct

import pytest

from andromede.dynamodb.errors import ExpiredIterator, ValidationError
from andromede.dynamodb.model import KeyElement
from andromede.dynamodb.stream_iterators import (
    StreamPosition,
    iterator_owner,
    iterator_stream,
    open_iterator,
    seal_iterator,
)
from andromede.dynamodb.stream_shards import Shard
from andromede.dynamodb.streams import (
    Stream,
    StreamViewType,
    event_name,
    format_sequence,
    parse_stream_arn,
    stream_label,
)


def test_labels_arns_and_numbers() -> None:
    assert stream_label(1_796_572_800_123) == "2026-12-06T16:00:00.123"
    assert stream_label(1_796_572_800_005) == "2026-12-06T16:00:00.005"
    stream = Stream(
        "111122223333", "orders", "2026-12-06T16:00:00.123", "eu-fr-1", 1_796_572_800_123,
        StreamViewType.KEYS_ONLY, KeyElement("pk", "S"), None, 1, b"w", b"k",
    )  # fmt: skip
    arn = stream.arn
    assert arn == (
        "arn:aws:dynamodb:eu-fr-1:111122223333:table/orders/stream/2026-12-06T16:00:00.123"
    )
    assert parse_stream_arn(arn) == ("eu-fr-1", "111122223333", "orders", stream.label)
    for wrong in ("arn:aws:dynamodb:eu-fr-1:1:table/orders", "arn:aws:s3:::b/stream/x", "x"):
        assert parse_stream_arn(wrong) is None
    first = format_sequence(stream.first_sequence)
    assert len(first) == 21 and first.isdigit()
    later = Stream(**{**_fields(stream), "created": stream.created + 1})
    assert format_sequence(later.first_sequence) > format_sequence(stream.first_sequence + 10**5)
    first_shard = Shard(stream, 0, 0).shard_id  # decision 0275: the first shard, as 0246's
    assert first_shard.startswith("shardId-") and 28 <= len(first_shard) <= 65
    assert stream.key_schema == [{"AttributeName": "pk", "KeyType": "HASH"}]


def _fields(stream: Stream) -> dict[str, object]:
    return {name: getattr(stream, name) for name in Stream.__slots__}  # type: ignore[attr-defined]


def test_which_write_makes_which_event() -> None:
    one = {"pk": {"S": "a"}, "n": {"N": "1"}, "s": {"SS": ["x", "y"]}}
    assert event_name(None, one) == "INSERT"
    assert event_name(one, None) == "REMOVE"
    assert event_name(None, None) is None  # a delete of an absent item
    same = {"pk": {"S": "a"}, "n": {"N": "1.0"}, "s": {"SS": ["y", "x"]}}
    assert event_name(one, same) is None  # equal by value: no record, as AWS
    assert event_name(one, {**one, "n": {"N": "2"}}) == "MODIFY"
    assert event_name(one, {"pk": {"S": "a"}, "n": {"N": "1"}}) == "MODIFY"  # one removed
    assert event_name(one, {**one, "n": {"S": "1"}}) == "MODIFY"  # another type


def test_iterators_verify_under_their_key_account_and_lifetime() -> None:
    key = b"k" * 32
    where = StreamPosition("orders", "2026-12-06T16:00:00.123", 42, 1_000)
    token = seal_iterator(key, "111122223333", where)
    assert iterator_stream(token) == ("orders", "2026-12-06T16:00:00.123")
    opened = open_iterator(key, "111122223333", token, 1_500, 900_000)
    # Format 3 (0275): the owner (0266) and the shard (generation 0, partition 0 here).
    assert opened == dataclasses.replace(where, owner="111122223333", generation=0)
    assert iterator_owner(token) == "111122223333"
    # A format 1 iterator (no owner) issued before the upgrade still opens, as its reader's.
    name, label = b"orders", b"2026-12-06T16:00:00.123"
    body = b"\x01" + struct.pack(">QQ", 1_000, 42) + bytes([len(name)]) + name
    body += bytes([len(label)]) + label
    mac = hmac.new(key, b"111122223333\n" + body, hashlib.sha256).digest()
    former = base64.b64encode(body + mac).decode()
    assert iterator_owner(former) is None
    assert open_iterator(key, "111122223333", former, 1_500, 900_000) == where
    with pytest.raises(ValidationError):
        open_iterator(b"j" * 32, "111122223333", token, 1_500, 900_000)  # another stream
    with pytest.raises(ValidationError):
        open_iterator(key, "444455556666", token, 1_500, 900_000)  # another account
    raw = bytearray(base64.b64decode(token))
    raw[10] ^= 1  # the position moved
    with pytest.raises(ValidationError):
        open_iterator(key, "111122223333", base64.b64encode(raw).decode(), 1_500, 900_000)
    for broken in ("", "!!", base64.b64encode(b"\x01short").decode()):
        with pytest.raises(ValidationError):
            open_iterator(key, "111122223333", broken, 1_500, 900_000)
    with pytest.raises(ExpiredIterator, match="900000 milliseconds"):
        open_iterator(key, "111122223333", token, 1_000 + 900_001, 900_000)
