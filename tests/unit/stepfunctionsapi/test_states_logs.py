"""Decision 0271's execution logs: each level keeps what AWS's keeps (ALL every event, ERROR
the failures, FATAL the execution's end in failure), the data only with
includeExecutionData; written into the machine's CloudWatch Logs group as its role, one stream
an execution."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from andromede.logs.errors import ResourceNotFound
from andromede.logs.service import LogsService
from andromede.role_log_groups import RoleLogGroups
from andromede.stepfunctions.execution_logs import log_group_name, log_records
from andromede.stepfunctions.executions import Execution, HistoryEvent
from andromede.wiring.stepfunctions import MachineLogGroups
from support.logsapp import logs_world
from support.statesapp import World

GROUP = "arn:aws:logs:eu-fr-1:000000000001:log-group:/sfn/m:*"
EXECUTION = Execution("000000000001", "eu-fr-1", "m", "e", "{}", "arn:aws:iam::1:role/r", "{}", 1)
EVENTS = [
    HistoryEvent(1, 0, 10, "ExecutionStarted", "executionStartedEventDetails", {"input": "{}"}),
    HistoryEvent(2, 1, 11, "TaskFailed", "taskFailedEventDetails", {"error": "E"}),
    HistoryEvent(3, 2, 12, "ExecutionFailed", "executionFailedEventDetails", {"error": "E"}),
]


def config(level: str, data: bool = False) -> dict[str, Any]:
    return {"level": level, "includeExecutionData": data,
            "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": GROUP}}]}  # fmt: skip


def types(level: str, data: bool = False) -> list[str]:
    return [json.loads(m)["type"] for _, m in log_records(EXECUTION, config(level, data), EVENTS)]


def test_each_level_keeps_what_aws_keeps() -> None:
    assert log_group_name(config("ALL")) == "/sfn/m"
    assert types("ALL") == ["ExecutionStarted", "TaskFailed", "ExecutionFailed"]
    assert types("ERROR") == ["TaskFailed", "ExecutionFailed"]
    assert types("FATAL") == ["ExecutionFailed"]
    assert types("OFF") == []
    (_, first), *_ = log_records(EXECUTION, config("ALL"), EVENTS)
    record = json.loads(first)
    assert record["details"] == {} and record["execution_arn"].endswith(":execution:m:e")
    (_, with_data), *_ = log_records(EXECUTION, config("ALL", True), EVENTS)
    assert json.loads(with_data)["details"] == {"input": "{}"}


async def test_the_runner_logs_into_the_group_as_the_role(world: World, tmp_path: Path) -> None:
    for logs in logs_world(tmp_path / "logs"):
        logs.clock.now = int(time.time() * 1000)
        world.runner._logs = MachineLogGroups(  # the harness runner, with logs
            RoleLogGroups(
                world.identity, logs.service, service="states.amazonaws.com", session_name="states"
            )
        )
        policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "*"}]})  # fmt: skip
        role = await world.role(policy=policy)
        group = f"arn:aws:logs:eu-fr-1:{world.tenant_id}:log-group:/sfn/m:*"
        definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
        made = await world.client(
            "CreateStateMachine", name="m", definition=json.dumps(definition), roleArn=role,
            loggingConfiguration={"level": "ALL", "includeExecutionData": True,
                                  "destinations": [{"cloudWatchLogsLogGroup":
                                                    {"logGroupArn": group}}]},
        )  # fmt: skip
        run = await world.client("StartExecution", stateMachineArn=made["stateMachineArn"],
                                 name="e", input='{"a": 1}')  # fmt: skip
        await world.run()
        assert (await world.client("DescribeExecution", executionArn=run["executionArn"]))[
            "status"
        ] == "SUCCEEDED"
        records = await logged(logs.service, world.tenant_id)
        assert [r["type"] for r in records] == [
            "ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded",
        ]  # fmt: skip
        assert json.loads(records[1]["details"]["input"]) == {"a": 1}


async def logged(logs: LogsService, tenant_id: str) -> list[dict[str, Any]]:
    try:
        events, _, _ = await logs.get_events(
            tenant_id, "/sfn/m", "states/m/e", start=None, end=None, start_from_head=True,
            limit=None, token=None,
        )  # fmt: skip
    except ResourceNotFound:
        return []
    return [json.loads(e.message) for e in events]
