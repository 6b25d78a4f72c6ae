"""Lambda's one sender of records to their destinations (decision 0311, unifying 0300's and
0301's): the asynchronous invocations' ``OnSuccess``/``OnFailure`` records and dead letters
(``function_destinations``) and the stream mappings' ``OnFailure`` records
(``function_streams``) all leave through :class:`RecordSender`, **as the function's execution
role** — a session of the role for ``lambda.amazonaws.com`` (the role must be the account's
and trust Lambda) — each caller keeping its own record, as AWS documents each.

A destination is reached through the :class:`Channel` of its service, as AWS supports each:

- an SQS queue: ``SendMessage`` (the record as the body; a dead letter's attributes);
- an SNS topic: ``Publish`` (the same, as message attributes);
- an EventBridge bus: ``PutEvents`` (the caller's source, detail type and resources);
- a Lambda function: ``Invoke`` with ``InvocationType`` ``Event``;
- an S3 bucket (``OnFailure`` only): ``function_buckets.BucketRecords``, the record an object
  under the key the caller names.

:func:`api_channels` call the destinations' own APIs in process, the session in the scope in
place of a signature (as Step Functions and Pipes call theirs), so each is judged as any call
of the role's — its identity policies with the queue's, topic's, bus's or function's own
policy, the queue's or topic's KMS key used as the role — and audited and metered by its API.
:func:`service_channels` are their in-process twin for a rig without the APIs: the queue and
topic services called directly after the role's identity policies are asked.

A refusal (no session, a channel's error) is logged and audited on the function's account
(``FAILURE``, the destination's action on its ARN, the role as principal), never raised: the
record is dropped, as AWS drops it. :func:`destination_refusal` is the check a configuration
makes of the role before naming a destination, in AWS's words."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol
from urllib.parse import urlencode

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.function_calls import FunctionCallFailed, invoke_function
from andromede.function_sources import FunctionRoles
from andromede.functions.service import LAMBDA_PRINCIPAL
from andromede.http.asgi import TRUSTED_PRINCIPAL_SCOPE_KEY, request_in_process
from andromede.http.response import Receive, Scope, Send
from andromede.iam.model import Principal
from andromede.notifications.errors import NotificationError
from andromede.notifications.pubsub import PubSubService
from andromede.queues.errors import QueueDoesNotExist, QueueError
from andromede.queues.model import MessageAttribute
from andromede.queues.service import QueueService
from andromede.sqsapi.authorise import KeyUser
from andromede.state_tasks import call_in_process

__all__ = [
    "BucketChecker",
    "Channel",
    "DestinationRefused",
    "Message",
    "RecordSender",
    "Sending",
    "api_channels",
    "destination_kind",
    "destination_refusal",
    "service_channels",
]

log = logging.getLogger(__name__)

AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# The action a role needs on each kind of destination, the API's operation and service, as
# AWS names them in its refusals. An S3 bucket's check is the bucket's own (BucketChecker).
ACTIONS: Final = {
    "sqs": ("sqs:SendMessage", "SendMessage", "SQS"),
    "sns": ("sns:Publish", "Publish", "SNS"),
    "events": ("events:PutEvents", "PutEvents", "EventBridge"),
    "lambda": ("lambda:InvokeFunction", "InvokeFunction", "Lambda"),
    "s3": ("s3:PutObject", "PutObject", "S3"),
}
NOT_ASSUMED: Final = "The role defined for the function cannot be assumed by Lambda."


class DestinationRefused(Exception):
    """A destination refused a record, or could not be reached."""


@dataclass(frozen=True, slots=True)
class Message:
    """What a channel sends: ``body`` the record (or a dead letter's event) as text;
    ``attributes`` a queue's or topic's string attributes; ``event`` EventBridge's source,
    detail type and resources; ``key`` the object key in a bucket."""

    body: str
    attributes: Mapping[str, str] = field(default_factory=dict)
    event: tuple[str, str, tuple[str, ...]] | None = None
    key: str | None = None


@dataclass(frozen=True, slots=True)
class Sending:
    """Who sends to which destination: the function's account, its execution role, the
    session's name, and the function's ARN (the audit's details)."""

    tenant_id: str
    role_arn: str
    session_name: str
    function_arn: str
    destination: str


class Channel(Protocol):
    async def send(self, session: Principal, destination: str, message: Message) -> None:
        """``message`` to ``destination`` as ``session``; DestinationRefused when it is not
        taken."""
        ...


class BucketChecker(Protocol):
    async def refusal(self, session: Principal, destination: str) -> str | None:
        """Why the session may not write records into the bucket; None when it may."""
        ...


def destination_kind(arn: str) -> str:
    """``sqs``, ``sns``, ``events``, ``lambda`` or ``s3``: the service of a checked ARN."""
    return arn.split(":", 3)[2]


async def destination_refusal(
    roles: FunctionRoles,
    tenant_id: str,
    role_arn: str,
    destination: str,
    session_name: str,
    buckets: BucketChecker | None = None,
) -> str | None:
    """Why the role may not send to ``destination``, in AWS's words ("The provided execution
    role does not have permissions to call SendMessage on SQS"); None when it may. A queue,
    topic, bus or function is judged on the role's identity policies, as AWS checks at
    configuration; a bucket by S3's authoriser, its policy included."""
    session = await roles.session(tenant_id, role_arn, session_name)
    if session is None:
        return NOT_ASSUMED
    kind = destination_kind(destination)
    if kind == "s3":
        if buckets is None:
            return "S3 bucket destinations are not served by this deployment"
        return await buckets.refusal(session, destination)
    action, operation, service = ACTIONS[kind]
    if not await roles.allowed(session, action, destination):
        return (
            f"The provided execution role does not have permissions to call {operation} on "
            f"{service}"
        )
    return None


class RecordSender:
    def __init__(
        self, roles: FunctionRoles, channels: Mapping[str, Channel], audit: AuditService | None
    ) -> None:
        self._roles = roles
        self._channels = channels
        self._audit = audit

    async def send(self, sending: Sending, message: Message) -> bool:
        """Whether ``message`` reached the destination (a refusal logged and audited)."""
        kind = destination_kind(sending.destination)
        try:
            session = await self._roles.session(
                sending.tenant_id, sending.role_arn, sending.session_name
            )
            if session is None:
                raise DestinationRefused(
                    f"{LAMBDA_PRINCIPAL} may not assume the role {sending.role_arn}"
                )
            channel = self._channels.get(kind)
            if channel is None:
                raise DestinationRefused(f"{ACTIONS[kind][2]} is not served by this deployment")
            await channel.send(session, sending.destination, message)
        except DestinationRefused as exc:
            self.refused(sending, str(exc))
            return False
        return True

    def refused(self, sending: Sending, error: str) -> None:
        """A record not sent: logged, and audited on the function's account."""
        kind = destination_kind(sending.destination)
        log.warning(
            "Lambda: function %s could not send to %s: %s",
            sending.function_arn,
            sending.destination,
            error,
        )
        if self._audit is None:
            return
        self._audit.record(
            request_id=uuid.uuid4().hex.upper()[:16],
            tenant_id=sending.tenant_id,
            principal=sending.role_arn,
            action=ACTIONS[kind][0],
            resource=sending.destination[:2048],
            outcome=Outcome.FAILURE,
            details={
                "invoked_by": LAMBDA_PRINCIPAL,
                "function_arn": sending.function_arn,
                "error": error[:1024],
            },
        )


# -- the destinations' APIs in process ---------------------------------------------------------


def api_channels(apis: Mapping[str, AsgiApp]) -> dict[str, Channel]:
    """SQS, SNS, EventBridge and Lambda reached through their APIs among ``apis`` (looked up
    at each send: an API made after Lambda's is found)."""
    return {
        "sqs": _QueueApi(apis),
        "sns": _TopicApi(apis),
        "events": _BusApi(apis),
        "lambda": _FunctionApi(apis),
    }


class _Api:
    def __init__(self, apis: Mapping[str, AsgiApp]) -> None:
        self._apis = apis

    def _app(self, name: str) -> AsgiApp:
        app = self._apis.get(name)
        if app is None:
            raise DestinationRefused(f"{name} is not served by this deployment")
        return app


class _QueueApi(_Api):
    async def send(self, session: Principal, destination: str, message: Message) -> None:
        _, _, _, _, account, name = destination.split(":", 5)
        params: dict[str, Any] = {
            "QueueUrl": f"https://localhost/{account}/{name}",
            "MessageBody": message.body,
        }
        if message.attributes:
            params["MessageAttributes"] = {
                k: {"DataType": "String", "StringValue": v} for k, v in message.attributes.items()
            }
        status, answer = await call_in_process(
            self._app("sqs"), "AmazonSQS.SendMessage", "application/x-amz-json-1.0", session,
            params,
        )  # fmt: skip
        if status >= 300:
            raise DestinationRefused(_json_error(answer))


class _TopicApi(_Api):
    async def send(self, session: Principal, destination: str, message: Message) -> None:
        form = {
            "Action": "Publish",
            "Version": "2010-03-31",
            "TopicArn": destination,
            "Message": message.body,
        }
        for n, (key, value) in enumerate(sorted(message.attributes.items()), start=1):
            form[f"MessageAttributes.entry.{n}.Name"] = key
            form[f"MessageAttributes.entry.{n}.Value.DataType"] = "String"
            form[f"MessageAttributes.entry.{n}.Value.StringValue"] = value
        status, answer = await _form_call(self._app("sns"), session, urlencode(form).encode())
        if status >= 300:
            raise DestinationRefused(_xml_error(answer))


class _BusApi(_Api):
    async def send(self, session: Principal, destination: str, message: Message) -> None:
        source, detail_type, resources = message.event or ("lambda", "", ())
        entry = {
            "Source": source,
            "DetailType": detail_type,
            "Detail": message.body,
            "EventBusName": destination,
            "Resources": list(resources),
        }
        status, answer = await call_in_process(
            self._app("events"), "AWSEvents.PutEvents", "application/x-amz-json-1.1", session,
            {"Entries": [entry]},
        )  # fmt: skip
        if status >= 300:
            raise DestinationRefused(_json_error(answer))
        for result in answer.get("Entries", []):
            if isinstance(result, dict) and result.get("ErrorCode"):
                raise DestinationRefused(
                    f"{result['ErrorCode']}: {str(result.get('ErrorMessage', ''))[:512]}"
                )


class _FunctionApi(_Api):
    async def send(self, session: Principal, destination: str, message: Message) -> None:
        try:
            await invoke_function(
                self._app("lambda"), session, destination, message.body.encode(),
                invocation_type="Event",
            )  # fmt: skip
        except FunctionCallFailed as exc:
            raise DestinationRefused(f"{exc.code}: {exc.message}") from None


def _json_error(answer: Mapping[str, Any]) -> str:
    kind = str(answer.get("__type", "ServiceException")).rsplit("#", 1)[-1]
    message = answer.get("message") or answer.get("Message") or ""
    return f"{kind}: {str(message)[:512]}"


def _xml_error(answer: bytes) -> str:
    text = answer.decode("utf-8", "replace")
    code = text.partition("<Code>")[2].partition("</Code>")[0]
    message = text.partition("<Message>")[2].partition("</Message>")[0]
    return f"{code or 'InternalError'}: {message[:512]}"


async def _form_call(app: AsgiApp, principal: Principal, body: bytes) -> tuple[int, bytes]:
    """A Query-protocol POST to ``app`` as ``principal``: its status and body."""
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
            (b"content-type", b"application/x-www-form-urlencoded; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": None,
        TRUSTED_PRINCIPAL_SCOPE_KEY: principal,
    }
    start, answer = await request_in_process(app, scope, body)
    return (500 if start is None else int(start["status"])), answer


# -- the services' twin ------------------------------------------------------------------------


def service_channels(
    roles: FunctionRoles, queues: QueueService | None, pubsub: PubSubService | None
) -> dict[str, Channel]:
    """SQS and SNS through their services, for a rig that has no APIs: the role's identity
    policies asked first (the resource's policy is the API's part), a KMS queue opened as the
    role."""
    channels: dict[str, Channel] = {}
    if queues is not None:
        channels["sqs"] = _QueueService(roles, queues)
    if pubsub is not None:
        channels["sns"] = _TopicService(roles, pubsub)
    return channels


async def _allowed(roles: FunctionRoles, session: Principal, destination: str) -> None:
    action, operation, service = ACTIONS[destination_kind(destination)]
    if not await roles.allowed(session, action, destination):
        raise DestinationRefused(f"AccessDenied: {operation} on {service}")


class _QueueService:
    def __init__(self, roles: FunctionRoles, queues: QueueService) -> None:
        self._roles = roles
        self._queues = queues

    async def send(self, session: Principal, destination: str, message: Message) -> None:
        await _allowed(self._roles, session, destination)
        parts = destination.split(":", 5)
        caller = KeyUser(session, None, True, uuid.uuid4().hex.upper()[:16])
        sender = f"{session.user_id}:{session.session_name}"
        attributes = {k: MessageAttribute("String", v) for k, v in message.attributes.items()}
        try:
            if parts[3] != self._queues.region:  # another Region's (decision 0414)
                raise QueueDoesNotExist()
            queue = await self._queues.get_queue(parts[4], parts[4], parts[5])
            await self._queues.send_message(
                queue, message.body, attributes, {}, None, sender, caller=caller
            )
        except QueueError as exc:
            raise DestinationRefused(type(exc).__name__) from None


class _TopicService:
    def __init__(self, roles: FunctionRoles, pubsub: PubSubService) -> None:
        self._roles = roles
        self._pubsub = pubsub

    async def send(self, session: Principal, destination: str, message: Message) -> None:
        await _allowed(self._roles, session, destination)
        attributes = {k: ("String", v) for k, v in message.attributes.items()}
        try:
            await self._pubsub.publish(
                destination.split(":", 5)[4], destination, message.body, None, attributes, None
            )
        except NotificationError as exc:
            raise DestinationRefused(type(exc).__name__) from None


def record_text(record: Mapping[str, Any]) -> str:
    """A record as JSON, without spaces, as AWS writes it."""
    return json.dumps(record, separators=(",", ":"))
