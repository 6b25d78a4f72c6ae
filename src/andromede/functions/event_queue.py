"""Lambda's queue of asynchronous (``Event``) invocations (decision 0286): the
``EventQueue`` interface, its in-memory twin, and the worker every ``serve`` runs over it.

An Event invocation is written (its payload sealed under the account's keys) before Invoke
answers 202, so a gateway's restart loses none. Each gateway's worker claims due
invocations under a lease (a conditional write: of two gateways one wins each) and hands
each to its runner, which says whether and when to try it again
(``functions.async_invocations``, decision 0300: the function's retries, its events' maximum
age, its destinations and dead-letter queue); the worker then deletes it or makes it due
again, the attempt counted or not (a throttle is not counted against the retries, as AWS).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Final, Protocol

from andromede.wakeup import Doorbell, Pacer

__all__ = ["EventInvocation", "EventQueue", "EventWorker", "MemoryEventQueue", "TryAgain"]

log = logging.getLogger(__name__)

# A runner's own failure (not the function's): tried again this much later, uncounted; the
# runner's maximum event age ends it.
_FAULT_DELAY_MS: Final = 60_000


@dataclass(frozen=True, slots=True)
class EventInvocation:
    id: str
    tenant_id: str
    name: str
    version: str
    arn: str
    sealed_payload: bytes
    created: int  # ms
    due: int  # ms
    attempts: int = 0
    lease_owner: str = ""
    lease_until: int = 0
    trace: str | None = None  # the caller's trace header, its lineage (decision 0328)


class EventQueue(Protocol):
    async def add(self, invocation: EventInvocation) -> None: ...

    async def claim(self, owner: str, now: int, lease_ms: int, limit: int) -> list[EventInvocation]:
        """Up to ``limit`` due invocations not under another lease, now leased to ``owner``
        until ``now + lease_ms``: of two gateways claiming at once, each goes to one."""

    async def retry(self, invocation: EventInvocation, due: int, *, counted: bool = True) -> None:
        """Make the invocation due again at ``due`` (lease released), an attempt counted
        unless ``counted`` is False (a throttle)."""

    async def done(self, invocation_id: str) -> None: ...

    async def forget_tenant(self, tenant_id: str) -> int: ...


class MemoryEventQueue:
    def __init__(self) -> None:
        self._items: dict[str, EventInvocation] = {}

    async def add(self, invocation: EventInvocation) -> None:
        self._items[invocation.id] = invocation

    async def claim(self, owner: str, now: int, lease_ms: int, limit: int) -> list[EventInvocation]:
        due = sorted(
            (i for i in self._items.values() if i.due <= now and i.lease_until <= now),
            key=lambda i: (i.due, i.id),
        )[:limit]
        claimed = [replace(i, lease_owner=owner, lease_until=now + lease_ms) for i in due]
        for item in claimed:
            self._items[item.id] = item
        return claimed

    async def retry(self, invocation: EventInvocation, due: int, *, counted: bool = True) -> None:
        if invocation.id in self._items:
            self._items[invocation.id] = replace(
                invocation,
                attempts=invocation.attempts + (1 if counted else 0),
                due=due,
                lease_owner="",
                lease_until=0,
            )

    async def done(self, invocation_id: str) -> None:
        self._items.pop(invocation_id, None)

    async def forget_tenant(self, tenant_id: str) -> int:
        gone = [k for k, v in self._items.items() if v.tenant_id == tenant_id]
        for key in gone:
            del self._items[key]
        return len(gone)


@dataclass(frozen=True, slots=True)
class TryAgain:
    """A runner's answer for an invocation to run again at ``due`` (ms)."""

    due: int
    counted: bool = True  # an attempt of the function's (its error), not a throttle


# Runs one queued invocation: None when it is finished with (succeeded, or given up).
Runner = Callable[[EventInvocation], Awaitable[TryAgain | None]]


class EventWorker:
    def __init__(
        self,
        queue: EventQueue,
        run: Runner,
        owner: str,
        *,
        poll_interval: float = 1.0,
        lease_ms: int = 960_000,
        batch: int = 10,
        clock: Callable[[], int] = lambda: int(time.time() * 1000),
        idle_poll_max: float | None = None,
        doorbell: Doorbell | None = None,
    ) -> None:
        self._queue = queue
        self._run = run
        self._owner = owner
        self._lease_ms = lease_ms
        self._batch = batch
        self._clock = clock
        # Rung by an Invoke's commit (decision 0326); idle, the pauses grow to the ceiling.
        self._pacer = Pacer(poll_interval, idle_poll_max, doorbell)

    @property
    def doorbell(self) -> Doorbell:
        return self._pacer.doorbell

    async def pass_once(self) -> int:
        """Run the due invocations this gateway claims; how many it ran."""
        now = self._clock()
        claimed = await self._queue.claim(self._owner, now, self._lease_ms, self._batch)
        await asyncio.gather(*(self._one(item) for item in claimed))
        return len(claimed)

    async def _one(self, item: EventInvocation) -> None:
        try:
            again = await self._run(item)
        except Exception:  # the runner's own fault: tried again, its age bounds it
            log.exception("Lambda: event invocation %s of %s failed to run", item.id, item.arn)
            again = TryAgain(self._clock() + _FAULT_DELAY_MS, counted=False)
        if again is None:
            await self._queue.done(item.id)
        else:
            await self._queue.retry(item, again.due, counted=again.counted)
            # A retry comes due at a known time: the back-off must not sleep past it.
            self._pacer.doorbell.ring_at((again.due - self._clock()) / 1000)

    async def run_forever(self) -> None:
        while True:
            ran = 0
            try:
                ran = await self.pass_once()
            except Exception:  # the next pass tries again
                log.exception("Lambda: the event invocations could not be claimed")
            await self._pacer.pause(ran > 0)
