"""A compute service over the in-memory store and driver, with real (in-memory) disk keys."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from andromede.compute.driver_memory import MemoryDriver
from andromede.compute.images import ImageFiles
from andromede.compute.model import Image, InstanceType
from andromede.compute.resources import ComputeLimits
from andromede.compute.service import ComputeService
from andromede.compute.store_memory import MemoryComputeStore

TENANT = "111111111111"
OTHER = "222222222222"
TYPES = (
    InstanceType("t3.nano", 2, 512, 8),
    InstanceType("t3.micro", 2, 1024, 8),
    InstanceType("m5.large", 2, 8192, 16),
)


class MemoryDiskKeys:
    """Data keys wrapped with AES-GCM under one key per tenant (the tenant id is the AAD)."""

    def __init__(self) -> None:
        self._keks: dict[str, bytes] = {}

    async def new_key(self, tenant_id: str) -> tuple[bytes, bytes]:
        kek = self._keks.setdefault(tenant_id, AESGCM.generate_key(256))
        plain = os.urandom(32)
        nonce = os.urandom(12)
        return plain, nonce + AESGCM(kek).encrypt(nonce, plain, tenant_id.encode())

    async def open_key(self, tenant_id: str, wrapped: bytes) -> bytes:
        kek = self._keks[tenant_id]
        return AESGCM(kek).decrypt(wrapped[:12], wrapped[12:], tenant_id.encode())


def limits(**changes: object) -> ComputeLimits:
    values: dict[str, object] = {
        "instance_types": TYPES,
        "max_instances_per_tenant": 20,
        "max_vcpus_per_tenant": 64,
        "max_user_data_size": 16384,
        "stop_timeout": 1.0,
        "region": "eu-fr-1",
        "availability_zone": "eu-fr-1a",
        "max_image_size": 1024**3,
    }
    values.update(changes)
    return ComputeLimits(**values)  # type: ignore[arg-type]


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
