"""The in-process Pipes app's fixture (``support.pipesapp``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from support.pipesapp import World, pipes_world


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async for made in pipes_world(tmp_path):
        yield made
