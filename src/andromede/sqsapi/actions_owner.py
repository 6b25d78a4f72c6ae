"""The SQS actions of decision 0165 that only a queue's owner calls: AddPermission and
RemovePermission (the queue's policy edited as SQS edits it), and the message move tasks
(StartMessageMoveTask, ListMessageMoveTasks, CancelMessageMoveTask). ``actions`` lists them
in its table beside the others."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from andromede.queues.errors import ResourceNotFoundException, UnsupportedOperation
from andromede.queues.model import Queue
from andromede.queues.move_tasks import FAILED, RUNNING, MoveTask
from andromede.queues.mover import MessageMover
from andromede.queues.permissions import add_permission as added
from andromede.queues.permissions import remove_permission as removed
from andromede.sqsapi.authorise import check_policy

if TYPE_CHECKING:  # actions imports this module for its table
    from andromede.sqsapi.actions import SqsCall

__all__ = [
    "add_permission",
    "cancel_message_move_task",
    "list_message_move_tasks",
    "remove_permission",
    "start_message_move_task",
]


async def add_permission(call: SqsCall) -> dict[str, Any]:
    queue = await call.queue("sqs:AddPermission")
    policy = added(
        queue,
        call.text("Label", required=True) or "",
        call.strings("AWSAccountIds"),
        call.strings("Actions"),
    )
    check_policy(policy)  # the same check as a Policy set by SetQueueAttributes
    await call.queues.set_queue_attributes(queue, {"Policy": policy})
    return {}


async def remove_permission(call: SqsCall) -> dict[str, Any]:
    queue = await call.queue("sqs:RemovePermission")
    policy = removed(queue, call.text("Label", required=True) or "")
    await call.queues.set_queue_attributes(queue, {"Policy": policy})
    return {}


def _mover(call: SqsCall) -> MessageMover:
    if call.mover is None:
        raise UnsupportedOperation("Message move tasks are not offered by this deployment.")
    return call.mover


async def _queue(call: SqsCall, mover: MessageMover, arn: str, name: str = "SourceArn") -> Queue:
    """The caller's queue of ``arn`` in the call's Region: another Region's is not found
    there (decision 0414)."""
    queue = await mover.queue(call.tenant_id, arn, name)
    if queue.region != call.queues.region:
        raise ResourceNotFoundException(f"The resource {arn[:256]} does not exist.")
    return queue


async def start_message_move_task(call: SqsCall) -> dict[str, Any]:
    mover = _mover(call)
    source_arn = call.text("SourceArn", required=True) or ""
    source = await _queue(call, mover, source_arn)
    call.resources.append(source.arn)
    await call.authorise("sqs:StartMessageMoveTask", source.arn, source)
    destination_arn = call.text("DestinationArn")
    if destination_arn is not None:
        destination = await _queue(call, mover, destination_arn, "DestinationArn")
        call.resources.append(destination.arn)
        await call.authorise("sqs:SendMessage", destination.arn, destination)
    task = await mover.start(
        call.tenant_id,
        source.arn,
        destination_arn,
        call.number("MaxNumberOfMessagesPerSecond"),
    )
    return {"TaskHandle": task.handle}


def _entry(task: MoveTask) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "Status": task.status,
        "SourceArn": task.source_arn,
        "ApproximateNumberOfMessagesMoved": task.moved,
        "ApproximateNumberOfMessagesToMove": task.to_move,
        "StartedTimestamp": int(task.started_at.timestamp() * 1000),
    }
    if task.status == RUNNING:
        entry["TaskHandle"] = task.handle
    if task.destination_arn is not None:
        entry["DestinationArn"] = task.destination_arn
    if task.rate is not None:
        entry["MaxNumberOfMessagesPerSecond"] = task.rate
    if task.status == FAILED and task.failure:
        entry["FailureReason"] = task.failure
    return entry


async def list_message_move_tasks(call: SqsCall) -> dict[str, Any]:
    mover = _mover(call)
    source = await _queue(call, mover, call.text("SourceArn", required=True) or "")
    call.resources.append(source.arn)
    await call.authorise("sqs:ListMessageMoveTasks", source.arn, source)
    tasks = await mover.list_tasks(call.tenant_id, source.arn, call.number("MaxResults"))
    return {"Results": [_entry(task) for task in tasks]}


async def cancel_message_move_task(call: SqsCall) -> dict[str, Any]:
    mover = _mover(call)
    handle = call.text("TaskHandle", required=True) or ""
    source_arn = await mover.task_source(call.tenant_id, handle)
    source = await _queue(call, mover, source_arn)
    call.resources.append(source.arn)
    await call.authorise("sqs:CancelMessageMoveTask", source.arn, source)
    task = await mover.cancel(call.tenant_id, handle)
    return {"ApproximateNumberOfMessagesMoved": task.moved}
