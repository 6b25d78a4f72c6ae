"""CreateImage's background stop, snapshots and start, durable across gateways (decision 0148).

CreateImage of a running instance without ``NoReboot`` records the image ``pending`` with an
:class:`~andromede.compute.image_job.ImageCreation`: the instance, the volume → snapshot plan,
the step, whether the instance is to be started again, and the gateway holding the work with
its lease. The holder renews the lease while it works and writes each step it reaches. When it
stops (restart, crash), the lease runs out and the compute upkeep of any gateway
(:meth:`ImageJobsMixin.resume_image_creations`) claims the image by a conditional write of its
revision — exactly one gateway wins — and carries on from the step recorded: the instance is
stopped if it was not yet, the snapshots not yet recorded are taken, the instance is started
again unless a tenant's StopInstances came meanwhile, and the image ends ``available``, or
``failed`` with EC2's ``StateReason``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from andromede.compute.errors import (
    ComputeError,
    IncorrectInstanceState,
    IncorrectState,
    KeyUnusable,
    NotFound,
)
from andromede.compute.image_job import CreationStep, ImageCreation, ImageStateReason
from andromede.compute.image_library import ImagesMixin
from andromede.compute.model import Image, ImageState, Instance, InstanceState, Snapshot, Volume
from andromede.compute.volumes import VolumesMixin

__all__ = ["ImageJobsMixin", "failure_reason"]

log = logging.getLogger(__name__)

# How often the stop before a snapshot is looked at, and how long past the stop timeout it
# may take (the host's hard stop follows the ACPI timeout).
_STOP_POLL = 0.05
_STOP_GRACE = 30.0
# Conditional writes of one image retried when another writer (a tenant's tag, a lease
# renewal) moved its revision meanwhile.
_WRITE_ATTEMPTS = 20


class _Lost(Exception):
    """The image is no longer this gateway's to finish: another claimed it, or it is gone."""

    def __init__(self, message: str, *, deregistered: bool = False) -> None:
        super().__init__(message)
        self.deregistered = deregistered


def failure_reason(exc: BaseException) -> ImageStateReason:
    """EC2's ``StateReason`` of an image whose creation failed with ``exc``: the tenant's
    doing (its instance terminated or started meanwhile, its KMS key disabled) is a
    ``Client.`` code, anything else the platform's ``Server.InternalError`` (its message is
    logged, not told: it may name a host)."""
    if isinstance(exc, KeyUnusable):
        return ImageStateReason("Client.InvalidKMSKey.InvalidState", str(exc))
    if isinstance(exc, NotFound):
        return ImageStateReason("Client.InvalidInstanceID.NotFound", str(exc))
    if isinstance(exc, IncorrectState | IncorrectInstanceState):
        return ImageStateReason("Client.IncorrectInstanceState", str(exc))
    return ImageStateReason("Server.InternalError", "An internal error has occurred")


class ImageJobsMixin(VolumesMixin, ImagesMixin):
    if TYPE_CHECKING:  # the service's own, which the stop-and-start drives

        async def stop_instances(
            self,
            tenant_id: str,
            ids: Sequence[str],
            *,
            force: bool = False,
            for_image: bool = False,
        ) -> Sequence[object]: ...

        async def start_instances(self, tenant_id: str, ids: Sequence[str]) -> Sequence[object]: ...

    def _image_lease(self) -> datetime:
        return self.clock() + timedelta(seconds=self.limits.image_creation_lease)

    async def resume_image_creations(self) -> int:
        """Claim every pending image whose CreateImage no gateway holds any more (its lease
        ran out) and finish it in the background; returns how many this gateway claimed. The
        claim is a conditional write on the image's revision: of several gateways passing at
        once, one wins, the others find the revision moved. Run by the compute upkeep."""
        now = self.clock()
        claimed = 0
        for image in await self.store.list(Image, None):
            job = image.creation
            if image.state is not ImageState.PENDING or job is None or not job.claimable(now):
                continue
            taken = replace(
                image, creation=replace(job, holder=self.worker_id, lease_until=self._image_lease())
            )
            if not await self.store.replace(taken):
                continue  # another gateway claimed it first, or it changed: the next pass sees
            log.warning(
                "image %s: resuming its CreateImage of %s at step %s (held by %s)",
                image.image_id,
                job.instance_id,
                job.step,
                job.holder or "nobody",
            )
            self._spawn(self._finish_image(image.image_id))
            claimed += 1
        return claimed

    async def _keep_stopped_after_images(self, tenant_id: str, instance_ids: Sequence[str]) -> None:
        """A tenant's StopInstances while CreateImage works on the instance: the image's work
        must not start it again at its end (the tenant's stop is not undone)."""
        wanted = set(instance_ids)
        for image in await self.store.list(Image, tenant_id):
            job = image.creation
            if job is None or not job.restart or job.instance_id not in wanted:
                continue
            for _ in range(_WRITE_ATTEMPTS):
                current = await self.store.get(Image, image.image_id)
                if current is None or current.creation is None or not current.creation.restart:
                    break
                kept = replace(current, creation=replace(current.creation, restart=False))
                if await self.store.replace(kept):
                    break
            else:
                raise IncorrectState(f"{image.image_id} changed concurrently; retry")

    async def _job_write(self, image_id: str, **changes: object) -> tuple[Image, ImageCreation]:
        """The image's work with ``changes`` and its lease renewed, written if this gateway
        still holds it; :class:`_Lost` otherwise."""
        for _ in range(_WRITE_ATTEMPTS):
            image = await self.store.get(Image, image_id)
            job = image.creation if image is not None else None
            if image is None or job is None:
                raise _Lost("the image is gone", deregistered=True)
            if job.holder != self.worker_id:
                raise _Lost(f"claimed by {job.holder}")
            if image.state is not ImageState.PENDING:
                raise _Lost("the image was deregistered", deregistered=True)
            changed = replace(
                image,
                creation=replace(job, lease_until=self._image_lease(), **changes),  # type: ignore[arg-type]
            )
            if await self.store.replace(changed):
                done = replace(changed, revision=changed.revision + 1)
                assert done.creation is not None  # noqa: S101 — written just above
                return done, done.creation
        raise ComputeError(f"image {image_id} changed concurrently too often")

    async def _renew_image_lease(self, image_id: str) -> None:
        """Renew the lease every third of it while the work runs."""
        while True:
            await asyncio.sleep(self.limits.image_creation_lease / 3)
            try:
                await self._job_write(image_id)
            except _Lost:
                return
            except Exception as exc:  # the database away: the next renewal tries again
                log.warning("image %s: lease not renewed: %s", image_id, exc)

    async def _finish_image(self, image_id: str) -> None:
        """Carry the image's work on from the step recorded, holding its lease meanwhile."""
        renewing = asyncio.get_running_loop().create_task(self._renew_image_lease(image_id))
        try:
            await self._image_steps(image_id)
        except _Lost as exc:
            log.info("image %s: CreateImage's work left: %s", image_id, exc)
        except Exception:  # its lease runs out; another pass (of any gateway) resumes it
            log.exception("image %s: CreateImage's work interrupted", image_id)
        finally:
            renewing.cancel()

    async def _image_steps(self, image_id: str) -> None:
        image, job = await self._job_write(image_id)
        tenant_id = image.owner_id or ""
        try:
            if job.step is CreationStep.STOPPING:
                try:
                    image, job = await self._stop_for_image(image, job)
                except _Lost:
                    raise
                except Exception as exc:
                    log.warning("image %s: %s not stopped: %s", image_id, job.instance_id, exc)
                    image, job = await self._job_write(
                        image_id, step=CreationStep.FINISHING, failure=failure_reason(exc)
                    )
                else:
                    image, job = await self._job_write(image_id, step=CreationStep.SNAPSHOTTING)
            if job.step is CreationStep.SNAPSHOTTING:
                failure = None
                try:
                    await self._take_missing_snapshots(image, job)
                except _Lost:
                    raise
                except Exception as exc:
                    log.warning("image %s: snapshot failed: %s", image_id, exc)
                    failure = failure_reason(exc)
                image, job = await self._job_write(
                    image_id, step=CreationStep.FINISHING, failure=failure
                )
        except _Lost as exc:
            if exc.deregistered:  # nobody will finish it: the instance is started all the same
                await self._restart_after_image(tenant_id, job)
            raise
        image, job = await self._job_write(image_id)  # restart as it stands now
        await self._restart_after_image(tenant_id, job)
        if job.failure is not None:
            await self._drop_image_snapshots(image, job)
        await self._end_image(image_id, job.failure)

    async def _stop_for_image(
        self, image: Image, job: ImageCreation
    ) -> tuple[Image, ImageCreation]:
        """Stop the instance unless it is stopping or stopped already, and wait for it."""
        instance_id = job.instance_id
        instance = await self.store.get(Instance, instance_id)
        if instance is not None and instance.state is InstanceState.RUNNING:
            # Stopped by this work from running: started again at its end, even if a tenant's
            # stop and start came before. Recorded before the stop, which a tenant's
            # StopInstances may still cancel.
            if not job.restart:
                image, job = await self._job_write(image.image_id, restart=True)
            await self.stop_instances(image.owner_id or "", [instance_id], for_image=True)
        deadline = asyncio.get_running_loop().time() + self.limits.stop_timeout + _STOP_GRACE
        while True:
            current = await self.store.get(Instance, instance_id)
            if current is None or current.state is InstanceState.TERMINATED:
                raise NotFound("i", instance_id)
            if current.state is InstanceState.STOPPED:
                return image, job
            if current.state is not InstanceState.STOPPING:
                raise IncorrectState(f"Instance '{instance_id}' was not stopped for its image")
            if asyncio.get_running_loop().time() > deadline:
                raise ComputeError(f"Instance '{instance_id}' did not stop in time")
            await asyncio.sleep(_STOP_POLL)

    async def _take_missing_snapshots(self, image: Image, job: ImageCreation) -> None:
        """The planned snapshots the store does not have yet, one after the other (those
        taken before a gateway stopped are kept)."""
        for volume_id, snapshot_id in job.volumes:
            if await self.store.get(Snapshot, snapshot_id) is not None:
                continue
            volume = await self.store.get(Volume, volume_id)
            if volume is None:
                raise NotFound("vol", volume_id)
            # A snapshot its host made but the store never recorded (the gateway stopped in
            # between) is made again under the same id: its host's copy goes first.
            try:
                await self._driver(volume.host).delete_snapshot(snapshot_id)
            except Exception as exc:  # none there, most likely; a leftover fails the retake
                log.debug("image %s: no snapshot %s to clear: %s", image.image_id, snapshot_id, exc)
            await self.create_snapshot(
                image.owner_id or "",
                volume_id,
                f"Created by CreateImage({job.instance_id}) for {image.image_id} from {volume_id}",
                job.snapshot_tags,
                snapshot_id=snapshot_id,
            )
            await self._job_write(image.image_id)  # still ours, and the lease renewed

    async def _restart_after_image(self, tenant_id: str, job: ImageCreation) -> None:
        """Start the instance again if CreateImage stopped it and nobody stopped it since."""
        if not job.restart:
            return
        instance = await self.store.get(Instance, job.instance_id)
        if instance is None or instance.state is not InstanceState.STOPPED:
            return  # running again already, or the tenant terminated it
        try:
            await self.start_instances(tenant_id, [job.instance_id])
        except Exception as exc:  # the image does not fail for it; the tenant starts it
            log.warning("instance %s not started again after its image: %s", job.instance_id, exc)

    async def _drop_image_snapshots(self, image: Image, job: ImageCreation) -> None:
        """The snapshots a failed image had made. Not DeleteSnapshot: the pending image names
        them, so they would be in use."""
        for _, snapshot_id in job.volumes:
            snapshot = await self.store.get(Snapshot, snapshot_id)
            if snapshot is None:
                continue
            try:
                driver = self._driver(snapshot.host)
                await self._on_host("delete the snapshot", driver.delete_snapshot(snapshot_id))
                await self.store.delete(Snapshot, snapshot_id)
            except Exception as exc:  # the image fails either way; the snapshot stays
                log.warning("image %s: snapshot %s kept: %s", image.image_id, snapshot_id, exc)

    async def _end_image(self, image_id: str, failure: ImageStateReason | None) -> None:
        """The image ``available``, or ``failed`` with its reason; its work forgotten."""
        for _ in range(_WRITE_ATTEMPTS):
            image = await self.store.get(Image, image_id)
            if image is None or image.creation is None or image.state is not ImageState.PENDING:
                return  # deregistered meanwhile: its snapshots stay the tenant's
            if image.creation.holder != self.worker_id:
                raise _Lost(f"claimed by {image.creation.holder}")
            state = ImageState.AVAILABLE if failure is None else ImageState.FAILED
            ended = replace(image, state=state, creation=None, state_reason=failure)
            if await self.store.replace(ended):
                return
        raise ComputeError(f"image {image_id} changed concurrently too often")
