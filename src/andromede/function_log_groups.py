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
from andromede.logs.model import InputEvent
from andromede.logs.platform_writes import EVENT_OVERHEAD, PlatformLogWriter
from andromede.logs.service import LogsService

__all__ = ["FunctionLogGroups"]

log = logging.getLogger(__name__)

_MAX_MESSAGE: Final = 256 * 1024 - EVENT_OVERHEAD


class FunctionLogGroups:
    def __init__(
        self, logs: LogsService, *, ingested: Callable[[str, int, str], None] | None = None
    ) -> None:
        self._writer = PlatformLogWriter(logs, ingested=ingested)

    async def write(
        self, tenant_id: str, group: str, stream: str, events: list[tuple[int, str]]
    ) -> None:
        try:
            batch = [InputEvent(t, m[:_MAX_MESSAGE]) for t, m in events if m]
            await self._writer.write(tenant_id, group, stream, batch)
        except AndromedeError:
            log.warning("Lambda: the log of %s could not be written", group, exc_info=True)
