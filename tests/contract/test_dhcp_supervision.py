"""Decision 0378 on the real kernel: a subnet's DHCP server (dnsmasq, one per subnet, decision
0106) killed with SIGKILL, as the OOM killer does, is found dead by the host's supervision and
started again alone: a guest booting after the kill gets its lease within the bound, a running
guest renewing keeps its address, a guest asking for another's address is given its own, and
one copy runs. As test_tenant_networks.py: "guests" are namespaces asking with busybox's
``udhcpc``; needs root and ``ip``, ``nft``, ``dnsmasq``, ``busybox``."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import signal
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from andromede.compute.driver import SupervisedProcesses
from andromede.compute.driver_network import NetworkSpec, NicSpec
from andromede.compute_adapters import hypervisor_host_driver
from andromede.hypervisor.agent import agent_ready, serve_agent
from andromede.hypervisor.remote import RemoteDriver
from andromede.hypervisor.tenant_network import NetworkLayout, TenantNetworks
from andromede.settings import Settings
from support.router_processes import copies, gone
from support.tenant_networks import Guest, guest, needs_root_and_tools, random_layout

__all__ = ["needs_root_and_tools"]  # the fixture this module takes from support

A_IP, B_IP = "10.9.1.5", "10.9.1.6"


def _lease(client: Guest, asked: str) -> str:
    """What ``udhcpc`` tells of one try (3 discovers, 1 s apart) asking for ``asked``; the
    script given changes nothing of the guest's interface."""
    done = client.run(
        "busybox", "udhcpc", "-i", "eth0", "-f", "-n", "-q", "-t", "3", "-T", "1",
        "-r", asked, "-s", "/bin/true", timeout=30,
    )  # fmt: skip
    return done.stdout + done.stderr


async def _leased(client: Guest, asked: str, label: str) -> tuple[float, str]:
    """Seconds until ``client`` obtains a lease (asking for ``asked``), 40 s at most, and the
    address it got."""
    start = time.monotonic()
    while True:
        said = await asyncio.to_thread(_lease, client, asked)
        obtained = re.search(r"lease of (\S+) obtained", said)
        if obtained:
            return time.monotonic() - start, obtained[1]
        assert time.monotonic() - start < 40, f"{label}: no lease: {said[-300:]}"
        await asyncio.sleep(0.2)


async def test_a_killed_dhcp_server_is_started_again_with_its_leases(short_dir: Path) -> None:
    layout = replace(random_layout("h"), dns_supervise_interval=1.0)
    # Where the host's QEMU driver keeps them (<hypervisor_state_dir>/networks): its agent
    # reads them after the restart below. A short folder, not tmp_path: that driver refuses a
    # state directory too long for its QMP socket paths (CI's tmp_path is).
    manager = TenantNetworks(short_dir / "networks", layout)
    subnet = NetworkSpec(
        network_id="subnet-" + secrets.token_hex(4),
        tenant_id="111111111111",
        cidr="10.9.1.0/24",
        vpc_id="vpc-" + secrets.token_hex(4),
        vpc_cidr="10.9.0.0/16",
    )
    running = NicSpec(network=subnet, mac="02:00:00:00:09:05", private_ip=A_IP)
    booting = NicSpec(network=subnet, mac="02:00:00:00:09:06", private_ip=B_IP)
    supervision = asyncio.create_task(manager.supervise_dns_forever())
    try:
        async with guest(manager, "i-a", running) as a, guest(manager, "i-b", booting) as b:
            assert (await _leased(a, A_IP, "before"))[1] == A_IP
            pidfile = manager._dhcp_pidfile(subnet.network_id)
            others = {
                p: p.read_text() for p in (short_dir / "networks").glob("*.pid") if p != pidfile
            }
            killed = int(pidfile.read_text())
            os.kill(killed, signal.SIGKILL)
            await gone(killed)
            # A guest booting now: no address yet, and asking for the running guest's.
            b.run("ip", "addr", "flush", "dev", "eth0")
            seconds, given = await _leased(b, A_IP, "booting")
            assert seconds < 20, f"a lease again after {seconds:.1f} s"
            assert given == B_IP  # its own static lease, never the running guest's
            # The running guest's renewal: its address kept.
            assert (await _leased(a, A_IP, "renewal"))[1] == A_IP
            assert A_IP in a.run("ip", "-4", "-o", "addr", "show", "dev", "eth0").stdout
            assert copies(pidfile) == [int(pidfile.read_text())] != [killed]
            # The router's other processes left running as they were.
            assert {p: p.read_text() for p in others} == others
            assert manager.process_restarts()["dhcp"] == 1
            await _counted_across_an_agent_restart(manager, supervision, layout, pidfile)
    finally:
        supervision.cancel()
        await asyncio.gather(supervision, return_exceptions=True)
        for network_id in list(manager._state.networks):
            await manager.remove(network_id)


async def _counted_across_an_agent_restart(
    before: TenantNetworks, supervision: asyncio.Task[None], layout: NetworkLayout, pidfile: Path
) -> None:
    """Decision 0389: the agent stops (its supervision with it), the DHCP server dies
    meanwhile and is seen down; the next agent, over the same state directory, counts on from
    the restarts of the one before, and starts the server again."""
    supervision.cancel()
    await asyncio.gather(supervision, return_exceptions=True)
    state_dir = pidfile.parent
    killed = int(pidfile.read_text())
    os.kill(killed, signal.SIGKILL)
    await gone(killed)
    assert before.supervised_processes()["dhcp"] == SupervisedProcesses(1, up=0, down=1)
    after = TenantNetworks(state_dir, layout)
    assert after.supervised_processes()["dhcp"] == SupervisedProcesses(1, up=0, down=1)
    resumed = asyncio.create_task(after.supervise_dns_forever())
    try:
        deadline = time.monotonic() + 40
        while after.supervised_processes()["dhcp"] != SupervisedProcesses(2, up=1, down=0):
            assert time.monotonic() < deadline, after.supervised_processes()
            await asyncio.sleep(0.2)
        assert copies(pidfile) == [int(pidfile.read_text())] != [killed]
        # Kept on disk as it is counted: a third agent, the host's real one this time,
        # answers 2 on its wire, with the server up.
        assert (await _agents_answer(state_dir.parent, layout))["dhcp"] == SupervisedProcesses(
            2, up=1, down=0
        )
    finally:
        resumed.cancel()
        await asyncio.gather(resumed, return_exceptions=True)


async def _agents_answer(
    hypervisor_state_dir: Path, layout: NetworkLayout
) -> dict[str, SupervisedProcesses]:
    """What an agent serving this host's QEMU driver over ``hypervisor_state_dir`` (with the
    test's address plan) answers a gateway's ``supervised_processes``."""
    settings = Settings(
        data_dir=hypervisor_state_dir / "data",
        hypervisor_state_dir=hypervisor_state_dir,
        hypervisor_host_name="host-a",
        hypervisor_link_prefix=layout.link_prefix,
        hypervisor_transit_cidr=layout.transit_cidr,
        hypervisor_public_cidr=layout.public_cidr,
    )
    driver = hypervisor_host_driver(settings)
    stop = asyncio.Event()
    # A short folder: the agent's socket path must fit in 107 bytes.
    with tempfile.TemporaryDirectory(prefix="andromede-dh-", dir="/tmp") as short:
        socket_path = Path(short) / "agent.sock"
        agent = asyncio.create_task(serve_agent(driver, socket_path, stop))
        remote = RemoteDriver(socket_path, host="host-a", timeout=30.0)
        try:
            assert await asyncio.to_thread(agent_ready, socket_path, 20.0)
            return await remote.supervised_processes()
        finally:
            await remote.close()
            stop.set()
            await asyncio.wait_for(agent, 30)
