"""Firehose streams reading a Kinesis data stream (decision 0235), through Firehose's JSON
protocol in process (botocore's model of ``firehose``) over a real Kinesis service in memory
and the wiring's reader: CreateDeliveryStream's ``KinesisStreamAsSource`` and its checks,
DescribeDeliveryStream's ``Source``, ListDeliveryStreams by type, PutRecord(Batch) and
encryption refused as AWS refuses them; the records put since the delivery start read shard
by shard, checkpointed (never read twice), delivered into the bucket as their data bytes;
children read after their parents end; the buffer's bound holding the reader back; a role
that may no longer read or a source stream deleted retried, never crashing; one gateway
reading at a time; ``DataReadFromKinesisStream`` metrics."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from andromede.db.database import open_database
from andromede.firehose.source_reader import KinesisSourceReader
from andromede.firehose.store import FirehoseStore
from andromede.firehose.store_sql import SqlFirehoseStore
from andromede.kinesis.memory import MemoryKinesisStore
from andromede.kinesis.model import StreamMode
from andromede.kinesis.service import Entry, KinesisService
from andromede.settings import Settings
from andromede.wiring.firehose import source_reader
from andromede.wiring.kinesis_keys import KinesisRecordSealer
from support.batch_world import read
from support.firehoseapp import REGION, TRUST, CallFailed, World, firehose_world
from support.keys import key_service_in
from support.schema import migrated_sqlite

READ_ACTIONS = ["kinesis:DescribeStream", "kinesis:GetShardIterator", "kinesis:GetRecords"]


def read_policy(actions: list[str] = READ_ACTIONS, resource: str = "*") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resource}],
        }
    )


@dataclass
class SourceWorld:
    fire: World
    kinesis: KinesisService
    reader: KinesisSourceReader
    stream_arn: str
    source_role: str
    destination_role: str
    bucket: str
    seen: list[str] = field(default_factory=list)

    @property
    def tenant(self) -> str:
        return self.fire.tenant_id

    async def create(self, name: str = "from-k") -> dict[str, object]:
        made = await self.fire.client(
            "CreateDeliveryStream",
            DeliveryStreamName=name,
            DeliveryStreamType="KinesisStreamAsSource",
            KinesisStreamSourceConfiguration={
                "KinesisStreamARN": self.stream_arn,
                "RoleARN": self.source_role,
            },
            ExtendedS3DestinationConfiguration={
                "RoleARN": self.destination_role,
                "BucketARN": self.bucket,
                "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0},
            },
        )
        await self.fire.deliverer.run_pass()  # CREATING → ACTIVE
        return made

    async def put(self, *datas: bytes, key: str = "k") -> None:
        _, outcomes = await self.kinesis.put(self.tenant, "src", [Entry(key, d) for d in datas])
        assert all(o.error is None for o in outcomes)

    async def landed(self, after: float = 0) -> bytes:
        """The objects the bucket holds, once delivered (``after`` seconds from now: a
        Lambda processor's interval, decision 0344), concatenated in the order they were
        written (their keys' order is a random suffix's within one second)."""
        await self.fire.deliverer.run_pass(int((time.time() + after) * 1000) if after else None)
        listing = await self.fire.objects.list_objects("landing", prefix="", max_keys=100)
        for found in sorted(listing.objects, key=lambda o: o.key):
            if found.key not in self.seen:
                self.seen.append(found.key)
        return b"".join([await read(self.fire.objects, "landing", key) for key in self.seen])


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[SourceWorld]:
    async for found in source_world(tmp_path):
        yield found


async def source_world(
    tmp_path: Path, store: FirehoseStore | None = None
) -> AsyncIterator[SourceWorld]:
    async for fire in firehose_world(tmp_path / "firehose", store):
        kinesis = KinesisService(
            MemoryKinesisStore(),
            KinesisRecordSealer(
                key_service_in(tmp_path / "kinesis-keys"), fire.customer_keys, fire.audit,
                fire.billing, cache_size=8,
            ),
            REGION,
        )  # fmt: skip
        settings = Settings(data_dir=tmp_path, region=REGION)
        reader = source_reader(settings, fire.firehose, fire.identity, lambda k=kinesis: k)
        stream = await kinesis.create(fire.tenant_id, "src", 1, StreamMode.PROVISIONED)
        source_role = await fire.role("reader", TRUST, read_policy())
        yield SourceWorld(
            fire, kinesis, reader, stream.arn, source_role, await fire.role(), await fire.bucket()
        )


async def test_created_described_listed_and_direct_puts_refused(world: SourceWorld) -> None:
    fire = world.fire
    await world.create()
    await fire.client(
        "CreateDeliveryStream",
        DeliveryStreamName="direct",
        ExtendedS3DestinationConfiguration={
            "RoleARN": world.destination_role,
            "BucketARN": world.bucket,
        },
    )
    described = await fire.client("DescribeDeliveryStream", DeliveryStreamName="from-k")
    found = described["DeliveryStreamDescription"]
    assert found["DeliveryStreamType"] == "KinesisStreamAsSource"
    source = found["Source"]["KinesisStreamSourceDescription"]
    assert (source["KinesisStreamARN"], source["RoleARN"]) == (world.stream_arn, world.source_role)
    assert source["DeliveryStartTimestamp"].timestamp() == pytest.approx(
        found["CreateTimestamp"].timestamp(), abs=1
    )
    direct = await fire.client("DescribeDeliveryStream", DeliveryStreamName="direct")
    assert "Source" not in direct["DeliveryStreamDescription"]
    listed = await fire.client("ListDeliveryStreams", DeliveryStreamType="KinesisStreamAsSource")
    assert listed["DeliveryStreamNames"] == ["from-k"]
    listed = await fire.client("ListDeliveryStreams", DeliveryStreamType="DirectPut")
    assert listed["DeliveryStreamNames"] == ["direct"]
    assert (await fire.client("ListDeliveryStreams"))["DeliveryStreamNames"] == ["direct", "from-k"]
    words = "This operation is not permitted on KinesisStreamAsSource delivery stream type."
    message = await fire.fails(
        "PutRecord", "InvalidArgumentException", DeliveryStreamName="from-k", Record={"Data": b"x"}
    )
    assert message == words
    message = await fire.fails(
        "PutRecordBatch", "InvalidArgumentException", DeliveryStreamName="from-k",
        Records=[{"Data": b"x"}],
    )  # fmt: skip
    assert message == words
    await fire.fails(
        "StartDeliveryStreamEncryption", "InvalidArgumentException", DeliveryStreamName="from-k"
    )


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"KinesisStreamARN": "arn:aws:kinesis:eu-fr-1:999999999999:stream/src"}, "account"),
        ({"KinesisStreamARN": "arn:aws:kinesis:eu-fr-1:{account}:stream/none"}, "not found"),
        ({"KinesisStreamARN": "arn:aws:sqs:eu-fr-1:{account}:q"}, "not a valid Kinesis"),
        ({"RoleARN": "arn:aws:iam::{account}:role/none"}, "unable to assume role"),
    ],
)
async def test_a_source_that_cannot_be_read_is_refused_at_creation(
    world: SourceWorld, change: dict[str, str], words: str
) -> None:
    config = {"KinesisStreamARN": world.stream_arn, "RoleARN": world.source_role}
    config |= {k: v.format(account=world.tenant) for k, v in change.items()}
    with pytest.raises(CallFailed) as caught:
        await world.fire.client(
            "CreateDeliveryStream",
            DeliveryStreamName="bad",
            DeliveryStreamType="KinesisStreamAsSource",
            KinesisStreamSourceConfiguration=config,
            ExtendedS3DestinationConfiguration={
                "RoleARN": world.destination_role,
                "BucketARN": world.bucket,
            },
        )
    assert caught.value.code == "InvalidArgumentException"
    assert words in caught.value.message
    for kind in ("DirectPut", "KinesisStreamAsSource"):
        await world.fire.fails(
            "CreateDeliveryStream", "InvalidArgumentException", DeliveryStreamName="bad",
            DeliveryStreamType=kind,
            **({} if kind != "DirectPut" else {"KinesisStreamSourceConfiguration": config}),
            ExtendedS3DestinationConfiguration={
                "RoleARN": world.destination_role, "BucketARN": world.bucket,
            },
        )  # fmt: skip


async def test_records_since_the_delivery_start_delivered_once(world: SourceWorld) -> None:
    await world.put(b"before-")
    await asyncio.sleep(0.01)  # the delivery start is after it: AWS starts at LATEST
    await world.create()
    await world.put(b"one-", b"two-")
    await world.put(b"three-", key="other")
    assert await world.reader.run_pass() == 3
    assert await world.reader.run_pass() == 0  # checkpointed: nothing read twice
    assert await world.landed() == b"one-two-three-"
    await world.put(b"four")
    assert await world.reader.run_pass() == 1
    assert await world.landed() == b"one-two-three-four"
    fire = world.fire
    assert fire.sink.total("DataReadFromKinesisStream.Records") == 4
    assert fire.sink.total("DataReadFromKinesisStream.Bytes") == len(b"one-two-three-four")
    assert fire.sink.total("IncomingPutRequests") == 0
    assert await fire.usage("firehose.ingested") == 4 * 5 * 1024
    # Another gateway does not read the stream while the first holds its lease.
    other = KinesisSourceReader(fire.firehose, world.reader._source, world.reader.policy, "gw-2")
    await world.put(b"five")
    assert await other.run_pass() == 0
    assert await world.reader.run_pass() == 1
    # Closing the tenant takes the checkpoints with the streams.
    assert await fire.firehose.store.checkpoints(world.tenant, "from-k") != {}
    await fire.firehose.store.forget_tenant(world.tenant)
    assert await fire.firehose.store.checkpoints(world.tenant, "from-k") == {}


async def test_children_are_read_after_their_parents_end(world: SourceWorld) -> None:
    await world.create()
    await world.put(b"a", b"b")
    assert await world.reader.run_pass() == 2
    await world.put(b"c")
    # Split: the parent closes with "c" unread; the children take what follows.
    middle = str(2**127)
    await world.kinesis.split(world.tenant, "src", "shardId-000000000000", middle)
    await world.put(b"d", key="k")
    await world.put(b"e", key="other")
    assert await world.reader.run_pass() == 3
    body = await world.landed()
    assert body[:3] == b"abc" and sorted(body[3:]) == sorted(b"de")  # the parent's first
    points = await world.fire.firehose.store.checkpoints(world.tenant, "from-k")
    created = (await world.kinesis.get(world.tenant, "src")).created
    assert points[f"shardId-000000000000@{created}"].finished
    assert sorted(points) == [f"shardId-00000000000{i}@{created}" for i in range(3)]


async def test_the_buffer_bound_holds_the_reader_back(world: SourceWorld) -> None:
    fire = world.fire
    fire.firehose.limits = dataclasses.replace(fire.firehose.limits, max_buffered_bytes=10)
    await world.create()
    await world.put(b"12345", b"67890", b"abc")
    assert await world.reader.run_pass() == 2  # the third does not fit: read again later
    assert await world.reader.run_pass() == 0  # the buffer is full: not read at all
    assert await world.landed() == b"1234567890"
    assert await world.reader.run_pass() == 1
    assert await world.landed() == b"1234567890abc"


async def test_a_role_refused_or_a_source_gone_is_retried(
    world: SourceWorld, caplog: pytest.LogCaptureFixture
) -> None:
    fire = world.fire
    await world.create()
    await fire.identity.put_role_policy(
        world.tenant, "reader", "put", read_policy(["kinesis:DescribeStream"])
    )
    await world.put(b"held")
    caplog.set_level("INFO")
    assert await world.reader.run_pass() == 0
    assert "may not read the source stream" in caplog.text
    caplog.clear()
    assert await world.reader.run_pass() == 0
    assert caplog.text == ""  # said once while the reason lasts
    await fire.identity.put_role_policy(world.tenant, "reader", "put", read_policy())
    assert await world.reader.run_pass() == 1
    await world.put(b"-more", b"-again")
    assert await world.reader.run_pass() == 2
    await world.kinesis.delete(world.tenant, "src")
    assert await world.reader.run_pass() == 0
    assert "StreamNotFound" in caplog.text
    described = await fire.client("DescribeDeliveryStream", DeliveryStreamName="from-k")
    assert described["DeliveryStreamDescription"]["DeliveryStreamStatus"] == "ACTIVE"
    assert await world.landed() == b"held-more-again"
    # Made again under its name, it numbers its records afresh: read from the start, not
    # skipped up to the predecessor's checkpoint.
    await asyncio.sleep(0.002)  # another creation time than its predecessor's
    await world.kinesis.create(world.tenant, "src", 1, StreamMode.PROVISIONED)
    await world.put(b"-reborn")
    assert await world.reader.run_pass() == 1
    assert await world.landed() == b"held-more-again-reborn"


async def test_over_the_sqlite_store(tmp_path: Path) -> None:
    """The source, the reader's lease and the checkpoints through the migrated schema."""
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    try:
        async for world in source_world(tmp_path, SqlFirehoseStore(db)):
            await world.create()
            described = await world.fire.client(
                "DescribeDeliveryStream", DeliveryStreamName="from-k"
            )
            assert (
                "KinesisStreamSourceDescription" in described["DeliveryStreamDescription"]["Source"]
            )
            await world.put(b"one-", b"two")
            assert await world.reader.run_pass() == 2
            assert await world.reader.run_pass() == 0
            assert await world.landed() == b"one-two"
            await world.kinesis.split(world.tenant, "src", "shardId-000000000000", str(2**127))
            await world.put(b"-three")
            assert await world.reader.run_pass() == 1
            assert await world.landed() == b"one-two-three"
    finally:
        await db.close()
