from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from support.route53app import World, route53_world


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async for made in route53_world(tmp_path):
        yield made
