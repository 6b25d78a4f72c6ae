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
backing chain) and named by :meth:`VolumeBackend.snapshot_path`, a path the compute service
hands back as :attr:`~andromede.compute.driver.VolumeSpec.backing` to make a volume from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from andromede.compute.driver import VolumeSpec
from andromede.hypervisor.errors import HypervisorError, VolumeNotFound
from andromede.hypervisor.images import QemuImg

__all__ = ["GIB", "FileVolumes", "VolumeBackend", "safe_id"]

GIB = 1024**3


class VolumeBackend(Protocol):
    """Volumes and snapshots of one host's instances, encrypted at rest."""

    async def create(self, spec: VolumeSpec) -> None:
        """A new volume: blank, an overlay over an image file, or a copy of a snapshot
        (``spec.backing`` is then :meth:`snapshot_path` of it, ``spec.backing_key`` its key)."""
        ...

    async def exists(self, volume_id: str) -> bool: ...

    async def delete(self, volume_id: str) -> None:
        """Remove the volume and whatever only it used; absent is not an error."""
        ...

    async def virtual_size(self, volume_id: str, key: bytes) -> int: ...

    async def copy_to_snapshot(
        self, volume_id: str, key: bytes, snapshot_id: str, snapshot_key: bytes
    ) -> None:
        """A self-contained copy of a volume no QEMU has open (qemu-img reads it)."""
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

    def snapshot_path(self, snapshot_id: str) -> Path: ...

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

    async def create(self, spec: VolumeSpec) -> None:
        target = self.volume_path(spec.volume_id)
        if target.exists():
            raise HypervisorError(f"volume {spec.volume_id} already exists on {self._host}")
        if spec.backing is not None and not spec.backing.is_file():
            raise VolumeNotFound(f"backing file of {spec.volume_id} not found")
        partial = target.with_name(f".{target.name}.partial")
        partial.unlink(missing_ok=True)
        size = spec.size_gib * GIB
        if spec.backing is not None and spec.backing_key is not None:
            # An encrypted backing (a snapshot) would need its key at every open, and the
            # instance spec carries only the volume's: copy it into a self-contained volume.
            await self._img.copy_encrypted(spec.backing, spec.backing_key, partial, spec.key)
            # A volume may be bigger than its snapshot (EC2 allows it), never smaller.
            await self._img.grow(partial, spec.key, size)
        else:
            await self._img.create_encrypted(
                partial, size, spec.key, backing=spec.backing, backing_format=spec.backing_format
            )
        partial.rename(target)

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

    async def copy_to_snapshot(
        self, volume_id: str, key: bytes, snapshot_id: str, snapshot_key: bytes
    ) -> None:
        source = self.volume_path(volume_id)
        if not source.exists():
            raise VolumeNotFound(f"volume {volume_id} not found on {self._host}")
        partial = self._new_partial_snapshot(snapshot_id)
        await self._img.copy_encrypted(source, key, partial, snapshot_key)
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
