from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from support.lambdaapp import World, lambda_world


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async for made in lambda_world(tmp_path):
        yield made
