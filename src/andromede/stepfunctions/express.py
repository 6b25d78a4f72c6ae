"""StartSyncExecution (decision 0271): an EXPRESS state machine run to its end within the
call, in the calling gateway, as AWS's synchronous Express workflows — nothing kept (no
history, no DescribeExecution, as AWS keeps none for them), at most ``max_seconds`` (AWS: 5
minutes, then ``TIMED_OUT``). Tasks answered by a token are refused (``States.Runtime``), as
AWS's Express workflows refuse ``.waitForTaskToken`` and activities."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from andromede.stepfunctions.branch_steps import parks_within
from andromede.stepfunctions.errors import InvalidExecutionInput, StateMachineTypeNotSupported
from andromede.stepfunctions.executions import (
    EXECUTION_TRACE,
    check_execution_name,
    check_trace_header,
)
from andromede.stepfunctions.interpreter import (
    Cursor,
    Interpreter,
    StatesError,
    TaskRunner,
)
from andromede.stepfunctions.model import MachineType
from andromede.stepfunctions.retry_rules import is_parked
from andromede.stepfunctions.service import StateMachinesService
from andromede.stepfunctions.variables import VariableLimits

__all__ = ["ExpressResult", "SyncExecutions"]


@dataclass(frozen=True, slots=True)
class ExpressResult:
    arn: str
    machine_arn: str
    name: str
    started: int
    stopped: int
    status: str
    input: str
    output: str | None = None
    error: str | None = None
    cause: str | None = None


def _now() -> int:
    return int(time.time() * 1000)


class SyncExecutions:
    def __init__(
        self,
        machines: StateMachinesService,
        tasks: TaskRunner | None,
        max_payload_size: int,
        max_seconds: float = 300.0,
        clock: Callable[[], int] = _now,
        variables: VariableLimits | None = None,
    ) -> None:
        self._variables = variables
        self._machines = machines
        self._tasks = tasks
        self._max_payload = max_payload_size
        self._max_seconds = max_seconds
        self._clock = clock

    async def run(self, tenant_id: str, params: dict[str, Any]) -> ExpressResult:
        # A version's or an alias's ARN runs that version (decision 0283).
        target = await self._machines.resolve(tenant_id, params.get("stateMachineArn"))
        machine = target.machine
        if machine.machine_type is not MachineType.EXPRESS:
            raise StateMachineTypeNotSupported(
                "This operation is not supported by this type of state machine"
            )
        name = check_execution_name(params.get("name") or str(uuid.uuid4()))
        trace = check_trace_header(params.get("traceHeader"))
        text = params.get("input") or "{}"
        try:
            if not isinstance(text, str) or len(text.encode()) > self._max_payload:
                raise ValueError(f"at most {self._max_payload} bytes of JSON")
            data = json.loads(text)
        except ValueError as exc:
            raise InvalidExecutionInput(
                f"Invalid State Machine Execution Input: '{str(exc)[:256]}'"
            ) from exc
        started = self._clock()
        arn = (
            f"arn:aws:states:{machine.region}:{tenant_id}:express:{machine.name}:{name}:"
            f"{uuid.uuid4()}"
        )
        context = {
            "Execution": {"Id": arn, "Name": name, "Input": data, "RoleArn": target.role_arn,
                          "StartTime": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                     time.gmtime(started / 1000))},
            "StateMachine": {"Id": machine.arn, "Name": machine.name},
        }  # fmt: skip
        definition = json.loads(target.definition)
        interpreter = Interpreter(definition, context, self._tasks, self._clock,
                                  limits=self._variables)  # fmt: skip
        result = ExpressResult(arn, machine.arn, name, started, started, "RUNNING", text)
        limit = min(self._max_seconds, float(definition.get("TimeoutSeconds", self._max_seconds)))
        traced = EXECUTION_TRACE.set(trace)  # its tasks' calls carry it (decision 0351)
        try:
            return await asyncio.wait_for(self._run(interpreter, data, result), limit)
        except TimeoutError:
            return _ended(result, self._clock(), "TIMED_OUT", error="States.Timeout",
                          cause="The execution ran past its time.")  # fmt: skip
        finally:
            EXECUTION_TRACE.reset(traced)

    async def _run(self, interpreter: Interpreter, data: Any, result: ExpressResult) -> Any:
        cursor: Cursor | None = interpreter.start(data)
        while cursor is not None:
            if cursor.task is not None or _parks(interpreter, cursor):
                error = StatesError("States.Runtime", "Express workflows do not wait for tokens")
                return _ended(result, self._clock(), "FAILED", error=error.error,
                              cause=error.cause)  # fmt: skip
            step = await interpreter.step(cursor)
            if step.waiting and step.cursor is not None and step.cursor.wait_until is not None:
                await asyncio.sleep(max(0.0, (step.cursor.wait_until - self._clock()) / 1000))
            if step.error is not None:
                return _ended(result, self._clock(), "FAILED", error=step.error.error,
                              cause=step.error.cause)  # fmt: skip
            if step.cursor is None:
                output = json.dumps(step.output, separators=(",", ":"))
                return _ended(result, self._clock(), "SUCCEEDED", output=output)
            cursor = step.cursor
        return result


def _parks(interpreter: Interpreter, cursor: Cursor) -> bool:
    """Whether the state waits for a token, itself or within its branches or iterations."""
    state = interpreter.state_named(cursor.state)
    if state.get("Type") in ("Parallel", "Map"):
        return parks_within(state)
    return state.get("Type") == "Task" and is_parked(str(state.get("Resource", "")))


def _ended(result: ExpressResult, now: int, status: str, **fields: Any) -> ExpressResult:
    return ExpressResult(result.arn, result.machine_arn, result.name, result.started, now,
                         status, result.input, **fields)  # fmt: skip
