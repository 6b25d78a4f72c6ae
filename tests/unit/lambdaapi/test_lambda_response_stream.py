"""Decision 0313's InvokeWithResponseStream and InvokeAsync in process, the handlers run in the
real ``bwrap`` sandbox: the event stream's frames decoded by botocore (PayloadChunk events in
order, then InvokeComplete; a failure mid-stream its ErrorCode; the size limit; LogResult),
the headers, DryRun and the refusals, a value-returning handler answered in one piece, Invoke
of a streaming handler buffered, InvokeAsync queued and run; the same log and meters as
Invoke."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from botocore.eventstream import EventStreamBuffer

from support.json_client import JsonReply
from support.lambdaapp import World, handler_zip, lambda_world

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None,
    reason="bubblewrap is not installed (scripts/install-system-deps.sh installs it)",
)

SOURCE = """
import time


def handler(event, context):
    print("streaming for", context.function_name)
    if event.get("value"):
        return {"value": event["value"]}
    return pieces(event)


def pieces(event):
    for n in range(event.get("pieces", 3)):
        yield f"piece {n};"
    if event.get("fail"):
        raise ValueError("broke after the pieces")
    if event.get("size"):
        yield b"x" * event["size"]
    if event.get("sleep"):
        time.sleep(event["sleep"])
"""


@pytest.fixture
async def small(tmp_path: Path) -> AsyncIterator[World]:
    async for made in lambda_world(tmp_path, lambda_max_streamed_response_bytes=1000):
        yield made


async def _stream(world: World, name: str, event: object, **headers: str) -> JsonReply:
    return await world.raw(
        "POST",
        f"/2021-11-15/functions/{name}/response-streaming-invocations",
        json.dumps(event).encode(),
        headers=headers,
    )


async def _audited(world: World, action: str) -> list[str]:
    await world.audit.flush()
    listed = await world.audit_store.list_events(None, after_id=0, limit=500)
    return [e.resource for _, e in listed if e.action == action]


def _events(body: bytes) -> list[tuple[str, bytes]]:
    buffer = EventStreamBuffer()
    buffer.add_data(body)
    found = []
    for message in buffer:
        headers = message.headers
        assert headers[":message-type"] == "event"
        found.append((str(headers[":event-type"]), message.payload))
    return found


async def test_a_generator_handlers_pieces_then_invoke_complete(world: World) -> None:
    await world.function("streamer", Code={"ZipFile": handler_zip(SOURCE)})
    reply = await _stream(world, "streamer", {"pieces": 3}, **{"X-Amz-Log-Type": "Tail"})
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/vnd.amazon.eventstream"
    assert reply.headers["x-amz-executed-version"] == "$LATEST"
    events = _events(reply.body)
    assert events[:-1] == [("PayloadChunk", f"piece {n};".encode()) for n in range(3)]
    kind, payload = events[-1]
    complete = json.loads(payload)
    assert kind == "InvokeComplete" and "ErrorCode" not in complete
    tail = base64.b64decode(complete["LogResult"]).decode()
    assert "streaming for streamer" in tail and "REPORT RequestId: " in tail
    messages = [m for _, g, _, m in world.logs.written if g == "/aws/lambda/streamer"]
    assert any(m.startswith("END RequestId: ") for m in messages)
    assert world.meters.counted[(world.tenant_id, "lambda.requests")] == 1
    assert (await _audited(world, "lambda:InvokeWithResponseStream"))[-1].endswith(":streamer")


async def test_a_failure_mid_stream_and_a_value(world: World) -> None:
    await world.function("breaks", Code={"ZipFile": handler_zip(SOURCE)})
    events = _events((await _stream(world, "breaks", {"pieces": 2, "fail": True})).body)
    assert [kind for kind, _ in events] == ["PayloadChunk", "PayloadChunk", "InvokeComplete"]
    complete = json.loads(events[-1][1])
    assert complete["ErrorCode"] == "ValueError"
    details = json.loads(complete["ErrorDetails"])
    assert details["errorMessage"] == "broke after the pieces" and details["stackTrace"]
    assert "LogResult" not in complete  # not asked
    events = _events((await _stream(world, "breaks", {"value": 7})).body)
    assert events[0] == ("PayloadChunk", b'{"value": 7}')
    assert json.loads(events[1][1]) == {}
    # Invoke gathers a streaming handler's answer, as AWS buffers it.
    done = await world.client("Invoke", FunctionName="breaks", Payload=b'{"pieces": 2}')
    assert done["Payload"].read() == b"piece 0;piece 1;" and "FunctionError" not in done


async def test_the_size_limit(small: World) -> None:
    await small.function("big", Code={"ZipFile": handler_zip(SOURCE)})
    events = _events((await _stream(small, "big", {"pieces": 1, "size": 5000})).body)
    assert events[0] == ("PayloadChunk", b"piece 0;")
    complete = json.loads(events[-1][1])
    assert [kind for kind, _ in events] == ["PayloadChunk", "InvokeComplete"]
    assert complete["ErrorCode"] == "Function.ResponseSizeTooLarge"
    assert "(1000 bytes)" in json.loads(complete["ErrorDetails"])["errorMessage"]
    messages = [m for _, g, _, m in small.logs.written if g == "/aws/lambda/big"]
    assert any("streaming for big" in m for m in messages)  # its log until it was cut
    assert any("Function.ResponseSizeTooLarge" not in m and "exceeded" in m for m in messages)
    fits = _events((await _stream(small, "big", {"pieces": 1, "size": 900})).body)
    assert json.loads(fits[-1][1]) == {} and len(fits) == 3


async def test_dry_run_and_refusals(world: World) -> None:
    await world.function("checked", Code={"ZipFile": handler_zip(SOURCE)})
    dry = await _stream(world, "checked", {}, **{"X-Amz-Invocation-Type": "DryRun"})
    assert dry.status == 204 and dry.body == b""
    assert world.meters.counted.get((world.tenant_id, "lambda.requests"), 0) == 0
    await world.fails("InvokeWithResponseStream", "InvalidParameterValueException",
        FunctionName="checked", InvocationType="Event")  # fmt: skip
    await world.fails("InvokeWithResponseStream", "ResourceNotFoundException",
        FunctionName="missing")  # fmt: skip
    await world.fails("InvokeWithResponseStream", "InvalidRequestContentException",
        FunctionName="checked", Payload=b"not json")  # fmt: skip
    await world.client("PutFunctionConcurrency", FunctionName="checked",
        ReservedConcurrentExecutions=0)  # fmt: skip
    await world.fails("InvokeWithResponseStream", "TooManyRequestsException",
        FunctionName="checked")  # fmt: skip
    other = await world.other_tenant("stranger")
    arn = f"arn:aws:lambda:{world.functions.region}:{world.tenant_id}:function:checked"
    await other.fails("InvokeWithResponseStream", "AccessDeniedException", FunctionName=arn)
    await other.fails("InvokeAsync", "AccessDeniedException", FunctionName=arn, InvokeArgs=b"{}")


async def test_invoke_async_is_queued_and_run(world: World) -> None:
    await world.function("later", Code={"ZipFile": handler_zip(SOURCE)})
    queued = await world.client("InvokeAsync", FunctionName="later", InvokeArgs=b'{"value": 1}')
    assert queued["Status"] == 202
    (item,) = world.queue._items.values()
    assert b'"value"' not in item.sealed_payload  # sealed, as Invoke's Event
    assert await world.worker.pass_once() == 1
    messages = [m for _, g, _, m in world.logs.written if g == "/aws/lambda/later"]
    assert any("streaming for later" in m for m in messages)
    await world.fails("InvokeAsync", "InvalidRequestContentException", FunctionName="later",
        InvokeArgs=b"{")  # fmt: skip
    assert (await _audited(world, "lambda:InvokeAsync"))[0].endswith(":function:later")


async def test_a_timeout_after_pieces(world: World) -> None:
    await world.function("slow", Code={"ZipFile": handler_zip(SOURCE)}, Timeout=1)
    events = _events((await _stream(world, "slow", {"pieces": 1, "sleep": 5})).body)
    assert events[0] == ("PayloadChunk", b"piece 0;")
    complete = json.loads(events[-1][1])
    assert complete["ErrorCode"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in complete["ErrorDetails"]


async def test_a_caller_gone_before_the_answer_starts_lets_the_run_end(world: World) -> None:
    await world.function("left", Code={"ZipFile": handler_zip(SOURCE)}, Timeout=30)
    app = world.app

    async def gone_at_once(scope: Any, receive: Any, send: Any) -> None:
        async def refusing(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                raise OSError("the caller is gone")
            await send(message)

        await app(scope, receive, refusing)

    world.app = gone_at_once  # type: ignore[assignment]
    with pytest.raises(OSError):
        await _stream(world, "left", {"pieces": 40})  # more than the queue holds
    world.app = app
    # Not held until its 30 s timeout by a full queue: it runs to its end, metered.
    for _ in range(100):
        if world.meters.counted.get((world.tenant_id, "lambda.requests")):
            break
        await asyncio.sleep(0.1)
    assert world.meters.counted[(world.tenant_id, "lambda.requests")] == 1
    messages = [m for _, g, _, m in world.logs.written if g == "/aws/lambda/left"]
    assert not any("timed out" in m for m in messages)


CONTEXT_SOURCE = """
def handler(event, context):
    yield context.invoked_function_arn + " "
    yield str(context.client_context)
"""


async def test_a_qualifier_and_a_client_context(world: World) -> None:
    made = await world.function("versions", Code={"ZipFile": handler_zip(CONTEXT_SOURCE)},
        Publish=True)  # fmt: skip
    context = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    reply = await world.raw(
        "POST",
        "/2021-11-15/functions/versions/response-streaming-invocations",
        b"{}",
        query="Qualifier=1",
        headers={"X-Amz-Client-Context": context},
    )
    assert reply.headers["x-amz-executed-version"] == "1"
    pieces = [p for kind, p in _events(reply.body) if kind == "PayloadChunk"]
    assert made["FunctionArn"].endswith(":versions:1")
    assert pieces == [f"{made['FunctionArn']} ".encode(), b"{'custom': {'k': 'v'}}"]
