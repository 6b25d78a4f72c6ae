"""Decision 0277: a CloudWatch Logs log group as a pipe's target, in process: CreatePipe's
checks of ``CloudWatchLogsParameters`` (botocore's own model), then the pipe's events written
as its role — refused (``NO_PERMISSIONS``, nothing written) until the role may
``logs:CreateLogStream`` and ``logs:PutLogEvents`` — into the stream ``LogStreamName`` names
(the pipe's name without it), timestamped from the payload's ``Timestamp`` path (the time of
processing without it), through a real Logs service, its ingestion metered."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from andromede.log_group_targets import LogTargetWriter
from andromede.pipe_roles import PipeRoles
from andromede.pipe_sources import PipeSources
from andromede.pipe_targets import PipeTargets
from andromede.pipes.runner import PipesRunner, RunnerPolicy
from support.logsapp import LogsWorld, logs_world
from support.pipesapp import REGION, World, allow

READ = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
GROUP = "/pipes/orders"


@pytest.fixture
def logs(tmp_path: Path) -> Iterator[LogsWorld]:
    for made in logs_world(tmp_path / "logs"):
        made.clock.now = int(time.time() * 1000)
        yield made


def runner_into(world: World, logs: LogsWorld, metered: list[tuple[str, int, str]]) -> PipesRunner:
    roles = PipeRoles(world.identity, REGION)

    def ingested(tenant_id: str, size: int, meter: str) -> None:
        metered.append((tenant_id, size, meter))

    writer = LogTargetWriter(lambda: logs.service, ingested)
    return PipesRunner(
        world.pipes,
        PipeSources(roles, world.queues, lambda: None, REGION),
        PipeTargets(
            roles, world.queues, None, None, lambda: None, lambda: None, None, REGION, writer
        ),
        RunnerPolicy(),
        "gateway-l",
    )


async def test_create_pipe_checks_a_log_group_target(world: World) -> None:
    source = await world.queue("in")
    role = await world.role(policy=allow(*READ))
    group = f"arn:aws:logs:{REGION}:{world.tenant_id}:log-group:{GROUP}"
    for target, params in (
        (group, {"CloudWatchLogsParameters": {"Timestamp": "at"}}),
        (group, {"CloudWatchLogsParameters": {"LogStreamName": "a:b"}}),
        (group, {"KinesisStreamParameters": {"PartitionKey": "k"}}),
        (f"arn:aws:logs:{REGION}:{world.tenant_id}:destination:d", {}),
        (group.replace(world.tenant_id, "999999999999"), {}),
    ):
        await world.fails("CreatePipe", "ValidationException", Name="p", Source=source,
                          Target=target, RoleArn=role, TargetParameters=params)  # fmt: skip
    await world.client("CreatePipe", Name="p", Source=source, Target=group + ":*", RoleArn=role,
                       TargetParameters={"CloudWatchLogsParameters": {
                           "LogStreamName": "orders", "Timestamp": "$.at"}})  # fmt: skip
    described = await world.client("DescribePipe", Name="p")
    assert described["TargetParameters"] == {
        "CloudWatchLogsParameters": {"LogStreamName": "orders", "Timestamp": "$.at"}
    }


async def test_events_into_a_log_group_as_the_pipes_role(world: World, logs: LogsWorld) -> None:
    await logs.service.create_group(world.tenant_id, GROUP, None, {})
    source = await world.queue("in")
    role = await world.role(policy=allow(*READ))
    at = logs.clock.now - 60_000
    await world.client(
        "CreatePipe",
        Name="orders",
        Source=source,
        Target=f"arn:aws:logs:{REGION}:{world.tenant_id}:log-group:{GROUP}",
        RoleArn=role,
        TargetParameters={
            "InputTemplate": '{"at": <$.body.at>, "id": <$.body.id>}',
            "CloudWatchLogsParameters": {"LogStreamName": "orders", "Timestamp": "$.at"},
        },
    )
    metered: list[tuple[str, int, str]] = []
    runner = runner_into(world, logs, metered)
    await runner.run_pass()
    await world.send("in", json.dumps({"id": 7, "at": at}))
    assert await runner.run_pass() == 0  # the role may not write into the group
    reason = (await world.client("DescribePipe", Name="orders"))["StateReason"]
    assert reason.startswith("NO_PERMISSIONS") and "logs:CreateLogStream" in reason
    streams, _ = await logs.service.describe_streams(
        world.tenant_id, GROUP, "", "LogStreamName", False, None, None
    )
    assert streams == []
    resource = f"arn:aws:logs:{REGION}:{world.tenant_id}:log-group:{GROUP}:*"
    await world.identity.put_role_policy(
        world.tenant_id, "pipe", "logs",
        allow("logs:CreateLogStream", "logs:PutLogEvents", resource=resource),
    )  # fmt: skip
    source_queue = await world.queues.get_queue(world.tenant_id, world.tenant_id, "in")
    await world.queues.purge_queue(source_queue)  # the refused one waits out its visibility
    await world.send("in", json.dumps({"id": 7, "at": at}))
    assert await runner.run_pass() == 1
    events, _, _ = await logs.service.get_events(
        world.tenant_id, GROUP, "orders", start=None, end=None, start_from_head=True,
        limit=None, token=None,
    )  # fmt: skip
    (logged,) = events
    assert (logged.timestamp, json.loads(logged.message)) == (at, {"at": at, "id": 7})
    ((tenant, size, meter),) = metered
    assert (tenant, size, meter) == (world.tenant_id, len(logged.message) + 26, "logs.ingested")


async def test_without_a_stream_name_the_pipes_name_is_the_stream(
    world: World, logs: LogsWorld
) -> None:
    await logs.service.create_group(world.tenant_id, GROUP, None, {})
    source = await world.queue("in")
    resource = f"arn:aws:logs:{REGION}:{world.tenant_id}:log-group:{GROUP}:*"
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": list(READ), "Resource": "*"},
        {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": resource},
    ]})  # fmt: skip
    role = await world.role(policy=policy)
    await world.client("CreatePipe", Name="plain", Source=source,
                       Target=resource.removesuffix(":*"), RoleArn=role)  # fmt: skip
    runner = runner_into(world, logs, [])
    await runner.run_pass()
    before = int(time.time() * 1000)
    await world.send("in", "hello")
    assert await runner.run_pass() == 1
    events, _, _ = await logs.service.get_events(
        world.tenant_id, GROUP, "plain", start=None, end=None, start_from_head=True,
        limit=None, token=None,
    )  # fmt: skip
    (logged,) = events
    assert json.loads(logged.message)["body"] == "hello"  # the SQS record, as AWS sends it
    assert before <= logged.timestamp <= int(time.time() * 1000)
