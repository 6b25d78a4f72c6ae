"""What metering samples of storage (decision 0108): each tenant's stored bytes per region,
noncurrent versions included, delete markers holding nothing, another tenant's bytes apart."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from andromede.storage.model import ContentHeaders, VersioningStatus
from andromede.storage.service import BodyIntegrity, ObjectService
from support.keys import cipher_in

from .conftest import Stack
from .test_service import LIMITS


async def _body(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _put(service: ObjectService, bucket: str, key: str, size: int) -> None:
    await service.put_object(
        bucket,
        key,
        _body(b"x" * size),
        size=size,
        headers=ContentHeaders(),
        owner_id="o1",
        integrity=BodyIntegrity(),
    )


async def test_stored_bytes_per_tenant_and_region(stack: Stack, tmp_path: Path) -> None:
    service = ObjectService(stack.store, stack.blobs, LIMITS, cipher_in(tmp_path / "keys"))
    for name, tenant, region in (
        ("versioned", "t1", "eu-fr-1"),
        ("plain", "t1", "eu-fr-1"),
        ("far", "t1", "eu-de-1"),
        ("theirs", "t2", "eu-fr-1"),
        ("empty", "t3", "eu-fr-1"),
    ):
        await service.create_bucket(name, tenant_id=tenant, owner_id="o1", region=region)
    await service.set_bucket_versioning("versioned", VersioningStatus.ENABLED)
    await _put(service, "versioned", "k", 100)
    await _put(service, "versioned", "k", 50)  # the 100 bytes stay, noncurrent
    versioned = await service.get_bucket("versioned")
    _, marker = await service.delete_versioned(versioned, "k", None, owner_id="o1")
    assert marker  # a delete marker: nothing more held, the 50 bytes noncurrent
    await _put(service, "plain", "a", 7)
    await _put(service, "plain", "a", 3)  # overwritten: only the 3 bytes are held
    await _put(service, "plain", "gone", 1000)
    await service.delete_object("plain", "gone")
    await _put(service, "far", "b", 11)
    await _put(service, "theirs", "c", 13)

    assert await service.stored_bytes_by_tenant_and_region() == {
        ("t1", "eu-fr-1"): 100 + 50 + 3,
        ("t1", "eu-de-1"): 11,
        ("t2", "eu-fr-1"): 13,
        ("t3", "eu-fr-1"): 0,
    }
