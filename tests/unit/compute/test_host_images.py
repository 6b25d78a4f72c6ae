"""How images reach hosts and leave them, and where snapshots can be opened, through the compute
service over several in-memory hosts: the bytes are sent once per host and verified there, a
deregistered image is forgotten by every host once unused (again later when a host could not),
and volumes and instances made from a snapshot go to a host of its storage domain."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from andromede.compute.driver import ImageBacking
from andromede.compute.driver_memory import MemoryDriver
from andromede.compute.images import ImageFiles
from andromede.compute.model import Image, ImageState, InstanceState
from andromede.compute.service import ComputeService, RunRequest
from andromede.compute.store_memory import MemoryComputeStore
from support.computekit import TENANT, MemoryDiskKeys, limits

IMAGE_BYTES = b"andromede image\n" + os.urandom(300 * 1024)


class UnreachableAtTimes(MemoryDriver):
    """A host whose agent does not answer forget_image while ``away`` (a network cut)."""

    away = False

    async def forget_image(self, image_id: str) -> None:
        if self.away:
            raise ConnectionError(f"{self.host} does not answer")
        await super().forget_image(image_id)


async def service_over(tmp_path: Path, hosts: Sequence[MemoryDriver]) -> ComputeService:
    return ComputeService(
        MemoryComputeStore(),
        list(hosts),
        MemoryDiskKeys(),
        limits(),
        ImageFiles(tmp_path / "images", max_size=1024**3),
    )


@pytest.fixture
async def two_hosts(
    tmp_path: Path,
) -> AsyncIterator[tuple[ComputeService, MemoryDriver, MemoryDriver]]:
    a = MemoryDriver("host-a", vcpus=8, memory_mib=4096)
    b = UnreachableAtTimes("host-b", vcpus=8, memory_mib=4096)
    compute = await service_over(tmp_path, [a, b])
    yield compute, a, b
    await compute.close()


async def import_image(compute: ComputeService, tmp_path: Path) -> Image:
    source = tmp_path / "disk.raw"
    source.write_bytes(IMAGE_BYTES)
    return await compute.import_image_file(source, name="base-image", owner_id=TENANT)


async def run(compute: ComputeService, image: Image, count: int = 1) -> list[str]:
    request = RunRequest(image.image_id, "t3.nano", min_count=count, max_count=count)
    instances = await compute.run_instances(TENANT, request)
    await compute.settle()
    return [i.instance_id for i in instances]


async def test_each_host_gets_the_image_once_and_verified(
    two_hosts: tuple[ComputeService, MemoryDriver, MemoryDriver], tmp_path: Path
) -> None:
    compute, a, b = two_hosts
    image = await import_image(compute, tmp_path)
    launched = await run(compute, image, count=4)  # spread: two on each host, launched at once
    for instance_id in launched:
        [instance] = await compute.describe_instances(TENANT, [instance_id])
        assert instance.state is InstanceState.RUNNING
    for host in (a, b):
        assert host.images[image.image_id].sha256 == image.sha256
        # Two launches at once on one host: the bytes crossed once.
        assert host.image_bytes_received == len(IMAGE_BYTES)
        backings = {v.backing for v in host.volumes.values()}
        assert backings == {ImageBacking(image.image_id, "raw", image.sha256)}
    await run(compute, image)
    assert a.image_bytes_received == b.image_bytes_received == len(IMAGE_BYTES)


async def test_an_image_file_altered_on_the_gateway_is_refused_by_the_host(
    two_hosts: tuple[ComputeService, MemoryDriver, MemoryDriver], tmp_path: Path
) -> None:
    compute, a, b = two_hosts
    image = await import_image(compute, tmp_path)
    stored = Path(image.path)
    stored.chmod(0o600)
    # A flipped byte on the gateway's disk (flipped: a fixed byte equals the random last one
    # time in 256).
    stored.write_bytes(IMAGE_BYTES[:-1] + bytes([IMAGE_BYTES[-1] ^ 0xFF]))
    [instance_id] = await run(compute, image)
    [instance] = await compute.describe_instances(TENANT, [instance_id])
    assert instance.state is InstanceState.TERMINATED
    assert "Server.InternalError" in instance.state_reason
    assert a.images == b.images == {} and a.volumes == b.volumes == {}


async def test_a_deregistered_image_is_forgotten_by_every_host_once_unused(
    two_hosts: tuple[ComputeService, MemoryDriver, MemoryDriver], tmp_path: Path
) -> None:
    compute, a, b = two_hosts
    image = await import_image(compute, tmp_path)
    launched = await run(compute, image, count=2)
    assert image.image_id in a.images and image.image_id in b.images
    await compute.deregister_image(TENANT, image.image_id)
    # Volumes still read it: every host keeps it, and so does the gateway.
    assert image.image_id in a.images and image.image_id in b.images
    assert Path(image.path).exists()
    await compute.terminate_instances(TENANT, launched)
    await compute.settle()
    assert a.images == b.images == {}
    assert not Path(image.path).exists()
    assert await compute.store.get(Image, image.image_id) is None


async def test_a_host_that_does_not_answer_is_asked_again_at_start_up(
    two_hosts: tuple[ComputeService, MemoryDriver, MemoryDriver], tmp_path: Path
) -> None:
    compute, a, b = two_hosts
    assert isinstance(b, UnreachableAtTimes)
    image = await import_image(compute, tmp_path)
    launched = await run(compute, image, count=2)
    await compute.deregister_image(TENANT, image.image_id)
    b.away = True
    await compute.terminate_instances(TENANT, launched)
    await compute.settle()
    assert a.images == {} and image.image_id in b.images
    # The record stays, deregistered (no tenant sees it), until every host has forgotten.
    kept = await compute.store.get(Image, image.image_id)
    assert kept is not None and kept.state is ImageState.DEREGISTERED
    assert await compute.describe_images(TENANT, []) == []
    b.away = False
    await compute.reconcile()
    assert b.images == {}
    assert await compute.store.get(Image, image.image_id) is None


# -- storage domains ---------------------------------------------------------------------------


async def snapshot_image(compute: ComputeService, tmp_path: Path) -> tuple[Image, str, str]:
    """An image registered from a snapshot of an instance's root volume: (image, snapshot id,
    the host the snapshot was taken on)."""
    image = await import_image(compute, tmp_path)
    [instance_id] = await run(compute, image)
    [instance] = await compute.describe_instances(TENANT, [instance_id])
    snapshot = await compute.create_snapshot(TENANT, instance.root_volume_id)
    registered = await compute.register_image(
        TENANT,
        name="golden",
        description="",
        root_snapshot_id=snapshot.snapshot_id,
        root_device_name="/dev/xvda",
    )
    return registered, snapshot.snapshot_id, snapshot.host


async def test_file_snapshots_are_used_on_the_host_that_took_them(tmp_path: Path) -> None:
    # After the first instance (512 MiB, 2 vCPUs on host-b), host-a is the roomier one.
    small = MemoryDriver("host-a", vcpus=8, memory_mib=4096)
    large = MemoryDriver("host-b", vcpus=8, memory_mib=4608)
    compute = await service_over(tmp_path, [small, large])
    try:
        golden, snapshot_id, taken_on = await snapshot_image(compute, tmp_path)
        assert taken_on == "host-b"  # the roomier host took the first instance
        [snapshot] = await compute.describe_snapshots(TENANT, [snapshot_id])
        assert snapshot.storage_domain == "host-b"
        volume = await compute.create_volume(
            TENANT, size_gib=None, snapshot_id=snapshot_id, availability_zone="eu-fr-1a"
        )
        assert volume.host == "host-b"
        # host-a has more room, but cannot open the snapshot: everything goes to host-b.
        children = await run(compute, golden, count=3)
        placed = [(await compute.describe_instances(TENANT, [i]))[0] for i in children]
        assert {i.host for i in placed} == {"host-b"}
        assert {i.state for i in placed} == {InstanceState.RUNNING}
        assert small.volumes == {}
        # No image bytes travel for an image registered from a snapshot.
        assert golden.image_id not in large.images
    finally:
        await compute.close()


async def test_rbd_snapshots_are_used_on_any_host_of_the_pool(tmp_path: Path) -> None:
    small = MemoryDriver("host-a", vcpus=8, memory_mib=2048, storage_domain="rbd:volumes")
    large = MemoryDriver("host-b", vcpus=8, memory_mib=8192, shared_with=small)
    compute = await service_over(tmp_path, [small, large])
    try:
        golden, snapshot_id, taken_on = await snapshot_image(compute, tmp_path)
        [snapshot] = await compute.describe_snapshots(TENANT, [snapshot_id])
        assert snapshot.storage_domain == "rbd:volumes"
        # Instances spread over both hosts of the pool, each opening the one snapshot.
        children = await run(compute, golden, count=4)
        placed = {(await compute.describe_instances(TENANT, [i]))[0] for i in children}
        assert {i.host for i in placed} == {"host-a", "host-b"}
        assert {i.state for i in placed} == {InstanceState.RUNNING}
        # A volume from the snapshot when its own host is not driven here: another of the pool.
        alone = await service_over(tmp_path / "other-gateway", [small])
        alone.store = compute.store
        alone.disk_keys = compute.disk_keys
        volume = await alone.create_volume(
            TENANT, size_gib=None, snapshot_id=snapshot_id, availability_zone="eu-fr-1a"
        )
        assert taken_on == "host-b" and volume.host == "host-a"
        await alone.close()
    finally:
        await compute.close()


async def test_a_snapshot_no_host_can_open_is_refused(tmp_path: Path) -> None:
    a = MemoryDriver("host-a")
    compute = await service_over(tmp_path, [a])
    try:
        image = await import_image(compute, tmp_path)
        [instance_id] = await run(compute, image)
        [instance] = await compute.describe_instances(TENANT, [instance_id])
        snapshot = await compute.create_snapshot(TENANT, instance.root_volume_id)
        elsewhere = await service_over(tmp_path / "other-gateway", [MemoryDriver("host-z")])
        elsewhere.store = compute.store
        elsewhere.disk_keys = compute.disk_keys
        with pytest.raises(Exception, match="No host can open the snapshot"):
            await elsewhere.create_volume(
                TENANT,
                size_gib=None,
                snapshot_id=snapshot.snapshot_id,
                availability_zone="eu-fr-1a",
            )
        await elsewhere.close()
    finally:
        await compute.close()
