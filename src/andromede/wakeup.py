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
from collections.abc import Callable

__all__ = ["Doorbell", "Pacer", "set_within"]


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


class Doorbell:
    """Rung when work was queued; kept rung until a waiter sees it, so none is lost."""

    def __init__(self, on_wait: Callable[[], None] | None = None) -> None:
        self._event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._on_wait = on_wait  # told of every wait, on the waiter's loop (db.doorbells)

    def ring(self) -> None:
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
        self._loop = asyncio.get_running_loop()
        if self._on_wait is not None:
            self._on_wait()
        if not self._event.is_set():
            await set_within(self._event, timeout)
        rung = self._event.is_set()
        self._event.clear()
        return rung


class Pacer:
    """A loop's pauses between passes: ``interval`` after a pass that found work (the loop's
    own setting), twice the last idle pause otherwise, up to ``ceiling`` (never below the
    interval; None: no back-off); a ring ends a pause at once and starts over from the
    interval."""

    def __init__(
        self, interval: float, ceiling: float | None = None, doorbell: Doorbell | None = None
    ) -> None:
        if interval < 0:
            raise ValueError("a loop's interval cannot be negative")
        self.interval = interval
        self.ceiling = interval if ceiling is None else max(interval, ceiling)
        self.doorbell = doorbell if doorbell is not None else Doorbell()
        self._next = interval

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
        the pause was cut short by a ring."""
        if worked:
            self._next = self.interval
        pause = self._next
        if not worked:
            # Doubled from the interval (an interval of 0 still grows, by a tenth of a second).
            self._next = min(self.ceiling, max(self._next * 2, self._next + 0.1))
        rung = await self.doorbell.wait(pause)
        if rung:
            self._next = self.interval  # work is coming: look often again until it is done
        return rung


def _running() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
