"""Step Functions' activity operations (decision 0271): CreateActivity, DescribeActivity,
DeleteActivity and GetActivityTask authorised as ``states:<Action>`` on the activity's ARN
(CreateActivity's tags as ``aws:RequestTag/…``), ListActivities on ``*``; answers in the API
model's shape. GetActivityTask long-polls and answers an empty task when none came, as
AWS's."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

from andromede.stepfunctions.activities import activity_arn, check_activity_name
from andromede.stepfunctions.activity_service import ActivitiesService
from andromede.stepfunctionsapi.actions import StatesCall, request_tags
from andromede.stepfunctionsapi.errors import StatesWireError

__all__ = ["ACTIVITY_ACTIONS"]

Handler = Callable[[StatesCall], Awaitable[dict[str, Any]]]


def _service(call: StatesCall) -> ActivitiesService:
    if call.activities is None:
        raise StatesWireError("UnknownOperationException", "Activities are not served here")
    return call.activities


def _epoch(ms: int) -> float:
    return round(ms / 1000, 3)


async def _named(call: StatesCall, action: str) -> str:
    arn = str(call.params.get("activityArn"))[:256]
    call.resources.append(arn)
    await call.authorise(f"states:{action}", arn, {})
    return arn


async def create_activity(call: StatesCall) -> dict[str, Any]:
    service = _service(call)
    name = check_activity_name(call.params.get("name"))
    arn = activity_arn(service.region, call.tenant_id, name)
    call.resources.append(arn)
    await call.authorise("states:CreateActivity", arn, request_tags(call.params.get("tags")))
    made = await service.create(call.tenant_id, call.params)
    return {"activityArn": made.arn, "creationDate": _epoch(made.created)}


async def describe_activity(call: StatesCall) -> dict[str, Any]:
    arn = await _named(call, "DescribeActivity")
    found = await _service(call).get(call.tenant_id, arn)
    return {"activityArn": found.arn, "name": found.name, "creationDate": _epoch(found.created)}


async def delete_activity(call: StatesCall) -> dict[str, Any]:
    arn = await _named(call, "DeleteActivity")
    await _service(call).delete(call.tenant_id, arn)
    return {}


async def list_activities(call: StatesCall) -> dict[str, Any]:
    call.resources.append("*")
    await call.authorise("states:ListActivities", "*", {})
    page, token = await _service(call).page(
        call.tenant_id, call.params.get("nextToken"), call.params.get("maxResults")
    )
    listed: dict[str, Any] = {
        "activities": [
            {"activityArn": a.arn, "name": a.name, "creationDate": _epoch(a.created)} for a in page
        ]
    }
    if token is not None:
        listed["nextToken"] = token
    return listed


async def get_activity_task(call: StatesCall) -> dict[str, Any]:
    arn = await _named(call, "GetActivityTask")
    taken = await _service(call).take_task(call.tenant_id, arn, call.params.get("workerName"))
    if taken is None:
        return {}
    token, given = taken
    return {"taskToken": token, "input": given}


ACTIVITY_ACTIONS: Final[dict[str, Handler]] = {
    "CreateActivity": create_activity,
    "DescribeActivity": describe_activity,
    "DeleteActivity": delete_activity,
    "ListActivities": list_activities,
    "GetActivityTask": get_activity_task,
}
