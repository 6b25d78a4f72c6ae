"""The QEMU driver's networking pieces that need no guest: user mode's reading of security
groups, how an instance's wiring is kept on disk, the metadata listeners, the mode choice."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from andromede.compute.driver import (
    AttachedVolume,
    InstanceNetwork,
    InstanceSpec,
    NetworkMode,
    PortForward,
    SeedSpec,
)
from andromede.compute.driver_network import (
    FirewallRule,
    InstanceFirewall,
    NetworkSpec,
    NicSpec,
)
from andromede.http.response import Receive, Scope, Send
from andromede.hypervisor import HypervisorError, QemuDriver, QemuDriverConfig
from andromede.hypervisor.dnsmasq_process import terminate
from andromede.hypervisor.metadata_listeners import MetadataListeners
from andromede.hypervisor.process import QemuProcess
from andromede.hypervisor.tenant_network import (
    NetworkCommandError,
    NetworkLayout,
    TenantNetworks,
)
from andromede.hypervisor.user_network import ingress_allows_tcp, user_netdev

SSH = PortForward("127.0.0.1", 2222, 22)


def _spec(firewall: InstanceFirewall, nic: NicSpec | None = None) -> InstanceSpec:
    root = AttachedVolume("vol-1", "/dev/xvda", b"k" * 32)
    return InstanceSpec("i-1", 1, 128, root, SeedSpec("{}", b"", "{}"), nic=nic, firewall=firewall)


@pytest.mark.parametrize(
    ("rule", "opened"),
    [
        (FirewallRule("tcp", 22, 22, "0.0.0.0/0"), True),
        (FirewallRule("tcp", 20, 30, "10.0.0.0/8"), True),  # slirp cannot tell peers apart
        (FirewallRule("-1", 0, 0, "0.0.0.0/0"), True),
        (FirewallRule("tcp", 80, 443, "0.0.0.0/0"), False),
        (FirewallRule("udp", 22, 22, "0.0.0.0/0"), False),
        (FirewallRule("icmp", -1, -1, "0.0.0.0/0"), False),
    ],
)
def test_user_mode_forwards_only_what_an_ingress_rule_allows(
    rule: FirewallRule, opened: bool
) -> None:
    assert ingress_allows_tcp(InstanceFirewall(ingress=(rule,)), SSH) is opened
    assert ingress_allows_tcp(InstanceFirewall(), SSH) is False  # the default denies


def test_a_user_mode_guest_allowed_no_egress_is_restricted() -> None:
    nic = NicSpec(NetworkSpec("n", "t", "10.1.0.0/24"), "02:00:00:00:00:07", "10.1.0.7")
    netdev = user_netdev(_spec(InstanceFirewall(), nic), (SSH,), restrict=True)
    assert netdev.split(",") == [
        "user", "id=net0", "restrict=on", "net=10.1.0.0/24", "host=10.1.0.1",
        "dhcpstart=10.1.0.7", "hostfwd=tcp:127.0.0.1:2222-:22",
    ]  # fmt: skip
    assert "restrict" not in user_netdev(_spec(InstanceFirewall()), (), restrict=False)


def test_an_instances_wiring_is_kept_beside_its_process(tmp_path: Path) -> None:
    process = QemuProcess(tmp_path / "i-1")
    process.prepare()
    # Before any record (an instance started by an older driver): user mode, its forwards.
    process.write_forwards([SSH])
    assert process.network() == InstanceNetwork(NetworkMode.USER, forwards=(SSH,))
    bridged = InstanceNetwork(NetworkMode.BRIDGE, "10.0.0.5", "100.65.0.1")
    process.write_network(bridged)
    assert process.network() == bridged
    assert QemuProcess(tmp_path / "i-1").network() == bridged  # another driver reads it
    record = json.loads((tmp_path / "i-1" / "network.json").read_text())
    assert record["format"] == 1
    (tmp_path / "i-1" / "network.json").write_text('{"format": 99, "network": {}}')
    assert process.network().mode is NetworkMode.USER  # an unknown format is not guessed at


async def _who_asks(scope: Scope, receive: Receive, send: Send) -> None:
    body = f"for {scope['client'][0]}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


async def test_metadata_listeners_open_and_close_per_address() -> None:
    port = 20000 + secrets.randbelow(20000)
    listeners = MetadataListeners(_who_asks, port)
    # Two loopback addresses stand in for two networks' transit addresses.
    await listeners.network_up("127.0.0.2")
    await listeners.network_up("127.0.0.2")  # idempotent
    await listeners.network_up("127.0.0.3")
    try:
        assert listeners.addresses() == {"127.0.0.2", "127.0.0.3"}
        async with httpx.AsyncClient() as client:
            answer = await client.get(f"http://127.0.0.2:{port}/latest/meta-data/")
            assert answer.text == "for 127.0.0.1"
            # Bound to its addresses, not to every address of the host.
            with pytest.raises(httpx.ConnectError):
                await client.get(f"http://127.0.0.4:{port}/")
            await listeners.network_down("127.0.0.2")
            await listeners.network_down("127.0.0.2")  # idempotent
            with pytest.raises(httpx.ConnectError):
                await client.get(f"http://127.0.0.2:{port}/")
            assert (await client.get(f"http://127.0.0.3:{port}/")).status_code == 200
    finally:
        await listeners.close()
    assert listeners.addresses() == set()
    # The port is free again on every address it held.
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.3", port)
    server.close()
    await server.wait_closed()


async def test_a_host_told_user_mode_says_so_without_probing(
    short_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    driver = QemuDriver(short_dir, config=QemuDriverConfig(networking="user"))
    with caplog.at_level(logging.INFO, logger="andromede.hypervisor.qemu"):
        assert await driver.networking() is NetworkMode.USER
        assert await driver.networking() is NetworkMode.USER
    assert caplog.text.count("networking: user mode") == 1


async def test_bridge_mode_refused_by_the_host_is_an_error_not_a_fallback(
    monkeypatch: pytest.MonkeyPatch, short_dir: Path
) -> None:
    async def cannot(link_prefix: str, *, timeout: float) -> str:
        return "missing commands: dnsmasq"

    monkeypatch.setattr("andromede.hypervisor.qemu.probe_bridging", cannot)
    forced = QemuDriver(short_dir, config=QemuDriverConfig(networking="bridge"))
    with pytest.raises(HypervisorError, match="dnsmasq"):
        await forced.networking()
    automatic = QemuDriver(short_dir, config=QemuDriverConfig(networking="auto"))
    assert await automatic.networking() is NetworkMode.USER


# -- tenant network pieces that need no namespace ------------------------------------------


def test_transit_links_are_computed_as_the_cidr_lists_them(tmp_path: Path) -> None:
    for transit in ("100.64.0.0/24", "100.64.0.0/16", "10.9.8.0/29"):
        networks = TenantNetworks(
            tmp_path,
            NetworkLayout(transit_cidr=transit, public_cidr="100.99.0.0/24"),
        )
        links = list(ipaddress.IPv4Network(transit).subnets(new_prefix=30))
        for index in {0, 1, len(links) // 2, len(links) - 1}:
            hosts = list(links[index].hosts())
            assert networks._transit(index) == (str(hosts[0]), str(hosts[1]))
        with pytest.raises(NetworkCommandError):
            networks._transit(len(links))
        with pytest.raises(NetworkCommandError):
            networks._transit(-1)


def _ignores_sigterm() -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-c",
         "import signal,time,sys; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
         "print('ready', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None and process.stdout.readline() == b"ready\n"
    return process


async def test_terminate_waits_for_the_exit_and_kills_what_ignores_sigterm() -> None:
    polite = subprocess.Popen(["sleep", "60"])
    started = time.monotonic()
    await terminate(polite.pid, 5.0)
    assert time.monotonic() - started < 2  # woken by the exit, not by the timeout
    assert polite.wait(timeout=5) == -signal.SIGTERM
    stubborn = _ignores_sigterm()
    started = time.monotonic()
    await terminate(stubborn.pid, 0.3)
    assert 0.3 <= time.monotonic() - started < 3
    assert stubborn.wait(timeout=5) == -signal.SIGKILL
    assert stubborn.stdout is not None
    stubborn.stdout.close()
    await terminate(stubborn.pid, 0.3)  # gone (reaped) already: nothing to do
