"""Compute test kit: real in-memory disk keys and the service's limits, shared by the unit
suites of compute and the EC2 API."""

from __future__ import annotations

import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from andromede.compute.errors import InvalidParameterValue, KeyAccessDenied, KeyUnusable
from andromede.compute.model import InstanceType, Snapshot, Volume
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
    """Data keys wrapped with AES-GCM under one key per tenant (the tenant id is the AAD), or
    under one key per customer-managed KMS key ARN (the resource id is the AAD), the KMS keys
    those :meth:`add_kms_key` made, usable until :meth:`disable_kms_key`."""

    def __init__(self) -> None:
        self._keks: dict[str, bytes] = {}
        self._kms_keys: dict[str, bytes] = {}
        self._disabled: set[str] = set()
        # What callers are refused, as (key ARN, action) — a key policy that does not allow it.
        self.denied: set[tuple[str, str]] = set()
        # Every permission checked, as (key ARN, action, resource id), in order.
        self.checked: list[tuple[str, str, str]] = []

    def add_kms_key(self, arn: str) -> None:
        self._kms_keys[arn] = AESGCM.generate_key(256)

    def disable_kms_key(self, arn: str) -> None:
        self._disabled.add(arn)

    def destroy_kms_key(self, arn: str) -> None:
        """Its material gone: what it wrapped is shredded (KeyUnusable, as KMS's deletion)."""
        self._kms_keys[arn] = AESGCM.generate_key(256)
        self._disabled.add(arn)

    def _kms_kek(self, arn: str) -> bytes:
        if arn not in self._kms_keys:
            raise InvalidParameterValue(f"The KMS key '{arn}' does not exist")
        if arn in self._disabled:
            raise KeyUnusable("The KMS key provided is in an incorrect state")
        return self._kms_keys[arn]

    async def customer_key(
        self,
        caller: object,
        tenant_id: str,
        key_ref: str,
        resource_id: str,
        *,
        action: str = "kms:GenerateDataKeyWithoutPlaintext",
    ) -> str:
        self._kms_kek(key_ref)
        if (key_ref, action) in self.denied:
            raise KeyAccessDenied(f"The caller may not {action} with {key_ref}")
        self.checked.append((key_ref, action, resource_id))
        return key_ref

    async def new_key(
        self, tenant_id: str, *, kms_key_arn: str | None = None, resource_id: str = ""
    ) -> tuple[bytes, bytes]:
        if kms_key_arn is not None:
            kek, aad = self._kms_kek(kms_key_arn), resource_id.encode()
        else:
            kek, aad = (
                self._keks.setdefault(tenant_id, AESGCM.generate_key(256)),
                tenant_id.encode(),
            )
        plain = os.urandom(32)
        nonce = os.urandom(12)
        return plain, nonce + AESGCM(kek).encrypt(nonce, plain, aad)

    async def open_key(self, owner: Volume | Snapshot) -> bytes:
        if owner.kms_key_arn is not None:
            kek, aad = self._kms_kek(owner.kms_key_arn), owner.resource_id.encode()
        else:
            kek, aad = self._keks[owner.tenant_id], owner.tenant_id.encode()
        wrapped = owner.wrapped_key
        return AESGCM(kek).decrypt(wrapped[:12], wrapped[12:], aad)


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
