"""Images: the operator's (public or given to a tenant), a tenant's imports from its buckets
(ImportImage), and images registered from snapshots; deregistered images' files go once unused.

Hosts get an image's bytes from here: before a volume is made over an image on a host, the
host is asked whether it holds it (by id and SHA-256) and else sent it, streamed from the image
file (:meth:`ImagesMixin._ensure_image_on`); the host checks the checksum. A deregistered image
that no volume uses is forgotten by every host, then its file and record go; a host that cannot
be reached or refuses keeps the record (still deregistered, invisible to tenants) so that the
next termination or the start-up reconciliation tries again (:meth:`forget_deregistered_images`).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from pathlib import Path

from andromede.compute.driver import HypervisorDriver
from andromede.compute.errors import (
    Duplicate,
    ImportFailed,
    InvalidParameterValue,
    NotFound,
    OperationNotPermitted,
)
from andromede.compute.model import (
    Image,
    ImageState,
    ImportTask,
    Snapshot,
    Tags,
    Volume,
    check_id,
    check_tags,
    new_id,
)
from andromede.compute.service_core import NAME_MAX, ServiceCore

__all__ = ["ImagesMixin"]

log = logging.getLogger(__name__)

# EC2's characters for an AMI name (CreateImage, RegisterImage, CopyImage).
_IMAGE_NAME = re.compile(r"[A-Za-z0-9()\[\] ./'@_-]+")


class ImagesMixin(ServiceCore):
    # -- images ------------------------------------------------------------------------------

    async def describe_images(
        self,
        tenant_id: str,
        ids: Sequence[str],
        *,
        owners: Sequence[str] = (),
        executable_users: Sequence[str] = (),
    ) -> list[Image]:
        """The images the tenant may launch: its own, the public ones, and those shared with
        it (decision 0147); ``owners`` and ``executable_users`` as EC2's."""
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
            # Every image: those shared with the tenant are other tenants' records.
            found = [
                i
                for i in await self.store.list(Image, None)
                if i.state is not ImageState.DEREGISTERED and i.visible_to(tenant_id)
            ]
        if owners:
            wanted = {tenant_id if o == "self" else o for o in owners}
            found = [
                i
                for i in found
                if (i.owner_id or "andromede") in wanted or ("amazon" in wanted and i.public)
            ]
        if executable_users:
            # "self": shared with the caller explicitly; "all": public; an account id: the
            # caller's images shared with that account.
            users = set(executable_users)
            found = [
                i
                for i in found
                if ("self" in users and tenant_id in i.launch_permissions)
                or ("all" in users and i.public)
                or (i.owner_id == tenant_id and users & set(i.launch_permissions))
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
        await self._check_unique_image_name(tenant_id, name)
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

    async def _check_unique_image_name(self, tenant_id: str, name: str) -> None:
        """An account's image names are unique (deregistered ones free theirs)."""
        for image in await self.store.list(Image, tenant_id):
            if (
                image.owner_id == tenant_id
                and image.name == name
                and image.state is not ImageState.DEREGISTERED
            ):
                raise Duplicate("ami-name", name)

    @staticmethod
    def _check_image_name(name: str) -> None:
        if not 3 <= len(name) <= 128:
            raise InvalidParameterValue("AMI names must be between 3 and 128 characters long")
        if not _IMAGE_NAME.fullmatch(name):
            raise InvalidParameterValue(
                "AMI names may only contain letters, digits, spaces and ( ) [ ] . / - ' @ _"
            )

    async def deregister_image(self, tenant_id: str, image_id: str) -> None:
        image = await self._owned(Image, tenant_id, image_id, "ami")
        await self._update(image, state=ImageState.DEREGISTERED)
        await self._forget_unused_image(image_id)

    async def _ensure_image_on(self, driver: HypervisorDriver, image: Image) -> None:
        """The host holds a verified copy of the image file (images registered from a
        snapshot have none: the snapshot is in the host's storage domain)."""
        if image.snapshot_id is not None or not image.path:
            return
        if await driver.has_image(image.image_id, image.sha256):
            return
        log.info("image %s: sending it to host %s", image.image_id, driver.host)
        await driver.put_image(
            image.image_id, image.sha256, image.disk_format, self.images.read(image.path)
        )

    async def _forget_unused_image(self, image_id: str) -> None:
        """Remove a deregistered image's copies on the hosts, its file and its record once no
        volume is backed by it; the record stays while a host has not confirmed."""
        image = await self.store.get(Image, image_id)
        if image is None or image.state is not ImageState.DEREGISTERED:
            return
        if any(v.image_id == image_id for v in await self.store.list(Volume, None)):
            return
        forgotten = True
        if image.snapshot_id is None:
            for driver in self.drivers.values():
                try:
                    await driver.forget_image(image_id)
                except Exception as exc:
                    log.warning(
                        "image %s: host %s did not forget it (%s); tried again later",
                        image_id,
                        driver.host,
                        exc,
                    )
                    forgotten = False
        if image.path:
            await asyncio.to_thread(self.images.remove, image.path)
        if forgotten:
            await self.store.delete(Image, image_id)

    async def forget_deregistered_images(self) -> None:
        """Try again to forget the deregistered images some host kept (start-up)."""
        for image in await self.store.list(Image, None):
            if image.state is ImageState.DEREGISTERED:
                await self._forget_unused_image(image.image_id)

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
            description=description[:NAME_MAX],
            tags=tags,
        )
        await self.store.insert(task)
        self._spawn(self._run_import(task, caller))
        return task

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
