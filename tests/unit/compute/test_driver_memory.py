"""The in-memory hypervisor keeps the port's semantics (the ones the QEMU driver's contract
suite checks for any driver): idempotent deletes and kills, ABSENT after release, volumes that
open only with their key, console bytes."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from andromede.compute.driver import (
    AttachedVolume,
    ImageBacking,
    InstanceSpec,
    NetworkMode,
    PortForward,
    RuntimeState,
    SeedSpec,
    SnapshotBacking,
    VolumeSpec,
)
from andromede.compute.driver_memory import MemoryDriver
from andromede.compute.driver_network import (
    FirewallRule,
    InstanceFirewall,
    NetworkSpec,
    NicSpec,
)
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
    assert await driver.network(instance_id) is None


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
    started = await driver.start(spec(instance_id, AttachedVolume(volume_id, "/dev/xvda", key)))
    assert await driver.state(instance_id) is RuntimeState.RUNNING
    assert started.mode is NetworkMode.USER and await driver.network(instance_id) == started
    [forward] = started.forwards
    assert forward.host_port > 0
    assert b"echo hi" in await driver.console_output(instance_id)
    await driver.stop(instance_id, timeout=1)
    assert await driver.state(instance_id) is RuntimeState.SHUT_OFF
    assert await driver.network(instance_id) is None
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
    wrong = SnapshotBacking(snapshot_id, b"wrong")
    with pytest.raises(HypervisorFailed):
        await driver.create_volume(VolumeSpec(new_id("vol"), 2, key, wrong))
    backing = SnapshotBacking(snapshot_id, snapshot_key)
    await driver.create_volume(VolumeSpec(new_id("vol"), 2, key, backing))
    # A host of another storage domain does not have it; one sharing the pool does.
    with pytest.raises(HypervisorFailed):
        await MemoryDriver("other").create_volume(VolumeSpec(new_id("vol"), 2, key, backing))
    pool_mate = MemoryDriver("pool-mate", shared_with=driver)
    await pool_mate.create_volume(VolumeSpec(new_id("vol"), 2, key, backing))
    assert (await pool_mate.capacity()).storage_domain == (await driver.capacity()).storage_domain


async def test_a_volume_over_an_image_needs_the_host_to_hold_that_image() -> None:
    driver = MemoryDriver()
    content = b"image bytes" * 100
    sha256 = hashlib.sha256(content).hexdigest()
    image_id = new_id("ami")
    backing = ImageBacking(image_id, "raw", sha256)
    with pytest.raises(HypervisorFailed):
        await driver.create_volume(VolumeSpec(new_id("vol"), 1, secrets.token_bytes(32), backing))
    assert not await driver.has_image(image_id, sha256)
    await driver.put_image(image_id, sha256, "raw", chunks(content))
    assert await driver.has_image(image_id, sha256)
    assert not await driver.has_image(image_id, "0" * 64)
    volume_id = new_id("vol")
    await driver.create_volume(VolumeSpec(volume_id, 1, secrets.token_bytes(32), backing))
    with pytest.raises(HypervisorFailed):  # a volume reads it
        await driver.forget_image(image_id)
    await driver.delete_volume(volume_id)
    await driver.forget_image(image_id)
    await driver.forget_image(image_id)
    assert not await driver.has_image(image_id, sha256)


async def chunks(content: bytes, size: int = 64) -> AsyncIterator[bytes]:
    for start in range(0, len(content), size):
        yield content[start : start + size]


async def test_an_instance_with_a_nic_is_bridged_with_a_host_only_address() -> None:
    driver = MemoryDriver()
    key = secrets.token_bytes(32)
    volume_id = new_id("vol")
    await driver.create_volume(VolumeSpec(volume_id, 1, key))
    nic = NicSpec(NetworkSpec("net-a", "tenant-a", "10.0.0.0/24"), "52:54:00:00:00:05", "10.0.0.5")
    rules = InstanceFirewall(ingress=(FirewallRule("tcp", 22, 22, "0.0.0.0/0"),))
    base = spec(new_id("i"), AttachedVolume(volume_id, "/dev/xvda", key))
    instance_spec = replace(base, nic=nic, forwards=(), firewall=rules)
    started = await driver.start(instance_spec)
    assert started.mode is NetworkMode.BRIDGE
    assert started.private_ip == "10.0.0.5" and started.public_ip is not None
    assert driver.instances[instance_spec.instance_id].firewall == rules
    await driver.set_firewall(instance_spec.instance_id, InstanceFirewall())
    assert driver.instances[instance_spec.instance_id].firewall == InstanceFirewall()
    # Stop/start keeps the host-only address, as the private one.
    await driver.stop(instance_spec.instance_id, timeout=1)
    assert (await driver.start(instance_spec)).public_ip == started.public_ip
