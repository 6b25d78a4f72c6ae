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
from andromede.iam.service import IdentityService
from andromede.iam.service_roles import ServiceRoleSessions
from andromede.notifications.streams import StreamRefused

__all__ = ["SNS_PRINCIPAL", "RoleDeliveryStreams"]

SNS_PRINCIPAL: Final = "sns.amazonaws.com"
_SESSION: Final = "sns-firehose-delivery"


class RoleDeliveryStreams:
    def __init__(self, identity: IdentityService, firehose: FirehoseService, region: str) -> None:
        self._roles = ServiceRoleSessions(identity, SNS_PRINCIPAL, region)
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
        if await self._roles.session(tenant_id, role_arn, _SESSION) is None:
            return (
                "SubscriptionRoleArn Reason: the role must be of the subscriber's account and "
                f"trust {SNS_PRINCIPAL}"
            )
        return None

    async def put(self, tenant_id: str, stream_arn: str, role_arn: str | None, data: bytes) -> None:
        if role_arn is not None:
            session = await self._roles.session(tenant_id, role_arn, _SESSION)
            if session is None:
                raise StreamRefused("Role.AssumeRoleFailed: SNS may not assume the role")
            if not await self._roles.allowed(session, "firehose:PutRecord", stream_arn):
                raise StreamRefused("AccessDenied: the role may not firehose:PutRecord")
        try:
            (result,) = await self._sink.put_records(tenant_id, stream_arn, [data])
        except FirehoseError as exc:
            raise StreamRefused(f"{type(exc).__name__}: {exc}") from None
        if result.error_code is not None:
            raise StreamRefused(f"{result.error_code}: {result.error_message}")
