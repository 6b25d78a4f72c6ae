"""Decision 0258's targets beyond a standard queue: an EventBridge bus (the payload as the
event's detail, AWS's default Source and DetailType, the role's events:PutEvents), reaching a
rule of the bus; a FIFO queue's group read from the event by a JSON path, the event's id as
its deduplication id; the role refused on the bus leaving the source's message in place."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from andromede.events.dispatcher import Deliveries
from andromede.events.memory import MemoryEventsStore
from andromede.events.service import EventsService
from andromede.pipe_roles import PipeRoles
from andromede.pipe_sources import PipeSources
from andromede.pipe_targets import PipeTargets
from andromede.pipes.runner import PipesRunner, RunnerPolicy
from support.pipesapp import REGION, World, allow

READ = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")


class Sink:
    """EventBridge's target sink, keeping what its rules' targets took."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send(
        self, tenant_id: str, arn: str, message: str, *, rule_arn: str, group_id: str | None,
        dedup_id: str, attributes: dict[str, str] | None = None, trace: str | None = None,
    ) -> None:  # fmt: skip
        self.sent.append((arn, message))


def runner_with_events(world: World, events: EventsService) -> PipesRunner:
    roles = PipeRoles(world.identity, REGION)
    return PipesRunner(
        world.pipes,
        PipeSources(roles, world.queues, lambda: None, REGION),
        PipeTargets(roles, world.queues, None, events, lambda: None, lambda: None, None, REGION),
        RunnerPolicy(),
        "gateway-e",
    )


async def test_an_event_bus_target_reaches_the_bus_rules(world: World, tmp_path: Path) -> None:
    sink = Sink()
    deliveries = Deliveries(sink, max_attempts=2, retry_base=0.001)
    events = EventsService(MemoryEventsStore(), deliveries, region=REGION)
    queue = f"arn:aws:sqs:{REGION}:{world.tenant_id}:seen"
    await events.put_rule(
        world.tenant_id, "r", "default", event_pattern='{"source": ["Pipe orders"]}'
    )
    await events.put_targets(world.tenant_id, "r", "default", [{"Id": "a", "Arn": queue}])
    source = await world.queue("in")
    bus = f"arn:aws:events:{REGION}:{world.tenant_id}:event-bus/default"
    role = await world.role(policy=allow(*READ))
    await world.client(
        "CreatePipe",
        Name="orders",
        Source=source,
        Target=bus,
        RoleArn=role,
        TargetParameters={"InputTemplate": '{"id": <$.body.id>}'},
    )
    runner = runner_with_events(world, events)
    await runner.run_pass()
    await world.send("in", json.dumps({"id": 4}))
    assert await runner.run_pass() == 0  # the role may not events:PutEvents
    reason = (await world.client("DescribePipe", Name="orders"))["StateReason"]
    assert reason.startswith("NO_PERMISSIONS") and "events:PutEvents" in reason
    await world.identity.put_role_policy(world.tenant_id, "pipe", "put", allow("events:PutEvents"))
    source_queue = await world.queues.get_queue(world.tenant_id, world.tenant_id, "in")
    await world.queues.purge_queue(source_queue)
    await world.send("in", json.dumps({"id": 5}))
    assert await runner.run_pass() == 1
    await deliveries.drain()
    ((arn, message),) = sink.sent
    event: dict[str, Any] = json.loads(message)
    assert arn == queue
    assert (event["source"], event["detail-type"]) == ("Pipe orders", "Event from aws:sqs")
    assert event["detail"] == {"id": 5}


async def test_a_fifo_target_takes_its_group_from_the_event(world: World) -> None:
    source = await world.queue("in")
    fifo = (await world.queues.create_queue(world.tenant_id, "out.fifo",
                                            {"FifoQueue": "true"}, {})).arn  # fmt: skip
    role = await world.role()
    await world.client(
        "CreatePipe",
        Name="p",
        Source=source,
        Target=fifo,
        RoleArn=role,
        TargetParameters={"SqsQueueParameters": {"MessageGroupId": "$.body.g"}},
    )
    await world.runner.run_pass()
    await world.send("in", json.dumps({"g": "blue"}))
    assert await world.runner.run_pass() == 1
    queue = await world.queues.get_queue(world.tenant_id, world.tenant_id, "out.fifo")
    (message,) = await world.queues.receive(queue, max_messages=10, visibility=30, wait=0)
    assert message.group_id == "blue"
    assert message.dedup_id == json.loads(message.payload.body)["messageId"]


def fenced_put_events(source: str) -> str:
    """A role policy letting the pipe put events of one source only (PutEvents' keys)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "events:PutEvents",
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {
                            "events:source": source,
                            "events:detail-type": "Event from aws:sqs",
                        },
                        "Bool": {"events:eventBusInvocation": "false"},
                    },
                }
            ],
        }
    )


async def test_the_bus_target_is_judged_with_the_entrys_source_and_detail_type(
    world: World,
) -> None:
    """Decision 0318's keys reach a pipe's PutEvents: a role fenced to one source sends the
    pipe's events when that source is the pipe's, and is refused otherwise."""
    sink = Sink()
    deliveries = Deliveries(sink, max_attempts=2, retry_base=0.001)
    events = EventsService(MemoryEventsStore(), deliveries, region=REGION)
    source = await world.queue("in")
    bus = f"arn:aws:events:{REGION}:{world.tenant_id}:event-bus/default"
    role = await world.role(policy=allow(*READ))
    await world.identity.put_role_policy(
        world.tenant_id, "pipe", "put", fenced_put_events("Pipe elsewhere")
    )
    await world.client("CreatePipe", Name="orders", Source=source, Target=bus, RoleArn=role)
    runner = runner_with_events(world, events)
    await runner.run_pass()
    await world.send("in", json.dumps({"id": 1}))
    assert await runner.run_pass() == 0
    reason = (await world.client("DescribePipe", Name="orders"))["StateReason"]
    assert reason.startswith("NO_PERMISSIONS") and "events:PutEvents" in reason
    await world.identity.put_role_policy(
        world.tenant_id, "pipe", "put", fenced_put_events("Pipe orders")
    )
    source_queue = await world.queues.get_queue(world.tenant_id, world.tenant_id, "in")
    await world.queues.purge_queue(source_queue)
    await world.send("in", json.dumps({"id": 2}))
    assert await runner.run_pass() == 1
