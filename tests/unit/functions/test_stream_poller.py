"""Decision 0301's stream poller with in-memory parts (a real Kinesis or DynamoDB stream, the
real role check, memory queues; the function a Python stand-in of ``StreamFunctions``):
Lambda's event shapes, order per shard, checkpoints resumed by another gateway, retries up to
``MaximumRetryAttempts`` then AWS's OnFailure record, bisection, record age,
``batchItemFailures``, ``ParallelizationFactor`` lanes, the batching window, a role refused."""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import time
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from andromede.function_sources import FunctionRoles
from andromede.function_streams import (
    FailureDestinations,
    StreamAccess,
    StreamPoller,
    lambda_record,
)
from andromede.functions.errors import TooManyRequests
from andromede.functions.invocation_metrics import FunctionMetrics
from andromede.functions.invoker import Invocation
from andromede.functions.mapping_streams import STREAM_DEFAULTS
from andromede.functions.mappings import EventSourceMapping, MemoryMappingStore
from andromede.iam.service import IdentityService
from andromede.kinesis.model import StreamMode
from andromede.kinesis.service import Entry, KinesisService
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.service import KeyService
from andromede.queues.memory import MemoryQueueStore
from andromede.queues.service import QueueService
from andromede.stream_reading import StreamReader
from andromede.wiring.queues import KeySealer
from support.dynamodbapp import dynamodb_world
from support.kinesisapp import kinesis_world
from support.lambdaapp import REGION, TRUST, RecordingMetrics
from support.pipesapp import allow
from support.snsworld import sns_world

KINESIS_ROLE = allow("kinesis:*", "sqs:SendMessage")
POSITIVE = '{"data": {"n": [{"numeric": [">", 0]}]}}'


@dataclass
class Handler:
    """``StreamFunctions`` running ``answer`` on each batch's records, keeping every batch."""

    role_arn: str
    answer: Callable[[list[dict[str, Any]]], Any] = lambda records: {}
    batches: list[list[dict[str, Any]]] = field(default_factory=list)
    throttled: bool = False

    async def role(self, mapping: EventSourceMapping) -> str:
        return self.role_arn

    async def run(self, mapping: EventSourceMapping, payload: bytes) -> Invocation:
        if self.throttled:
            raise TooManyRequests("Rate Exceeded.", reason="ConcurrentInvocationLimitExceeded")
        records = json.loads(payload)["Records"]
        self.batches.append(records)
        try:
            answer = self.answer(records)
        except RuntimeError as exc:
            return Invocation("$LATEST", False, json.dumps({"errorMessage": str(exc)}).encode(), "")
        return Invocation("$LATEST", True, json.dumps(answer).encode(), "")


@dataclass
class Rig:
    tenant_id: str
    store: MemoryMappingStore
    queues: QueueService
    handler: Handler
    poller: Callable[[], StreamPoller]
    clock: list[int]

    async def mapping(self, source: str, kind: str, **parameters: Any) -> EventSourceMapping:
        return await _mapping(self.store, self.tenant_id, source, kind, **parameters)

    async def failures(self) -> list[dict[str, Any]]:
        queue = await self.queues.get_queue(self.tenant_id, self.tenant_id, "failed")
        got = await self.queues.receive(queue, max_messages=10, visibility=30, wait=0)
        return [json.loads(m.payload.body) for m in got]


async def _mapping(
    store: MemoryMappingStore, tenant_id: str, source: str, kind: str, **parameters: Any
) -> EventSourceMapping:
    """A mapping of ``source`` to the function ``consumer``, leased to ``gw-a``."""
    made = EventSourceMapping(
        uuid="00000000-0000-0000-0000-000000000001",
        tenant_id=tenant_id,
        function_name="consumer",
        qualifier=None,
        function_arn=f"arn:aws:lambda:{REGION}:{tenant_id}:function:consumer",
        source_arn=source,
        source_kind=kind,
        state="Enabled",
        last_modified=0,
        parameters={"BatchSize": 100, "StartingPosition": "TRIM_HORIZON"}
        | STREAM_DEFAULTS
        | parameters,
        created=0,
    )
    await store.add(made)
    (claimed,) = await store.claim("gw-a", 0, 2**62, 10)
    return claimed


async def _rig(
    tmp_path: Path,
    identity: IdentityService,
    tenant_id: str,
    policy: str,
    kinesis: KinesisService | None = None,
    dynamodb: Any = None,
) -> AsyncIterator[Rig]:
    keys = KeyService(LocalKeyFileProvider(tmp_path / "rig-keys"))
    queues = QueueService(MemoryQueueStore(), KeySealer(keys), region=REGION)
    await queues.create_queue(tenant_id, "failed", {}, {})
    role = await identity.create_role(tenant_id, "consumer", TRUST)
    await identity.put_role_policy(tenant_id, "consumer", "read", policy)
    roles = FunctionRoles(identity, REGION)
    access = StreamAccess(roles, lambda: kinesis, lambda: dynamodb)
    store = MemoryMappingStore()
    handler = Handler(role.arn)
    clock = [int(time.time() * 1000)]

    def poller() -> StreamPoller:
        return StreamPoller(
            store,
            access,
            StreamReader(lambda: kinesis, lambda: dynamodb, REGION),
            handler,
            FailureDestinations(roles, access, queues, None),
            clock=lambda: clock[0],
        )

    try:
        yield Rig(tenant_id, store, queues, handler, poller, clock)
    finally:
        keys.close()


async def _stream(kinesis: KinesisService, tenant_id: str, *records: tuple[str, bytes]) -> str:
    made = await kinesis.create(tenant_id, "clicks", 1, StreamMode.PROVISIONED)
    await kinesis.put(tenant_id, "clicks", [Entry(key, data) for key, data in records])
    return made.arn


def _datas(batch: list[dict[str, Any]]) -> list[bytes]:
    return [base64.b64decode(r["kinesis"]["data"]) for r in batch]


async def test_kinesis_records_in_lambdas_shape_and_resumed_elsewhere(tmp_path: Path) -> None:
    async for world in kinesis_world(tmp_path):
        async for rig in _rig(tmp_path, world.identity, world.tenant_id, KINESIS_ROLE,
                world.kinesis):  # fmt: skip
            arn = await _stream(world.kinesis, world.tenant_id, ("k", b"1"), ("k", b"2"))
            mapping = await rig.mapping(arn, "kinesis", BatchSize=1)
            first = rig.poller()
            assert await first.poll(mapping, "gw-a") == (1, "OK")
            (record,) = rig.handler.batches[0]
            kinesis = record["kinesis"]
            assert set(kinesis) == {"kinesisSchemaVersion", "partitionKey", "sequenceNumber",
                "data", "approximateArrivalTimestamp"}  # fmt: skip
            assert (kinesis["partitionKey"], base64.b64decode(kinesis["data"])) == ("k", b"1")
            assert record["eventSource"] == "aws:kinesis" and record["eventSourceARN"] == arn
            assert record["eventID"] == f"shardId-000000000000:{kinesis['sequenceNumber']}"
            assert record["invokeIdentityArn"] == rig.handler.role_arn
            assert (record["awsRegion"], record["eventName"]) == (REGION, "aws:kinesis:record")
            # A restarted gateway (a new poller, same store) resumes after the checkpoint.
            assert await rig.poller().poll(mapping, "gw-a") == (1, "OK")
            assert _datas(rig.handler.batches[1]) == [b"2"]
            assert await rig.poller().poll(mapping, "gw-a") == (0, None)
            # A gateway without the lease moves no checkpoint.
            await world.kinesis.put(world.tenant_id, "clicks", [Entry("k", b"3")])
            assert await rig.poller().poll(mapping, "gw-b") == (1, "OK")
            assert await rig.poller().poll(mapping, "gw-a") == (1, "OK")
            assert _datas(rig.handler.batches[-1]) == [b"3"]


async def test_latest_reads_what_arrived_since_the_mapping(tmp_path: Path) -> None:
    async for world in kinesis_world(tmp_path):
        async for rig in _rig(tmp_path, world.identity, world.tenant_id, KINESIS_ROLE,
                world.kinesis):  # fmt: skip
            arn = await _stream(world.kinesis, world.tenant_id, ("k", b"before"))
            mapping = await rig.mapping(arn, "kinesis", StartingPosition="LATEST")
            await asyncio.sleep(0.01)  # the stamps are milliseconds
            mapping = await _created_now(rig, mapping)
            await asyncio.sleep(0.01)
            await world.kinesis.put(world.tenant_id, "clicks", [Entry("k", b"after")])
            assert await rig.poller().poll(mapping, "gw-a") == (1, "OK")
            assert _datas(rig.handler.batches[0]) == [b"after"]


async def _created_now(rig: Rig, mapping: EventSourceMapping) -> EventSourceMapping:
    changed = mapping.replaced(created=int(time.time() * 1000))
    assert await rig.store.replace(changed)
    return changed


async def test_retried_then_described_to_the_on_failure_queue(tmp_path: Path) -> None:
    async for world in kinesis_world(tmp_path):
        async for rig in _rig(tmp_path, world.identity, world.tenant_id, KINESIS_ROLE,
                world.kinesis):  # fmt: skip
            arn = await _stream(world.kinesis, world.tenant_id, ("k", b"1"), ("k", b"2"))
            queue = f"arn:aws:sqs:{REGION}:{world.tenant_id}:failed"
            mapping = await rig.mapping(arn, "kinesis", MaximumRetryAttempts=1,
                DestinationConfig={"OnFailure": {"Destination": queue}})  # fmt: skip

            def fail(records: list[dict[str, Any]]) -> Any:
                raise RuntimeError("no")

            rig.handler.answer = fail
            poller = rig.poller()
            assert await poller.poll(mapping, "gw-a") == (2, "PROBLEM: Function call failed")
            assert await rig.failures() == []  # the first retry is yet to come
            assert await poller.poll(mapping, "gw-a") == (2, "PROBLEM: Function call failed")
            (failure,) = await rig.failures()
            assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
            assert failure["requestContext"]["approximateInvokeCount"] == 2
            assert failure["requestContext"]["functionArn"] == mapping.function_arn
            assert failure["responseContext"] == {"statusCode": 200,
                "executedVersion": "$LATEST", "functionError": "Unhandled"}  # fmt: skip
            info = failure["KinesisBatchInfo"]
            first, last = (r["kinesis"]["sequenceNumber"] for r in rig.handler.batches[0])
            assert (info["shardId"], info["batchSize"], info["streamArn"]) == (
                "shardId-000000000000", 2, arn)  # fmt: skip
            assert (info["startSequenceNumber"], info["endSequenceNumber"]) == (first, last)
            assert info["approximateArrivalOfFirstRecord"].endswith("Z")
            assert "data" not in json.dumps(failure)
            # Passed: the stream's next records go on.
            rig.handler.answer = lambda records: {}
            assert await poller.poll(mapping, "gw-a") == (0, None)


async def test_bisected_down_to_the_failing_record(tmp_path: Path) -> None:
    async for world in kinesis_world(tmp_path):
        async for rig in _rig(tmp_path, world.identity, world.tenant_id, KINESIS_ROLE,
                world.kinesis):  # fmt: skip
            records = [("k", str(n).encode()) for n in range(4)]
            arn = await _stream(world.kinesis, world.tenant_id, *records)
            mapping = await rig.mapping(arn, "kinesis", BisectBatchOnFunctionError=True,
                MaximumRetryAttempts=0)  # fmt: skip

            def fail_on_two(batch: list[dict[str, Any]]) -> Any:
                if b"2" in _datas(batch):
                    raise RuntimeError("bad record")
                return {}

            rig.handler.answer = fail_on_two
            poller = rig.poller()
            for _ in range(6):
                await poller.poll(mapping, "gw-a")
            sizes = [_datas(b) for b in rig.handler.batches]
            assert sizes[:4] == [[b"0", b"1", b"2", b"3"], [b"0", b"1"], [b"2", b"3"], [b"2"]]
            # The one failing record given up (no retries); the last goes on alone.
            assert sizes[4] == [b"3"]
            assert await poller.poll(mapping, "gw-a") == (0, None)


async def test_reported_item_failures_retry_from_the_first_one(tmp_path: Path) -> None:
    async for world in kinesis_world(tmp_path):
        async for rig in _rig(tmp_path, world.identity, world.tenant_id, KINESIS_ROLE,
                world.kinesis):  # fmt: skip
            arn = await _stream(world.kinesis, world.tenant_id,
                *[("k", str(n).encode()) for n in range(4)])  # fmt: skip
            mapping = await rig.mapping(arn, "kinesis",
                FunctionResponseTypes=["ReportBatchItemFailures"])  # fmt: skip
            calls = [0]

            def third_fails_once(batch: list[dict[str, Any]], calls: list[int] = calls) -> Any:
                calls[0] += 1
                failed = [r["kinesis"]["sequenceNumber"] for r in batch
                    if base64.b64decode(r["kinesis"]["data"]) == b"2"]  # fmt: skip
                if calls[0] > 1:
                    failed = []
                return {"batchItemFailures": [{"itemIdentifier": s} for s in failed]}

            rig.handler.answer = third_fails_once
            poller = rig.poller()
            assert await poller.poll(mapping, "gw-a") == (4, "PROBLEM: Function call failed")
            assert await poller.poll(mapping, "gw-a") == (2, "OK")
            assert _datas(rig.handler.batches[1]) == [b"2", b"3"]
            # An identifier of no record of the batch fails it whole.
            await world.kinesis.put(world.tenant_id, "clicks", [Entry("k", b"4")])
            rig.handler.answer = lambda batch: {"batchItemFailures": [{"itemIdentifier": "x"}]}
            assert await poller.poll(mapping, "gw-a") == (1, "PROBLEM: Function call failed")
            rig.handler.answer = lambda batch: {"batchItemFailures": []}
            assert await poller.poll(mapping, "gw-a") == (1, "OK")
            assert _datas(rig.handler.batches[-1]) == [b"4"]


async def test_old_records_given_up_filters_and_lanes(tmp_path: Path) -> None:
    async for world in kinesis_world(tmp_path):
        async for rig in _rig(tmp_path, world.identity, world.tenant_id, KINESIS_ROLE,
                world.kinesis):  # fmt: skip
            arn = await _stream(world.kinesis, world.tenant_id,
                *[(f"key-{n % 3}", json.dumps({"n": n}).encode()) for n in range(9)])  # fmt: skip
            queue = f"arn:aws:sqs:{REGION}:{world.tenant_id}:failed"
            mapping = await rig.mapping(arn, "kinesis", ParallelizationFactor=3,
                FilterCriteria={"Filters": [{"Pattern": POSITIVE}]},
                MaximumRecordAgeInSeconds=60,
                DestinationConfig={"OnFailure": {"Destination": queue}})  # fmt: skip
            assert await rig.poller().poll(mapping, "gw-a") == (8, "OK")  # n=0 filtered out
            lanes = {zlib.crc32(f"key-{n}".encode()) % 3 for n in range(3)}
            assert len(rig.handler.batches) == len(lanes)  # one invocation a lane
            for lane in rig.handler.batches:  # each key's records in order
                for key in {r["kinesis"]["partitionKey"] for r in lane}:
                    numbers = [json.loads(base64.b64decode(r["kinesis"]["data"]))["n"]
                        for r in lane if r["kinesis"]["partitionKey"] == key]  # fmt: skip
                    assert numbers == sorted(numbers) and len(numbers) >= 2
            await world.kinesis.put(world.tenant_id, "clicks", [Entry("k", b"{}")])
            rig.clock[0] += 61_000
            assert await rig.poller().poll(mapping, "gw-a") == (0, None)
            (failure,) = await rig.failures()
            assert failure["requestContext"]["condition"] == "RecordAgeExceeded"
            assert "responseContext" not in failure


async def test_a_batch_waits_within_its_window_and_a_throttle_is_not_a_try(
    tmp_path: Path,
) -> None:
    async for world in kinesis_world(tmp_path):
        async for rig in _rig(tmp_path, world.identity, world.tenant_id, KINESIS_ROLE,
                world.kinesis):  # fmt: skip
            arn = await _stream(world.kinesis, world.tenant_id, ("k", b"1"))
            mapping = await rig.mapping(arn, "kinesis", MaximumBatchingWindowInSeconds=5,
                MaximumRetryAttempts=0)  # fmt: skip
            poller = rig.poller()
            assert await poller.poll(mapping, "gw-a") == (0, None)  # within its window
            rig.clock[0] += 6_000
            rig.handler.throttled = True
            assert await poller.poll(mapping, "gw-a") == (0, "PROBLEM: Function call throttled")
            assert await poller.poll(mapping, "gw-a") == (0, "PROBLEM: Function call throttled")
            rig.handler.throttled = False
            assert await poller.poll(mapping, "gw-a") == (1, "OK")  # not given up


async def test_a_role_that_may_not_read_is_a_problem(tmp_path: Path) -> None:
    async for world in kinesis_world(tmp_path):
        async for rig in _rig(tmp_path, world.identity, world.tenant_id,
                allow("kinesis:GetRecords"), world.kinesis):  # fmt: skip
            arn = await _stream(world.kinesis, world.tenant_id, ("k", b"1"))
            mapping = await rig.mapping(arn, "kinesis")
            sent, result = await rig.poller().poll(mapping, "gw-a")
            assert sent == 0 and result == (
                f"PROBLEM: Cannot access stream {arn}. Please ensure the role can perform the "
                "GetRecords, GetShardIterator, DescribeStream, ListShards, and ListStreams "
                "Actions on your stream in IAM."
            )


async def test_dynamodb_records_in_lambdas_shape(tmp_path: Path) -> None:
    async for world in dynamodb_world(tmp_path):
        policy = allow("dynamodb:GetRecords", "dynamodb:GetShardIterator",
            "dynamodb:DescribeStream", "dynamodb:ListStreams", "sqs:SendMessage")  # fmt: skip
        async for rig in _rig(tmp_path, world.identity, world.tenant_id, policy,
                dynamodb=world.app.streams):  # fmt: skip
            table = await world.client(
                "CreateTable",
                TableName="things",
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
            )
            stream = table["TableDescription"]["LatestStreamArn"]
            await world.client("PutItem", TableName="things", Item={"id": {"S": "a"}})
            await world.client("PutItem", TableName="things",
                Item={"id": {"S": "a"}, "v": {"N": "2"}})  # fmt: skip
            queue = f"arn:aws:sqs:{REGION}:{world.tenant_id}:failed"
            mapping = await rig.mapping(stream, "dynamodb", MaximumRetryAttempts=0,
                DestinationConfig={"OnFailure": {"Destination": queue}})  # fmt: skip
            poller = rig.poller()
            assert await poller.poll(mapping, "gw-a") == (2, "OK")
            inserted, modified = rig.handler.batches[0]
            assert (inserted["eventName"], modified["eventName"]) == ("INSERT", "MODIFY")
            assert inserted["eventSource"] == "aws:dynamodb"
            assert inserted["eventSourceARN"] == stream and inserted["awsRegion"] == REGION
            change = modified["dynamodb"]
            assert change["Keys"] == {"id": {"S": "a"}}
            assert change["NewImage"] == {"id": {"S": "a"}, "v": {"N": "2"}}
            assert change["OldImage"] == {"id": {"S": "a"}}
            assert change["StreamViewType"] == "NEW_AND_OLD_IMAGES"
            assert {"SequenceNumber", "SizeBytes", "ApproximateCreationDateTime"} <= set(change)
            await world.client("DeleteItem", TableName="things", Key={"id": {"S": "a"}})

            def fail(records: list[dict[str, Any]]) -> Any:
                raise RuntimeError("no")

            rig.handler.answer = fail
            assert await poller.poll(mapping, "gw-a") == (1, "PROBLEM: Function call failed")
            (failure,) = await rig.failures()
            info = failure["DDBStreamBatchInfo"]
            assert (info["batchSize"], info["streamArn"]) == (1, stream)


def test_kinesis_record_nested_as_lambda_gives_it() -> None:
    flat = {"kinesisSchemaVersion": "1.0", "partitionKey": "k", "sequenceNumber": "1",
        "data": "eA==", "approximateArrivalTimestamp": 1.5, "eventSource": "aws:kinesis",
        "eventID": "shardId-000000000000:1"}  # fmt: skip
    assert lambda_record(flat) == {
        "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "k", "sequenceNumber": "1",
            "data": "eA==", "approximateArrivalTimestamp": 1.5},
        "eventSource": "aws:kinesis", "eventID": "shardId-000000000000:1",
    }  # fmt: skip
    ddb = {"eventSource": "aws:dynamodb", "dynamodb": {"Keys": {}}}
    assert lambda_record(ddb) is ddb


async def test_a_batch_given_up_published_to_an_sns_topic(tmp_path: Path) -> None:
    async for world in kinesis_world(tmp_path):
        async with sns_world(tmp_path / "sns") as sns:
            tenant = world.tenant_id
            topic = await sns.topics.create_topic(tenant, "alerts", {})
            inbox = await sns.queue(tenant, "inbox")
            await sns.pubsub.subscribe(
                tenant, topic.arn, "sqs", inbox.arn, {"RawMessageDelivery": "true"}
            )
            roles = FunctionRoles(world.identity, REGION)
            role = await world.identity.create_role(tenant, "consumer", TRUST)
            await world.identity.put_role_policy(tenant, "consumer", "read",
                allow("kinesis:*", "sns:Publish"))  # fmt: skip
            kinesis = functools.partial(lambda k: k, world.kinesis)
            access = StreamAccess(roles, kinesis, lambda: None)
            store = MemoryMappingStore()

            def fail(records: list[dict[str, Any]]) -> Any:
                raise RuntimeError("no")

            poller = StreamPoller(
                store,
                access,
                StreamReader(kinesis, lambda: None, REGION),
                Handler(role.arn, fail),
                FailureDestinations(roles, access, None, sns.pubsub),
            )
            arn = await _stream(world.kinesis, tenant, ("k", b"1"))
            mapping = await _mapping(store, tenant, arn, "kinesis", MaximumRetryAttempts=0,
                DestinationConfig={"OnFailure": {"Destination": topic.arn}})  # fmt: skip
            assert await poller.poll(mapping, "gw-a") == (1, "PROBLEM: Function call failed")
            (body,) = await sns.received(inbox)
            record = json.loads(body)
            assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
            assert record["KinesisBatchInfo"]["streamArn"] == arn


async def test_a_given_up_batchs_metrics(tmp_path: Path) -> None:
    """Decision 0323: with ``MetricsConfig`` ``EventCount``, a batch given up counts its
    records dropped and delivered to the OnFailure queue; one whose destination refuses it
    counts a ``DestinationDeliveryFailures``; every batch its ``IteratorAge``."""
    async for world in kinesis_world(tmp_path):
        async for rig in _rig(tmp_path, world.identity, world.tenant_id, KINESIS_ROLE,
                world.kinesis):  # fmt: skip
            arn = await _stream(world.kinesis, world.tenant_id, ("k", b"1"), ("k", b"2"))
            queue = f"arn:aws:sqs:{REGION}:{world.tenant_id}:failed"
            mapping = await rig.mapping(arn, "kinesis", MaximumRetryAttempts=0,
                DestinationConfig={"OnFailure": {"Destination": queue}},
                MetricsConfig={"Metrics": ["EventCount"]})  # fmt: skip

            def fail(records: list[dict[str, Any]]) -> Any:
                raise RuntimeError("no")

            rig.handler.answer = fail
            recorded = RecordingMetrics()
            poller = rig.poller()
            poller.metrics = FunctionMetrics(recorded)
            assert await poller.poll(mapping, "gw-a") == (2, "PROBLEM: Function call failed")
            uuid = {"EventSourceMappingUUID": mapping.uuid}
            assert recorded.of("PolledEventCount", **uuid) == [2.0]
            assert recorded.of("InvokedEventCount", **uuid) == [2.0]
            assert recorded.of("FailedInvokeEventCount", **uuid) == [2.0]
            assert recorded.of("DroppedEventCount", **uuid) == [2.0]
            assert recorded.of("OnFailureDestinationDeliveredEventCount", **uuid) == [2.0]
            assert len(recorded.of("IteratorAge", FunctionName="consumer")) == 1
            assert recorded.of("DestinationDeliveryFailures", FunctionName="consumer") == []
            assert len(await rig.failures()) == 1
            # The queue gone: the next batch's record is not delivered.
            await rig.queues.delete_queue(
                await rig.queues.get_queue(world.tenant_id, world.tenant_id, "failed")
            )
            await world.kinesis.put(world.tenant_id, "clicks", [Entry("k", b"3")])
            assert await poller.poll(mapping, "gw-a") == (1, "PROBLEM: Function call failed")
            assert recorded.of("DestinationDeliveryFailures", FunctionName="consumer") == [1.0]
            assert recorded.of("OnFailureDestinationDeliveredEventCount", **uuid) == [2.0]
