"""CloudWatch Logs live tail sessions (decision 0186, session 50): StartLiveTail's groups,
stream filters and filter pattern, read every second from the store so events stored
through any gateway show, bounded in time and memory. No wire format here
(:mod:`andromede.logsapi.live_tail` writes the event stream).

A session starts at the ``seq`` stored last (:meth:`LogsService.last_seq`) and reads, every
``interval``, each group's events stored since, 100 at a time and at most
:data:`READ_PER_UPDATE` in all, keeping the first :data:`MAX_PER_UPDATE` that match (AWS's
500 an update; more is answered ``sampled``). A transaction on PostgreSQL may commit after
one holding a later ``seq``: the reading starts again from the ``seq`` read
:data:`SETTLE_SECONDS` ago, skipping those already delivered (kept only above that point),
so such an event still shows, a little late, and none twice. A gateway holds at most
``max_sessions`` sessions an account (AWS's quota: 15), each at most ``max_session``
seconds (AWS's three hours), after which it ends timed out."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from andromede.logs.errors import LimitExceeded
from andromede.logs.filter import FilterPattern
from andromede.logs.log_classes import refuse_infrequent_access
from andromede.logs.service import LogsService

__all__ = [
    "MAX_PER_UPDATE",
    "LiveTailLimits",
    "LiveTailSession",
    "LiveTails",
    "TailEvent",
    "TailUpdate",
]

MAX_PER_UPDATE: Final = 500  # AWS's: more matching events in a second are sampled
READ_PER_UPDATE: Final = 5000  # events read an update at most (AWS buffers 5,000)
_CHUNK: Final = 100
SETTLE_SECONDS: Final = 2.0


@dataclass(frozen=True, slots=True)
class LiveTailLimits:
    max_sessions: int = 15
    max_session: float = 10_800.0  # seconds
    interval: float = 1.0  # seconds between two updates


@dataclass(frozen=True, slots=True)
class TailEvent:
    group_identifier: str
    stream: str
    message: str
    timestamp: int
    ingestion: int


@dataclass(frozen=True, slots=True)
class TailUpdate:
    events: list[TailEvent]
    sampled: bool


@dataclass(slots=True)
class LiveTailSession:
    """One session: :meth:`updates` yields an update every interval until the session's
    time is up (``timed_out`` then true) or the caller stops reading; :meth:`close` frees
    its place."""

    tails: LiveTails
    session_id: str
    tenant_id: str
    groups: list[tuple[str, str]]  # (identifier as given, name)
    streams: list[str] | None
    prefixes: list[str] | None
    pattern: FilterPattern
    low: int  # events stored after this seq are read
    timed_out: bool = False
    closed: bool = False
    delivered: set[int] = field(default_factory=set)
    marks: deque[tuple[float, int]] = field(default_factory=deque)

    async def updates(self) -> AsyncIterator[TailUpdate]:
        limits = self.tails.limits
        ends = self.tails.clock() + limits.max_session
        while True:
            wait = min(limits.interval, ends - self.tails.clock())
            if wait <= 0:
                self.timed_out = True
                return
            await asyncio.sleep(wait)
            if self.tails.clock() >= ends:
                self.timed_out = True
                return
            yield await self.read()

    async def read(self) -> TailUpdate:
        """The events stored since the last reading that match, at most 500."""
        kept: list[TailEvent] = []
        sampled = False
        highest = self.low
        budget = READ_PER_UPDATE
        for identifier, name in self.groups:
            cursor = self.low
            while budget > 0:
                asked = min(_CHUNK, budget)
                events, read, cursor = await self.tails.logs.stored_since(
                    self.tenant_id, name, cursor, asked, self.streams, skip=self.delivered
                )
                budget -= read
                for event in events:
                    self.delivered.add(event.seq)
                    if self.prefixes is not None and not any(
                        event.stream.startswith(p) for p in self.prefixes
                    ):
                        continue
                    if not self.pattern.matches(event.message):
                        continue
                    if len(kept) >= MAX_PER_UPDATE:
                        sampled = True
                        continue
                    kept.append(
                        TailEvent(
                            identifier, event.stream, event.message, event.timestamp,
                            event.ingestion,
                        )
                    )  # fmt: skip
                if read < asked:
                    break
            else:
                sampled = True  # this second's other events are not read
            highest = max(highest, cursor)
        self._settle(highest)
        return TailUpdate(kept, sampled)

    def _settle(self, highest: int) -> None:
        now = self.tails.clock()
        self.marks.append((now, highest))
        while self.marks and self.marks[0][0] <= now - SETTLE_SECONDS:
            self.low = max(self.low, self.marks.popleft()[1])
        self.delivered = {seq for seq in self.delivered if seq > self.low}

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.tails.release(self.tenant_id)


class LiveTails:
    """A gateway's live tail sessions, counted per account."""

    def __init__(
        self,
        logs: LogsService,
        limits: LiveTailLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logs = logs
        self.limits = limits or LiveTailLimits()
        self.clock = clock
        self._open: dict[str, int] = {}

    async def open(
        self,
        tenant_id: str,
        groups: Sequence[tuple[str, str]],
        streams: Sequence[str] | None,
        prefixes: Sequence[str] | None,
        pattern: FilterPattern,
    ) -> LiveTailSession:
        """A session over existing groups (ResourceNotFound otherwise), within the bound."""
        for _, name in groups:
            group = await self.logs.group(tenant_id, name)
            refuse_infrequent_access(group.log_class, "Live Tail")
        if self._open.get(tenant_id, 0) >= self.limits.max_sessions:
            raise LimitExceeded(
                f"The account already has {self.limits.max_sessions} live tail sessions "
                "open through this endpoint."
            )
        start = await self.logs.last_seq()
        self._open[tenant_id] = self._open.get(tenant_id, 0) + 1
        return LiveTailSession(
            self,
            secrets.token_hex(16),
            tenant_id,
            list(groups),
            None if streams is None else list(streams),
            None if prefixes is None else list(prefixes),
            pattern,
            start,
        )

    def release(self, tenant_id: str) -> None:
        left = self._open.get(tenant_id, 0) - 1
        if left > 0:
            self._open[tenant_id] = left
        else:
            self._open.pop(tenant_id, None)

    def open_sessions(self, tenant_id: str) -> int:
        return self._open.get(tenant_id, 0)
