"""Fixtures: the metadata server in process (see ``support/metadata.py``) with a clock the test
moves."""

from __future__ import annotations

import pytest

from support.clock import Clock
from support.metadata import Metadata, metadata_world


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def metadata(clock: Clock) -> Metadata:
    return metadata_world(clock)
