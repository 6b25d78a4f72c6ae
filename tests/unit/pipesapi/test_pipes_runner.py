"""Decision 0258's runner: an SQS source read as the pipe's role, its filters (EventBridge's
patterns on the body read as JSON) deciding what reaches the SQS target, the template shaping
it, the messages deleted once done with; a role that is not trusted or not allowed leaving the
pipe RUNNING with its reason and the messages in place; a stopped pipe not read; one reader a
pipe across gateways (the lease); the requests billed in 64 KiB chunks."""

from __future__ import annotations

import json

from andromede.pipes.runner import PipesRunner
from andromede.wiring.pipes import billed_requests
from support.pipesapp import REGION, World, allow

FILTER = {"Filters": [{"Pattern": json.dumps({"body": {"kind": ["order"]}})}]}


async def pipe(world: World, role_policy: str | None = None, **params: object) -> None:
    source = await world.queue("in")
    target = await world.queue("out")
    role = await world.role(policy=role_policy) if role_policy else await world.role()
    await world.client("CreatePipe", Name="p", Source=source, Target=target, RoleArn=role, **params)
    await world.runner.run_pass()  # settles it RUNNING


async def test_filtered_events_reach_the_target_as_aws_shapes_them(world: World) -> None:
    await pipe(world, SourceParameters={"FilterCriteria": FILTER})
    await world.send("in", json.dumps({"kind": "order", "id": 1}))
    await world.send("in", json.dumps({"kind": "refund", "id": 2}))
    await world.send("in", "not json")
    assert await world.runner.run_pass() == 1
    (body,) = await world.bodies("out")
    event = json.loads(body)
    assert json.loads(event["body"]) == {"kind": "order", "id": 1}  # the body stays text
    assert event["eventSource"] == "aws:sqs"
    assert event["eventSourceARN"].endswith(":in")
    assert event["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"messageId", "receiptHandle", "md5OfBody", "awsRegion"} <= set(event)
    # What the filter dropped was deleted too, as AWS deletes it.
    assert await world.bodies("in") == []
    assert await world.usage("pipes.requests") == 1
    assert world.sink.total("EventCount") == 1 and world.sink.total("ExecutionSucceeded") == 1
    assert {p[1] for p in world.sink.points} == {"AWS/EventBridge/Pipes"}
    assert {p[3] for p in world.sink.points} == {(("PipeName", "p"),)}


async def test_the_input_template_shapes_the_payload(world: World) -> None:
    await pipe(
        world,
        TargetParameters={
            "InputTemplate": '{"order": <$.body.id>, "pipe": "<aws.pipes.pipe-name>", '
            '"text": "<$.body.note>"}'
        },
    )
    await world.send("in", json.dumps({"id": 7, "note": 'say "hi"'}))
    await world.runner.run_pass()
    (body,) = await world.bodies("out")
    assert json.loads(body) == {"order": 7, "pipe": "p", "text": 'say "hi"'}


async def test_a_role_not_allowed_leaves_the_messages_and_says_why(world: World) -> None:
    await pipe(
        world,
        role_policy=allow("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"),
    )
    await world.send("in", "hello")
    assert await world.runner.run_pass() == 0
    described = await world.client("DescribePipe", Name="p")
    assert described["CurrentState"] == "RUNNING"
    assert described["StateReason"].startswith("NO_PERMISSIONS")
    assert world.sink.total("TargetStageFailed") == 1  # the target refused the role
    assert await world.bodies("out") == []
    await world.identity.put_role_policy(world.tenant_id, "pipe", "send", allow("sqs:SendMessage"))
    in_queue = await world.queues.get_queue(world.tenant_id, world.tenant_id, "in")
    # Not deleted: in flight, back after its visibility timeout as on AWS.
    counts = await world.queues.queue_attributes(
        in_queue, ["ApproximateNumberOfMessagesNotVisible"]
    )
    assert counts == {"ApproximateNumberOfMessagesNotVisible": "1"}
    await world.queues.purge_queue(in_queue)
    await world.send("in", "again")
    assert await world.runner.run_pass() == 1
    assert [json.loads(b)["body"] for b in await world.bodies("out")] == ["again"]
    assert (await world.client("DescribePipe", Name="p"))["StateReason"] == ""


async def test_an_untrusting_role_cannot_run_the_pipe(world: World) -> None:
    source = await world.queue("in")
    role = await world.identity.create_role(
        world.tenant_id,
        "other",
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "events.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    await world.client("CreatePipe", Name="p", Source=source, Target=source, RoleArn=role.arn)
    await world.runner.run_pass()
    await world.send("in", "x")
    await world.runner.run_pass()
    reason = (await world.client("DescribePipe", Name="p"))["StateReason"]
    assert reason.startswith("FAILED_TO_ASSUME_ROLE")


async def test_a_stopped_pipe_is_not_read(world: World) -> None:
    await pipe(world, DesiredState="STOPPED")
    await world.send("in", "held")
    assert await world.runner.run_pass() == 0
    assert await world.bodies("out") == []
    await world.client("StartPipe", Name="p")
    assert await world.runner.run_pass() == 1  # settled RUNNING, then read in the same pass


async def test_one_gateway_reads_a_pipe_at_a_time(world: World) -> None:
    await pipe(world)
    other = PipesRunner(
        world.pipes,
        world.runner._sources,
        world.runner._targets,
        world.runner.policy,
        "gateway-b",
    )
    await world.send("in", "one")
    assert await other.run_pass() == 0  # gateway-a holds its lease
    assert await world.runner.run_pass() == 1


def test_requests_are_counted_in_64_kib_chunks() -> None:
    assert billed_requests([1, 64 * 1024, 64 * 1024 + 1, 0]) == 1 + 1 + 2 + 1


async def test_a_trust_fenced_to_the_pipe_runs_it_and_no_other(world: World) -> None:
    # Decision 0321: Pipes assumes the role with the pipe as aws:SourceArn, its account as
    # aws:SourceAccount — AWS's confused-deputy trust policy for a pipe's execution role.
    source, target = await world.queue("in"), await world.queue("out")
    fenced = {
        "Effect": "Allow",
        "Principal": {"Service": "pipes.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {
            "StringEquals": {
                "aws:SourceAccount": world.tenant_id,
                "aws:SourceArn": f"arn:aws:pipes:{REGION}:{world.tenant_id}:pipe/p",
            }
        },
    }
    role = await world.role(trust=json.dumps({"Version": "2012-10-17", "Statement": [fenced]}))
    await world.client("CreatePipe", Name="p", Source=source, Target=target, RoleArn=role)
    await world.client("CreatePipe", Name="q", Source=target, Target=source, RoleArn=role)
    await world.runner.run_pass()
    await world.send("in", "x")
    await world.runner.run_pass()
    assert [json.loads(b)["body"] for b in await world.bodies("out")] == ["x"]
    assert (await world.client("DescribePipe", Name="p"))["StateReason"] == ""
    reason = (await world.client("DescribePipe", Name="q"))["StateReason"]
    assert reason.startswith("FAILED_TO_ASSUME_ROLE")
