"""``andromede.cli.workers.serve``: the start-up hook runs once the server has started, and the
heap made by then is frozen out of the garbage collector's full passes (decision 0029); and
``claim_port``: a port another process listens on is refused, SO_REUSEPORT or not."""

from __future__ import annotations

import asyncio
import gc
import socket
from collections.abc import Iterator
from typing import Any, cast

import pytest

from andromede.cli.workers import bind_reuseport, claim_port, serve


class FakeServer:
    """Starts after a few loop turns, then serves until told to stop; records what it saw."""

    def __init__(self, fail_before_start: bool = False) -> None:
        self.started = False
        self.fail_before_start = fail_before_start
        self.stop = asyncio.Event()
        self.frozen_while_serving: int | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        await asyncio.sleep(0.1)
        if self.fail_before_start:
            return
        self.started = True
        await asyncio.sleep(0.2)  # serve() polls every 50 ms
        self.frozen_while_serving = gc.get_freeze_count()
        await self.stop.wait()


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the rest of the test run keeps its ordinary collector


async def test_the_heap_is_frozen_once_started_and_the_hook_runs_first(unfrozen: None) -> None:
    server = FakeServer()
    seen: list[int] = []
    task = asyncio.create_task(
        serve(cast(Any, server), [], lambda: seen.append(gc.get_freeze_count()))
    )
    while server.frozen_while_serving is None:
        await asyncio.sleep(0.05)
    server.stop.set()
    await task
    assert seen == [0]  # the hook ran once, before the freeze
    assert server.frozen_while_serving > 0  # start-up's objects left the collected generations


async def test_a_server_that_never_started_neither_runs_the_hook_nor_freezes(
    unfrozen: None,
) -> None:
    server = FakeServer(fail_before_start=True)
    seen: list[int] = []
    await serve(cast(Any, server), [], lambda: seen.append(1))
    assert seen == []
    assert gc.get_freeze_count() == 0


def test_a_port_another_server_listens_on_is_refused_even_with_so_reuseport() -> None:
    # Another server's worker socket, as ours are: SO_REUSEPORT would let a second one in.
    other = bind_reuseport("127.0.0.1", 0)
    try:
        port = other.getsockname()[1]
        joined = bind_reuseport("127.0.0.1", port)  # what the kernel allows, silently
        joined.close()
        with pytest.raises(OSError, match="in use"):
            claim_port("127.0.0.1", port)
    finally:
        other.close()
    claim_port("127.0.0.1", port)  # free again: claimed and released
    claim_port("127.0.0.1", 0)  # the kernel's choice is never refused
