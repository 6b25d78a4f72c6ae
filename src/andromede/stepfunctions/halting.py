"""A stop seen while an execution's work runs (decisions 0383, 0393): a call, a Wait or a
retry interval slept in place, or a whole step, raced against its execution's stop — told
at once in this process (:class:`StopSignals`, rung by StopExecution) and asked every
``POLL_SECONDS`` otherwise (a stop made by another gateway process) — so the execution
ends at its stop rather than at the work's end (decision 0374 asked only between states).

The work is cancelled then, and awaited to its end: a request it already sent (a Lambda
invoke, an SQS send) is not recalled — AWS cannot recall one either. Work that ends within
the first interval costs no read of the status.

In this process, StopExecution first halts the step that runs its execution
(:meth:`StopSignals.halting`, decision 0407): the step is cancelled, leaves the events it
had and the ``…Aborted`` ones of its states in flight (its :class:`Watch`'s ``flight``),
and the stop writes them before ``ExecutionAborted``.

Exceptions that end a Map run's child outside its states' ``Catch`` and ``Retry``::

    Exception
    ├── ChildStopped   its StopExecution, or its parent's (0374)
    └── HistoryFull    its history would pass the events limit (0393)"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Final, TypeVar

from andromede.stepfunctions.history_events import Event

__all__ = [
    "HALT_SECONDS",
    "POLL_SECONDS",
    "STEPPING",
    "ChildStopped",
    "HistoryFull",
    "StopSignals",
    "Watch",
    "until_halted",
]

# How soon a stop made elsewhere is seen: the runner's default pass interval, at most one
# status read a second for each execution or child whose work outlasts that second.
POLL_SECONDS: Final = 1.0
# How long a StopExecution waits for the step it cancels to end and leave its events, by
# default (``stepfunctions_stop_wait``): a cancelled step ends at its next await, its calls
# cancelled; one that does not by then is stopped without them (as 0393: not kept).
HALT_SECONDS: Final = 5.0
# The execution whose step this task runs (and the tasks it starts): its own StopExecution,
# called from within its step (an SDK task), cannot wait for that step to end.
STEPPING: ContextVar[str | None] = ContextVar("sfn_stepping", default=None)

_Result = TypeVar("_Result")


class ChildStopped(Exception):
    """A Map run's child was stopped (StopExecution, decision 0374): raised at its next state
    transition, never a ``StatesError``, so no ``Catch`` or ``Retry`` of its states
    sees it and no further state of the child runs."""


class HistoryFull(Exception):
    """A kept STANDARD child's history would pass the events limit (decision 0393): it ends
    there, as the runner ends an execution — no ``Catch`` of its states sees it."""


@dataclass(eq=False, slots=True)
class Watch:
    """A step's watch on its execution's stop: ``rung`` once stopped here; ``flight``, the
    events the step left when the stop cancelled it; ``left`` once it no longer steps."""

    rung: asyncio.Event = field(default_factory=asyncio.Event)
    flight: list[Event] = field(default_factory=list)
    left: asyncio.Event = field(default_factory=asyncio.Event)


class StopSignals:
    """The stops of this process told at once to the work of the execution stopped: each
    running step (or Map run's child) watches its ARN; StopExecution halts the steps of an
    execution before it writes its end (:meth:`halting`), a child's rings it (:meth:`ring`)."""

    def __init__(self) -> None:
        self._watched: dict[str, set[Watch]] = {}
        self._halting: dict[str, int] = {}

    @contextlib.contextmanager
    def watching(self, arn: str) -> Iterator[Watch]:
        watch = Watch()
        if self._halting.get(arn):
            watch.rung.set()  # a stop is being written: this step must not begin
        self._watched.setdefault(arn, set()).add(watch)
        try:
            yield watch
        finally:
            watch.left.set()
            watchers = self._watched.get(arn, set())
            watchers.discard(watch)
            if not watchers:
                self._watched.pop(arn, None)

    def ring(self, arn: str) -> None:
        for watch in self._watched.get(arn, ()):
            watch.rung.set()

    @contextlib.asynccontextmanager
    async def halting(self, arn: str, within: float = HALT_SECONDS) -> AsyncIterator[list[Event]]:
        """Within it, no step of ``arn`` runs in this process: those running are rung and
        awaited (at most ``within`` seconds); it gives the events they left, in order (none:
        no step was running, the stored cursor says what was in flight)."""
        self._halting[arn] = self._halting.get(arn, 0) + 1
        try:
            watches = [] if STEPPING.get() == arn else list(self._watched.get(arn, ()))
            for watch in watches:
                watch.rung.set()
            waits = [asyncio.ensure_future(watch.left.wait()) for watch in watches]
            try:
                if waits:
                    await asyncio.wait(waits, timeout=within)
            finally:
                for waiting in waits:
                    waiting.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await waiting
            yield [e for watch in watches if watch.left.is_set() for e in watch.flight]
        finally:
            self._halting[arn] -= 1
            if not self._halting[arn]:
                del self._halting[arn]


async def until_halted(
    call: Awaitable[_Result], halted: Callable[[], Awaitable[bool]],
    stopped: Callable[[], BaseException], every: float | None = None,
    rung: asyncio.Event | None = None,
) -> _Result:  # fmt: skip
    """``call``'s result, unless ``rung`` is set or ``halted`` says yes first: then
    ``stopped()`` is raised, the call cancelled and awaited to its end (nothing of it left
    running)."""
    running = asyncio.ensure_future(call)
    ringing = asyncio.ensure_future(rung.wait()) if rung is not None else None
    try:
        while True:
            waited = {running} if ringing is None else {running, ringing}
            done, _ = await asyncio.wait(
                waited, timeout=every or POLL_SECONDS, return_when=asyncio.FIRST_COMPLETED
            )
            if running in done:
                return running.result()
            if ringing in done or await halted():
                raise stopped()
    finally:
        for left in (running, ringing):
            if left is not None and not left.done():
                left.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await left
