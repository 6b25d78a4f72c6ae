"""The ``kit`` fixture: a CustomerKeyService over the in-memory store (see support.kmskit)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.kmskit import Kit, kit_over


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    yield from kit_over(tmp_path)
