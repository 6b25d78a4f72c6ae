"""A stop seen while an execution's work runs (decisions 0383, 0393): a call, a Wait or a
retry interval slept in place, or a whole step, raced against its execution's stop — told
at once in this process (:class:`StopSignals`, rung by StopExecution) and asked every
``POLL_SECONDS`` otherwise (a stop made by another gateway process) — so the execution
ends at its stop rather than at the work's end (decision 0374 asked only between states).

The work is cancelled then, and awaited to its end: a request it already sent (a Lambda
invoke, an SQS send) is not recalled — AWS cannot recall one either. Work that ends within
the first interval costs no read of the status.

Exceptions that end a Map run's child outside its states' ``Catch`` and ``Retry``::

    Exception
    ├── ChildStopped   its StopExecution, or its parent's (0374)
    └── HistoryFull    its history would pass the events limit (0393)"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import Final, TypeVar

__all__ = ["POLL_SECONDS", "ChildStopped", "HistoryFull", "StopSignals", "until_halted"]

# How soon a stop made elsewhere is seen: the runner's default pass interval, at most one
# status read a second for each execution or child whose work outlasts that second.
POLL_SECONDS: Final = 1.0

_Result = TypeVar("_Result")


class ChildStopped(Exception):
    """A Map run's child was stopped (StopExecution, decision 0374): raised at its next state
    transition, never a ``StatesError``, so no ``Catch`` or ``Retry`` of its states
    sees it and no further state of the child runs."""


class HistoryFull(Exception):
    """A kept STANDARD child's history would pass the events limit (decision 0393): it ends
    there, as the runner ends an execution — no ``Catch`` of its states sees it."""


class StopSignals:
    """The stops of this process told at once to the work of the execution stopped: each
    running step watches its ARN; StopExecution rings it once its ABORTED is written."""

    def __init__(self) -> None:
        self._watched: dict[str, set[asyncio.Event]] = {}

    @contextlib.contextmanager
    def watching(self, arn: str) -> Iterator[asyncio.Event]:
        rung = asyncio.Event()
        self._watched.setdefault(arn, set()).add(rung)
        try:
            yield rung
        finally:
            watchers = self._watched.get(arn, set())
            watchers.discard(rung)
            if not watchers:
                self._watched.pop(arn, None)

    def ring(self, arn: str) -> None:
        for rung in self._watched.get(arn, ()):
            rung.set()


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
