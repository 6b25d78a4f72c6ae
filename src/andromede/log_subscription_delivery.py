"""Where CloudWatch Logs' subscription filters meet Amazon Data Firehose (decision 0225),
Kinesis Data Streams (decision 0235) and AWS Lambda (decision 0304): the
``logs.subscription_service.SubscriptionDestination`` implementations that put a filter's
records into its stream as the filter's role, through Firehose's ``RecordSink`` port
(decision 0223) or ``KinesisService.put`` (decision 0228), or invoke its function.

As on AWS, Logs delivers as the role, never as itself: the role must be of the filter's
account and trust ``logs.amazonaws.com`` (its trust policy, seeing the group's ARN as
``aws:SourceArn`` and its account as ``aws:SourceAccount``: decision 0321), and its identity
policies — by
the same engine as every request — must allow ``firehose:PutRecord`` or
``firehose:PutRecordBatch`` on the stream — ``kinesis:PutRecord`` on a Kinesis stream, as
AWS's documented role policy names it. Then the records go into the stream's buffer (sealed
there under the account's keys, delivered to its bucket by Firehose's deliverer), or into the
Kinesis stream under the record's partition key (the platform's own put: its KMS key, if any,
need only be usable).

A Lambda function is invoked by Logs itself, as AWS's services invoke functions (decision
0293, ``functions.service_invoke``): an Event invocation by ``logs.amazonaws.com`` — or the
Regional ``logs.<region>.amazonaws.com`` that AWS's examples name too — for the group
(``aws:SourceArn``) of the account (``aws:SourceAccount``), allowed by the function's
resource-based policy alone; each record its own invocation, with AWS's payload
``{"awslogs": {"data": "<base64 of the gzip DATA_MESSAGE>"}}``."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from typing import Final

from andromede.firehose.errors import FirehoseError
from andromede.firehose.model import RecordSink
from andromede.functions.errors import FunctionsError
from andromede.functions.service_invoke import ServiceDenied, ServiceInvocations
from andromede.iam.service import IdentityService
from andromede.iam.service_roles import ServiceRoleSessions, TrustSource
from andromede.kinesis.errors import KinesisError
from andromede.kinesis.service import Entry, KinesisService

__all__ = [
    "LOGS_PRINCIPAL",
    "LambdaFunctionDestination",
    "RoleFirehoseDestination",
    "RoleKinesisDestination",
    "awslogs_event",
    "awslogs_record_bound",
]

LOGS_PRINCIPAL: Final = "logs.amazonaws.com"
_FIREHOSE_ACTIONS: Final = ("firehose:PutRecordBatch", "firehose:PutRecord")
_KINESIS_ACTIONS: Final = ("kinesis:PutRecord",)


class _RoleSession:
    """The filter's role as Logs assumes it, and what its identity policies allow."""

    def __init__(self, identity: IdentityService, region: str, session_name: str) -> None:
        self._sessions = ServiceRoleSessions(identity, LOGS_PRINCIPAL, region)
        self._session_name = session_name

    async def refusal(
        self,
        tenant_id: str,
        role_arn: str,
        actions: Sequence[str],
        resource: str,
        source_arn: str = "",
    ) -> str | None:
        """Why the role may not put into ``resource`` (None: it may), assumed for the log group
        ``source_arn`` (the trust policy's ``aws:SourceArn``, decision 0321)."""
        source = TrustSource.of(source_arn) if source_arn else TrustSource(account=tenant_id)
        session = await self._sessions.session(tenant_id, role_arn, self._session_name, source)
        if session is None:
            return f"CloudWatch Logs cannot assume {role_arn[:256]}"
        if not await self._sessions.allowed_any(session, actions, resource):
            return "the role may not put records into the stream"
        return None


class RoleFirehoseDestination:
    def __init__(self, identity: IdentityService, sink: RecordSink, region: str) -> None:
        self._role = _RoleSession(identity, region, "CWLtoFirehose")
        self._sink = sink

    async def deliver(
        self,
        tenant_id: str,
        role_arn: str,
        destination_arn: str,
        records: Sequence[bytes],
        partition_key: str = "",
        *,
        source_arn: str = "",
    ) -> str | None:
        why = await self._role.refusal(
            tenant_id, role_arn, _FIREHOSE_ACTIONS, destination_arn, source_arn
        )
        if why is not None:
            return why
        try:
            results = await self._sink.put_records(
                tenant_id, destination_arn, records, from_logs=True
            )
        except FirehoseError as exc:
            return f"{type(exc).__name__}: {str(exc)[:256]}"
        failed = [r for r in results if r.error_code is not None]
        if failed:
            return f"{failed[0].error_code}: {(failed[0].error_message or '')[:256]}"
        return None


class RoleKinesisDestination:
    """Into a Kinesis data stream of the filter's account, by its ARN
    (``arn:aws:kinesis:<region>:<account>:stream/<name>``)."""

    def __init__(self, identity: IdentityService, kinesis: KinesisService, region: str) -> None:
        self._role = _RoleSession(identity, region, "CWLtoKinesis")
        self._kinesis = kinesis

    async def deliver(
        self,
        tenant_id: str,
        role_arn: str,
        destination_arn: str,
        records: Sequence[bytes],
        partition_key: str = "",
        *,
        source_arn: str = "",
    ) -> str | None:
        parts = destination_arn.split(":", 5)
        if len(parts) != 6 or parts[4] != tenant_id or not parts[5].startswith("stream/"):
            return "the destination is no Kinesis stream of the account"
        why = await self._role.refusal(
            tenant_id, role_arn, _KINESIS_ACTIONS, destination_arn, source_arn
        )
        if why is not None:
            return why
        key = partition_key or "CWL"
        entries = [Entry(key, record) for record in records]
        try:
            _, outcomes = await self._kinesis.put(
                tenant_id, parts[5].removeprefix("stream/"), entries
            )
        except KinesisError as exc:
            return f"{type(exc).__name__}: {str(exc)[:256]}"
        failed = [o.error for o in outcomes if o.error is not None]
        if failed:
            return f"{failed[0][0]}: {failed[0][1][:256]}"
        return None


def awslogs_event(record: bytes) -> bytes:
    """A subscription record (gzip DATA_MESSAGE) as the event AWS gives a function."""
    return json.dumps(
        {"awslogs": {"data": base64.b64encode(record).decode("ascii")}}, separators=(",", ":")
    ).encode()


def awslogs_record_bound(max_event_payload: int) -> int:
    """The largest record whose :func:`awslogs_event` fits ``max_event_payload`` bytes."""
    return max(1, (max_event_payload - len(awslogs_event(b""))) // 4 * 3)


class LambdaFunctionDestination:
    """Into a Lambda function of the filter's account, through Lambda's service invocations
    (``invocations``: none while Lambda is not served)."""

    def __init__(self, invocations: Callable[[], ServiceInvocations | None], region: str) -> None:
        self._invocations = invocations
        self._principals = (LOGS_PRINCIPAL, f"logs.{region}.amazonaws.com")

    async def deliver(
        self,
        tenant_id: str,
        role_arn: str,
        destination_arn: str,
        records: Sequence[bytes],
        partition_key: str = "",
        *,
        source_arn: str = "",
    ) -> str | None:
        invocations = self._invocations()
        if invocations is None:
            return "AWS Lambda is not served by this deployment"
        if destination_arn.split(":", 5)[4:5] != [tenant_id]:
            return "the destination is no Lambda function of the account"
        principal = None
        for service in self._principals:
            try:
                await invocations.check(
                    service, destination_arn, source_arn=source_arn, source_account=tenant_id
                )
            except ServiceDenied:
                continue
            except FunctionsError as exc:
                return f"{type(exc).__name__}: {str(exc)[:256]}"
            principal = service
            break
        if principal is None:
            return "the function's resource-based policy does not let CloudWatch Logs invoke it"
        for record in records:
            try:
                await invocations.invoke(
                    principal,
                    destination_arn,
                    awslogs_event(record),
                    source_arn=source_arn,
                    source_account=tenant_id,
                )
            except FunctionsError as exc:
                return f"{type(exc).__name__}: {str(exc)[:256]}"
        return None
