"""ComputeService over the in-memory store and driver: the lifecycle, placement, quota, bad
input, reconciliation, volumes and snapshots."""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from andromede.app import instance_meter
from andromede.billing.model import UsageReport, parse_month
from andromede.billing.service import BillingService
from andromede.billing.store import MemoryBillingStore
from andromede.compute.driver import RuntimeState, VolumeSpec
from andromede.compute.driver_memory import MemoryDriver
from andromede.compute.errors import (
    HypervisorFailed,
    IncorrectInstanceState,
    InstanceLimitExceeded,
    InsufficientCapacity,
    InvalidId,
    InvalidParameterValue,
    NotFound,
    OperationNotPermitted,
    ResourceInUse,
)
from andromede.compute.model import Image, Instance, InstanceState, Volume, VolumeState, parse_rule
from andromede.compute.service import ComputeService, RunRequest
from support.computekit import OTHER, TENANT, limits

S = InstanceState


async def run(compute: ComputeService, image: Image, **changes: object) -> list[str]:
    request = replace(RunRequest(image.image_id, "t3.nano"), **changes)  # type: ignore[arg-type]
    instances = await compute.run_instances(TENANT, request)
    return [i.instance_id for i in instances]


async def state(compute: ComputeService, instance_id: str) -> S:
    [instance] = await compute.describe_instances(TENANT, [instance_id])
    return instance.state


async def test_run_goes_pending_then_running_with_seed(
    compute: ComputeService, image: Image, driver: MemoryDriver
) -> None:
    key_pair, _ = await compute.create_key_pair(TENANT, "mine", "ed25519")
    user_data = base64.b64encode(b"#!/bin/sh\necho hello\n").decode()
    [instance_id] = await run(compute, image, key_name="mine", user_data_base64=user_data)
    assert await state(compute, instance_id) is S.PENDING
    await compute.settle()
    assert await state(compute, instance_id) is S.RUNNING
    spec = driver.instances[instance_id].spec
    assert spec.seed.user_data == b"#!/bin/sh\necho hello\n"
    meta = json.loads(spec.seed.meta_data)
    assert meta["instance-id"] == instance_id
    assert meta["public-keys"] == [key_pair.public_key]
    assert spec.root.volume_id in driver.volumes
    assert driver.volumes[spec.root.volume_id].backing is not None
    assert b"hello" in await compute.console_output(TENANT, instance_id)


async def test_stop_start_terminate(
    compute: ComputeService, image: Image, driver: MemoryDriver
) -> None:
    [instance_id] = await run(compute, image)
    await compute.settle()
    [change] = await compute.stop_instances(TENANT, [instance_id])
    assert (change.previous, change.current) == (S.RUNNING, S.STOPPING)
    await compute.settle()
    assert await state(compute, instance_id) is S.STOPPED
    assert driver.instances[instance_id].state is RuntimeState.SHUT_OFF
    with pytest.raises(IncorrectInstanceState):
        await compute.reboot_instances(TENANT, [instance_id])
    [stopped] = await compute.describe_instances(TENANT, [instance_id])
    assert stopped.state_reason == "User initiated"
    [change] = await compute.start_instances(TENANT, [instance_id])
    assert change.current is S.PENDING
    await compute.settle()
    [started] = await compute.describe_instances(TENANT, [instance_id])
    assert (started.state, started.state_reason) == (S.RUNNING, "")
    await compute.reboot_instances(TENANT, [instance_id])
    [instance] = await compute.describe_instances(TENANT, [instance_id])
    [change] = await compute.terminate_instances(TENANT, [instance_id])
    assert change.current is S.SHUTTING_DOWN
    await compute.settle()
    assert await state(compute, instance_id) is S.TERMINATED
    assert await driver.state(instance_id) is RuntimeState.ABSENT
    assert instance.root_volume_id not in driver.volumes
    assert await compute.store.get(Volume, instance.root_volume_id) is None
    with pytest.raises(IncorrectInstanceState):
        await compute.start_instances(TENANT, [instance_id])
    with pytest.raises(IncorrectInstanceState):
        await compute.stop_instances(TENANT, [instance_id])
    # Terminating again is EC2's no-op.
    [again] = await compute.terminate_instances(TENANT, [instance_id])
    assert again.current is S.TERMINATED


async def test_capacity_all_or_nothing(
    compute: ComputeService, image: Image, driver: MemoryDriver
) -> None:
    # 8 vCPUs and 4 GiB: four t3.nano (2 vCPUs each) fit.
    with pytest.raises(InsufficientCapacity):
        await run(compute, image, min_count=5, max_count=5)
    assert await compute.describe_instances(TENANT, []) == []
    assert await compute.store.list(Volume, None) == []
    placed = await run(compute, image, min_count=1, max_count=10)
    assert len(placed) == 4
    with pytest.raises(InsufficientCapacity):
        await run(compute, image)
    await compute.settle()
    await compute.stop_instances(TENANT, placed[:1])
    await compute.settle()
    assert len(await run(compute, image)) == 1  # a stopped instance frees its room
    await compute.settle()
    with pytest.raises(InsufficientCapacity):
        await compute.start_instances(TENANT, placed[:1])


async def test_quota(compute: ComputeService, image: Image) -> None:
    compute.limits = limits(max_instances_per_tenant=2)
    await run(compute, image, max_count=2)
    with pytest.raises(InstanceLimitExceeded):
        await run(compute, image)


async def test_bad_input(compute: ComputeService, image: Image) -> None:
    with pytest.raises(InvalidParameterValue, match="InstanceType"):
        await run(compute, image, instance_type="t9.huge")
    with pytest.raises(NotFound):
        await run(compute, image, image_id="ami-0123456789abcdef0")
    with pytest.raises(InvalidId):
        await run(compute, image, image_id="nonsense")
    with pytest.raises(InvalidParameterValue, match="16384"):
        await run(compute, image, user_data_base64=base64.b64encode(b"x" * 16385).decode())
    with pytest.raises(InvalidParameterValue, match="BASE64"):
        await run(compute, image, user_data_base64="%%%")
    with pytest.raises(NotFound):
        await run(compute, image, key_name="absent")
    with pytest.raises(InvalidParameterValue):
        await run(compute, image, min_count=2, max_count=1)
    largest = base64.b64encode(b"x" * 16384).decode()
    assert len(await run(compute, image, user_data_base64=largest)) == 1


async def test_another_tenants_instance_is_not_found(compute: ComputeService, image: Image) -> None:
    [instance_id] = await run(compute, image)
    for call in (compute.describe_instances, compute.stop_instances, compute.terminate_instances):
        with pytest.raises(NotFound):
            await call(OTHER, [instance_id])
    with pytest.raises(NotFound):
        await compute.console_output(OTHER, instance_id)


async def test_a_failed_launch_is_terminated_and_leaves_nothing(
    compute: ComputeService, image: Image, driver: MemoryDriver
) -> None:
    async def refuse(spec: object) -> None:
        raise RuntimeError("qemu exploded")

    driver.start = refuse  # type: ignore[method-assign]
    [instance_id] = await run(compute, image)
    await compute.settle()
    [instance] = await compute.describe_instances(TENANT, [instance_id])
    assert instance.state is S.TERMINATED
    assert "Server.InternalError" in instance.state_reason
    assert driver.volumes == {}
    assert await driver.running() == {}


async def test_reconcile_stops_what_is_gone_and_releases_unknowns(
    compute: ComputeService, image: Image, driver: MemoryDriver
) -> None:
    first, second = await run(compute, image, max_count=2)
    await compute.settle()
    driver.lose(first)
    await compute.terminate_instances(TENANT, [second])
    # A QEMU the database does not know of (e.g. a row lost with a restored backup).
    await compute.settle()
    await compute.reconcile()
    assert await state(compute, first) is S.STOPPED
    assert await state(compute, second) is S.TERMINATED
    await compute.start_instances(TENANT, [first])
    await compute.settle()
    assert await state(compute, first) is S.RUNNING


async def test_volumes_and_snapshots(
    compute: ComputeService, image: Image, driver: MemoryDriver
) -> None:
    [instance_id] = await run(compute, image)
    await compute.settle()
    volume = await compute.create_volume(
        TENANT, size_gib=2, snapshot_id=None, availability_zone="eu-fr-1a"
    )
    attached = await compute.attach_volume(TENANT, volume.volume_id, instance_id, "/dev/sdf")
    assert attached.attachment is not None
    assert volume.volume_id in driver.instances[instance_id].attached
    with pytest.raises(ResourceInUse):
        await compute.delete_volume(TENANT, volume.volume_id)
    [instance] = await compute.describe_instances(TENANT, [instance_id])
    with pytest.raises(OperationNotPermitted):
        await compute.detach_volume(TENANT, instance.root_volume_id, None)
    snapshot = await compute.create_snapshot(TENANT, volume.volume_id, "backup")
    assert snapshot.snapshot_id in driver.snapshots
    restored = await compute.create_volume(
        TENANT, size_gib=None, snapshot_id=snapshot.snapshot_id, availability_zone="eu-fr-1a"
    )
    assert restored.size_gib == 2
    with pytest.raises(ResourceInUse):
        await compute.delete_snapshot(TENANT, snapshot.snapshot_id)
    await compute.delete_volume(TENANT, restored.volume_id)
    await compute.delete_snapshot(TENANT, snapshot.snapshot_id)
    await compute.detach_volume(TENANT, volume.volume_id, instance_id)
    await compute.delete_volume(TENANT, volume.volume_id)
    assert volume.volume_id not in driver.volumes
    with pytest.raises(NotFound):
        await compute.describe_volumes(OTHER, [instance.root_volume_id])


async def test_image_from_snapshot_boots_and_deregistered_images_go_when_unused(
    compute: ComputeService, image: Image, driver: MemoryDriver
) -> None:
    [instance_id] = await run(compute, image)
    await compute.settle()
    [instance] = await compute.describe_instances(TENANT, [instance_id])
    snapshot = await compute.create_snapshot(TENANT, instance.root_volume_id)
    mine = await compute.register_image(
        TENANT,
        name="golden",
        description="",
        root_snapshot_id=snapshot.snapshot_id,
        root_device_name="/dev/xvda",
    )
    assert [i.image_id for i in await compute.describe_images(TENANT, [], owners=["self"])] == [
        mine.image_id
    ]
    assert await compute.describe_images(OTHER, [], owners=["self"]) == []
    [child] = await run(compute, mine)
    await compute.settle()
    assert await state(compute, child) is S.RUNNING
    await compute.deregister_image(TENANT, mine.image_id)
    with pytest.raises(NotFound):
        await compute.describe_images(TENANT, [mine.image_id])
    await compute.terminate_instances(TENANT, [child])
    await compute.settle()
    assert await compute.store.get(Image, mine.image_id) is None


async def test_security_groups(compute: ComputeService, image: Image) -> None:
    group = await compute.create_security_group(TENANT, "web", "web servers")
    rule = parse_rule("tcp", 22, 22, "10.0.0.0/8")
    updated = await compute.authorize(TENANT, group.group_id, [rule], ingress=True)
    [added] = updated.ingress
    # The rule as given, with an id of its own (decision 0146).
    assert added == replace(rule, rule_id=added.rule_id) and added.rule_id.startswith("sgr-")
    with pytest.raises(Exception, match="exists"):
        await compute.authorize(TENANT, group.group_id, [rule], ingress=True)
    [instance_id] = await run(compute, image, security_group_ids=(group.group_id,))
    with pytest.raises(ResourceInUse):
        await compute.delete_security_group(TENANT, group_id=group.group_id, name=None)
    await compute.revoke(TENANT, group.group_id, [rule], ingress=True)
    with pytest.raises(NotFound):
        await compute.revoke(TENANT, group.group_id, [rule], ingress=True)
    await compute.terminate_instances(TENANT, [instance_id])
    await compute.settle()
    await compute.delete_security_group(TENANT, group_id=None, name="web")
    with pytest.raises(NotFound):
        await compute.describe_security_groups(TENANT, [group.group_id], [])


async def test_tags(compute: ComputeService, image: Image) -> None:
    [instance_id] = await run(compute, image, instance_tags=(("Name", "web"),))
    await compute.create_tags(TENANT, [instance_id], (("env", "prod"), ("Name", "api")))
    entries = await compute.describe_tags(TENANT)
    assert {(e.resource_id, e.key, e.value) for e in entries} == {
        (instance_id, "Name", "api"),
        (instance_id, "env", "prod"),
    }
    await compute.delete_tags(TENANT, [instance_id], {"env": None})
    assert [e.key for e in await compute.describe_tags(TENANT)] == ["Name"]
    with pytest.raises(NotFound):
        await compute.create_tags(OTHER, [instance_id], (("x", "y"),))


async def test_terminated_instances_are_purged_after_the_retention(
    compute: ComputeService, image: Image
) -> None:
    [instance_id] = await run(compute, image)
    await compute.settle()
    await compute.terminate_instances(TENANT, [instance_id])
    await compute.settle()
    assert await compute.purge_terminated() == 0  # still within the hour
    [instance] = await compute.describe_instances(TENANT, [instance_id])
    assert instance.terminated_at is not None
    compute.limits = limits(terminated_retention=0.0)
    assert await compute.purge_terminated() == 1
    with pytest.raises(NotFound):
        await compute.describe_instances(TENANT, [instance_id])


async def test_a_host_failure_is_hypervisor_failed_and_a_deletion_can_be_retried(
    compute: ComputeService, driver: MemoryDriver
) -> None:
    volume = await compute.create_volume(
        TENANT, size_gib=1, snapshot_id=None, availability_zone="eu-fr-1a"
    )
    healthy = driver.delete_volume

    async def broken(volume_id: str) -> None:
        raise OSError("disk on fire")

    driver.delete_volume = broken  # type: ignore[method-assign]
    with pytest.raises(HypervisorFailed, match="could not delete the volume"):
        await compute.delete_volume(TENANT, volume.volume_id)
    [stuck] = await compute.describe_volumes(TENANT, [volume.volume_id])
    assert stuck.state.value == "deleting"
    driver.delete_volume = healthy  # type: ignore[method-assign]
    await compute.delete_volume(TENANT, volume.volume_id)
    assert volume.volume_id not in driver.volumes


async def test_a_volume_deleted_while_its_host_makes_it_leaves_no_disk(
    compute: ComputeService, driver: MemoryDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its record is written ("creating") before the host makes the disk, so DeleteVolume can
    take it then (a creation cut short by a stopped gateway must be deletable); the creation
    then removes the disk it made, and the deletion stands."""
    creating, release = asyncio.Event(), asyncio.Event()
    real_create = driver.create_volume

    async def slow_create(spec: VolumeSpec) -> None:
        creating.set()
        await release.wait()
        await real_create(spec)

    monkeypatch.setattr(driver, "create_volume", slow_create)
    made = asyncio.create_task(
        compute.create_volume(
            TENANT, size_gib=1, snapshot_id=None, availability_zone="eu-fr-1a", client_token="t"
        )
    )
    await creating.wait()
    [pending] = await compute.describe_volumes(TENANT, [])
    assert pending.state is VolumeState.CREATING
    await compute.delete_volume(TENANT, pending.volume_id)
    release.set()
    with pytest.raises(NotFound):
        await made
    assert driver.volumes == {}
    assert await compute.describe_volumes(TENANT, []) == []


# -- metering (decision 0108) -------------------------------------------------------------------


async def test_state_changes_bill_runs_through_the_instance_meter(
    compute: ComputeService, image: Image
) -> None:
    """Compute's transition listener as the server wires it: entering running opens a run,
    leaving it (stop, terminate) bills it to then, a minute at least."""
    clock = [datetime(2026, 12, 4, 9, 0, tzinfo=UTC)]
    compute.clock = lambda: clock[0]
    billing = BillingService(
        MemoryBillingStore(), region="eu-fr-1", instance_types=["t3.nano"], clock=lambda: clock[0]
    )
    compute.on_transition = instance_meter(billing)

    async def billed() -> dict[str, int]:
        report = await billing.usage_report(TENANT, parse_month("2026-12"))
        return {line.meter: line.quantity for line in report.lines}

    [instance_id] = await run(compute, image)
    await compute.settle()
    assert [i.instance_id for i in await compute.running_instances()] == [instance_id]
    clock[0] += timedelta(seconds=90)
    await compute.stop_instances(TENANT, [instance_id])
    await compute.settle()
    assert await billed() == {"ec2.instance.t3.nano": 90}
    assert await compute.running_instances() == []
    clock[0] += timedelta(hours=2)  # stopped: not billed
    await compute.start_instances(TENANT, [instance_id])
    await compute.settle()
    clock[0] += timedelta(seconds=10)
    await compute.terminate_instances(TENANT, [instance_id])
    await compute.settle()
    assert await billed() == {"ec2.instance.t3.nano": 90 + 60}
    assert await billing.usage_report(OTHER, parse_month("2026-12")) == UsageReport(
        OTHER, parse_month("2026-12"), ()
    )


async def test_a_stop_billing_missed_is_ended_at_the_stop_compute_recorded(
    compute: ComputeService, image: Image
) -> None:
    """The stop's change never reaches billing (the listener fails); the next start carries
    the stop compute kept with the state, so the stopped hours are not billed (0114)."""
    clock = [datetime(2026, 12, 4, 9, 0, tzinfo=UTC)]
    compute.clock = lambda: clock[0]
    billing = BillingService(
        MemoryBillingStore(), region="eu-fr-1", instance_types=["t3.nano"], clock=lambda: clock[0]
    )
    meter = instance_meter(billing)
    dropping = [False]

    async def missing_stops(before: Instance, after: Instance, at: datetime) -> None:
        if dropping[0] and before.state is S.RUNNING:
            raise RuntimeError("billing unreachable")
        await meter(before, after, at)

    compute.on_transition = missing_stops
    [instance_id] = await run(compute, image)
    await compute.settle()
    clock[0] += timedelta(seconds=90)
    dropping[0] = True
    await compute.stop_instances(TENANT, [instance_id])
    await compute.settle()
    dropping[0] = False
    clock[0] += timedelta(hours=2)
    await compute.start_instances(TENANT, [instance_id])
    await compute.settle()
    [started] = await compute.describe_instances(TENANT, [instance_id])
    assert started.last_launch_time == clock[0] == started.started_at
    assert started.stopped_at == clock[0] - timedelta(hours=2)
    clock[0] += timedelta(seconds=100)
    await compute.stop_instances(TENANT, [instance_id])
    await compute.settle()
    report = await billing.usage_report(TENANT, parse_month("2026-12"))
    assert {line.meter: line.quantity for line in report.lines} == {
        "ec2.instance.t3.nano": 90 + 100
    }


async def test_a_failing_transition_listener_does_not_stop_the_change(
    compute: ComputeService, image: Image
) -> None:
    async def broken(before: object, after: object, at: object) -> None:
        raise RuntimeError("billing down")

    compute.on_transition = broken
    [instance_id] = await run(compute, image)
    await compute.settle()
    assert await state(compute, instance_id) is S.RUNNING


async def test_volume_gib_by_tenant_counts_every_volume_not_deleted(
    compute: ComputeService, image: Image
) -> None:
    [instance_id] = await run(compute, image)  # an 8 GiB root volume (t3.nano)
    await compute.settle()
    mine = await compute.create_volume(
        TENANT, size_gib=2, snapshot_id=None, availability_zone="eu-fr-1a"
    )
    await compute.create_volume(OTHER, size_gib=5, snapshot_id=None, availability_zone="eu-fr-1a")
    gone = await compute.create_volume(
        TENANT, size_gib=3, snapshot_id=None, availability_zone="eu-fr-1a"
    )
    await compute.settle()
    await compute.delete_volume(TENANT, gone.volume_id)
    await compute.settle()
    # A record left in the deleted state (a store that keeps it a while) holds nothing.
    kept = replace(mine, volume_id="vol-0deleted0000000", state=VolumeState.DELETED)
    await compute.store.insert(kept)
    assert await compute.volume_gib_by_tenant() == {TENANT: 8 + 2, OTHER: 5}
    await compute.stop_instances(TENANT, [instance_id])  # a stopped instance keeps its root
    await compute.settle()
    assert await compute.volume_gib_by_tenant() == {TENANT: 8 + 2, OTHER: 5}
    await compute.terminate_instances(TENANT, [instance_id])  # deleted on termination
    await compute.delete_volume(TENANT, mine.volume_id)
    await compute.settle()
    assert await compute.volume_gib_by_tenant() == {OTHER: 5}
