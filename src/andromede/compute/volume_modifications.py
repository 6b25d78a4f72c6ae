"""ModifyVolume and DescribeVolumesModifications: growing a volume, available or in use.

Only the size changes (docs/decisions/0088-modify-volume.md). The modification is written
``modifying`` on the volume's record before the host is asked, so that a second one is refused
while it runs (``IncorrectModificationState``, as EC2 does), then ``completed`` with the new
size, or ``failed`` with the old one and a message when the host refused or did not answer. The
host grows the disk within the call (qemu-img, or QMP under a running guest: seconds), so there
is no ``optimizing`` phase: nothing is moved after a growth here."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from andromede.compute.errors import (
    ComputeError,
    IncorrectModificationState,
    IncorrectState,
    InvalidParameterValue,
    NoModification,
    NotFound,
)
from andromede.compute.model import (
    Instance,
    InstanceState,
    Volume,
    VolumeModification,
    VolumeModificationState,
    VolumeState,
)
from andromede.compute.service_core import ServiceCore
from andromede.compute.volumes import MAX_VOLUME_GIB

__all__ = ["VolumeModificationsMixin"]

log = logging.getLogger(__name__)

_FAILED = "The host could not grow the volume; try again later"


class VolumeModificationsMixin(ServiceCore):
    async def modify_volume(
        self, tenant_id: str, volume_id: str, *, size_gib: int
    ) -> VolumeModification:
        """Grow the tenant's volume to ``size_gib`` GiB. Returns the modification,
        ``completed`` (the volume has the new size) or ``failed`` (it kept the old one): a host
        that refuses fails the modification, not the call."""
        volume = await self._owned(Volume, tenant_id, volume_id, "vol")
        if volume.state not in (VolumeState.AVAILABLE, VolumeState.IN_USE):
            raise IncorrectState(
                f"The volume '{volume_id}' is '{volume.state}': only an 'available' or "
                "'in-use' volume can be modified"
            )
        last = volume.modification
        if last is not None and not last.seen_at(self.clock()).settled:
            raise _under_way(volume_id, last)
        if size_gib < volume.size_gib:
            raise InvalidParameterValue("New size cannot be smaller than existing size")
        if size_gib == volume.size_gib:
            raise InvalidParameterValue(
                f"The volume {volume_id} is already {size_gib} GiB: nothing to modify"
            )
        if size_gib > MAX_VOLUME_GIB:
            raise InvalidParameterValue(
                f"Volume of {size_gib} GiB is too large for gp3: at most {MAX_VOLUME_GIB} GiB"
            )
        if volume.attachment is not None:
            instance = await self.store.get(Instance, volume.attachment.instance_id)
            if instance is not None and instance.state not in (
                InstanceState.RUNNING,
                InstanceState.STOPPED,
            ):
                # Its QEMU is being started or stopped: neither qemu-img nor QMP can be sure
                # to have the disk to itself. A moment later it can.
                raise IncorrectState(
                    f"The instance {instance.instance_id} of {volume_id} is {instance.state}: "
                    "modify the volume once it is running or stopped"
                )
        # A disabled KMS key refuses here (IncorrectState), before anything is recorded.
        key = await self.disk_keys.open_key(volume)
        started = VolumeModification(
            VolumeModificationState.MODIFYING, volume.size_gib, size_gib, self.clock()
        )
        try:
            volume = await self._update(volume, modification=started)
        except IncorrectState:
            # Another call wrote first: when it started a modification, that is the refusal.
            current = await self.store.get(Volume, volume_id)
            if current is not None and current.modification is not None:
                if not current.modification.settled:
                    raise _under_way(volume_id, current.modification) from None
            raise
        try:
            await self._on_host(
                "grow the volume",
                self._driver(volume.host).grow_volume(volume_id, bytes(key), size_gib),
            )
        except ComputeError as exc:
            # _on_host's own messages (chained to the host's error) say what failed and no
            # more; another error's may name a host or a path: logged, not told.
            log.warning("volume %s could not be grown: %s", volume_id, exc)
            message = str(exc) if exc.__cause__ is not None else _FAILED
            failed = started.moved_to(VolumeModificationState.FAILED, self.clock(), message)
            return await self._settle(volume_id, failed)
        completed = started.moved_to(VolumeModificationState.COMPLETED, self.clock())
        return await self._settle(volume_id, completed, size_gib=size_gib)

    async def _settle(
        self, volume_id: str, modification: VolumeModification, *, size_gib: int | None = None
    ) -> VolumeModification:
        """Write the outcome of ``modification`` on the volume as it is now (it may have been
        tagged, attached or detached meanwhile)."""
        while True:
            current = await self.store.get(Volume, volume_id)
            if current is None:
                raise NotFound("vol", volume_id)  # deleted while it grew
            ours = current.modification
            if ours is None or ours.started_at != modification.started_at:
                return modification  # taken as abandoned, and another one started since
            changes: dict[str, Any] = {"modification": modification}
            if size_gib is not None:
                changes["size_gib"] = size_gib
            settled = replace(current, **changes)
            if await self.store.replace(settled):
                return modification

    async def describe_volumes_modifications(
        self, tenant_id: str, ids: Sequence[str]
    ) -> list[tuple[str, VolumeModification]]:
        """The tenant's volumes that were modified, each with its last modification as it
        stands now (one abandoned by a gateway that stopped is reported failed); a volume named
        that was never modified is NoModification."""
        now = self.clock()
        if ids:
            volumes = [await self._owned(Volume, tenant_id, i, "vol") for i in dict.fromkeys(ids)]
            for volume in volumes:
                if volume.modification is None:
                    raise NoModification(volume.volume_id)
        else:
            volumes = await self.store.list(Volume, tenant_id)
        return [
            (volume.volume_id, volume.modification.seen_at(now))
            for volume in volumes
            if volume.modification is not None
        ]


def _under_way(volume_id: str, modification: VolumeModification) -> IncorrectModificationState:
    return IncorrectModificationState(
        f"Volume {volume_id} cannot be modified in modification state {modification.state.upper()}"
    )
