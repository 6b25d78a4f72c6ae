"""The runner of EventBridge's replays and the sweeper of its archives' retention (decision
0196), in every gateway.

Each pass claims the replays not finished under a lease (one gateway works a replay at a
time; a gateway that stops leaves it to another once the lease ends) and moves each one
step: STARTING → RUNNING; RUNNING: up to ``batch`` archived events of its window after its
cursor, in (event time, archived id) order, each given ``replay-name`` and routed onto the
destination bus's rules (its FilterArns' only, when given) through the durable delivery
queue, then the cursor and ``EventLastReplayedTime`` written with a compare-and-set on the
state read — so a CancelReplay in between wins, and a gateway restarting resumes from the
cursor (a batch handed over just before a crash may go twice: EventBridge's at-least-once).
A batch shorter than ``batch`` ends the replay COMPLETED; CANCELLING becomes CANCELLED; an
archive gone fails it, and so does an event sealed under a customer's KMS key that no longer
opens (decision 0204: the key disabled, deleted, or its policy changed), with the reason.
Decision 0397: the replays of every Region are claimed from the whole store, each worked
through its Region's view and routed by its Region's service. The sweeper deletes, in
bounded batches, events past their archive's ``RetentionDays`` (0
keeps them forever).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from andromede.events.archive_model import (
    REPLAY_NAME_HEADER,
    Archive,
    ArchivedEvent,
    Replay,
    ReplayState,
    micros,
)
from andromede.events.archive_store import ArchiveStore
from andromede.events.event_keys import EventKeys, KeyUnusable
from andromede.events.regional_archive_store import RegionalArchiveStore, replay_region
from andromede.events.service import EventsService
from andromede.wakeup import Doorbell, Pacer

__all__ = ["ReplayPolicy", "ReplayRunner"]

log = logging.getLogger(__name__)
_EXPIRY_STEPS = 10


@dataclass(frozen=True, slots=True)
class ReplayPolicy:
    batch: int = 100  # events_replay_batch
    lease: float = 60.0  # events_replay_lease
    interval: float = 1.0  # events_replay_interval
    expiry_interval: float = 300.0  # events_archive_expiry_interval
    expiry_batch: int = 1000  # events_archive_expiry_batch
    idle_poll_max: float | None = None  # background_idle_poll_max (decision 0206)


class ReplayRunner:
    def __init__(
        self,
        store: ArchiveStore,
        events: EventsService,
        *,
        holder: str,
        policy: ReplayPolicy | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        keys: EventKeys | None = None,
        doorbell: Doorbell | None = None,
    ) -> None:
        """``doorbell``: rung after the commits that started replays in this process
        (decision 0206)."""
        self.keys = keys
        self._store = store
        self._events = events
        self._holder = holder
        self._policy = policy or ReplayPolicy()
        self._clock = clock
        self._pacer = Pacer(self._policy.interval, self._policy.idle_poll_max, doorbell)
        self._next_expiry = 0.0
        # Decision 0397: each other Region's view of the store and service, by Region.
        self.regions: dict[str, tuple[RegionalArchiveStore, EventsService]] = {}

    def wake(self) -> None:
        """A replay was started here: look at once rather than at the next poll."""
        self._pacer.doorbell.ring()

    async def run_forever(self) -> None:
        while True:
            try:
                worked = await self.run_once()
                if time.monotonic() >= self._next_expiry:
                    self._next_expiry = time.monotonic() + self._policy.expiry_interval
                    await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("event replays pass failed")
                worked = 0
            if not worked:
                await self._pacer.pause(worked=False)
            else:
                self._pacer.reset()

    async def run_once(self) -> int:
        """One step of each replay this gateway may work; how many replays moved."""
        lease = timedelta(seconds=self._policy.lease)
        claimed = await self._store.claim_replays(
            self._clock(), holder=self._holder, lease=lease, limit=self._policy.batch
        )
        moved = 0
        for claim in claimed:
            try:
                place = self._place_of(claim)
                if place is not None:
                    moved += await self._step(*place)
            except Exception:  # one replay's failure must not stop the others'
                log.exception("replay %s/%s step failed", claim.tenant_id, claim.name)
        return moved

    def _place_of(self, claim: Replay) -> tuple[Replay, ArchiveStore, EventsService] | None:
        """A replay claimed from the whole store, as its Region names it, with that Region's
        view of the store and its service (decision 0397); None for a Region no longer
        declared (its lease runs out)."""
        region = replay_region(claim)
        if region is None:
            return claim, self._store, self._events
        regional = self.regions.get(region)
        if regional is None:
            log.warning("replay %s/%s of an undeclared Region left", claim.tenant_id, claim.name)
            return None
        view, events = regional
        return view.replay_out(claim), view, events

    async def drain(self) -> None:
        """Run until no replay moves (tests)."""
        while await self.run_once():
            pass

    async def sweep(self) -> int:
        """Delete events past their retention, a few bounded batches; how many."""
        gone = 0
        for _ in range(_EXPIRY_STEPS):
            step = await self._store.expire(self._clock(), limit=self._policy.expiry_batch)
            gone += step
            if step < self._policy.expiry_batch:
                break
        return gone

    async def _opened(self, archive: Archive, found: list[ArchivedEvent]) -> list[str]:
        """The archived events' texts, those sealed under a customer's key opened."""
        texts = [archived.event for archived in found]
        keys = self.keys
        if keys is None:
            return texts
        at = [n for n, text in enumerate(texts) if text and keys.sealed(text)]
        if at:
            opened = await keys.open(archive.key_scope, [texts[n] for n in at])
            for n, text in zip(at, opened, strict=True):
                texts[n] = text
        return texts

    async def _step(self, replay: Replay, store: ArchiveStore, service: EventsService) -> int:
        async def advance(held: Replay, new: Replay) -> int:
            return int(await store.advance_replay(held, new, holder=self._holder))

        now = self._clock()
        if replay.state == ReplayState.CANCELLING:
            return await advance(replay, replay.moved(ReplayState.CANCELLED, now))
        if replay.state == ReplayState.STARTING:
            return await advance(replay, replay.moved(ReplayState.RUNNING, now))
        archive = await store.get_archive(replay.tenant_id, replay.archive_name)
        if archive is None:
            failed = replay.moved(
                ReplayState.FAILED, now, f"Archive {replay.archive_name} does not exist."
            )
            return await advance(replay, failed)
        found = await store.events(
            replay.tenant_id,
            replay.archive_name,
            start=replay.start,
            end=replay.end,
            after=replay.cursor,
            limit=self._policy.batch,
        )
        try:
            texts = await self._opened(archive, found)
        except KeyUnusable as exc:
            return await advance(replay, replay.moved(ReplayState.FAILED, now, exc.message))
        events: list[dict[str, Any]] = []
        for text in texts:
            if not text:  # never opens again (its tenant's key destroyed)
                continue
            try:
                event = json.loads(text)
            except ValueError:
                continue
            event[REPLAY_NAME_HEADER] = replay.name
            events.append(event)
        if events:
            try:
                await service.route(
                    replay.tenant_id,
                    archive.bus_name,
                    events,
                    rule_arns=frozenset(replay.filter_arns) if replay.filter_arns else None,
                )
            except KeyUnusable as exc:  # the bus's own key refuses (decision 0213)
                failed = replay.moved(ReplayState.FAILED, now, exc.message)
                return await advance(replay, failed)
        new = replay
        if found:
            last = found[-1]
            new = replace(
                replay, cursor=(micros(last.time), last.event_id), last_replayed=last.time
            )
        if len(found) < self._policy.batch:
            new = new.moved(ReplayState.COMPLETED, now)
        return await advance(replay, new)
