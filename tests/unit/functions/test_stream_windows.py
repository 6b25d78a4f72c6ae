"""Decision 0319's tumbling windows on the stream poller (a real Kinesis stream whose arrival
clock the test sets, the real role check, memory queues, a KMS-backed sealer; the function a
Python stand-in): windows aligned on arrival, the state carried between invocations and across
gateways, sealed; the final invocation once the window is over; a state over 1 MB ending the
window early; an answer without ``state`` failing the batch, retried with the same state; a
failing final invocation given up after its retries or past the record age (decision 0328)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from andromede.function_sources import FunctionRoles
from andromede.function_streams import FailureDestinations, StreamAccess, StreamPoller
from andromede.function_windows import STATE_LIMIT, first_window, window_start
from andromede.functions.invoker import Invocation
from andromede.functions.mapping_streams import STREAM_DEFAULTS
from andromede.functions.mappings import EventSourceMapping, MemoryMappingStore
from andromede.kinesis import service as kinesis_service
from andromede.kinesis.model import StreamMode
from andromede.kinesis.service import Entry
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.service import KeyService
from andromede.pipes.runner import SourceEvent
from andromede.queues.memory import MemoryQueueStore
from andromede.queues.service import QueueService
from andromede.stream_reading import StreamReader
from andromede.wiring.queues import KeySealer
from support.dynamodbapp import dynamodb_world
from support.kinesisapp import kinesis_world
from support.lambdaapp import REGION, TRUST
from support.pipesapp import allow

MINUTE = 60_000
T0 = 1_800_000_000_000 - 1_800_000_000_000 % MINUTE  # a window's start


@dataclass
class Summing:
    """The function: sums the records' numbers into ``state["sum"]``, keeping each event."""

    role_arn: str
    events: list[dict[str, Any]] = field(default_factory=list)
    answer: Callable[[dict[str, Any]], Any] | None = None
    failing_final: bool = False

    async def role(self, mapping: EventSourceMapping) -> str:
        return self.role_arn

    async def run(self, mapping: EventSourceMapping, payload: bytes) -> Invocation:
        event = json.loads(payload)
        self.events.append(event)
        if self.failing_final and event["isFinalInvokeForWindow"]:
            return Invocation("$LATEST", False, b'{"errorMessage": "no"}', "")
        if self.answer is not None:
            return Invocation("$LATEST", True, json.dumps(self.answer(event)).encode(), "")
        total = event["state"].get("sum", 0)
        for record in event["Records"]:
            total += int(base64.b64decode(record["kinesis"]["data"]))
        return Invocation("$LATEST", True, json.dumps({"state": {"sum": total}}).encode(), "")


@dataclass
class Rig:
    kinesis: Any  # KinesisService, None for a DynamoDB stream
    tenant_id: str
    store: MemoryMappingStore
    queues: QueueService
    function: Summing
    poller: Callable[..., StreamPoller]
    clock: list[int]
    arrival: list[int]

    async def put(self, *datas: str, at: int) -> None:
        self.arrival[0] = at
        await self.kinesis.put(self.tenant_id, "clicks", [Entry("k", d.encode()) for d in datas])

    async def mapping(self, source: str = "", **parameters: Any) -> EventSourceMapping:
        if not source:
            made = await self.kinesis.create(self.tenant_id, "clicks", 1, StreamMode.PROVISIONED)
            source = made.arn
        mapping = EventSourceMapping(
            uuid="00000000-0000-0000-0000-000000000019",
            tenant_id=self.tenant_id,
            function_name="consumer",
            qualifier=None,
            function_arn=f"arn:aws:lambda:{REGION}:{self.tenant_id}:function:consumer",
            source_arn=source,
            source_kind="dynamodb" if "/stream/" in source else "kinesis",
            state="Enabled",
            last_modified=0,
            parameters={"BatchSize": 1, "StartingPosition": "TRIM_HORIZON"}
            | STREAM_DEFAULTS
            | {"TumblingWindowInSeconds": 60}
            | parameters,
        )
        await self.store.add(mapping)
        (claimed,) = await self.store.claim("gw-a", 0, 2**62, 10)
        return claimed

    async def failures(self) -> list[dict[str, Any]]:
        queue = await self.queues.get_queue(self.tenant_id, self.tenant_id, "failed")
        got = await self.queues.receive(queue, max_messages=10, visibility=30, wait=0)
        return [json.loads(m.payload.body) for m in got]


async def _rig(world: Any, keys: KeyService, arrival: list[int], dynamodb: Any = None) -> Rig:
    tenant = world.tenant_id
    queues = QueueService(MemoryQueueStore(), KeySealer(keys), region=REGION)
    await queues.create_queue(tenant, "failed", {}, {})
    role = await world.identity.create_role(tenant, "consumer", TRUST)
    await world.identity.put_role_policy(
        tenant, "consumer", "read", allow("kinesis:*", "dynamodb:*", "sqs:SendMessage")
    )
    roles = FunctionRoles(world.identity, REGION)
    kinesis = None if dynamodb is not None else world.kinesis
    access = StreamAccess(roles, lambda: kinesis, lambda: dynamodb)
    store = MemoryMappingStore()
    function = Summing(role.arn)
    clock = [T0]

    def poller(sealed: bool = True) -> StreamPoller:  # a new one: another gateway
        return StreamPoller(
            store,
            access,
            StreamReader(lambda: kinesis, lambda: dynamodb, REGION),
            function,
            FailureDestinations(roles, access, queues, None),
            clock=lambda: clock[0],
            sealer=KeySealer(keys) if sealed else None,
        )

    return Rig(kinesis, tenant, store, queues, function, poller, clock, arrival)


@pytest.fixture
async def rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Rig]:
    arrival = [T0]
    monkeypatch.setattr(kinesis_service, "_now", lambda: arrival[0])
    keys = KeyService(LocalKeyFileProvider(tmp_path / "rig-keys"))
    try:
        async for world in kinesis_world(tmp_path):
            yield await _rig(world, keys, arrival)
    finally:
        keys.close()


def _sums(events: list[dict[str, Any]]) -> list[Any]:
    return [e["state"].get("sum") for e in events]


def test_windows_aligned_on_arrival() -> None:
    assert window_start(T0 + 59_999, 60) == T0
    assert window_start(T0 + MINUTE, 60) == T0 + MINUTE
    assert window_start(T0 + 4_500, 2) == T0 + 4_000
    events = [
        SourceEvent({}, sequence=str(n), arrived=at)
        for n, at in enumerate((T0 + 5, T0 + 59_000, T0 + MINUTE))
    ]
    assert first_window(events, 60) == (T0, events[:2])


async def test_state_carried_then_a_final_invocation(rig: Rig) -> None:
    mapping = await rig.mapping()
    await rig.put("1", "2", at=T0 + 1_000)
    await rig.put("4", at=T0 + 30_000)
    assert await rig.poller().poll(mapping, "gw-a") == (1, "OK")
    first = rig.function.events[0]
    assert first["window"] == {"start": "2027-01-15T08:00:00Z", "end": "2027-01-15T08:01:00Z"}
    assert (first["state"], first["shardId"], first["eventSourceARN"]) == (
        {}, "shardId-000000000000", mapping.source_arn)  # fmt: skip
    assert (first["isFinalInvokeForWindow"], first["isWindowTerminatedEarly"]) == (False, False)
    # Each invocation is another gateway's: the state comes from the store, sealed there.
    assert await rig.poller().poll(mapping, "gw-a") == (1, "OK")
    assert await rig.poller().poll(mapping, "gw-a") == (1, "OK")
    (kept,) = (await rig.store.windows(mapping.uuid)).values()
    assert kept.start == T0 and b"sum" not in kept.sealed_state
    rig.clock[0] = T0 + 59_000  # not over yet: no final invocation
    assert await rig.poller().poll(mapping, "gw-a") == (0, None)
    rig.clock[0] = T0 + MINUTE
    assert await rig.poller().poll(mapping, "gw-a") == (0, "OK")
    final = rig.function.events[-1]
    assert (final["Records"], final["state"], final["isFinalInvokeForWindow"]) == (
        [], {"sum": 7}, True)  # fmt: skip
    assert _sums(rig.function.events) == [None, 1, 3, 7]
    assert await rig.store.windows(mapping.uuid) == {}
    assert await rig.poller().poll(mapping, "gw-a") == (0, None)  # dropped: no second final


async def test_a_later_record_closes_the_window_first(rig: Rig) -> None:
    mapping = await rig.mapping(BatchSize=10)
    await rig.put("1", at=T0 + 1_000)
    await rig.put("2", at=T0 + MINUTE + 1)
    assert await rig.poller().poll(mapping, "gw-a") == (1, "OK")  # the first window's only
    assert await rig.poller().poll(mapping, "gw-a") == (1, "OK")
    final, second = rig.function.events[1:]
    assert (final["isFinalInvokeForWindow"], final["state"]) == (True, {"sum": 1})
    assert (second["state"], second["window"]["start"]) == ({}, "2027-01-15T08:01:00Z")


async def test_a_state_over_a_megabyte_ends_the_window_early(rig: Rig) -> None:
    mapping = await rig.mapping()
    await rig.put("1", "2", at=T0 + 1_000)
    big = {"pad": "x" * STATE_LIMIT}
    rig.function.answer = lambda event: {"state": big if event["Records"] else {}}
    assert await rig.poller().poll(mapping, "gw-a") == (1, "OK")
    early = rig.function.events[1]
    assert (early["Records"], early["isFinalInvokeForWindow"]) == ([], True)
    assert (early["isWindowTerminatedEarly"], early["state"]) == (True, big)
    rig.function.answer = None
    assert await rig.poller().poll(mapping, "gw-a") == (1, "OK")
    again = rig.function.events[2]  # the same window, a fresh state
    assert (again["state"], again["window"]) == ({}, early["window"])
    assert not again["isWindowTerminatedEarly"]


async def test_an_answer_without_state_fails_and_is_retried_whole(rig: Rig) -> None:
    queue = f"arn:aws:sqs:{REGION}:{rig.tenant_id}:failed"
    mapping = await rig.mapping(MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": queue}})  # fmt: skip
    await rig.put("1", "2", at=T0 + 1_000)
    assert await rig.poller().poll(mapping, "gw-a") == (1, "OK")
    rig.function.answer = lambda event: {"batchItemFailures": []}
    poller = rig.poller()
    assert await poller.poll(mapping, "gw-a") == (1, "PROBLEM: Function call failed")
    assert await poller.poll(mapping, "gw-a") == (1, "PROBLEM: Function call failed")
    assert [e["state"] for e in rig.function.events[1:]] == [{"sum": 1}, {"sum": 1}]
    (failure,) = await rig.failures()
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    rig.function.answer = None
    rig.clock[0] = T0 + MINUTE  # the window's state as it was before the batch given up
    assert await poller.poll(mapping, "gw-a") == (0, "OK")
    assert rig.function.events[-1]["state"] == {"sum": 1}


async def test_a_failed_final_invocation_holds_the_shard(rig: Rig) -> None:
    mapping = await rig.mapping()
    await rig.put("1", at=T0 + 1_000)
    assert await rig.poller().poll(mapping, "gw-a") == (1, "OK")
    await rig.put("5", at=T0 + MINUTE + 1)
    rig.function.failing_final = True
    assert await rig.poller().poll(mapping, "gw-a") == (0, "PROBLEM: Function call failed")
    assert await rig.poller().poll(mapping, "gw-a") == (0, "PROBLEM: Function call failed")
    assert all(e["isFinalInvokeForWindow"] for e in rig.function.events[1:])
    rig.function.failing_final = False
    assert await rig.poller().poll(mapping, "gw-a") == (1, "OK")
    assert _sums(rig.function.events[-2:]) == [1, None]


async def test_windows_need_a_sealer(rig: Rig) -> None:
    mapping = await rig.mapping()
    await rig.put("1", at=T0 + 1_000)
    assert await rig.poller(sealed=False).poll(mapping, "gw-a") == (
        0, "PROBLEM: Tumbling windows are not served by this deployment")  # fmt: skip
    assert rig.function.events == []


async def test_a_dynamodb_stream_windowed(tmp_path: Path) -> None:
    keys = KeyService(LocalKeyFileProvider(tmp_path / "rig-keys"))
    try:
        async for world in dynamodb_world(tmp_path):
            rig = await _rig(world, keys, [T0], dynamodb=world.app.streams)
            table = await world.client("CreateTable", TableName="things",
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
            )  # fmt: skip
            stream = table["TableDescription"]["LatestStreamArn"]
            for key in ("a", "b"):
                await world.client("PutItem", TableName="things", Item={"id": {"S": key}})
            mapping = await rig.mapping(stream, TumblingWindowInSeconds=900)
            rig.clock[0] = int(time.time() * 1000)
            rig.function.answer = lambda event: {
                "state": {"n": event["state"].get("n", 0) + len(event["Records"])}
            }
            assert await rig.poller().poll(mapping, "gw-a") == (1, "OK")
            assert await rig.poller().poll(mapping, "gw-a") == (1, "OK")
            first, second = rig.function.events
            assert first["Records"][0]["eventSource"] == "aws:dynamodb"
            assert (first["state"], second["state"]) == ({}, {"n": 1})
            assert first["eventSourceARN"] == stream and first["shardId"].startswith("shardId-")
            rig.clock[0] += 900_000
            assert await rig.poller().poll(mapping, "gw-a") == (0, "OK")
            assert rig.function.events[-1]["state"] == {"n": 2}
    finally:
        keys.close()


async def test_a_failing_final_invocation_is_given_up_after_its_retries(rig: Rig) -> None:
    # Decision 0328: bounded as a batch is, where decision 0319 retried it forever.
    queue = f"arn:aws:sqs:{REGION}:{rig.tenant_id}:failed"
    mapping = await rig.mapping(MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": queue}})  # fmt: skip
    await rig.put("1", "2", at=T0 + 1_000)
    poller = rig.poller()
    assert await poller.poll(mapping, "gw-a") == (1, "OK")
    assert await poller.poll(mapping, "gw-a") == (1, "OK")
    rig.function.failing_final = True
    rig.clock[0] = T0 + MINUTE + 5
    assert await poller.poll(mapping, "gw-a") == (0, "PROBLEM: Function call failed")
    assert await rig.failures() == []
    assert await poller.poll(mapping, "gw-a") == (0, "OK")  # the retry failed: given up
    (failure,) = await rig.failures()
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 2
    assert failure["window"]["start"] == first_window_iso(T0)
    assert failure["isFinalInvokeForWindow"] is True
    finals = [e for e in rig.function.events if e["isFinalInvokeForWindow"]]
    assert [e["state"] for e in finals] == [{"sum": 3}, {"sum": 3}]
    assert await poller.poll(mapping, "gw-a") == (0, None)  # the window dropped
    assert len(rig.function.events) == 4


async def test_a_final_invocation_past_the_record_age_is_given_up(rig: Rig) -> None:
    queue = f"arn:aws:sqs:{REGION}:{rig.tenant_id}:failed"
    mapping = await rig.mapping(MaximumRecordAgeInSeconds=60,
        DestinationConfig={"OnFailure": {"Destination": queue}})  # fmt: skip
    await rig.put("4", at=T0 + 1_000)
    assert await rig.poller().poll(mapping, "gw-a") == (1, "OK")
    rig.function.failing_final = True
    rig.clock[0] = T0 + MINUTE + 30_000  # the end 30 s ago: retried
    assert await rig.poller().poll(mapping, "gw-a") == (0, "PROBLEM: Function call failed")
    rig.clock[0] = T0 + 2 * MINUTE + 1  # the end over a minute ago: given up
    assert await rig.poller().poll(mapping, "gw-a") == (0, "OK")
    (failure,) = await rig.failures()
    assert failure["requestContext"]["condition"] == "RecordAgeExceeded"
    assert await rig.poller().poll(mapping, "gw-a") == (0, None)


def first_window_iso(start: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start / 1000))
