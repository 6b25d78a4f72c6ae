"""The doorbell a background loop sleeps on between its passes (decision 0206).

A loop that claims work from a database queue (replication, event notifications, message moves,
EventBridge deliveries and replays, SNS replays) used to look every second whether or not any
work was there: on an idle server that was most of the process's CPU. Such a loop now waits on
a :class:`Doorbell` through a :class:`Pacer`: a write of its own process that queued work rings
the bell once it committed (``andromede.db.doorbells``), so the work is picked at once; between
rings the loop polls with a back-off, from its own interval up to a ceiling
(``background_idle_poll_max``), back to the interval as soon as a pass finds work. The polling
stays for what no ring announces: work queued by another gateway on a shared database, a lease
that lapsed, a retry whose time came.

A bell belongs to the event loop that waits on it (a worker process's); ringing never blocks,
so a writer rings whether or not anything listens, and a ring from another thread (SQLite's
writer) is handed to that loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import heapq
import math
from collections.abc import Callable

__all__ = ["Doorbell", "Pacer", "Ring", "Timetable", "set_within"]


async def set_within(event: asyncio.Event, timeout: float) -> bool:
    """Wait until ``event`` is set (True) or ``timeout`` seconds passed (False).

    ``asyncio.timeout``, not ``asyncio.wait_for``: Python 3.11's ``wait_for`` loses a
    cancellation that arrives as the event is set (it returns instead of raising, fixed in
    3.12), and a background loop whose bell rings often then outlives its cancellation and
    hangs the shutdown that awaits it."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            await event.wait()
    return event.is_set()


class Ring(enum.Enum):
    """What ended a wait on a :class:`Doorbell`."""

    NONE = "none"  # the timeout
    NOW = "now"  # ring(): work for this loop, to be taken at once
    SOON = "soon"  # only ring_soon(): work may have come, taken within the loop's interval


class Doorbell:
    """Rung when work was queued; kept rung until a waiter sees it, so none is lost."""

    def __init__(self, on_wait: Callable[[], None] | None = None) -> None:
        self._event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._on_wait = on_wait  # told of every wait, on the waiter's loop (db.doorbells)
        self._now = False  # a ring() since the last wait ended, not only ring_soon()s
        self._followers: list[Doorbell] = []

    def forward_to(self, bell: Doorbell) -> None:
        """Every ring of this bell rings ``bell`` soon too (decision 0331): a source's bell
        (an SQS queue's commit, a stream's) heard by each loop that reads sources."""
        self._followers.append(bell)

    def ring(self) -> None:
        self._now = True
        self._set()
        for follower in self._followers:
            follower.ring_soon()

    def ring_soon(self) -> None:
        """Work may have come for this loop (one of the sources it reads got data): a
        :class:`Pacer` ends its pause for it no sooner than its interval after the pause
        began, so a stream of such rings never makes passes closer than the loop's own pace
        (decision 0331). Thread-safe, as :meth:`ring`."""
        self._set()
        for follower in self._followers:
            follower.ring_soon()

    def _set(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed() or not loop.is_running() or _running() is loop:
            self._event.set()  # on the waiter's loop, or before any wait: kept for the next
        else:
            # asyncio.Event is not thread-safe: the set runs on the waiter's own loop.
            with contextlib.suppress(RuntimeError):  # that loop closed meanwhile
                loop.call_soon_threadsafe(self._event.set)

    def ring_at(self, delay: float) -> None:
        """Ring in ``delay`` seconds: work this loop knows comes due then (a retry, a Wait
        state's end), so its back-off never sleeps past it (decision 0326). Called on the
        waiter's own event loop."""
        with contextlib.suppress(RuntimeError):  # no running loop: the next poll finds it
            asyncio.get_running_loop().call_later(max(0.0, delay), self.ring)

    @property
    def rung(self) -> bool:
        return self._event.is_set()

    async def wait(self, timeout: float) -> bool:
        """Until rung (True, and the bell is quiet again) or ``timeout`` seconds (False)."""
        return await self.wait_ring(timeout) is not Ring.NONE

    async def wait_ring(self, timeout: float) -> Ring:
        """Until rung, or ``timeout`` seconds (:attr:`Ring.NONE`); which ring it was."""
        self._loop = asyncio.get_running_loop()
        if self._on_wait is not None:
            self._on_wait()
        if not self._event.is_set():
            await set_within(self._event, timeout)
        # The flag read and reset before the event is cleared: a ring() from another thread
        # in between leaves its event set for the next wait (told as soon at worst).
        now, self._now = self._now, False
        rung = self._event.is_set()
        self._event.clear()
        if not rung:
            return Ring.NONE
        return Ring.NOW if now else Ring.SOON


class Pacer:
    """A loop's pauses between passes: ``interval`` after a pass that found work (the loop's
    own setting), twice the last idle pause otherwise, up to ``ceiling`` (never below the
    interval; None: no back-off); a ring ends a pause at once and starts over from the
    interval."""

    def __init__(
        self,
        interval: float,
        ceiling: float | None = None,
        doorbell: Doorbell | None = None,
        *,
        probe: Callable[[], bool] | None = None,
    ) -> None:
        if interval < 0:
            raise ValueError("a loop's interval cannot be negative")
        self.interval = interval
        self.ceiling = interval if ceiling is None else max(interval, ceiling)
        self.doorbell = doorbell if doorbell is not None else Doorbell()
        self._next = interval
        # Decision 0331: a loop that reads sources (Pipes, Lambda's mappings) sets this while
        # it holds some; then a ring_soon() and a change ``probe`` sees end an idle pause
        # (otherwise they are nobody's work here and are let pass). ``probe``: whether the
        # sources changed since its last call, looked at every interval of a longer pause
        # (another process's commits on one SQLite file, which no ring crosses).
        self.watching = False
        self._probe = probe

    @property
    def next_pause(self) -> float:
        """How long the next idle pause lasts unless rung."""
        return self._next

    def reset(self) -> None:
        """A pass found work and the loop goes on without a pause: the next idle pause is
        the interval again."""
        self._next = self.interval

    async def pause(self, worked: bool) -> bool:
        """Wait before the next pass; ``worked``: the pass just done found work. True when
        the pause was cut short by a ring (a ring_soon() while watching: ended no sooner than
        the interval after it began)."""
        if worked:
            self._next = self.interval
        pause = self._next
        if not worked:
            # Doubled from the interval (an interval of 0 still grows, by a tenth of a second).
            self._next = min(self.ceiling, max(self._next * 2, self._next + 0.1))
        rung = await self._wait(pause)
        if self.watching and self._probe is not None:
            self._probe()  # what the next pass reads is seen: the next pause's changes are new
        if rung:
            self._next = self.interval  # work is coming: look often again until it is done
        return rung

    async def _wait(self, pause: float) -> bool:
        loop = asyncio.get_running_loop()
        start = loop.time()
        end = start + pause
        soonest = start + self.interval  # a ring_soon() ends the pause here, not before
        period = max(self.interval, 0.05)  # the probe's, in a pause longer than the interval
        probe_at = start + period
        heard = False
        while True:
            now = loop.time()
            until = end
            probing = self.watching and self._probe is not None and not heard
            if probing:
                until = min(until, probe_at)
            ring = await self.doorbell.wait_ring(max(0.0, until - now))
            if ring is Ring.NOW:
                return True
            now = loop.time()
            if ring is Ring.SOON and self.watching:
                heard = True
                end = min(end, soonest)
            elif ring is Ring.NONE and probing and now >= probe_at and now < end:
                probe_at += period
                if self._probe is not None and self._probe():
                    heard = True
                    end = min(end, soonest)
            if now >= end:
                return heard


def _running() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class Timetable:
    """Rings a bell soon at each of many times ahead (messages becoming visible again after
    their delay or visibility timeout, decision 0331), with one timer: the times are kept to
    ``resolution`` seconds (rounded up: never rung before its time), the earliest armed.
    So a busy queue's thousands of receives a second, each with a time hours ahead, cost a
    set of whole ticks, not a timer each. Used on the event loop of the bell's waiter."""

    def __init__(self, ring: Callable[[], None], resolution: float = 0.25) -> None:
        if resolution <= 0:
            raise ValueError("a timetable's resolution must be positive")
        self._ring = ring
        self._resolution = resolution
        self._ticks: list[int] = []  # a heap of the times ahead, in resolutions
        self._known: set[int] = set()
        self._armed: tuple[int, asyncio.TimerHandle] | None = None
        self._armed_on: asyncio.AbstractEventLoop | None = None

    def __len__(self) -> int:
        return len(self._known)

    def at(self, delay: float) -> None:
        """Ring in ``delay`` seconds (at once when not positive). On an event loop; without
        one the time is dropped (the waiter's next poll finds the work)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if delay <= 0:
            self._ring()
            return
        tick = math.ceil((loop.time() + delay) / self._resolution)
        if tick in self._known:
            return
        self._known.add(tick)
        heapq.heappush(self._ticks, tick)
        if self._armed is None or tick < self._armed[0] or self._armed_on is not loop:
            self._arm(loop)  # (armed on a loop since closed: its timer will never run)

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._armed is not None:
            self._armed[1].cancel()
            self._armed = None
        if self._ticks:
            tick = self._ticks[0]
            self._armed = (tick, loop.call_at(tick * self._resolution, self._due, loop))
            self._armed_on = loop

    def _due(self, loop: asyncio.AbstractEventLoop) -> None:
        self._armed = None
        now = loop.time()
        rang = False
        while self._ticks and self._ticks[0] * self._resolution <= now:
            self._known.discard(heapq.heappop(self._ticks))
            rang = True
        if rang:
            self._ring()
        self._arm(loop)
