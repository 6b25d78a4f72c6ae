"""The SQS actions served (decision 0158): each parses its JSON parameters, resolves and
authorises the queue it names, calls :class:`QueueService` and returns the JSON answer.

A batch action is authorised as its single form (``sqs:SendMessage`` for SendMessageBatch),
as AWS does. A queue URL is ``<endpoint>/<account>/<name>``. One naming another account
(decision 0165) reaches that queue only for the actions SQS lets a queue policy grant to other
accounts (:data:`CROSS_ACCOUNT`), and only when the queue's policy and the caller's own IAM
policies allow it; otherwise it is answered QueueDoesNotExist, as before, so that nobody
learns which queues another account holds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit

from andromede.queues.errors import (
    InvalidParameterValue,
    MissingParameter,
    QueueDoesNotExist,
    QueueError,
)
from andromede.queues.fifo import sequence_number
from andromede.queues.model import MessageAttribute, Queue, attributes_md5, queue_arn
from andromede.queues.mover import MessageMover
from andromede.queues.service import (
    BatchEntry,
    BatchFailure,
    Delivered,
    QueueService,
    SentMessage,
    check_batch_ids,
)
from andromede.sqsapi.actions_owner import (
    add_permission,
    cancel_message_move_task,
    list_message_move_tasks,
    remove_permission,
    start_message_move_task,
)
from andromede.sqsapi.authorise import KeyUser, check_policy
from andromede.sqsapi.errors import SqsWireError

__all__ = ["ACTIONS", "CROSS_ACCOUNT", "NOT_SERVED", "SqsCall"]

Authorise = Callable[[str, str, Queue | None], Awaitable[None]]
# What a queue policy may grant another account, as on SQS (the others are the owner's alone).
CROSS_ACCOUNT: Final = frozenset(
    {
        "sqs:ChangeMessageVisibility",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
        "sqs:ListDeadLetterSourceQueues",
        "sqs:PurgeQueue",
        "sqs:ReceiveMessage",
        "sqs:SendMessage",
    }
)


@dataclass
class SqsCall:
    params: Mapping[str, Any]
    tenant_id: str
    sender_id: str
    base_url: str  # scheme://host of the request, for queue URLs
    queues: QueueService
    authorise: Authorise
    key_user: KeyUser | None = None  # whom a queue's KMS key is used for (decision 0165)
    mover: MessageMover | None = None  # the message move tasks (decision 0165)
    resources: list[str] = field(default_factory=list)
    # The request's X-Amzn-Trace-Id: kept as a sent message's AWSTraceHeader when the sender
    # names none, as SQS does, so Lambda reads the lineage it carries (decision 0328).
    trace_header: str | None = None

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = self.params.get(name)
        if value is None:
            if required:
                raise MissingParameter(f"The request must contain the parameter {name}.")
            return None
        if not isinstance(value, str):
            raise InvalidParameterValue(f"Value for parameter {name} is invalid.")
        return value

    def number(self, name: str) -> int | None:
        value = self.params.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidParameterValue(f"Value {value!r} for parameter {name} is invalid.")
        return value

    def strings(self, name: str) -> list[str]:
        value = self.params.get(name) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidParameterValue(f"Value for parameter {name} is invalid.")
        return value

    def mapping(self, name: str) -> dict[str, Any]:
        value = self.params.get(name) or {}
        if not isinstance(value, dict):
            raise InvalidParameterValue(f"Value for parameter {name} is invalid.")
        return value

    def url(self, queue: Queue) -> str:
        return f"{self.base_url}/{queue.tenant_id}/{queue.name}"

    async def queue(self, action: str) -> Queue:
        """The queue of ``QueueUrl``, the caller allowed ``action`` on it."""
        url = self.text("QueueUrl", required=True) or ""
        parts = [p for p in urlsplit(url).path.split("/") if p]
        if len(parts) != 2:
            raise SqsWireError("InvalidAddress", f"The address {url[:256]} is not valid.")
        return await self.reach(action, parts[0], parts[1])

    async def reach(self, action: str, account: str, name: str) -> Queue:
        """The queue ``account``/``name``, the caller allowed ``action`` on it: a queue of
        another account only by its policy, and QueueDoesNotExist rather than AccessDenied
        when it does not allow (decision 0165)."""
        if account == self.tenant_id:
            queue = await self.queues.get_queue(self.tenant_id, account, name)
            self.resources.append(queue.arn)
            await self.authorise(action, queue.arn, queue)
            return queue
        if action not in CROSS_ACCOUNT:
            raise QueueDoesNotExist()
        queue = await self.queues.get_queue(account, account, name)
        try:
            await self.authorise(action, queue.arn, queue)
        except SqsWireError as exc:
            raise QueueDoesNotExist() from exc
        self.resources.append(queue.arn)
        return queue


def _strings_map(value: Mapping[str, Any], name: str) -> dict[str, str]:
    if not all(isinstance(v, str) for v in value.values()):
        raise InvalidParameterValue(f"Value for parameter {name} is invalid.")
    return {str(k): str(v) for k, v in value.items()}


def _message_attributes(value: Any) -> dict[str, MessageAttribute]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidParameterValue("Value for parameter MessageAttributes is invalid.")
    return {str(k): MessageAttribute.from_json(str(k), v) for k, v in value.items()}


def _checked_attributes(call: SqsCall) -> dict[str, str]:
    attributes = _strings_map(call.mapping("Attributes"), "Attributes")
    check_policy(attributes.get("Policy", ""))
    return attributes


async def create_queue(call: SqsCall) -> dict[str, Any]:
    name = call.text("QueueName", required=True) or ""
    arn = queue_arn(call.queues.region, call.tenant_id, name)
    call.resources.append(arn)
    await call.authorise("sqs:CreateQueue", arn, None)
    tags = _strings_map(call.mapping("tags"), "tags")
    queue = await call.queues.create_queue(call.tenant_id, name, _checked_attributes(call), tags)
    return {"QueueUrl": call.url(queue)}


async def get_queue_url(call: SqsCall) -> dict[str, Any]:
    name = call.text("QueueName", required=True) or ""
    account = call.text("QueueOwnerAWSAccountId") or call.tenant_id
    if account == call.tenant_id:
        call.resources.append(queue_arn(call.queues.region, account, name))
    queue = await call.reach("sqs:GetQueueUrl", account, name)
    return {"QueueUrl": call.url(queue)}


async def list_queues(call: SqsCall) -> dict[str, Any]:
    await call.authorise("sqs:ListQueues", "*", None)
    found, token = await call.queues.list_queues(
        call.tenant_id,
        call.text("QueueNamePrefix") or "",
        call.text("NextToken"),
        call.number("MaxResults"),
    )
    answer: dict[str, Any] = {}
    if found:
        answer["QueueUrls"] = [call.url(queue) for queue in found]
    if token:
        answer["NextToken"] = token
    return answer


async def get_queue_attributes(call: SqsCall) -> dict[str, Any]:
    queue = await call.queue("sqs:GetQueueAttributes")
    shown = await call.queues.queue_attributes(queue, call.strings("AttributeNames"))
    return {"Attributes": shown} if shown else {}


async def set_queue_attributes(call: SqsCall) -> dict[str, Any]:
    queue = await call.queue("sqs:SetQueueAttributes")
    await call.queues.set_queue_attributes(queue, _checked_attributes(call))
    return {}


async def delete_queue(call: SqsCall) -> dict[str, Any]:
    await call.queues.delete_queue(await call.queue("sqs:DeleteQueue"))
    return {}


async def purge_queue(call: SqsCall) -> dict[str, Any]:
    await call.queues.purge_queue(await call.queue("sqs:PurgeQueue"))
    return {}


async def tag_queue(call: SqsCall) -> dict[str, Any]:
    queue = await call.queue("sqs:TagQueue")
    await call.queues.tag_queue(queue, _strings_map(call.mapping("Tags"), "Tags"))
    return {}


async def untag_queue(call: SqsCall) -> dict[str, Any]:
    queue = await call.queue("sqs:UntagQueue")
    await call.queues.untag_queue(queue, call.strings("TagKeys"))
    return {}


async def list_queue_tags(call: SqsCall) -> dict[str, Any]:
    queue = await call.queue("sqs:ListQueueTags")
    return {"Tags": dict(queue.tags)} if queue.tags else {}


async def list_dead_letter_source_queues(call: SqsCall) -> dict[str, Any]:
    queue = await call.queue("sqs:ListDeadLetterSourceQueues")
    names = await call.queues.dead_letter_sources(queue)
    return {"queueUrls": [f"{call.base_url}/{queue.tenant_id}/{name}" for name in names]}


def _fifo_ids(params: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """A send's MessageGroupId and MessageDeduplicationId (the service checks them against
    its queue's type: decision 0164)."""
    ids = params.get("MessageGroupId"), params.get("MessageDeduplicationId")
    for name, value in zip(("MessageGroupId", "MessageDeduplicationId"), ids, strict=True):
        if value is not None and not isinstance(value, str):
            raise InvalidParameterValue(f"Value for parameter {name} is invalid.")
    return ids


def _with_trace(call: SqsCall, system: dict[str, MessageAttribute]) -> dict[str, MessageAttribute]:
    if call.trace_header and "AWSTraceHeader" not in system:
        system["AWSTraceHeader"] = MessageAttribute("String", string_value=call.trace_header)
    return system


def _sent(result: SentMessage) -> dict[str, str]:
    answer = {"MessageId": result.message_id, "MD5OfMessageBody": result.md5_of_body}
    if result.md5_of_attributes:
        answer["MD5OfMessageAttributes"] = result.md5_of_attributes
    if result.md5_of_system_attributes:
        answer["MD5OfMessageSystemAttributes"] = result.md5_of_system_attributes
    if result.sequence_number:
        answer["SequenceNumber"] = result.sequence_number
    return answer


async def send_message(call: SqsCall) -> dict[str, Any]:
    queue = await call.queue("sqs:SendMessage")
    group_id, dedup_id = _fifo_ids(call.params)
    sent = await call.queues.send_message(
        queue,
        call.text("MessageBody", required=True) or "",
        _message_attributes(call.params.get("MessageAttributes")),
        _with_trace(call, _message_attributes(call.params.get("MessageSystemAttributes"))),
        call.number("DelaySeconds"),
        call.sender_id,
        group_id=group_id,
        dedup_id=dedup_id,
        caller=call.key_user,
    )
    return _sent(sent)


def _entries(call: SqsCall) -> list[dict[str, Any]]:
    entries = call.params.get("Entries")
    if entries is None:
        raise MissingParameter("The request must contain the parameter Entries.")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise InvalidParameterValue("Value for parameter Entries is invalid.")
    return entries


def _entry_id(entry: Mapping[str, Any]) -> str:
    value = entry.get("Id")
    return value if isinstance(value, str) else ""


def _failures(failed: list[BatchFailure]) -> list[dict[str, Any]]:
    answers = []
    for failure in failed:
        code = type(failure.error).__name__
        answers.append(
            {"Id": failure.id, "SenderFault": True, "Code": code, "Message": str(failure.error)}
        )
    return answers


async def send_message_batch(call: SqsCall) -> dict[str, Any]:
    queue = await call.queue("sqs:SendMessage")
    raws = _entries(call)
    # Ids are checked over the whole batch, the malformed entries' too.
    check_batch_ids([_entry_id(raw) for raw in raws])
    entries = []
    failed: list[BatchFailure] = []
    for raw in raws:
        entry_id = _entry_id(raw)
        try:
            group_id, dedup_id = _fifo_ids(raw)
            body = raw.get("MessageBody")
            delay = raw.get("DelaySeconds")
            if not isinstance(body, str) or (
                delay is not None and (isinstance(delay, bool) or not isinstance(delay, int))
            ):
                raise InvalidParameterValue("The entry's MessageBody or DelaySeconds is invalid.")
            entries.append(
                BatchEntry(
                    entry_id,
                    body,
                    _message_attributes(raw.get("MessageAttributes")),
                    _with_trace(call, _message_attributes(raw.get("MessageSystemAttributes"))),
                    delay,
                    group_id,
                    dedup_id,
                )
            )
        except QueueError as exc:
            failed.append(BatchFailure(entry_id, exc))
    sent, refused = (
        await call.queues.send_batch(queue, entries, call.sender_id, caller=call.key_user)
        if entries
        else ([], [])
    )
    successful = [{"Id": entry_id, **_sent(result)} for entry_id, result in sent]
    return {"Successful": successful, "Failed": _failures([*failed, *refused])}


def _millis(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


def _system_attributes(message: Delivered, wanted: set[str]) -> dict[str, str]:
    every = {
        "SenderId": message.payload.sender,
        "SentTimestamp": _millis(message.sent_at),
        "ApproximateReceiveCount": str(message.receive_count),
        "ApproximateFirstReceiveTimestamp": _millis(message.first_received_at),
    }
    trace = message.payload.system.get("AWSTraceHeader")
    if trace is not None and trace.string_value:
        every["AWSTraceHeader"] = trace.string_value
    if message.group_id is not None:
        # A FIFO queue's message (decision 0164).
        every["MessageGroupId"] = message.group_id
        every["MessageDeduplicationId"] = message.dedup_id or ""
        every["SequenceNumber"] = sequence_number(message.sequence)
    if "All" in wanted:
        return every
    return {name: value for name, value in every.items() if name in wanted}


def _selected(names: list[str], attributes: Mapping[str, MessageAttribute]) -> dict[str, Any]:
    """The message attributes ``MessageAttributeNames`` asks for: ``All``, ``.*``, a name, or
    a prefix ending in ``.*``."""
    chosen = {}
    for name, value in attributes.items():
        for pattern in names:
            if (
                pattern in ("All", ".*")
                or pattern == name
                or (pattern.endswith(".*") and name.startswith(pattern[:-1]))
            ):
                chosen[name] = value
                break
    return chosen


async def receive_message(call: SqsCall) -> dict[str, Any]:
    queue = await call.queue("sqs:ReceiveMessage")
    wanted = set(call.strings("AttributeNames")) | set(call.strings("MessageSystemAttributeNames"))
    names = call.strings("MessageAttributeNames")
    received = await call.queues.receive(
        queue,
        max_messages=call.number("MaxNumberOfMessages"),
        visibility=call.number("VisibilityTimeout"),
        wait=call.number("WaitTimeSeconds"),
        attempt_id=call.text("ReceiveRequestAttemptId"),
        caller=call.key_user,
    )
    messages = []
    for message in received:
        one: dict[str, Any] = {
            "MessageId": message.message_id,
            "ReceiptHandle": message.receipt_handle,
            "MD5OfBody": message.md5_of_body,
            "Body": message.payload.body,
        }
        system = _system_attributes(message, wanted)
        if system:
            one["Attributes"] = system
        chosen = _selected(names, message.payload.attributes)
        if chosen:
            one["MessageAttributes"] = {k: v.to_json() for k, v in chosen.items()}
            one["MD5OfMessageAttributes"] = attributes_md5(chosen)
        messages.append(one)
    return {"Messages": messages} if messages else {}


async def delete_message(call: SqsCall) -> dict[str, Any]:
    queue = await call.queue("sqs:DeleteMessage")
    await call.queues.delete_message(queue, call.text("ReceiptHandle", required=True) or "")
    return {}


async def delete_message_batch(call: SqsCall) -> dict[str, Any]:
    queue = await call.queue("sqs:DeleteMessage")
    pairs = []
    for raw in _entries(call):
        handle = raw.get("ReceiptHandle")
        pairs.append((_entry_id(raw), handle if isinstance(handle, str) else ""))
    done, failed = await call.queues.delete_batch(queue, pairs)
    return {"Successful": [{"Id": i} for i in done], "Failed": _failures(failed)}


async def change_message_visibility(call: SqsCall) -> dict[str, Any]:
    queue = await call.queue("sqs:ChangeMessageVisibility")
    timeout = call.number("VisibilityTimeout")
    if timeout is None:
        raise MissingParameter("The request must contain the parameter VisibilityTimeout.")
    await call.queues.change_visibility(
        queue, call.text("ReceiptHandle", required=True) or "", timeout
    )
    return {}


async def change_message_visibility_batch(call: SqsCall) -> dict[str, Any]:
    queue = await call.queue("sqs:ChangeMessageVisibility")
    triples = []
    for raw in _entries(call):
        handle = raw.get("ReceiptHandle")
        timeout = raw.get("VisibilityTimeout")
        triples.append(
            (
                _entry_id(raw),
                handle if isinstance(handle, str) else "",
                timeout if isinstance(timeout, int) and not isinstance(timeout, bool) else -1,
            )
        )
    done, failed = await call.queues.change_visibility_batch(queue, triples)
    return {"Successful": [{"Id": i} for i in done], "Failed": _failures(failed)}


ACTIONS: Final[dict[str, Callable[[SqsCall], Awaitable[dict[str, Any]]]]] = {
    "AddPermission": add_permission,
    "CancelMessageMoveTask": cancel_message_move_task,
    "ListMessageMoveTasks": list_message_move_tasks,
    "RemovePermission": remove_permission,
    "StartMessageMoveTask": start_message_move_task,
    "ChangeMessageVisibility": change_message_visibility,
    "ChangeMessageVisibilityBatch": change_message_visibility_batch,
    "CreateQueue": create_queue,
    "DeleteMessage": delete_message,
    "DeleteMessageBatch": delete_message_batch,
    "DeleteQueue": delete_queue,
    "GetQueueAttributes": get_queue_attributes,
    "GetQueueUrl": get_queue_url,
    "ListDeadLetterSourceQueues": list_dead_letter_source_queues,
    "ListQueueTags": list_queue_tags,
    "ListQueues": list_queues,
    "PurgeQueue": purge_queue,
    "ReceiveMessage": receive_message,
    "SendMessage": send_message,
    "SendMessageBatch": send_message_batch,
    "SetQueueAttributes": set_queue_attributes,
    "TagQueue": tag_queue,
    "UntagQueue": untag_queue,
}
# SQS actions botocore knows that are not served: answered UnsupportedOperation, never 200.
NOT_SERVED: Final[frozenset[str]] = frozenset()
