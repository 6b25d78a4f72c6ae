"""Decision 0258's execution logs: at each level the records AWS's pipes write (ERROR: the
failures; INFO: the executions; TRACE: every stage; the payload with IncludeExecutionData
ALL), written into the pipe's CloudWatch Logs group as its role, one stream a pipe."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from andromede.logs.errors import ResourceNotFound
from andromede.logs.service import LogsService
from andromede.pipes.execution_logs import execution_records, log_group_name
from andromede.pipes.model import Pipe
from andromede.role_log_groups import RoleLogGroups
from andromede.wiring.pipes import PipeLogGroups
from support.logsapp import logs_world
from support.pipesapp import World, allow

ARN = "arn:aws:logs:eu-fr-1:000000000001:log-group:/pipes/orders:*"


def pipe(level: str, data: list[str] | None = None) -> Pipe:
    config: dict[str, Any] = {"Level": level, "CloudwatchLogsLogDestination": {"LogGroupArn": ARN}}
    if data is not None:
        config["IncludeExecutionData"] = data
    return Pipe(
        "000000000001",
        "orders",
        "eu-fr-1",
        "arn:aws:sqs:eu-fr-1:000000000001:in",
        {},
        "arn:aws:sqs:eu-fr-1:000000000001:out",
        {},
        "arn:aws:iam::000000000001:role/r",
        log_configuration=config,
    )


def kinds(records: list[dict[str, Any]]) -> list[str]:
    return [r["messageType"] for r in records]


def test_each_level_says_what_aws_says() -> None:
    assert log_group_name(pipe("ERROR")) == "/pipes/orders"
    assert execution_records(pipe("OFF"), "e", 1, "boom", []) == []
    assert execution_records(pipe("ERROR"), "e", 1, None, ["{}"]) == []
    failed = execution_records(pipe("ERROR"), "e", 1, "boom", [])
    assert kinds(failed) == ["TargetInvocationFailed", "ExecutionFailed"]
    assert failed[0]["error"]["message"] == "boom" and failed[0]["logLevel"] == "ERROR"
    assert kinds(execution_records(pipe("INFO"), "e", 1, None, [])) == [
        "ExecutionStarted",
        "ExecutionSucceeded",
    ]
    traced = execution_records(pipe("TRACE", ["ALL"]), "e", 5, None, ['{"a":1}'])
    assert kinds(traced) == [
        "ExecutionStarted",
        "TargetStageEntered",
        "TargetInvocationSucceeded",
        "TargetStageSucceeded",
        "ExecutionSucceeded",
    ]
    assert traced[0]["payload"] == '[{"a":1}]' and traced[0]["executionId"] == "e"
    assert {r["resourceArn"] for r in traced} == {"arn:aws:pipes:eu-fr-1:000000000001:pipe/orders"}
    assert "payload" not in execution_records(pipe("INFO"), "e", 1, None, ["{}"])[0]


async def logged(logs: LogsService, tenant_id: str, group: str) -> list[dict[str, Any]]:
    try:
        events, _, _ = await logs.get_events(
            tenant_id,
            group,
            "pipes/p",
            start=None,
            end=None,
            start_from_head=True,
            limit=None,
            token=None,
        )
    except ResourceNotFound:
        return []
    return [json.loads(e.message) for e in events]


async def test_the_runner_logs_into_the_group_as_the_role(world: World, tmp_path: Path) -> None:
    for logs in logs_world(tmp_path / "logs"):
        logs.clock.now = int(time.time() * 1000)
        world.runner._logs = PipeLogGroups(  # the harness runner, with logs
            RoleLogGroups(
                world.identity, logs.service, service="pipes.amazonaws.com", session_name="pipes"
            )
        )
        source = await world.queue("in")
        target = await world.queue("out")
        role = await world.role(
            policy=allow(
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:SendMessage",
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
            )
        )
        group = f"arn:aws:logs:eu-fr-1:{world.tenant_id}:log-group:/pipes/p"
        await world.client(
            "CreatePipe",
            Name="p",
            Source=source,
            Target=target,
            RoleArn=role,
            LogConfiguration={
                "Level": "INFO",
                "CloudwatchLogsLogDestination": {"LogGroupArn": group},
            },
        )
        await world.runner.run_pass()
        await world.send("in", "hello")
        assert await world.runner.run_pass() == 1
        records = await logged(logs.service, world.tenant_id, "/pipes/p")
        assert kinds(records) == ["ExecutionStarted", "ExecutionSucceeded"]
        described = await world.client("DescribePipe", Name="p")
        assert described["LogConfiguration"]["CloudwatchLogsLogDestination"] == {
            "LogGroupArn": group
        }
