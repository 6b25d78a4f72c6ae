"""Where EventBridge Pipes meets its sources (decision 0258): the ``pipes.runner.PipeSource``
over the platform's SQS queues, Kinesis data streams and DynamoDB streams, read as the pipe's role
(``pipe_roles``), each event in the shape AWS gives a pipe (Lambda's event source shape).

- **SQS.** The role's identity policies must allow ``sqs:ReceiveMessage``,
  ``sqs:DeleteMessage`` and ``sqs:GetQueueAttributes`` on the queue (AWS's documented pipe
  role). A batch is received (10 messages a call, up to ``BatchSize``) under the queue's own
  visibility timeout, its messages deleted once done with; a queue under a KMS key is opened
  as the role (``kms:Decrypt`` judged by the key's policy, as a ReceiveMessage of its own).

The streams are read by ``stream_reading.StreamReader`` (shared with Lambda's event source
mappings, decision 0301) once the role is judged here:

- **Kinesis.** The role must be allowed ``kinesis:DescribeStream`` (or ``ListShards``),
  ``kinesis:GetShardIterator`` and ``kinesis:GetRecords``. Each shard is read from its
  checkpoint (after the last sequence number sent), else from its ``StartingPosition``:
  TRIM_HORIZON, AT_TIMESTAMP, or LATEST — the records that arrived since the pipe was made;
  parents first across a reshard (a child waits while a parent has records left).
- **DynamoDB.** The role must be allowed ``dynamodb:DescribeStream``,
  ``dynamodb:GetShardIterator`` and ``dynamodb:GetRecords`` on the stream. Its shards are
  read parents first (decision 0275), each from its checkpoint, else TRIM_HORIZON or
  LATEST (the changes since the pipe was made); each record as Lambda sees it
  (``eventName``, ``dynamodb.Keys``, ``NewImage``…,
  ``eventSourceARN``). A checkpoint past the retention reads from the oldest record kept.
- **Dead letters.** A stream batch given up is described, as AWS describes it (the shard, the
  sequence numbers and arrival times of its first and last records, the reason; no data:
  ``KinesisBatchInfo``, a DynamoDB stream's ``DDBStreamBatchInfo``), in
  a message sent to the ``DeadLetterConfig`` queue as the role (``sqs:SendMessage``).

A source the role may not read, or that is gone, is ``EndpointRefused``: the runner says it
and tries again at its next pass.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Final

from andromede.dynamodb.stream_service import DynamoStreams
from andromede.iam.model import Principal
from andromede.kinesis.service import KinesisService
from andromede.pipe_roles import PipeRoles
from andromede.pipes.errors import EndpointRefused
from andromede.pipes.model import Pipe
from andromede.pipes.runner import SourceBatch, SourceEvent
from andromede.queues.errors import QueueDoesNotExist, QueueError
from andromede.queues.model import Queue
from andromede.queues.service import Delivered, QueueService
from andromede.sqsapi.authorise import KeyUser
from andromede.stream_reading import StreamCursor, StreamReader, batch_info

__all__ = ["PipeSources", "queue_of", "sqs_event"]

_SQS_RECEIVE: Final = 10  # ReceiveMessage's own ceiling
_SQS_READ: Final = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
_DYNAMODB_READ: Final = (
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
)
_KINESIS_READ: Final = (
    ("kinesis:DescribeStream", "kinesis:ListShards"),
    ("kinesis:GetShardIterator",),
    ("kinesis:GetRecords",),
)


def _resource(arn: str, prefix: str = "") -> tuple[str, str]:
    """(account, resource name) of an ARN."""
    parts = arn.split(":", 5)
    return parts[4], parts[5].removeprefix(prefix)


async def queue_of(queues: QueueService, arn: str) -> Queue:
    """The queue ``arn`` names among ``queues`` (a Region's: one of another Region's ARN,
    decision 0414, is none of them, never a namesake)."""
    account, name = _resource(arn)
    try:
        if arn.split(":", 5)[3] != queues.region:
            raise QueueDoesNotExist()
        return await queues.get_queue(account, account, name)
    except QueueError:
        raise EndpointRefused("NO_RESOURCE", f"the queue {arn[:512]} does not exist") from None


def _ms(moment: Any) -> str:
    return str(int(moment.timestamp() * 1000))


def _trace(message: Delivered) -> str | None:
    """The message's ``AWSTraceHeader`` (its sender's trace header), if it has one."""
    trace = message.payload.system.get("AWSTraceHeader")
    return trace.string_value if trace is not None and trace.string_value else None


def sqs_event(message: Delivered, queue: Queue) -> dict[str, Any]:
    """A received message as a pipe (and Lambda) sees it."""
    attributes: dict[str, Any] = {}
    for name, value in message.payload.attributes.items():
        shaped: dict[str, Any] = {
            "dataType": value.data_type,
            "stringListValues": [],
            "binaryListValues": [],
        }
        if value.binary_value is not None:
            shaped["binaryValue"] = base64.b64encode(value.binary_value).decode()
        else:
            shaped["stringValue"] = value.string_value
        attributes[name] = shaped
    system = {
        "ApproximateReceiveCount": str(message.receive_count),
        "SentTimestamp": _ms(message.sent_at),
        "SenderId": message.payload.sender,
        "ApproximateFirstReceiveTimestamp": _ms(message.first_received_at),
    }
    trace = _trace(message)
    if trace is not None:  # its lineage, for Lambda (decision 0328)
        system["AWSTraceHeader"] = trace
    if message.group_id is not None:
        system["MessageGroupId"] = message.group_id
        system["SequenceNumber"] = str(message.sequence)
    if message.dedup_id is not None:
        system["MessageDeduplicationId"] = message.dedup_id
    return {
        "messageId": message.message_id,
        "receiptHandle": message.receipt_handle,
        "body": message.payload.body,
        "attributes": system,
        "messageAttributes": attributes,
        "md5OfBody": message.md5_of_body,
        "eventSource": "aws:sqs",
        "eventSourceARN": queue.arn,
        "awsRegion": queue.region,
    }


class PipeSources:
    """``pipes.runner.PipeSource`` over the queues and the Kinesis ``kinesis()`` gives (None:
    not served, or not yet made by ``serve``)."""

    def __init__(
        self,
        roles: PipeRoles,
        queues: QueueService,
        kinesis: Callable[[], KinesisService | None],
        region: str,
        dynamodb: Callable[[], DynamoStreams | None] = lambda: None,
    ) -> None:
        self._roles = roles
        self._queues = queues
        self._kinesis = kinesis
        self._region = region
        self._dynamodb = dynamodb
        self._streams = StreamReader(kinesis, dynamodb, region)

    def _key_user(self, session: Principal) -> KeyUser:
        return KeyUser(session, None, True, uuid.uuid4().hex.upper()[:16])

    async def read(self, pipe: Pipe, checkpoints: dict[str, str], limit: int) -> list[SourceBatch]:
        session = await self._roles.session(pipe)
        if pipe.source_kind == "sqs":
            return await self._read_queue(pipe, session, limit)
        if pipe.source_kind == "kinesis":
            return await self._read_kinesis(pipe, session, checkpoints, limit)
        if pipe.source_kind == "dynamodb":
            return await self._read_dynamodb(pipe, session, checkpoints, limit)
        raise EndpointRefused("NO_RESOURCE", f"the source {pipe.source[:512]} cannot be read")

    async def _read_queue(self, pipe: Pipe, session: Principal, limit: int) -> list[SourceBatch]:
        queue = await queue_of(self._queues, pipe.source)
        for action in _SQS_READ:
            await self._roles.require(session, action, queue.arn)
        events: list[SourceEvent] = []
        while len(events) < limit:
            try:
                received = await self._queues.receive(
                    queue,
                    max_messages=min(_SQS_RECEIVE, limit - len(events)),
                    visibility=None,
                    wait=0,
                    caller=self._key_user(session),
                )
            except QueueError as exc:  # its key refuses the role, for instance
                raise EndpointRefused("NO_PERMISSIONS", str(exc)[:512]) from None
            events += [
                SourceEvent(
                    sqs_event(m, queue),
                    receipt=m.receipt_handle,
                    arrived=int(m.sent_at.timestamp() * 1000),
                    trace=_trace(m),
                )
                for m in received
            ]
            if len(received) < _SQS_RECEIVE:
                break
        return [SourceBatch(events)] if events else []

    async def acknowledge(self, pipe: Pipe, events: Sequence[SourceEvent]) -> None:
        if pipe.source_kind != "sqs":
            return
        queue = await queue_of(self._queues, pipe.source)
        for one in events:
            if one.receipt is not None:
                try:
                    await self._queues.delete_message(queue, one.receipt)
                except QueueError:  # its receipt expired: the message comes back, as on AWS
                    continue

    def _cursor(self, pipe: Pipe, member: str) -> StreamCursor:
        params = pipe.source_parameters.get(member, {})
        stamp = params.get("StartingPositionTimestamp")
        return StreamCursor(
            tenant_id=pipe.tenant_id,
            arn=pipe.source,
            kind=pipe.source_kind,
            starting_position=str(params.get("StartingPosition", "LATEST")),
            since=pipe.created,  # LATEST: what arrived since the pipe was made
            identity_arn=pipe.role_arn,
            timestamp=None if stamp is None else float(stamp),
        )

    async def _read_kinesis(
        self, pipe: Pipe, session: Principal, checkpoints: dict[str, str], limit: int
    ) -> list[SourceBatch]:
        if self._kinesis() is None:
            raise EndpointRefused("NO_RESOURCE", "Kinesis is not served by this deployment")
        for group in _KINESIS_READ:
            refusals = 0
            for action in group:
                try:
                    await self._roles.require(session, action, pipe.source)
                except EndpointRefused:
                    refusals += 1
            if refusals == len(group):
                await self._roles.require(session, group[0], pipe.source)
        cursor = self._cursor(pipe, "KinesisStreamParameters")
        return await self._streams.read(cursor, checkpoints, limit)

    async def _read_dynamodb(
        self, pipe: Pipe, session: Principal, checkpoints: dict[str, str], limit: int
    ) -> list[SourceBatch]:
        if self._dynamodb() is None:
            raise EndpointRefused("NO_RESOURCE", "DynamoDB is not served by this deployment")
        for action in _DYNAMODB_READ:
            await self._roles.require(session, action, pipe.source)
        cursor = self._cursor(pipe, "DynamoDBStreamParameters")
        return await self._streams.read(cursor, checkpoints, limit)

    async def dead_letter(self, pipe: Pipe, batch: SourceBatch, why: str) -> None:
        member = next(
            (
                m
                for m in pipe.source_parameters.values()
                if isinstance(m, dict) and "DeadLetterConfig" in m
            ),
            None,
        )
        if member is None or not batch.events:
            return
        arn = member["DeadLetterConfig"]["Arn"]
        arrived = batch.events[0].arrived / 1000
        body = json.dumps(
            {
                "requestContext": {
                    "requestId": str(uuid.uuid4()),
                    "functionArn": pipe.arn,
                    "condition": "RetryAttemptsExhausted"
                    if why == "MaximumRetryAttempts"
                    else "RecordAgeExceeded",
                    "approximateInvokeCount": 1,
                },
                "version": "1.0",
                "timestamp": arrived,
            }
            | batch_info(pipe.source_kind, batch, pipe.source)
        )
        session = await self._roles.session(pipe)
        queue = await queue_of(self._queues, arn)
        await self._roles.require(session, "sqs:SendMessage", queue.arn)
        sender = f"{session.user_id}:{session.session_name}"
        await self._queues.send_message(
            queue, body, {}, {}, None, sender, caller=self._key_user(session)
        )
