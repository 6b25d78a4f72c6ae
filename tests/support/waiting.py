"""Waiting in a test for what a background task does in its own time (an upkeep's round, a
deliverer's pass): the condition polled against a deadline, never a fixed sleep that a loaded
machine overruns — in a coroutine (``until``) or, for the end-to-end tests' blocking boto3
calls, in a plain function (``eventually``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

__all__ = ["eventually", "until"]

T = TypeVar("T")


async def until(
    probe: Callable[[], Awaitable[T]],
    holds: Callable[[T], bool],
    *,
    within: float = 10.0,
    every: float = 0.01,
) -> T:
    """``probe``'s answer once ``holds`` is true of it; an AssertionError that names the last
    answer when it is still false after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        answer = await probe()
        if holds(answer):
            return answer
        if time.monotonic() >= deadline:
            raise AssertionError(f"still {answer!r} after {within} s")
        await asyncio.sleep(every)


def eventually(
    probe: Callable[[], T],
    holds: Callable[[T], bool],
    *,
    within: float = 30.0,
    every: float = 0.2,
) -> T:
    """``until`` for a blocking ``probe``: its answer once ``holds`` is true of it; an
    AssertionError that names the last answer when it is still false after ``within``
    seconds."""
    deadline = time.monotonic() + within
    while True:
        answer = probe()
        if holds(answer):
            return answer
        if time.monotonic() >= deadline:
            raise AssertionError(f"still {answer!r} after {within} s")
        time.sleep(every)
