"""Runs that fail together (decision 0416): a Parallel's branches, a Map's iterations, a
durable Parallel's or Map's runs within a step, run side by side until the first fails.

AWS: "If any branch fails, because of an unhandled error or by transitioning to a Fail
state, the entire Parallel state is considered to have failed and all its branches are
stopped", and a Map's iterations likewise. The first run to fail (in time) cuts those still
going: each is cancelled — as a stop cancels a step (decision 0407), so it leaves the events
it had, then the ``…Aborted`` events of its states in flight — and awaited to its end, so no
state of a cut run begins after the failure and nothing of it is left running."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

__all__ = ["side_by_side"]

_Result = TypeVar("_Result")


def _never(index: int) -> bool:
    return False


async def side_by_side(
    runs: Sequence[Awaitable[_Result]], failed: Callable[[int], bool] = _never
) -> list[_Result | None]:
    """Each run's result (None: cut), every run ended. A run fails when it raises, or ends
    with ``failed(its index)`` true; the first failure cuts the others, and the first
    exception raised (in time) is raised once all ended. Cancelled itself (its execution
    stopped or timed out), it cancels them all and awaits them likewise."""
    tasks = [asyncio.ensure_future(run) for run in runs]
    raised: list[BaseException] = []

    def ended(index: int, task: asyncio.Future[_Result]) -> None:
        if task.cancelled():
            return
        error = task.exception()
        if error is None and not failed(index):
            return
        if error is not None:
            raised.append(error)
        for other in tasks:
            if not other.done():
                other.cancel()

    for index, task in enumerate(tasks):
        task.add_done_callback(functools.partial(ended, index))
    # gather waits for every run, a cancelled one included, before it ends — when cancelled
    # itself too: it cancels the runs and ends once they all have.
    results = await asyncio.gather(*tasks, return_exceptions=True)
    if raised:
        raise raised[0]
    return [None if isinstance(r, BaseException) else r for r in results]
