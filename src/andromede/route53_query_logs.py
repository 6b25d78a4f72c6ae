"""Route 53's DNS query logs into CloudWatch Logs (decision 0305), where the route53, logs and
IAM contexts meet: the ``route53.query_logging.QueryLogGroups`` port and the writer of the
name servers' buffered lines.

Route 53 writes as the platform, a vended log: the account's CloudWatch Logs resource
policies must let ``route53.amazonaws.com`` do ``logs:CreateLogStream`` and
``logs:PutLogEvents`` on the zone's stream (``…:log-group:<name>:log-stream:<zone>/<edge>``,
which AWS's documented ``log-group:/aws/route53/*`` resource matches), with ``aws:SourceArn``
the hosted zone's ARN and ``aws:SourceAccount`` the account; an explicit ``Deny`` wins. It is
checked at CreateQueryLoggingConfig and again at each flush (a policy taken away stops the
logs, as on AWS). The lines go through the Logs service's put path (``LogsService.
put_events``): the group's KMS key seals them, its data protection, metric and subscription
filters see them, its retention applies; the bytes are metered into the account as the
other vended logs (each line and 26 bytes, by the group's log class)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Final

from andromede.log_group_targets import account_policies, services_allowed
from andromede.logs import errors as logs_errors
from andromede.logs.log_classes import ingestion_meter
from andromede.logs.model import InputEvent, stream_arn
from andromede.logs.service import LogsService
from andromede.route53.query_log_lines import stream_name
from andromede.route53.query_logging import GroupCheck

__all__ = ["ROUTE53_PRINCIPAL", "LogsQueryLogGroups", "LogsQueryLogWriter"]

log = logging.getLogger(__name__)

ROUTE53_PRINCIPAL: Final = "route53.amazonaws.com"
_ACTIONS: Final = ("logs:CreateLogStream", "logs:PutLogEvents")
_EVENT_OVERHEAD: Final = 26  # what PutLogEvents counts per event beside its message
_CHUNK: Final = 1000  # lines a put: well within AWS's 10,000 events and 1 MiB


def _zone_arn(zone_id: str) -> str:
    return f"arn:aws:route53:::hostedzone/{zone_id}"


class LogsQueryLogGroups:
    """Whether a group exists and lets Route 53 write a zone's stream (``edge`` the stream's
    edge location)."""

    def __init__(
        self, logs: Callable[[], LogsService | None], region: str, edge_location: str
    ) -> None:
        self._logs = logs
        self._region = region
        self._edge = edge_location

    async def check(self, tenant_id: str, group_name: str, zone_id: str) -> GroupCheck:
        logs = self._logs()
        if logs is None:
            return GroupCheck.NO_GROUP
        try:
            await logs.group(tenant_id, group_name)
        except logs_errors.ResourceNotFound:
            return GroupCheck.NO_GROUP
        stream = stream_name(zone_id, self._edge)
        return await self.policy_check(logs, tenant_id, group_name, stream)

    async def policy_check(
        self, logs: LogsService, tenant_id: str, group_name: str, stream: str
    ) -> GroupCheck:
        policies = await account_policies(logs, tenant_id)
        resource = stream_arn(self._region, tenant_id, group_name, stream)
        zone_id = stream.split("/", 1)[0]
        for action in _ACTIONS:
            if not services_allowed(policies, action, resource, tenant_id, _zone_arn(zone_id),
                                    self._region, (ROUTE53_PRINCIPAL,)):  # fmt: skip
                return GroupCheck.NO_POLICY
        return GroupCheck.OK


class LogsQueryLogWriter:
    """The ``query_log_lines.Writer``: a zone's lines into its group's stream, made when
    missing, if the account's policies still let Route 53 in."""

    def __init__(
        self,
        groups: LogsQueryLogGroups,
        logs: Callable[[], LogsService | None],
        ingested: Callable[[str, int, str], None] | None = None,
    ) -> None:
        self._groups = groups
        self._logs = logs
        self._ingested = ingested

    async def __call__(
        self, tenant_id: str, group: str, stream: str, lines: Sequence[tuple[int, str]]
    ) -> None:
        logs = self._logs()
        if logs is None:
            return
        if await self._groups.policy_check(logs, tenant_id, group, stream) is not GroupCheck.OK:
            log.warning("Route 53 query logs: %d lines refused by the account's policies",
                        len(lines))  # fmt: skip
            return
        try:
            with contextlib.suppress(logs_errors.ResourceAlreadyExists):
                await logs.create_stream(tenant_id, group, stream)
            for start in range(0, len(lines), _CHUNK):
                events = [InputEvent(at, text) for at, text in lines[start : start + _CHUNK]]
                batch = await logs.put_events(tenant_id, group, stream, events)
                if self._ingested is not None and batch.accepted:
                    size = sum(len(e.message.encode()) + _EVENT_OVERHEAD for e in batch.accepted)
                    self._ingested(tenant_id, size, ingestion_meter(batch.log_class))
        except logs_errors.ResourceNotFound:  # the group deleted: its lines have nowhere to go
            log.info("Route 53 query logs: the log group is gone, %d lines dropped", len(lines))
