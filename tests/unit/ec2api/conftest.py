"""Fixtures: the EC2 app in process (see ``support/ec2app.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from support.ec2app import World, ec2_world


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with ec2_world(tmp_path) as created:
        yield created
