"""Logs an AWS service writes into a tenant's CloudWatch Logs group as vended logs, with no
role of the tenant: SNS message data protection's audit findings (decision 0215), whose group
SNS requires to be named ``/aws/vendedlogs/...`` (AWS checks at PutDataProtectionPolicy that
its caller may set up the delivery; here the topic's owner names a group of its own account).

The group and the stream are made when missing, as AWS's log delivery does; what is written
is metered as vended logs (each message and 26 bytes an event, into ``logs.ingested``, or
``logs.ingested.infrequent-access`` for an Infrequent Access group, through ``ingested``),
as ``role_log_groups`` meters the logs written as a role.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from andromede.logs.errors import ResourceAlreadyExists, ResourceNotFound
from andromede.logs.log_classes import ingestion_meter
from andromede.logs.model import InputEvent
from andromede.logs.service import LogsService

__all__ = ["VendedLogGroups"]

_EVENT_OVERHEAD: Final = 26


class VendedLogGroups:
    def __init__(
        self, logs: LogsService, *, ingested: Callable[[str, int, str], None] | None = None
    ) -> None:
        self._logs = logs
        self._ingested = ingested

    async def write(self, tenant_id: str, group: str, stream: str, event: tuple[int, str]) -> None:
        """One (timestamp in ms, message) event (``message_protection.FindingsLogs``)."""
        try:
            await self._logs.group(tenant_id, group)
        except ResourceNotFound:
            try:
                await self._logs.create_group(tenant_id, group, None, {})
            except ResourceAlreadyExists:
                pass  # another gateway's write made it meanwhile
        try:
            await self._logs.stream(tenant_id, group, stream)
        except ResourceNotFound:
            try:
                await self._logs.create_stream(tenant_id, group, stream)
            except ResourceAlreadyExists:
                pass
        timestamp, message = event
        taken = await self._logs.put_events(
            tenant_id, group, stream, [InputEvent(timestamp, message)]
        )
        if self._ingested is not None and taken.accepted:
            size = len(message.encode()) + _EVENT_OVERHEAD
            self._ingested(tenant_id, size, ingestion_meter(taken.log_class))
