"""CreateImage's background stop, snapshots and start finished by another gateway when the one
doing it stops (decision 0148), over every ComputeStore (memory, SQLite, PostgreSQL): gateways
are :class:`ComputeService` objects over one store and one host, and a gateway "stops" as a
process does — its tasks cancelled where they stand."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from andromede.compute.driver import InstanceNetwork, InstanceSpec
from andromede.compute.driver_memory import MemoryDriver
from andromede.compute.image_job import CreationStep
from andromede.compute.images import ImageFiles
from andromede.compute.launch_request import LaunchVolume, RunRequest
from andromede.compute.model import Image, ImageState, InstanceState, Snapshot
from andromede.compute.service import ComputeService
from andromede.compute.store import ComputeStore
from andromede.compute.store_memory import MemoryComputeStore
from andromede.compute.store_sql import SqlComputeStore
from andromede.db.database import open_database
from support.computekit import TENANT, MemoryDiskKeys, limits
from support.schema import migrated_sqlite

LEASE = 60.0


class GatedDriver(MemoryDriver):
    """The memory host, whose next snapshots can be held (to stop a gateway while it takes
    one) and whose starts are counted."""

    def __init__(self) -> None:
        super().__init__(vcpus=8, memory_mib=4096)
        self.hold_at: int | None = None  # the snapshot (counted from 1) to hold
        self.held = asyncio.Event()
        self.unhold = asyncio.Event()
        self.snapshots_taken: list[str] = []
        self.starts: list[str] = []

    async def snapshot_volume(
        self, volume_id: str, key: bytes, snapshot_id: str, snapshot_key: bytes
    ) -> None:
        if self.hold_at is not None and len(self.snapshots_taken) + 1 == self.hold_at:
            self.held.set()
            await self.unhold.wait()  # or until its gateway stops
        await super().snapshot_volume(volume_id, key, snapshot_id, snapshot_key)
        self.snapshots_taken.append(snapshot_id)

    async def start(self, spec: InstanceSpec) -> InstanceNetwork:
        self.starts.append(spec.instance_id)
        return await super().start(spec)


@dataclass
class Cloud:
    store: ComputeStore
    driver: GatedDriver
    files: ImageFiles
    tmp: Path
    now: list[datetime] = field(default_factory=lambda: [datetime.now(UTC)])
    gateways: list[ComputeService] = field(default_factory=list)

    def gateway(self, store: ComputeStore | None = None) -> ComputeService:
        clock: Callable[[], datetime] = lambda: self.now[0]  # noqa: E731
        service = ComputeService(
            store or self.store,
            [self.driver],
            KEYS,
            limits(image_creation_lease=LEASE),
            self.files,
            clock=clock,
        )
        self.gateways.append(service)
        return service

    def later(self, seconds: float) -> None:
        self.now[0] += timedelta(seconds=seconds)


KEYS = MemoryDiskKeys()


class ListingTogether:
    """The store, whose listings of every image wait until ``parties`` gateways have listed:
    gateways passing at the same moment all see the image claimable before any claims it."""

    def __init__(self, store: ComputeStore, parties: int) -> None:
        self._store = store
        self._barrier = asyncio.Barrier(parties)

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    async def list(self, kind: type[Any], tenant_id: str | None) -> list[Any]:
        found = await self._store.list(kind, tenant_id)
        if kind is Image and tenant_id is None:
            await asyncio.wait_for(self._barrier.wait(), 10)
        return found


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def cloud(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Cloud]:
    if request.param == "memory":
        store: ComputeStore = MemoryComputeStore()
        db = None
    else:
        url = (
            request.getfixturevalue("postgres_url")
            if request.param == "postgresql"
            else migrated_sqlite(tmp_path / "meta.db")
        )
        db = open_database(url)
        store = SqlComputeStore(db)
    made = Cloud(store, GatedDriver(), ImageFiles(tmp_path / "images", max_size=1024**3), tmp_path)
    try:
        yield made
    finally:
        for gateway in made.gateways:
            await _stop(gateway)
        if db is not None:
            await db.close()


async def _stop(gateway: ComputeService) -> None:
    """The gateway's process ends: whatever it was doing stops where it stands."""
    tasks = list(gateway._tasks)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _running_instance(cloud: Cloud, gateway: ComputeService, *, data: bool) -> str:
    source = cloud.tmp / "disk.raw"
    source.write_bytes(b"\0" * 4096)
    image = await gateway.import_image_file(source, name="debian-test", owner_id=None)
    volumes = (LaunchVolume("/dev/sdb", size_gib=2),) if data else ()
    [instance] = await gateway.run_instances(
        TENANT, RunRequest(image.image_id, "t3.nano", data_volumes=volumes)
    )
    await gateway.settle()
    return instance.instance_id


async def _state(gateway: ComputeService, instance_id: str) -> InstanceState:
    [instance] = await gateway.describe_instances(TENANT, [instance_id])
    return instance.state


async def _image(cloud: Cloud, image_id: str) -> Image:
    image = await cloud.store.get(Image, image_id)
    assert image is not None
    return image


async def _snapshots(cloud: Cloud) -> set[str]:
    return {s.snapshot_id for s in await cloud.store.list(Snapshot, TENANT)}


async def test_another_gateway_finishes_an_image_whose_gateway_stopped_after_the_stop(
    cloud: Cloud,
) -> None:
    first = cloud.gateway()
    instance_id = await _running_instance(cloud, first, data=True)
    cloud.driver.hold_at = 1  # the first gateway stops as it takes the first snapshot
    image = await first.create_image(TENANT, instance_id, name="nightly")
    await asyncio.wait_for(cloud.driver.held.wait(), 10)
    await _stop(first)
    cloud.driver.hold_at = None
    pending = await _image(cloud, image.image_id)
    assert pending.state is ImageState.PENDING
    assert pending.creation is not None
    assert pending.creation.step is CreationStep.SNAPSHOTTING
    assert await _state(first, instance_id) is InstanceState.STOPPED
    starts = len(cloud.driver.starts)

    second = cloud.gateway()
    # Within the first gateway's lease, nobody takes its work.
    assert await second.resume_image_creations() == 0
    cloud.later(LEASE + 1)
    assert await second.resume_image_creations() == 1
    await second.settle()

    done = await _image(cloud, image.image_id)
    assert done.state is ImageState.AVAILABLE
    assert done.creation is None and done.state_reason is None
    assert set(done.snapshot_ids) == await _snapshots(cloud)
    assert len(done.snapshot_ids) == 2
    assert await _state(second, instance_id) is InstanceState.RUNNING
    assert cloud.driver.starts[starts:] == [instance_id]  # started again, once
    assert await second.resume_image_creations() == 0  # nothing left to resume


async def test_a_gateway_stopped_before_the_stop_leaves_it_to_another(cloud: Cloud) -> None:
    first = cloud.gateway()
    instance_id = await _running_instance(cloud, first, data=False)
    image = await first.create_image(TENANT, instance_id, name="nightly")
    await _stop(first)  # before its background work began
    assert await _state(first, instance_id) is InstanceState.RUNNING
    second = cloud.gateway()
    cloud.later(LEASE + 1)
    assert await second.resume_image_creations() == 1
    await second.settle()
    done = await _image(cloud, image.image_id)
    assert done.state is ImageState.AVAILABLE
    assert len(await _snapshots(cloud)) == 1
    assert await _state(second, instance_id) is InstanceState.RUNNING
    assert b"powered off" in bytes(cloud.driver.instances[instance_id].console)


async def test_snapshots_taken_before_the_gateway_stopped_are_kept(cloud: Cloud) -> None:
    first = cloud.gateway()
    instance_id = await _running_instance(cloud, first, data=True)
    cloud.driver.hold_at = 2  # the root's snapshot is taken, the further volume's is not
    image = await first.create_image(TENANT, instance_id, name="nightly")
    await asyncio.wait_for(cloud.driver.held.wait(), 10)
    await _stop(first)
    cloud.driver.hold_at = None
    root_snapshot = image.snapshot_ids[0]
    assert await _snapshots(cloud) == {root_snapshot}
    assert cloud.driver.snapshots_taken == [root_snapshot]

    second = cloud.gateway()
    cloud.later(LEASE + 1)
    assert await second.resume_image_creations() == 1
    await second.settle()
    done = await _image(cloud, image.image_id)
    assert done.state is ImageState.AVAILABLE
    # The root's is not taken again; the further volume's is taken under its planned id.
    assert cloud.driver.snapshots_taken == list(image.snapshot_ids)
    assert await _snapshots(cloud) == set(image.snapshot_ids)
    assert await _state(second, instance_id) is InstanceState.RUNNING


async def test_of_two_gateways_resuming_at_once_one_finishes(cloud: Cloud) -> None:
    first = cloud.gateway()
    instance_id = await _running_instance(cloud, first, data=True)
    cloud.driver.hold_at = 1
    image = await first.create_image(TENANT, instance_id, name="nightly")
    await asyncio.wait_for(cloud.driver.held.wait(), 10)
    await _stop(first)
    cloud.driver.hold_at = None
    starts = len(cloud.driver.starts)

    together = ListingTogether(cloud.store, 2)
    second, third = cloud.gateway(together), cloud.gateway(together)  # type: ignore[arg-type]
    cloud.later(LEASE + 1)
    claims = await asyncio.gather(second.resume_image_creations(), third.resume_image_creations())
    assert sorted(claims) == [0, 1]
    await asyncio.gather(second.settle(), third.settle())
    done = await _image(cloud, image.image_id)
    assert done.state is ImageState.AVAILABLE
    assert cloud.driver.snapshots_taken == list(image.snapshot_ids)  # each taken once
    assert cloud.driver.starts[starts:] == [instance_id]
    # Passing again, both find nothing: the winner's work is done.
    assert await asyncio.gather(
        second.resume_image_creations(), third.resume_image_creations()
    ) == [0, 0]


async def test_a_gateway_holding_the_work_keeps_it_from_another(cloud: Cloud) -> None:
    """A claim lost to the first gateway's renewal: the one whose lease is current wins."""
    first = cloud.gateway()
    instance_id = await _running_instance(cloud, first, data=False)
    cloud.driver.hold_at = 1
    image = await first.create_image(TENANT, instance_id, name="nightly")
    await asyncio.wait_for(cloud.driver.held.wait(), 10)
    cloud.later(LEASE + 1)
    # The first gateway renews its lease (as its renewal task does every third of it)…
    renewed, _ = await first._job_write(image.image_id)
    assert renewed.creation is not None and renewed.creation.holder == first.worker_id
    # …so the second finds it held.
    second = cloud.gateway()
    assert await second.resume_image_creations() == 0
    cloud.driver.hold_at = None
    await _stop(first)


async def test_a_tenants_stop_during_the_image_is_not_undone(cloud: Cloud) -> None:
    first = cloud.gateway()
    instance_id = await _running_instance(cloud, first, data=False)
    cloud.driver.hold_at = 1
    image = await first.create_image(TENANT, instance_id, name="nightly")
    await asyncio.wait_for(cloud.driver.held.wait(), 10)
    # The tenant stops the instance (through another gateway) while it is stopped for its
    # image: a no-op for the instance, but its image's work must not start it again.
    other = cloud.gateway()
    await other.stop_instances(TENANT, [instance_id])
    pending = await _image(cloud, image.image_id)
    assert pending.creation is not None and not pending.creation.restart
    await _stop(first)
    cloud.driver.hold_at = None
    starts = len(cloud.driver.starts)
    cloud.later(LEASE + 1)
    assert await other.resume_image_creations() == 1
    await other.settle()
    assert (await _image(cloud, image.image_id)).state is ImageState.AVAILABLE
    assert await _state(other, instance_id) is InstanceState.STOPPED
    assert cloud.driver.starts[starts:] == []


async def test_a_tenants_stop_is_kept_by_the_gateway_still_at_work(cloud: Cloud) -> None:
    first = cloud.gateway()
    instance_id = await _running_instance(cloud, first, data=False)
    cloud.driver.hold_at = 1
    image = await first.create_image(TENANT, instance_id, name="nightly")
    await asyncio.wait_for(cloud.driver.held.wait(), 10)
    await first.stop_instances(TENANT, [instance_id])
    cloud.driver.unhold.set()
    await first.settle()
    assert (await _image(cloud, image.image_id)).state is ImageState.AVAILABLE
    assert await _state(first, instance_id) is InstanceState.STOPPED


async def test_an_image_deregistered_meanwhile_still_starts_its_instance(cloud: Cloud) -> None:
    first = cloud.gateway()
    instance_id = await _running_instance(cloud, first, data=False)
    cloud.driver.hold_at = 1
    image = await first.create_image(TENANT, instance_id, name="nightly")
    await asyncio.wait_for(cloud.driver.held.wait(), 10)
    await first.deregister_image(TENANT, image.image_id)
    cloud.driver.unhold.set()
    await first.settle()
    gone = await cloud.store.get(Image, image.image_id)
    assert gone is None or gone.state is ImageState.DEREGISTERED
    assert await _state(first, instance_id) is InstanceState.RUNNING


async def test_a_tenants_stop_and_start_before_the_work_began_leave_it_to_restart(
    cloud: Cloud,
) -> None:
    """The tenant stopped and started the instance again before the work stopped it: the
    work's own stop, from running, is undone at its end all the same."""
    first = cloud.gateway()
    instance_id = await _running_instance(cloud, first, data=False)
    image = await first.create_image(TENANT, instance_id, name="nightly")
    await _stop(first)  # before its work began
    second = cloud.gateway()
    await second.stop_instances(TENANT, [instance_id])
    await second.settle()
    await second.start_instances(TENANT, [instance_id])
    await second.settle()
    pending = await _image(cloud, image.image_id)
    assert pending.creation is not None and not pending.creation.restart
    cloud.later(LEASE + 1)
    assert await second.resume_image_creations() == 1
    await second.settle()
    assert (await _image(cloud, image.image_id)).state is ImageState.AVAILABLE
    assert await _state(second, instance_id) is InstanceState.RUNNING


async def test_an_instance_terminated_meanwhile_fails_the_image_with_a_client_reason(
    cloud: Cloud,
) -> None:
    first = cloud.gateway()
    instance_id = await _running_instance(cloud, first, data=False)
    image = await first.create_image(TENANT, instance_id, name="nightly")
    await _stop(first)  # before its work began
    second = cloud.gateway()
    await second.terminate_instances(TENANT, [instance_id])
    await second.settle()
    cloud.later(LEASE + 1)
    assert await second.resume_image_creations() == 1
    await second.settle()
    failed = await _image(cloud, image.image_id)
    assert failed.state is ImageState.FAILED
    assert failed.creation is None
    assert failed.state_reason is not None
    assert failed.state_reason.code == "Client.InvalidInstanceID.NotFound"
    assert await _snapshots(cloud) == set()


async def test_an_old_image_record_reads_without_work(cloud: Cloud) -> None:
    """Records written before decision 0148 have no ``creation``: never resumed."""
    gateway = cloud.gateway()
    old = Image(
        image_id="ami-0123456789abcdef0",
        name="old",
        owner_id=TENANT,
        state=ImageState.PENDING,
        disk_format="qcow2",
        size_bytes=1,
        virtual_size_gib=1,
        sha256="",
        created_at=cloud.now[0],
    )
    await cloud.store.insert(old)
    read = await _image(cloud, old.image_id)
    assert read.creation is None and read.state_reason is None
    assert replace(read, revision=0) == old
    assert await gateway.resume_image_creations() == 0
