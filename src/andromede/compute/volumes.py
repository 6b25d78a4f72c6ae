"""Volumes and snapshots: encrypted at rest, each with its own key, on its instance's host.

A snapshot can be opened by the hosts of its storage domain only (its own host with file
volumes, any host of the pool with RBD): a volume made from it is placed there
(:func:`~andromede.compute.scheduler.volume_host`)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from andromede.compute.driver import AttachedVolume, SnapshotBacking, VolumeSpec
from andromede.compute.errors import (
    AttachmentLimitExceeded,
    Duplicate,
    IdempotentParameterMismatch,
    IncorrectState,
    InsufficientCapacity,
    InvalidParameterValue,
    KeyAccessDenied,
    KeyUnusable,
    NotFound,
    OperationNotPermitted,
    ResourceInUse,
)
from andromede.compute.model import (
    MAX_VOLUME_GIB,
    Attachment,
    Image,
    ImageState,
    Instance,
    InstanceState,
    Snapshot,
    Tags,
    Volume,
    VolumeState,
    check_client_token,
    check_tags,
    new_id,
    request_digest,
    token_id,
)
from andromede.compute.scheduler import storage_domain_of, volume_host
from andromede.compute.service_core import NAME_MAX, ServiceCore

__all__ = ["MAX_VOLUME_GIB", "VolumesMixin", "key_kept"]

log = logging.getLogger(__name__)


def key_kept(tenant_id: str, snapshot: Snapshot | None) -> str | None:
    """The KMS key a copy of ``snapshot`` made for ``tenant_id`` stays under when none is named:
    the snapshot's own key when the snapshot is the tenant's. Another account's snapshot (of an
    image it shares, decision 0147) lends no key: the copy is sealed under the tenant's own key,
    as EC2 re-encrypts a shared snapshot under the launching account's default key."""
    if snapshot is None or snapshot.tenant_id != tenant_id:
        return None
    return snapshot.kms_key_arn


class VolumesMixin(ServiceCore):
    async def _may_read_shared(self, caller: object, tenant_id: str, snapshot: Snapshot) -> None:
        """Before another account's snapshot under a customer-managed key is read for
        ``tenant_id`` (a launch or CopyImage of an image it shares): ``caller`` must be allowed
        ``kms:Decrypt`` on that key, as the KMS service decides for a caller of another account
        (the key's policy naming the account and its IAM policies, or a grant), and the key
        must be usable; the use is audited in both accounts' trails. The refusal names
        neither the key nor its account: KeyAccessDenied, KeyUnusable."""
        if snapshot.tenant_id == tenant_id or snapshot.kms_key_arn is None:
            return
        try:
            await self.disk_keys.customer_key(
                caller, tenant_id, snapshot.kms_key_arn, snapshot.snapshot_id, action="kms:Decrypt"
            )
        except KeyUnusable:
            raise KeyUnusable(
                f"The KMS key of the snapshot {snapshot.snapshot_id} is in an incorrect state"
            ) from None
        except (KeyAccessDenied, InvalidParameterValue):
            # Not found is how KMS refuses a caller of another account: a refusal all the same.
            raise KeyAccessDenied(
                f"The account may not use the KMS key of the snapshot {snapshot.snapshot_id}"
            ) from None

    # -- volumes -----------------------------------------------------------------------------

    async def create_volume(
        self,
        tenant_id: str,
        *,
        size_gib: int | None,
        snapshot_id: str | None,
        availability_zone: str,
        tags: Tags = (),
        kms_key_id: str | None = None,
        caller: object = None,
        client_token: str | None = None,
    ) -> Volume:
        """A new volume, blank or a copy of a snapshot, under the tenant's key or the KMS key
        ``kms_key_id`` names (a copy of a snapshot under a KMS key stays under it unless
        another is named), which ``caller`` must be allowed to use.

        With a client token, at most once per account and token: the volume's id is derived
        from them, and its record is written ("creating") before the host makes its disk, so
        that of two requests racing with one token only the one whose record was written
        touches the host, and the other answers with that volume."""
        digest = ""
        if client_token is not None:
            check_client_token(client_token)
            volume_id = token_id("vol", tenant_id, client_token)
            asked = {
                "size_gib": size_gib,
                "snapshot_id": snapshot_id,
                "availability_zone": availability_zone,
                "tags": tags,
                "kms_key_id": kms_key_id,
            }
            digest = request_digest(asked)
            earlier = await self._volume_of_token(tenant_id, volume_id, digest)
            if earlier is not None:
                return earlier
        else:
            volume_id = new_id("vol")
        if availability_zone != self.limits.availability_zone:
            raise InvalidParameterValue(f"Invalid availability zone: [{availability_zone[:64]}]")
        check_tags(tags)
        snapshot = (
            await self._owned(Snapshot, tenant_id, snapshot_id, "snap") if snapshot_id else None
        )
        if snapshot is not None and snapshot.state != "completed":
            raise IncorrectState(f"Snapshot '{snapshot.snapshot_id}' is not completed")
        size = size_gib if size_gib is not None else (snapshot.volume_size_gib if snapshot else 0)
        if not 1 <= size <= MAX_VOLUME_GIB or (snapshot and size < snapshot.volume_size_gib):
            raise InvalidParameterValue(f"Invalid volume size: {size}")
        host = await self._host_for_snapshot(snapshot) if snapshot else self._default_host()
        kms_key_ref = kms_key_id or (snapshot.kms_key_arn if snapshot else None)
        kms_key_arn = (
            await self.disk_keys.customer_key(caller, tenant_id, kms_key_ref, volume_id)
            if kms_key_ref
            else None
        )
        plain, wrapped = await self.disk_keys.new_key(
            tenant_id, kms_key_arn=kms_key_arn, resource_id=volume_id
        )
        volume = Volume(
            volume_id=volume_id,
            tenant_id=tenant_id,
            size_gib=size,
            availability_zone=availability_zone,
            state=VolumeState.CREATING,
            host=host,
            created_at=self.clock(),
            wrapped_key=wrapped,
            snapshot_id=snapshot.snapshot_id if snapshot else None,
            tags=tags,
            kms_key_arn=kms_key_arn,
            client_token=client_token,
            request_digest=digest,
        )
        try:
            await self.store.insert(volume)
        except Duplicate:
            if client_token is None:
                raise
            # The same request, come another way first: its volume is the answer.
            earlier = await self._volume_of_token(tenant_id, volume_id, digest)
            if earlier is None:
                raise
            return earlier
        driver = self._driver(host)
        spec = VolumeSpec(volume.volume_id, size, bytes(plain))
        try:
            if snapshot is not None:
                snapshot_key = await self.disk_keys.open_key(snapshot)
                backing = SnapshotBacking(snapshot.snapshot_id, bytes(snapshot_key))
                spec = VolumeSpec(volume.volume_id, size, bytes(plain), backing)
            await self._on_host("create the volume", driver.create_volume(spec))
        except BaseException:
            await self.store.delete(Volume, volume_id)
            raise
        return await self._made(volume)

    async def _volume_of_token(self, tenant_id: str, volume_id: str, digest: str) -> Volume | None:
        """The volume an earlier CreateVolume with this client token made (None: none);
        IdempotentParameterMismatch when that request asked for something else."""
        earlier = await self.store.get(Volume, volume_id)
        if earlier is None or earlier.tenant_id != tenant_id:
            return None
        if earlier.request_digest != digest:
            raise IdempotentParameterMismatch(
                "The client token was already used for a volume with other parameters"
            )
        return earlier

    async def _made(self, volume: Volume) -> Volume:
        """Record the volume ``available`` now that its host made it (read again if it was
        tagged meanwhile). Deleted meanwhile — DeleteVolume takes a volume being created, so
        that one whose gateway stopped half-way can go — its disk is removed here too, since
        the deletion may have reached the host before the disk did, and the deletion stands."""
        current: Volume | None = volume
        while current is not None and current.state is VolumeState.CREATING:
            made = replace(current, state=VolumeState.AVAILABLE)
            if await self.store.replace(made):
                return replace(made, revision=made.revision + 1)
            current = await self.store.get(Volume, volume.volume_id)
        await self._driver(volume.host).delete_volume(volume.volume_id)
        raise NotFound("vol", volume.volume_id)

    async def _host_for_snapshot(self, snapshot: Snapshot) -> str:
        """A host that opens the snapshot: its own when it can, else one of its domain."""
        domain = snapshot.storage_domain or snapshot.host
        capacities = await self._answering_capacities()
        host = volume_host(capacities, domain, preferred=snapshot.host)
        if host is None:
            raise InsufficientCapacity(
                f"No host can open the snapshot {snapshot.snapshot_id} at the moment"
            )
        return host

    async def describe_volumes(self, tenant_id: str, ids: Sequence[str]) -> list[Volume]:
        if ids:
            return [await self._owned(Volume, tenant_id, i, "vol") for i in dict.fromkeys(ids)]
        return await self.store.list(Volume, tenant_id)

    async def delete_volume(self, tenant_id: str, volume_id: str) -> None:
        volume = await self._owned(Volume, tenant_id, volume_id, "vol")
        # A deletion the host failed half-way (state "deleting") may be asked again, and a
        # volume whose creation was cut short (its gateway stopped) may be deleted.
        if volume.state not in (VolumeState.AVAILABLE, VolumeState.DELETING, VolumeState.CREATING):
            raise ResourceInUse(
                "vol",
                f"Volume {volume_id} is currently attached to "
                f"{volume.attachment.instance_id if volume.attachment else '?'}",
            )
        if volume.state is not VolumeState.DELETING:
            await self._update(volume, state=VolumeState.DELETING)
        driver = self._driver(volume.host)
        await self._on_host("delete the volume", driver.delete_volume(volume_id))
        await self.store.delete(Volume, volume_id)

    async def attach_volume(
        self, tenant_id: str, volume_id: str, instance_id: str, device: str
    ) -> Volume:
        volume = await self._owned(Volume, tenant_id, volume_id, "vol")
        instance = await self._owned(Instance, tenant_id, instance_id, "i")
        if volume.state is not VolumeState.AVAILABLE:
            raise ResourceInUse("vol", f"vol '{volume_id}' is already attached to an instance")
        if instance.state not in (InstanceState.RUNNING, InstanceState.STOPPED):
            raise IncorrectState(f"Instance '{instance_id}' is not 'running' or 'stopped'.")
        if volume.host != instance.host:
            raise InvalidParameterValue(f"Volume {volume_id} is not on the host of {instance_id}")
        if not device.startswith("/dev/") or len(device) > 32:
            raise InvalidParameterValue(f"Value ({device[:32]}) for parameter device is invalid.")
        on_instance = [
            other.attachment
            for other in await self.store.list(Volume, tenant_id)
            if other.attachment is not None and other.attachment.instance_id == instance_id
        ]
        if any(attached.device == device for attached in on_instance):
            raise InvalidParameterValue(f"Attachment point {device} is already in use")
        if len(on_instance) >= self.limits.max_volumes_per_instance:
            raise AttachmentLimitExceeded(
                f"The instance {instance_id} has the {self.limits.max_volumes_per_instance} "
                "volumes an instance takes here"
            )
        if instance.state is InstanceState.RUNNING:
            key = await self.disk_keys.open_key(volume)
            plugged = AttachedVolume(volume_id, device, bytes(key))
            driver = self._driver(instance.host)
            await self._on_host("attach the volume", driver.attach_volume(instance_id, plugged))
        return await self._update(
            volume,
            state=VolumeState.IN_USE,
            attachment=Attachment(instance_id, device, self.clock()),
        )

    async def detach_volume(
        self, tenant_id: str, volume_id: str, instance_id: str | None
    ) -> tuple[Volume, Attachment]:
        volume = await self._owned(Volume, tenant_id, volume_id, "vol")
        attachment = volume.attachment
        if attachment is None or (instance_id and attachment.instance_id != instance_id):
            raise IncorrectState(f"Volume '{volume_id}' is in the 'available' state.")
        instance = await self._owned(Instance, tenant_id, attachment.instance_id, "i")
        if instance.root_volume_id == volume_id:
            raise OperationNotPermitted(
                f"The volume {volume_id} is the root device of {instance.instance_id}"
            )
        if instance.state is InstanceState.RUNNING:
            driver = self._driver(instance.host)
            await self._on_host(
                "detach the volume", driver.detach_volume(instance.instance_id, volume_id)
            )
        detached = await self._update(volume, state=VolumeState.AVAILABLE, attachment=None)
        return detached, attachment

    # -- snapshots ---------------------------------------------------------------------------

    async def create_snapshot(
        self,
        tenant_id: str,
        volume_id: str,
        description: str = "",
        tags: Tags = (),
        *,
        snapshot_id: str | None = None,
    ) -> Snapshot:
        """A completed snapshot of the volume, under the volume's key (``snapshot_id``: the id
        CreateImage chose for it when it recorded its image)."""
        volume = await self._owned(Volume, tenant_id, volume_id, "vol")
        check_tags(tags)
        if len(description) > NAME_MAX:
            raise InvalidParameterValue("The description is at most 255 characters")
        driver = self._driver(volume.host)
        domain = storage_domain_of(await self._on_host("report its storage", driver.capacity()))
        key = await self.disk_keys.open_key(volume)
        # Under the volume's KMS key, as on EBS: who can no longer use the key can no longer
        # restore its snapshots either.
        snapshot_id = snapshot_id or new_id("snap")
        snapshot_key, wrapped = await self.disk_keys.new_key(
            tenant_id, kms_key_arn=volume.kms_key_arn, resource_id=snapshot_id
        )
        snapshot = Snapshot(
            snapshot_id=snapshot_id,
            tenant_id=tenant_id,
            volume_id=volume_id,
            volume_size_gib=volume.size_gib,
            state="completed",
            host=volume.host,
            started_at=self.clock(),
            wrapped_key=wrapped,
            description=description,
            tags=tags,
            storage_domain=domain,
            kms_key_arn=volume.kms_key_arn,
        )
        await self._on_host(
            "snapshot the volume",
            driver.snapshot_volume(
                volume_id, bytes(key), snapshot.snapshot_id, bytes(snapshot_key)
            ),
        )
        try:
            await self.store.insert(snapshot)
        except BaseException:
            await driver.delete_snapshot(snapshot.snapshot_id)
            raise
        return snapshot

    async def describe_snapshots(self, tenant_id: str, ids: Sequence[str]) -> list[Snapshot]:
        if ids:
            return [await self._owned(Snapshot, tenant_id, i, "snap") for i in dict.fromkeys(ids)]
        return await self.store.list(Snapshot, tenant_id)

    async def delete_snapshot(self, tenant_id: str, snapshot_id: str) -> None:
        snapshot = await self._owned(Snapshot, tenant_id, snapshot_id, "snap")
        # Volumes made from it, and images registered from it, read it as their backing file.
        # Every account's: an image shared with another (decision 0147) gives it volumes
        # over the owner's snapshots, whose ids are not told to the owner.
        for volume in await self.store.list(Volume, None):
            if volume.snapshot_id == snapshot_id:
                user = volume.volume_id if volume.tenant_id == tenant_id else "a volume"
                raise ResourceInUse("snap", f"The snapshot {snapshot_id} is in use by {user}")
        for image in await self.store.list(Image, tenant_id):
            if snapshot_id in image.snapshot_ids and image.state is not ImageState.DEREGISTERED:
                raise ResourceInUse(
                    "snap", f"The snapshot {snapshot_id} is currently in use by {image.image_id}"
                )
        driver = self._driver(snapshot.host)
        await self._on_host("delete the snapshot", driver.delete_snapshot(snapshot_id))
        await self.store.delete(Snapshot, snapshot_id)
