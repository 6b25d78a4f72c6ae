"""A distributed Map's child executions through the execution operations (decision 0369):
ListExecutions with ``mapRunArn`` (authorised as ``states:ListExecutions`` on the Map run's
ARN, which must be the caller's and known: ``ResourceNotFound``), DescribeExecution and
GetExecutionHistory of a child's ARN (``…:execution:<machine>/<label>:<uuid>``, or
``…:express:…``), each authorised on that ARN before it is looked up, so that no one probes
ARNs. Answers in the API model's shape: ``mapRunArn`` and ``itemCount`` in the list's
entries, ``mapRunArn`` in the description. AWS lists and describes EXPRESS children but keeps
no history of them: GetExecutionHistory of one is ``InvalidArn`` (``execution_actions``), as
of any Express execution."""

from __future__ import annotations

import base64
import binascii
import time
from typing import Any, Final

from andromede.stepfunctions.errors import (
    ExecutionDoesNotExist,
    InvalidArn,
    InvalidToken,
    ResourceNotFound,
    ValidationException,
)
from andromede.stepfunctions.executions import ExecutionStatus
from andromede.stepfunctions.map_children import MapChild, MapChildStore, child_account
from andromede.stepfunctions.map_redrive import MAX_MAP_RUN_REDRIVES, child_not_redrivable
from andromede.stepfunctions.map_runs import REDRIVABLE, MapRun, MapRunStore, map_run_account
from andromede.stepfunctionsapi.actions import StatesCall
from andromede.stepfunctionsapi.errors import StatesWireError

__all__ = ["describe_child", "described_child", "list_children", "map_child", "redrive_reason"]

_DEFAULT_PAGE: Final = 100
_MAX_PAGE: Final = 1000
_STATUSES: Final = frozenset({s.value for s in ExecutionStatus} | {"PENDING_REDRIVE"})
_PAGE_MARK: Final = "mc1:"  # a page token's prefix


def _epoch(ms: int) -> float:
    return round(ms / 1000, 3)


def _stores(call: StatesCall) -> tuple[MapRunStore, MapChildStore]:
    if call.map_children is None or call.map_runs is None:
        raise StatesWireError("UnknownOperationException", "Map runs are not served here")
    return call.map_runs, call.map_children


def _page_size(value: Any) -> int:
    if value is None or value == 0:
        return _DEFAULT_PAGE
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= _MAX_PAGE:
        raise ValidationException(f"maxResults must be between 0 and {_MAX_PAGE}.")
    return value


def _after(token: Any) -> tuple[int, str] | None:
    if token is None:
        return None
    try:
        decoded = base64.urlsafe_b64decode(str(token).encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    started, _, arn = decoded.removeprefix(_PAGE_MARK).partition(":")
    if not decoded.startswith(_PAGE_MARK) or not started.isdigit() or not arn:
        raise InvalidToken(f"Invalid Token: '{str(token)[:64]}'")
    return int(started), arn


def _token(child: MapChild) -> str:
    return base64.urlsafe_b64encode(f"{_PAGE_MARK}{child.started}:{child.arn}".encode()).decode()


async def list_children(call: StatesCall) -> dict[str, Any]:
    """ListExecutions(``mapRunArn``): the run's children kept, the newest first, in pages."""
    runs, store = _stores(call)
    if call.params.get("stateMachineArn") is not None:
        raise ValidationException(
            "You can specify either a mapRunArn or a stateMachineArn, but not both"
        )
    arn = call.params.get("mapRunArn")
    if not isinstance(arn, str) or map_run_account(arn) is None:
        raise InvalidArn(
            f"Invalid Arn: 'Resource type not valid in this context: {str(arn)[:256]}'"
        )
    call.resources.append(arn[:256])
    await call.authorise("states:ListExecutions", arn[:2000], {})
    if await runs.get(call.tenant_id, arn) is None:
        raise ResourceNotFound(f"Map Run Not Found: '{arn[:256]}'", arn[:256])
    status = call.params.get("statusFilter")
    if status is not None and status not in _STATUSES:
        raise ValidationException(f"Invalid statusFilter: {str(status)[:32]}")
    redrive = call.params.get("redriveFilter")
    if redrive is not None and redrive not in ("REDRIVEN", "NOT_REDRIVEN"):
        raise ValidationException(f"Invalid redriveFilter: {str(redrive)[:32]}")
    size = _page_size(call.params.get("maxResults"))
    after = _after(call.params.get("nextToken"))
    # A child waits for no redrive here: its run's redrive runs it again at once (0377).
    nothing = status == "PENDING_REDRIVE"
    redriven = None if redrive is None else redrive == "REDRIVEN"
    found = [] if nothing else await store.list_for_run(call.tenant_id, arn, status, after,
                                                        size + 1, redriven)  # fmt: skip
    page = found[:size]
    listed: dict[str, Any] = {
        "executions": [
            {
                "executionArn": c.arn,
                "stateMachineArn": c.machine_arn,
                "name": c.name,
                "status": c.status,
                "startDate": _epoch(c.started),
                **({} if c.stopped is None else {"stopDate": _epoch(c.stopped)}),
                "mapRunArn": c.run_arn,
                "itemCount": c.item_count,
                "redriveCount": c.redrive_count,
                **({} if c.redrive_date is None else {"redriveDate": _epoch(c.redrive_date)}),
            }
            for c in page
        ]
    }
    if len(found) > size:
        listed["nextToken"] = _token(page[-1])
    return listed


async def map_child(call: StatesCall, action: str) -> MapChild:
    """The child the call's ``executionArn`` names, once the caller may ``action`` on it
    (authorised on the ARN first, found or not)."""
    arn = str(call.params.get("executionArn"))
    call.resources.append(arn[:256])
    _, store = _stores(call)
    await call.authorise(f"states:{action}", arn[:2000], {})
    parts = arn.split(":")
    found = (
        await store.get(call.tenant_id, arn)
        if child_account(arn) == call.tenant_id and parts[3] == call.machines.region
        else None
    )
    if found is None:
        raise ExecutionDoesNotExist(f"Execution Does Not Exist: '{arn[:256]}'")
    return found


def redrive_reason(child: MapChild) -> str:
    """Why a child cannot be redriven itself (RedriveExecution refuses it)."""
    if child.status in ("RUNNING", "SUCCEEDED"):
        return f"Execution is {child.status} and cannot be redriven"
    return (
        "A Map Run's child execution is redriven through its parent: redrive the parent "
        "execution, which redrives its Map Run"
    )


def not_redrivable_by_run(
    child: MapChild, run: MapRun | None, now: int, window_ms: int, max_events: int = 25_000
) -> str | None:
    """Why redriving the child's parent would not run it again (decisions 0377, 0383); None:
    it would (``REDRIVABLE_BY_MAP_RUN``: an EXPRESS child too, which the run starts anew, as
    AWS's redriveStatus documents it). The child's own reasons are the run's redrive's."""
    reason = child_not_redrivable(child, now, window_ms, max_events)
    if reason is not None and child.status not in REDRIVABLE:
        return reason
    if run is None or run.status not in REDRIVABLE:
        return f"Its Map Run is {run.status if run else 'gone'} and cannot be redriven"
    if run.redrive_count >= MAX_MAP_RUN_REDRIVES:
        return "Map Run redrive limit exceeded"
    if child.index is None:  # kept before its place was: its run starts anew (0383)
        return "The Map Run's record of its items predates redrives: a new Map Run starts"
    return reason


async def describe_child(
    call: StatesCall, window_ms: int, max_events: int = 25_000
) -> dict[str, Any]:
    """DescribeExecution of a child: its run's state says whether a redrive runs it again."""
    runs, _ = _stores(call)
    child = await map_child(call, "DescribeExecution")
    run = await runs.get(call.tenant_id, child.run_arn)
    reason = not_redrivable_by_run(child, run, int(time.time() * 1000), window_ms, max_events)
    return described_child(child, reason)


def described_child(child: MapChild, reason: str | None = None) -> dict[str, Any]:
    """DescribeExecution's answer of a child; ``reason``: why it is not redrivable, None
    when its run's redrive would run it again."""
    described: dict[str, Any] = {
        "executionArn": child.arn,
        "stateMachineArn": child.machine_arn,
        "name": child.name,
        "status": child.status,
        "startDate": _epoch(child.started),
        "input": child.input,
        "inputDetails": {"included": True},
        "mapRunArn": child.run_arn,
        "redriveCount": child.redrive_count,
        "redriveStatus": "REDRIVABLE_BY_MAP_RUN" if reason is None else "NOT_REDRIVABLE",
    }
    if reason is not None:
        described["redriveStatusReason"] = reason
    if child.redrive_date is not None:
        described["redriveDate"] = _epoch(child.redrive_date)
    if child.stopped is not None:
        described["stopDate"] = _epoch(child.stopped)
    if child.output is not None:
        described["output"] = child.output
        described["outputDetails"] = {"included": True}
    for name in ("error", "cause"):
        value = getattr(child, name)
        if value is not None:
            described[name] = value
    return described
