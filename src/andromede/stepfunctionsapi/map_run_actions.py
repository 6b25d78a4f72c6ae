"""Step Functions' Map run operations (decision 0322): ListMapRuns (authorised as
``states:ListMapRuns`` on the execution's ARN; the execution must exist), DescribeMapRun and
UpdateMapRun (on the Map run's ARN, authorised before it is looked up, so that no one probes
ARNs). Answers in the API model's shape: dates as epoch seconds, ``itemCounts`` and
``executionCounts``; a malformed ARN is ``InvalidArn``, an unknown run ``ResourceNotFound``,
a bad setting ``ValidationException``, each in AWS's words."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

from andromede.stepfunctions.errors import InvalidArn, ResourceNotFound, ValidationException
from andromede.stepfunctions.execution_service import ExecutionsService
from andromede.stepfunctions.map_runs import MapRun, MapRunStore, map_run_account
from andromede.stepfunctionsapi.actions import StatesCall
from andromede.stepfunctionsapi.errors import StatesWireError

__all__ = ["MAP_RUN_ACTIONS"]

Handler = Callable[[StatesCall], Awaitable[dict[str, Any]]]
_MAX_PAGE: Final = 1000


def _store(call: StatesCall) -> MapRunStore:
    if call.map_runs is None:
        raise StatesWireError("UnknownOperationException", "Map runs are not served here")
    return call.map_runs


def _executions(call: StatesCall) -> ExecutionsService:
    if call.executions is None:
        raise StatesWireError("UnknownOperationException", "Executions are not served here")
    return call.executions


async def _map_run(call: StatesCall, action: str) -> MapRun:
    arn = call.params.get("mapRunArn")
    if not isinstance(arn, str) or map_run_account(arn) is None:
        raise InvalidArn(
            f"Invalid Arn: 'Resource type not valid in this context: {str(arn)[:256]}'"
        )
    call.resources.append(arn[:256])
    await call.authorise(f"states:{action}", arn[:2000], {})
    found = await _store(call).get(call.tenant_id, arn)
    if found is None:
        raise ResourceNotFound(f"Map Run Not Found: '{arn[:256]}'", arn[:256])
    return found


async def describe_map_run(call: StatesCall) -> dict[str, Any]:
    return (await _map_run(call, "DescribeMapRun")).described()


async def list_map_runs(call: StatesCall) -> dict[str, Any]:
    store = _store(call)
    arn = call.params.get("executionArn")
    call.resources.append(str(arn)[:256])
    await call.authorise("states:ListMapRuns", str(arn)[:256], {})
    execution = await _executions(call).get(call.tenant_id, arn)  # ExecutionDoesNotExist
    limit = call.params.get("maxResults") or 100
    if not isinstance(limit, int) or isinstance(limit, bool) or not 0 <= limit <= _MAX_PAGE:
        raise ValidationException(f"maxResults must be between 0 and {_MAX_PAGE}.")
    runs = await store.list_for_execution(call.tenant_id, execution.arn)
    token = call.params.get("nextToken")
    if token is not None:
        if not isinstance(token, str) or token not in {r.arn for r in runs}:
            raise StatesWireError("InvalidToken", "Invalid Token: the token is not this list's")
        runs = runs[[r.arn for r in runs].index(token) + 1 :]
    page = runs[:limit]
    answer: dict[str, Any] = {"mapRuns": [r.listed() for r in page]}
    if len(runs) > limit and page:
        answer["nextToken"] = page[-1].arn
    return answer


def _optional(call: StatesCall, name: str, whole: bool, low: float, high: float | None) -> Any:
    value = call.params.get(name)
    if value is None:
        return None
    kinds: tuple[type[int], ...] | tuple[type[int], type[float]] = (int,) if whole else (int, float)
    if (
        isinstance(value, bool)
        or not isinstance(value, kinds)
        or value < low
        or (high is not None and value > high)
    ):
        bound = f"at least {low:g}" if high is None else f"between {low:g} and {high:g}"
        raise ValidationException(f"1 validation error detected: Value at '{name}' must be "
                                  f"{bound}")  # fmt: skip
    return value


async def update_map_run(call: StatesCall) -> dict[str, Any]:
    concurrency = _optional(call, "maxConcurrency", True, 0, None)
    percentage = _optional(call, "toleratedFailurePercentage", False, 0, 100)
    count = _optional(call, "toleratedFailureCount", True, 0, None)
    found = await _map_run(call, "UpdateMapRun")
    if concurrency is None and percentage is None and count is None:
        raise ValidationException(
            "At least one of maxConcurrency, toleratedFailurePercentage or "
            "toleratedFailureCount must be given"
        )
    if found.status != "RUNNING":
        raise ValidationException(f"Map Run {found.arn[:256]} is not running")
    percentage = None if percentage is None else float(percentage)
    await _store(call).update(call.tenant_id, found.arn, concurrency, percentage, count)
    return {}


MAP_RUN_ACTIONS: Final[dict[str, Handler]] = {
    "DescribeMapRun": describe_map_run,
    "ListMapRuns": list_map_runs,
    "UpdateMapRun": update_map_run,
}
