"""The persistence interface of EventBridge's archives and replays (decision 0196), and its
in-memory twin :class:`MemoryArchiveStore`; :mod:`andromede.events.archive_store_sql` keeps
them in SQLite or PostgreSQL, the archived events sealed under their tenant's key. The
contract suite (``tests/contract/test_events_archives.py``) holds both to one behaviour.

Lists are in byte order of the name, paged after a name. An archive's events are read in
(event time, archived id) order after a cursor. A replay is worked by one runner at a time:
:meth:`ArchiveStore.claim_replays` leases it to a holder, and only that holder's
:meth:`ArchiveStore.advance_replay` with the state it read moves it on (compare-and-set), so
a CancelReplay in between wins and the runner reads it again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from andromede.events.archive_model import (
    Archive,
    ArchivedEvent,
    Replay,
    ReplayState,
    micros,
)
from andromede.events.errors import (
    IllegalStatus,
    LimitExceeded,
    ResourceAlreadyExists,
    ResourceNotFound,
)

__all__ = ["ArchiveStore", "MemoryArchiveStore", "limit_error"]


def limit_error(limit: int) -> LimitExceeded:
    return LimitExceeded(f"The requested resource exceeds the maximum number allowed ({limit}).")


def archive_missing(name: str) -> ResourceNotFound:
    return ResourceNotFound(f"Archive {name} does not exist.")


def replay_missing(name: str) -> ResourceNotFound:
    return ResourceNotFound(f"Replay {name} does not exist.")


def not_cancellable(replay: Replay) -> IllegalStatus:
    return IllegalStatus(f"Replay {replay.name} is {replay.state}: it cannot be cancelled.")


class ArchiveStore(Protocol):
    async def create_archive(
        self, archive: Archive, *, limit: int, counted: Callable[[str], bool] | None = None
    ) -> None:
        """ResourceAlreadyExists for a taken name, LimitExceeded past ``limit`` archives of
        the account (``counted``: which stored names count, a Region's view counting its
        own, decision 0402)."""
        ...

    async def get_archive(self, tenant_id: str, name: str) -> Archive | None:
        """With its events' count and size."""
        ...

    async def list_archives(
        self,
        tenant_id: str,
        *,
        prefix: str,
        source_arn: str | None,
        state: str | None,
        after: str,
        limit: int,
    ) -> list[Archive]:
        """With their events' count and size."""
        ...

    async def change_archive(
        self, tenant_id: str, name: str, change: Callable[[Archive], Archive]
    ) -> Archive:
        """Description, pattern, retention, KMS key and state replaced by ``change(held)``'s
        in one transaction; ResourceNotFound when there is no such archive."""
        ...

    async def delete_archive(self, tenant_id: str, name: str) -> None:
        """The archive and its events; ResourceNotFound when there is no such archive."""
        ...

    async def bus_archives(self, tenant_id: str, bus: str) -> list[Archive]:
        """The archives of a bus (counts not read: PutEvents' path)."""
        ...

    async def add_events(
        self, tenant_id: str, name: str, events: Sequence[tuple[datetime, str]], now: datetime
    ) -> None:
        """Archive each (event time, event JSON), arrived ``now``, in one transaction;
        nothing when the archive went meanwhile."""
        ...

    async def events(
        self,
        tenant_id: str,
        name: str,
        *,
        start: datetime,
        end: datetime,
        after: tuple[int, int],
        limit: int,
    ) -> list[ArchivedEvent]:
        """Events of ``start <= time < end`` after the cursor (time in microseconds, id), in
        that order."""
        ...

    async def expire(self, now: datetime, *, limit: int) -> int:
        """Delete up to ``limit`` events past their archive's retention; how many."""
        ...

    async def create_replay(
        self, replay: Replay, *, limit: int, counted: Callable[[str], bool] | None = None
    ) -> None:
        """ResourceAlreadyExists for a taken name, LimitExceeded when the account would have
        more than ``limit`` replays not finished (``counted``: which stored names count, a
        Region's view counting its own, decision 0402)."""
        ...

    async def get_replay(self, tenant_id: str, name: str) -> Replay | None: ...

    async def list_replays(
        self,
        tenant_id: str,
        *,
        prefix: str,
        source_arn: str | None,
        state: str | None,
        after: str,
        limit: int,
    ) -> list[Replay]: ...

    async def cancel_replay(self, tenant_id: str, name: str, now: datetime) -> Replay:
        """CANCELLING from STARTING or RUNNING, in one transaction; IllegalStatus otherwise,
        ResourceNotFound for no such replay."""
        ...

    async def claim_replays(
        self, now: datetime, *, holder: str, lease: timedelta, limit: int
    ) -> list[Replay]:
        """Replays not finished, unleased or leased by ``holder``, now leased to it until
        ``now + lease``."""
        ...

    async def advance_replay(self, held: Replay, new: Replay, *, holder: str) -> bool:
        """``new``'s state, reason, end, last replayed time and cursor written if the replay
        is still ``held``'s state and ``holder``'s; whether it was. A finished replay's lease
        is let go."""
        ...

    async def forget_tenant(self, tenant_id: str) -> int:
        """Delete a closed tenant's archives, their events and its replays; how many
        archives."""
        ...


@dataclass(slots=True)
class _Stored:
    event: ArchivedEvent
    arrived: datetime
    size: int


@dataclass(slots=True)
class _Lease:
    holder: str
    until: datetime


class MemoryArchiveStore:
    def __init__(self) -> None:
        self._archives: dict[tuple[str, str], Archive] = {}
        self._events: dict[tuple[str, str], list[_Stored]] = {}
        self._replays: dict[tuple[str, str], Replay] = {}
        self._leases: dict[tuple[str, str], _Lease] = {}
        self._next = 1

    def _counted(self, archive: Archive) -> Archive:
        stored = self._events.get((archive.tenant_id, archive.name), [])
        return replace(
            archive, event_count=len(stored), size_bytes=sum(item.size for item in stored)
        )

    async def create_archive(
        self, archive: Archive, *, limit: int, counted: Callable[[str], bool] | None = None
    ) -> None:
        key = (archive.tenant_id, archive.name)
        if key in self._archives:
            raise ResourceAlreadyExists(f"Archive {archive.name} already exists.")
        held = sum(
            1
            for tenant, name in self._archives
            if tenant == archive.tenant_id and (counted is None or counted(name))
        )
        if held >= limit:
            raise limit_error(limit)
        self._archives[key] = archive
        self._events[key] = []

    async def get_archive(self, tenant_id: str, name: str) -> Archive | None:
        found = self._archives.get((tenant_id, name))
        return None if found is None else self._counted(found)

    async def list_archives(
        self,
        tenant_id: str,
        *,
        prefix: str,
        source_arn: str | None,
        state: str | None,
        after: str,
        limit: int,
    ) -> list[Archive]:
        found = [
            self._counted(archive)
            for (tenant, name), archive in self._archives.items()
            if tenant == tenant_id
            and name.startswith(prefix)
            and name.encode() > after.encode()
            and (source_arn is None or archive.source_arn == source_arn)
            and (state is None or archive.state == state)
        ]
        found.sort(key=lambda archive: archive.name.encode())
        return found[:limit]

    async def change_archive(
        self, tenant_id: str, name: str, change: Callable[[Archive], Archive]
    ) -> Archive:
        held = self._archives.get((tenant_id, name))
        if held is None:
            raise archive_missing(name)
        changed = change(held)
        self._archives[tenant_id, name] = replace(
            held,
            description=changed.description,
            event_pattern=changed.event_pattern,
            retention_days=changed.retention_days,
            kms_key=changed.kms_key,
            state=changed.state,  # the SQL store's document keeps it too (decision 0332)
        )
        return self._counted(self._archives[tenant_id, name])

    async def delete_archive(self, tenant_id: str, name: str) -> None:
        if self._archives.pop((tenant_id, name), None) is None:
            raise archive_missing(name)
        self._events.pop((tenant_id, name), None)

    async def bus_archives(self, tenant_id: str, bus: str) -> list[Archive]:
        found = [
            archive
            for (tenant, _), archive in self._archives.items()
            if tenant == tenant_id and archive.bus_name == bus
        ]
        return sorted(found, key=lambda archive: archive.name.encode())

    async def add_events(
        self, tenant_id: str, name: str, events: Sequence[tuple[datetime, str]], now: datetime
    ) -> None:
        stored = self._events.get((tenant_id, name))
        if stored is None:
            return
        for moment, event in events:
            stored.append(
                _Stored(ArchivedEvent(self._next, moment, event), now, len(event.encode()))
            )
            self._next += 1

    async def events(
        self,
        tenant_id: str,
        name: str,
        *,
        start: datetime,
        end: datetime,
        after: tuple[int, int],
        limit: int,
    ) -> list[ArchivedEvent]:
        found = [
            item.event
            for item in self._events.get((tenant_id, name), [])
            if start <= item.event.time < end
            and (micros(item.event.time), item.event.event_id) > after
        ]
        found.sort(key=lambda event: (event.time, event.event_id))
        return found[:limit]

    async def expire(self, now: datetime, *, limit: int) -> int:
        gone = 0
        for key, stored in self._events.items():
            days = self._archives[key].retention_days
            if not days:
                continue
            try:
                horizon = now - timedelta(days=days)
            except OverflowError:  # a retention longer than the calendar keeps everything
                continue
            expired = {i.event.event_id for i in stored if i.arrived < horizon}
            expired = set(sorted(expired)[: limit - gone])  # bounded: the rest next pass
            if expired:
                self._events[key] = [i for i in stored if i.event.event_id not in expired]
                gone += len(expired)
            if gone >= limit:
                break
        return gone

    async def create_replay(
        self, replay: Replay, *, limit: int, counted: Callable[[str], bool] | None = None
    ) -> None:
        key = (replay.tenant_id, replay.name)
        if key in self._replays:
            raise ResourceAlreadyExists(f"Replay {replay.name} already exists.")
        active = sum(
            1
            for (tenant, name), held in self._replays.items()
            if tenant == replay.tenant_id
            and held.state in ReplayState.ACTIVE
            and (counted is None or counted(name))
        )
        if active >= limit:
            raise limit_error(limit)
        self._replays[key] = replay

    async def get_replay(self, tenant_id: str, name: str) -> Replay | None:
        return self._replays.get((tenant_id, name))

    async def list_replays(
        self,
        tenant_id: str,
        *,
        prefix: str,
        source_arn: str | None,
        state: str | None,
        after: str,
        limit: int,
    ) -> list[Replay]:
        found = [
            replay
            for (tenant, name), replay in self._replays.items()
            if tenant == tenant_id
            and name.startswith(prefix)
            and name.encode() > after.encode()
            and (source_arn is None or replay.source_arn == source_arn)
            and (state is None or replay.state == state)
        ]
        found.sort(key=lambda replay: replay.name.encode())
        return found[:limit]

    async def cancel_replay(self, tenant_id: str, name: str, now: datetime) -> Replay:
        held = self._replays.get((tenant_id, name))
        if held is None:
            raise replay_missing(name)
        if held.state not in (ReplayState.STARTING, ReplayState.RUNNING):
            raise not_cancellable(held)
        self._replays[tenant_id, name] = held.moved(ReplayState.CANCELLING, now)
        return self._replays[tenant_id, name]

    async def claim_replays(
        self, now: datetime, *, holder: str, lease: timedelta, limit: int
    ) -> list[Replay]:
        taken: list[Replay] = []
        for key in sorted(self._replays):
            replay = self._replays[key]
            if len(taken) >= limit:
                break
            if replay.state not in ReplayState.ACTIVE:
                continue
            held = self._leases.get(key)
            if held is not None and held.holder != holder and held.until > now:
                continue
            self._leases[key] = _Lease(holder, now + lease)
            taken.append(replay)
        return taken

    async def advance_replay(self, held: Replay, new: Replay, *, holder: str) -> bool:
        key = (held.tenant_id, held.name)
        current = self._replays.get(key)
        lease = self._leases.get(key)
        if current is None or current.state != held.state or lease is None:
            return False
        if lease.holder != holder:
            return False
        self._replays[key] = replace(
            current,
            state=new.state,
            state_reason=new.state_reason,
            ended=new.ended,
            last_replayed=new.last_replayed,
            cursor=new.cursor,
        )
        if new.state not in ReplayState.ACTIVE:
            self._leases.pop(key, None)
        return True

    async def forget_tenant(self, tenant_id: str) -> int:
        gone = [key for key in self._archives if key[0] == tenant_id]
        for key in gone:
            del self._archives[key]
            self._events.pop(key, None)
        for key in [key for key in self._replays if key[0] == tenant_id]:
            del self._replays[key]
            self._leases.pop(key, None)
        return len(gone)
