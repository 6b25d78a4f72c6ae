"""CreateImage (decision 0147): an image of an instance, one snapshot per attached volume.

The image is recorded ``pending`` with the ids of the snapshots it will read, then each
attached volume is snapshotted under its own key (its KMS key, if any, as CreateSnapshot does)
and the image becomes ``available``. Of a stopped instance, or with ``NoReboot``, the
snapshots are taken within the call, as CreateSnapshot's are. Of a running instance without
``NoReboot``, EC2 shuts the guest down so that its file systems are consistent: here the
instance is stopped (ACPI power-down, as StopInstances), snapshotted, and started again, in
the background (``image_jobs``, durable across gateways: decision 0148); the image answers
``pending`` until then, or ``failed``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

from andromede.compute.errors import (
    IncorrectState,
    InvalidBlockDeviceMapping,
    InvalidParameterValue,
    MissingParameter,
    NotFound,
)
from andromede.compute.image_job import ImageCreation
from andromede.compute.image_jobs import ImageJobsMixin
from andromede.compute.model import (
    Image,
    ImageBlockDevice,
    ImageState,
    Instance,
    InstanceState,
    Snapshot,
    Tags,
    Volume,
    check_tags,
    new_id,
)
from andromede.compute.service_core import NAME_MAX
from andromede.compute.volumes import MAX_VOLUME_GIB

__all__ = ["ImageCreationMixin", "ImageMappingRequest"]

log = logging.getLogger(__name__)

_GIB = 1024**3


@dataclass(frozen=True, slots=True)
class ImageMappingRequest:
    """A CreateImage ``BlockDeviceMapping``: a larger size or another DeleteOnTermination for
    an attached volume's device, ``no_device`` to leave a further volume out, or a blank
    volume of ``size_gib`` for a device the instance has not."""

    device: str
    size_gib: int | None = None
    delete_on_termination: bool | None = None
    no_device: bool = False


@dataclass(frozen=True, slots=True)
class _Planned:
    volume: Volume
    snapshot_id: str


class ImageCreationMixin(ImageJobsMixin):
    async def create_image(
        self,
        tenant_id: str,
        instance_id: str,
        *,
        name: str,
        description: str = "",
        no_reboot: bool = False,
        mappings: Sequence[ImageMappingRequest] = (),
        tags: Tags = (),
        snapshot_tags: Tags = (),
    ) -> Image:
        """CreateImage. Every check runs before anything is written."""
        self._check_image_name(name)
        check_tags(tags)
        check_tags(snapshot_tags)
        if len(description) > NAME_MAX:
            raise InvalidParameterValue("The description is at most 255 characters")
        instance = await self._owned(Instance, tenant_id, instance_id, "i")
        if instance.state not in (InstanceState.RUNNING, InstanceState.STOPPED):
            raise IncorrectState(
                f"Instance '{instance_id}' is not in a state from which it can be imaged."
            )
        await self._check_unique_image_name(tenant_id, name)
        image_id = new_id("ami")
        root, plan, devices = await self._image_plan(tenant_id, instance, mappings)
        source = await self.store.get(Image, instance.image_id)
        image = Image(
            image_id=image_id,
            name=name,
            owner_id=tenant_id,
            state=ImageState.PENDING,
            disk_format="qcow2",
            size_bytes=root.size_gib * _GIB,
            virtual_size_gib=root.size_gib,
            sha256="",
            created_at=self.clock(),
            description=description,
            snapshot_id=plan[0].snapshot_id,
            root_device_name=root.device,
            architecture=source.architecture if source is not None else "x86_64",
            tags=tags,
            root_delete_on_termination=root.delete_on_termination,
            block_devices=devices,
        )
        if instance.state is InstanceState.RUNNING and not no_reboot:
            # Recorded with the image, so that any gateway finishes it if this one stops
            # (decision 0148).
            image = replace(
                image,
                creation=ImageCreation(
                    instance_id=instance_id,
                    volumes=tuple((p.volume.volume_id, p.snapshot_id) for p in plan),
                    snapshot_tags=snapshot_tags,
                    holder=self.worker_id,
                    lease_until=self._image_lease(),
                ),
            )
            await self.store.insert(image)
            self._spawn(self._finish_image(image_id))
            return image
        await self.store.insert(image)
        try:
            await self._snapshot_for_image(image, instance, plan, snapshot_tags)
        except BaseException:
            await self.store.delete(Image, image_id)
            raise
        return await self._image_made(image)

    async def _image_plan(
        self, tenant_id: str, instance: Instance, mappings: Sequence[ImageMappingRequest]
    ) -> tuple[ImageBlockDevice, list[_Planned], tuple[ImageBlockDevice, ...]]:
        """The image's root device, the volumes to snapshot (the root first), and its further
        devices, as the instance's attachments and the request's mappings say."""
        asked: dict[str, ImageMappingRequest] = {}
        for mapping in mappings:
            if not mapping.device.startswith("/dev/") or len(mapping.device) > 32:
                raise InvalidParameterValue(f"Invalid device name {mapping.device[:32]}")
            if mapping.device in asked:
                raise InvalidBlockDeviceMapping(
                    f"The device {mapping.device} is mapped more than once"
                )
            asked[mapping.device] = mapping
        attached = [
            v
            for v in await self.store.list(Volume, tenant_id)
            if v.attachment is not None and v.attachment.instance_id == instance.instance_id
        ]
        attached.sort(key=lambda v: (v.volume_id != instance.root_volume_id, v.volume_id))
        if not attached or attached[0].volume_id != instance.root_volume_id:
            raise IncorrectState(f"Instance '{instance.instance_id}' has no root volume")
        plan: list[_Planned] = []
        devices: list[ImageBlockDevice] = []
        root: ImageBlockDevice | None = None
        for volume in attached:
            attachment = volume.attachment
            assert attachment is not None  # noqa: S101 — filtered above
            size, keep = volume.size_gib, attachment.delete_on_termination
            change = asked.pop(attachment.device, None)
            if change is not None:
                if change.no_device:
                    if root is None:
                        raise InvalidBlockDeviceMapping(
                            f"The root device {attachment.device} cannot be left out of the image"
                        )
                    continue
                if change.size_gib is not None:
                    if not size <= change.size_gib <= MAX_VOLUME_GIB:
                        raise InvalidParameterValue(
                            f"Volume of size {change.size_gib}GB is smaller than the volume "
                            f"{volume.volume_id} ({size}GB) or larger than {MAX_VOLUME_GIB}GB"
                        )
                    size = change.size_gib
                if change.delete_on_termination is not None:
                    keep = change.delete_on_termination
            planned = _Planned(volume, new_id("snap"))
            plan.append(planned)
            device = ImageBlockDevice(attachment.device, size, planned.snapshot_id, keep)
            if root is None:
                root = device
            else:
                devices.append(device)
        for mapping in asked.values():
            if mapping.no_device:  # a device the instance has not: nothing to leave out
                continue
            if mapping.size_gib is None:
                raise MissingParameter(
                    f"The block device mapping of {mapping.device} must contain the parameter "
                    "size or snapshotId"
                )
            if not 1 <= mapping.size_gib <= MAX_VOLUME_GIB:
                raise InvalidParameterValue(f"Invalid volume size: {mapping.size_gib}")
            keep = True if mapping.delete_on_termination is None else mapping.delete_on_termination
            devices.append(ImageBlockDevice(mapping.device, mapping.size_gib, None, keep))
        if 1 + len(devices) > self.limits.max_volumes_per_instance:
            raise InvalidBlockDeviceMapping(
                f"An instance here takes at most {self.limits.max_volumes_per_instance} volumes, "
                "its root volume included"
            )
        assert root is not None  # noqa: S101 — the root volume is planned first
        return root, plan, tuple(devices)

    async def _snapshot_for_image(
        self, image: Image, instance: Instance, plan: Sequence[_Planned], tags: Tags
    ) -> None:
        """One snapshot per planned volume, under the volume's key, with EC2's description;
        if one fails, those made are deleted."""
        made: list[Snapshot] = []
        try:
            for planned in plan:
                volume = planned.volume
                made.append(
                    await self.create_snapshot(
                        instance.tenant_id,
                        volume.volume_id,
                        f"Created by CreateImage({instance.instance_id}) for {image.image_id} "
                        f"from {volume.volume_id}",
                        tags,
                        snapshot_id=planned.snapshot_id,
                    )
                )
        except BaseException:
            for snapshot in made:
                # Not DeleteSnapshot: the pending image names it, so it would be in use.
                try:
                    driver = self._driver(snapshot.host)
                    await self._on_host(
                        "delete the snapshot", driver.delete_snapshot(snapshot.snapshot_id)
                    )
                    await self.store.delete(Snapshot, snapshot.snapshot_id)
                except Exception as exc:  # the image fails either way; the snapshot stays
                    log.warning("image %s: snapshot %s kept: %s", image.image_id, snapshot, exc)
            raise

    async def _image_made(self, image: Image) -> Image:
        current = await self.store.get(Image, image.image_id)
        if current is None or current.state is not ImageState.PENDING:
            # Deregistered meanwhile: its snapshots stay the tenant's, to delete or reuse.
            raise NotFound("ami", image.image_id)
        return await self._update(current, state=ImageState.AVAILABLE)
