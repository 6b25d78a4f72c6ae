"""Decision 0255's Kinesis billing through the service and its wiring: PUT payload units for
provisioned streams only, on-demand ingestion and retrievals, enhanced fan-out's bytes by
mode, and the sampler's reading of what the streams hold (shards, on-demand streams,
consumers, metrics, retained bytes by age) over a real store."""

from __future__ import annotations

import time

from andromede.billing.service import KINESIS_SAMPLERS
from andromede.kinesis.metering import DAY_MS, WEEK_MS
from andromede.kinesis.store import SealedRecord
from andromede.wiring.kinesis_billing import HELD_METERS, kinesis_holdings
from support.kinesisapp import REGION, World


async def read_all(world: World, stream: str, operation: str = "GetRecords") -> int:
    described = await world.client("DescribeStream", StreamName=stream)
    read = 0
    for shard in described["StreamDescription"]["Shards"]:
        token = await world.kinesis.iterator(world.tenant_id, stream, shard["ShardId"],
                                             "TRIM_HORIZON")  # fmt: skip
        got = await world.kinesis.records(world.tenant_id, token, 100, operation=operation)
        read += sum(len(r.data) for r in got.records)
    return read


async def test_puts_are_billed_by_mode(world: World) -> None:
    await world.client("CreateStream", StreamName="p", ShardCount=1)
    await world.client("CreateStream", StreamName="od",
                       StreamModeDetails={"StreamMode": "ON_DEMAND"})  # fmt: skip
    big = b"x" * (25 * 1024 + 1)
    for name in ("p", "od"):
        await world.client("PutRecords", StreamName=name, Records=[
            {"Data": big, "PartitionKey": "a"}, {"Data": b"y", "PartitionKey": "b"},
        ])  # fmt: skip
    assert await world.usage("kinesis.put-units") == 3  # the provisioned stream's only
    assert await world.usage("kinesis.on-demand.ingested") == 26 * 1024 + 1024


async def test_reads_are_billed_as_aws_bills_retrievals(world: World) -> None:
    await world.client("CreateStream", StreamName="p", ShardCount=1)
    await world.client("CreateStream", StreamName="od",
                       StreamModeDetails={"StreamMode": "ON_DEMAND"})  # fmt: skip
    for name in ("p", "od"):
        await world.client("PutRecord", StreamName=name, Data=b"z" * 100, PartitionKey="k")
    assert await read_all(world, "p") == 100
    assert await read_all(world, "od") == 100
    assert await world.usage("kinesis.on-demand.retrieved") == 100  # provisioned: shard hours
    assert await read_all(world, "p", "SubscribeToShardEvent") == 100
    assert await world.usage("kinesis.fan-out.retrieved") == 100
    await read_all(world, "od", "SubscribeToShardEvent")
    await read_all(world, "od", "SubscribeToShardEvent")
    assert await world.usage("kinesis.on-demand.fan-out.retrieved") == 200
    assert await world.usage("kinesis.on-demand.retrieved") == 100


async def test_the_sampler_reads_what_every_stream_holds(world: World) -> None:
    await world.client("CreateStream", StreamName="p", ShardCount=3)
    await world.client("IncreaseStreamRetentionPeriod", StreamName="p",
                       RetentionPeriodHours=200)  # fmt: skip
    arn = (await world.client("DescribeStreamSummary", StreamName="p"))[
        "StreamDescriptionSummary"]["StreamARN"]  # fmt: skip
    await world.client("RegisterStreamConsumer", StreamARN=arn, ConsumerName="c")
    await world.client("EnableEnhancedMonitoring", StreamName="p",
                       ShardLevelMetrics=["IncomingBytes", "OutgoingBytes"])  # fmt: skip
    await world.client("CreateStream", StreamName="od",
                       StreamModeDetails={"StreamMode": "ON_DEMAND"})  # fmt: skip
    await world.client("IncreaseStreamRetentionPeriod", StreamName="od",
                       RetentionPeriodHours=200)  # fmt: skip
    now = int(time.time() * 1000)
    store = world.kinesis.store
    for name, layout in (("p", 1), ("od", 1)):
        # Records kept 8 days and 2 days, put straight into the store at those times.
        await store.append(world.tenant_id, name, layout,
                           [SealedRecord(0, "k", 1000, b"s")], now - WEEK_MS - DAY_MS)  # fmt: skip
        await store.append(world.tenant_id, name, layout,
                           [SealedRecord(0, "k", 10, b"s")], now - 2 * DAY_MS)  # fmt: skip
    held = await kinesis_holdings(store)()
    assert set(held) == set(HELD_METERS) == set(KINESIS_SAMPLERS)  # billing samples each
    where = (world.tenant_id, REGION)
    assert {meter: amounts.get(where, 0) for meter, amounts in held.items()} == {
        "kinesis.shard-hours": 3,
        "kinesis.extended-retention": 3,
        "kinesis.on-demand.stream-hours": 1,
        "kinesis.fan-out.consumer-shard-hours": 3,
        "kinesis.shard-level-metrics": 6,
        "kinesis.on-demand.extended-retention": 10,
        "kinesis.long-term-retention": 2000,
    }
    await world.client("DeleteStream", StreamName="od")
    held = await kinesis_holdings(store)()
    assert held["kinesis.on-demand.stream-hours"] == {}
