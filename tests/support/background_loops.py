"""A background loop under test (decisions 0326, 0331): run as a task for the length of a
block and cancelled after it (``running``), and a wait for what its passes do, failing the
test when the loop sleeps on past a deadline (``woken_within``)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

__all__ = ["running", "woken_within"]


@contextlib.asynccontextmanager
async def running(loop: Coroutine[Any, Any, None]) -> AsyncIterator[None]:
    """``loop`` running as a task inside the block, cancelled (and awaited) after it."""
    task = asyncio.create_task(loop)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def woken_within(seconds: float, done: Callable[[], bool]) -> float:
    """The seconds until ``done`` held, polled every 10 ms; an AssertionError ("the loop slept
    on") once ``seconds`` have passed without it."""
    started = time.monotonic()
    while not done():
        assert time.monotonic() - started < seconds, "not woken: the loop slept on"
        await asyncio.sleep(0.01)
    return time.monotonic() - started
