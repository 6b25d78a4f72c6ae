"""EventBridge's Kinesis and Firehose targets (decision 0238), where the events, identity,
Kinesis and Firehose contexts meet: the ``events.dispatcher.StreamSink`` that puts a matched
event, as its target's input made it, as one record into the target's stream.

As on AWS, EventBridge writes as the target's ``RoleArn``, never as itself: the role must be
of the rule's account and trust ``events.amazonaws.com`` (else ``FAILED_TO_ASSUME_ROLE``), and
its identity policies (and, for a Kinesis stream of another account, the stream's resource
policy too: decision 0273) — within its permissions boundary, by the same engine as every request —
must allow ``kinesis:PutRecord`` (``firehose:PutRecord``) on the stream at each delivery (else
``NO_PERMISSIONS``); a Kinesis stream under a customer key also asks the role's right to
``kms:GenerateDataKey`` through ``kinesis.<region>.amazonaws.com``, as a PutRecord of its own
would. A stream that is not there is ``NO_RESOURCE``. These are not tried again (AWS sends them
to the dead-letter queue at once); a full shard or buffer (``THROTTLING``), a stream being
made or resharded and a key that is disabled are, until the target's retry policy is spent.

A Kinesis record's partition key is the event's value at ``KinesisParameters.PartitionKeyPath``
(its text; other JSON values as compact JSON), or the event's id without it; an event with
nothing there is ``INVALID_PARAMETER``. A Firehose record is the input as it is: EventBridge
appends no newline (a user who wants JSON lines ends an ``InputTemplate`` with one). The
services are found when needed (``serve`` makes them after EventBridge): none is a refusal.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final

from andromede.events.dispatcher import DeliveryDeferred, DeliveryRefused
from andromede.events.model import Target, parse_arn
from andromede.events.transform import is_missing, read_path
from andromede.firehose import errors as firehose_errors
from andromede.firehose.model import StreamStatus
from andromede.firehose.service import FirehoseService
from andromede.iam.model import Principal
from andromede.iam.service import IdentityService
from andromede.iam.service_roles import ServiceRoleSessions, TrustSource
from andromede.kinesis import errors as kinesis_errors
from andromede.kinesis.service import Entry, KinesisService
from andromede.kms.keys_interface import Caller

__all__ = ["EVENTS_PRINCIPAL", "EventsRoles", "RoleStreamTargets", "partition_key"]

EVENTS_PRINCIPAL: Final = "events.amazonaws.com"
_SESSION: Final = "eventbridge"
_KMS_DENIED: Final = "KMSAccessDeniedException"


class EventsRoles(ServiceRoleSessions):
    """The roles EventBridge acts as: a target's role, assumed by ``events.amazonaws.com``
    (its session) for the rule ``rule_arn`` — the trust policy's ``aws:SourceArn``, its account
    ``aws:SourceAccount`` (decision 0321) —, and what its identity policies allow."""

    def __init__(self, identity: IdentityService, region: str) -> None:
        super().__init__(identity, EVENTS_PRINCIPAL, region)

    async def session(
        self,
        tenant_id: str,
        role_arn: str | None,
        session_name: str = _SESSION,
        source: TrustSource | None = None,
        *,
        rule_arn: str | None = None,
    ) -> Principal | None:
        if source is None and rule_arn is not None:
            source = TrustSource.of(rule_arn)
        return await super().session(tenant_id, role_arn, session_name, source)


def partition_key(event: dict[str, Any], path: str | None) -> str:
    """The partition key of ``event``'s record (``PartitionKeyPath``, or the event's id)."""
    if path is None:
        return str(event.get("id") or "-")
    value = read_path(event, path)
    if is_missing(value) or value is None:
        raise DeliveryRefused("INVALID_PARAMETER", f"the event has no value at {path[:256]}")
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    if not 1 <= len(text) <= 256:
        raise DeliveryRefused(
            "INVALID_PARAMETER", f"the partition key at {path[:256]} is not 1 to 256 characters"
        )
    return text


class RoleStreamTargets:
    """:class:`~andromede.events.dispatcher.StreamSink` over the Kinesis and Firehose
    services (each None where not served)."""

    def __init__(
        self,
        roles: EventsRoles,
        kinesis: Callable[[], KinesisService | None],
        firehose: Callable[[], FirehoseService | None],
        region: str,
    ) -> None:
        self._roles = roles
        self._kinesis = kinesis
        self._firehose = firehose
        self._region = region

    async def send(
        self,
        tenant_id: str,
        target: Target,
        message: str,
        event: dict[str, Any],
        rule_arn: str | None = None,
    ) -> None:
        parts = parse_arn(target.arn)
        if parts is None or parts[1] != self._region:
            raise DeliveryRefused("NO_RESOURCE", f"{target.arn} is no stream of the Region")
        service, _, owner, resource = parts
        if owner != tenant_id and service != "kinesis":  # AWS's cross-account targets
            raise DeliveryRefused("NO_RESOURCE", f"{target.arn} is no stream of the account")
        session = await self._roles.session(tenant_id, target.role_arn, rule_arn=rule_arn)
        if session is None:
            raise DeliveryRefused(
                "FAILED_TO_ASSUME_ROLE",
                f"{EVENTS_PRINCIPAL} may not assume the role {target.role_arn}",
            )
        action = f"{service}:PutRecord"
        # Decision 0273: another account's stream lets the role in by its resource policy
        # (decision 0248), beside the role's own policies.
        policy = None if owner == tenant_id else await self._stream_policy(owner, resource)
        if not await self._roles.allowed(
            session, action, target.arn, resource_policy=policy, resource_account=owner
        ):
            raise DeliveryRefused(
                "NO_PERMISSIONS", f"the target's role may not {action} on {target.arn}"
            )
        data = message.encode()
        if service == "kinesis":
            key = partition_key(event, target.partition_key_path)
            await self._to_kinesis(owner, resource.removeprefix("stream/"), key, data, session)
        else:
            await self._to_firehose(tenant_id, resource.removeprefix("deliverystream/"), data)

    async def _stream_policy(self, owner: str, resource: str) -> str | None:
        """The resource policy of another account's Kinesis stream; None when it is gone (then
        no policy lets the role in: the rule learns nothing of what another account holds)."""
        kinesis = self._kinesis()
        if kinesis is None:
            raise DeliveryRefused("NO_RESOURCE", "Kinesis is not served by this deployment")
        try:
            stream = await kinesis.get(owner, resource.removeprefix("stream/"))
        except kinesis_errors.StreamNotFound:
            return None
        return stream.policy

    async def _to_kinesis(
        self, owner: str, name: str, key: str, data: bytes, session: Principal
    ) -> None:
        """One record into ``owner``'s stream, as the role ``session`` (of the rule's account:
        the KMS key's policy sees it)."""
        kinesis = self._kinesis()
        if kinesis is None:
            raise DeliveryRefused("NO_RESOURCE", "Kinesis is not served by this deployment")
        caller = Caller(
            account_id=session.tenant_id or owner,
            arn=session.arn,
            principal=session,
            secure=True,
            via_service=f"kinesis.{self._region}.amazonaws.com",
        )
        try:
            _, (outcome,) = await kinesis.put(owner, name, [Entry(key, data)], caller)
        except kinesis_errors.StreamNotFound as exc:
            raise DeliveryRefused("NO_RESOURCE", str(exc)) from None
        except kinesis_errors.KmsRefused as exc:
            if exc.code == _KMS_DENIED:
                raise DeliveryRefused("NO_PERMISSIONS", f"{exc.code}: {exc}") from None
            raise DeliveryDeferred("ERROR_FROM_TARGET", f"{exc.code}: {exc}") from None
        except kinesis_errors.InvalidArgument as exc:
            raise DeliveryRefused("INVALID_PARAMETER", str(exc)) from None
        except kinesis_errors.KinesisError as exc:  # being resharded: another try will do
            raise DeliveryDeferred("ERROR_FROM_TARGET", str(exc)) from None
        if outcome.error is not None:
            raise DeliveryDeferred("THROTTLING", outcome.error[1])

    async def _to_firehose(self, tenant_id: str, name: str, data: bytes) -> None:
        firehose = self._firehose()
        if firehose is None:
            raise DeliveryRefused("NO_RESOURCE", "Firehose is not served by this deployment")
        try:
            stream = await firehose.get(tenant_id, name)
        except firehose_errors.StreamNotFound as exc:
            raise DeliveryRefused("NO_RESOURCE", str(exc)) from None
        if stream.status is not StreamStatus.ACTIVE:  # being made: it will take records
            raise DeliveryDeferred("NO_RESOURCE", f"Firehose {name} is {stream.status.value}")
        try:
            (result,) = await firehose.put(tenant_id, name, [data])
        except firehose_errors.StreamNotFound as exc:  # deleted since
            raise DeliveryRefused("NO_RESOURCE", str(exc)) from None
        except firehose_errors.FirehoseError as exc:  # its key refuses, for now
            raise DeliveryDeferred("ERROR_FROM_TARGET", f"{type(exc).__name__}: {exc}") from None
        if result.error_code is not None:
            raise DeliveryDeferred("THROTTLING", f"{result.error_code}: {result.error_message}")
