"""The in-memory hypervisor keeps the port's semantics (the ones the QEMU driver's contract
suite checks for any driver): idempotent deletes and kills, ABSENT after release, volumes that
open only with their key, console bytes."""

from __future__ import annotations

import secrets

import pytest

from andromede.compute.driver import (
    AttachedVolume,
    InstanceSpec,
    PortForward,
    RuntimeState,
    SeedSpec,
    VolumeSpec,
)
from andromede.compute.driver_memory import MemoryDriver
from andromede.compute.errors import HypervisorFailed
from andromede.compute.model import new_id


def spec(instance_id: str, root: AttachedVolume) -> InstanceSpec:
    seed = SeedSpec(meta_data="{}", user_data=b"echo hi", network_config="{}")
    return InstanceSpec(
        instance_id, 1, 128, root, seed, forwards=(PortForward("127.0.0.1", 0, 22),)
    )


async def test_absent_things_are_no_ops() -> None:
    driver = MemoryDriver()
    await driver.delete_volume(new_id("vol"))
    await driver.delete_snapshot(new_id("snap"))
    instance_id = new_id("i")
    await driver.kill(instance_id)
    await driver.stop(instance_id, timeout=1)
    await driver.release(instance_id)
    assert await driver.state(instance_id) is RuntimeState.ABSENT
    assert await driver.console_output(instance_id) == b""
    assert await driver.port_forwards(instance_id) == ()


async def test_start_needs_the_volumes_and_their_keys() -> None:
    driver = MemoryDriver()
    key = secrets.token_bytes(32)
    volume_id = new_id("vol")
    await driver.create_volume(VolumeSpec(volume_id, 1, key))
    instance_id = new_id("i")
    with pytest.raises(HypervisorFailed):
        await driver.start(spec(instance_id, AttachedVolume(volume_id, "/dev/xvda", b"x" * 32)))
    with pytest.raises(HypervisorFailed):
        await driver.start(spec(instance_id, AttachedVolume(new_id("vol"), "/dev/xvda", key)))
    assert await driver.state(instance_id) is RuntimeState.ABSENT
    await driver.start(spec(instance_id, AttachedVolume(volume_id, "/dev/xvda", key)))
    assert await driver.state(instance_id) is RuntimeState.RUNNING
    [forward] = await driver.port_forwards(instance_id)
    assert forward.host_port > 0
    assert b"echo hi" in await driver.console_output(instance_id)
    await driver.stop(instance_id, timeout=1)
    assert await driver.state(instance_id) is RuntimeState.SHUT_OFF
    assert await driver.running() == {instance_id: RuntimeState.SHUT_OFF}
    await driver.release(instance_id)
    assert await driver.running() == {}


async def test_snapshots_back_new_volumes_with_their_own_key() -> None:
    driver = MemoryDriver()
    key, snapshot_key = secrets.token_bytes(32), secrets.token_bytes(32)
    volume_id, snapshot_id = new_id("vol"), new_id("snap")
    await driver.create_volume(VolumeSpec(volume_id, 2, key))
    with pytest.raises(HypervisorFailed):
        await driver.snapshot_volume(volume_id, b"wrong", snapshot_id, snapshot_key)
    await driver.snapshot_volume(volume_id, key, snapshot_id, snapshot_key)
    path = driver.snapshot_path(snapshot_id)
    with pytest.raises(HypervisorFailed):
        await driver.create_volume(VolumeSpec(new_id("vol"), 2, key, path, "qcow2", b"wrong"))
    await driver.create_volume(VolumeSpec(new_id("vol"), 2, key, path, "qcow2", snapshot_key))
