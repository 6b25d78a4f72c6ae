"""Decision 0294's Lambda functions in pipes, run in the real ``bwrap`` sandbox: a function
as the target receives the batch as one JSON array (REQUEST_RESPONSE: its failure leaves the
messages; FIRE_AND_FORGET: queued), its ``batchItemFailures`` leave only those messages (an
SQS source) or move a stream's checkpoint past the records before the first failed one; a
function as the enrichment gives the events the target receives; the role's identity
policies or the function's resource-based policy must allow ``lambda:InvokeFunction``."""

from __future__ import annotations

import functools
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from andromede.pipe_enrichments import PipeEnrichments
from andromede.pipe_functions import PipeFunctions
from andromede.pipe_roles import PipeRoles
from andromede.pipe_sources import PipeSources
from andromede.pipe_targets import PipeTargets
from andromede.pipes.runner import PipesRunner, RunnerPolicy
from support.kinesisapp import kinesis_world
from support.lambdaapp import Functions, functions_over
from support.pipes_streams import Rig
from support.pipesapp import REGION, World, allow

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None,
    reason="bubblewrap is not installed (scripts/install-system-deps.sh installs it)",
)

READ = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
SOURCE = """
import json

def handler(event, context):
    print("batch=" + json.dumps(event))
    bodies = [e["body"] if isinstance(e["body"], dict) else json.loads(e["body"])
              for e in event]
    if any(b.get("crash") for b in bodies if isinstance(b, dict)):
        raise RuntimeError("crashed")
    return {"batchItemFailures": [{"itemIdentifier": e["messageId"]}
                                  for e, b in zip(event, bodies) if b.get("bad")]}
"""
ENRICH = """
import json

def handler(event, context):
    return [{"enriched": e["body"]["id"] * 10} for e in event]
"""
STREAM = """
import base64, json

def handler(event, context):
    print("batch=" + json.dumps([json.loads(base64.b64decode(e["data"]))["n"] for e in event]))
    return {"batchItemFailures": [{"itemIdentifier": e["eventID"]} for e in event
                                  if json.loads(base64.b64decode(e["data"]))["n"] == 2]}
"""


@pytest.fixture
async def functions(world: World, tmp_path: Path) -> AsyncIterator[Functions]:
    async for made in functions_over(world.identity, world.audit, tmp_path / "fn"):
        yield made


def runner(world: World, functions: Functions) -> PipesRunner:
    roles = PipeRoles(world.identity, REGION)
    lambdas = PipeFunctions(roles, lambda: functions.app)
    return PipesRunner(
        world.pipes,
        PipeSources(roles, world.queues, lambda: None, REGION),
        PipeTargets(roles, world.queues, None, None, lambda: None, lambda: None, None, REGION),
        RunnerPolicy(),
        "gateway-l",
        enricher=PipeEnrichments(roles, None, lambdas),
        batches=lambdas,
    )


def batches(functions: Functions) -> list[Any]:
    return [
        json.loads(m.removeprefix("batch=").splitlines()[0])
        for *_, m in functions.logs.written
        if m.startswith("batch=")
    ]


async def in_flight(world: World) -> str:
    queue = await world.queues.get_queue(world.tenant_id, world.tenant_id, "in")
    counts = await world.queues.queue_attributes(
        queue, ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )
    return counts["ApproximateNumberOfMessagesNotVisible"]


async def test_a_function_target_gets_the_batch_as_an_array(
    world: World, functions: Functions
) -> None:
    target = await functions.create(world.tenant_id, "sink", SOURCE)
    role = await world.role(policy=allow(*READ, "lambda:InvokeFunction"))
    await world.client("CreatePipe", Name="p", Source=await world.queue("in"), Target=target,
                       RoleArn=role, SourceParameters={"SqsQueueParameters": {"BatchSize": 5}},
                       TargetParameters={"InputTemplate": '{"body": <$.body>, '
                                         '"messageId": "<$.messageId>"}'})  # fmt: skip
    described = await world.client("DescribePipe", Name="p")
    assert described["Target"] == target
    for n in (1, 2):
        await world.send("in", json.dumps({"n": n}))
    pipes = runner(world, functions)
    await pipes.run_pass()  # settled
    await pipes.run_pass()
    (batch,) = batches(functions)
    assert sorted(e["body"]["n"] for e in batch) == [1, 2]  # one array, each event shaped
    assert await in_flight(world) == "0"  # deleted: done
    assert functions.meters.counted[(world.tenant_id, "lambda.requests")] == 1


async def test_a_function_failure_leaves_the_batch_and_item_failures_only_theirs(
    world: World, functions: Functions
) -> None:
    target = await functions.create(world.tenant_id, "picky", SOURCE)
    role = await world.role(policy=allow(*READ, "lambda:InvokeFunction"))
    await world.client("CreatePipe", Name="p", Source=await world.queue("in"), Target=target,
                       RoleArn=role)  # fmt: skip
    pipes = runner(world, functions)
    await pipes.run_pass()
    await world.send("in", json.dumps({"crash": True}))
    await world.send("in", json.dumps({"ok": 1}))
    await pipes.run_pass()
    assert await in_flight(world) == "2"  # the function failed: both left, in flight
    queue = await world.queues.get_queue(world.tenant_id, world.tenant_id, "in")
    await world.queues.purge_queue(queue)
    await world.send("in", json.dumps({"bad": True}))
    await world.send("in", json.dumps({"ok": 2}))
    await world.send("in", json.dumps({"ok": 3}))
    await pipes.run_pass()
    assert await in_flight(world) == "1"  # only the one reported failed is left
    assert (await world.client("DescribePipe", Name="p"))["StateReason"] == ""


async def test_the_role_or_the_functions_policy_must_allow(
    world: World, functions: Functions
) -> None:
    target = await functions.create(world.tenant_id, "guarded", SOURCE)
    role = await world.role(policy=allow(*READ))
    await world.client("CreatePipe", Name="p", Source=await world.queue("in"), Target=target,
                       RoleArn=role)  # fmt: skip
    pipes = runner(world, functions)
    await pipes.run_pass()
    await world.send("in", json.dumps({"n": 1}))
    await pipes.run_pass()
    reason = (await world.client("DescribePipe", Name="p"))["StateReason"]
    assert reason.startswith("NO_PERMISSIONS") and "lambda:InvokeFunction" in reason
    assert batches(functions) == []
    await functions.permit(world.tenant_id, "guarded", StatementId="pipe", Principal=role,
                           Action="lambda:InvokeFunction")  # fmt: skip
    queue = await world.queues.get_queue(world.tenant_id, world.tenant_id, "in")
    await world.queues.purge_queue(queue)
    await world.send("in", json.dumps({"n": 2}))
    await pipes.run_pass()
    assert [[e["body"] for e in b] for b in batches(functions)] == [['{"n": 2}']]
    assert (await world.client("DescribePipe", Name="p"))["StateReason"] == ""


async def test_fire_and_forget_queues_the_invocation(world: World, functions: Functions) -> None:
    target = await functions.create(world.tenant_id, "later", SOURCE)
    role = await world.role(policy=allow(*READ, "lambda:InvokeFunction"))
    await world.client("CreatePipe", Name="p", Source=await world.queue("in"), Target=target,
                       RoleArn=role, TargetParameters={"LambdaFunctionParameters": {
                           "InvocationType": "FIRE_AND_FORGET"}})  # fmt: skip
    described = await world.client("DescribePipe", Name="p")
    assert described["TargetParameters"]["LambdaFunctionParameters"] == {
        "InvocationType": "FIRE_AND_FORGET"
    }
    pipes = runner(world, functions)
    await pipes.run_pass()
    await world.send("in", json.dumps({"crash": True}))  # its failure is Lambda's to retry
    await pipes.run_pass()
    assert await in_flight(world) == "0"
    assert batches(functions) == []
    assert len(await functions.queue.claim("test", 2**62, 1000, 10)) == 1
    await world.fails("UpdatePipe", "ValidationException", Name="p", RoleArn=role,
                      TargetParameters={"LambdaFunctionParameters": {
                          "InvocationType": "SOMETIMES"}})  # fmt: skip


async def test_a_function_enriches_the_batch(world: World, functions: Functions) -> None:
    enrichment = await functions.create(world.tenant_id, "enrich", ENRICH)
    role = await world.role(policy=allow(*READ, "sqs:SendMessage", "lambda:InvokeFunction"))
    await world.client("CreatePipe", Name="p", Source=await world.queue("in"),
                       Target=await world.queue("out"), RoleArn=role, Enrichment=enrichment,
                       EnrichmentParameters={"InputTemplate": '{"body": <$.body>}'})  # fmt: skip
    http = {"HttpParameters": {"HeaderParameters": {"a": "b"}}}
    refused = await world.fails("UpdatePipe", "ValidationException", Name="p", RoleArn=role,
                                Enrichment=enrichment, EnrichmentParameters=http)  # fmt: skip
    assert "HttpParameters" in refused.message
    pipes = runner(world, functions)
    await pipes.run_pass()
    await world.send("in", json.dumps({"id": 4}))
    await pipes.run_pass()
    assert [json.loads(b) for b in await world.bodies("out")] == [{"enriched": 40}]
    assert await in_flight(world) == "0"


async def test_a_streams_checkpoint_moves_past_the_records_before_a_failed_one(
    tmp_path: Path,
) -> None:
    async for world in kinesis_world(tmp_path / "k"):
        await world.client("CreateStream", StreamName="s", ShardCount=1)
        for n in (1, 2, 3):
            await world.client("PutRecord", StreamName="s", PartitionKey="k",
                               Data=json.dumps({"n": n}).encode())  # fmt: skip
        summary = await world.client("DescribeStreamSummary", StreamName="s")
        stream = summary["StreamDescriptionSummary"]["StreamARN"]
        rig = Rig(tmp_path / "k", world.identity, world.tenant_id, kinesis=world.kinesis)
        async for functions in functions_over(world.identity, world.audit, tmp_path / "fn"):
            target = await functions.create(world.tenant_id, "stream", STREAM)
            role = await rig.role(allow("kinesis:*", "lambda:InvokeFunction"))
            await rig.pipes.create(rig.tenant_id, "p", {
                "Source": stream, "Target": target, "RoleArn": role,
                "SourceParameters": {"KinesisStreamParameters": {
                    "StartingPosition": "TRIM_HORIZON", "MaximumRetryAttempts": 1}}})  # fmt: skip
            roles = PipeRoles(world.identity, REGION)
            lambdas = PipeFunctions(roles, functools.partial(lambda app: app, functions.app))
            pipes = PipesRunner(rig.pipes, rig.sources, rig.targets, RunnerPolicy(), "gw",
                                batches=lambdas)  # fmt: skip
            await pipes.run_pass()  # settled
            for _ in range(3):
                await pipes.run_pass()
            # 1 is done; 2 and 3 tried again once (MaximumRetryAttempts), then given up.
            assert batches(functions) == [[1, 2, 3], [2, 3]]
