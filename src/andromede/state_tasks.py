"""Where Step Functions' Task states meet the platform's services (decision 0271): the
``stepfunctions.interpreter.TaskRunner`` that calls an integration as the state machine's
role — assumed by ``states.amazonaws.com``, which the role must trust — once the role's
identity policies allow the call, each call audited as the role's session (``invoked_by``
``states.amazonaws.com``):

- ``arn:aws:states:::sqs:sendMessage``: ``sqs:SendMessage`` on the queue (``QueueUrl``,
  ``MessageBody`` — a JSON value is sent as its text —, ``DelaySeconds``, a FIFO queue's
  ``MessageGroupId`` and ``MessageDeduplicationId``); answers ``MessageId``,
  ``MD5OfMessageBody`` (``SequenceNumber``);
- ``arn:aws:states:::sns:publish``: ``sns:Publish`` on ``TopicArn`` (``Message``, ``Subject``);
  answers ``MessageId``;
- ``arn:aws:states:::events:putEvents``: ``events:PutEvents`` on each entry's bus
  (``Entries``: ``Source``, ``DetailType``, ``Detail`` — an object is sent as its text —,
  ``EventBusName``, ``Resources``); answers ``Entries`` and ``FailedEntryCount``;
- ``arn:aws:states:::states:startExecution``: ``states:StartExecution`` on the machine
  (``StateMachineArn``, ``Input``, ``Name``); answers ``ExecutionArn`` and ``StartDate``;
- ``arn:aws:states:::dynamodb:putItem|getItem|updateItem|deleteItem``: the DynamoDB API
  itself, called in process as the role's session (the principal in place of a signature,
  as the console calls the APIs), so DynamoDB decides, seals, meters and audits as for any
  caller; the parameters and the answer are its API's (``TableName``, ``Item``, ``Key``,
  expressions…), its error ``DynamoDB.<type>`` (``DynamoDB.ConditionalCheckFailedException``);
- ``arn:aws:states:::lambda:invoke`` and a function's ARN as the resource: Lambda's Invoke
  called in process as the role's session (decision 0294, ``state_lambda``).

A refusal is the integration's error (``SQS.AccessDeniedException``,
``SNS.NotFoundException``…), which ``States.TaskFailed`` and ``States.ALL`` catch; a resource
not served is ``States.Runtime``, saying so. ``states:startExecution.sync`` (and ``.sync:2``)
starts the child with the parent's task token: the parent stays parked until the child ends,
its DescribeExecution the task's output (or ``States.TaskFailed``).

Each call carries the execution's trace header (its caller's, decision 0351): Lambda's
invocations as ``X-Amzn-Trace-Id``, an SQS message as its ``AWSTraceHeader``, SNS's and
EventBridge's deliveries, a child execution's ``traceHeader``, so that Lambda's recursive
loop detection counts a chain through a state machine.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.events.service import EventsService
from andromede.eventsapi.put_events_access import put_events_keys
from andromede.http.asgi import TRUSTED_PRINCIPAL_SCOPE_KEY, request_in_process
from andromede.http.response import Receive, Scope, Send
from andromede.iam.model import Principal
from andromede.iam.policy import ContextValue
from andromede.iam.service import IdentityService
from andromede.iam.service_roles import ServiceRoleSessions, TrustSource
from andromede.notifications.errors import NotificationError
from andromede.notifications.pubsub import PubSubService
from andromede.queues.errors import QueueError
from andromede.queues.model import TRACE_HEADER, MessageAttribute
from andromede.queues.service import QueueService
from andromede.sqsapi.authorise import KeyUser
from andromede.state_lambda import FUNCTION_ARN, invoke_as_task, invoke_legacy
from andromede.stepfunctions.distributed_map import MapRunHost
from andromede.stepfunctions.errors import StepFunctionsError
from andromede.stepfunctions.executions import EXECUTION_TRACE
from andromede.stepfunctions.interpreter import StatesError

__all__ = ["STATES_PRINCIPAL", "StateTasks", "call_in_process"]

STATES_PRINCIPAL: Final = "states.amazonaws.com"
_PREFIX: Final = "arn:aws:states:::"
StartExecution = Callable[[str, dict[str, Any], dict[str, Any] | None], Awaitable[tuple[str, int]]]
_SYNC: Final = {
    "states:startExecution.sync": "sync",
    "states:startExecution.sync:2": "sync:2",
}
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]
RoleSessions = Callable[[Mapping[str, Any]], Awaitable[Principal]]
_DYNAMODB: Final = {
    "dynamodb:putItem": "PutItem",
    "dynamodb:getItem": "GetItem",
    "dynamodb:updateItem": "UpdateItem",
    "dynamodb:deleteItem": "DeleteItem",
}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


class StateTasks:
    def __init__(
        self,
        identity: IdentityService,
        audit: AuditService | None,
        region: str,
        queues: QueueService | None = None,
        pubsub: PubSubService | None = None,
        events: EventsService | None = None,
        start_execution: StartExecution | None = None,
        dynamodb: Callable[[], AsgiApp | None] = lambda: None,
        lambdas: Callable[[], AsgiApp | None] = lambda: None,
        map_runs: Callable[[RoleSessions], MapRunHost] | None = None,
    ) -> None:
        self._roles = ServiceRoleSessions(identity, STATES_PRINCIPAL, region)
        self._audit = audit
        self._region = region
        self._queues = queues
        self._pubsub = pubsub
        self._events = events
        self._start_execution = start_execution
        self._dynamodb = dynamodb
        self._lambda = lambdas
        # Made with this runner's role sessions: a Map run reads and writes S3 as the role.
        self._map_runs = None if map_runs is None else map_runs(self.role_session)

    def map_runs(self) -> MapRunHost | None:
        """What distributed Maps read, write and record through (decision 0322)."""
        return self._map_runs

    async def role_session(self, context: Mapping[str, Any]) -> Principal:
        """The state machine's role, assumed by Step Functions for ``context``'s execution."""
        return await self._session(dict(context))

    async def run(self, resource: str, parameters: Any, context: dict[str, Any]) -> Any:
        integration = resource.removeprefix(_PREFIX) if resource.startswith(_PREFIX) else ""
        params = parameters if isinstance(parameters, dict) else {}
        session = await self._session(context)
        trace = EXECUTION_TRACE.get()
        if integration == "sqs:sendMessage" and self._queues is not None:
            return await self._send_message(self._queues, session, params, trace)
        if integration == "sns:publish" and self._pubsub is not None:
            return await self._publish(self._pubsub, session, params, trace)
        if integration == "events:putEvents" and self._events is not None:
            return await self._put_events(self._events, session, params, trace)
        if integration == "states:startExecution" and self._start_execution is not None:
            return await self._start(self._start_execution, session, params, None)
        if integration in _SYNC and self._start_execution is not None:
            token = str(context.get("Task", {}).get("Token", ""))
            parent = {"token": token, "mode": _SYNC[integration]}
            return await self._start(self._start_execution, session, params, parent)
        dynamodb = self._dynamodb()
        if integration in _DYNAMODB and dynamodb is not None:
            return await self._dynamodb_call(dynamodb, _DYNAMODB[integration], session, params)
        functions = self._lambda()
        if functions is not None and integration == "lambda:invoke":
            return await invoke_as_task(functions, session, params, trace)
        if functions is not None and FUNCTION_ARN.fullmatch(resource):
            return await invoke_legacy(functions, session, resource, parameters, trace)
        raise StatesError(
            "States.Runtime",
            f"The resource {resource[:256]} is not served by this platform yet",
        )

    async def _session(self, context: dict[str, Any]) -> Principal:
        execution = context.get("Execution", {})
        role_arn = str(execution.get("RoleArn", ""))
        account = str(execution.get("Id", "")).split(":")[4:5] or [""]
        name = str(execution.get("Name", "execution"))
        # Decision 0321: the trust policy sees the state machine as aws:SourceArn.
        machine = str(context.get("StateMachine", {}).get("Id", ""))
        source = TrustSource.of(machine) if machine else TrustSource(account=account[0])
        session = await self._roles.session(account[0], role_arn, name, source)
        if session is None:
            raise StatesError(
                "States.TaskFailed",
                f"{STATES_PRINCIPAL} may not assume the role {role_arn[:512]}",
            )
        return session

    async def _require(
        self,
        session: Principal,
        service: str,
        action: str,
        arn: str,
        keys: Mapping[str, ContextValue] | None = None,
    ) -> None:
        allowed = await self._roles.allowed(session, action, arn, keys=keys)
        self._audited(session, action, arn, allowed)
        if not allowed:
            raise StatesError(
                f"{service}.AccessDeniedException",
                f"User: {session.arn} is not authorized to perform: {action} on resource: "
                f"{arn[:512]}",
            )

    def _audited(self, session: Principal, action: str, arn: str, allowed: bool) -> None:
        if self._audit is None:
            return
        self._audit.record(
            request_id=uuid.uuid4().hex,
            tenant_id=session.tenant_id,
            principal=session.arn,
            action=action,
            resource=arn[:512],
            outcome=Outcome.SUCCESS if allowed else Outcome.FAILURE,
            details={"invoked_by": STATES_PRINCIPAL},
        )

    async def _send_message(
        self,
        queues: QueueService,
        session: Principal,
        params: Mapping[str, Any],
        trace: str | None,
    ) -> Any:
        url = str(params.get("QueueUrl", ""))
        parts = url.rstrip("/").split("/")
        account, name = (parts[-2], parts[-1]) if len(parts) >= 2 else ("", "")
        try:
            queue = await queues.get_queue(account, account, name)
        except QueueError as exc:
            raise StatesError("SQS.QueueDoesNotExistException", str(exc)[:512]) from None
        await self._require(session, "SQS", "sqs:SendMessage", queue.arn)
        delay = params.get("DelaySeconds")
        try:
            sent = await queues.send_message(
                queue,
                _text(params.get("MessageBody", "")),
                {},
                {}
                if trace is None
                else {TRACE_HEADER: MessageAttribute("String", string_value=trace)},
                delay if isinstance(delay, int) else None,
                f"{session.user_id}:{session.session_name}",
                group_id=params.get("MessageGroupId"),
                dedup_id=params.get("MessageDeduplicationId"),
                caller=KeyUser(session, None, True, uuid.uuid4().hex.upper()[:16]),
            )
        except QueueError as exc:
            raise StatesError(f"SQS.{type(exc).__name__}", str(exc)[:512]) from None
        result = {"MessageId": sent.message_id, "MD5OfMessageBody": sent.md5_of_body}
        if sent.sequence_number is not None:
            result["SequenceNumber"] = sent.sequence_number
        return result

    async def _publish(
        self,
        pubsub: PubSubService,
        session: Principal,
        params: Mapping[str, Any],
        trace: str | None,
    ) -> Any:
        topic = str(params.get("TopicArn", ""))
        await self._require(session, "SNS", "sns:Publish", topic)
        subject = params.get("Subject")
        try:
            published = await pubsub.publish(
                session.tenant_id or "",
                topic,
                _text(params.get("Message", "")),
                subject if isinstance(subject, str) else None,
                {},
                None,
                trace=trace,
            )
        except NotificationError as exc:
            raise StatesError(f"SNS.{type(exc).__name__}", str(exc)[:512]) from None
        return {"MessageId": published.message_id}

    async def _put_events(
        self,
        events: EventsService,
        session: Principal,
        params: Mapping[str, Any],
        trace: str | None,
    ) -> Any:
        entries = params.get("Entries")
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise StatesError("EventBridge.ValidationException", "Entries must be a list")
        shaped = []
        for entry in entries:
            bus = str(entry.get("EventBusName") or "default")
            arn = (
                bus
                if bus.startswith("arn:")
                else (f"arn:aws:events:{self._region}:{session.tenant_id}:event-bus/{bus}")
            )
            # The entry's own keys, as PutEvents gives them (decision 0318): a role fenced to
            # some sources or detail types sends those and no other.
            source, detail_type = entry.get("Source"), entry.get("DetailType")
            keys = (
                put_events_keys(source, detail_type)
                if isinstance(source, str) and isinstance(detail_type, str)
                else {"events:eventBusInvocation": False}
            )
            await self._require(session, "EventBridge", "events:PutEvents", arn, keys)
            detail = entry.get("Detail", {})
            shaped.append({**entry, "Detail": _text(detail), "EventBusName": bus})
        results = await events.put_events(session.tenant_id or "", shaped, trace=trace)
        return {
            "Entries": [
                {"EventId": r.event_id}
                if r.error_code is None
                else {"ErrorCode": r.error_code, "ErrorMessage": r.error_message or ""}
                for r in results
            ],
            "FailedEntryCount": sum(1 for r in results if r.error_code is not None),
        }

    async def _start(
        self,
        start: StartExecution,
        session: Principal,
        params: Mapping[str, Any],
        parent: dict[str, Any] | None,
    ) -> Any:
        machine = str(params.get("StateMachineArn", ""))
        await self._require(session, "StepFunctions", "states:StartExecution", machine)
        wanted: dict[str, Any] = {"stateMachineArn": machine, "input": _text(
            params.get("Input", {})
        )}  # fmt: skip
        if "Name" in params:
            wanted["name"] = params["Name"]
        trace = EXECUTION_TRACE.get()
        if trace:  # the child goes on with the parent's chain (decision 0351)
            wanted["traceHeader"] = trace
        try:
            arn, started = await start(session.tenant_id or "", wanted, parent)
        except StepFunctionsError as exc:
            raise StatesError(f"StepFunctions.{type(exc).__name__}", str(exc)[:512]) from None
        stamp = datetime.fromtimestamp(started / 1000, UTC).isoformat(timespec="milliseconds")
        return {"ExecutionArn": arn, "StartDate": stamp}

    async def _dynamodb_call(
        self, app: AsgiApp, action: str, session: Principal, params: Mapping[str, Any]
    ) -> Any:
        status, parsed = await call_in_process(
            app, f"DynamoDB_20120810.{action}", "application/x-amz-json-1.0", session, params
        )
        if status >= 300:
            kind = str(parsed.get("__type", "InternalServerError")).rsplit("#", 1)[-1]
            raise StatesError(f"DynamoDB.{kind}", str(parsed.get("message", ""))[:512])
        return parsed


async def call_in_process(
    app: AsgiApp, target: str, content_type: str, principal: Principal, params: Mapping[str, Any]
) -> tuple[int, dict[str, Any]]:
    """An AWS JSON-protocol call to ``app`` as ``principal`` (in place of a signature, as the
    console calls the APIs): its status and its parsed answer."""
    body = json.dumps(params).encode()
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "headers": [
            (b"host", b"localhost"),
            (b"content-type", content_type.encode()),
            (b"x-amz-target", target.encode()),
        ],
        "client": None,
        TRUSTED_PRINCIPAL_SCOPE_KEY: principal,
    }
    start, answer = await request_in_process(app, scope, body)
    status = 500 if start is None else start["status"]
    try:
        parsed = json.loads(answer or b"{}")
    except ValueError:
        parsed = {}
    return int(status), parsed if isinstance(parsed, dict) else {}
