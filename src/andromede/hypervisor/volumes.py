"""Where an instance's volumes and snapshots live: the seam between the QEMU driver and storage.

The driver (:mod:`andromede.hypervisor.qemu`) runs QEMU and speaks QMP; a :class:`VolumeBackend`
owns the bytes of volumes and snapshots, makes and removes them, and describes each as the
``blockdev-add`` arguments QEMU opens it with. Two backends, chosen by the
``hypervisor_volume_backend`` setting:

- :class:`FileVolumes` (embedded mode): qcow2 + LUKS files under the driver's state directory,
  overlays over image files;
- :class:`~andromede.hypervisor.rbd_volumes.RbdVolumes` (distributed mode): the same qcow2 +
  LUKS format inside Ceph RBD images, so a volume outlives its host
  (docs/decisions/0018-rbd-volumes.md).

Both encrypt at rest with the volume's KMS data key; keys reach qemu-img through pipes and QEMU
through QMP secret objects, never a command line or a file. A snapshot is self-contained (no
backing chain) and named by its id (:class:`~andromede.compute.driver.SnapshotBacking`). A
volume over an image is given the host's verified copy of it (:mod:`.image_cache`), which the
driver resolves from :class:`~andromede.compute.driver.ImageBacking`.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any, Protocol

from andromede.compute.driver import ImageBacking, SnapshotBacking, VolumeSpec
from andromede.hypervisor.errors import HypervisorError, VolumeNotFound
from andromede.hypervisor.images import QemuImg

__all__ = ["GIB", "FileVolumes", "VolumeBackend", "safe_id"]

GIB = 1024**3


class VolumeBackend(Protocol):
    """Volumes and snapshots of one host's instances, encrypted at rest."""

    async def create(self, spec: VolumeSpec, image: Path | None = None) -> None:
        """A new volume: blank, an overlay over an image (``spec.backing`` an
        :class:`ImageBacking`, ``image`` the host's verified copy of it), or a copy of a
        snapshot of this backend (a :class:`SnapshotBacking`)."""
        ...

    async def reads_from(self, image: Path) -> bool:
        """Whether a volume still reads from this image copy (it cannot be removed then)."""
        ...

    def storage_domain(self) -> str:
        """Which hosts share these volumes and snapshots (HostCapacity.storage_domain)."""
        ...

    async def exists(self, volume_id: str) -> bool: ...

    async def delete(self, volume_id: str) -> None:
        """Remove the volume and whatever only it used; absent is not an error."""
        ...

    async def virtual_size(self, volume_id: str, key: bytes) -> int: ...

    async def grow(self, volume_id: str, key: bytes, size: int) -> None:
        """Grow a volume no QEMU has open to ``size`` bytes (its qcow2's virtual size, which
        ``key`` must open); one already that big is left as is. VolumeNotFound if absent."""
        ...

    async def copy_to_snapshot(
        self, volume_id: str, key: bytes, snapshot_id: str, snapshot_key: bytes
    ) -> None:
        """A self-contained copy of a volume no QEMU has open (qemu-img reads it)."""
        ...

    async def copy_snapshot(
        self, source_id: str, source_key: bytes, snapshot_id: str, snapshot_key: bytes
    ) -> None:
        """A self-contained copy of a snapshot of this backend, re-encrypted from
        ``source_key`` to ``snapshot_key``; whole or absent. VolumeNotFound if the source is."""
        ...

    async def new_snapshot_target(self, snapshot_id: str, size: int, key: bytes) -> None:
        """A blank encrypted snapshot not yet visible, that a live backup job fills."""
        ...

    def snapshot_target_node(self, node: str, snapshot_id: str, secret_id: str) -> dict[str, Any]:
        """``blockdev-add`` arguments opening the target of :meth:`new_snapshot_target`."""
        ...

    async def commit_snapshot(self, snapshot_id: str) -> None:
        """Make a filled target the snapshot (atomically: a snapshot is whole or absent)."""
        ...

    async def abort_snapshot(self, snapshot_id: str) -> None: ...

    async def delete_snapshot(self, snapshot_id: str) -> None: ...

    async def node(self, node: str, volume_id: str, secret_id: str) -> dict[str, Any]:
        """``blockdev-add`` arguments opening the volume, its LUKS key in ``secret_id``."""
        ...

    def qmp_secrets(self) -> list[dict[str, Any]]:
        """``object-add`` arguments QEMU needs before :meth:`node` (credentials of the
        storage), added once per process."""
        ...

    async def close(self) -> None: ...


class FileVolumes:
    """:class:`VolumeBackend` over files: ``volumes/<id>.qcow2`` and ``snapshots/<id>.qcow2``
    under the driver's state directory, written as ``.<name>.partial`` then renamed."""

    def __init__(self, root: Path, img: QemuImg, *, host: str) -> None:
        self._volumes = root / "volumes"
        self._snapshots = root / "snapshots"
        self._img = img
        self._host = host
        for directory in (self._volumes, self._snapshots):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    def volume_path(self, volume_id: str) -> Path:
        return self._volumes / f"{safe_id(volume_id)}.qcow2"

    def snapshot_path(self, snapshot_id: str) -> Path:
        return self._snapshots / f"{safe_id(snapshot_id)}.qcow2"

    def _partial_snapshot(self, snapshot_id: str) -> Path:
        target = self.snapshot_path(snapshot_id)
        return target.with_name(f".{target.name}.partial")

    def _new_partial_snapshot(self, snapshot_id: str) -> Path:
        if self.snapshot_path(snapshot_id).exists():
            raise HypervisorError(f"snapshot {snapshot_id} already exists on {self._host}")
        partial = self._partial_snapshot(snapshot_id)
        partial.unlink(missing_ok=True)
        return partial

    async def create(self, spec: VolumeSpec, image: Path | None = None) -> None:
        target = self.volume_path(spec.volume_id)
        if target.exists():
            raise HypervisorError(f"volume {spec.volume_id} already exists on {self._host}")
        backing = spec.backing
        if isinstance(backing, ImageBacking) and (image is None or not image.is_file()):
            raise VolumeNotFound(f"image {backing.image_id} of {spec.volume_id} not on this host")
        if (
            isinstance(backing, SnapshotBacking)
            and not self.snapshot_path(backing.snapshot_id).is_file()
        ):
            raise VolumeNotFound(f"snapshot {backing.snapshot_id} not found on {self._host}")
        partial = target.with_name(f".{target.name}.partial")
        partial.unlink(missing_ok=True)
        size = spec.size_gib * GIB
        if isinstance(backing, SnapshotBacking):
            # An encrypted backing (a snapshot) would need its key at every open, and the
            # instance spec carries only the volume's: copy it into a self-contained volume.
            snapshot = self.snapshot_path(backing.snapshot_id)
            await self._img.copy_encrypted(snapshot, backing.key, partial, spec.key)
            # A volume may be bigger than its snapshot (EC2 allows it), never smaller.
            await self._img.grow(partial, spec.key, size)
        elif isinstance(backing, ImageBacking) and image is not None:
            await self._img.create_encrypted(
                partial, size, spec.key, backing=image, backing_format=backing.disk_format
            )
        else:
            await self._img.create_encrypted(partial, size, spec.key)
        partial.rename(target)

    async def reads_from(self, image: Path) -> bool:
        """An overlay names its image copy in its qcow2 header (plaintext: only the clusters
        are encrypted); a volume being created is counted too."""
        wanted = os.fsencode(image)
        for volume in self._volumes.iterdir():
            if _qcow2_backing_name(volume) == wanted:
                return True
        return False

    def storage_domain(self) -> str:
        return self._host

    async def exists(self, volume_id: str) -> bool:
        return self.volume_path(volume_id).exists()

    async def delete(self, volume_id: str) -> None:
        self.volume_path(volume_id).unlink(missing_ok=True)

    async def virtual_size(self, volume_id: str, key: bytes) -> int:
        info = await self._img.info(self.volume_path(volume_id), key)
        size = info.get("virtual-size")
        if not isinstance(size, int):
            raise HypervisorError(f"cannot size volume {volume_id}")
        return size

    async def grow(self, volume_id: str, key: bytes, size: int) -> None:
        path = self.volume_path(volume_id)
        if not path.exists():
            raise VolumeNotFound(f"volume {volume_id} not found on {self._host}")
        await self._img.grow(path, key, size)

    async def copy_to_snapshot(
        self, volume_id: str, key: bytes, snapshot_id: str, snapshot_key: bytes
    ) -> None:
        source = self.volume_path(volume_id)
        if not source.exists():
            raise VolumeNotFound(f"volume {volume_id} not found on {self._host}")
        partial = self._new_partial_snapshot(snapshot_id)
        await self._img.copy_encrypted(source, key, partial, snapshot_key)
        partial.rename(self.snapshot_path(snapshot_id))

    async def copy_snapshot(
        self, source_id: str, source_key: bytes, snapshot_id: str, snapshot_key: bytes
    ) -> None:
        source = self.snapshot_path(source_id)
        if not source.is_file():
            raise VolumeNotFound(f"snapshot {source_id} not found on {self._host}")
        partial = self._new_partial_snapshot(snapshot_id)
        try:
            await self._img.copy_encrypted(source, source_key, partial, snapshot_key)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        partial.rename(self.snapshot_path(snapshot_id))

    async def new_snapshot_target(self, snapshot_id: str, size: int, key: bytes) -> None:
        partial = self._new_partial_snapshot(snapshot_id)
        await self._img.create_encrypted(partial, size, key)

    def snapshot_target_node(self, node: str, snapshot_id: str, secret_id: str) -> dict[str, Any]:
        return _qcow2_file_node(node, self._partial_snapshot(snapshot_id), secret_id)

    async def commit_snapshot(self, snapshot_id: str) -> None:
        self._partial_snapshot(snapshot_id).rename(self.snapshot_path(snapshot_id))

    async def abort_snapshot(self, snapshot_id: str) -> None:
        self._partial_snapshot(snapshot_id).unlink(missing_ok=True)

    async def delete_snapshot(self, snapshot_id: str) -> None:
        self.snapshot_path(snapshot_id).unlink(missing_ok=True)

    async def node(self, node: str, volume_id: str, secret_id: str) -> dict[str, Any]:
        return _qcow2_file_node(node, self.volume_path(volume_id), secret_id)

    def qmp_secrets(self) -> list[dict[str, Any]]:
        return []

    async def close(self) -> None:
        return None


def _qcow2_backing_name(path: Path) -> bytes | None:
    """The backing file name in a qcow2 header; None when it has none or is no qcow2."""
    try:
        with path.open("rb") as file:
            header = file.read(20)
            if len(header) < 20 or header[:4] != b"QFI\xfb":
                return None
            offset, length = struct.unpack(">QI", header[8:20])
            if not offset or not 0 < length <= 1023:
                return None
            file.seek(offset)
            return file.read(length)
    except OSError:
        return None


def _qcow2_file_node(node: str, path: Path, secret_id: str) -> dict[str, Any]:
    return {
        "driver": "qcow2",
        "node-name": node,
        "file": {"driver": "file", "filename": str(path)},
        "encrypt": {"format": "luks", "key-secret": secret_id},
    }


def safe_id(resource_id: str) -> str:
    """Ids become file, RBD image and QMP node names: letters, digits and dashes only."""
    if not resource_id or not all(c.isalnum() or c == "-" for c in resource_id):
        raise HypervisorError(f"invalid resource id {resource_id!r}")
    return resource_id
