"""Where Lambda's asynchronous invocations meet their destinations (decision 0300): the
invocation records sent to an ``OnSuccess`` or ``OnFailure`` destination, and the failed
events sent to a function's dead-letter queue, **as the function's execution role**, as AWS
sends them — a session of the role for ``lambda.amazonaws.com`` (the role must be the
account's and trust Lambda) calling the destination's own API in process, the session in
the scope in place of a signature, as Step Functions and Pipes call theirs. So each
destination is judged as any call of the role's: its identity policies with the queue's,
topic's, bus's or function's own policy, the queue's or topic's KMS key used as the role,
the call audited by its API.

- an SQS queue: ``SendMessage`` (the record as the body; a dead letter the event with the
  ``RequestID``, ``ErrorCode`` and ``ErrorMessage`` message attributes);
- an SNS topic: ``Publish`` (the same, as message attributes);
- an EventBridge bus: ``PutEvents`` (source ``lambda``, detail type ``Lambda Function
  Invocation Result - Success`` or ``- Failure``, the record as the detail, the function's
  and the destination's ARNs as its resources);
- a Lambda function: ``Invoke`` with ``InvocationType`` ``Event`` (the record as the event).

A refusal (the role gone or not trusting Lambda, an API's error) is logged and audited on
the function's account, never raised to the worker. Also here: the check
PutFunctionEventInvokeConfig and a function's ``DeadLetterConfig`` make of the role's
identity policies (:func:`destination_access`)."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final
from urllib.parse import urlencode

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.function_calls import FunctionCallFailed, invoke_function
from andromede.function_sources import FunctionRoles
from andromede.functions.errors import InvalidParameterValue
from andromede.functions.invoke_configs import DestinationCheck, destination_service
from andromede.functions.model import FunctionVersion, function_arn
from andromede.functions.service import LAMBDA_PRINCIPAL
from andromede.http.asgi import TRUSTED_PRINCIPAL_SCOPE_KEY, request_in_process
from andromede.http.response import Receive, Scope, Send
from andromede.iam.model import Principal
from andromede.state_tasks import call_in_process

__all__ = ["DestinationRefused", "FunctionDestinations", "destination_access"]

log = logging.getLogger(__name__)

AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# The action a role needs on each kind of destination, and the API's operation, as AWS names.
_ACTIONS: Final = {
    "sqs": ("sqs:SendMessage", "SendMessage", "SQS"),
    "sns": ("sns:Publish", "Publish", "SNS"),
    "events": ("events:PutEvents", "PutEvents", "EventBridge"),
    "lambda": ("lambda:InvokeFunction", "InvokeFunction", "Lambda"),
}
_RESULT: Final = "Lambda Function Invocation Result - "


class DestinationRefused(Exception):
    """A destination refused a delivery, or could not be reached."""


def destination_access(roles: FunctionRoles) -> DestinationCheck:
    """The role's identity policies must allow sending to the destination, as AWS checks
    when a configuration names it ("The provided execution role does not have permissions
    to call SendMessage on SQS")."""

    async def check(tenant_id: str, role_arn: str, destination: str) -> None:
        session = await roles.session(tenant_id, role_arn, "Destinations")
        if session is None:
            raise InvalidParameterValue(
                "The role defined for the function cannot be assumed by Lambda."
            )
        action, operation, service = _ACTIONS[destination_service(destination)]
        if not await roles.allowed(session, action, destination):
            raise InvalidParameterValue(
                f"The provided execution role does not have permissions to call {operation} "
                f"on {service}"
            )

    return check


class FunctionDestinations:
    def __init__(
        self,
        roles: FunctionRoles,
        apis: Mapping[str, AsgiApp],
        audit: AuditService | None,
        region: str,
    ) -> None:
        self._roles = roles
        self._apis = apis
        self._audit = audit
        self._region = region

    async def deliver(
        self, version: FunctionVersion, destination: str, record: dict[str, Any]
    ) -> None:
        body = json.dumps(record, separators=(",", ":"))
        kind = destination_service(destination)
        try:
            session = await self._session(version)
            if kind == "sqs":
                await self._send_message(session, destination, body, {})
            elif kind == "sns":
                await self._publish(session, destination, body, {})
            elif kind == "events":
                await self._put_event(session, version, destination, record)
            else:
                await self._invoke(session, destination, body.encode())
        except DestinationRefused as exc:
            self._refused(version, destination, kind, str(exc))

    async def dead_letter(
        self, version: FunctionVersion, target: str, event: bytes, attributes: Mapping[str, str]
    ) -> None:
        kind = destination_service(target)
        body = event.decode("utf-8", "replace")
        try:
            session = await self._session(version)
            if kind == "sqs":
                await self._send_message(session, target, body, attributes)
            else:
                await self._publish(session, target, body, attributes)
        except DestinationRefused as exc:
            self._refused(version, target, kind, str(exc))

    async def _session(self, version: FunctionVersion) -> Principal:
        session = await self._roles.session(version.tenant_id, version.role, version.name)
        if session is None:
            raise DestinationRefused(f"{LAMBDA_PRINCIPAL} may not assume the role {version.role}")
        return session

    def _app(self, name: str) -> AsgiApp:
        app = self._apis.get(name)
        if app is None:
            raise DestinationRefused(f"{name} is not served by this deployment")
        return app

    async def _send_message(
        self, session: Principal, queue_arn: str, body: str, attributes: Mapping[str, str]
    ) -> None:
        _, _, _, _, account, name = queue_arn.split(":", 5)
        params: dict[str, Any] = {
            "QueueUrl": f"https://localhost/{account}/{name}",
            "MessageBody": body,
        }
        if attributes:
            params["MessageAttributes"] = {
                k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()
            }
        status, answer = await call_in_process(
            self._app("sqs"), "AmazonSQS.SendMessage", "application/x-amz-json-1.0", session,
            params,
        )  # fmt: skip
        if status >= 300:
            raise DestinationRefused(_json_error(answer))

    async def _publish(
        self, session: Principal, topic_arn: str, body: str, attributes: Mapping[str, str]
    ) -> None:
        form = {
            "Action": "Publish",
            "Version": "2010-03-31",
            "TopicArn": topic_arn,
            "Message": body,
        }
        for n, (key, value) in enumerate(sorted(attributes.items()), start=1):
            form[f"MessageAttributes.entry.{n}.Name"] = key
            form[f"MessageAttributes.entry.{n}.Value.DataType"] = "String"
            form[f"MessageAttributes.entry.{n}.Value.StringValue"] = value
        status, answer = await _form_call(self._app("sns"), session, urlencode(form).encode())
        if status >= 300:
            raise DestinationRefused(_xml_error(answer))

    async def _put_event(
        self, session: Principal, version: FunctionVersion, bus_arn: str, record: dict[str, Any]
    ) -> None:
        success = record["requestContext"]["condition"] == "Success"
        source = function_arn(self._region, version.tenant_id, version.name, version.version)
        entry = {
            "Source": "lambda",
            "DetailType": _RESULT + ("Success" if success else "Failure"),
            "Detail": json.dumps(record, separators=(",", ":")),
            "EventBusName": bus_arn,
            "Resources": [source, bus_arn],
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

    async def _invoke(self, session: Principal, function: str, payload: bytes) -> None:
        try:
            await invoke_function(
                self._app("lambda"), session, function, payload, invocation_type="Event"
            )
        except FunctionCallFailed as exc:
            raise DestinationRefused(f"{exc.code}: {exc.message}") from None

    def _refused(self, version: FunctionVersion, destination: str, kind: str, error: str) -> None:
        log.warning(
            "Lambda: function %s could not send to %s: %s", version.name, destination, error
        )
        if self._audit is None:
            return
        self._audit.record(
            request_id=uuid.uuid4().hex.upper()[:16],
            tenant_id=version.tenant_id,
            principal=version.role,
            action=_ACTIONS[kind][0],
            resource=destination[:2048],
            outcome=Outcome.FAILURE,
            details={
                "invoked_by": LAMBDA_PRINCIPAL,
                "function_arn": function_arn(self._region, version.tenant_id, version.name),
                "error": error[:1024],
            },
        )


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
