"""Step Functions' execution operations (decision 0271): StartExecution (authorised as
``states:StartExecution`` on the state machine), DescribeExecution, StopExecution,
GetExecutionHistory and DescribeStateMachineForExecution (on the execution's ARN),
ListExecutions (on the machine's; on the Map run's for its children, decision 0369, as
DescribeExecution and GetExecutionHistory of a child: ``map_child_actions``; the other
calls on a child's ARN, decision 0372: ``map_child_calls``), answering
in the API model's shape (dates as epoch seconds, the history events' details under their
members)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

from andromede.stepfunctions.errors import (
    ExecutionDoesNotExist,
    InvalidArn,
    InvalidToken,
    TaskTimedOut,
)
from andromede.stepfunctions.execution_service import ExecutionsService, history_page
from andromede.stepfunctions.executions import Execution
from andromede.stepfunctions.map_children import is_child_arn
from andromede.stepfunctionsapi.actions import StatesCall
from andromede.stepfunctionsapi.errors import StatesWireError
from andromede.stepfunctionsapi.map_child_actions import describe_child, list_children, map_child
from andromede.stepfunctionsapi.map_child_calls import (
    describe_child_machine,
    redrive_child,
    stop_child,
)

__all__ = ["EXECUTION_ACTIONS"]

Handler = Callable[[StatesCall], Awaitable[dict[str, Any]]]


def _epoch(ms: int) -> float:
    return round(ms / 1000, 3)


def _service(call: StatesCall) -> ExecutionsService:
    if call.executions is None:
        raise StatesWireError("UnknownOperationException", "Executions are not served here")
    return call.executions


async def _execution(call: StatesCall, action: str) -> Execution:
    """The execution the call names, once the caller may ``action`` on its ARN (authorised
    on the ARN first, found or not)."""
    arn = call.params.get("executionArn")
    call.resources.append(str(arn)[:256])
    service = _service(call)
    try:
        found: Execution | None = await service.get(call.tenant_id, arn)
    except ExecutionDoesNotExist:
        found = None
    await call.authorise(f"states:{action}", str(arn)[:256], {})
    return found or await service.get(call.tenant_id, arn)


async def start_execution(call: StatesCall) -> dict[str, Any]:
    machine = str(call.params.get("stateMachineArn"))[:256]
    call.resources.append(machine)
    await call.authorise("states:StartExecution", machine, {})
    execution = await _service(call).start(call.tenant_id, call.params)
    call.resources.append(execution.arn)
    return {"executionArn": execution.arn, "startDate": _epoch(execution.started)}


def _described(execution: Execution, service: ExecutionsService) -> dict[str, Any]:
    described: dict[str, Any] = {
        "executionArn": execution.arn,
        "stateMachineArn": execution.machine_arn,
        "name": execution.name,
        "status": execution.status.value,
        "startDate": _epoch(execution.started),
        "input": execution.input,
        "inputDetails": {"included": True},
    }
    if execution.stopped is not None:
        described["stopDate"] = _epoch(execution.stopped)
    if execution.output is not None:
        described["output"] = execution.output
        described["outputDetails"] = {"included": True}
    for name in ("error", "cause"):
        value = getattr(execution, name)
        if value is not None:
            described[name] = value
    return described | _qualified(execution) | redrive_fields(execution, service)


def redrive_fields(execution: Execution, service: ExecutionsService) -> dict[str, Any]:
    """DescribeExecution's redrive members (decision 0283)."""
    shown: dict[str, Any] = {"redriveCount": execution.redrive_count}
    if execution.redriven is not None:
        shown["redriveDate"] = _epoch(execution.redriven)
    reason = service.redrive_status(execution)
    shown["redriveStatus"] = "REDRIVABLE" if reason is None else "NOT_REDRIVABLE"
    if reason is not None:
        shown["redriveStatusReason"] = reason
    return shown


def _qualified(execution: Execution) -> dict[str, Any]:
    """The version and alias an execution was started by (decision 0283)."""
    shown: dict[str, Any] = {}
    if execution.version_arn is not None:
        shown["stateMachineVersionArn"] = execution.version_arn
    if execution.alias_arn is not None:
        shown["stateMachineAliasArn"] = execution.alias_arn
    return shown


async def describe_execution(call: StatesCall) -> dict[str, Any]:
    if is_child_arn(call.params.get("executionArn")):  # a Map run's child (decision 0369)
        limits = _service(call).limits
        return await describe_child(call, limits.redrive_window_ms, limits.max_history_events)
    return _described(await _execution(call, "DescribeExecution"), _service(call))


async def redrive_execution(call: StatesCall) -> dict[str, Any]:
    if is_child_arn(call.params.get("executionArn")):  # a Map run's child (decision 0372)
        return await redrive_child(call)
    execution = await _execution(call, "RedriveExecution")
    redriven = await _service(call).redrive(
        call.tenant_id, execution.arn, call.params.get("clientToken")
    )
    return {"redriveDate": _epoch(redriven.redriven or redriven.started)}


async def stop_execution(call: StatesCall) -> dict[str, Any]:
    if is_child_arn(call.params.get("executionArn")):  # a Map run's child (decision 0372)
        return await stop_child(call)
    execution = await _execution(call, "StopExecution")
    stopped = await _service(call).stop(
        call.tenant_id, execution.arn, call.params.get("error"), call.params.get("cause")
    )
    return {"stopDate": _epoch(stopped.stopped or stopped.started)}


async def list_executions(call: StatesCall) -> dict[str, Any]:
    if call.params.get("mapRunArn") is not None:  # a Map run's children (decision 0369)
        return await list_children(call)
    machine = str(call.params.get("stateMachineArn"))[:256]
    call.resources.append(machine)
    await call.authorise("states:ListExecutions", machine, {})
    page, token = await _service(call).page(
        call.tenant_id,
        call.params.get("stateMachineArn"),
        call.params.get("statusFilter"),
        call.params.get("nextToken"),
        call.params.get("maxResults"),
        call.params.get("redriveFilter"),
    )
    listed: dict[str, Any] = {
        "executions": [
            {
                "executionArn": e.arn,
                "stateMachineArn": e.machine_arn,
                "name": e.name,
                "status": e.status.value,
                "startDate": _epoch(e.started),
                **({} if e.stopped is None else {"stopDate": _epoch(e.stopped)}),
                **_qualified(e),
                "redriveCount": e.redrive_count,
                **({} if e.redriven is None else {"redriveDate": _epoch(e.redriven)}),
            }
            for e in page
        ]
    }
    if token is not None:
        listed["nextToken"] = token
    return listed


async def get_execution_history(call: StatesCall) -> dict[str, Any]:
    include = call.params.get("includeExecutionData", True) is not False
    paging = (call.params.get("reverseOrder") is True, call.params.get("nextToken"),
              call.params.get("maxResults"))  # fmt: skip
    if is_child_arn(call.params.get("executionArn")):  # a Map run's child (decision 0369)
        if str(call.params["executionArn"]).split(":")[5] == "express":
            arn = str(call.params["executionArn"])[:256]
            raise InvalidArn(f"Invalid Arn: 'Resource type not valid in this context: {arn}'")
        child = await map_child(call, "GetExecutionHistory")
        page, token = history_page(list(child.history), *paging)
    else:
        execution = await _execution(call, "GetExecutionHistory")
        page, token = await _service(call).history(execution, *paging)
    events = []
    for event in page:
        shown: dict[str, Any] = {
            "timestamp": _epoch(event.timestamp),
            "type": event.type,
            "id": event.id,
            "previousEventId": event.previous,
        }
        if event.details_name is not None:
            details = dict(event.details)
            if not include:
                for data in ("input", "output"):
                    details.pop(data, None)
            shown[event.details_name] = details
        events.append(shown)
    answered: dict[str, Any] = {"events": events}
    if token is not None:
        answered["nextToken"] = token
    return answered


async def describe_state_machine_for_execution(call: StatesCall) -> dict[str, Any]:
    if is_child_arn(call.params.get("executionArn")):  # a Map run's child (decision 0372)
        return await describe_child_machine(call)
    execution = await _execution(call, "DescribeStateMachineForExecution")
    machine = await call.machines.store.get(
        execution.tenant_id, execution.region, execution.machine_name
    )
    return {
        "stateMachineArn": execution.machine_arn,
        "name": execution.machine_name,
        "definition": execution.definition,
        "roleArn": execution.role_arn,
        "updateDate": _epoch(execution.started if machine is None else machine.updated),
        "loggingConfiguration": {"level": "OFF", "includeExecutionData": False}
        if machine is None
        else machine.logging,
        "revisionId": execution.revision_id,
    }


async def _answer(call: StatesCall, action: str, answer: dict[str, Any]) -> dict[str, Any]:
    """A task's answer by its token, once the caller may ``action`` on the task's activity
    (``*`` for a ``.waitForTaskToken`` integration's task, as AWS's policies name it)."""
    service = _service(call)
    token = call.params.get("taskToken")
    try:
        execution, task = await service.task_of(call.tenant_id, token)
        resource = str(task.get("activity") or "*")
        call.resources.append(execution.arn)
    except (InvalidToken, TaskTimedOut):
        resource = "*"
    await call.authorise(f"states:{action}", resource, {})
    await service.answer(call.tenant_id, token, answer)
    return {}


async def send_task_success(call: StatesCall) -> dict[str, Any]:
    return await _answer(call, "SendTaskSuccess", {"output": call.params.get("output")})


async def send_task_failure(call: StatesCall) -> dict[str, Any]:
    answer = {
        "error": str(call.params.get("error") or ""),
        "cause": str(call.params.get("cause") or ""),
    }
    return await _answer(call, "SendTaskFailure", answer)


async def send_task_heartbeat(call: StatesCall) -> dict[str, Any]:
    return await _answer(call, "SendTaskHeartbeat", {})


async def start_sync_execution(call: StatesCall) -> dict[str, Any]:
    machine = str(call.params.get("stateMachineArn"))[:256]
    call.resources.append(machine)
    await call.authorise("states:StartSyncExecution", machine, {})
    if call.sync is None:
        raise StatesWireError("UnknownOperationException", "StartSyncExecution is not served")
    ran = await call.sync.run(call.tenant_id, call.params)
    call.resources.append(ran.arn)
    answered: dict[str, Any] = {
        "executionArn": ran.arn,
        "stateMachineArn": ran.machine_arn,
        "name": ran.name,
        "startDate": _epoch(ran.started),
        "stopDate": _epoch(ran.stopped),
        "status": ran.status,
        "input": ran.input,
        "inputDetails": {"included": True},
        "billingDetails": {
            "billedMemoryUsedInMB": 64,
            "billedDurationInMilliseconds": max(100, -(-(ran.stopped - ran.started) // 100) * 100),
        },
    }
    if ran.output is not None:
        answered |= {"output": ran.output, "outputDetails": {"included": True}}
    for name in ("error", "cause"):
        if getattr(ran, name) is not None:
            answered[name] = getattr(ran, name)
    return answered


EXECUTION_ACTIONS: Final[dict[str, Handler]] = {
    "StartSyncExecution": start_sync_execution,
    "SendTaskSuccess": send_task_success,
    "SendTaskFailure": send_task_failure,
    "SendTaskHeartbeat": send_task_heartbeat,
    "StartExecution": start_execution,
    "DescribeExecution": describe_execution,
    "StopExecution": stop_execution,
    "RedriveExecution": redrive_execution,
    "ListExecutions": list_executions,
    "GetExecutionHistory": get_execution_history,
    "DescribeStateMachineForExecution": describe_state_machine_for_execution,
}
