"""Decision 0206's doorbell and pacer: an idle loop's pauses double from its interval up to the
ceiling and fall back to the interval when a pass finds work; a ring ends a pause at once (a
60-second one included), is kept when it comes before or during a pass, and may come from
another thread; a ceiling below the interval leaves the interval alone. The setting's bounds."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from pydantic import ValidationError

from andromede.settings import Settings
from andromede.wakeup import Doorbell, Pacer


async def test_idle_pauses_double_up_to_the_ceiling_and_work_resets_them() -> None:
    pacer = Pacer(0.1, 0.3)
    seen = []
    for _ in range(4):
        seen.append(pacer.next_pause)
        await pacer.pause(worked=False)
    assert seen == [0.1, 0.2, 0.3, 0.3]
    await pacer.pause(worked=True)  # the pause after work is the interval
    assert pacer.next_pause == 0.1
    await pacer.pause(worked=False)
    pacer.reset()
    assert pacer.next_pause == 0.1
    zero = Pacer(0, 0.25)  # an interval of 0 grows too
    for _ in range(3):
        await zero.pause(worked=False)
    assert zero.next_pause == pytest.approx(0.25)


async def test_a_ceiling_below_the_interval_keeps_the_interval() -> None:
    pacer = Pacer(0.02, 0.005)
    await pacer.pause(worked=False)
    assert pacer.ceiling == 0.02 and pacer.next_pause == 0.02
    assert Pacer(0.02).ceiling == 0.02  # no ceiling: no back-off
    with pytest.raises(ValueError, match="negative"):
        Pacer(-1)


async def test_a_ring_ends_a_long_pause_at_once_and_resets_the_back_off() -> None:
    pacer = Pacer(60.0)  # a loop whose interval is a minute
    started = time.monotonic()
    waiting = asyncio.create_task(pacer.pause(worked=False))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    pacer.doorbell.ring()
    assert await asyncio.wait_for(waiting, 5) is True
    assert time.monotonic() - started < 5
    assert pacer.next_pause == 60.0


async def test_a_ring_before_the_pause_is_kept_and_seen_once() -> None:
    bell = Doorbell()
    bell.ring()  # during the pass, or before the loop first waited
    assert bell.rung
    assert await bell.wait(60) is True
    assert not bell.rung
    assert await bell.wait(0.01) is False


async def test_a_ring_from_another_thread_wakes_the_loop() -> None:
    bell = Doorbell()
    assert await bell.wait(0) is False  # the bell now knows its loop
    waiting = asyncio.create_task(bell.wait(60))
    await asyncio.sleep(0.01)
    ringer = threading.Thread(target=bell.ring)  # as SQLite's writer thread does after commit
    ringer.start()
    assert await asyncio.wait_for(waiting, 5) is True
    ringer.join()


def test_the_ceiling_setting_has_bounds() -> None:
    assert Settings().background_idle_poll_max == 5.0
    assert Settings(background_idle_poll_max=0).background_idle_poll_max == 0
    for wrong in (-1, 301):
        with pytest.raises(ValidationError):
            Settings(background_idle_poll_max=wrong)
