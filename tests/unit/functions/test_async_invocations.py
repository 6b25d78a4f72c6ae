"""Decision 0300's Event worker applying the asynchronous invocation configuration, the
handler run in the real ``bwrap`` sandbox and the time a test's clock: a success's record
to the ``OnSuccess`` destination, a failure retried ``MaximumRetryAttempts`` times a minute
then two apart and its record (``RetriesExhausted``, the error as the response) to
``OnFailure`` and its event to the dead-letter queue with AWS's attributes, an event older
than ``MaximumEventAgeInSeconds`` given up (``EventAgeExceeded``), a throttle tried again
uncounted, the qualifier's own configuration, and a failure with nowhere to go dropped."""

from __future__ import annotations

import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from andromede.functions.async_invocations import AsyncInvocations, RetryPolicy
from andromede.functions.event_queue import EventWorker
from support.lambdaapp import World, handler_zip, lambda_world

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None,
    reason="bubblewrap is not installed (scripts/install-system-deps.sh installs it)",
)

SOURCE = """
def handler(event, context):
    print("ran", context.function_version)
    if event.get("fail"):
        raise RuntimeError("asked to fail")
    return {"done": event}
"""
OK_QUEUE = "arn:aws:sqs:eu-fr-1:{}:ok"
FAILED_BUS = "arn:aws:events:eu-fr-1:{}:event-bus/default"
DEAD_LETTERS = "arn:aws:sqs:eu-fr-1:{}:dead"


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async for made in lambda_world(tmp_path):
        yield made


@dataclass
class Clock:
    now: int

    def __call__(self) -> int:
        return self.now


def _worker(world: World, clock: Clock) -> EventWorker:
    assert world.invoker is not None
    runner = AsyncInvocations(
        world.functions, world.invoker, world.configs, world.destinations,
        RetryPolicy(first_delay_ms=60_000, throttle_max_delay_ms=300_000), clock,
    )  # fmt: skip
    return EventWorker(world.queue, runner, "gateway-a", clock=clock)


async def _setup(world: World, **config: object) -> str:
    made = await world.function(
        "worker", Code={"ZipFile": handler_zip(SOURCE)},
        DeadLetterConfig={"TargetArn": DEAD_LETTERS.format(world.tenant_id)},
    )  # fmt: skip
    tenant = world.tenant_id
    await world.client("PutFunctionEventInvokeConfig", FunctionName="worker",
        DestinationConfig={"OnSuccess": {"Destination": OK_QUEUE.format(tenant)},
                           "OnFailure": {"Destination": FAILED_BUS.format(tenant)}},
        **config)  # fmt: skip
    return str(made["Role"])


async def _invoke(world: World, payload: bytes, qualifier: str | None = None) -> Clock:
    """The time just after the invocation was queued, as the test's clock."""
    extra = {} if qualifier is None else {"Qualifier": qualifier}
    answer = await world.client(
        "Invoke", FunctionName="worker", InvocationType="Event", Payload=payload, **extra
    )
    assert answer["StatusCode"] == 202
    return Clock(int(time.time() * 1000) + 10)


def _runs(world: World) -> int:
    return sum(1 for _, _, _, m in world.logs.written if m.startswith("START RequestId"))


async def test_a_success_goes_to_on_success(world: World) -> None:
    role = await _setup(world)
    clock = await _invoke(world, b'{"n": 1}')
    (queued,) = world.queue._items.values()
    assert await _worker(world, clock).pass_once() == 1
    (destination, sent_as, record), = world.destinations.delivered  # fmt: skip
    assert (destination, sent_as) == (OK_QUEUE.format(world.tenant_id), role)
    assert record["version"] == "1.0" and record["timestamp"].endswith("Z")
    assert record["requestContext"] == {
        "requestId": queued.id,
        "functionArn": f"arn:aws:lambda:eu-fr-1:{world.tenant_id}:function:worker:$LATEST",
        "condition": "Success",
        "approximateInvokeCount": 1,
    }
    assert record["requestPayload"] == {"n": 1}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"done": {"n": 1}}
    assert world.destinations.dead_letters == [] and world.queue._items == {}


async def test_retries_then_on_failure_and_the_dead_letter_queue(world: World) -> None:
    role = await _setup(world, MaximumRetryAttempts=1)
    clock = await _invoke(world, b'{"fail": true}')
    worker = _worker(world, clock)
    (queued,) = world.queue._items.values()
    assert await worker.pass_once() == 1
    (retried,) = world.queue._items.values()
    assert retried.attempts == 1 and retried.due == clock.now + 60_000
    clock.now += 59_000
    assert await worker.pass_once() == 0  # not due yet
    clock.now += 1_000
    assert await worker.pass_once() == 1
    assert _runs(world) == 2 and world.queue._items == {}
    (destination, sent_as, record), = world.destinations.delivered  # fmt: skip
    assert (destination, sent_as) == (FAILED_BUS.format(world.tenant_id), role)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorMessage"] == "asked to fail"
    assert record["responsePayload"]["errorType"] == "RuntimeError"
    (target, letter_role, event, attributes), = world.destinations.dead_letters  # fmt: skip
    assert (target, letter_role, event) == (
        DEAD_LETTERS.format(world.tenant_id), role, b'{"fail": true}')  # fmt: skip
    assert attributes == {
        "RequestID": queued.id, "ErrorCode": "200", "ErrorMessage": "asked to fail"}  # fmt: skip


async def test_the_default_retries_a_minute_then_two_apart(world: World) -> None:
    await _setup(world)
    clock = await _invoke(world, b'{"fail": true}')
    worker = _worker(world, clock)
    await worker.pass_once()
    (first,) = world.queue._items.values()
    assert first.due == clock.now + 60_000
    clock.now = first.due
    await worker.pass_once()
    (second,) = world.queue._items.values()
    assert second.attempts == 2 and second.due == clock.now + 120_000
    clock.now = second.due
    await worker.pass_once()
    assert world.queue._items == {} and _runs(world) == 3
    assert world.destinations.delivered[0][2]["requestContext"]["approximateInvokeCount"] == 3


async def test_an_event_too_old_is_given_up(world: World) -> None:
    await _setup(world, MaximumEventAgeInSeconds=60)
    clock = await _invoke(world, b'{"fail": true}')
    worker = _worker(world, clock)
    await worker.pass_once()
    clock.now += 60_000  # the retry is due, the event is past its age
    await worker.pass_once()
    assert _runs(world) == 1 and world.queue._items == {}
    (_, _, record), = world.destinations.delivered  # fmt: skip
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert "responseContext" not in record and record["requestPayload"] == {"fail": True}
    assert world.destinations.dead_letters[0][3]["ErrorMessage"] == "EventAgeExceeded"


async def test_a_throttle_is_tried_again_uncounted(world: World) -> None:
    await _setup(world, MaximumRetryAttempts=0)
    await world.client("PutFunctionConcurrency", FunctionName="worker",
        ReservedConcurrentExecutions=0)  # fmt: skip
    clock = await _invoke(world, b'{"n": 2}')
    worker = _worker(world, clock)
    await worker.pass_once()
    (throttled,) = world.queue._items.values()
    assert throttled.attempts == 0 and throttled.due == clock.now + 1_000
    assert _runs(world) == 0 and world.destinations.delivered == []
    clock.now += 600_000
    await worker.pass_once()
    (again,) = world.queue._items.values()
    assert again.due == clock.now + 300_000  # half its age, within the ceiling
    await world.client("DeleteFunctionConcurrency", FunctionName="worker")
    clock.now = again.due
    await worker.pass_once()
    assert world.queue._items == {}
    assert world.destinations.delivered[0][2]["requestContext"]["condition"] == "Success"


async def test_the_qualifiers_own_configuration(world: World) -> None:
    await _setup(world)
    await world.client("PublishVersion", FunctionName="worker")
    await world.client("CreateAlias", FunctionName="worker", Name="live", FunctionVersion="1")
    await world.client("PutFunctionEventInvokeConfig", FunctionName="worker", Qualifier="live",
        MaximumRetryAttempts=0)  # no destination: the failure is dropped  # fmt: skip
    await world.client("UpdateFunctionConfiguration", FunctionName="worker",
        DeadLetterConfig={})  # $LATEST's; version 1 keeps its dead-letter queue  # fmt: skip
    clock = await _invoke(world, b'{"fail": true}', qualifier="live")
    await _worker(world, clock).pass_once()
    assert world.queue._items == {} and world.destinations.delivered == []
    (target, _, _, _), = world.destinations.dead_letters  # fmt: skip
    assert target == DEAD_LETTERS.format(world.tenant_id)
    await world.client("DeleteFunctionEventInvokeConfig", FunctionName="worker")
    clock = await _invoke(world, b'{"fail": true}')
    await world.client("PutFunctionEventInvokeConfig", FunctionName="worker",
        MaximumRetryAttempts=0)  # fmt: skip
    clock.now += 1000
    await _worker(world, clock).pass_once()
    assert world.queue._items == {} and len(world.destinations.dead_letters) == 1
