"""Decision 0275's shards through the in-process app, as boto3's ``dynamodbstreams`` client
sends them, under a fake clock: a stream split into several shards by partition key (a
setting, more for a provisioned table's throughput), shards rolled into children
(``ParentShardId``) after the shard lifetime, a closed shard's ``EndingSequenceNumber`` and
its end read without ``NextShardIterator``, DescribeStream paged (``Limit``,
``ExclusiveStartShardId``, ``LastEvaluatedShardId``) and filtered to a shard's children, the
shards whose records all expired gone; a reader that follows lineage (as the KCL does) reads
every change once, each item's in order. Over the memory twin and the SQL stores."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from andromede.dynamodb import service as service_module
from andromede.dynamodb import stream_service
from andromede.dynamodb.store_sql import SqlDynamoStore
from andromede.dynamodb.stream_shards import SETTLE_MS
from andromede.settings import Settings
from support.dynamodbapp import World, dynamodb_world
from support.store_backends import BACKENDS, backend_database

HOUR_MS = 3_600_000
START_MS = 1_796_572_800_000  # 2026-12-06T16:00:00Z


class FakeClock:
    def __init__(self) -> None:
        self.now = START_MS

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The writes' and the streams' clock (records' times, shard generations)."""
    fake = FakeClock()
    monkeypatch.setattr(service_module, "_now", fake)
    monkeypatch.setattr(stream_service, "_now", fake)
    return fake


@pytest.fixture(params=BACKENDS)
async def world(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[World]:
    async with backend_database(request, tmp_path) as db:
        store = None if db is None else SqlDynamoStore(db)
        async for made in dynamodb_world(
            tmp_path,
            store,
            dynamodb_stream_shards=2,
            dynamodb_stream_shard_lifetime=HOUR_MS / 1000,
        ):
            yield made


async def _table(world: World, **more: Any) -> str:
    billing: dict[str, Any] = {"BillingMode": "PAY_PER_REQUEST"}
    if "ProvisionedThroughput" in more:
        billing = {"BillingMode": "PROVISIONED"}
    created = await world.client(
        "CreateTable",
        TableName="things",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        **billing,
        **more,
    )
    return str(created["TableDescription"]["LatestStreamArn"])


async def _put(world: World, key: str, n: int) -> None:
    item = {"pk": {"S": key}, "n": {"N": str(n)}}
    await world.client("PutItem", TableName="things", Item=item)


async def _shards(world: World, arn: str, **more: Any) -> list[dict[str, Any]]:
    described = await world.streams("DescribeStream", StreamArn=arn, **more)
    return list(described["StreamDescription"]["Shards"])


async def _iterator(world: World, arn: str, shard: str, kind: str = "TRIM_HORIZON") -> str:
    answer = await world.streams(
        "GetShardIterator", StreamArn=arn, ShardId=shard, ShardIteratorType=kind
    )
    return str(answer["ShardIterator"])


async def _read_shard(world: World, arn: str, shard: str) -> tuple[list[dict[str, Any]], bool]:
    """The shard's records from TRIM_HORIZON, two a call; whether its end was reached (no
    ``NextShardIterator``), else it stopped at its tip."""
    records: list[dict[str, Any]] = []
    iterator: str | None = await _iterator(world, arn, shard)
    while iterator is not None:
        answer = await world.streams("GetRecords", ShardIterator=iterator, Limit=2)
        records += answer["Records"]
        iterator = answer.get("NextShardIterator")
        if iterator is not None and not answer["Records"]:
            return records, False
    return records, True


async def _read_by_lineage(world: World, arn: str) -> dict[str, list[dict[str, Any]]]:
    """Every listed shard read as the KCL reads them: a child once its parent is finished."""
    shards = await _shards(world, arn)
    listed = {s["ShardId"] for s in shards}
    finished: set[str] = set()
    read: dict[str, list[dict[str, Any]]] = {}
    while len(read) < len(shards):
        for shard in shards:
            sid, parent = shard["ShardId"], shard.get("ParentShardId")
            if sid in read or (parent in listed and parent not in finished):
                continue
            read[sid], ended = await _read_shard(world, arn, sid)
            if ended:
                finished.add(sid)
    return read


def _by_item(read: dict[str, list[dict[str, Any]]]) -> dict[str, list[str]]:
    changes: dict[str, list[str]] = defaultdict(list)
    for records in read.values():
        for record in records:
            image = record["dynamodb"]["NewImage"]
            changes[image["pk"]["S"]].append(image["n"]["N"])
    return changes


async def test_items_spread_over_shards_each_in_one(world: World, clock: FakeClock) -> None:
    arn = await _table(world)
    for n in range(2):
        for key in range(12):
            await _put(world, f"k{key}", n)
            clock.now += 1
    shards = await _shards(world, arn)
    assert len(shards) == 2  # dynamodb_stream_shards
    for shard in shards:
        assert shard["ShardId"].startswith(f"shardId-{START_MS:020d}-")
        assert "ParentShardId" not in shard
        assert "EndingSequenceNumber" not in shard["SequenceNumberRange"]  # open
    read = await _read_by_lineage(world, arn)
    assert all(records for records in read.values())  # both shards have items
    owners: dict[str, set[str]] = defaultdict(set)
    for sid, records in read.items():
        for record in records:
            owners[record["dynamodb"]["Keys"]["pk"]["S"]].add(sid)
    assert all(len(held) == 1 for held in owners.values()) and len(owners) == 12
    assert _by_item(read) == {f"k{key}": ["0", "1"] for key in range(12)}


async def test_shards_roll_into_children_read_by_lineage(world: World, clock: FakeClock) -> None:
    arn = await _table(world)
    for key in range(8):
        await _put(world, f"k{key}", 1)
    clock.now += HOUR_MS + 1  # generation 1
    for key in range(8):
        await _put(world, f"k{key}", 2)
    clock.now += HOUR_MS  # generation 2
    await _put(world, "k0", 3)
    await _put(world, "k9", 1)
    shards = await _shards(world, arn)
    assert len(shards) == 6
    ids = [s["ShardId"] for s in shards]
    assert ids == sorted(ids)
    first, second, third = shards[:2], shards[2:4], shards[4:]
    assert all("ParentShardId" not in s for s in first)
    assert {s["ParentShardId"] for s in second} == {s["ShardId"] for s in first}
    assert {s["ParentShardId"] for s in third} == {s["ShardId"] for s in second}
    for shard in first + second:  # closed: a later generation has a record
        numbers = shard["SequenceNumberRange"]
        assert numbers["EndingSequenceNumber"] >= numbers["StartingSequenceNumber"]
    assert all("EndingSequenceNumber" not in s["SequenceNumberRange"] for s in third)
    opened = f"shardId-{START_MS + 2 * HOUR_MS:020d}-"
    assert all(s["ShardId"].startswith(opened) for s in third)

    read = await _read_by_lineage(world, arn)
    expected = {f"k{key}": ["1", "2"] for key in range(8)}
    expected["k0"].append("3")
    expected["k9"] = ["1"]
    assert _by_item(read) == expected  # every change once, each item's in order
    ids_read = [r["eventID"] for records in read.values() for r in records]
    assert len(ids_read) == len(set(ids_read)) == 18

    # Paged: Limit, LastEvaluatedShardId, ExclusiveStartShardId.
    page = (await world.streams("DescribeStream", StreamArn=arn, Limit=4))["StreamDescription"]
    assert [s["ShardId"] for s in page["Shards"]] == ids[:4]
    assert page["LastEvaluatedShardId"] == ids[3]
    rest = (
        await world.streams("DescribeStream", StreamArn=arn, Limit=4, ExclusiveStartShardId=ids[3])
    )["StreamDescription"]
    assert [s["ShardId"] for s in rest["Shards"]] == ids[4:]
    assert "LastEvaluatedShardId" not in rest
    # A shard's children.
    children = await _shards(
        world, arn, ShardFilter={"Type": "CHILD_SHARDS", "ShardId": first[0]["ShardId"]}
    )
    assert [c["ParentShardId"] for c in children] == [first[0]["ShardId"]]
    assert len(children) == 1 and children[0] in second

    # A closed shard: LATEST reads its end at once, no NextShardIterator.
    latest = await _iterator(world, arn, first[0]["ShardId"], "LATEST")
    answer = await world.streams("GetRecords", ShardIterator=latest)
    assert answer["Records"] == [] and "NextShardIterator" not in answer
    # A number of another generation is not one of this shard's.
    later = read[third[0]["ShardId"]] or read[third[1]["ShardId"]]
    number = later[0]["dynamodb"]["SequenceNumber"]
    await world.streams_fails(
        "GetShardIterator",
        "ValidationException",
        StreamArn=arn,
        ShardId=first[0]["ShardId"],
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        SequenceNumber=number,
    )
    missing = f"shardId-{START_MS + 9 * HOUR_MS:020d}-00000000"
    await world.streams_fails(
        "GetShardIterator",
        "ResourceNotFoundException",
        StreamArn=arn,
        ShardId=missing,
        ShardIteratorType="TRIM_HORIZON",
    )


async def test_an_idle_shard_closes_once_settled(world: World, clock: FakeClock) -> None:
    arn = await _table(world)
    await _put(world, "k0", 1)
    clock.now += HOUR_MS  # generation 0 ended, no write since
    shards = await _shards(world, arn)
    assert len(shards) == 4
    reads = [await _read_shard(world, arn, s["ShardId"]) for s in shards[:2]]
    ((holder, (records, ended)),) = [(s, r) for s, r in zip(shards, reads, strict=False) if r[0]]
    assert "EndingSequenceNumber" not in holder["SequenceNumberRange"]  # a late commit may come
    assert len(records) == 1 and not ended
    clock.now += SETTLE_MS
    shards = await _shards(world, arn)
    closed = next(s for s in shards if s["ShardId"] == holder["ShardId"])
    ending = closed["SequenceNumberRange"]["EndingSequenceNumber"]
    assert ending == records[0]["dynamodb"]["SequenceNumber"]
    records, ended = await _read_shard(world, arn, holder["ShardId"])
    assert len(records) == 1 and ended


async def test_expired_shards_disappear(world: World, clock: FakeClock) -> None:
    arn = await _table(world)
    await _put(world, "k0", 1)
    gone = (await _shards(world, arn))[0]["ShardId"]
    clock.now += 30 * HOUR_MS  # the 24-hour retention: generations 0..5 all expired
    shards = await _shards(world, arn)
    assert len(shards) == 2 * 25  # generations 6..30
    assert gone not in {s["ShardId"] for s in shards}
    assert shards[0]["ShardId"].startswith(f"shardId-{START_MS + 6 * HOUR_MS:020d}-")
    await world.streams_fails(
        "GetShardIterator",
        "ResourceNotFoundException",
        StreamArn=arn,
        ShardId=gone,
        ShardIteratorType="TRIM_HORIZON",
    )


async def test_a_disabled_stream_closes_every_shard(world: World, clock: FakeClock) -> None:
    arn = await _table(world)
    await _put(world, "k0", 1)
    clock.now += HOUR_MS + 5
    await _put(world, "k0", 2)
    await world.client(
        "UpdateTable", TableName="things", StreamSpecification={"StreamEnabled": False}
    )
    clock.now += 3 * HOUR_MS  # no generation opens after the stream ended
    shards = await _shards(world, arn)
    assert len(shards) == 4
    assert all("EndingSequenceNumber" in s["SequenceNumberRange"] for s in shards)
    read = await _read_by_lineage(world, arn)
    assert _by_item(read) == {"k0": ["1", "2"]}


async def test_a_provisioned_table_gets_its_partitions(world: World) -> None:
    arn = await _table(
        world, ProvisionedThroughput={"ReadCapacityUnits": 100, "WriteCapacityUnits": 2500}
    )
    assert len(await _shards(world, arn)) == 3  # one per 1,000 write units, above the setting


def test_the_shard_settings_are_bounded(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        Settings(data_dir=tmp_path, dynamodb_stream_shards=0)
    with pytest.raises(ValidationError):
        Settings(data_dir=tmp_path, dynamodb_stream_shard_lifetime=10)
    held = Settings(data_dir=tmp_path)
    assert (held.dynamodb_stream_shards, held.dynamodb_stream_shard_lifetime) == (1, 14_400.0)
