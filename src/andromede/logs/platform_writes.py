"""Events the platform writes into a tenant's log group with no role of the tenant, as AWS's
log delivery does for vended logs: SNS message data protection's findings
(``vended_log_groups``, decision 0215) and Lambda's invocation logs (``function_log_groups``,
decision 0286). The group and the stream are made when missing; what is written is metered
as ingested logs of the group's class (each message and 26 bytes an event, into
``logs.ingested`` or ``logs.ingested.infrequent-access``, through ``ingested``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

from andromede.logs.errors import ResourceAlreadyExists, ResourceNotFound
from andromede.logs.log_classes import ingestion_meter
from andromede.logs.model import InputEvent
from andromede.logs.service import LogsService

__all__ = ["EVENT_OVERHEAD", "PlatformLogWriter"]

EVENT_OVERHEAD: Final = 26  # bytes an event is metered beyond its message, as AWS's


class PlatformLogWriter:
    def __init__(
        self, logs: LogsService, *, ingested: Callable[[str, int, str], None] | None = None
    ) -> None:
        self._logs = logs
        self._ingested = ingested

    async def write(
        self, tenant_id: str, group: str, stream: str, batch: Sequence[InputEvent]
    ) -> None:
        """``batch`` into ``group``'s ``stream``, both made when missing, and metered."""
        await self._ensure(tenant_id, group, stream)
        taken = await self._logs.put_events(tenant_id, group, stream, batch)
        if self._ingested is not None and taken.accepted:
            size = sum(len(e.message.encode()) + EVENT_OVERHEAD for e in batch)
            self._ingested(tenant_id, size, ingestion_meter(taken.log_class))

    async def _ensure(self, tenant_id: str, group: str, stream: str) -> None:
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
