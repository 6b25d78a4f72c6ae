"""Decision 0260 through botocore's model: UpdateMaxRecordSize (AWS's 1024 to 10240 KiB, a
ValidationException outside), the stream's MaxRecordSizeInKiB in DescribeStreamSummary and
set by CreateStream, PutRecord/PutRecords refusing a record past it (data and partition key
counted) and taking it once raised, the 10 MiB PutRecords bound, a large record's burst then
the shard throttled, GetRecords' pages still at most 10 MiB; DescribeAccountSettings /
UpdateAccountSettings' commitment per account, audited and authorised."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from support.kinesisapp import World, kinesis_world

MIB = 1024 * 1024


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async for made in kinesis_world(tmp_path):
        yield made


def _arn(world: World, name: str) -> str:
    return f"arn:aws:kinesis:eu-fr-1:{world.tenant_id}:stream/{name}"


async def _summary(world: World, name: str) -> int:
    got = await world.client("DescribeStreamSummary", StreamName=name)
    return int(got["StreamDescriptionSummary"]["MaxRecordSizeInKiB"])


async def test_the_record_size_bounds_puts_until_raised(world: World) -> None:
    await world.client("CreateStream", StreamName="s", ShardCount=2)
    assert await _summary(world, "s") == 1024
    big = b"x" * (MIB + 1)
    message = await world.fails("PutRecord", "InvalidArgumentException", StreamName="s",
                                Data=big, PartitionKey="k")  # fmt: skip
    assert "1024 KiB" in message
    edge = b"x" * (MIB - 1)  # with its one-byte key: exactly 1 MiB
    await world.client("PutRecord", StreamName="s", Data=edge, PartitionKey="k")
    await world.fails("PutRecord", "InvalidArgumentException", StreamName="s", Data=edge,
                      PartitionKey="kk")  # fmt: skip
    await world.fails("PutRecords", "InvalidArgumentException", StreamName="s",
                      Records=[{"Data": b"a", "PartitionKey": "a"},
                               {"Data": big, "PartitionKey": "b"}])  # fmt: skip
    assert await world.client("UpdateMaxRecordSize", StreamARN=_arn(world, "s"),
                              MaxRecordSizeInKiB=4096) == {}  # fmt: skip
    assert await _summary(world, "s") == 4096
    put = await world.client("PutRecord", StreamName="s", Data=big, PartitionKey="k2")
    # The burst is paid back: the shard refuses writes for the next second or so.
    await world.fails("PutRecord", "ProvisionedThroughputExceededException", StreamName="s",
                      Data=b"small", PartitionKey="k2")  # fmt: skip
    token = (await world.client("GetShardIterator", StreamName="s", ShardId=put["ShardId"],
                                ShardIteratorType="AT_SEQUENCE_NUMBER",
                                StartingSequenceNumber=put["SequenceNumber"])
             )["ShardIterator"]  # fmt: skip
    read = await world.client("GetRecords", ShardIterator=token)
    assert read["Records"][0]["Data"] == big
    for kib in (1023, 10241):
        reply = await world.raw("UpdateMaxRecordSize", {"StreamARN": _arn(world, "s"),
                                                        "MaxRecordSizeInKiB": kib})  # fmt: skip
        assert reply.error_fields()["__type"] == "ValidationException"
    await world.fails("UpdateMaxRecordSize", "ResourceNotFoundException",
                      StreamARN=_arn(world, "none"), MaxRecordSizeInKiB=2048)  # fmt: skip
    assert ("kinesis:UpdateMaxRecordSize", "success") in await world.audited()


async def test_create_stream_sets_it_and_large_pages_stay_bounded(world: World) -> None:
    await world.client("CreateStream", StreamName="big", ShardCount=1, MaxRecordSizeInKiB=10240)
    assert await _summary(world, "big") == 10240
    six = b"6" * (5 * MIB + 1)
    # Two records of 5 MiB and a byte pass one PutRecords' 10 MiB: refused whole.
    message = await world.fails("PutRecords", "InvalidArgumentException", StreamName="big",
                                Records=[{"Data": six, "PartitionKey": "a"}] * 2)  # fmt: skip
    assert "10485760" in message
    first = await world.client("PutRecord", StreamName="big", Data=six, PartitionKey="a")
    world.kinesis.throttle = None  # the burst's payback is the other test's: here, the pages
    await world.client("PutRecord", StreamName="big", Data=six, PartitionKey="a")
    token = (await world.client("GetShardIterator", StreamName="big", ShardId=first["ShardId"],
                                ShardIteratorType="TRIM_HORIZON"))["ShardIterator"]  # fmt: skip
    page = await world.client("GetRecords", ShardIterator=token)
    assert [len(r["Data"]) for r in page["Records"]] == [len(six)]  # both: past a page
    # 5 MiB read from a shard of 2 MB a second: its next reads wait until it is paid back.
    await world.fails("GetRecords", "ProvisionedThroughputExceededException",
                      ShardIterator=page["NextShardIterator"])  # fmt: skip
    world.kinesis.read_throttle = None
    page = await world.client("GetRecords", ShardIterator=page["NextShardIterator"])
    assert [len(r["Data"]) for r in page["Records"]] == [len(six)]
    reply = await world.raw("CreateStream", {"StreamName": "x", "ShardCount": 1,
                                             "MaxRecordSizeInKiB": 512})  # fmt: skip
    assert reply.error_fields()["__type"] == "ValidationException"


async def test_a_platform_bound_below_ten_mib_caps_the_streams(tmp_path: Path) -> None:
    async for world in kinesis_world(tmp_path, kinesis_max_record_size=2 * MIB):
        await world.client("CreateStream", StreamName="s", ShardCount=1)
        await world.client("UpdateMaxRecordSize", StreamARN=_arn(world, "s"),
                           MaxRecordSizeInKiB=2048)  # fmt: skip
        await world.fails("UpdateMaxRecordSize", "InvalidArgumentException",
                          StreamARN=_arn(world, "s"), MaxRecordSizeInKiB=4096)  # fmt: skip
        await world.fails("CreateStream", "InvalidArgumentException", StreamName="t",
                          ShardCount=1, MaxRecordSizeInKiB=4096)  # fmt: skip


async def test_the_accounts_billing_commitment(world: World) -> None:
    assert await world.client("DescribeAccountSettings") == {
        "MinimumThroughputBillingCommitment": {"Status": "DISABLED"}
    }
    on = (await world.client("UpdateAccountSettings",
                             MinimumThroughputBillingCommitment={"Status": "ENABLED"})
          )["MinimumThroughputBillingCommitment"]  # fmt: skip
    assert on["Status"] == "ENABLED"
    started = on["StartedAt"].timestamp()
    assert on["EarliestAllowedEndAt"].timestamp() == pytest.approx(started + 86_400)
    early = (await world.client("UpdateAccountSettings",
                                MinimumThroughputBillingCommitment={"Status": "DISABLED"})
             )["MinimumThroughputBillingCommitment"]  # fmt: skip
    assert early["Status"] == "ENABLED_UNTIL_EARLIEST_ALLOWED_END"
    assert early["EndedAt"] == on["EarliestAllowedEndAt"]
    described = (await world.client("DescribeAccountSettings"))[
        "MinimumThroughputBillingCommitment"
    ]
    assert described == early
    resumed = (await world.client("UpdateAccountSettings",
                                  MinimumThroughputBillingCommitment={"Status": "ENABLED"})
               )["MinimumThroughputBillingCommitment"]  # fmt: skip
    assert resumed["Status"] == "ENABLED" and "EndedAt" not in resumed
    assert resumed["StartedAt"] == on["StartedAt"]
    reply = await world.raw(
        "UpdateAccountSettings", {"MinimumThroughputBillingCommitment": {"Status": "PAUSED"}}
    )
    assert reply.error_fields()["__type"] == "ValidationException"
    reply = await world.raw("UpdateAccountSettings", {})
    assert reply.error_fields()["__type"] == "ValidationException"
    assert ("kinesis:UpdateAccountSettings", "success") in await world.audited()
