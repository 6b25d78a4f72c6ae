"""A region of two hosts, one of which stops answering: the other carries on.

Each host is a real agent (the in-memory driver behind ``serve_agent``) reached through a
:class:`RemoteDriver`, as a gateway reaches its hosts; "unreachable" is that agent stopped.
Placement skips the silent host, reconciliation leaves its instances as recorded (never
stopped or terminated because a host is briefly away), and calls that need it answer
``HypervisorFailed`` (EC2's InternalError) with a message that names no address.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from andromede.compute.driver_memory import MemoryDriver
from andromede.compute.errors import HypervisorFailed
from andromede.compute.images import ImageFiles
from andromede.compute.model import Image, InstanceState
from andromede.compute.service import ComputeService, RunRequest
from andromede.compute.store_memory import MemoryComputeStore
from andromede.ec2api.errors import to_ec2_error
from andromede.hypervisor.agent import agent_ready, serve_agent
from andromede.hypervisor.remote import RemoteDriver
from support.computekit import TENANT, MemoryDiskKeys, limits

S = InstanceState


@dataclass
class Host:
    """One host's agent, which can be stopped and started again (its guests live on)."""

    name: str
    socket_path: Path
    driver: MemoryDriver
    _serving: tuple[asyncio.Event, asyncio.Task[None]] | None = field(default=None)

    async def start(self) -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(serve_agent(self.driver, self.socket_path, stop))
        self._serving = (stop, task)
        assert await asyncio.to_thread(agent_ready, self.socket_path, 10.0)

    async def stop(self) -> None:
        if self._serving is not None:
            stop, task = self._serving
            stop.set()
            await task
            self._serving = None


@pytest.fixture
async def hosts(tmp_path: Path) -> AsyncIterator[tuple[Host, Host]]:
    pair = tuple(
        Host(name, tmp_path / name / "agent.sock", MemoryDriver(name, vcpus=8, memory_mib=4096))
        for name in ("hv-1", "hv-2")
    )
    for host in pair:
        await host.start()
    yield pair  # type: ignore[misc]
    for host in pair:
        await host.stop()


@pytest.fixture
async def compute(tmp_path: Path, hosts: tuple[Host, Host]) -> AsyncIterator[ComputeService]:
    service = ComputeService(
        MemoryComputeStore(),
        [RemoteDriver(h.socket_path, host=h.name) for h in hosts],
        MemoryDiskKeys(),
        limits(),
        ImageFiles(tmp_path / "images", max_size=1024**3),
    )
    yield service
    await service.close()


@pytest.fixture
async def image(compute: ComputeService, tmp_path: Path) -> Image:
    source = tmp_path / "disk.raw"
    source.write_bytes(b"\0" * 4096)
    return await compute.import_image_file(source, name="debian-test", owner_id=None)


async def _run(compute: ComputeService, image: Image, count: int) -> list[str]:
    request = RunRequest(image.image_id, "t3.nano", min_count=count, max_count=count)
    instances = await compute.run_instances(TENANT, request)
    await compute.settle()
    return [i.instance_id for i in instances]


async def _where(compute: ComputeService, instance_id: str) -> tuple[str, InstanceState]:
    [instance] = await compute.describe_instances(TENANT, [instance_id])
    return instance.host, instance.state


async def test_a_silent_host_is_left_as_it_is_and_the_other_takes_new_instances(
    compute: ComputeService, image: Image, hosts: tuple[Host, Host]
) -> None:
    first, second = await _run(compute, image, 2)
    placed = {await _where(compute, i) for i in (first, second)}
    assert placed == {("hv-1", S.RUNNING), ("hv-2", S.RUNNING)}  # spread over both
    on_silent = first if (await _where(compute, first))[0] == "hv-2" else second
    silent = hosts[1]
    await silent.stop()

    # Reconciliation cannot see hv-2's guests: it leaves them as recorded.
    await compute.reconcile()
    assert await _where(compute, on_silent) == ("hv-2", S.RUNNING)

    # New instances go to the host that answers, as many as it has room for.
    more = await _run(compute, image, 3)
    assert {await _where(compute, i) for i in more} == {("hv-1", S.RUNNING)}

    # A call that needs the silent host fails plainly, naming no address.
    for call in (
        compute.console_output(TENANT, on_silent),
        compute.reboot_instances(TENANT, [on_silent]),
    ):
        with pytest.raises(HypervisorFailed) as failed:
            await call
        assert "does not answer" in str(failed.value)
        assert str(silent.socket_path) not in str(failed.value)
        wire = to_ec2_error(failed.value)
        assert wire is not None and wire.code == "InternalError"

    # A stop cannot be carried out: the guest may run on, so it is not recorded as stopped.
    await compute.stop_instances(TENANT, [on_silent])
    await compute.settle()
    assert await _where(compute, on_silent) == ("hv-2", S.STOPPING)

    # The host answers again: its guest was running all along, and the stop goes through.
    await silent.start()
    assert on_silent in silent.driver.instances
    await compute.reconcile()
    await compute.settle()
    assert await _where(compute, on_silent) == ("hv-2", S.STOPPED)
    await compute.terminate_instances(TENANT, [on_silent, *more])
    await compute.settle()
    assert {(await _where(compute, i))[1] for i in [on_silent, *more]} == {S.TERMINATED}


async def test_when_no_host_answers_run_instances_says_there_is_no_capacity(
    compute: ComputeService, image: Image, hosts: tuple[Host, Host]
) -> None:
    from andromede.compute.errors import InsufficientCapacity

    for host in hosts:
        await host.stop()
    with pytest.raises(InsufficientCapacity):
        await _run(compute, image, 1)
