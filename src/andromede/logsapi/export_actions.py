"""CloudWatch Logs' export tasks and records (decision 0186, session-49 addendum):
CreateExportTask (``logs:CreateExportTask`` on the group's ARN), DescribeExportTasks and
CancelExportTask (which name a task, not a group: ``logs:<Op>`` on ``*`` as AWS's model),
GetLogRecord (``logs:GetLogRecord`` on the group its pointer names) and GetLogGroupFields
(on the group's ARN), shaped as AWS answers them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

from andromede.logs.errors import InvalidParameter
from andromede.logs.export_tasks import ExportService
from andromede.logs.exports import ExportTask
from andromede.logs.records import RecordService, parse_pointer
from andromede.logsapi.action_call import LogsCall
from andromede.logsapi.errors import LogsWireError
from andromede.logsapi.params import boolean, integer, optional_str, required_str

__all__ = ["EXPORT_ACTIONS"]


def _exports(call: LogsCall) -> ExportService:
    if call.exports is None:
        raise LogsWireError(
            "UnsupportedOperationException", "Export tasks are not served by this deployment"
        )
    return call.exports


def _task_shape(task: ExportTask) -> dict[str, Any]:
    info: dict[str, Any] = {"creationTime": task.created}
    if task.completed is not None:
        info["completionTime"] = task.completed
    return {
        "taskId": task.task_id,
        "taskName": task.name,
        "logGroupName": task.group,
        "from": task.start,
        "to": task.end,
        "destination": task.bucket,
        "destinationPrefix": task.prefix,
        "status": {"code": task.status.value, "message": task.message},
        "executionInfo": info,
    }


async def create_export_task(call: LogsCall) -> dict[str, Any]:
    exports = _exports(call)
    group = call.group_name()
    await call.allow("CreateExportTask", call.group_arn(group))
    task_id = await exports.create(
        call.tenant_id,
        name=call.params.get("taskName"),
        group=group,
        stream_prefix=call.params.get("logStreamNamePrefix"),
        start=call.params.get("from"),
        end=call.params.get("to"),
        bucket=call.params.get("destination"),
        prefix=call.params.get("destinationPrefix"),
    )
    return {"taskId": task_id}


def _task_id(call: LogsCall, required: bool) -> str | None:
    task_id = (
        required_str(call.params, "taskId") if required else optional_str(call.params, "taskId")
    )
    if task_id is not None and not 1 <= len(task_id) <= 512:
        raise InvalidParameter("taskId must be between 1 and 512 characters")
    return task_id


async def describe_export_tasks(call: LogsCall) -> dict[str, Any]:
    exports = _exports(call)
    await call.allow("DescribeExportTasks", "*")
    tasks, token = await exports.describe(
        call.tenant_id,
        _task_id(call, required=False),
        optional_str(call.params, "statusCode"),
        integer(call.params, "limit"),
        optional_str(call.params, "nextToken"),
    )
    answer: dict[str, Any] = {"exportTasks": [_task_shape(t) for t in tasks]}
    if token is not None:
        answer["nextToken"] = token
    return answer


async def cancel_export_task(call: LogsCall) -> dict[str, Any]:
    exports = _exports(call)
    await call.allow("CancelExportTask", "*")
    await exports.cancel(call.tenant_id, _task_id(call, required=True) or "")
    return {}


async def get_log_record(call: LogsCall) -> dict[str, Any]:
    records = RecordService(call.logs)
    pointer = required_str(call.params, "logRecordPointer")
    group, _stream, _position = parse_pointer(pointer)
    await call.allow("GetLogRecord", call.group_arn(group))
    unmask = boolean(call.params, "unmask", False)
    if unmask:  # every field as ingested, its JSON fields too (decision 0211)
        await call.allow("Unmask", call.group_arn(group))
    return {"logRecord": await records.log_record(call.tenant_id, pointer, unmask=unmask)}


async def get_log_group_fields(call: LogsCall) -> dict[str, Any]:
    group = call.group_name()
    await call.allow("GetLogGroupFields", call.group_arn(group))
    time_seconds = integer(call.params, "time")
    if time_seconds is not None and time_seconds < 0:
        raise InvalidParameter("time must not be negative")
    fields = await RecordService(call.logs, call.fields_sample).group_fields(
        call.tenant_id, group, time_seconds
    )
    return {"logGroupFields": [{"name": n, "percent": p} for n, p in fields]}


EXPORT_ACTIONS: Final[dict[str, Callable[[LogsCall], Awaitable[dict[str, Any]]]]] = {
    "CreateExportTask": create_export_task,
    "DescribeExportTasks": describe_export_tasks,
    "CancelExportTask": cancel_export_task,
    "GetLogRecord": get_log_record,
    "GetLogGroupFields": get_log_group_fields,
}
