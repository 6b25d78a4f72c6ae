"""Decision 0342's KPL decoder against the tests' own encoder (``support.kpl``, written from
the published format): user records and their partition keys in subsequence order, fields the
format allows stepped over; what is not a whole aggregate — no magic, a bad MD5, truncated,
a protobuf that does not parse, a key index past the table, no record — left as the one
Kinesis record it is, as the KCL leaves it; a batch expanded with each user record's id
carrying its own partition key and subsequence number, beside CloudWatch Logs' ids."""

from __future__ import annotations

import dataclasses

import pytest

from andromede.firehose.kpl import MAGIC, UserRecord, deaggregate, expand
from andromede.firehose.model import (
    BufferedRecord,
    SourceRecord,
    kinesis_metadata,
    kinesis_record_id,
)
from support.kpl import aggregate, framed, length_delimited, number_field

USERS = [("order-1", b'{"id":1}'), ("order-2", b'{"id":2}'), ("order-1", b""), ("k:3", b"x" * 300)]


def test_user_records_come_out_in_order_with_their_keys() -> None:
    assert deaggregate(aggregate(USERS)) == [UserRecord(k, d) for k, d in USERS]
    # Explicit hash keys and tags are stepped over.
    both = aggregate(USERS, explicit_hash_key="1234", tag=("team", "orders"))
    assert deaggregate(both) == [UserRecord(k, d) for k, d in USERS]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"plain record",
        MAGIC,  # too short for a digest
        MAGIC + b"\x00" * 16,  # an empty message whose MD5 is not zeros
        aggregate(USERS)[:-1],  # truncated: the MD5 does not match any more
        aggregate(USERS)[:-17] + aggregate(USERS)[-16:],  # the message truncated
        aggregate(USERS)[:6] + b"!" + aggregate(USERS)[7:],  # a byte changed
        framed(b"\x0a\xff"),  # a length past the message
        framed(length_delimited(3, number_field(1, 0) + length_delimited(3, b"d"))),  # no key
        framed(length_delimited(1, b"k") + length_delimited(3, number_field(1, 0))),  # no data
        framed(length_delimited(1, b"k")),  # no record
        framed(b"\x0b"),  # a group: never in the format
        framed(  # a key not UTF-8
            length_delimited(1, b"\xff")
            + length_delimited(3, number_field(1, 0) + length_delimited(3, b"d"))
        ),
    ],
)
def test_what_is_not_a_whole_aggregate_is_left_as_it_came(data: bytes) -> None:
    assert deaggregate(data) is None


def test_a_record_that_only_starts_like_one_is_a_producer_s_data() -> None:
    data = MAGIC + b"a producer's own bytes, long enough for a digest"
    assert deaggregate(data) is None


def _buffered(seq: int, key: str, data: bytes, sequence: str = "4955") -> BufferedRecord:
    record_id = kinesis_record_id("shardId-000000000001", SourceRecord(sequence, data, key, 1_700))
    return BufferedRecord(seq=seq, record_id=record_id, arrived=2_000, size=len(data), sealed=b"")


def test_a_batch_expanded_each_user_record_named_with_its_metadata() -> None:
    agg = aggregate(USERS)
    broken = agg[:-1]
    records = [
        _buffered(1, "plain", b"p"),
        _buffered(2, "aggregate-key", agg, "4956"),
        _buffered(3, "b", broken),
    ]
    direct = dataclasses.replace(records[0], seq=4, record_id="a-direct-put-id")
    out = expand([*records, direct], [b"p", agg, broken, aggregate(USERS)])
    assert (out.aggregates, out.user_records) == (1, 4)
    assert out.opened == [b"p", *(d for _, d in USERS), broken, aggregate(USERS)]
    assert [r.seq for r in out.records] == [1, 2, 2, 2, 2, 3, 4]
    assert [r.size for r in out.records][1:5] == [len(d) for _, d in USERS]
    plain = kinesis_metadata(out.records[0].record_id)
    assert plain is not None and (plain.partition_key, plain.subsequence) == ("plain", 0)
    users = [kinesis_metadata(r.record_id) for r in out.records[1:5]]
    assert [(m.partition_key, m.subsequence) for m in users if m] == [
        (k, n) for n, (k, _) in enumerate(USERS)
    ]
    assert {(m.shard_id, m.sequence, m.arrived) for m in users if m} == {
        ("shardId-000000000001", "4956", 1_700)
    }
    assert len({r.record_id for r in out.records}) == len(out.records)
    assert out.records[-1].record_id == "a-direct-put-id"  # Direct PUT's never undone


def test_a_log_message_s_id_keeps_the_user_record_s_subsequence() -> None:
    out = expand([_buffered(1, "k", b"")], [aggregate([("a", b"1"), ("b", b"2")])])
    second = out.records[1].record_id
    assert second.endswith(":s1")
    found = kinesis_metadata(f"{second}:0")  # a message extracted from it (decision 0334)
    assert found is not None and (found.partition_key, found.subsequence) == ("b", 1)
    plain = kinesis_metadata(f"{_buffered(1, 'k', b'').record_id}:3")
    assert plain is not None and plain.subsequence == 0
