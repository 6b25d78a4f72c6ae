"""The in-process Step Functions app's fixture (``support.statesapp``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from support.statesapp import World, states_world


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async for made in states_world(tmp_path):
        yield made
