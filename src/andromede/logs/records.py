"""One event as a record, and a group's fields (decision 0186, session-49 addendum):
GetLogRecord reads the event a Logs Insights ``@ptr`` points at — an opaque token of its
group, stream, timestamp and order of storing, which only this module and the query runner
make and read — and answers all its fields, a JSON message's discovered as Insights
discovers them; GetLogGroupFields reads a sample of the group's latest events (at most
``sample``, within the 15 minutes before ``time`` as AWS's) and answers each field's name
with the share of the sampled events that have it, in whole percents."""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable
from typing import Final

from andromede.logs.errors import InvalidParameter, ResourceNotFound
from andromede.logs.insights_functions import Record, Stamp, format_value
from andromede.logs.insights_run import event_record
from andromede.logs.model import Position, check_group_name, check_stream_name
from andromede.logs.service import LogEvent, LogsService

__all__ = ["RecordService", "parse_pointer"]

_WINDOW_MS: Final = 15 * 60_000  # GetLogGroupFields' window before ``time``, as AWS's
_BAD_POINTER: Final = "The specified logRecordPointer is not valid."


def parse_pointer(pointer: str) -> tuple[str, str, Position]:
    """The (group, stream, position) an ``@ptr`` names; InvalidParameter otherwise."""
    try:
        group, stream, timestamp, seq = json.loads(base64.urlsafe_b64decode(pointer.encode()))
    except (ValueError, TypeError, binascii.Error, UnicodeError):
        raise InvalidParameter(_BAD_POINTER) from None
    if not (
        isinstance(group, str)
        and isinstance(stream, str)
        and isinstance(timestamp, int)
        and isinstance(seq, int)
        and not isinstance(timestamp, bool)
        and not isinstance(seq, bool)
    ):
        raise InvalidParameter(_BAD_POINTER)
    try:
        check_group_name(group)
        check_stream_name(stream)
    except InvalidParameter:
        raise InvalidParameter(_BAD_POINTER) from None
    return group, stream, Position(timestamp, seq)


def _record(account: str, group: str, event: LogEvent) -> Record:
    return event_record(
        account,
        group,
        event.stream,
        event.timestamp,
        event.ingestion,
        event.message,
        event.seq,
    )


def _now_ms() -> int:
    return int(time.time() * 1000)


class RecordService:
    def __init__(
        self, logs: LogsService, sample: int = 1000, clock: Callable[[], int] = _now_ms
    ) -> None:
        self._logs = logs
        self._sample = sample
        self._clock = clock

    async def log_record(
        self, tenant_id: str, pointer: str, *, unmask: bool = False
    ) -> dict[str, str]:
        """The fields of the event a pointer names, as strings; ``@timestamp`` and
        ``@ingestionTime`` in milliseconds, as AWS's GetLogRecord. Masked as every reading
        unless ``unmask`` (a caller the wire layer allowed ``logs:Unmask``)."""
        group, stream, position = parse_pointer(pointer)
        event = await self._logs.event_at(tenant_id, group, stream, position, unmask=unmask)
        if event is None:
            raise ResourceNotFound("The specified log record does not exist.")
        fields: dict[str, str] = {}
        for name, value in _record(tenant_id, group, event).items():
            if name == "@ptr":
                continue
            fields[name] = str(int(value)) if isinstance(value, Stamp) else format_value(value)
        return fields

    async def group_fields(
        self, tenant_id: str, group: str, time_seconds: int | None
    ) -> list[tuple[str, int]]:
        """Each field of the sampled events and the whole percent of them that have it,
        the most common first, then by name."""
        end = self._clock() + 1 if time_seconds is None else time_seconds * 1000 + 1
        events = await self._logs.latest_events(
            tenant_id, group, end - 1 - _WINDOW_MS, end, self._sample
        )
        if not events:
            return []
        counts: dict[str, int] = {}
        for event in events:
            for name in _record(tenant_id, group, event):
                if name != "@ptr":
                    counts[name] = counts.get(name, 0) + 1
        shares = [(name, round(100 * n / len(events))) for name, n in counts.items()]
        shares.sort(key=lambda item: (-item[1], item[0]))
        return shares
