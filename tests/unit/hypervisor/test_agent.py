"""The hypervisor agent and its remote driver: the port over a real unix socket.

The agent here serves the in-memory driver (the QEMU driver's own contract suite boots real
guests); what is tested is that the wire carries every call and answer faithfully, refuses what
does not match the port, and lets two clients — two gateway workers — share one host.
"""

from __future__ import annotations

import asyncio
import hashlib
import stat
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from andromede.compute.driver import (
    Accelerator,
    AttachedVolume,
    HostCapacity,
    ImageBacking,
    InstanceSpec,
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
from andromede.hypervisor.agent import (
    AgentAlreadyRunning,
    _quiet_server,
    agent_ready,
    serve_agent,
)
from andromede.hypervisor.remote import (
    _KEEPALIVE_EXPIRY,
    AgentCallFailed,
    AgentUnreachable,
    RemoteDriver,
)
from andromede.hypervisor.wire import CALLS, KEEP_ALIVE_SECONDS, WireError, decode, encode

KEY = bytes(range(32))


def _spec(instance_id: str = "i-0123456789abcdef0") -> InstanceSpec:
    network = NetworkSpec("vpc-1", "111111111111", "10.0.0.0/24")
    return InstanceSpec(
        instance_id=instance_id,
        vcpus=1,
        memory_mib=128,
        root=AttachedVolume("vol-root", "/dev/xvda", KEY),
        seed=SeedSpec("instance-id: x\n", b"#!/bin/sh\necho \xff binary ok\n", "version: 2\n"),
        volumes=(AttachedVolume("vol-data", "/dev/sdf", KEY[::-1]),),
        nic=NicSpec(network, "02:00:00:00:00:05", "10.0.0.5"),
        forwards=(PortForward("127.0.0.1", 0, 22),),
    )


def test_every_port_type_survives_the_wire() -> None:
    spec = _spec()
    assert decode(InstanceSpec, encode(spec)) == spec
    for backing in (
        ImageBacking("ami-1", "qcow2", "ab" * 32),
        SnapshotBacking("snap-1", KEY),
        None,
    ):
        volume = VolumeSpec("vol-1", 8, KEY, backing=backing)
        assert decode(VolumeSpec, encode(volume)) == volume
    states = {"i-1": RuntimeState.RUNNING, "i-2": RuntimeState.SHUT_OFF}
    assert decode(dict[str, RuntimeState], encode(states)) == states
    assert decode(bytes, encode(b"\x00\xff")) == b"\x00\xff"


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (InstanceSpec, {"instance_id": "i-1"}),  # missing fields
        (VolumeSpec, {**encode(VolumeSpec("v", 1, KEY)), "extra": 1}),  # unknown field
        (VolumeSpec, {**encode(VolumeSpec("v", 1, KEY)), "size_gib": "8"}),  # wrong type
        (VolumeSpec, {**encode(VolumeSpec("v", 1, KEY)), "size_gib": True}),  # bool is no int
        (VolumeSpec, {**encode(VolumeSpec("v", 1, KEY)), "backing": "/images/a.qcow2"}),  # a path
        (VolumeSpec, {**encode(VolumeSpec("v", 1, KEY)), "backing": {"image_id": "ami-1"}}),
        (bytes, "not base64!"),
        (RuntimeState, "exploded"),
        (tuple[PortForward, ...], {"not": "a list"}),
    ],
)
def test_what_does_not_match_the_port_is_refused(kind: object, value: object) -> None:
    with pytest.raises((WireError, ValueError, TypeError)):
        decode(kind, value)


def test_the_wire_lists_every_method_of_the_port() -> None:
    from andromede.compute.driver import HypervisorDriver

    methods = {
        name
        for name in dir(HypervisorDriver)
        if not name.startswith("_") and callable(getattr(HypervisorDriver, name))
    }
    # put_image streams its bytes on a request of its own; close closes the client only.
    assert set(CALLS) == methods - {"put_image", "close"}


@pytest.fixture
async def agent(tmp_path: Path) -> AsyncIterator[tuple[Path, MemoryDriver]]:
    driver = MemoryDriver(vcpus=4, memory_mib=4096)
    socket_path = tmp_path / "agent" / "agent.sock"
    stop = asyncio.Event()
    task = asyncio.create_task(serve_agent(driver, socket_path, stop))
    assert await asyncio.to_thread(agent_ready, socket_path, 10.0)
    yield socket_path, driver
    stop.set()
    await task
    assert not socket_path.exists()


def _remote(socket_path: Path) -> RemoteDriver:
    return RemoteDriver(socket_path, host="memory-host")


async def test_a_remote_driver_runs_an_instance_through_the_agent(
    agent: tuple[Path, MemoryDriver],
) -> None:
    socket_path, _driver = agent
    assert stat.S_IMODE(socket_path.parent.stat().st_mode) == 0o700
    remote = _remote(socket_path)
    try:
        assert await remote.capacity() == HostCapacity(
            "memory-host", 4, 4096, Accelerator.TCG, storage_domain="memory-host"
        )
        spec = _spec()
        await remote.create_volume(VolumeSpec("vol-root", 8, KEY))
        await remote.create_volume(VolumeSpec("vol-data", 1, KEY[::-1]))
        started = await remote.start(spec)
        assert await remote.state(spec.instance_id) is RuntimeState.RUNNING
        assert await remote.running() == {spec.instance_id: RuntimeState.RUNNING}
        assert isinstance(await remote.console_output(spec.instance_id), bytes)
        assert await remote.network(spec.instance_id) == started
        forwards = started.forwards
        assert forwards and forwards[0].guest_port == 22 and forwards[0].host_port != 0
        rules = InstanceFirewall(ingress=(FirewallRule("tcp", 22, 22, "10.0.0.0/8"),))
        await remote.set_firewall(spec.instance_id, rules)
        assert _driver.instances[spec.instance_id].firewall == rules
        await remote.create_volume(VolumeSpec("vol-more", 1, KEY))
        await remote.attach_volume(spec.instance_id, AttachedVolume("vol-more", "/dev/sdg", KEY))
        await remote.detach_volume(spec.instance_id, "vol-more")
        await remote.reboot(spec.instance_id)
        await remote.stop(spec.instance_id, timeout=1.0)
        assert await remote.state(spec.instance_id) is RuntimeState.SHUT_OFF
        await remote.grow_volume("vol-data", KEY[::-1], 3)
        assert _driver.volumes["vol-data"].size_gib == 3
        await remote.snapshot_volume("vol-root", KEY, "snap-1", KEY[::-1])
        await remote.copy_snapshot("snap-1", KEY[::-1], "snap-2", KEY)
        assert _driver.snapshots["snap-2"].key == KEY
        await remote.delete_snapshot("snap-1")
        await remote.delete_snapshot("snap-2")
        await remote.kill(spec.instance_id)
        await remote.kill(spec.instance_id)  # idempotent through the wire too
        await remote.release(spec.instance_id)
        assert await remote.state(spec.instance_id) is RuntimeState.ABSENT
        await remote.delete_volume("vol-root")
        await remote.delete_volume("vol-root")
    finally:
        await remote.close()


async def test_two_workers_share_one_host(agent: tuple[Path, MemoryDriver]) -> None:
    socket_path, _driver = agent
    first, second = _remote(socket_path), _remote(socket_path)
    try:
        await first.create_volume(VolumeSpec("vol-root", 8, KEY))
        await first.create_volume(VolumeSpec("vol-data", 1, KEY[::-1]))
        await first.start(_spec())
        # What one worker started, the other stops: the instance has one owner, the agent.
        await second.stop(_spec().instance_id, timeout=1.0)
        assert await first.state(_spec().instance_id) is RuntimeState.SHUT_OFF
    finally:
        await first.close()
        await second.close()


async def test_an_elastic_ip_is_set_and_taken_through_the_agent(
    agent: tuple[Path, MemoryDriver],
) -> None:
    socket_path, driver = agent
    remote = _remote(socket_path)
    try:
        spec = _spec()
        with pytest.raises(AgentCallFailed, match="not running"):
            await remote.set_elastic_ip(spec.instance_id, "192.0.2.10")
        await remote.create_volume(VolumeSpec("vol-root", 8, KEY))
        await remote.create_volume(VolumeSpec("vol-data", 1, KEY[::-1]))
        assert spec.nic is not None
        started = await remote.start(replace(spec, nic=replace(spec.nic, elastic_ip="192.0.2.10")))
        assert driver.instances[spec.instance_id].elastic_ip == "192.0.2.10"
        await remote.set_elastic_ip(spec.instance_id, "192.0.2.11")
        await remote.set_elastic_ip(spec.instance_id, "192.0.2.11")  # what it has: no change
        assert driver.instances[spec.instance_id].elastic_ip == "192.0.2.11"
        with pytest.raises(AgentCallFailed, match="not an IPv4 address"):
            await remote.set_elastic_ip(spec.instance_id, "2001:db8::1")
        await remote.set_elastic_ip(spec.instance_id, None)
        assert driver.instances[spec.instance_id].elastic_ip is None
        # The instance's network as reported is not the Elastic IP's business.
        assert await remote.network(spec.instance_id) == started
        # A stopped instance holds none on its host: its start brings it again.
        await remote.set_elastic_ip(spec.instance_id, "192.0.2.13")
        await remote.stop(spec.instance_id, timeout=1.0)
        assert driver.instances[spec.instance_id].elastic_ip is None
        with pytest.raises(AgentCallFailed, match="not running"):
            await remote.set_elastic_ip(spec.instance_id, None)
        call = CALLS["set_elastic_ip"]
        for address in ("192.0.2.12", None):
            decoded = [decode(kind, encode(value)) for (_, kind), value in zip(
                call.parameters, (spec.instance_id, address), strict=True
            )]  # fmt: skip
            assert decoded == [spec.instance_id, address]
    finally:
        await remote.close()


async def test_a_failure_on_the_host_comes_back_with_its_message(
    agent: tuple[Path, MemoryDriver],
) -> None:
    socket_path, _driver = agent
    remote = _remote(socket_path)
    try:
        with pytest.raises(AgentCallFailed, match="does not exist"):
            await remote.start(_spec())  # its volumes were never created
        await remote.create_volume(VolumeSpec("vol-root", 8, KEY))
        with pytest.raises(AgentCallFailed, match="not running"):
            await remote.attach_volume("i-none", AttachedVolume("vol-root", "/dev/sdf", KEY))
    finally:
        await remote.close()


async def test_malformed_calls_are_refused_before_the_driver(
    agent: tuple[Path, MemoryDriver],
) -> None:
    socket_path, driver = agent
    transport = httpx.AsyncHTTPTransport(uds=str(socket_path))
    async with httpx.AsyncClient(transport=transport, base_url="http://agent") as client:
        assert (await client.post("/v1/no_such_method", json={})).status_code == 404
        assert (await client.get("/v1/capacity")).status_code == 404
        refused = {
            "wrong type": await client.post("/v1/create_volume", json={"spec": {"volume_id": 1}}),
            "extra": await client.post("/v1/kill", json={"instance_id": "i-1", "force": True}),
            "garbage": await client.post("/v1/kill", content=b"{not json"),
            "huge": await client.post("/v1/kill", content=b" " * (2 * 1024 * 1024)),
        }
        assert {name: r.status_code for name, r in refused.items()} == dict.fromkeys(refused, 400)
        assert refused["wrong type"].json()["error"] == "BadRequest"
    assert await driver.running() == {}


async def test_an_agent_that_is_not_there_is_unreachable(tmp_path: Path) -> None:
    remote = _remote(tmp_path / "nobody.sock")
    try:
        with pytest.raises(AgentUnreachable):
            await remote.capacity()
    finally:
        await remote.close()


async def test_a_host_has_one_agent(agent: tuple[Path, MemoryDriver]) -> None:
    socket_path, _driver = agent
    with pytest.raises(AgentAlreadyRunning):
        await serve_agent(MemoryDriver(), socket_path)
    assert await asyncio.to_thread(agent_ready, socket_path, 1.0)  # the first one still serves


async def test_an_agent_asked_to_serve_metadata_needs_a_driver_that_can(tmp_path: Path) -> None:
    async def app(scope: object, receive: object, send: object) -> None:
        return None

    driver = MemoryDriver(vcpus=4, memory_mib=4096)
    with pytest.raises(TypeError, match="cannot serve the metadata service"):
        await serve_agent(driver, tmp_path / "agent" / "agent.sock", metadata_app=app)
    assert not (tmp_path / "agent" / "agent.sock").exists()


# -- images: bytes streamed to the host -------------------------------------------------------

IMAGE = bytes(range(256)) * (4 * 1024 * 5)  # 5 MiB
IMAGE_SHA256 = hashlib.sha256(IMAGE).hexdigest()


async def image_chunks(content: bytes = IMAGE, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(content), size):
        yield content[start : start + size]
        await asyncio.sleep(0)


async def test_an_image_is_streamed_to_the_host_and_verified_there(
    agent: tuple[Path, MemoryDriver],
) -> None:
    socket_path, driver = agent
    remote = _remote(socket_path)
    try:
        assert not await remote.has_image("ami-1", IMAGE_SHA256)
        await remote.put_image("ami-1", IMAGE_SHA256, "raw", image_chunks())
        assert await remote.has_image("ami-1", IMAGE_SHA256)
        assert driver.images["ami-1"].size == len(IMAGE)
        # A volume over it is made on the host from its own copy.
        backing = ImageBacking("ami-1", "raw", IMAGE_SHA256)
        await remote.create_volume(VolumeSpec("vol-1", 1, KEY, backing))
        with pytest.raises(AgentCallFailed, match="still reads"):
            await remote.forget_image("ami-1")
        await remote.delete_volume("vol-1")
        await remote.forget_image("ami-1")
        await remote.forget_image("ami-1")  # absent: nothing to do
        assert not await remote.has_image("ami-1", IMAGE_SHA256)
    finally:
        await remote.close()


async def test_bytes_that_do_not_match_the_checksum_leave_nothing(
    agent: tuple[Path, MemoryDriver],
) -> None:
    socket_path, driver = agent
    remote = _remote(socket_path)
    try:
        altered = IMAGE[:-1] + b"\x00"
        with pytest.raises(AgentCallFailed, match="SHA-256"):
            await remote.put_image("ami-2", IMAGE_SHA256, "raw", image_chunks(altered))
        assert not await remote.has_image("ami-2", IMAGE_SHA256)
        assert "ami-2" not in driver.images
        # The connection is still good for the next call.
        await remote.put_image("ami-2", IMAGE_SHA256, "raw", image_chunks())
        assert await remote.has_image("ami-2", IMAGE_SHA256)
    finally:
        await remote.close()


async def test_two_workers_putting_one_image_at_once_send_it_once(
    agent: tuple[Path, MemoryDriver],
) -> None:
    socket_path, driver = agent
    first, second = _remote(socket_path), _remote(socket_path)
    try:
        await asyncio.gather(
            first.put_image("ami-3", IMAGE_SHA256, "raw", image_chunks()),
            second.put_image("ami-3", IMAGE_SHA256, "raw", image_chunks()),
        )
        assert await second.has_image("ami-3", IMAGE_SHA256)
        assert driver.image_bytes_received == len(IMAGE)  # written once; the other was dropped
    finally:
        await first.close()
        await second.close()


async def test_an_image_put_without_its_checksum_is_refused(
    agent: tuple[Path, MemoryDriver],
) -> None:
    socket_path, driver = agent
    transport = httpx.AsyncHTTPTransport(uds=str(socket_path))
    async with httpx.AsyncClient(transport=transport, base_url="http://agent") as client:
        refused = await client.put("/v1/images/ami-4", content=IMAGE[:1024])
        assert refused.status_code == 400 and refused.json()["error"] == "BadRequest"
        unknown = await client.put(
            "/v1/images/ami-4",
            content=IMAGE[:1024],
            headers={"x-andromede-image-sha256": IMAGE_SHA256, "x-andromede-image-format": "vmdk"},
        )
        assert unknown.status_code == 500 and "format" in unknown.json()["message"]
    assert driver.images == {}


class _CuttingProxy:
    """A unix-socket relay in front of the agent that drops a connection, without an answer,
    when the second request arrives on it: what a gateway sees when the agent closes a kept
    connection at the moment the gateway sends on it."""

    def __init__(self, upstream: Path, path: Path) -> None:
        self.upstream = upstream
        self.path = path
        self.connections = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> _CuttingProxy:
        self._server = await asyncio.start_unix_server(self._relay, path=str(self.path))
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        up_reader, up_writer = await asyncio.open_unix_connection(str(self.upstream))
        requests = 0

        async def answers() -> None:
            while data := await up_reader.read(65536):
                writer.write(data)
                await writer.drain()

        relay_back = asyncio.create_task(answers())
        try:
            while data := await reader.read(65536):
                requests += data.count(b"POST /v1/")
                if requests >= 2:
                    break  # the kept connection dies under the second request
                up_writer.write(data)
                await up_writer.drain()
        finally:
            relay_back.cancel()
            up_writer.close()
            writer.close()


async def test_a_query_on_a_kept_connection_that_broke_is_asked_again(
    agent: tuple[Path, MemoryDriver], tmp_path: Path
) -> None:
    socket_path, _driver = agent
    async with _CuttingProxy(socket_path, tmp_path / "proxy.sock") as proxy:
        remote = _remote(proxy.path)
        try:
            first = await remote.capacity()
            # The second query goes out on the kept connection, which breaks: asked again on
            # a new one, it is answered — not a host taken for unreachable.
            assert await remote.capacity() == first
            assert proxy.connections == 2
        finally:
            await remote.close()


async def test_a_call_that_acts_is_sent_once(
    agent: tuple[Path, MemoryDriver], tmp_path: Path
) -> None:
    socket_path, driver = agent
    async with _CuttingProxy(socket_path, tmp_path / "proxy.sock") as proxy:
        remote = _remote(proxy.path)
        try:
            await remote.capacity()
            with pytest.raises(AgentUnreachable):
                await remote.create_volume(VolumeSpec("vol-once", 1, KEY))
            assert proxy.connections == 1
            assert "vol-once" not in driver.volumes
        finally:
            await remote.close()


def test_the_agent_keeps_idle_connections_longer_than_gateways_do() -> None:
    """A gateway drops an idle connection before the agent closes it, so it never sends a call
    on a connection being closed (both at 5 s, httpx's and uvicorn's defaults, raced)."""
    app = object()
    server = _quiet_server(app, uds="/nonexistent/agent.sock")  # type: ignore[arg-type]
    assert server.config.timeout_keep_alive == KEEP_ALIVE_SECONDS
    assert _KEEPALIVE_EXPIRY < KEEP_ALIVE_SECONDS
