"""SNS's records into Amazon Data Firehose (decision 0226), where the identity, notifications
and Firehose contexts meet: ``notifications.streams.SubscriberStreams`` over the Firehose
service's ``RecordSink``.

As on AWS, SNS puts a subscription's records as its ``SubscriptionRoleArn``, never as itself:
the role must be of the stream's account and trust ``sns.amazonaws.com`` (checked at
Subscribe, with the stream: of the account, in this Region), and its identity policies —
within its permissions boundary, by the same engine as every request — must allow
``firehose:PutRecord`` on the stream at each delivery. A data protection audit's findings go
into the topic's account's stream as the platform (AWS's own delivery of its reports, as the
vended Logs groups of decision 0215 are written). A record the stream refuses (gone, not
ACTIVE, its buffer full: "Slow down.") is :class:`StreamRefused`, retried by the worker.
"""

from __future__ import annotations

from typing import Final

from andromede.firehose.errors import FirehoseError
from andromede.firehose.model import RecordSink
from andromede.firehose.service import FirehoseService
from andromede.iam.errors import IamError
from andromede.iam.model import Principal, PrincipalKind
from andromede.iam.policy_context import policies_allow, principal_context, principal_keys
from andromede.iam.service import IdentityService
from andromede.notifications.streams import StreamRefused
from andromede.replication_grants import role_trusts

__all__ = ["SNS_PRINCIPAL", "RoleDeliveryStreams"]

SNS_PRINCIPAL: Final = "sns.amazonaws.com"
_SESSION: Final = "sns-firehose-delivery"


class RoleDeliveryStreams:
    def __init__(self, identity: IdentityService, firehose: FirehoseService, region: str) -> None:
        self._identity = identity
        self._firehose = firehose
        self._sink: RecordSink = firehose
        self._region = region

    def _stream(self, tenant_id: str, stream_arn: str) -> str | None:
        """The stream's name, if ``stream_arn`` names one of ``tenant_id`` in this Region."""
        parts = stream_arn.split(":", 5)
        if (
            len(parts) != 6
            or parts[:3] != ["arn", "aws", "firehose"]
            or parts[3] != self._region
            or parts[4] != tenant_id
            or not parts[5].startswith("deliverystream/")
        ):
            return None
        return parts[5].removeprefix("deliverystream/")

    async def check(self, tenant_id: str, stream_arn: str, role_arn: str) -> str | None:
        name = self._stream(tenant_id, stream_arn)
        if name is None:
            return (
                "Endpoint Reason: the delivery stream must be one of the subscriber's account "
                f"in {self._region}"
            )
        try:
            await self._firehose.get(tenant_id, name)
        except FirehoseError:
            return f"Endpoint Reason: Firehose {name} under account {tenant_id} not found"
        if await self._session(tenant_id, role_arn) is None:
            return (
                "SubscriptionRoleArn Reason: the role must be of the subscriber's account and "
                f"trust {SNS_PRINCIPAL}"
            )
        return None

    async def put(self, tenant_id: str, stream_arn: str, role_arn: str | None, data: bytes) -> None:
        if role_arn is not None:
            session = await self._session(tenant_id, role_arn)
            if session is None:
                raise StreamRefused("Role.AssumeRoleFailed: SNS may not assume the role")
            if not await self._allows(session, stream_arn):
                raise StreamRefused("AccessDenied: the role may not firehose:PutRecord")
        try:
            (result,) = await self._sink.put_records(tenant_id, stream_arn, [data])
        except FirehoseError as exc:
            raise StreamRefused(f"{type(exc).__name__}: {exc}") from None
        if result.error_code is not None:
            raise StreamRefused(f"{result.error_code}: {result.error_message}")

    async def _session(self, tenant_id: str, role_arn: str) -> Principal | None:
        """The role's session SNS puts records as; None when the role is not the tenant's,
        is gone, or does not trust SNS."""
        try:
            role = await self._identity.get_role_by_arn(role_arn)
        except IamError:
            return None
        if role.tenant_id != tenant_id or not role_trusts(
            role.assume_role_policy_document, SNS_PRINCIPAL
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

    async def _allows(self, session: Principal, stream_arn: str) -> bool:
        policies = await self._identity.policies_for(session)
        context = principal_context(
            session,
            action="firehose:PutRecord",
            resource=stream_arn,
            source_ip=None,
            secure=True,
            region=self._region,
            keys=principal_keys(policies),
        )
        return policies_allow(context, policies)
