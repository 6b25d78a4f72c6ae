"""The QEMU driver's storage (:class:`StorageMixin`): volumes created, grown (offline by the
backend, under a running guest by QMP ``block_resize``) and deleted; the host's image copies;
snapshots (a running volume's by QEMU's own backup job); and volumes plugged into a guest
(``blockdev-add`` of the encrypted image, a virtio-blk disk) at its start or hot, and unplugged.

A part of :class:`~andromede.hypervisor.qemu.QemuDriver`, split off for size (STYLE §10).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from andromede.compute.driver import AttachedVolume, ImageBacking, VolumeSpec
from andromede.hypervisor.errors import HypervisorError, ImageInUse, InstanceBusy, VolumeNotFound
from andromede.hypervisor.monitor import Monitor
from andromede.hypervisor.process import QemuProcess
from andromede.hypervisor.qemu_core import QemuDriverCore, _add_secret
from andromede.hypervisor.volumes import GIB, VolumeBackend, safe_id

__all__ = ["StorageMixin"]

# The facade's logger name, as before the split: log settings, readers and tests name it.
logger = logging.getLogger("andromede.hypervisor.qemu")


class StorageMixin(QemuDriverCore):
    """Volumes, images, snapshots and the disks plugged into guests."""

    # -- volumes --------------------------------------------------------------------------

    async def create_volume(self, spec: VolumeSpec) -> None:
        if not isinstance(spec.backing, ImageBacking):
            await self._volumes.create(spec)
            return
        # Under the image's lock: a forget_image at the same moment waits for the overlay,
        # then sees it reads the copy.
        async with self._images.lock(spec.backing.image_id):
            image = self._images.path(spec.backing.image_id, spec.backing.sha256)
            await self._volumes.create(spec, image)

    # -- images ---------------------------------------------------------------------------

    async def has_image(self, image_id: str, sha256: str) -> bool:
        return self._images.has(image_id, sha256)

    async def put_image(
        self, image_id: str, sha256: str, disk_format: str, chunks: AsyncIterator[bytes]
    ) -> None:
        await self._images.put(image_id, sha256, disk_format, chunks)

    async def forget_image(self, image_id: str) -> None:
        """Refused (ImageInUse) while a volume reads from the copy: with files an overlay
        names it as its backing file, and removing it would break that volume. The control
        plane forgets an image only once no volume of it is left, so a refusal is a
        disagreement to look at, not a state to wait out."""
        async with self._images.lock(image_id):
            for copy in self._images.copies(image_id):
                if await self._volumes.reads_from(copy):
                    raise ImageInUse(f"image {image_id}: a volume on {self._host} still reads it")
            self._images.forget(image_id)

    async def delete_volume(self, volume_id: str) -> None:
        for instance_id in self._users_of(volume_id):
            if self._process(instance_id).alive():
                raise InstanceBusy(f"volume {volume_id} is attached to running {instance_id}")
        await self._volumes.delete(volume_id)

    async def grow_volume(self, volume_id: str, key: bytes, size_gib: int) -> None:
        """Offline, the backend grows the image (qemu-img, with ``key``); under a running
        guest, QEMU does (QMP ``block_resize`` on the volume's node, which it opened with the
        key at attach or boot), and virtio-blk tells the guest its new capacity at once. The
        instance's lock keeps a start or a stop from crossing either."""
        if not await self._volumes.exists(volume_id):
            raise VolumeNotFound(f"volume {volume_id} not found on {self._host}")
        size = size_gib * GIB
        async with contextlib.AsyncExitStack() as held:
            users = self._users_of(volume_id)
            for instance_id in users:
                await held.enter_async_context(self._lock(instance_id))
            running = [i for i in users if self._process(i).alive()]
            if not running:
                await self._volumes.grow(volume_id, key, size)
                return
            node = _node(volume_id)
            async with self._monitor(running[0]) as qmp:
                # QEMU holds the volume open (its key was checked then): the size is its node's.
                # block_resize would shrink as readily as grow, so it is asked only to grow.
                if await _node_size(qmp, node) >= size:
                    return
                await qmp.execute("block_resize", {"node-name": node, "size": size})
        logger.info("volume %s grown to %d GiB under %s", volume_id, size_gib, running[0])

    async def snapshot_volume(
        self, volume_id: str, key: bytes, snapshot_id: str, snapshot_key: bytes
    ) -> None:
        if not await self._volumes.exists(volume_id):
            raise VolumeNotFound(f"volume {volume_id} not found on {self._host}")
        running_users = [i for i in self._users_of(volume_id) if self._process(i).alive()]
        if running_users:
            await self._backup_live(running_users[0], volume_id, snapshot_id, snapshot_key, key)
        else:
            await self._volumes.copy_to_snapshot(volume_id, key, snapshot_id, snapshot_key)

    async def _backup_live(
        self, instance_id: str, volume_id: str, snapshot_id: str, target_key: bytes, key: bytes
    ) -> None:
        """A point-in-time copy of a volume in use: QEMU's own backup job, which sees every
        write the guest made (qemu-img on the volume could read half-written metadata)."""
        size = await self._volumes.virtual_size(volume_id, key)
        await self._volumes.new_snapshot_target(snapshot_id, size, target_key)
        node, job = f"backup-{safe_id(volume_id)}", f"job-{safe_id(volume_id)}"
        try:
            async with self._lock(instance_id), self._monitor(instance_id) as qmp:
                await _add_secret(qmp, f"key-{node}", target_key)
                await _add_backend_secrets(qmp, self._volumes)
                target = self._volumes.snapshot_target_node(node, snapshot_id, f"key-{node}")
                await qmp.execute("blockdev-add", target)
                try:
                    async with qmp.events("BLOCK_JOB_COMPLETED") as listener:
                        await qmp.execute(
                            "blockdev-backup",
                            {"job-id": job, "device": _node(volume_id), "target": node,
                             "sync": "full", "auto-dismiss": True},
                        )  # fmt: skip
                        done = await qmp.wait_for(
                            listener, lambda data: data.get("device") == job,
                            self._config.qemu_img_timeout,
                        )  # fmt: skip
                    if not done:
                        raise HypervisorError(f"snapshot of {volume_id} timed out")
                finally:
                    with contextlib.suppress(HypervisorError):
                        await qmp.execute("blockdev-del", {"node-name": node})
                    with contextlib.suppress(HypervisorError):
                        await qmp.execute("object-del", {"id": f"key-{node}"})
            await self._volumes.commit_snapshot(snapshot_id)
        except BaseException:
            await self._volumes.abort_snapshot(snapshot_id)
            raise

    async def copy_snapshot(
        self, source_id: str, source_key: bytes, snapshot_id: str, snapshot_key: bytes
    ) -> None:
        # A snapshot is never open in a guest: qemu-img reads it, whatever runs.
        await self._volumes.copy_snapshot(source_id, source_key, snapshot_id, snapshot_key)

    async def delete_snapshot(self, snapshot_id: str) -> None:
        await self._volumes.delete_snapshot(snapshot_id)

    def _users_of(self, volume_id: str) -> list[str]:
        return [
            path.name
            for path in self._instances.iterdir()
            if volume_id in QemuProcess(path).attached()
        ]

    async def _plug(self, qmp: Monitor, volume: AttachedVolume, *, boot: bool) -> None:
        node = _node(volume.volume_id)
        await _add_secret(qmp, f"key-{node}", volume.key)
        await _add_backend_secrets(qmp, self._volumes)
        arguments = await self._volumes.node(node, volume.volume_id, f"key-{node}")
        await qmp.execute("blockdev-add", arguments)
        device: dict[str, Any] = {
            "driver": "virtio-blk-pci",
            "id": f"disk-{node}",
            "drive": node,
            # EC2's NVMe serial: the volume id without its dash, 20 characters.
            "serial": volume.volume_id.replace("-", "")[:20],
        }
        if boot:
            device["bootindex"] = 0
        await qmp.execute("device_add", device)

    # -- hot-plug -------------------------------------------------------------------------

    async def attach_volume(self, instance_id: str, volume: AttachedVolume) -> None:
        if not await self._volumes.exists(volume.volume_id):
            raise VolumeNotFound(f"volume {volume.volume_id} not found on {self._host}")
        async with self._lock(instance_id):
            process = self._process(instance_id)
            if volume.volume_id in process.attached():
                return
            async with self._monitor(instance_id) as qmp:
                await self._plug(qmp, volume, boot=False)
            process.write_attached([*process.attached(), volume.volume_id])

    async def detach_volume(self, instance_id: str, volume_id: str) -> None:
        node = _node(volume_id)
        async with self._lock(instance_id):
            process = self._process(instance_id)
            async with self._monitor(instance_id) as qmp:
                async with qmp.events("DEVICE_DELETED") as listener:
                    try:
                        await qmp.execute("device_del", {"id": f"disk-{node}"})
                        # The guest acknowledges the ACPI eject; then the device is gone.
                        removed = await qmp.wait_for(
                            listener,
                            lambda data: data.get("device") == f"disk-{node}",
                            self._config.detach_timeout,
                        )
                    except HypervisorError as exc:
                        # Not plugged: already detached (a retry); go on cleaning up.
                        logger.debug("detach %s from %s: %s", volume_id, instance_id, exc)
                        removed = True
                if not removed:
                    raise HypervisorError(
                        f"instance {instance_id} did not release volume {volume_id} "
                        f"within {self._config.detach_timeout:g}s"
                    )
                with contextlib.suppress(HypervisorError):
                    await qmp.execute("blockdev-del", {"node-name": node})
                with contextlib.suppress(HypervisorError):
                    await qmp.execute("object-del", {"id": f"key-{node}"})
            process.write_attached([v for v in process.attached() if v != volume_id])


async def _add_backend_secrets(qmp: Monitor, volumes: VolumeBackend) -> None:
    """The storage's credentials, once per QEMU process (they outlive every volume)."""
    for arguments in volumes.qmp_secrets():
        with contextlib.suppress(HypervisorError):  # already there: added for another volume
            await qmp.execute("object-add", arguments)


async def _node_size(qmp: Monitor, node: str) -> int:
    """The virtual size of a plugged volume's node (QMP ``query-block``)."""
    for device in await qmp.execute("query-block") or []:
        inserted = device.get("inserted") or {}
        if inserted.get("node-name") == node:
            size = (inserted.get("image") or {}).get("virtual-size")
            if isinstance(size, int):
                return size
    raise HypervisorError(f"volume node {node} is not plugged into its instance")


def _node(volume_id: str) -> str:
    return f"vol-{safe_id(volume_id).removeprefix('vol-')}"
