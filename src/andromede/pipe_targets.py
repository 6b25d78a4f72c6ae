"""Where EventBridge Pipes meets its targets (decision 0258): the ``pipes.runner.PipeTarget``
that sends each event, as the pipe's template made it, to the pipe's target as its role
(``pipe_roles``), whose identity policies must allow what AWS's documented pipe role names:

- an SQS queue: ``sqs:SendMessage`` (a FIFO queue's ``MessageGroupId`` and
  ``MessageDeduplicationId`` from ``SqsQueueParameters``; the event's id otherwise);
- an SNS topic: ``sns:Publish``;
- a Kinesis data stream: ``kinesis:PutRecord`` (its ``PartitionKey``);
- a Firehose stream: ``firehose:PutRecord``;
- an EventBridge event bus: ``events:PutEvents`` (the payload as the event's ``detail``, its
  ``Source`` and ``DetailType`` from ``EventBridgeEventBusParameters``, else AWS's
  ``Pipe <name>`` and ``Event from <source>``);
- an API destination: ``events:InvokeApiDestination``, invoked by EventBridge's own invoker
  (its connection's authorization, the egress guard, the pacing) with the pipe's
  ``HttpParameters``;
- a CloudWatch Logs log group (decision 0277): ``logs:CreateLogStream`` and
  ``logs:PutLogEvents`` on the stream (``CloudWatchLogsParameters.LogStreamName``, else the
  pipe's name), each event one log event through the Logs service's put path
  (``log_group_targets``).

A parameter may be a JSON path into the event (``$.body.group``), as AWS's dynamic
parameters (an API destination's path, header and query string values too, decision 0268).
A target gone, or refusing the role, is ``EndpointRefused``; a failure worth another try (a
full shard, a stream being made) is any other exception.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any, Final, Protocol

from andromede.events.dispatcher import DeliveryRefused
from andromede.events.model import Target
from andromede.events.service import EventsService
from andromede.events.transform import is_missing, read_path
from andromede.eventsapi.put_events_access import put_events_keys
from andromede.firehose import errors as firehose_errors
from andromede.firehose.service import FirehoseService
from andromede.iam.model import Principal
from andromede.kinesis import errors as kinesis_errors
from andromede.kinesis.service import Entry, KinesisService
from andromede.kms.keys_interface import Caller
from andromede.log_group_targets import LogTargetWriter, log_group_name, pipe_log_event
from andromede.logs.model import stream_arn
from andromede.notifications.errors import NotificationError
from andromede.notifications.pubsub import PubSubService
from andromede.pipe_roles import PipeRoles
from andromede.pipe_sources import queue_of
from andromede.pipes.errors import EndpointRefused
from andromede.pipes.model import Pipe
from andromede.queues.errors import QueueError
from andromede.queues.fifo import is_fifo
from andromede.queues.model import TRACE_HEADER, MessageAttribute
from andromede.queues.service import QueueService
from andromede.sqsapi.authorise import KeyUser

__all__ = ["ApiInvoke", "PipeTargets", "dynamic_http", "dynamic_value"]


class ApiInvoke(Protocol):
    """EventBridge's invoker of API destinations: ``message`` to ``target``, its role taken
    for the pipe ``source_arn`` (decision 0321)."""

    async def __call__(
        self,
        tenant_id: str,
        target: Target,
        message: str,
        *,
        source_arn: str | None = None,
        trace: str | None = None,
    ) -> None: ...


_SOURCES: Final = {"sqs": "aws:sqs", "kinesis": "aws:kinesis", "dynamodb": "aws:dynamodb"}


def dynamic_value(value: str | None, event: dict[str, Any]) -> str | None:
    """A parameter's value, read from the event when it is a JSON path."""
    if value is None or not value.startswith("$."):
        return value
    found = read_path(event, value)
    if is_missing(found) or found is None:
        raise EndpointRefused("INVALID_PARAMETER", f"the event has no value at {value[:256]}")
    return found if isinstance(found, str) else json.dumps(found, separators=(",", ":"))


def dynamic_http(params: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """``HttpParameters`` with their path, header and query string values that are JSON paths
    read from the event (decision 0268)."""
    http = dict(params)
    if "PathParameterValues" in http:
        http["PathParameterValues"] = [dynamic_value(p, event) for p in http["PathParameterValues"]]
    for name in ("HeaderParameters", "QueryStringParameters"):
        if name in http:
            http[name] = {k: dynamic_value(v, event) for k, v in http[name].items()}
    return http


def _now_ms() -> int:
    return int(time.time() * 1000)


def _event_id(event: dict[str, Any]) -> str:
    return str(event.get("messageId") or event.get("eventID") or uuid.uuid4())


class PipeTargets:
    def __init__(
        self,
        roles: PipeRoles,
        queues: QueueService,
        pubsub: PubSubService | None,
        events: EventsService | None,
        kinesis: Callable[[], KinesisService | None],
        firehose: Callable[[], FirehoseService | None],
        invoke_api: ApiInvoke | None,
        region: str,
        logs: LogTargetWriter | None = None,
    ) -> None:
        self._roles = roles
        self._queues = queues
        self._pubsub = pubsub
        self._events = events
        self._kinesis = kinesis
        self._firehose = firehose
        self._invoke_api = invoke_api
        self._region = region
        self._logs = logs

    async def send(
        self, pipe: Pipe, payload: str, event: dict[str, Any], *, trace: str | None = None
    ) -> None:
        """``payload`` to the target; ``trace`` (the source message's trace header) goes on
        with it to a queue, a topic or a bus, as the next step of its chain (decision 0351),
        and to an API destination as its request's ``X-Amzn-Trace-Id`` (decision 0364)."""
        session = await self._roles.session(pipe)
        kind = pipe.target_kind
        if kind == "sqs":
            await self._to_queue(pipe, session, payload, event, trace)
        elif kind == "sns":
            await self._roles.require(session, "sns:Publish", pipe.target)
            if self._pubsub is None:
                raise EndpointRefused("NO_RESOURCE", "SNS is not served by this deployment")
            try:
                await self._pubsub.publish(
                    pipe.tenant_id, pipe.target, payload, None, {}, None, trace=trace
                )
            except NotificationError as exc:
                raise EndpointRefused("NO_RESOURCE", str(exc)[:512]) from None
        elif kind == "kinesis":
            await self._roles.require(session, "kinesis:PutRecord", pipe.target)
            await self._to_kinesis(pipe, session, payload, event)
        elif kind == "firehose":
            await self._roles.require(session, "firehose:PutRecord", pipe.target)
            await self._to_firehose(pipe, payload)
        elif kind == "event-bus":
            if self._events is None:
                raise EndpointRefused("NO_RESOURCE", "EventBridge is not served by this deployment")
            entry = _bus_entry(pipe, payload) | ({"TraceHeader": trace} if trace else {})
            # The entry's keys, as PutEvents gives them (decision 0318).
            keys = put_events_keys(entry["Source"], entry["DetailType"])
            await self._roles.require(session, "events:PutEvents", pipe.target, keys)
            await self._to_bus(self._events, pipe, entry)
        elif kind == "api-destination":
            await self._roles.require(session, "events:InvokeApiDestination", pipe.target)
            await self._to_api(pipe, payload, event, trace)
        elif kind == "logs":
            await self._to_log_group(pipe, session, payload, event)
        else:
            raise EndpointRefused("NO_RESOURCE", f"the target {pipe.target[:512]} is not served")

    async def _to_queue(
        self,
        pipe: Pipe,
        session: Principal,
        payload: str,
        event: dict[str, Any],
        trace: str | None = None,
    ) -> None:
        queue = await queue_of(self._queues, pipe.target)
        await self._roles.require(session, "sqs:SendMessage", queue.arn)
        params = pipe.target_parameters.get("SqsQueueParameters", {})
        fifo = is_fifo(queue)
        group = dynamic_value(params.get("MessageGroupId"), event) if fifo else None
        dedup = (
            dynamic_value(params.get("MessageDeduplicationId"), event) or _event_id(event)
            if fifo
            else None
        )
        # The source message's trace, kept as the new one's (decision 0351).
        system = (
            {} if trace is None else {TRACE_HEADER: MessageAttribute("String", string_value=trace)}
        )
        try:
            await self._queues.send_message(
                queue,
                payload,
                {},
                system,
                None,
                f"{session.user_id}:{session.session_name}",
                group_id=group,
                dedup_id=dedup,
                caller=KeyUser(session, None, True, uuid.uuid4().hex.upper()[:16]),
            )
        except QueueError as exc:  # too large, no group, its key refuses the role…
            raise EndpointRefused("INVALID_PARAMETER", str(exc)[:512]) from None

    async def _to_kinesis(
        self, pipe: Pipe, session: Principal, payload: str, event: dict[str, Any]
    ) -> None:
        kinesis = self._kinesis()
        if kinesis is None:
            raise EndpointRefused("NO_RESOURCE", "Kinesis is not served by this deployment")
        params = pipe.target_parameters.get("KinesisStreamParameters", {})
        key = dynamic_value(params.get("PartitionKey"), event) or _event_id(event)
        caller = Caller(
            account_id=pipe.tenant_id,
            arn=session.arn,
            principal=session,
            secure=True,
            via_service=f"kinesis.{self._region}.amazonaws.com",
        )
        name = pipe.target.split(":", 5)[5].removeprefix("stream/")
        try:
            _, (outcome,) = await kinesis.put(
                pipe.tenant_id, name, [Entry(key[:256], payload.encode())], caller
            )
        except kinesis_errors.StreamNotFound as exc:
            raise EndpointRefused("NO_RESOURCE", str(exc)[:512]) from None
        except kinesis_errors.InvalidArgument as exc:
            raise EndpointRefused("INVALID_PARAMETER", str(exc)[:512]) from None
        if outcome.error is not None:
            raise RuntimeError(f"THROTTLING: {outcome.error[1]}")  # retried at the next pass

    async def _to_firehose(self, pipe: Pipe, payload: str) -> None:
        firehose = self._firehose()
        if firehose is None:
            raise EndpointRefused("NO_RESOURCE", "Firehose is not served by this deployment")
        name = pipe.target.split(":", 5)[5].removeprefix("deliverystream/")
        try:
            (result,) = await firehose.put(pipe.tenant_id, name, [payload.encode()])
        except firehose_errors.StreamNotFound as exc:
            raise EndpointRefused("NO_RESOURCE", str(exc)[:512]) from None
        if result.error_code is not None:
            raise RuntimeError(f"{result.error_code}: {result.error_message}")

    async def _to_bus(self, events: EventsService, pipe: Pipe, entry: dict[str, Any]) -> None:
        (result,) = await events.put_events(pipe.tenant_id, [entry])
        if result.error_code is not None:
            raise EndpointRefused(result.error_code, result.error_message or "")

    async def _to_log_group(
        self, pipe: Pipe, session: Principal, payload: str, event: dict[str, Any]
    ) -> None:
        name = log_group_name(pipe.target, pipe.tenant_id, self._region)
        if self._logs is None or name is None:
            raise EndpointRefused("NO_RESOURCE", "CloudWatch Logs is not served by this deployment")
        params = pipe.target_parameters.get("CloudWatchLogsParameters", {})
        stream = params.get("LogStreamName") or pipe.name
        resource = stream_arn(self._region, pipe.tenant_id, name, stream)
        await self._roles.require(session, "logs:CreateLogStream", resource)
        await self._roles.require(session, "logs:PutLogEvents", resource)
        try:  # the Timestamp path reads the payload when it is a JSON object, else the event
            document = json.loads(payload)
        except ValueError:
            document = None
        try:
            log_event = pipe_log_event(
                params, payload, document if isinstance(document, dict) else event, _now_ms()
            )
            await self._logs.require_group(pipe.tenant_id, name)
            await self._logs.write(pipe.tenant_id, name, stream, log_event)
        except DeliveryRefused as exc:
            raise EndpointRefused(exc.code, str(exc)[:512]) from None

    async def _to_api(
        self, pipe: Pipe, payload: str, event: dict[str, Any], trace: str | None = None
    ) -> None:
        if self._invoke_api is None:
            raise EndpointRefused("NO_RESOURCE", "API destinations are not served here")
        http = dynamic_http(pipe.target_parameters.get("HttpParameters") or {}, event)
        target = Target("pipe", pipe.target, {"RoleArn": pipe.role_arn, "HttpParameters": http})
        try:
            await self._invoke_api(
                pipe.tenant_id, target, payload, source_arn=pipe.arn, trace=trace
            )
        except DeliveryRefused as exc:
            raise EndpointRefused(exc.code, str(exc)[:512]) from None


def _bus_entry(pipe: Pipe, payload: str) -> dict[str, Any]:
    """The PutEvents entry a pipe sends its bus target: the payload as the event's detail."""
    params = pipe.target_parameters.get("EventBridgeEventBusParameters", {})
    try:
        detail = json.loads(payload)
    except ValueError:
        detail = None
    if not isinstance(detail, dict):
        raise EndpointRefused("INVALID_PARAMETER", "an event's detail must be a JSON object")
    entry: dict[str, Any] = {
        "Source": params.get("Source") or f"Pipe {pipe.name}",
        "DetailType": params.get("DetailType")
        or f"Event from {_SOURCES.get(pipe.source_kind, pipe.source_kind)}",
        "Detail": payload,
        "EventBusName": pipe.target,
        "Resources": list(params.get("Resources") or []),
    }
    return entry
