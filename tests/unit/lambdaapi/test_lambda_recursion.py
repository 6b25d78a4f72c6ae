"""Decision 0328's recursive loop detection through botocore's ``lambda`` model in process:
the lineage a trace header carries (``functions.lineage``), Put/GetFunctionRecursionConfig,
an Invoke carrying the caller's lineage into the sandbox (``_X_AMZN_TRACE_ID``, the function
run in the real ``bwrap`` sandbox) and stopped at the 17th run of a chain with
``RecursiveInvocationException`` and ``RecursiveInvocationsDropped``, ``Allow`` letting it
run, an Event invocation keeping its caller's lineage through the queue (stopped: to the
dead-letter queue), and the SQS mapping's poller sending a looping message to the queue's
dead-letter queue instead of the function."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.functions.lineage import MAX_CHAIN, MAX_ENTRIES, Lineage, function_key
from andromede.queues.model import MessageAttribute
from support.lambda_mappings import MappingWorld, mapping_world
from support.lambdaapp import handler_zip

needs_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None,
    reason="bubblewrap is not installed (scripts/install-system-deps.sh installs it)",
)
ROOT = "Root=1-5759e988-bd862e3fe1be46a994272793"
# Answers the trace the runtime gave it, and the records' bodies.
SOURCE = """
import os

def handler(event, context):
    bodies = [r["body"] for r in event.get("Records", [])]
    print("ran", bodies, "trace", os.environ.get("_X_AMZN_TRACE_ID"))
    return {"trace": os.environ.get("_X_AMZN_TRACE_ID"), "bodies": bodies}
"""


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[MappingWorld]:
    async for made in mapping_world(tmp_path):
        yield made


def test_a_lineage_counts_each_function_of_its_chain() -> None:
    fresh = Lineage.parse(None)
    assert fresh.header().startswith("Root=1-") and fresh.counts == ()
    one, two = function_key("111111111111", "one"), function_key("111111111111", "two")
    assert one != two and len(one) == 8
    given = Lineage.parse(f"{ROOT};Parent=53995c3f42cd8ad8;Sampled=0;Lineage={one}:3,{two}:1")
    passed = given.passed(one)
    assert passed.header() == (f"{ROOT};Parent=53995c3f42cd8ad8;Sampled=0;Lineage={two}:1,{one}:4")
    assert (passed.count(one), passed.count(two), passed.count("00000000")) == (4, 1, 0)
    assert not Lineage.parse(f"{ROOT};Lineage={one}:{MAX_CHAIN - 1}").loops(one)
    assert Lineage.parse(f"{ROOT};Lineage={one}:{MAX_CHAIN}").loops(one)
    # Unreadable entries are ignored, a header without a root gets one, the chain is bounded.
    odd = Lineage.parse(f"Sampled=1;Lineage=zz:1,{one}:x,{two}:99999,{one}:2")
    assert odd.counts == ((one, 2),) and odd.fields[0].startswith("Root=1-")
    many = Lineage.parse(None)
    for n in range(MAX_ENTRIES + 3):
        many = many.passed(function_key("111111111111", f"f{n}"))
    assert len(many.counts) == MAX_ENTRIES


async def test_the_recursion_configuration_is_kept(world: MappingWorld) -> None:
    lam = world.lam
    made = await lam.function("looping")
    got = await lam.client("GetFunctionRecursionConfig", FunctionName="looping")
    assert got["RecursiveLoop"] == "Terminate"
    put = await lam.client("PutFunctionRecursionConfig", FunctionName="looping",
        RecursiveLoop="Allow")  # fmt: skip
    assert put["RecursiveLoop"] == "Allow"
    got = await lam.client("GetFunctionRecursionConfig", FunctionName=made["FunctionArn"])
    assert got["RecursiveLoop"] == "Allow"
    refused = await lam.fails("PutFunctionRecursionConfig", "InvalidParameterValueException",
        FunctionName="looping", RecursiveLoop="Never")  # fmt: skip
    assert "enum value set: [Allow, Terminate]" in refused.message
    await lam.fails("PutFunctionRecursionConfig", "ResourceNotFoundException",
        FunctionName="missing", RecursiveLoop="Allow")  # fmt: skip
    other = await lam.other_tenant("stranger")
    await other.fails("PutFunctionRecursionConfig", "AccessDeniedException",
        FunctionName=made["FunctionArn"], RecursiveLoop="Terminate")  # fmt: skip
    got = await lam.client("GetFunctionRecursionConfig", FunctionName="looping")
    assert got["RecursiveLoop"] == "Allow"
    await lam.client("PutFunctionRecursionConfig", FunctionName="looping",
        RecursiveLoop="Terminate")  # fmt: skip
    got = await lam.client("GetFunctionRecursionConfig", FunctionName="looping")
    assert got["RecursiveLoop"] == "Terminate"


async def _invoke(world: MappingWorld, name: str, trace: str) -> tuple[int, dict[str, object]]:
    reply = await world.lam.raw(
        "POST", f"/2015-03-31/functions/{name}/invocations", b"{}", "",
        {"X-Amzn-Trace-Id": trace, "Content-Type": "application/json"},
    )  # fmt: skip
    return reply.status, {"type": reply.headers.get("x-amzn-errortype", "")} | json.loads(
        reply.body or b"{}"
    )


@needs_bwrap
async def test_an_invoke_passes_its_lineage_on_and_a_loop_is_stopped(world: MappingWorld) -> None:
    lam = world.lam
    await lam.function("looping", Code={"ZipFile": handler_zip(SOURCE)})
    mark = function_key(lam.tenant_id, "looping")
    status, answer = await _invoke(world, "looping", f"{ROOT};Sampled=0;Lineage={mark}:3")
    assert status == 200
    assert answer["trace"] == f"{ROOT};Sampled=0;Lineage={mark}:4"
    status, answer = await _invoke(world, "looping", f"{ROOT};Lineage={mark}:{MAX_CHAIN}")
    assert status == 400 and str(answer["type"]).startswith("RecursiveInvocationException")
    assert "recursive loop" in str(answer["message"])
    assert lam.metrics.of("RecursiveInvocationsDropped", FunctionName="looping") == [1.0]
    assert lam.metrics.of("Invocations", FunctionName="looping") == [1.0]  # not run
    await lam.client("PutFunctionRecursionConfig", FunctionName="looping",
        RecursiveLoop="Allow")  # fmt: skip
    status, answer = await _invoke(world, "looping", f"{ROOT};Lineage={mark}:{MAX_CHAIN}")
    assert status == 200 and answer["trace"] == f"{ROOT};Lineage={mark}:{MAX_CHAIN + 1}"


@needs_bwrap
async def test_a_looping_message_goes_to_the_dead_letter_queue(world: MappingWorld) -> None:
    lam = world.lam
    role = await world.reader_role()
    await lam.function("looping", Role=role, Code={"ZipFile": handler_zip(SOURCE)})
    dead = await world.queue("dead")
    redrive = json.dumps({"deadLetterTargetArn": dead, "maxReceiveCount": 5})
    source = await world.queue("jobs", {"RedrivePolicy": redrive, "VisibilityTimeout": "1"})
    await lam.client("CreateEventSourceMapping", EventSourceArn=source, FunctionName="looping")
    await world.poller.run_pass()  # Creating → Enabled
    mark = function_key(lam.tenant_id, "looping")
    queue = await world.queues.get_queue(lam.tenant_id, lam.tenant_id, "jobs")
    for body, count in (("looped", MAX_CHAIN), ("fine", MAX_CHAIN - 1)):
        trace = MessageAttribute("String", string_value=f"{ROOT};Lineage={mark}:{count}")
        await world.queues.send_message(
            queue, body, {}, {"AWSTraceHeader": trace}, None, lam.tenant_id
        )
    assert await world.poller.run_pass() == 1
    ran = [m for _, _, _, m in lam.logs.written if m.startswith("ran ")]
    # The invocation carries the lineage of the message it was given, one run further.
    assert ran == [f"ran ['fine'] trace {ROOT};Lineage={mark}:{MAX_CHAIN}"]
    assert await world.visible("dead") == ["looped"]
    assert await world.visible("jobs") == []
    assert lam.metrics.of("RecursiveInvocationsDropped", FunctionName="looping") == [1.0]


@needs_bwrap
async def test_an_event_invocation_keeps_its_lineage(world: MappingWorld) -> None:
    lam = world.lam
    letters = f"arn:aws:sqs:eu-fr-1:{lam.tenant_id}:letters"
    await lam.function("looping", Code={"ZipFile": handler_zip(SOURCE)},
        DeadLetterConfig={"TargetArn": letters})  # fmt: skip
    mark = function_key(lam.tenant_id, "looping")
    for count in (3, MAX_CHAIN):
        reply = await lam.raw(
            "POST", "/2015-03-31/functions/looping/invocations", b'{"n": 1}', "",
            {"X-Amzn-Trace-Id": f"{ROOT};Lineage={mark}:{count}",
             "X-Amz-Invocation-Type": "Event", "Content-Type": "application/json"},
        )  # fmt: skip
        assert reply.status == 202
    assert await lam.worker.pass_once() == 2
    ran = [m for _, _, _, m in lam.logs.written if m.startswith("ran ")]
    assert ran == [f"ran [] trace {ROOT};Lineage={mark}:4"]  # the second one never ran
    ((target, _, event, attributes),) = lam.destinations.dead_letters
    assert (target, event) == (letters, b'{"n": 1}')
    assert attributes["ErrorMessage"] == "RecursiveInvocationDetected"
    assert lam.metrics.of("RecursiveInvocationsDropped", FunctionName="looping") == [1.0]
    assert lam.metrics.of("AsyncEventsDropped", FunctionName="looping") == [1.0]
