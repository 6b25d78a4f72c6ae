"""Decision 0228's records through botocore's own model: a partition key's MD5 routing it to
the shard whose range holds it (or its ``ExplicitHashKey``), sequence numbers growing per
shard as 56-digit decimals, PutRecords' per-record answers (``FailedRecordCount`` past a
shard's throughput) and its bounds, ListShards' pages and filters, every iterator type,
GetRecords' ``Limit``, ``NextShardIterator``, ``MillisBehindLatest`` and arrival times;
iterators expiring and refusing any change of a byte, another account's or a deleted
stream's; records trimmed past the retention period; metrics and billing; GetRecords bound
by the shard's read throughput (decision 0248)."""

from __future__ import annotations

import base64
import hashlib
import time
from pathlib import Path
from typing import Any

import pytest

from andromede.kinesis.model import HASH_MAX
from support.firehoseapp import CallFailed
from support.kinesisapp import World, kinesis_world


def shard_of(partition_key: str, shards: int) -> str:
    value = int.from_bytes(hashlib.md5(partition_key.encode()).digest())  # noqa: S324 (AWS's)
    return f"shardId-{value * shards // (HASH_MAX + 1):012d}"


async def iterator(world: World, shard: str, kind: str = "TRIM_HORIZON", **more: Any) -> str:
    got = await world.client("GetShardIterator", StreamName="s", ShardId=shard,
                             ShardIteratorType=kind, **more)  # fmt: skip
    return str(got["ShardIterator"])


async def test_records_route_by_md5_and_are_read_back_in_order(world: World) -> None:
    await world.client("CreateStream", StreamName="s", ShardCount=4)
    keys = [f"user-{i}" for i in range(20)]
    put = await world.client(
        "PutRecords",
        StreamName="s",
        Records=[{"Data": f"r{i}".encode(), "PartitionKey": k} for i, k in enumerate(keys)],
    )
    assert put["FailedRecordCount"] == 0 and put["EncryptionType"] == "NONE"
    assert [r["ShardId"] for r in put["Records"]] == [shard_of(k, 4) for k in keys]
    numbers = [int(r["SequenceNumber"]) for r in put["Records"]]
    assert all(len(r["SequenceNumber"]) == 56 for r in put["Records"])
    assert numbers == sorted(numbers) and len(set(numbers)) == 20
    ordering = put["Records"][0]["SequenceNumber"]
    one = await world.client("PutRecord", StreamName="s", Data=b"last", PartitionKey="user-0",
                             SequenceNumberForOrdering=ordering)  # fmt: skip
    assert one["ShardId"] == shard_of("user-0", 4) and int(one["SequenceNumber"]) > max(numbers)
    explicit = await world.client("PutRecord", StreamName="s", Data=b"e", PartitionKey="x",
                                  ExplicitHashKey=str(HASH_MAX))  # fmt: skip
    assert explicit["ShardId"] == "shardId-000000000003"
    shard = shard_of("user-0", 4)
    got = await world.client("GetRecords", ShardIterator=await iterator(world, shard))
    expected = [f"r{i}".encode() for i, k in enumerate(keys) if shard_of(k, 4) == shard]
    assert [r["Data"] for r in got["Records"]] == [*expected, b"last"]
    assert all(r["PartitionKey"].startswith("user-") for r in got["Records"])
    assert abs(got["Records"][0]["ApproximateArrivalTimestamp"].timestamp() - time.time()) < 60
    assert got["MillisBehindLatest"] == 0
    again = await world.client("GetRecords", ShardIterator=got["NextShardIterator"])
    assert again["Records"] == [] and again["NextShardIterator"]
    assert world.sink.total("IncomingRecords") == 22
    assert world.sink.total("GetRecords.Records") == len(expected) + 1
    assert await world.usage("kinesis.put-units") == 22


async def test_every_iterator_type_and_the_limit(world: World) -> None:
    await world.client("CreateStream", StreamName="s", ShardCount=1)
    shard = "shardId-000000000000"
    latest = await iterator(world, shard, "LATEST")
    before = time.time()
    put = await world.client(
        "PutRecords", StreamName="s",
        Records=[{"Data": bytes([i]), "PartitionKey": "k"} for i in range(5)],
    )  # fmt: skip
    seqs = [r["SequenceNumber"] for r in put["Records"]]
    page = await world.client("GetRecords", ShardIterator=latest, Limit=2)
    assert [r["Data"] for r in page["Records"]] == [b"\x00", b"\x01"]
    assert page["MillisBehindLatest"] >= 0
    rest = await world.client("GetRecords", ShardIterator=page["NextShardIterator"])
    assert [r["Data"] for r in rest["Records"]] == [b"\x02", b"\x03", b"\x04"]
    at = await iterator(world, shard, "AT_SEQUENCE_NUMBER", StartingSequenceNumber=seqs[2])
    assert (await world.client("GetRecords", ShardIterator=at))["Records"][0]["Data"] == b"\x02"
    after = await iterator(world, shard, "AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=seqs[2])
    got = await world.client("GetRecords", ShardIterator=after)
    assert [r["Data"] for r in got["Records"]] == [b"\x03", b"\x04"]
    stamp = await iterator(world, shard, "AT_TIMESTAMP", Timestamp=before - 1)
    assert len((await world.client("GetRecords", ShardIterator=stamp))["Records"]) == 5
    future = await iterator(world, shard, "AT_TIMESTAMP", Timestamp=time.time() + 60)
    assert (await world.client("GetRecords", ShardIterator=future))["Records"] == []
    latest = await iterator(world, shard, "LATEST")
    assert (await world.client("GetRecords", ShardIterator=latest))["Records"] == []
    await world.fails("GetShardIterator", "InvalidArgumentException", StreamName="s",
                      ShardId=shard, ShardIteratorType="AT_SEQUENCE_NUMBER",
                      StartingSequenceNumber="12")  # fmt: skip
    await world.fails("GetShardIterator", "InvalidArgumentException", StreamName="s",
                      ShardId=shard, ShardIteratorType="AT_SEQUENCE_NUMBER")  # fmt: skip
    await world.fails("GetShardIterator", "ResourceNotFoundException", StreamName="s",
                      ShardId="shardId-000000000009", ShardIteratorType="LATEST")  # fmt: skip


async def test_iterators_are_tamper_proof_and_expire(tmp_path: Path) -> None:
    async for world in kinesis_world(tmp_path, kinesis_iterator_lifetime=1):
        await world.client("CreateStream", StreamName="s", ShardCount=1)
        await world.client("PutRecord", StreamName="s", Data=b"x", PartitionKey="k")
        token = await iterator(world, "shardId-000000000000")
        raw = bytearray(base64.b64decode(token))
        for at in (1, 9, len(raw) - 1):
            changed = bytearray(raw)
            changed[at] ^= 1
            forged = base64.b64encode(bytes(changed)).decode()
            await world.fails("GetRecords", "InvalidArgumentException", ShardIterator=forged)
        other = await world.other_tenant("other")
        await other.client("CreateStream", StreamName="s", ShardCount=1)
        # The iterator names its owner's stream: another account is refused, no policy
        # sharing it (decision 0248).
        await other.fails("GetRecords", "AccessDeniedException", ShardIterator=token)
        await world.fails("GetRecords", "InvalidArgumentException", ShardIterator="bm90IGl0")
        await world.client("DeleteStream", StreamName="s")
        await world.client("CreateStream", StreamName="s", ShardCount=1)
        await world.fails("GetRecords", "InvalidArgumentException", ShardIterator=token)
        fresh = await iterator(world, "shardId-000000000000")
        time.sleep(2.1)
        message = await world.fails("GetRecords", "ExpiredIteratorException", ShardIterator=fresh)
        assert "Iterator expired" in message


async def test_put_bounds_and_per_record_throughput(tmp_path: Path) -> None:
    async for world in kinesis_world(tmp_path, kinesis_shard_write_records=3,
                                     kinesis_max_record_size=1024):  # fmt: skip
        await world.client("CreateStream", StreamName="s", ShardCount=1)
        put = await world.client(
            "PutRecords", StreamName="s",
            Records=[{"Data": b"d", "PartitionKey": "k"} for _ in range(5)],
        )  # fmt: skip
        assert put["FailedRecordCount"] >= 2  # a second boundary may let a few more in
        failed = [r for r in put["Records"] if "ErrorCode" in r]
        assert {r["ErrorCode"] for r in failed} == {"ProvisionedThroughputExceededException"}
        assert "Rate exceeded for shard shardId-000000000000" in failed[0]["ErrorMessage"]
        await world.fails("PutRecord", "ValidationException", StreamName="s", Data=b"x" * 1025,
                          PartitionKey="k")  # fmt: skip
        reply = await world.raw("PutRecords", {"StreamName": "s", "Records": [
            {"Data": "eA==", "PartitionKey": "k"}] * 501})  # fmt: skip
        assert reply.error_fields()["__type"] == "ValidationException"
        await world.fails("PutRecord", "InvalidArgumentException", StreamName="s", Data=b"x",
                          PartitionKey="k", ExplicitHashKey=str(HASH_MAX + 1))  # fmt: skip
        await world.fails("PutRecord", "ResourceNotFoundException", StreamName="nope", Data=b"x",
                          PartitionKey="k")  # fmt: skip


async def test_list_shards_pages_and_filters(world: World) -> None:
    await world.client("CreateStream", StreamName="s", ShardCount=5)
    first = await world.client("ListShards", StreamName="s", MaxResults=2)
    assert [s["ShardId"] for s in first["Shards"]] == ["shardId-000000000000",
                                                       "shardId-000000000001"]  # fmt: skip
    second = await world.client("ListShards", NextToken=first["NextToken"], MaxResults=10)
    assert len(second["Shards"]) == 3 and "NextToken" not in second
    await world.fails("ListShards", "InvalidArgumentException", StreamName="s",
                      NextToken=first["NextToken"])  # fmt: skip
    after = await world.client(
        "ListShards", StreamName="s", ExclusiveStartShardId="shardId-000000000003"
    )
    assert [s["ShardId"] for s in after["Shards"]] == ["shardId-000000000004"]
    await world.client("MergeShards", StreamName="s", ShardToMerge="shardId-000000000000",
                       AdjacentShardToMerge="shardId-000000000001")  # fmt: skip
    latest = await world.client("ListShards", StreamName="s", ShardFilter={"Type": "AT_LATEST"})
    assert [s["ShardId"] for s in latest["Shards"]] == [
        "shardId-000000000002", "shardId-000000000003", "shardId-000000000004",
        "shardId-000000000005",
    ]  # fmt: skip
    horizon = await world.client("ListShards", StreamName="s",
                                 ShardFilter={"Type": "AT_TRIM_HORIZON"})  # fmt: skip
    assert len(horizon["Shards"]) == 6


async def test_records_past_retention_are_trimmed(world: World) -> None:
    await world.client("CreateStream", StreamName="s", ShardCount=1)
    await world.client("PutRecord", StreamName="s", Data=b"old", PartitionKey="k")
    assert await world.kinesis.trim() == 0
    world.kinesis.store._records[(world.tenant_id, "s")] = [  # type: ignore[attr-defined]
        r.__class__(r.shard, r.sequence, r.partition_key, r.arrived - 25 * 3_600_000, r.size,
                    r.sealed)
        for r in world.kinesis.store._records[(world.tenant_id, "s")]  # type: ignore[attr-defined]
    ]  # fmt: skip
    await world.client("PutRecord", StreamName="s", Data=b"new", PartitionKey="k")
    assert await world.kinesis.trim() == 1
    got = await world.client(
        "GetRecords", ShardIterator=await iterator(world, "shardId-000000000000")
    )
    assert [r["Data"] for r in got["Records"]] == [b"new"]


@pytest.mark.parametrize("count", [1, 3])
async def test_a_read_is_bounded_by_bytes(tmp_path: Path, count: int) -> None:
    async for world in kinesis_world(tmp_path):
        world.kinesis.limits = world.kinesis.limits.__class__(max_read_bytes=10)
        await world.client("CreateStream", StreamName="s", ShardCount=1)
        await world.client("PutRecords", StreamName="s", Records=[
            {"Data": b"x" * 6, "PartitionKey": "k"} for _ in range(count)])  # fmt: skip
        got = await world.client(
            "GetRecords", ShardIterator=await iterator(world, "shardId-000000000000")
        )
        assert len(got["Records"]) == 1  # one at least, never past the bound after it
        for _ in range(count - 1):  # each read one record, never past the bound
            got = await world.client("GetRecords", ShardIterator=got["NextShardIterator"])
            assert len(got["Records"]) == 1
        got = await world.client("GetRecords", ShardIterator=got["NextShardIterator"])
        assert got["Records"] == []


async def test_getrecords_is_bound_by_the_shards_read_throughput(tmp_path: Path) -> None:
    """Decision 0248: past ``kinesis_shard_read_calls`` calls a second, or once a read spent
    the shard's bytes, GetRecords answers ProvisionedThroughputExceededException, counted in
    ``ReadProvisionedThroughputExceeded`` (the shard's too when monitored)."""
    async for world in kinesis_world(tmp_path, kinesis_shard_read_calls=3,
                                     kinesis_shard_read_bytes=1000):  # fmt: skip
        await world.client("CreateStream", StreamName="s", ShardCount=1)
        await world.client("EnableEnhancedMonitoring", StreamName="s",
                           ShardLevelMetrics=["ReadProvisionedThroughputExceeded"])  # fmt: skip
        token = await iterator(world, "shardId-000000000000")
        refused = 0
        for _ in range(8):  # within two seconds at most: more than 3 a second
            try:
                await world.client("GetRecords", ShardIterator=token)
            except CallFailed as exc:
                assert exc.code == "ProvisionedThroughputExceededException", exc.code
                assert "Rate exceeded for shard shardId-000000000000" in exc.message
                refused += 1
        assert refused >= 2
        assert world.sink.total("ReadProvisionedThroughputExceeded") == 2 * refused
        time.sleep(1.1)
        await world.client("PutRecord", StreamName="s", Data=b"x" * 3000, PartitionKey="k")
        read = await world.client("GetRecords", ShardIterator=token)
        assert len(read["Records"]) == 1  # served whole: three seconds' worth
        await world.fails("GetRecords", "ProvisionedThroughputExceededException",
                          ShardIterator=read["NextShardIterator"])  # fmt: skip
        # The platform's own readers (Firehose's source, enhanced fan-out) are not bound by it.
        unbound = await world.kinesis.records(world.tenant_id, read["NextShardIterator"], 10)
        assert unbound.records == []
