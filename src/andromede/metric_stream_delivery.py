"""Where CloudWatch metric streams meet Amazon Data Firehose (decision 0233): the
``metrics.stream_minutes.StreamDestination`` that puts a stream's records into its Firehose
stream as the stream's role, through Firehose's ``RecordSink`` port (decision 0223).

As on AWS, CloudWatch delivers as the role, never as itself: the role must be of the stream's
account and trust ``streams.metrics.cloudwatch.amazonaws.com`` (its trust policy), and its
identity policies — by the same engine as every request — must allow
``firehose:PutRecordBatch`` (or ``firehose:PutRecord``) on the Firehose stream, checked at each
minute. Then the records go into the stream's buffer, sealed there under the account's keys
and delivered by Firehose's deliverer. The Firehose service is found when needed (``serve``
makes it after CloudWatch): none is a refusal like any other."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

from andromede.firehose.errors import FirehoseError
from andromede.firehose.model import RecordSink
from andromede.iam.errors import IamError
from andromede.iam.model import Principal, PrincipalKind
from andromede.iam.policy_context import policies_allow, principal_context, principal_keys
from andromede.iam.service import IdentityService
from andromede.metrics.streams import MetricStream
from andromede.replication_grants import role_trusts

__all__ = ["STREAMS_PRINCIPAL", "RoleStreamDestination"]

STREAMS_PRINCIPAL: Final = "streams.metrics.cloudwatch.amazonaws.com"
_SESSION: Final = "CloudWatchMetricStreams"
_ACTIONS: Final = ("firehose:PutRecordBatch", "firehose:PutRecord")


class RoleStreamDestination:
    def __init__(
        self, identity: IdentityService, sink: Callable[[], RecordSink | None], region: str
    ) -> None:
        self._identity = identity
        self._sink = sink
        self._region = region

    async def _session(self, tenant_id: str, role_arn: str) -> Principal | None:
        try:
            role = await self._identity.get_role_by_arn(role_arn)
        except IamError:
            return None
        if role.tenant_id != tenant_id or not role_trusts(
            role.assume_role_policy_document, STREAMS_PRINCIPAL
        ):
            return None
        return Principal(
            tenant_id=role.tenant_id,
            user_id=role.id,
            user_name=role.name,
            kind=PrincipalKind.ROLE_SESSION,
            arn=f"arn:aws:sts::{role.tenant_id}:assumed-role/{role.name}/{_SESSION}",
            session_name=_SESSION,
        )

    async def _may_put(self, session: Principal, stream_arn: str) -> bool:
        policies = await self._identity.policies_for(session)
        for action in _ACTIONS:
            context = principal_context(
                session,
                action=action,
                resource=stream_arn,
                source_ip=None,
                secure=True,
                region=self._region,
                keys=principal_keys(policies),
            )
            if policies_allow(context, policies):
                return True
        return False

    async def deliver(self, stream: MetricStream, records: Sequence[bytes]) -> str | None:
        sink = self._sink()
        if sink is None:
            return "Firehose is not served by this deployment"
        session = await self._session(stream.tenant_id, stream.role_arn)
        if session is None:
            return f"CloudWatch cannot assume {stream.role_arn[:256]}"
        if not await self._may_put(session, stream.firehose_arn):
            return "the role may not put records into the Firehose stream"
        try:
            results = await sink.put_records(stream.tenant_id, stream.firehose_arn, records)
        except FirehoseError as exc:
            return f"{type(exc).__name__}: {str(exc)[:256]}"
        failed = [r for r in results if r.error_code is not None]
        if failed:
            return f"{failed[0].error_code}: {(failed[0].error_message or '')[:256]}"
        return None
