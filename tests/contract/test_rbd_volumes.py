"""RBD volumes against the tests' Ceph cluster, without guests (those are in test_hypervisor.py):
what lands in the pool, what is encrypted there, what is shared and what deletion leaves.

Each test works in an RBD namespace of its own (support/rbd.py) and looks at it as client.admin.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.compute.driver import ImageBacking, SnapshotBacking, VolumeSpec
from andromede.hypervisor.errors import HypervisorError, VolumeNotFound
from andromede.hypervisor.images import QemuImg
from andromede.hypervisor.rbd_volumes import RbdVolumes
from support.rbd import RbdNamespace

pytestmark = pytest.mark.slow

GIB = 1024**3
# A recognisable image: a marker every 64 KiB, so its bytes can be found (or not) in the pool.
IMAGE_MARKER = b"andromede-base-image-marker-"


@pytest.fixture
def image_file(tmp_path: Path) -> Path:
    path = tmp_path / "image.raw"
    block = IMAGE_MARKER + os.urandom(64 * 1024 - len(IMAGE_MARKER))
    path.write_bytes(block * 16)  # 1 MiB
    path.chmod(0o400)  # as compute/images.py leaves image files
    return path


def image_of(path: Path) -> ImageBacking:
    """The backing the compute service names for an image file (the host's copy is ``path``)."""
    return ImageBacking(
        "ami-0123456789abcdef0", "raw", hashlib.sha256(path.read_bytes()).hexdigest()
    )


@pytest.fixture
async def volumes(rbd_namespace: RbdNamespace, tmp_path: Path) -> AsyncIterator[RbdVolumes]:
    backend = RbdVolumes(rbd_namespace.config, QemuImg("qemu-img", iter_time_ms=10, timeout=600))
    try:
        yield backend
    finally:
        await backend.close()


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(9)[:17]}"


async def test_overlays_share_one_imported_base_which_goes_with_the_last_volume(
    volumes: RbdVolumes, rbd_namespace: RbdNamespace, image_file: Path
) -> None:
    first, second = new_id("vol"), new_id("vol")
    key = secrets.token_bytes(32)
    image = image_of(image_file)
    await volumes.create(VolumeSpec(first, 1, key, image), image_file)
    # Named by the image's checksum: a host whose copy is elsewhere finds the same base, and
    # needs no copy at all once the base is in the pool.
    await volumes.create(VolumeSpec(second, 2, secrets.token_bytes(32), image), None)
    images = rbd_namespace.images()
    bases = [name for name in images if name.startswith("base-")]
    assert len(bases) == 1  # imported once
    assert sorted(images) == sorted([*bases, first, f"{first}.parent", second, f"{second}.parent"])
    assert await volumes.exists(first) and await volumes.virtual_size(first, key) == GIB

    # The base holds the image as it was; a volume holds a qcow2 with its LUKS header inside.
    (base,) = bases
    assert rbd_namespace.read(base, 0, 1024 * 1024) == image_file.read_bytes()
    header = rbd_namespace.read(first, 0, 104)
    assert header[:4] == b"QFI\xfb"
    assert int.from_bytes(header[32:36], "big") == 2  # crypt_method 2: LUKS

    # QEMU opens the overlay over its own clone of the base, the cephx key as a secret object.
    node = await volumes.node("vol-node", first, "key-vol")
    assert node["file"]["image"] == first
    assert node["backing"]["file"]["image"] == f"{first}.parent"
    assert node["file"]["key-secret"] == volumes.qmp_secrets()[0]["id"]
    assert "keyring" not in repr(node)

    await volumes.delete(first)
    assert sorted(rbd_namespace.images()) == sorted([base, second, f"{second}.parent"])
    await volumes.delete(second)
    await volumes.delete(second)  # absent: nothing to do
    assert rbd_namespace.images() == []
    assert rbd_namespace.data_objects() == []


async def test_snapshots_are_self_contained_and_volumes_grow_from_them(
    volumes: RbdVolumes, rbd_namespace: RbdNamespace, image_file: Path
) -> None:
    volume_id, key = new_id("vol"), secrets.token_bytes(32)
    await volumes.create(VolumeSpec(volume_id, 1, key, image_of(image_file)), image_file)
    snapshot_id, snapshot_key = new_id("snap"), secrets.token_bytes(32)
    await volumes.copy_to_snapshot(volume_id, key, snapshot_id, snapshot_key)
    with pytest.raises(HypervisorError):  # taken once
        await volumes.copy_to_snapshot(volume_id, key, snapshot_id, snapshot_key)
    # Without its volume (and the base) the snapshot still holds everything.
    await volumes.delete(volume_id)
    assert rbd_namespace.images() == [snapshot_id]
    snapshot = rbd_namespace.read(snapshot_id)
    assert snapshot[:4] == b"QFI\xfb" and IMAGE_MARKER not in snapshot  # encrypted

    copy_id, copy_key = new_id("vol"), secrets.token_bytes(32)
    await volumes.create(
        VolumeSpec(copy_id, 2, copy_key, SnapshotBacking(snapshot_id, snapshot_key))
    )
    assert await volumes.virtual_size(copy_id, copy_key) == 2 * GIB
    assert IMAGE_MARKER not in rbd_namespace.read(copy_id)

    missing = VolumeSpec(new_id("vol"), 1, key, SnapshotBacking(new_id("snap"), key))
    with pytest.raises(VolumeNotFound):
        await volumes.create(missing)
    with pytest.raises(HypervisorError):  # a wrong key opens nothing
        await volumes.create(VolumeSpec(new_id("vol"), 1, key, SnapshotBacking(snapshot_id, key)))
    await volumes.delete(copy_id)
    await volumes.delete_snapshot(snapshot_id)
    await volumes.delete_snapshot(snapshot_id)
    assert rbd_namespace.images() == []
    assert rbd_namespace.data_objects() == []


async def test_blank_volumes_and_refusals(
    volumes: RbdVolumes, rbd_namespace: RbdNamespace, tmp_path: Path
) -> None:
    volume_id, key = new_id("vol"), secrets.token_bytes(32)
    await volumes.create(VolumeSpec(volume_id, 3, key))
    assert rbd_namespace.images() == [volume_id]
    assert "backing" not in await volumes.node("n", volume_id, "k")
    with pytest.raises(HypervisorError):
        await volumes.create(VolumeSpec(volume_id, 1, key))
    with pytest.raises(VolumeNotFound):
        # An image neither in the pool nor on the host.
        absent = ImageBacking("ami-0123456789abcdef1", "raw", "ab" * 32)
        await volumes.create(VolumeSpec(new_id("vol"), 1, key, absent), tmp_path / "no-such-image")
    assert await volumes.virtual_size(volume_id, key) == 3 * GIB
    await volumes.delete(volume_id)
    assert not await volumes.exists(volume_id)
    assert rbd_namespace.images() == []
