"""``wakeup.set_within``, the wait every background loop sleeps in: an event or a timeout, and
a cancellation never lost — Python 3.11's ``asyncio.wait_for`` dropped one that arrived as the
event was set, and a loop whose bell rang often then hung the shutdown awaiting it."""

from __future__ import annotations

import asyncio

from andromede.wakeup import set_within


async def test_set_or_timed_out() -> None:
    event = asyncio.Event()
    assert await set_within(event, 0.01) is False
    asyncio.get_running_loop().call_later(0.01, event.set)
    assert await set_within(event, 5) is True


async def test_a_cancellation_as_the_event_is_set_ends_the_loop() -> None:
    event = asyncio.Event()

    async def loop() -> None:
        while True:
            await set_within(event, 10)
            event.clear()

    task = asyncio.create_task(loop())
    await asyncio.sleep(0)  # the loop waits on the event
    event.set()
    task.cancel()  # in the same step: the wait's inner future completes as it is cancelled
    await asyncio.wait({task}, timeout=2)
    assert task.cancelled()
