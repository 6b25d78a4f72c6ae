"""A host given an underlay holds it: the probe, and the driver that will not start without it.

Reading a namespace's addresses needs no privilege (``ip -o -4 addr show``), so these run as
any user; only the ``ip`` command is needed (iproute2, installed by
scripts/install-system-deps.sh).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from andromede.compute.driver import NetworkMode
from andromede.hypervisor import HypervisorError, QemuDriver, QemuDriverConfig
from andromede.hypervisor.network_probe import probe_underlay
from andromede.hypervisor.tenant_network import NetworkLayout

# TEST-NET-1 (RFC 5737): documentation only, never an address of a real host.
NOBODYS = "192.0.2.77"


@pytest.fixture(autouse=True)
def _needs_ip() -> None:
    if shutil.which("ip") is None and shutil.which("ip", path="/usr/sbin:/sbin") is None:
        pytest.skip("the ip command is not installed (iproute2; scripts/install-system-deps.sh)")


async def test_an_address_of_this_host_is_an_underlay() -> None:
    assert await probe_underlay("127.0.0.1") is None


async def test_an_address_nobody_here_holds_is_not() -> None:
    reason = await probe_underlay(NOBODYS)
    assert reason == f"{NOBODYS} is not an address of this host's network namespace"


async def test_a_namespace_that_does_not_exist_is_said() -> None:
    reason = await probe_underlay("127.0.0.1", "andromede-no-such-netns")
    assert reason is not None and "andromede-no-such-netns" in reason


def _driver(state_dir: Path, underlay: str, netns: str = "") -> QemuDriver:
    layout = NetworkLayout(underlay_address=underlay, underlay_netns=netns)
    return QemuDriver(
        state_dir, config=QemuDriverConfig(networking="bridge", network_layout=layout)
    )


async def _bridging_works(link_prefix: str, *, timeout: float) -> None:
    return None


async def test_a_host_without_its_underlay_does_not_start_tenant_networks(
    monkeypatch: pytest.MonkeyPatch, short_dir: Path
) -> None:
    monkeypatch.setattr("andromede.hypervisor.qemu.probe_bridging", _bridging_works)
    with pytest.raises(HypervisorError, match=f"underlay.*{NOBODYS} is not an address"):
        await _driver(short_dir, NOBODYS).networking()
    with pytest.raises(HypervisorError, match="andromede-no-such-netns"):
        await _driver(short_dir, "127.0.0.1", "andromede-no-such-netns").networking()


async def test_a_host_holding_its_underlay_builds_tenant_networks(
    monkeypatch: pytest.MonkeyPatch, short_dir: Path
) -> None:
    monkeypatch.setattr("andromede.hypervisor.qemu.probe_bridging", _bridging_works)
    assert await _driver(short_dir, "127.0.0.1").networking() is NetworkMode.BRIDGE
    # No underlay, no check: a host whose networks stay its own.
    assert await _driver(short_dir, "").networking() is NetworkMode.BRIDGE
