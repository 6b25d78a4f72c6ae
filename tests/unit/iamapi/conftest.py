"""Fixtures: the IAM and STS apps in process (see ``support/queryapp.py``) with a clock the
test moves, starting now (signatures are checked against the real time)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from support.clock import Clock
from support.queryapp import Client, World, query_world


@pytest.fixture
def clock() -> Clock:
    return Clock(now=float(int(time.time())))


@pytest.fixture
async def world(clock: Clock, tmp_path: Path) -> AsyncIterator[World]:
    async with query_world(clock, tmp_path / "data") as created:
        yield created


@pytest.fixture
def root(world: World) -> Client:
    return world.client(world.root)
