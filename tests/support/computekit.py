"""Compute test kit: real in-memory disk keys and the service's limits, shared by the unit
suites of compute and the EC2 API."""

from __future__ import annotations

import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from andromede.compute.model import InstanceType
from andromede.compute.service_core import ComputeLimits

__all__ = ["OTHER", "TENANT", "TYPES", "MemoryDiskKeys", "limits"]

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
