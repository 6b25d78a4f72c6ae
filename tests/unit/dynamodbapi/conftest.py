"""The in-process DynamoDB app's fixture (``support.dynamodbapp``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from support.dynamodbapp import World, dynamodb_world


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async for made in dynamodb_world(tmp_path, dynamodb_max_tables=3):
        yield made
