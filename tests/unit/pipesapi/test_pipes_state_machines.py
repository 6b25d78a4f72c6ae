"""Decision 0316's state machines in pipes, through Step Functions' own app in process over
the pipes' identity service: a machine as the target starts one execution a batch, its input
the batch as one JSON array (FIRE_AND_FORGET: StartExecution, STANDARD or EXPRESS;
REQUEST_RESPONSE: StartSyncExecution, its failure leaving the messages, its output read as a
partial batch response); an EXPRESS machine as the enrichment gives the events the target
receives; a STANDARD machine refused as a REQUEST_RESPONSE target or as an enrichment; the
role must be allowed ``states:StartExecution`` / ``states:StartSyncExecution``, and the
execution is audited as the role's session."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from andromede.pipe_enrichments import PipeEnrichments
from andromede.pipe_roles import PipeRoles
from andromede.pipe_sources import PipeSources
from andromede.pipe_state_machines import PipeStateMachines
from andromede.pipe_targets import PipeTargets
from andromede.pipes.runner import PipesRunner, RunnerPolicy
from andromede.queues.model import TRACE_HEADER, MessageAttribute
from andromede.settings import Settings
from andromede.stepfunctions.execution_memory import MemoryExecutionStore
from andromede.stepfunctions.execution_service import ExecutionLimits, ExecutionsService
from andromede.stepfunctions.express import SyncExecutions
from andromede.stepfunctions.memory import MemoryStateMachineStore
from andromede.stepfunctions.service import StateMachineLimits, StateMachinesService
from andromede.stepfunctionsapi.app import StatesApp
from andromede.wiring.pipes import machine_types
from andromede.wiring.stepfunctions import trusting_roles
from support.pipesapp import REGION, World, allow

READ = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
MACHINE_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "states.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
FAIL = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Bad", "Cause": "no"}}}
# Each event of the batch made {"id": <its body's id>, "enriched": true}.
ENRICH = {
    "StartAt": "M",
    "States": {
        "M": {
            "Type": "Map",
            "ItemProcessor": {
                "StartAt": "E",
                "States": {
                    "E": {
                        "Type": "Pass",
                        "Parameters": {"id.$": "$.body.id", "enriched": True},
                        "End": True,
                    }
                },
            },
            "End": True,
        }
    },
}


@dataclass
class States:
    app: StatesApp
    machines: StateMachinesService
    executions: ExecutionsService

    async def machine(self, world: World, name: str, definition: Any, kind: str) -> str:
        made = await self.machines.create(
            world.tenant_id,
            {
                "name": name,
                "definition": json.dumps(definition),
                "roleArn": self.role_arn(world),
                "type": kind,
            },
        )
        return made.arn

    def role_arn(self, world: World) -> str:
        return f"arn:aws:iam::{world.tenant_id}:role/machine"

    async def inputs(self, world: World, machine: str) -> list[Any]:
        page, _ = await self.executions.page(world.tenant_id, machine, None, None, None)
        return [json.loads(e.input) for e in page]


@pytest.fixture
async def states(world: World, tmp_path: Path) -> AsyncIterator[States]:
    machines = StateMachinesService(
        MemoryStateMachineStore(),
        REGION,
        trusting_roles(world.identity),
        StateMachineLimits(max_state_machines=10),
    )
    executions = ExecutionsService(
        MemoryExecutionStore(), machines, ExecutionLimits(max_payload_size=4096)
    )
    app = StatesApp(
        machines,
        world.identity,
        world.audit,
        Settings(data_dir=tmp_path, region=REGION),
        executions=executions,
        sync=SyncExecutions(machines, None, 4096, max_seconds=2.0),
    )
    await world.identity.create_role(world.tenant_id, "machine", MACHINE_TRUST)
    world.pipes.machine_types = machine_types({StatesApp.name: app})
    yield States(app, machines, executions)


def runner(world: World, states: States) -> PipesRunner:
    roles = PipeRoles(world.identity, REGION)
    machines = PipeStateMachines(roles, lambda: states.app)
    return PipesRunner(
        world.pipes,
        PipeSources(roles, world.queues, lambda: None, REGION),
        PipeTargets(roles, world.queues, None, None, lambda: None, lambda: None, None, REGION),
        RunnerPolicy(),
        "gateway-s",
        enricher=PipeEnrichments(roles, None, None, machines),
        batches=machines,
    )


async def in_flight(world: World) -> str:
    queue = await world.queues.get_queue(world.tenant_id, world.tenant_id, "in")
    counts = await world.queues.queue_attributes(queue, ["ApproximateNumberOfMessagesNotVisible"])
    return counts["ApproximateNumberOfMessagesNotVisible"]


async def test_fire_and_forget_starts_one_execution_whose_input_is_the_batch(
    world: World, states: States
) -> None:
    machine = await states.machine(world, "standard", PASS, "STANDARD")
    role = await world.role(policy=allow(*READ, "states:StartExecution"))
    await world.client("CreatePipe", Name="p", Source=await world.queue("in"), Target=machine,
                       RoleArn=role, SourceParameters={"SqsQueueParameters": {"BatchSize": 5}},
                       TargetParameters={
                           "InputTemplate": '{"n": <$.body.n>, "id": "<$.messageId>"}',
                           "StepFunctionStateMachineParameters": {
                               "InvocationType": "FIRE_AND_FORGET"}})  # fmt: skip
    described = await world.client("DescribePipe", Name="p")
    assert described["TargetParameters"]["StepFunctionStateMachineParameters"] == {
        "InvocationType": "FIRE_AND_FORGET"
    }
    for n in (1, 2):
        await world.send("in", json.dumps({"n": n}))
    pipes = runner(world, states)
    await pipes.run_pass()  # settled
    await pipes.run_pass()
    (batch,) = await states.inputs(world, machine)
    assert isinstance(batch, list) and sorted(e["n"] for e in batch) == [1, 2]
    assert all(e["id"] for e in batch)
    assert await in_flight(world) == "0"  # deleted: started is done
    await world.audit.flush()
    listed = await world.audit_store.list_events(None, after_id=0, limit=1000)
    (started,) = [e for _, e in listed if e.action == "states:StartExecution"]
    assert started.principal.endswith(":assumed-role/pipe/p")  # the pipe's role's session


async def test_request_response_runs_an_express_machine_and_its_failure_keeps_the_batch(
    world: World, states: States
) -> None:
    failing = await states.machine(world, "failing", FAIL, "EXPRESS")
    role = await world.role(policy=allow(*READ, "states:StartSyncExecution"))
    await world.client("CreatePipe", Name="p", Source=await world.queue("in"), Target=failing,
                       RoleArn=role)  # fmt: skip
    pipes = runner(world, states)
    await pipes.run_pass()
    await world.send("in", json.dumps({"n": 1}))
    await pipes.run_pass()
    assert await in_flight(world) == "1"  # FAILED: the message left for another try
    assert (await world.client("DescribePipe", Name="p")).get("StateReason", "") == ""
    # A partial batch response naming no event of the batch fails it whole, as AWS reads it.
    odd = {"batchItemFailures": [{"itemIdentifier": "not-a-message"}]}
    answers = await states.machine(
        world, "answers", {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": odd,
                                                            "End": True}}}, "EXPRESS"
    )  # fmt: skip
    queue = await world.queues.get_queue(world.tenant_id, world.tenant_id, "in")
    await world.queues.purge_queue(queue)
    await world.client("UpdatePipe", Name="p", RoleArn=role, Target=answers)
    await pipes.run_pass()
    await world.send("in", json.dumps({"n": 2}))
    await pipes.run_pass()
    assert await in_flight(world) == "1"
    # The first event of the batch reported failed: only its message left.
    first = {"batchItemFailures": [{"itemIdentifier.$": "$[0].messageId"}]}
    partial = await states.machine(
        world, "partial", {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": first,
                                                            "End": True}}}, "EXPRESS"
    )  # fmt: skip
    await world.queues.purge_queue(queue)
    await world.client("UpdatePipe", Name="p", RoleArn=role, Target=partial,
                       SourceParameters={"SqsQueueParameters": {"BatchSize": 5}})  # fmt: skip
    await pipes.run_pass()
    for n in (4, 5):
        await world.send("in", json.dumps({"n": n}))
    await pipes.run_pass()
    assert await in_flight(world) == "1"
    counts = await world.queues.queue_attributes(queue, ["ApproximateNumberOfMessages"])
    assert counts["ApproximateNumberOfMessages"] == "0"  # the other one deleted: done
    fine = await states.machine(world, "fine", PASS, "EXPRESS")
    await world.queues.purge_queue(queue)
    await world.client("UpdatePipe", Name="p", RoleArn=role, Target=fine)
    await pipes.run_pass()
    await world.send("in", json.dumps({"n": 3}))
    await pipes.run_pass()
    assert await in_flight(world) == "0"


async def test_the_role_must_be_allowed_to_start_the_machine(world: World, states: States) -> None:
    machine = await states.machine(world, "m", PASS, "EXPRESS")
    role = await world.role(policy=allow(*READ, "states:StartExecution"))  # not the sync one
    await world.client("CreatePipe", Name="p", Source=await world.queue("in"), Target=machine,
                       RoleArn=role)  # fmt: skip
    pipes = runner(world, states)
    await pipes.run_pass()
    await world.send("in", json.dumps({"n": 1}))
    await pipes.run_pass()
    described = await world.client("DescribePipe", Name="p")
    assert described["StateReason"].startswith("NO_PERMISSIONS")
    assert "states:StartSyncExecution" in described["StateReason"]
    assert await in_flight(world) == "1"


async def test_an_express_enrichment_transforms_the_events_for_the_target(
    world: World, states: States
) -> None:
    enrichment = await states.machine(world, "enrich", ENRICH, "EXPRESS")
    role = await world.role(policy=allow(*READ, "sqs:SendMessage", "states:StartSyncExecution"))
    await world.queue("out")
    await world.client("CreatePipe", Name="p", Source=await world.queue("in"),
                       Target=await world.queue("out"), RoleArn=role, Enrichment=enrichment,
                       EnrichmentParameters={"InputTemplate": '{"body": <$.body>}'},
                       SourceParameters={"SqsQueueParameters": {"BatchSize": 5}})  # fmt: skip
    for n in (4, 5):
        await world.send("in", json.dumps({"id": n}))
    pipes = runner(world, states)
    await pipes.run_pass()
    await pipes.run_pass()
    got = sorted((json.loads(b) for b in await world.bodies("out")), key=lambda e: e["id"])
    assert got == [{"id": 4, "enriched": True}, {"id": 5, "enriched": True}]


async def test_standard_machines_are_refused_where_only_express_ones_run(
    world: World, states: States
) -> None:
    standard = await states.machine(world, "std", PASS, "STANDARD")
    express = await states.machine(world, "exp", PASS, "EXPRESS")
    role = await world.role()
    source = await world.queue("in")
    base = {"Name": "p", "Source": source, "RoleArn": role}
    refused = await world.fails("CreatePipe", "ValidationException", **base, Target=standard)
    assert "REQUEST_RESPONSE is not supported for STANDARD" in refused.message
    refused = await world.fails(
        "CreatePipe",
        "ValidationException",
        **base,
        Target=standard,
        TargetParameters={"StepFunctionStateMachineParameters": {"InvocationType": "SYNC"}},
    )
    assert "InvocationType" in refused.message
    refused = await world.fails(
        "CreatePipe", "ValidationException", **base, Target=source, Enrichment=standard
    )
    assert "only EXPRESS" in refused.message
    assert refused.body["fieldList"][0]["name"] == "enrichment"
    await world.fails(
        "CreatePipe",
        "ValidationException",
        **base,
        Target=f"arn:aws:states:{REGION}:{world.tenant_id}:execution:m:x",
    )
    await world.client("CreatePipe", **base, Target=express, Enrichment=express)
    await world.runner.run_pass()
    refused = await world.fails(
        "UpdatePipe", "ValidationException", Name="p", RoleArn=role, Target=standard
    )
    assert "STANDARD" in refused.message
    await world.client(
        "UpdatePipe",
        Name="p",
        RoleArn=role,
        Target=standard,
        TargetParameters={
            "StepFunctionStateMachineParameters": {"InvocationType": "FIRE_AND_FORGET"}
        },
    )


class Recording:
    """Step Functions' app, each request's JSON body kept as it passes (the calls a pipe
    makes in process)."""

    def __init__(self, app: StatesApp) -> None:
        self.app = app
        self.bodies: list[dict[str, Any]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def kept() -> Any:
            message = await receive()
            if message["type"] == "http.request" and message.get("body"):
                self.bodies.append(json.loads(message["body"]))
            return message

        await self.app(scope, kept, send)


async def test_an_express_enrichment_is_given_the_batchs_trace(
    world: World, states: States
) -> None:
    """Decision 0364: the enrichment's execution has its batch's trace header (an SQS source
    message's ``AWSTraceHeader``) as its ``traceHeader``, and its events go on to the target
    with it; an untraced batch gives none."""
    trace = "Root=1-6756f2a0-0123456789abcdef01234567;Sampled=1"
    enrichment = await states.machine(world, "enrich", ENRICH, "EXPRESS")
    role = await world.role(policy=allow(*READ, "sqs:SendMessage", "states:StartSyncExecution"))
    await world.client("CreatePipe", Name="p", Source=await world.queue("in"),
                       Target=await world.queue("out"), RoleArn=role, Enrichment=enrichment,
                       EnrichmentParameters={"InputTemplate": '{"body": <$.body>}'})  # fmt: skip
    recording = Recording(states.app)
    roles = PipeRoles(world.identity, REGION)
    machines = PipeStateMachines(roles, lambda: recording)
    pipes = PipesRunner(
        world.pipes,
        PipeSources(roles, world.queues, lambda: None, REGION),
        PipeTargets(roles, world.queues, None, None, lambda: None, lambda: None, None, REGION),
        RunnerPolicy(),
        "gateway-s",
        enricher=PipeEnrichments(roles, None, None, machines),
        batches=machines,
    )
    await pipes.run_pass()
    source = await world.queues.get_queue(world.tenant_id, world.tenant_id, "in")
    out = await world.queues.get_queue(world.tenant_id, world.tenant_id, "out")
    traced = {TRACE_HEADER: MessageAttribute("String", string_value=trace)}
    await world.queues.send_message(source, '{"id": 1}', {}, traced, None, world.tenant_id)
    await pipes.run_pass()
    await world.send("in", json.dumps({"id": 2}))
    await pipes.run_pass()
    assert [body.get("traceHeader") for body in recording.bodies] == [trace, None]
    got = await world.queues.receive(out, max_messages=10, visibility=30, wait=0)
    kept = {}
    for message in got:
        given = message.payload.system.get(TRACE_HEADER)
        kept[json.loads(message.payload.body)["id"]] = given and given.string_value
    assert kept == {1: trace, 2: None}
