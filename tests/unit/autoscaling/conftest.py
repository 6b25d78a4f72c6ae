"""Fixtures: EC2 Auto Scaling in process (see ``support/autoscalingapp.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from support.autoscalingapp import World, autoscaling_world


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with autoscaling_world(tmp_path) as created:
        yield created
