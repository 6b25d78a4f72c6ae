"""Decision 0242's SubscribeToShard through botocore's own model: the request serialised by
botocore, the answer read back by botocore's JSON parser and its ``EventStream`` (the
``initial-response``, then ``SubscribeToShardEvent`` events with the records, base64 data,
``ContinuationSequenceNumber`` and ``MillisBehindLatest``); records put while subscribed
pushed without a new call; a closed shard's ``ChildShards``; every starting position; the
continuation resumed ``AFTER_SEQUENCE_NUMBER``; one subscription per consumer and shard, and
one a second; the stream's exception events when the consumer or the stream goes; IAM on the
consumer's ARN; the stream's end after ``kinesis_subscription_lifetime``; the metrics; another
account subscribing through a consumer its policy shares (decision 0248)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.eventstream import EventStreamBuffer
from botocore.exceptions import EventStreamError
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from botocore.validate import validate_parameters
from pydantic import ValidationError

from andromede.kinesisapi.app import CONTENT_TYPE
from andromede.kinesisapi.errors import KinesisWireError
from andromede.kinesisapi.fanout import SubscriptionLimits, Subscriptions
from andromede.settings import Settings
from support.firehoseapp import CallFailed
from support.kinesisapp import MODEL, REGION, World, kinesis_world

SHARD = "shardId-000000000000"


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async for made in kinesis_world(
        tmp_path, kinesis_subscription_lifetime=1.5, kinesis_subscription_poll_interval=0.05
    ):
        yield made


class _Raw:
    """The body botocore's ``EventStream`` reads (a urllib3 response's ``stream()``)."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self) -> Iterator[bytes]:
        yield self._body

    def close(self) -> None:
        pass


@dataclass
class Subscribed:
    """A SubscribeToShard call running in the app: its frames as they come."""

    task: asyncio.Task[None]
    gone: asyncio.Event
    sent: list[dict[str, Any]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent[1:])

    def messages(self) -> list[Any]:
        buffer = EventStreamBuffer()
        buffer.add_data(self.body)
        return list(buffer)

    async def until(self, count: int, timeout: float = 5.0) -> list[Any]:
        """The messages once at least ``count`` have come."""
        deadline = time.monotonic() + timeout
        while len(self.messages()) < count:
            self.arrived.clear()
            assert time.monotonic() < deadline, [m.headers for m in self.messages()]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), 0.2)
        return self.messages()

    def parsed(self) -> list[dict[str, Any]]:
        """The whole answer through botocore's parser, as ``subscribe_to_shard()`` reads it."""
        model = MODEL.operation_model("SubscribeToShard")
        headers = {k.decode(): v.decode() for k, v in self.sent[0]["headers"]}
        response = {"status_code": self.status, "headers": headers, "body": _Raw(self.body),
                    "context": {"operation_name": "SubscribeToShard"}}  # fmt: skip
        answer = create_parser("json").parse(response, model.output_shape)
        return list(answer["EventStream"])

    def error(self) -> dict[str, Any]:
        assert self.status == 400, self.status
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


async def subscribe(world: World, **params: Any) -> Subscribed:
    model = MODEL.operation_model("SubscribeToShard")
    validate_parameters(params, model.input_shape)
    body = create_serializer("json").serialize_to_request(params, model)["body"]
    request = AWSRequest(
        method="POST", url="http://127.0.0.1:9000/", data=body,
        headers={"Content-Type": CONTENT_TYPE, "X-Amz-Target": "Kinesis_20131202.SubscribeToShard"},
    )  # fmt: skip
    assert world.credentials is not None
    SigV4Auth(world.credentials, "kinesis", REGION).add_auth(request)
    scope = {
        "type": "http", "method": "POST", "path": "/", "raw_path": b"/", "query_string": b"",
        "scheme": "http", "client": ("127.0.0.1", 50000),
        "headers": [(b"host", b"127.0.0.1:9000")] + [
            (k.lower().encode(), str(v).encode()) for k, v in request.headers.items()
            if k.lower() != "host"
        ],
    }  # fmt: skip
    gone = asyncio.Event()
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await gone.wait()
        return {"type": "http.disconnect"}

    subscribed: Subscribed

    async def send(message: dict[str, Any]) -> None:
        subscribed.sent.append(message)
        subscribed.arrived.set()

    task = asyncio.ensure_future(world.app(scope, receive, send))
    subscribed = Subscribed(task, gone)
    while not subscribed.sent:
        await asyncio.sleep(0.01)
    return subscribed


async def ended(subscribed: Subscribed, timeout: float = 5.0) -> None:
    await asyncio.wait_for(subscribed.task, timeout)


async def consumer(world: World, name: str = "app", shards: int = 1) -> str:
    await world.client("CreateStream", StreamName="s", ShardCount=shards)
    arn = f"arn:aws:kinesis:{REGION}:{world.tenant_id}:stream/s"
    made = await world.client("RegisterStreamConsumer", StreamARN=arn, ConsumerName=name)
    return str(made["Consumer"]["ConsumerARN"])


def _records(events: list[dict[str, Any]]) -> list[bytes]:
    return [r["Data"] for e in events for r in e["SubscribeToShardEvent"]["Records"]]


async def test_records_put_while_subscribed_are_pushed_and_botocore_reads_them(
    world: World,
) -> None:
    arn = await consumer(world)
    await world.client("PutRecord", StreamName="s", Data=b"before", PartitionKey="k")
    subscribed = await subscribe(
        world, ConsumerARN=arn, ShardId=SHARD, StartingPosition={"Type": "TRIM_HORIZON"}
    )
    assert subscribed.status == 200
    first = await subscribed.until(2)
    assert first[0].headers[":event-type"] == "initial-response"
    assert json.loads(first[1].payload)["Records"][0]["Data"] == "YmVmb3Jl"  # base64
    await world.client("PutRecords", StreamName="s", Records=[
        {"Data": b"one", "PartitionKey": "k"}, {"Data": b"two", "PartitionKey": "k"}])  # fmt: skip
    await subscribed.until(3)  # pushed, no call made
    await ended(subscribed)  # the lifetime (1.5 s) ends the stream
    events = subscribed.parsed()
    assert _records(events) == [b"before", b"one", b"two"]
    last = events[-1]["SubscribeToShardEvent"]
    assert last["MillisBehindLatest"] == 0
    record = events[0]["SubscribeToShardEvent"]["Records"][0]
    assert record["PartitionKey"] == "k" and record["EncryptionType"] == "NONE"
    assert record["ApproximateArrivalTimestamp"].year >= 2024
    # The continuation resumes after the last record read.
    resumed = await _resume(world, arn, last["ContinuationSequenceNumber"])
    assert _records(resumed) == []
    await world.client("PutRecord", StreamName="s", Data=b"three", PartitionKey="k")
    resumed = await _resume(world, arn, last["ContinuationSequenceNumber"])
    assert _records(resumed) == [b"three"]
    assert world.sink.total("SubscribeToShardEvent.Records") == 4
    assert world.sink.total("SubscribeToShardEvent.Bytes") > 0
    assert world.sink.total("GetRecords.Records") == 0
    # A data event: not audited when allowed.
    assert not [a for a, _ in await world.audited() if a == "kinesis:SubscribeToShard"]


async def _resume(world: World, arn: str, sequence: str) -> list[dict[str, Any]]:
    await asyncio.sleep(1.0)  # once a second per consumer and shard
    subscribed = await subscribe(world, ConsumerARN=arn, ShardId=SHARD, StartingPosition={
        "Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": sequence})  # fmt: skip
    await subscribed.until(2)
    subscribed.gone.set()
    await ended(subscribed)
    return subscribed.parsed()


async def test_an_empty_shards_continuation_starts_it(world: World) -> None:
    arn = await consumer(world)
    subscribed = await subscribe(
        world, ConsumerARN=arn, ShardId=SHARD, StartingPosition={"Type": "LATEST"}
    )
    await subscribed.until(2)
    subscribed.gone.set()  # the client goes: the stream ends
    await ended(subscribed)
    (event,) = subscribed.parsed()
    continuation = event["SubscribeToShardEvent"]["ContinuationSequenceNumber"]
    await world.client("PutRecord", StreamName="s", Data=b"first", PartitionKey="k")
    assert _records(await _resume(world, arn, continuation)) == [b"first"]


async def test_starting_positions(world: World) -> None:
    arn = await consumer(world)
    puts = []
    for data in (b"a", b"b", b"c"):
        puts.append(await world.client("PutRecord", StreamName="s", Data=data, PartitionKey="k"))
        await asyncio.sleep(0.01)
    second = puts[1]["SequenceNumber"]
    cases: list[tuple[dict[str, Any], list[bytes]]] = [
        ({"Type": "AT_SEQUENCE_NUMBER", "SequenceNumber": second}, [b"b", b"c"]),
        ({"Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": second}, [b"c"]),
        ({"Type": "LATEST"}, []),
        ({"Type": "AT_TIMESTAMP", "Timestamp": time.time() + 60}, []),
        ({"Type": "AT_TIMESTAMP", "Timestamp": time.time() - 60}, [b"a", b"b", b"c"]),
    ]
    for position, expected in cases:
        await asyncio.sleep(1.0)
        subscribed = await subscribe(world, ConsumerARN=arn, ShardId=SHARD,
                                     StartingPosition=position)  # fmt: skip
        await subscribed.until(2)
        subscribed.gone.set()
        await ended(subscribed)
        assert _records(subscribed.parsed()) == expected, position


async def test_a_closed_shard_read_to_its_end_names_its_children(world: World) -> None:
    arn = await consumer(world)
    await world.client("PutRecord", StreamName="s", Data=b"old", PartitionKey="k")
    await world.client("SplitShard", StreamName="s", ShardToSplit=SHARD,
                       NewStartingHashKey=str(2**127))  # fmt: skip
    subscribed = await subscribe(
        world, ConsumerARN=arn, ShardId=SHARD, StartingPosition={"Type": "TRIM_HORIZON"}
    )
    await ended(subscribed, timeout=1.0)  # ends at once, not at its lifetime
    (event,) = subscribed.parsed()
    shard_event = event["SubscribeToShardEvent"]
    assert _records([event]) == [b"old"]
    children = shard_event["ChildShards"]
    assert [c["ParentShards"] for c in children] == [[SHARD], [SHARD]]
    assert children[1]["HashKeyRange"]["StartingHashKey"] == str(2**127)


async def test_one_subscription_per_consumer_and_shard(world: World) -> None:
    arn = await consumer(world)
    position = {"Type": "LATEST"}
    subscribed = await subscribe(world, ConsumerARN=arn, ShardId=SHARD, StartingPosition=position)
    await subscribed.until(2)
    await asyncio.sleep(1.0)
    second = await subscribe(world, ConsumerARN=arn, ShardId=SHARD, StartingPosition=position)
    assert second.error()["__type"] == "ResourceInUseException"
    other = await world.client(
        "RegisterStreamConsumer",
        StreamARN=f"arn:aws:kinesis:{REGION}:{world.tenant_id}:stream/s", ConsumerName="other",
    )  # fmt: skip
    parallel = await subscribe(world, ConsumerARN=other["Consumer"]["ConsumerARN"],
                               ShardId=SHARD, StartingPosition=position)  # fmt: skip
    assert parallel.status == 200
    for running in (subscribed, parallel):
        running.gone.set()
        await ended(running)
    later = await subscribe(world, ConsumerARN=arn, ShardId=SHARD, StartingPosition=position)
    assert later.status == 200
    later.gone.set()
    await ended(later)
    again = await subscribe(world, ConsumerARN=arn, ShardId=SHARD, StartingPosition=position)
    assert again.error()["__type"] == "LimitExceededException"  # within a second
    assert world.sink.total("SubscribeToShard.RateExceeded") == 1


def test_the_register_refuses_a_second_slot_and_a_second_call_within_a_second() -> None:
    now = [100.0]
    slots = Subscriptions(SubscriptionLimits(), clock=lambda: now[0])
    key = ("a", "arn", SHARD)
    slots.claim(key)
    with pytest.raises(KinesisWireError) as refused:
        slots.claim(key)
    assert refused.value.error_type == "ResourceInUseException"
    slots.release(key)
    with pytest.raises(KinesisWireError) as refused:
        slots.claim(key)
    assert refused.value.error_type == "LimitExceededException"
    now[0] += 1.0
    slots.claim(key)
    assert len(slots) == 1


async def test_the_consumer_deregistered_ends_the_stream_with_resource_not_found(
    world: World,
) -> None:
    arn = await consumer(world)
    subscribed = await subscribe(
        world, ConsumerARN=arn, ShardId=SHARD, StartingPosition={"Type": "LATEST"}
    )
    await subscribed.until(2)
    await world.client("DeregisterStreamConsumer", ConsumerARN=arn)
    await ended(subscribed)
    last = subscribed.messages()[-1]
    assert last.headers[":message-type"] == "exception"
    assert last.headers[":exception-type"] == "ResourceNotFoundException"
    with pytest.raises(EventStreamError) as raised:
        subscribed.parsed()
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


async def test_the_stream_deleted_ends_the_subscription(world: World) -> None:
    arn = await consumer(world)
    subscribed = await subscribe(
        world, ConsumerARN=arn, ShardId=SHARD, StartingPosition={"Type": "LATEST"}
    )
    await subscribed.until(2)
    await world.client("DeleteStream", StreamName="s", EnforceConsumerDeletion=True)
    await ended(subscribed)
    assert subscribed.messages()[-1].headers[":exception-type"] == "ResourceNotFoundException"


async def test_refusals_before_the_stream(world: World) -> None:
    arn = await consumer(world)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"ConsumerARN": arn, "ShardId": "shardId-000000000009",
          "StartingPosition": {"Type": "LATEST"}}, "ResourceNotFoundException"),
        ({"ConsumerARN": arn.split("/consumer/")[0] + "/consumer/nobody:1", "ShardId": SHARD,
          "StartingPosition": {"Type": "LATEST"}}, "ResourceNotFoundException"),
        ({"ConsumerARN": arn, "ShardId": SHARD,
          "StartingPosition": {"Type": "AT_SEQUENCE_NUMBER"}}, "InvalidArgumentException"),
        ({"ConsumerARN": arn, "ShardId": SHARD,
          "StartingPosition": {"Type": "AT_SEQUENCE_NUMBER", "SequenceNumber": "12"}},
         "InvalidArgumentException"),
        ({"ConsumerARN": "arn:aws:kinesis:x", "ShardId": SHARD,
          "StartingPosition": {"Type": "LATEST"}}, "ValidationException"),
    ]  # fmt: skip
    for params, code in cases:
        refused = await subscribe(world, **params)
        assert refused.error()["__type"] == code, (params, refused.error())
    raw = await world.raw("SubscribeToShard", {"ConsumerARN": arn, "ShardId": SHARD,
                                               "StartingPosition": {"Type": "NEWEST"}})  # fmt: skip
    assert raw.error_fields()["__type"] == "ValidationException"


async def test_iam_judges_the_consumers_arn(world: World) -> None:
    arn = await consumer(world)
    user = await world.iam_user("reader")
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kinesis:SubscribeToShard", "Resource": arn}]}  # fmt: skip
    refused = await subscribe(
        user, ConsumerARN=arn, ShardId=SHARD, StartingPosition={"Type": "LATEST"}
    )
    assert refused.error()["__type"] == "AccessDeniedException"
    assert ("kinesis:SubscribeToShard", "failure") in await world.audited()
    await world.identity.put_user_policy(world.tenant_id, "reader", "p", json.dumps(policy))
    await asyncio.sleep(1.0)
    allowed = await subscribe(
        user, ConsumerARN=arn, ShardId=SHARD, StartingPosition={"Type": "LATEST"}
    )
    assert allowed.status == 200
    allowed.gone.set()
    await ended(allowed)
    with pytest.raises(CallFailed):
        await user.client("DescribeStreamConsumer", ConsumerARN=arn)


async def test_records_are_opened_under_the_streams_key_and_its_refusal_is_an_event(
    world: World,
) -> None:
    arn = await consumer(world)
    key = await world.customer_keys.create_key(world.root())
    await world.client("StartStreamEncryption", StreamName="s", EncryptionType="KMS",
                       KeyId=key.key_id)  # fmt: skip
    await world.client("PutRecord", StreamName="s", Data=b"sealed", PartitionKey="k")
    position = {"Type": "TRIM_HORIZON"}
    subscribed = await subscribe(world, ConsumerARN=arn, ShardId=SHARD, StartingPosition=position)
    await subscribed.until(2)
    subscribed.gone.set()
    await ended(subscribed)
    (event,) = subscribed.parsed()
    (record,) = event["SubscribeToShardEvent"]["Records"]
    assert (record["Data"], record["EncryptionType"]) == (b"sealed", "KMS")
    await world.customer_keys.disable_key(world.root(), key.arn)
    await asyncio.sleep(1.0)
    refused = await subscribe(world, ConsumerARN=arn, ShardId=SHARD, StartingPosition=position)
    await ended(refused)
    assert refused.messages()[-1].headers[":exception-type"] == "KMSDisabledException"
    with pytest.raises(EventStreamError) as raised:
        refused.parsed()
    assert raised.value.response["Error"]["Code"] == "KMSDisabledException"


def test_the_subscription_settings_keep_awss_bounds() -> None:
    assert Settings().kinesis_subscription_lifetime == 300.0
    with pytest.raises(ValidationError):
        Settings(kinesis_subscription_lifetime=301)
    with pytest.raises(ValidationError):
        Settings(kinesis_subscription_poll_interval=0)


async def test_a_subscription_outlives_its_shard_iterators(tmp_path: Path) -> None:
    async for short in kinesis_world(
        tmp_path, kinesis_iterator_lifetime=1, kinesis_subscription_poll_interval=1.5
    ):
        arn = await consumer(short)
        subscribed = await subscribe(
            short, ConsumerARN=arn, ShardId=SHARD, StartingPosition={"Type": "LATEST"}
        )
        await subscribed.until(2)
        await asyncio.sleep(1.2)  # the iterator the first read gave has expired
        await short.client("PutRecord", StreamName="s", Data=b"late", PartitionKey="k")
        await subscribed.until(3)
        subscribed.gone.set()
        await ended(subscribed)
        assert _records(subscribed.parsed()) == [b"late"]


async def test_another_account_subscribes_through_a_shared_consumer(world: World) -> None:
    """Decision 0248: the consumer's policy shares SubscribeToShard with another account,
    which reads the owner's records (opened under the owner's keys) through it."""
    arn = await consumer(world)
    await world.client("PutRecord", StreamName="s", Data=b"shared", PartitionKey="k")
    other = await world.other_tenant("other")
    start = {"ConsumerARN": arn, "ShardId": SHARD, "StartingPosition": {"Type": "TRIM_HORIZON"}}
    refused = await subscribe(other, **start)
    assert refused.error()["__type"] == "AccessDeniedException"
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{other.tenant_id}:root"},
        "Action": "kinesis:SubscribeToShard", "Resource": arn}]}  # fmt: skip
    await world.client("PutResourcePolicy", ResourceARN=arn, Policy=json.dumps(policy))
    subscribed = await subscribe(other, **start)
    assert subscribed.status == 200
    await subscribed.until(2)
    subscribed.gone.set()
    await ended(subscribed)
    assert _records(subscribed.parsed()) == [b"shared"]
    # The slot is the owner's consumer's: its own subscription within the second is refused.
    mine = await subscribe(world, **start)
    assert mine.error()["__type"] == "LimitExceededException"
