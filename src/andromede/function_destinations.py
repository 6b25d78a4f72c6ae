"""Where Lambda's asynchronous invocations meet their destinations (decisions 0300, 0311):
the invocation records sent to an ``OnSuccess`` or ``OnFailure`` destination, and the failed
events sent to a function's dead-letter queue, **as the function's execution role**, through
``function_deliveries.RecordSender`` (the one sender Lambda's records leave through), as AWS
sends them:

- an SQS queue: the record as the body; a dead letter the event with the ``RequestID``,
  ``ErrorCode`` and ``ErrorMessage`` message attributes;
- an SNS topic: the same, as message attributes;
- an EventBridge bus: source ``lambda``, detail type ``Lambda Function Invocation Result -
  Success`` or ``- Failure``, the record as the detail, the executed version's and the bus's
  ARNs as its resources;
- a Lambda function: an ``Event`` invocation with the record as the event;
- an S3 bucket (``OnFailure`` only, decision 0311): the record as a JSON object under AWS's
  key ``aws/lambda/async/<function-name>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<uuid>``.

A refusal is logged and audited on the function's account, never raised to the worker. Also
here: the check PutFunctionEventInvokeConfig and a function's ``DeadLetterConfig`` make of the
role (:func:`destination_access`)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from andromede.audit.service import AuditService
from andromede.function_deliveries import (
    BucketChecker,
    Channel,
    Message,
    RecordSender,
    Sending,
    api_channels,
    destination_kind,
    destination_refusal,
    record_text,
)
from andromede.function_sources import FunctionRoles
from andromede.functions.errors import InvalidParameterValue
from andromede.functions.invoke_configs import DestinationCheck
from andromede.functions.model import FunctionVersion, function_arn
from andromede.http.response import Receive, Scope, Send

__all__ = ["FunctionDestinations", "async_record_key", "destination_access"]

AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]
_RESULT: Final = "Lambda Function Invocation Result - "


def async_record_key(function_name: str, moment: dt.datetime, record_id: str) -> str:
    """The key of an asynchronous invocation's record in an S3 bucket, as AWS writes it:
    ``aws/lambda/async/<function-name>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<uuid>``."""
    return (
        f"aws/lambda/async/{function_name}/{moment:%Y/%m/%d}/{moment:%Y-%m-%dT%H.%M.%S}-{record_id}"
    )


def destination_access(
    roles: FunctionRoles, buckets: BucketChecker | None = None
) -> DestinationCheck:
    """The role must be allowed to send to the destination, as AWS checks when a
    configuration names it ("The provided execution role does not have permissions to call
    SendMessage on SQS"): its identity policies, a bucket's policy too."""

    async def check(tenant_id: str, role_arn: str, destination: str) -> None:
        refused = await destination_refusal(
            roles, tenant_id, role_arn, destination, "Destinations", buckets
        )
        if refused is not None:
            raise InvalidParameterValue(refused)

    return check


class FunctionDestinations:
    def __init__(
        self,
        roles: FunctionRoles,
        apis: Mapping[str, AsgiApp],
        audit: AuditService | None,
        region: str,
        buckets: Channel | None = None,
    ) -> None:
        channels = api_channels(apis)
        if buckets is not None:
            channels["s3"] = buckets
        self._sender = RecordSender(roles, channels, audit)
        self._region = region

    def _sending(self, version: FunctionVersion, destination: str) -> Sending:
        return Sending(
            tenant_id=version.tenant_id,
            role_arn=version.role,
            session_name=version.name,
            function_arn=function_arn(self._region, version.tenant_id, version.name),
            destination=destination,
        )

    async def deliver(
        self, version: FunctionVersion, destination: str, record: dict[str, Any]
    ) -> bool:
        body = record_text(record)
        kind = destination_kind(destination)
        message = Message(body)
        if kind == "events":
            success = record["requestContext"]["condition"] == "Success"
            source = function_arn(self._region, version.tenant_id, version.name, version.version)
            message = Message(
                body,
                event=(
                    "lambda",
                    _RESULT + ("Success" if success else "Failure"),
                    (source, destination),
                ),
            )
        elif kind == "s3":
            moment = dt.datetime.now(dt.UTC)
            message = Message(body, key=async_record_key(version.name, moment, str(uuid.uuid4())))
        return await self._sender.send(self._sending(version, destination), message)

    async def dead_letter(
        self, version: FunctionVersion, target: str, event: bytes, attributes: Mapping[str, str]
    ) -> bool:
        body = event.decode("utf-8", "replace")
        return await self._sender.send(self._sending(version, target), Message(body, attributes))
