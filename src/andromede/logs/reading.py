"""The reading of a group's events (decision 0186), :class:`LogsService`'s base: stored events
opened (unsealed under the key they were sealed with, their sensitive terms masked unless the
caller may unmask) and the reads built on that — GetLogEvents by position, FilterLogEvents by
pattern, the scans Logs Insights and the export tasks read through, Live Tail's reading by
``seq``, GetLogRecord's one event and GetLogGroupFields' sample. Every read goes a chunk at a
time and answers at most ``max_response_bytes`` of messages, as AWS's 1 MB: memory stays
bounded whatever the events' sizes. Split from ``logs.service`` (session 53): the service
orchestrates the writes, this module the reads."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass

from andromede.logs.data_protection import mask
from andromede.logs.errors import InvalidParameter
from andromede.logs.filter import compile_pattern
from andromede.logs.model import (
    LogGroup,
    LogsLimits,
    LogStream,
    Position,
    StoredEvent,
    check_stream_name,
    parse_position_token,
    position_token,
)
from andromede.logs.sealing import LogSealer, event_context
from andromede.logs.store import EventQuery, LogStore

__all__ = ["EventReading", "LogEvent"]

# Events read from the store at a time: memory stays bounded by this many messages.
_CHUNK = 100
_MAX_FILTER_STREAMS = 100  # AWS's bound on FilterLogEvents' logStreamNames


@dataclass(frozen=True, slots=True)
class LogEvent:
    stream: str
    timestamp: int
    ingestion: int
    message: str
    seq: int
    # The message as ingested beside its masked ``message``, when a reader asked for both
    # (Logs Insights' ``unmask``) and a term was masked.
    unmasked: str | None = None


class EventReading:
    """The reads of :class:`andromede.logs.service.LogsService`, which gives the store, the
    sealer, the limits and the lookups (a group's key and class; a stream's existence)."""

    store: LogStore
    _sealer: LogSealer
    limits: LogsLimits

    async def group(self, tenant_id: str, name: str) -> LogGroup:
        raise NotImplementedError

    async def stream(self, tenant_id: str, group: str, name: str) -> LogStream:
        raise NotImplementedError

    async def _open(
        self,
        tenant_id: str,
        group: LogGroup,
        events: Sequence[StoredEvent],
        *,
        unmask: bool = False,
        reveal: bool = False,
    ) -> list[LogEvent]:
        """The events' messages, their sensitive terms masked unless ``unmask`` (a caller the
        wire layer allowed ``logs:Unmask``); ``reveal`` (allowed as ``unmask``): masked, the
        unmasked text beside."""
        opened = await self._sealer.open(
            group,
            [
                (e.sealed, event_context(tenant_id, group.name, e.stream, e.timestamp))
                for e in events
            ],
        )
        return [
            LogEvent(
                e.stream,
                e.timestamp,
                e.ingestion,
                text.decode() if unmask or not e.masks else mask(text.decode(), e.masks),
                e.seq,
                text.decode() if reveal and e.masks else None,
            )
            for e, text in zip(events, opened, strict=True)
        ]

    async def get_events(
        self,
        tenant_id: str,
        group_name: str,
        stream_name: str,
        *,
        start: int | None,
        end: int | None,
        start_from_head: bool,
        limit: int | None,
        token: str | None,
        unmask: bool = False,
    ) -> tuple[list[LogEvent], str, str]:
        """The events and the next forward and backward tokens; at either end the token
        given comes back, as AWS does (which is how clients know to stop)."""
        group = await self.group(tenant_id, group_name)
        await self.stream(tenant_id, group_name, stream_name)
        size = self._page_size(limit, self.limits.events_page)
        query = EventQuery(tenant_id, group_name, [stream_name], start=start, end=end, limit=size)
        direction = "f" if start_from_head else "b"
        if token is not None:
            direction, position = parse_position_token(token)
            if direction == "f":
                query = dataclasses.replace(query, after=position)
            else:
                query = dataclasses.replace(query, before=position, descending=True)
        elif not start_from_head:
            query = dataclasses.replace(query, descending=True)
        stored = await self._read_bounded(query, size)
        if query.descending:
            stored.reverse()
        events = await self._open(tenant_id, group, stored, unmask=unmask)
        if events:
            first, last = stored[0].position, stored[-1].position
        elif token is not None:
            first = last = parse_position_token(token)[1]
        else:
            # Nothing in range: both tokens stand where reading began.
            first = last = Position(start or 0, 0) if start_from_head else Position(end or 2**62, 0)
        forward = position_token("f", last)
        backward = position_token("b", first)
        if token is not None and not events:
            forward = token if direction == "f" else forward
            backward = token if direction == "b" else backward
        return events, forward, backward

    async def _read_bounded(self, query: EventQuery, size: int) -> list[StoredEvent]:
        """Up to ``size`` events of ``query`` in its order, read a chunk at a time and no more
        than ``max_response_bytes`` of messages (one event at least), as AWS answers at most
        1 MB: memory stays bounded whatever the events' sizes."""
        found: list[StoredEvent] = []
        total = 0
        chunk = min(size, _CHUNK)
        while len(found) < size:
            stored = await self.store.read(
                dataclasses.replace(query, limit=min(chunk, size - len(found)))
            )
            for event in stored:
                if found and total + event.size > self.limits.max_response_bytes:
                    return found
                found.append(event)
                total += event.size
            if len(stored) < chunk or not stored:
                return found
            cursor = stored[-1].position
            if query.descending:
                query = dataclasses.replace(query, before=cursor)
            else:
                query = dataclasses.replace(query, after=cursor)
        return found

    async def filter_events(
        self,
        tenant_id: str,
        group_name: str,
        *,
        streams: Sequence[str] | None,
        stream_prefix: str,
        start: int | None,
        end: int | None,
        pattern: str,
        limit: int | None,
        token: str | None,
        unmask: bool = False,
    ) -> tuple[list[LogEvent], str | None]:
        """The matching events in time order, at most ``limit``; a token when more may
        match (a page that scanned ``filter_scan`` events without filling may be empty)."""
        if streams is not None and stream_prefix:
            raise InvalidParameter(
                "logStreamNames and logStreamNamePrefix are mutually exclusive parameters."
            )
        if streams is not None and not 1 <= len(streams) <= _MAX_FILTER_STREAMS:
            raise InvalidParameter(
                f"logStreamNames must name between 1 and {_MAX_FILTER_STREAMS} streams"
            )
        for name in streams or ():
            check_stream_name(name, "logStreamNames")
        matcher = compile_pattern(pattern)
        group = await self.group(tenant_id, group_name)
        size = self._page_size(limit, self.limits.events_page)
        after: Position | None = None
        if token is not None:
            direction, after = parse_position_token(token)
            if direction != "f":
                raise InvalidParameter("The specified nextToken is invalid.")
        found: list[LogEvent] = []
        scanned = total = 0
        chunk = min(_CHUNK, self.limits.filter_scan)
        while True:
            stored = await self.store.read(
                EventQuery(
                    tenant_id,
                    group_name,
                    streams,
                    stream_prefix,
                    start,
                    end,
                    after=after,
                    limit=chunk,
                )
            )
            for event in await self._open(tenant_id, group, stored, unmask=unmask):
                if not matcher.matches(event.message):
                    after = Position(event.timestamp, event.seq)
                    scanned += 1
                    continue
                if found and total + len(event.message.encode()) > self.limits.max_response_bytes:
                    # As AWS's 1 MB: this event opens the next page.
                    return found, position_token("f", after or Position(0, 0))
                after = Position(event.timestamp, event.seq)
                scanned += 1
                found.append(event)
                total += len(event.message.encode())
                if len(found) == size:
                    return found, position_token("f", after)
            if len(stored) < chunk:
                return found, None
            if scanned >= self.limits.filter_scan and after is not None:
                return found, position_token("f", after)

    async def scan(
        self,
        tenant_id: str,
        group_name: str,
        start: int,
        end: int,
        chunk: int,
        streams: Sequence[str] | None = None,
        reveal: bool = False,
    ) -> AsyncIterator[list[LogEvent]]:
        """A group's events (of ``streams`` when given) with timestamps in ``[start, end)``,
        in time order, opened a chunk at a time as FilterLogEvents opens them (Logs Insights
        and the export tasks read through it); ``reveal``: the unmasked text beside, for a
        caller the wire layer allowed ``logs:Unmask``."""
        group = await self.group(tenant_id, group_name)
        after: Position | None = None
        while True:
            stored = await self.store.read(
                EventQuery(
                    tenant_id, group_name, streams, start=start, end=end, after=after, limit=chunk
                )
            )
            if stored:
                yield await self._open(tenant_id, group, stored, reveal=reveal)
            if len(stored) < chunk:
                return
            after = stored[-1].position

    async def event_at(
        self,
        tenant_id: str,
        group_name: str,
        stream: str,
        position: Position,
        *,
        unmask: bool = False,
    ) -> LogEvent | None:
        """The event at ``position`` of a stream, opened (GetLogRecord); None when it is gone."""
        group = await self.group(tenant_id, group_name)
        stored = await self.store.read(
            EventQuery(
                tenant_id,
                group_name,
                [stream],
                start=position.timestamp,
                end=position.timestamp + 1,
                after=Position(position.timestamp, position.seq - 1),
                limit=1,
            )
        )
        if not stored or stored[0].position != position:
            return None
        return (await self._open(tenant_id, group, stored, unmask=unmask))[0]

    async def last_seq(self) -> int:
        """Where a live tail starts: the ``seq`` of the event stored last, any group's."""
        return await self.store.last_seq()

    async def stored_since(
        self,
        tenant_id: str,
        group_name: str,
        after: int,
        limit: int,
        streams: Sequence[str] | None = None,
        skip: Collection[int] = (),
    ) -> tuple[list[LogEvent], int, int]:
        """Up to ``limit`` of a group's events (of ``streams`` when given) stored after the
        ``seq`` ``after``, in the order they were stored, opened as FilterLogEvents opens
        them but for those whose ``seq`` is in ``skip`` (a live tail's reading). Answers the
        events opened, how many were read and the last ``seq`` read (``after`` if none)."""
        group = await self.group(tenant_id, group_name)
        stored = await self.store.read(
            EventQuery(tenant_id, group_name, streams, stored_after=after, limit=limit)
        )
        last = stored[-1].seq if stored else after
        wanted = [e for e in stored if e.seq not in skip]
        opened = await self._open(tenant_id, group, wanted) if wanted else []
        return opened, len(stored), last

    async def latest_events(
        self, tenant_id: str, group_name: str, start: int, end: int, size: int
    ) -> list[LogEvent]:
        """Up to ``size`` of a group's latest events in ``[start, end)``, newest first, within
        ``max_response_bytes`` of messages (GetLogGroupFields' sample)."""
        group = await self.group(tenant_id, group_name)
        query = EventQuery(tenant_id, group_name, start=start, end=end, descending=True)
        return await self._open(tenant_id, group, await self._read_bounded(query, size))

    @staticmethod
    def _page_size(limit: int | None, ceiling: int) -> int:
        if limit is None:
            return ceiling
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= ceiling:
            raise InvalidParameter(f"limit must be between 1 and {ceiling}")
        return limit
