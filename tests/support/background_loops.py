"""A background loop under test (decisions 0206, 0326, 0331): run as a task for the length of a
block and cancelled after it (``running``), and a wait for what its passes do, failing the
test when the loop sleeps on past a deadline (``woken_within``)."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

__all__ = ["running", "woken_within"]


@contextlib.asynccontextmanager
async def running(loop: Coroutine[Any, Any, None], first_pass: float = 0.0) -> AsyncIterator[None]:
    """``loop`` running as a task inside the block, cancelled (and awaited) after it; the block
    starts ``first_pass`` seconds after the task, for a test whose loop must have made its
    first (idle) pass, and begun its pause, before the test writes its work."""
    task = asyncio.create_task(loop)
    if first_pass:
        await asyncio.sleep(first_pass)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def woken_within(seconds: float, done: Callable[[], bool | Awaitable[bool]]) -> float:
    """The seconds until ``done`` (a test, or a coroutine function reading a store) held,
    polled every 10 ms; an AssertionError ("the loop slept on") once ``seconds`` have passed
    without it."""
    started = time.monotonic()
    while not await _holds(done):
        assert time.monotonic() - started < seconds, "not woken: the loop slept on"
        await asyncio.sleep(0.01)
    return time.monotonic() - started


async def _holds(done: Callable[[], bool | Awaitable[bool]]) -> bool:
    answer = done()
    return await answer if inspect.isawaitable(answer) else answer
