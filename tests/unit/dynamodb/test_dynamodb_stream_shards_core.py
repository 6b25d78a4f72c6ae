"""Decision 0275's shard model, pure: the generation a number falls in, shard names (the
first keeps decision 0246's), when a shard is closed and where it ends, which shards are
listed under the retention and the pruned point, and a table's partitions."""

from __future__ import annotations

import dataclasses
import hashlib

from andromede.dynamodb.model import BillingMode, KeyElement, Table
from andromede.dynamodb.stream_shards import SETTLE_MS, Shard, generation_of, listed_shards
from andromede.dynamodb.streams import (
    SEQUENCE_BASE,
    ShardLayout,
    Stream,
    StreamViewType,
    next_sequence,
)

CREATED = 1_796_572_800_000
LIFETIME = 3_600_000
RETENTION = 24 * LIFETIME


def _stream(**more: object) -> Stream:
    fields: dict[str, object] = {
        "tenant_id": "111122223333",
        "table_name": "orders",
        "label": "2026-12-06T16:00:00.000",
        "region": "eu-fr-1",
        "created": CREATED,
        "view_type": StreamViewType.KEYS_ONLY,
        "hash_key": KeyElement("pk", "S"),
        "sort_key": None,
        "table_created": 1,
        "wrapped_key": b"w",
        "iterator_key": b"k",
        "next_sequence": CREATED * SEQUENCE_BASE + 1,
        "trimmed_to": CREATED * SEQUENCE_BASE + 1,
        "partitions": 2,
        "shard_lifetime_ms": LIFETIME,
    }
    return Stream(**(fields | more))  # type: ignore[arg-type]


def test_numbers_carry_their_generation() -> None:
    stream = _stream()
    assert next_sequence(5, CREATED) == CREATED * SEQUENCE_BASE + 1
    assert next_sequence(CREATED * SEQUENCE_BASE + 9, CREATED) == CREATED * SEQUENCE_BASE + 9
    assert generation_of(stream, stream.first_sequence) == 0
    end = (CREATED + LIFETIME) * SEQUENCE_BASE
    assert generation_of(stream, end) == 0
    assert generation_of(stream, end + 1) == 1
    assert Shard(stream, 0, 1).bound == end + 1 == Shard(stream, 1, 1).first_sequence


def test_names_and_lineage() -> None:
    stream = _stream()
    first = Shard(stream, 0, 0)
    digest = hashlib.sha256(stream.arn.encode()).hexdigest()[:8]
    assert first.shard_id == f"shardId-{CREATED:020d}-{digest}"  # decision 0246's one shard
    child = Shard(stream, 1, 0)
    assert child.shard_id.startswith(f"shardId-{CREATED + LIFETIME:020d}-")
    assert child.parent_id == first.shard_id and first.parent_id is None
    ids = {Shard(stream, g, p).shard_id for g in range(3) for p in range(2)}
    assert len(ids) == 6


def test_when_a_shard_is_closed_and_where_it_ends() -> None:
    stream = _stream()
    shard = Shard(stream, 0, 0)
    assert not shard.closed(CREATED + LIFETIME)  # its end, a late commit still possible
    assert not shard.closed(CREATED + LIFETIME + SETTLE_MS - 1)
    assert shard.closed(CREATED + LIFETIME + SETTLE_MS)
    written = dataclasses.replace(stream, next_sequence=shard.bound)  # a later record
    assert Shard(written, 0, 0).closed(CREATED) and Shard(written, 0, 0).end == shard.bound
    disabled = dataclasses.replace(stream, disabled=CREATED + 5, next_sequence=shard.bound - 7)
    assert Shard(disabled, 0, 0).closed(CREATED + 6)
    assert Shard(disabled, 0, 0).end == shard.bound - 7
    described = Shard(disabled, 1, 0).describe(CREATED + 6)
    assert described["ParentShardId"] == Shard(disabled, 0, 0).shard_id


def test_which_shards_are_listed() -> None:
    stream = _stream()
    assert len(listed_shards(stream, CREATED, RETENTION)) == 2
    listed = listed_shards(stream, CREATED + 2 * LIFETIME, RETENTION)
    assert [s.generation for s in listed] == [0, 0, 1, 1, 2, 2]
    assert [s.shard_id for s in listed] == sorted(s.shard_id for s in listed)
    later = listed_shards(stream, CREATED + 30 * LIFETIME, RETENTION)
    assert {s.generation for s in later} == set(range(6, 31))  # 0..5 expired
    pruned = dataclasses.replace(stream, trimmed_to=Shard(stream, 1, 0).bound)
    assert {s.generation for s in listed_shards(pruned, CREATED + 2 * LIFETIME, RETENTION)} == {2}
    ended = dataclasses.replace(stream, disabled=CREATED + LIFETIME + 1)
    assert {s.generation for s in listed_shards(ended, CREATED + 9 * LIFETIME, RETENTION)} == {
        0,
        1,
    }


def test_a_tables_partitions() -> None:
    table = Table(
        tenant_id="t",
        name="orders",
        region="eu-fr-1",
        created=1,
        hash_key=KeyElement("pk", "S"),
        sort_key=None,
        attributes=(),
        billing_mode=BillingMode.PROVISIONED,
        read_capacity=6_001,
        write_capacity=10,
        wrapped_key=b"w",
    )
    assert ShardLayout().partitions_for(table) == 3  # 3,000 read units a partition
    assert ShardLayout(partitions=4).partitions_for(table) == 4
    assert ShardLayout().partitions_for(dataclasses.replace(table, write_capacity=1_001)) == 3
    huge = dataclasses.replace(table, write_capacity=10**6)
    assert ShardLayout().partitions_for(huge) == 100  # bounded as the setting
    on_demand = dataclasses.replace(table, billing_mode=BillingMode.PAY_PER_REQUEST)
    assert ShardLayout(partitions=2).partitions_for(on_demand) == 2
