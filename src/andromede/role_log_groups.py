"""Logs an AWS service writes into a tenant's CloudWatch Logs groups as a role of the tenant
(VPC flow logs, decision 0153's session-48 addendum; SNS's delivery status logs, decision
0212), where the identity and logs contexts meet.

As on AWS, the platform delivers as the resource's role, never as itself: the role must be of
the resource's account and trust the service's principal (its trust policy, as AWS's service
assumes it: the resource as ``aws:SourceArn``, its account as ``aws:SourceAccount`` where the
caller gives them, decision 0321), and its identity policies — within its permissions boundary,
by the same engine as every request — must allow ``logs:PutLogEvents`` on each stream,
``logs:CreateLogStream`` on a stream that does not exist yet, and ``logs:CreateLogGroup`` on a
group that does not (AWS creates a missing group when the role may). A role that does not, or
is gone, is answered ``Access error``; the account at its bound of log groups, ``Rate limited``
(EC2's ``deliverLogsErrorMessage`` words).

Events go in PutLogEvents batches bounded by the Logs service's own limits. What is delivered
is metered as AWS meters vended logs: the bytes ingested (each message and 26 bytes an event,
as PutLogEvents counts them) into the group's account's ``logs.ingested`` (or, into an
Infrequent Access group, ``logs.ingested.infrequent-access``: decision 0222), through
``ingested`` (billing's counter, given by the wiring); no ``logs.requests``. The groups and
streams made here are audited as the role's session's ``logs:CreateLogGroup`` /
``logs:CreateLogStream``, ``invoked_by`` the service.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Final

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.iam.model import Principal
from andromede.iam.service import IdentityService
from andromede.iam.service_roles import ServiceRoleSessions, TrustSource
from andromede.logs.errors import LimitExceeded, ResourceAlreadyExists, ResourceNotFound
from andromede.logs.log_classes import ingestion_meter
from andromede.logs.model import InputEvent, group_arn, stream_arn
from andromede.logs.service import LogsService

__all__ = ["ACCESS_ERROR", "RATE_LIMITED", "RoleLogGroups"]

ACCESS_ERROR: Final = "Access error"
RATE_LIMITED: Final = "Rate limited"
# What PutLogEvents counts per event beside its message (AWS's batch size rule).
_EVENT_OVERHEAD: Final = 26


class RoleLogGroups:
    def __init__(
        self,
        identity: IdentityService,
        logs: LogsService,
        *,
        service: str,
        session_name: str,
        ingested: Callable[[str, int, str], None] | None = None,
        audit: AuditService | None = None,
    ) -> None:
        """``service``: the principal the role must trust (``vpc-flow-logs.amazonaws.com``);
        ``session_name``: its session's, in the audit records' ARN."""
        self._service = service
        self._session_name = session_name
        self._roles = ServiceRoleSessions(identity, service, logs.region)
        self._logs = logs
        self._ingested = ingested
        self._audit = audit

    async def deliver(
        self,
        tenant_id: str,
        role_arn: str,
        name: str,
        streams: Mapping[str, Sequence[tuple[int, str]]],
        source: TrustSource | None = None,
    ) -> str | None:
        """Each stream's (timestamp in ms, message) events into the tenant's group ``name`` as
        its role ``role_arn``; None, or :data:`ACCESS_ERROR` / :data:`RATE_LIMITED` when it
        could not (nothing more is tried then)."""
        session = await self._roles.session(
            tenant_id, role_arn, self._session_name, source or TrustSource(account=tenant_id)
        )
        if session is None:
            return ACCESS_ERROR
        region = self._logs.region
        try:
            await self._logs.group(tenant_id, name)
        except ResourceNotFound:
            arn = group_arn(region, tenant_id, name)
            if not await self._roles.allowed(session, "logs:CreateLogGroup", arn):
                return ACCESS_ERROR
            try:
                await self._logs.create_group(tenant_id, name, None, {})
                self._record(session, "logs:CreateLogGroup", arn)
            except ResourceAlreadyExists:
                pass  # another gateway's pass made it meanwhile
            except LimitExceeded:
                return RATE_LIMITED
        for stream, events in streams.items():
            arn = stream_arn(region, tenant_id, name, stream)
            if not await self._roles.allowed(session, "logs:PutLogEvents", arn):
                return ACCESS_ERROR
            try:
                await self._logs.stream(tenant_id, name, stream)
            except ResourceNotFound:
                if not await self._roles.allowed(session, "logs:CreateLogStream", arn):
                    return ACCESS_ERROR
                try:
                    await self._logs.create_stream(tenant_id, name, stream)
                    self._record(session, "logs:CreateLogStream", arn)
                except ResourceAlreadyExists:
                    pass
            for batch in self._batches(events):
                taken = await self._logs.put_events(tenant_id, name, stream, batch)
                if self._ingested is not None and taken.accepted:
                    self._ingested(
                        tenant_id,
                        sum(len(e.message.encode()) + _EVENT_OVERHEAD for e in taken.accepted),
                        ingestion_meter(taken.log_class),
                    )
        return None

    async def write(
        self,
        tenant_id: str,
        role_arn: str,
        group: str,
        stream: str,
        event: tuple[int, str],
        source: TrustSource | None = None,
    ) -> str | None:
        """One event (SNS's delivery status log, ``delivery_status.StatusLogs``)."""
        return await self.deliver(tenant_id, role_arn, group, {stream: [event]}, source)

    def _batches(self, events: Sequence[tuple[int, str]]) -> Iterator[list[InputEvent]]:
        """The events in PutLogEvents batches within the Logs service's bounds."""
        limits = self._logs.limits
        batch: list[InputEvent] = []
        size = 0
        for timestamp, message in events:
            weight = len(message.encode()) + _EVENT_OVERHEAD
            if batch and (
                len(batch) >= limits.max_events or size + weight > limits.max_batch_bytes
            ):
                yield batch
                batch, size = [], 0
            batch.append(InputEvent(timestamp, message))
            size += weight
        if batch:
            yield batch

    def _record(self, session: Principal, action: str, resource: str) -> None:
        if self._audit is None or session.tenant_id is None:
            return
        self._audit.record(
            request_id=uuid.uuid4().hex.upper()[:16],
            tenant_id=session.tenant_id,
            principal=session.arn,
            action=action,
            resource=resource[:2048],
            outcome=Outcome.SUCCESS,
            details={"via": self._session_name, "invoked_by": self._service},
        )
