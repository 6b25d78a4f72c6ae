"""A compute service over the in-memory store and driver, with real (in-memory) disk keys."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.compute.driver_memory import MemoryDriver
from andromede.compute.images import ImageFiles
from andromede.compute.model import Image
from andromede.compute.service import ComputeService
from andromede.compute.store_memory import MemoryComputeStore
from support.computekit import MemoryDiskKeys, limits


@pytest.fixture
def driver() -> MemoryDriver:
    return MemoryDriver(vcpus=8, memory_mib=4096)


@pytest.fixture
async def compute(tmp_path: Path, driver: MemoryDriver) -> AsyncIterator[ComputeService]:
    service = ComputeService(
        MemoryComputeStore(),
        [driver],
        MemoryDiskKeys(),
        limits(),
        ImageFiles(tmp_path / "images", max_size=1024**3),
    )
    yield service
    await service.close()


@pytest.fixture
async def image(compute: ComputeService, tmp_path: Path) -> Image:
    source = tmp_path / "disk.raw"
    source.write_bytes(b"\0" * 4096)
    return await compute.import_image_file(source, name="debian-test", owner_id=None)
