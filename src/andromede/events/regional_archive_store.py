"""One Region's view of EventBridge's archives and replays (decision 0397), as
:mod:`.regional_store` is of its buses (decision 0349).

Archives and replays are regional on AWS: ``a`` of one Region and ``a`` of another are two
archives, and a ListArchives in one never shows the other's. The store keys them by
(account, name): another Region's are kept under ``~<region>~<name>``, and so is the name of
the bus an archive is of (the bus's own stored name, :mod:`.regional_store`). What the
Region's service is given back carries the archive's and the replay's own names and the
Region, so their ARNs are of that Region; the full ARNs (the source bus, the archive a
replay reads, its destination) are kept as given. No migration: the prefix lives in the
existing keys.

The archived events are sealed by the store under the stored name, the same way in every
Region (the tenant's key; an archive's customer key stays the default Region's). The
replays' runner claims every Region's replays from the whole store and works each through
its Region's view (:func:`replay_region`). The account's limits (``events_max_archives``,
``events_max_active_replays``) are a Region's, as AWS's quotas: a view counts its own rows
only (decision 0402).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from andromede.events.archive_model import Archive, ArchivedEvent, Replay
from andromede.events.archive_store import ArchiveStore
from andromede.regional_names import RegionalView, region_of_stored

__all__ = ["RegionalArchiveStore", "replay_region"]


def replay_region(replay: Replay) -> str | None:
    """The Region a replay read from the whole store belongs to; None: the default's."""
    return region_of_stored(replay.name)


class RegionalArchiveStore(RegionalView[ArchiveStore]):
    """``store`` as ``region`` sees it (an :class:`~.archive_store.ArchiveStore`)."""

    def _archive_in(self, archive: Archive) -> Archive:
        return dataclasses.replace(
            archive,
            region=self._home,
            name=self._in(archive.name),
            bus_name=self._in(archive.bus_name),
        )

    def _archive_out(self, archive: Archive) -> Archive:
        return dataclasses.replace(
            archive,
            region=self.region,
            name=self._out(archive.name),
            bus_name=self._out(archive.bus_name),
        )

    def _replay_in(self, replay: Replay) -> Replay:
        return dataclasses.replace(
            replay,
            region=self._home,
            name=self._in(replay.name),
            archive_name=self._in(replay.archive_name),
        )

    def replay_out(self, replay: Replay) -> Replay:
        """A replay as the whole store holds it, as this Region names it."""
        return dataclasses.replace(
            replay,
            region=self.region,
            name=self._out(replay.name),
            archive_name=self._out(replay.archive_name),
        )

    # --- archives -------------------------------------------------------------------------

    async def create_archive(
        self, archive: Archive, *, limit: int, counted: Callable[[str], bool] | None = None
    ) -> None:
        # The limit is a Region's, as AWS's quota: only this Region's archives count.
        await self.inner.create_archive(self._archive_in(archive), limit=limit, counted=self._mine)

    async def get_archive(self, tenant_id: str, name: str) -> Archive | None:
        found = await self.inner.get_archive(tenant_id, self._in(name))
        return None if found is None else self._archive_out(found)

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
        found = await self.inner.list_archives(
            tenant_id,
            prefix=self._in(prefix),
            source_arn=source_arn,
            state=state,
            after=self._in(after) if after else "",
            limit=limit,
        )
        return [self._archive_out(a) for a in found if self._mine(a.name)]

    async def change_archive(
        self, tenant_id: str, name: str, change: Callable[[Archive], Archive]
    ) -> Archive:
        def changed(held: Archive) -> Archive:
            return self._archive_in(change(self._archive_out(held)))

        done = await self.inner.change_archive(tenant_id, self._in(name), changed)
        return self._archive_out(done)

    async def delete_archive(self, tenant_id: str, name: str) -> None:
        await self.inner.delete_archive(tenant_id, self._in(name))

    async def bus_archives(self, tenant_id: str, bus: str) -> list[Archive]:
        found = await self.inner.bus_archives(tenant_id, self._in(bus))
        return [self._archive_out(a) for a in found]

    async def add_events(
        self, tenant_id: str, name: str, events: Sequence[tuple[datetime, str]], now: datetime
    ) -> None:
        await self.inner.add_events(tenant_id, self._in(name), events, now)

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
        return await self.inner.events(
            tenant_id, self._in(name), start=start, end=end, after=after, limit=limit
        )

    async def expire(self, now: datetime, *, limit: int) -> int:
        # Retention is swept over the whole store, every Region's archives at once.
        return await self.inner.expire(now, limit=limit) if not self._prefix else 0

    # --- replays --------------------------------------------------------------------------

    async def create_replay(
        self, replay: Replay, *, limit: int, counted: Callable[[str], bool] | None = None
    ) -> None:
        # Only this Region's replays not finished count (AWS: 10 active a Region).
        await self.inner.create_replay(self._replay_in(replay), limit=limit, counted=self._mine)

    async def get_replay(self, tenant_id: str, name: str) -> Replay | None:
        found = await self.inner.get_replay(tenant_id, self._in(name))
        return None if found is None else self.replay_out(found)

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
        found = await self.inner.list_replays(
            tenant_id,
            prefix=self._in(prefix),
            source_arn=source_arn,
            state=state,
            after=self._in(after) if after else "",
            limit=limit,
        )
        return [self.replay_out(r) for r in found if self._mine(r.name)]

    async def cancel_replay(self, tenant_id: str, name: str, now: datetime) -> Replay:
        return self.replay_out(await self.inner.cancel_replay(tenant_id, self._in(name), now))

    async def claim_replays(
        self, now: datetime, *, holder: str, lease: timedelta, limit: int
    ) -> list[Replay]:
        # The runner claims over the whole store (a view's claim would lease the others'
        # replays and leave them): this Region's of what it claimed.
        claimed = await self.inner.claim_replays(now, holder=holder, lease=lease, limit=limit)
        return [self.replay_out(r) for r in claimed if self._mine(r.name)]

    async def advance_replay(self, held: Replay, new: Replay, *, holder: str) -> bool:
        return await self.inner.advance_replay(
            self._replay_in(held), self._replay_in(new), holder=holder
        )

    async def forget_tenant(self, tenant_id: str) -> int:
        # The default Region's view forgets every Region's rows (keyed by the account).
        return await self.inner.forget_tenant(tenant_id) if not self._prefix else 0
