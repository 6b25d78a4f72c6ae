"""Copies of snapshots and images (CopySnapshot, CopyImage), decision 0098.

A copy is a new snapshot with its own data key: under the KMS key the caller names, else the
source's KMS key, else the tenant's key (the account's default). The host re-encrypts the bytes
from the source's key to the copy's (:meth:`HypervisorDriver.copy_snapshot`), so once made the
copy needs nothing of its source: deleting the source, or destroying the source's key, leaves it
readable; destroying the copy's own key shreds it alone.

The caller must be allowed to read the source under its KMS key (``kms:Decrypt``) and to make
a data key under the copy's (``kms:GenerateDataKeyWithoutPlaintext``), both with
``kms:ViaService`` ``ec2.<region>.amazonaws.com``, as EBS asks of CopySnapshot. A shared image's
snapshot under its owner's customer-managed key is read as the caller too, the owner's key
policy and grants deciding (decision 0147, 2026-12-05), and its copy is never under the
owner's key unless named: under the caller's, else its account's.

CopyImage copies the snapshot an image was registered from and registers the copy as a new
image of the caller's account. An image that is a file (the operator's public images, a
tenant's ImportImage) becomes a snapshot of the caller's, made on a host from a transient
volume over the file, so that the copy is the tenant's own, under the key it chose, and
outlives the public image (EC2 makes a private AMI with new snapshots of a public one).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import replace

from andromede.compute.driver import ImageBacking, VolumeSpec
from andromede.compute.errors import (
    Duplicate,
    IdempotentParameterMismatch,
    IncorrectState,
    InvalidParameterValue,
    NotFound,
)
from andromede.compute.image_library import ImagesMixin
from andromede.compute.model import (
    Image,
    ImageBlockDevice,
    ImageState,
    Snapshot,
    Tags,
    check_client_token,
    check_id,
    check_tags,
    merge_tags,
    new_id,
    request_digest,
    token_id,
)
from andromede.compute.scheduler import storage_domain_of
from andromede.compute.service_core import NAME_MAX
from andromede.compute.volumes import VolumesMixin, key_kept

__all__ = ["COPIED_VOLUME_ID", "CopiesMixin"]

log = logging.getLogger(__name__)

# EC2's volume id of a snapshot made by a copy: "an arbitrary volume ID that should not be used
# for any purpose".
COPIED_VOLUME_ID = "vol-ffffffff"
_GIB = 1024**3


class CopiesMixin(VolumesMixin, ImagesMixin):
    """Over volumes (a host that opens a snapshot) and images (names, a host's copy of an
    image file)."""

    def _check_source_region(self, region: str) -> None:
        """One compute region per deployment: its snapshots and images are in one store, on
        the hosts of this region. Another region's are not reachable from here."""
        if region != self.limits.region:
            raise InvalidParameterValue(
                f"Invalid region: {region[:64]}; the source must be in {self.limits.region}"
            )

    async def copy_snapshot(
        self,
        tenant_id: str,
        source_snapshot_id: str,
        *,
        source_region: str,
        description: str = "",
        kms_key_id: str | None = None,
        tags: Tags = (),
        caller: object = None,
    ) -> Snapshot:
        """CopySnapshot: a new snapshot of the tenant's with the source's bytes under its own
        data key (the key chosen as the module says), made within the call."""
        self._check_source_region(source_region)
        check_tags(tags)
        if len(description) > NAME_MAX:
            raise InvalidParameterValue("The description is at most 255 characters")
        source = await self._owned(Snapshot, tenant_id, source_snapshot_id, "snap")
        if source.state != "completed":
            raise IncorrectState(f"Snapshot '{source.snapshot_id}' is not completed")
        return await self._copy_snapshot(
            tenant_id,
            source,
            new_id("snap"),
            description=description,
            kms_key_id=kms_key_id,
            tags=tags,
            caller=caller,
        )

    async def _copy_snapshot(
        self,
        tenant_id: str,
        source: Snapshot,
        snapshot_id: str,
        *,
        description: str,
        kms_key_id: str | None,
        tags: Tags,
        caller: object,
    ) -> Snapshot:
        if source.tenant_id != tenant_id:
            # A shared image's snapshot (CopyImage): read under its owner's key as the caller.
            await self._may_read_shared(caller, tenant_id, source)
        elif source.kms_key_arn is not None:
            # Reading the source re-encrypts its data key: the caller must be allowed to.
            await self.disk_keys.customer_key(
                caller, tenant_id, source.kms_key_arn, source.snapshot_id, action="kms:Decrypt"
            )
        key_ref = kms_key_id or key_kept(tenant_id, source)
        kms_key_arn = (
            await self.disk_keys.customer_key(caller, tenant_id, key_ref, snapshot_id)
            if key_ref
            else None
        )
        host = await self._host_for_snapshot(source)
        source_key = await self.disk_keys.open_key(source)
        plain, wrapped = await self.disk_keys.new_key(
            tenant_id, kms_key_arn=kms_key_arn, resource_id=snapshot_id
        )
        snapshot = Snapshot(
            snapshot_id=snapshot_id,
            tenant_id=tenant_id,
            volume_id=COPIED_VOLUME_ID,
            volume_size_gib=source.volume_size_gib,
            state="completed",
            host=host,
            started_at=self.clock(),
            wrapped_key=wrapped,
            description=description,
            tags=tags,
            storage_domain=source.storage_domain or source.host,
            kms_key_arn=kms_key_arn,
        )
        driver = self._driver(host)
        await self._on_host(
            "copy the snapshot",
            driver.copy_snapshot(source.snapshot_id, bytes(source_key), snapshot_id, bytes(plain)),
        )
        try:
            await self.store.insert(snapshot)
        except BaseException:
            await driver.delete_snapshot(snapshot_id)
            raise
        return snapshot

    async def copy_image(
        self,
        tenant_id: str,
        source_image_id: str,
        *,
        source_region: str,
        name: str,
        description: str | None = None,
        kms_key_id: str | None = None,
        tags: Tags = (),
        snapshot_tags: Tags = (),
        copy_image_tags: bool = False,
        caller: object = None,
        client_token: str | None = None,
    ) -> Image:
        """CopyImage: a new image of the tenant's over a copy of the source's disk. Recorded
        ``pending`` before the copy (so that of two requests with one client token only one
        copies), ``available`` once the copy is made; removed if it fails."""
        self._check_source_region(source_region)
        self._check_image_name(name)
        check_tags(tags)
        check_tags(snapshot_tags)
        if description is not None and len(description) > NAME_MAX:
            raise InvalidParameterValue("The description is at most 255 characters")
        digest = ""
        if client_token is not None:
            check_client_token(client_token)
            image_id = token_id("ami", tenant_id, client_token)
            asked = {
                "source_image_id": source_image_id,
                "name": name,
                "description": description,
                "kms_key_id": kms_key_id,
                "tags": tags,
                "snapshot_tags": snapshot_tags,
                "copy_image_tags": copy_image_tags,
            }
            digest = request_digest(asked)
            earlier = await self._image_of_token(tenant_id, image_id, digest)
            if earlier is not None:
                return earlier
        else:
            image_id = new_id("ami")
        check_id(source_image_id, "ami")
        source = await self.store.get(Image, source_image_id)
        if (
            source is None
            or not source.visible_to(tenant_id)
            or source.state is ImageState.DEREGISTERED
        ):
            raise NotFound("ami", source_image_id)
        if source.state is not ImageState.AVAILABLE:
            raise IncorrectState(f"Image '{source.image_id}' is not available")
        await self._check_unique_image_name(tenant_id, name)
        # Only the tenant's own tags travel (EC2 copies no tags another account set, nor aws:).
        own_tags = source.tags if copy_image_tags and source.owner_id == tenant_id else ()
        image = Image(
            image_id=image_id,
            name=name,
            owner_id=tenant_id,
            state=ImageState.PENDING,
            disk_format="qcow2",
            size_bytes=source.virtual_size_gib * _GIB,
            virtual_size_gib=source.virtual_size_gib,
            sha256="",
            created_at=self.clock(),
            description=(
                description
                if description is not None
                else f"[Copied {source.image_id} from {source_region}] {source.name}"[:NAME_MAX]
            ),
            root_device_name=source.root_device_name,
            architecture=source.architecture,
            tags=merge_tags(own_tags, tags),
            client_token=client_token,
            request_digest=digest,
        )
        try:
            await self.store.insert(image)
        except Duplicate:
            if client_token is None:
                raise
            earlier = await self._image_of_token(tenant_id, image_id, digest)
            if earlier is None:
                raise
            return earlier
        try:
            snapshot = await self._copy_image_disk(
                tenant_id, source, image_id, kms_key_id, snapshot_tags, caller
            )
        except BaseException:
            await self.store.delete(Image, image_id)
            raise
        try:
            devices = await self._copy_image_devices(
                tenant_id, source, image_id, kms_key_id, snapshot_tags, caller
            )
        except BaseException:
            await self.delete_snapshot(tenant_id, snapshot.snapshot_id)
            await self.store.delete(Image, image_id)
            raise
        made = replace(
            image,
            state=ImageState.AVAILABLE,
            snapshot_id=snapshot.snapshot_id,
            root_delete_on_termination=source.root_delete_on_termination,
            block_devices=devices,
        )
        if not await self.store.replace(made):
            # Deregistered meanwhile: its snapshot stays the tenant's, to delete or reuse.
            raise NotFound("ami", image_id)
        return replace(made, revision=made.revision + 1)

    async def _image_of_token(self, tenant_id: str, image_id: str, digest: str) -> Image | None:
        earlier = await self.store.get(Image, image_id)
        if earlier is None or earlier.owner_id != tenant_id:
            return None
        if earlier.request_digest != digest:
            raise IdempotentParameterMismatch(
                "The client token was already used for an image with other parameters"
            )
        return earlier

    async def _copy_image_disk(
        self,
        tenant_id: str,
        source: Image,
        image_id: str,
        kms_key_id: str | None,
        tags: Tags,
        caller: object,
    ) -> Snapshot:
        """The new image's snapshot: a copy of the source's, or of its file."""
        snapshot_id = new_id("snap")
        if source.snapshot_id is not None:
            source_snapshot = await self._snapshot_record(source.snapshot_id)
            return await self._copy_snapshot(
                tenant_id,
                source_snapshot,
                snapshot_id,
                description=(
                    f"Copied for DestinationAmi {image_id} from SourceAmi {source.image_id} "
                    f"for SourceSnapshot {source_snapshot.snapshot_id}"
                ),
                kms_key_id=kms_key_id,
                tags=tags,
                caller=caller,
            )
        return await self._snapshot_of_file_image(
            tenant_id, source, image_id, snapshot_id, kms_key_id, tags, caller
        )

    async def _copy_image_devices(
        self,
        tenant_id: str,
        source: Image,
        image_id: str,
        kms_key_id: str | None,
        tags: Tags,
        caller: object,
    ) -> tuple[ImageBlockDevice, ...]:
        """The source's further devices (CreateImage, decision 0147), each snapshot copied as
        the root's is; a failure deletes the copies made."""
        devices: list[ImageBlockDevice] = []
        made: list[str] = []
        try:
            for device in source.block_devices:
                if device.snapshot_id is None:  # a blank volume at launch: nothing to copy
                    devices.append(device)
                    continue
                source_snapshot = await self._snapshot_record(device.snapshot_id)
                copy = await self._copy_snapshot(
                    tenant_id,
                    source_snapshot,
                    new_id("snap"),
                    description=(
                        f"Copied for DestinationAmi {image_id} from SourceAmi "
                        f"{source.image_id} for SourceSnapshot {source_snapshot.snapshot_id}"
                    ),
                    kms_key_id=kms_key_id,
                    tags=tags,
                    caller=caller,
                )
                made.append(copy.snapshot_id)
                devices.append(replace(device, snapshot_id=copy.snapshot_id))
        except BaseException:
            for snapshot_id in made:
                await self.delete_snapshot(tenant_id, snapshot_id)
            raise
        return tuple(devices)

    async def _snapshot_of_file_image(
        self,
        tenant_id: str,
        source: Image,
        image_id: str,
        snapshot_id: str,
        kms_key_id: str | None,
        tags: Tags,
        caller: object,
    ) -> Snapshot:
        """A snapshot of an image file: a transient volume over the host's verified copy of
        the file, under a throwaway key, snapshotted under the new snapshot's key, then
        removed. The volume is never recorded: nothing but this call uses it."""
        kms_key_arn = (
            await self.disk_keys.customer_key(caller, tenant_id, kms_key_id, snapshot_id)
            if kms_key_id
            else None
        )
        host = self._default_host()
        driver = self._driver(host)
        domain = storage_domain_of(await self._on_host("report its storage", driver.capacity()))
        await self._on_host("receive the image", self._ensure_image_on(driver, source))
        plain, wrapped = await self.disk_keys.new_key(
            tenant_id, kms_key_arn=kms_key_arn, resource_id=snapshot_id
        )
        transient_id, transient_key = new_id("vol"), secrets.token_bytes(32)
        backing = ImageBacking(source.image_id, source.disk_format, source.sha256)
        spec = VolumeSpec(transient_id, source.virtual_size_gib, transient_key, backing)
        await self._on_host("read the image", driver.create_volume(spec))
        try:
            await self._on_host(
                "copy the image",
                driver.snapshot_volume(transient_id, transient_key, snapshot_id, bytes(plain)),
            )
        finally:
            await self._on_host(
                "remove the image's transient volume", driver.delete_volume(transient_id)
            )
        snapshot = Snapshot(
            snapshot_id=snapshot_id,
            tenant_id=tenant_id,
            volume_id=COPIED_VOLUME_ID,
            volume_size_gib=source.virtual_size_gib,
            state="completed",
            host=host,
            started_at=self.clock(),
            wrapped_key=wrapped,
            description=(f"Copied for DestinationAmi {image_id} from SourceAmi {source.image_id}"),
            tags=tags,
            storage_domain=domain,
            kms_key_arn=kms_key_arn,
        )
        try:
            await self.store.insert(snapshot)
        except BaseException:
            await driver.delete_snapshot(snapshot_id)
            raise
        return snapshot
