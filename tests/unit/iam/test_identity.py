"""Identity: bootstrap once, resolve keys, sealed secrets bound to their key id."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from andromede.iam.errors import InvalidAccessKeyId
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore


def service() -> IdentityService:
    return IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))


async def test_bootstrap_creates_one_tenant_once() -> None:
    identity = service()
    first = await identity.bootstrap()
    assert first is not None
    assert first.root.is_root and first.root.tenant_id == first.tenant.id
    assert first.access_key_id.startswith("AKIA") and len(first.access_key_id) == 20
    assert len(first.secret_access_key) == 40
    assert await identity.bootstrap() is None


async def test_resolve_returns_secret_and_principal() -> None:
    identity = service()
    boot = await identity.bootstrap()
    assert boot is not None
    secret, principal = await identity.resolve_access_key(boot.access_key_id)
    assert secret == boot.secret_access_key
    assert principal.tenant_id == boot.tenant.id
    assert principal.arn == f"arn:aws:iam::{boot.tenant.id}:root"
    assert len(principal.canonical_id) == 64


async def test_unknown_key_is_invalid_access_key_id() -> None:
    with pytest.raises(InvalidAccessKeyId):
        await service().resolve_access_key("AKIAUNKNOWNUNKNOWN00")


def test_sealed_secret_is_not_the_secret_and_is_bound_to_its_key_id() -> None:
    sealer = SecretSealer(os.urandom(32))
    sealed = sealer.seal("AKIAONE", "s3cr3t-value")
    assert "s3cr3t" not in sealed
    assert sealer.unseal("AKIAONE", sealed) == "s3cr3t-value"
    with pytest.raises(InvalidTag):
        sealer.unseal("AKIATWO", sealed)


def test_key_file_is_created_private(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "secrets.key"
    sealer = SecretSealer.from_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    again = SecretSealer.from_key_file(path)
    assert again.unseal("K", sealer.seal("K", "v")) == "v"
