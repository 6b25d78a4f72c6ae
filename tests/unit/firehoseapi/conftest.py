"""The in-process Firehose app's fixture (``support.firehoseapp``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from support.firehoseapp import World, firehose_world


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async for made in firehose_world(tmp_path, firehose_max_buffered_bytes=4096):
        yield made
