"""A Map run's child stopped while one of its tasks runs (decision 0383): the task's call is
raced against the child's stop, asked every ``POLL_SECONDS`` while it runs, so the child
ends at its stop rather than at the task's end (decision 0374 asked only between states).

The call is cancelled then, its result discarded: a request it already sent (a Lambda
invoke, an SQS send) is not recalled — AWS cannot recall one either. A call that ends
within the first interval costs no read of the child's status."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Final, TypeVar

__all__ = ["POLL_SECONDS", "until_halted"]

# How soon a stop is seen while a task runs: the runner's default pass interval, at most
# one status read a second for each running child (at most the gateway's Map cap of them).
POLL_SECONDS: Final = 1.0

_Result = TypeVar("_Result")


async def until_halted(
    call: Coroutine[Any, Any, _Result], halted: Callable[[], Awaitable[bool]],
    stopped: Callable[[], BaseException], every: float | None = None,
) -> _Result:  # fmt: skip
    """``call``'s result, unless ``halted`` says yes first: then ``stopped()`` is raised,
    the call cancelled and awaited to its end (nothing of it left running)."""
    running = asyncio.ensure_future(call)
    try:
        while True:
            done, _ = await asyncio.wait({running}, timeout=every or POLL_SECONDS)
            if done:
                return running.result()
            if await halted():
                raise stopped()
    finally:
        if not running.done():
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await running
