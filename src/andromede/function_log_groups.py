"""Where Lambda's invocations meet CloudWatch Logs (decision 0286): the
``functions.invoker.FunctionLogs`` that writes an invocation's lines (START, the function's
own output, END, REPORT) into the function's group ``/aws/lambda/<name>`` of its account,
made when missing as AWS's Lambda makes it on first use, with no role (AWS writes them with
the execution role's ``logs:`` rights; here the platform writes, as for vended logs). What is
written is metered as ingested logs of the group's class, as the other services' logs are.
A write that fails is logged and dropped: it never fails the invocation."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

from andromede.errors import AndromedeError
from andromede.logs.errors import ResourceAlreadyExists, ResourceNotFound
from andromede.logs.log_classes import ingestion_meter
from andromede.logs.model import InputEvent
from andromede.logs.service import LogsService

__all__ = ["FunctionLogGroups"]

log = logging.getLogger(__name__)

_EVENT_OVERHEAD: Final = 26
_MAX_MESSAGE: Final = 256 * 1024 - _EVENT_OVERHEAD


class FunctionLogGroups:
    def __init__(
        self, logs: LogsService, *, ingested: Callable[[str, int, str], None] | None = None
    ) -> None:
        self._logs = logs
        self._ingested = ingested

    async def write(
        self, tenant_id: str, group: str, stream: str, events: list[tuple[int, str]]
    ) -> None:
        try:
            await self._ensure(tenant_id, group, stream)
            batch = [InputEvent(t, m[:_MAX_MESSAGE]) for t, m in events if m]
            taken = await self._logs.put_events(tenant_id, group, stream, batch)
        except AndromedeError:
            log.warning("Lambda: the log of %s could not be written", group, exc_info=True)
            return
        if self._ingested is not None and taken.accepted:
            size = sum(len(e.message.encode()) + _EVENT_OVERHEAD for e in batch)
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
