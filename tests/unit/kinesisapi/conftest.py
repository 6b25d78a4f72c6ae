"""The in-process Kinesis app's fixture (``support.kinesisapp``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from support.kinesisapp import World, kinesis_world


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async for made in kinesis_world(
        tmp_path, kinesis_max_shards=12, kinesis_max_on_demand_streams=1
    ):
        yield made
