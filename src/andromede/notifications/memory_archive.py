"""The in-memory twin of the archive store (decision 0175), for tests and the in-process
app: records kept as they are (the SQL store seals them)."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from andromede.notifications.archive import REPLAY_PENDING, REPLAY_RUNNING, Archived, Replay

__all__ = ["MemoryArchiveStore"]


@dataclasses.dataclass(slots=True)
class _Row:
    archive_id: int
    tenant_id: str
    topic_arn: str
    record: str
    published_at: datetime
    until: datetime


class MemoryArchiveStore:
    def __init__(self) -> None:
        self._rows: dict[int, _Row] = {}
        self._next_id = 1
        self._replays: dict[str, Replay] = {}

    async def archive(
        self, tenant_id: str, topic_arn: str, record: str, published_at: datetime, until: datetime
    ) -> None:
        self._rows[self._next_id] = _Row(
            self._next_id, tenant_id, topic_arn, record, published_at, until
        )
        self._next_id += 1

    async def archived(
        self,
        topic_arn: str,
        *,
        after: int,
        start: datetime,
        end: datetime | None,
        now: datetime,
        limit: int,
    ) -> list[Archived]:
        found = [
            Archived(row.archive_id, row.published_at, row.record)
            for row in sorted(self._rows.values(), key=lambda r: r.archive_id)
            if row.topic_arn == topic_arn
            and row.archive_id > after
            and row.until > now
            and row.published_at >= start
            and (end is None or row.published_at <= end)
        ]
        return found[:limit]

    async def end_archive(self, topic_arn: str, now: datetime) -> int:
        ended = 0
        for row in self._rows.values():
            if row.topic_arn == topic_arn and row.until > now:
                row.until = now
                ended += 1
        return ended

    async def expire(self, now: datetime, *, limit: int) -> int:
        gone = sorted(i for i, row in self._rows.items() if row.until <= now)[:limit]
        for archive_id in gone:
            del self._rows[archive_id]
        return len(gone)

    async def archived_bytes(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for row in self._rows.values():
            found[row.tenant_id] = found.get(row.tenant_id, 0) + len(row.record.encode())
        return found

    async def put_replay(self, replay: Replay) -> None:
        self._replays[replay.subscription_arn] = replay

    async def drop_replay(self, subscription_arn: str) -> None:
        self._replays.pop(subscription_arn, None)

    async def replay(self, subscription_arn: str) -> Replay | None:
        return self._replays.get(subscription_arn)

    async def due_replays(self, *, limit: int) -> list[Replay]:
        due = [
            self._replays[arn]
            for arn in sorted(self._replays)
            if self._replays[arn].status in (REPLAY_PENDING, REPLAY_RUNNING)
        ]
        return due[:limit]

    async def advance_replay(self, replay: Replay, cursor: int, status: str) -> bool:
        if self._replays.get(replay.subscription_arn) != replay:
            return False
        self._replays[replay.subscription_arn] = dataclasses.replace(
            replay, cursor=cursor, status=status
        )
        return True
