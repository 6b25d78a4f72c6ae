"""The remaining execution operations on a distributed Map's child (decision 0372), each
authorised on the child's ARN before it is looked up (``map_child_actions.map_child``):

- DescribeStateMachineForExecution answers, as AWS does, "the state machine associated with
  the Map Run": ``…:stateMachine:<machine>/<label>``, its Map state's ``ItemProcessor`` as its
  definition, the ``mapRunArn`` and ``label``, and the parent's role, update date, logging
  and revision.
- StopExecution stops a RUNNING STANDARD child: ABORTED with the error and cause given and
  ``ExecutionAborted`` in its history, its work told at once when this process runs it (the
  executions' stop signals, decision 0407), and counted ``aborted`` in its Map run when its
  run sees it end (AWS's ``MapRunExecutionCounts.aborted``: "stopped by the user"). One that has
  ended is answered as it is, as an execution's stop is.
- RedriveExecution is refused with ``ExecutionNotRedrivable``: AWS redrives a Map run's
  children through their parent ("To redrive a workflow that includes a Distributed Map
  state whose Map Run failed, you must redrive the parent workflow").

EXPRESS children: neither operation is "supported by EXPRESS state machines" (the API
reference of both, with no exception for a Map run's, unlike DescribeExecution's):
``InvalidArn``, as GetExecutionHistory of one."""

from __future__ import annotations

import time
from typing import Any

from andromede.stepfunctions.errors import (
    ExecutionDoesNotExist,
    ExecutionNotRedrivable,
    InvalidArn,
)
from andromede.stepfunctions.map_children import child_history, children_definition
from andromede.stepfunctions.map_runs import ABORTED
from andromede.stepfunctionsapi.actions import StatesCall
from andromede.stepfunctionsapi.errors import StatesWireError
from andromede.stepfunctionsapi.map_child_actions import map_child, redrive_reason

__all__ = ["describe_child_machine", "redrive_child", "stop_child"]


def _epoch(ms: int) -> float:
    return round(ms / 1000, 3)


def _not_express(call: StatesCall) -> None:
    arn = str(call.params.get("executionArn"))
    if arn.split(":")[5] == "express":
        raise InvalidArn(f"Invalid Arn: 'Resource type not valid in this context: {arn[:256]}'")


async def describe_child_machine(call: StatesCall) -> dict[str, Any]:
    """DescribeStateMachineForExecution of a child: its Map run's state machine."""
    child = await map_child(call, "DescribeStateMachineForExecution")
    _not_express(call)
    if call.executions is None or call.map_runs is None:
        raise StatesWireError("UnknownOperationException", "Executions are not served here")
    run = await call.map_runs.get(call.tenant_id, child.run_arn)
    try:
        parent = None if run is None else await call.executions.get(
            call.tenant_id, run.execution_arn
        )  # fmt: skip
    except ExecutionDoesNotExist:
        parent = None
    definition = None if parent is None else children_definition(parent.definition, child.run_arn)
    if parent is None or definition is None:  # its parent gone: the child goes with it
        raise ExecutionDoesNotExist(f"Execution Does Not Exist: '{child.arn[:256]}'")
    machine = await call.machines.store.get(parent.tenant_id, parent.region, parent.machine_name)
    name = child.machine_arn.rsplit(":", 1)[1]
    return {
        "stateMachineArn": child.machine_arn,
        "name": name,
        "definition": definition,
        "roleArn": parent.role_arn,
        "updateDate": _epoch(parent.started if machine is None else machine.updated),
        "loggingConfiguration": {"level": "OFF", "includeExecutionData": False}
        if machine is None
        else machine.logging,
        "mapRunArn": child.run_arn,
        "label": name.partition("/")[2],
        "revisionId": parent.revision_id,
    }


async def stop_child(call: StatesCall) -> dict[str, Any]:
    """StopExecution of a STANDARD child: ABORTED, kept so (its run counts it aborted)."""
    child = await map_child(call, "StopExecution")
    _not_express(call)
    if child.status != "RUNNING":
        return {"stopDate": _epoch(child.stopped or child.started)}
    error, cause = call.params.get("error"), call.params.get("cause")
    stopped = child.changed(
        status=ABORTED,
        stopped=int(time.time() * 1000),
        error=error if isinstance(error, str) else None,
        cause=cause if isinstance(cause, str) else None,
    )
    stopped = stopped.changed(history=child_history(stopped, []))
    if call.map_children is None or not await call.map_children.save(stopped):
        found = await map_child(call, "StopExecution")  # aborted meanwhile: as it was
        return {"stopDate": _epoch(found.stopped or found.started)}
    if call.executions is not None:
        call.executions.stops.ring(stopped.arn)  # its work here ends now, not at its poll
    return {"stopDate": _epoch(stopped.stopped or stopped.started)}


async def redrive_child(call: StatesCall) -> dict[str, Any]:
    """RedriveExecution of a child: refused, in AWS's error (redrive the parent)."""
    child = await map_child(call, "RedriveExecution")
    raise ExecutionNotRedrivable(redrive_reason(child))
