"""The compute service's resources besides instances: volumes, snapshots, images (and their
import), key pairs, security groups and tags. :class:`ResourceService` is the base of
:class:`andromede.compute.service.ComputeService` (the context's one public entry), split off to
keep each module readable; it also holds what both halves share (the store, the drivers, the
disk keys, the limits).

Two ports come from the composition root: :class:`DiskKeys` (a data key per volume, wrapped
under the tenant's key by the key service; compute stores only the wrapped form) and
:class:`ImageSource` (an object of one of the tenant's buckets, read as the caller).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from andromede.compute import keypairs
from andromede.compute.driver import AttachedVolume, HypervisorDriver, VolumeSpec
from andromede.compute.errors import (
    ComputeError,
    Duplicate,
    ImportFailed,
    IncorrectState,
    InvalidParameterValue,
    NotFound,
    OperationNotPermitted,
    ResourceInUse,
)
from andromede.compute.images import ImageFiles
from andromede.compute.model import (
    Attachment,
    Image,
    ImageState,
    ImportTask,
    Instance,
    InstanceState,
    InstanceType,
    KeyPair,
    Rule,
    SecurityGroup,
    Snapshot,
    Tags,
    Volume,
    VolumeState,
    check_id,
    check_tags,
    merge_tags,
    new_id,
    remove_tags,
)
from andromede.compute.store import ComputeStore, Record, RecordT

__all__ = ["ComputeLimits", "DiskKeys", "ImageSource", "ResourceService", "TagEntry"]

log = logging.getLogger(__name__)

_MAX_VOLUME_GIB = 16384  # EC2's gp3 limit
_NAME_MAX = 255


class DiskKeys(Protocol):
    """Data keys of volumes, wrapped under the tenant's key-encryption key."""

    async def new_key(self, tenant_id: str) -> tuple[bytes, bytes]:
        """A fresh key: (plaintext, wrapped)."""
        ...

    async def open_key(self, tenant_id: str, wrapped: bytes) -> bytes: ...


class ImageSource(Protocol):
    """An object of a tenant's bucket, read on behalf of ``caller`` (the app's principal; opaque
    here). Raises :class:`ImportFailed` when it cannot be read (missing, denied)."""

    def read(self, caller: object, bucket: str, key: str) -> AsyncIterator[bytes]: ...


@dataclass(frozen=True, slots=True)
class ComputeLimits:
    instance_types: tuple[InstanceType, ...]
    max_instances_per_tenant: int
    max_vcpus_per_tenant: int
    max_user_data_size: int
    stop_timeout: float
    region: str
    availability_zone: str
    max_image_size: int
    terminated_retention: float = 3600.0


@dataclass(frozen=True, slots=True)
class TagEntry:
    resource_id: str
    resource_type: str
    key: str
    value: str


_KINDS: dict[str, type[Any]] = {
    "i": Instance,
    "vol": Volume,
    "snap": Snapshot,
    "ami": Image,
    "sg": SecurityGroup,
    "key": KeyPair,
    "import-ami": ImportTask,
}
RESOURCE_TYPES = {
    "i": "instance",
    "vol": "volume",
    "snap": "snapshot",
    "ami": "image",
    "sg": "security-group",
    "key": "key-pair",
    "import-ami": "import-image-task",
}


def _prefix(resource_id: str) -> str:
    return "import-ami" if resource_id.startswith("import-ami-") else resource_id.split("-", 1)[0]


def utc_now() -> datetime:
    return datetime.now(UTC)


class ResourceService:
    def __init__(
        self,
        store: ComputeStore,
        drivers: Sequence[HypervisorDriver],
        disk_keys: DiskKeys,
        limits: ComputeLimits,
        images: ImageFiles,
        image_source: ImageSource | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.drivers = {driver.host: driver for driver in drivers}
        self.disk_keys = disk_keys
        self.limits = limits
        self.images = images
        self.image_source = image_source
        self.clock = clock
        self._types = {t.name: t for t in limits.instance_types}
        self._placement = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- shared helpers ----------------------------------------------------------------------

    def instance_type(self, name: str) -> InstanceType:
        found = self._types.get(name)
        if found is None:
            raise InvalidParameterValue(f"Invalid value '{name[:64]}' for InstanceType.")
        return found

    def instance_types(self, names: Sequence[str]) -> list[InstanceType]:
        if not names:
            return list(self.limits.instance_types)
        return [self.instance_type(name) for name in dict.fromkeys(names)]

    async def _owned(
        self, kind: type[RecordT], tenant_id: str, resource_id: str, prefix: str
    ) -> RecordT:
        """The tenant's record, or NotFound — also for another tenant's (never say it exists)."""
        check_id(resource_id, prefix)
        record = await self.store.get(kind, resource_id)
        if record is None or record.tenant_id != tenant_id:
            raise NotFound(prefix, resource_id)
        if isinstance(record, Image) and record.state is ImageState.DEREGISTERED:
            raise NotFound(prefix, resource_id)
        return record

    async def _update(self, record: RecordT, **changes: Any) -> RecordT:
        """``record`` with ``changes``, written if nobody changed it since it was read;
        IncorrectState otherwise (the caller may retry with a fresh read)."""
        changed = replace(record, **changes)
        if not await self.store.replace(changed):
            raise IncorrectState(f"{record.resource_id} changed concurrently; retry")
        return replace(changed, revision=changed.revision + 1)

    async def _snapshot_record(self, snapshot_id: str) -> Snapshot:
        snapshot = await self.store.get(Snapshot, snapshot_id)
        if snapshot is None:
            raise NotFound("snap", snapshot_id)
        return snapshot

    def _driver(self, host: str) -> HypervisorDriver:
        driver = self.drivers.get(host)
        if driver is None:
            raise ComputeError(f"host {host} is not driven by this gateway")
        return driver

    def _default_host(self) -> str:
        if not self.drivers:
            raise ComputeError("no hypervisor host is configured")
        return next(iter(self.drivers))

    # -- volumes -----------------------------------------------------------------------------

    async def create_volume(
        self,
        tenant_id: str,
        *,
        size_gib: int | None,
        snapshot_id: str | None,
        availability_zone: str,
        tags: Tags = (),
    ) -> Volume:
        if availability_zone != self.limits.availability_zone:
            raise InvalidParameterValue(f"Invalid availability zone: [{availability_zone[:64]}]")
        check_tags(tags)
        snapshot = (
            await self._owned(Snapshot, tenant_id, snapshot_id, "snap") if snapshot_id else None
        )
        if snapshot is not None and snapshot.state != "completed":
            raise IncorrectState(f"Snapshot '{snapshot.snapshot_id}' is not completed")
        size = size_gib if size_gib is not None else (snapshot.volume_size_gib if snapshot else 0)
        if not 1 <= size <= _MAX_VOLUME_GIB or (snapshot and size < snapshot.volume_size_gib):
            raise InvalidParameterValue(f"Invalid volume size: {size}")
        host = snapshot.host if snapshot else self._default_host()
        plain, wrapped = await self.disk_keys.new_key(tenant_id)
        volume = Volume(
            volume_id=new_id("vol"),
            tenant_id=tenant_id,
            size_gib=size,
            availability_zone=availability_zone,
            state=VolumeState.AVAILABLE,
            host=host,
            created_at=self.clock(),
            wrapped_key=wrapped,
            snapshot_id=snapshot.snapshot_id if snapshot else None,
            tags=tags,
        )
        driver = self._driver(host)
        spec = VolumeSpec(volume.volume_id, size, bytes(plain))
        if snapshot is not None:
            snapshot_key = await self.disk_keys.open_key(tenant_id, snapshot.wrapped_key)
            spec = VolumeSpec(
                volume.volume_id,
                size,
                bytes(plain),
                driver.snapshot_path(snapshot.snapshot_id),
                "qcow2",
                bytes(snapshot_key),
            )
        await driver.create_volume(spec)
        try:
            await self.store.insert(volume)
        except BaseException:
            await driver.delete_volume(volume.volume_id)
            raise
        return volume

    async def describe_volumes(self, tenant_id: str, ids: Sequence[str]) -> list[Volume]:
        if ids:
            return [await self._owned(Volume, tenant_id, i, "vol") for i in dict.fromkeys(ids)]
        return await self.store.list(Volume, tenant_id)

    async def delete_volume(self, tenant_id: str, volume_id: str) -> None:
        volume = await self._owned(Volume, tenant_id, volume_id, "vol")
        if volume.state is not VolumeState.AVAILABLE:
            raise ResourceInUse(
                "vol",
                f"Volume {volume_id} is currently attached to "
                f"{volume.attachment.instance_id if volume.attachment else '?'}",
            )
        await self._update(volume, state=VolumeState.DELETING)
        await self._driver(volume.host).delete_volume(volume_id)
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
        for other in await self.store.list(Volume, tenant_id):
            attached = other.attachment
            if attached and attached.instance_id == instance_id and attached.device == device:
                raise InvalidParameterValue(f"Attachment point {device} is already in use")
        if instance.state is InstanceState.RUNNING:
            key = await self.disk_keys.open_key(tenant_id, volume.wrapped_key)
            await self._driver(instance.host).attach_volume(
                instance_id, AttachedVolume(volume_id, device, bytes(key))
            )
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
            await self._driver(instance.host).detach_volume(instance.instance_id, volume_id)
        detached = await self._update(volume, state=VolumeState.AVAILABLE, attachment=None)
        return detached, attachment

    # -- snapshots ---------------------------------------------------------------------------

    async def create_snapshot(
        self, tenant_id: str, volume_id: str, description: str = "", tags: Tags = ()
    ) -> Snapshot:
        volume = await self._owned(Volume, tenant_id, volume_id, "vol")
        check_tags(tags)
        if len(description) > _NAME_MAX:
            raise InvalidParameterValue("The description is at most 255 characters")
        key = await self.disk_keys.open_key(tenant_id, volume.wrapped_key)
        snapshot_key, wrapped = await self.disk_keys.new_key(tenant_id)
        snapshot = Snapshot(
            snapshot_id=new_id("snap"),
            tenant_id=tenant_id,
            volume_id=volume_id,
            volume_size_gib=volume.size_gib,
            state="completed",
            host=volume.host,
            started_at=self.clock(),
            wrapped_key=wrapped,
            description=description,
            tags=tags,
        )
        driver = self._driver(volume.host)
        await driver.snapshot_volume(
            volume_id, bytes(key), snapshot.snapshot_id, bytes(snapshot_key)
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
        for volume in await self.store.list(Volume, tenant_id):
            if volume.snapshot_id == snapshot_id:
                raise ResourceInUse(
                    "snap", f"The snapshot {snapshot_id} is in use by {volume.volume_id}"
                )
        for image in await self.store.list(Image, tenant_id):
            if image.snapshot_id == snapshot_id and image.state is not ImageState.DEREGISTERED:
                raise ResourceInUse(
                    "snap", f"The snapshot {snapshot_id} is currently in use by {image.image_id}"
                )
        await self._driver(snapshot.host).delete_snapshot(snapshot_id)
        await self.store.delete(Snapshot, snapshot_id)

    # -- images ------------------------------------------------------------------------------

    async def describe_images(
        self, tenant_id: str, ids: Sequence[str], *, owners: Sequence[str] = ()
    ) -> list[Image]:
        if ids:
            found = []
            for image_id in dict.fromkeys(ids):
                check_id(image_id, "ami")
                image = await self.store.get(Image, image_id)
                if (
                    image is None
                    or not image.visible_to(tenant_id)
                    or image.state is ImageState.DEREGISTERED
                ):
                    raise NotFound("ami", image_id)
                found.append(image)
        else:
            found = [
                i
                for i in await self.store.list(Image, tenant_id)
                if i.state is not ImageState.DEREGISTERED
            ]
        if owners:
            wanted = {tenant_id if o == "self" else o for o in owners}
            found = [
                i
                for i in found
                if (i.owner_id or "andromede") in wanted or ("amazon" in wanted and i.public)
            ]
        return found

    async def register_image(
        self,
        tenant_id: str,
        *,
        name: str,
        description: str,
        root_snapshot_id: str,
        root_device_name: str,
    ) -> Image:
        self._check_image_name(name)
        snapshot = await self._owned(Snapshot, tenant_id, root_snapshot_id, "snap")
        for image in await self.store.list(Image, tenant_id):
            if (
                image.owner_id == tenant_id
                and image.name == name
                and image.state is not ImageState.DEREGISTERED
            ):
                raise Duplicate("ami-name", name)
        image = Image(
            image_id=new_id("ami"),
            name=name,
            owner_id=tenant_id,
            state=ImageState.AVAILABLE,
            disk_format="qcow2",
            size_bytes=snapshot.volume_size_gib * 1024**3,
            virtual_size_gib=snapshot.volume_size_gib,
            sha256="",
            created_at=self.clock(),
            description=description,
            snapshot_id=snapshot.snapshot_id,
            root_device_name=root_device_name or "/dev/xvda",
        )
        await self.store.insert(image)
        return image

    @staticmethod
    def _check_image_name(name: str) -> None:
        if not 3 <= len(name) <= 128:
            raise InvalidParameterValue("AMI names must be between 3 and 128 characters long")

    async def deregister_image(self, tenant_id: str, image_id: str) -> None:
        image = await self._owned(Image, tenant_id, image_id, "ami")
        await self._update(image, state=ImageState.DEREGISTERED)
        await self._forget_unused_image(image_id)

    async def _forget_unused_image(self, image_id: str) -> None:
        """Remove a deregistered image's record and file once no volume is backed by it."""
        image = await self.store.get(Image, image_id)
        if image is None or image.state is not ImageState.DEREGISTERED:
            return
        if any(v.image_id == image_id for v in await self.store.list(Volume, None)):
            return
        if image.path:
            await asyncio.to_thread(self.images.remove, image.path)
        await self.store.delete(Image, image_id)

    async def import_image_file(
        self, path: Path, *, name: str, owner_id: str | None, description: str = ""
    ) -> Image:
        """The operator's import of a local qcow2 or raw file (public when ``owner_id`` is
        None)."""
        self._check_image_name(name)
        image_id = new_id("ami")
        stored = await self.images.store_local(image_id, path)
        image = Image(
            image_id=image_id,
            name=name,
            owner_id=owner_id,
            state=ImageState.AVAILABLE,
            disk_format=stored.disk_format,
            size_bytes=stored.size_bytes,
            virtual_size_gib=stored.virtual_size_gib,
            sha256=stored.sha256,
            created_at=self.clock(),
            description=description,
            path=str(stored.path),
        )
        await self.store.insert(image)
        return image

    async def import_image(
        self,
        tenant_id: str,
        caller: object,
        *,
        bucket: str,
        key: str,
        description: str = "",
        tags: Tags = (),
    ) -> ImportTask:
        """ImportImage: a task that copies the object into a private image, in the
        background."""
        if self.image_source is None:
            raise OperationNotPermitted("Image import is not available on this endpoint")
        if not bucket or not key:
            raise InvalidParameterValue("DiskContainer.UserBucket needs S3Bucket and S3Key")
        check_tags(tags)
        task = ImportTask(
            task_id=new_id("import-ami"),
            tenant_id=tenant_id,
            bucket=bucket,
            key=key,
            status="active",
            status_message="pending",
            created_at=self.clock(),
            description=description[:_NAME_MAX],
            tags=tags,
        )
        await self.store.insert(task)
        self._spawn(self._run_import(task, caller))
        return task

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_import(self, task: ImportTask, caller: object) -> None:
        if self.image_source is None:
            return
        image_id = new_id("ami")
        try:
            stored = await self.images.store(
                image_id, self.image_source.read(caller, task.bucket, task.key)
            )
        except ImportFailed as exc:
            await self._update(task, status="deleted", status_message=f"ClientError: {exc}")
            return
        except Exception:
            log.exception("import task %s failed", task.task_id)
            await self._update(task, status="deleted", status_message="ServerError")
            return
        image = Image(
            image_id=image_id,
            name=f"{task.task_id}",
            owner_id=task.tenant_id,
            state=ImageState.AVAILABLE,
            disk_format=stored.disk_format,
            size_bytes=stored.size_bytes,
            virtual_size_gib=stored.virtual_size_gib,
            sha256=stored.sha256,
            created_at=self.clock(),
            description=task.description,
            path=str(stored.path),
        )
        await self.store.insert(image)
        await self._update(
            task,
            status="completed",
            status_message="",
            image_id=image_id,
            disk_format=stored.disk_format,
            size_bytes=stored.size_bytes,
        )

    async def describe_import_tasks(self, tenant_id: str, ids: Sequence[str]) -> list[ImportTask]:
        if ids:
            return [
                await self._owned(ImportTask, tenant_id, i, "import-ami")
                for i in dict.fromkeys(ids)
            ]
        return await self.store.list(ImportTask, tenant_id)

    # -- key pairs ---------------------------------------------------------------------------

    async def create_key_pair(
        self, tenant_id: str, name: str, key_type: str = "rsa", tags: Tags = ()
    ) -> tuple[KeyPair, str]:
        """The new key pair and its private key (returned this once, never stored)."""
        generated = keypairs.generate(key_type)
        key_pair = await self._add_key_pair(
            tenant_id, name, generated.key_type, generated.fingerprint, generated.public_key, tags
        )
        return key_pair, generated.private_key

    async def import_key_pair(
        self, tenant_id: str, name: str, material: bytes, tags: Tags = ()
    ) -> KeyPair:
        imported = keypairs.import_public_key(material)
        return await self._add_key_pair(
            tenant_id, name, imported.key_type, imported.fingerprint, imported.public_key, tags
        )

    async def _add_key_pair(
        self,
        tenant_id: str,
        name: str,
        key_type: str,
        fingerprint: str,
        public_key: str,
        tags: Tags,
    ) -> KeyPair:
        if not 1 <= len(name) <= _NAME_MAX:
            raise InvalidParameterValue("Key pair names are 1 to 255 characters")
        check_tags(tags)
        async with self._placement:  # names are unique per tenant
            if any(k.name == name for k in await self.store.list(KeyPair, tenant_id)):
                raise Duplicate("keyname", name)
            key_pair = KeyPair(
                new_id("key"),
                tenant_id,
                name,
                key_type,
                fingerprint,
                public_key,
                self.clock(),
                tags,
            )
            await self.store.insert(key_pair)
        return key_pair

    async def describe_key_pairs(
        self, tenant_id: str, names: Sequence[str], ids: Sequence[str]
    ) -> list[KeyPair]:
        mine = await self.store.list(KeyPair, tenant_id)
        for name in names:
            if not any(k.name == name for k in mine):
                raise NotFound("keyname", name)
        for key_id in ids:
            check_id(key_id, "key")
            if not any(k.key_pair_id == key_id for k in mine):
                raise NotFound("key", key_id)
        if names or ids:
            return [k for k in mine if k.name in names or k.key_pair_id in ids]
        return mine

    async def delete_key_pair(
        self, tenant_id: str, *, name: str | None, key_pair_id: str | None
    ) -> None:
        """Idempotent by name, as EC2's DeleteKeyPair; an unknown id is NotFound."""
        if key_pair_id is not None:
            await self._owned(KeyPair, tenant_id, key_pair_id, "key")
        for key_pair in await self.store.list(KeyPair, tenant_id):
            if key_pair.name == name or key_pair.key_pair_id == key_pair_id:
                await self.store.delete(KeyPair, key_pair.key_pair_id)

    # -- security groups ---------------------------------------------------------------------

    async def create_security_group(
        self, tenant_id: str, name: str, description: str, tags: Tags = ()
    ) -> SecurityGroup:
        if not 1 <= len(name) <= _NAME_MAX or name.startswith("sg-"):
            raise InvalidParameterValue(f"Invalid security group name '{name[:64]}'")
        if not 1 <= len(description) <= _NAME_MAX:
            raise InvalidParameterValue("The group description is 1 to 255 characters")
        check_tags(tags)
        async with self._placement:
            if any(g.name == name for g in await self.store.list(SecurityGroup, tenant_id)):
                raise Duplicate("groupname", name)
            group = SecurityGroup(new_id("sg"), tenant_id, name, description, tags=tags)
            await self.store.insert(group)
        return group

    async def describe_security_groups(
        self, tenant_id: str, ids: Sequence[str], names: Sequence[str]
    ) -> list[SecurityGroup]:
        mine = await self.store.list(SecurityGroup, tenant_id)
        for group_id in ids:
            check_id(group_id, "sg")
            if not any(g.group_id == group_id for g in mine):
                raise NotFound("sg", group_id)
        for name in names:
            if not any(g.name == name for g in mine):
                raise NotFound("groupname", name)
        if ids or names:
            return [g for g in mine if g.group_id in ids or g.name in names]
        return mine

    async def security_group(
        self, tenant_id: str, *, group_id: str | None, name: str | None
    ) -> SecurityGroup:
        if group_id:
            return await self._owned(SecurityGroup, tenant_id, group_id, "sg")
        for group in await self.store.list(SecurityGroup, tenant_id):
            if group.name == name:
                return group
        raise NotFound("groupname", name or "")

    async def delete_security_group(
        self, tenant_id: str, *, group_id: str | None, name: str | None
    ) -> SecurityGroup:
        group = await self.security_group(tenant_id, group_id=group_id, name=name)
        for instance in await self.store.list(Instance, tenant_id):
            if (
                instance.state is not InstanceState.TERMINATED
                and group.group_id in instance.security_group_ids
            ):
                raise ResourceInUse("sg", f"resource {group.group_id} has a dependent object")
        await self.store.delete(SecurityGroup, group.group_id)
        return group

    async def authorize(
        self, tenant_id: str, group_id: str, rules: Sequence[Rule], *, ingress: bool
    ) -> SecurityGroup:
        for _ in range(10):
            group = await self._owned(SecurityGroup, tenant_id, group_id, "sg")
            current = group.ingress if ingress else group.egress
            for rule in rules:
                if any(rule.same_permission(existing) for existing in current):
                    raise Duplicate("permission", _describe_rule(rule, group_id))
            field = "ingress" if ingress else "egress"
            try:
                return await self._update(group, **{field: (*current, *rules)})
            except IncorrectState:
                continue
        raise IncorrectState(f"{group_id} changed concurrently; retry")

    async def revoke(
        self, tenant_id: str, group_id: str, rules: Sequence[Rule], *, ingress: bool
    ) -> SecurityGroup:
        for _ in range(10):
            group = await self._owned(SecurityGroup, tenant_id, group_id, "sg")
            current = group.ingress if ingress else group.egress
            for rule in rules:
                if not any(rule.same_permission(existing) for existing in current):
                    raise NotFound("permission", _describe_rule(rule, group_id))
            kept = tuple(r for r in current if not any(r.same_permission(x) for x in rules))
            try:
                return await self._update(group, **{"ingress" if ingress else "egress": kept})
            except IncorrectState:
                continue
        raise IncorrectState(f"{group_id} changed concurrently; retry")

    # -- tags --------------------------------------------------------------------------------

    async def _taggable(self, tenant_id: str, resource_id: str) -> Record:
        prefix = _prefix(resource_id)
        kind = _KINDS.get(prefix)
        if kind is None:
            raise InvalidParameterValue(f'Invalid id: "{resource_id[:64]}"')
        record: Record = await self._owned(kind, tenant_id, resource_id, prefix)
        return record

    async def create_tags(self, tenant_id: str, resource_ids: Sequence[str], tags: Tags) -> None:
        check_tags(tags)
        records = [await self._taggable(tenant_id, r) for r in dict.fromkeys(resource_ids)]
        for record in records:
            for _ in range(10):
                try:
                    await self._update(record, tags=merge_tags(record.tags, tags))
                    break
                except IncorrectState:
                    record = await self._taggable(tenant_id, record.resource_id)

    async def delete_tags(
        self, tenant_id: str, resource_ids: Sequence[str], keys: dict[str, str | None]
    ) -> None:
        records = [await self._taggable(tenant_id, r) for r in dict.fromkeys(resource_ids)]
        for record in records:
            for _ in range(10):
                try:
                    kept = remove_tags(record.tags, keys) if keys else ()
                    await self._update(record, tags=kept)
                    break
                except IncorrectState:
                    record = await self._taggable(tenant_id, record.resource_id)

    async def describe_tags(self, tenant_id: str) -> list[TagEntry]:
        entries: list[TagEntry] = []
        for prefix, kind in _KINDS.items():
            for record in await self.store.list(kind, tenant_id):
                if record.tenant_id != tenant_id:
                    continue  # public images are the operator's
                if isinstance(record, Instance) and record.state is InstanceState.TERMINATED:
                    continue
                for key, value in record.tags:
                    entries.append(TagEntry(record.resource_id, RESOURCE_TYPES[prefix], key, value))
        return entries


def _describe_rule(rule: Rule, group_id: str) -> str:
    ports = "" if rule.protocol == "-1" else f" {rule.from_port}-{rule.to_port}"
    return f"{group_id} {rule.protocol}{ports} {rule.cidr}"
