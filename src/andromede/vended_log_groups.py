"""Logs an AWS service writes into a tenant's CloudWatch Logs group as vended logs, with no
role of the tenant: SNS message data protection's audit findings (decision 0215), whose group
SNS requires to be named ``/aws/vendedlogs/...`` (AWS checks at PutDataProtectionPolicy that
its caller may set up the delivery; here the topic's owner names a group of its own account).

The group and the stream are made when missing, as AWS's log delivery does; what is written
is metered as vended logs (``logs.platform_writes``), as ``role_log_groups`` meters the logs
written as a role.
"""

from __future__ import annotations

from collections.abc import Callable

from andromede.logs.model import InputEvent
from andromede.logs.platform_writes import PlatformLogWriter
from andromede.logs.service import LogsService

__all__ = ["VendedLogGroups"]


class VendedLogGroups:
    def __init__(
        self, logs: LogsService, *, ingested: Callable[[str, int, str], None] | None = None
    ) -> None:
        self._writer = PlatformLogWriter(logs, ingested=ingested)

    async def write(self, tenant_id: str, group: str, stream: str, event: tuple[int, str]) -> None:
        """One (timestamp in ms, message) event (``message_protection.FindingsLogs``)."""
        timestamp, message = event
        await self._writer.write(tenant_id, group, stream, [InputEvent(timestamp, message)])
