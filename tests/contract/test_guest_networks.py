"""Real guests on tenant networks: the QEMU driver in bridge mode, behind its agent.

The guests are the busybox image of tests/support/guest_images.py; their shell user data takes
the private address by DHCP, then listens (``nc -l``) or probes its peers (``nc``) in
a loop, printing what it got on the serial console, which the tests read. Three guests in all,
booted once for the whole story (each TCG boot costs seconds on a loaded machine):

- ``b`` listens on 8000 and 22 on tenant 1's network;
- ``a`` on the same network probes ``b``:8000 and asks 169.254.169.254 for its metadata;
- ``c`` on tenant 2's network — the same 10.0.0.0/24, ``a``'s very address — probes ``b`` by
  its private address (nobody in ``c``'s network) and by its public one.

Then a VPC's router (decision 0106), three more guests: ``a`` and ``b`` in two subnets of one
VPC, ``c`` in another VPC of the same tenant on the same block, without a public address.

The agent serves a test ASGI app as the metadata service; it answers with the peer address it
sees, which must be the asking instance's public address (decision 0016).

Needs root and ``ip``, ``nft``, ``dnsmasq``, ``bridge`` (skipped otherwise; CI requires them).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from andromede.compute.driver import (
    AttachedVolume,
    InstanceNetwork,
    InstanceSpec,
    NetworkMode,
    PortForward,
    RuntimeState,
    SeedSpec,
    VolumeSpec,
)
from andromede.compute.driver_network import (
    FirewallRule,
    InstanceFirewall,
    NetworkSpec,
    NicSpec,
)
from andromede.http.response import Receive, Scope, Send
from andromede.hypervisor import QemuDriver, QemuDriverConfig
from andromede.hypervisor.agent import agent_ready, serve_agent
from andromede.hypervisor.network_probe import REQUIRED_TOOLS, probe_bridging
from andromede.hypervisor.remote import RemoteDriver
from andromede.hypervisor.tenant_network import NetworkLayout
from andromede.hypervisor.wire import decode, encode
from support.guest_images import GuestImage, GuestImageUnavailable, build_guest_image
from support.host_images import put_file_image
from support.tenant_networks import random_ranges

pytestmark = pytest.mark.slow

BOOT_TIMEOUT = 240.0  # three TCG guests at once on a loaded 2-core machine
PROBE_TIMEOUT = 120.0


async def metadata_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Stands in for the metadata app: says who asks, as the server sees the peer."""
    if scope["type"] != "http":
        return
    body = f"metadata-for-{scope['client'][0]}".encode()
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@dataclass
class BridgedHost:
    driver: RemoteDriver  # as the gateway's workers reach the agent
    local: QemuDriver  # the agent's own driver, for what only the host sees
    config: QemuDriverConfig
    state_dir: Path
    layout: NetworkLayout
    image: GuestImage


def random_layout() -> NetworkLayout:
    # Each run (and xdist worker) its own address plan and link names, as in
    # test_tenant_networks.py: random /24s clear of the e2e servers' blocks.
    transit, public = random_ranges()
    return NetworkLayout(
        transit_cidr=transit,
        public_cidr=public,
        imds_port=20000 + secrets.randbelow(20000),
        link_prefix="g" + secrets.token_hex(2),
    )


@pytest.fixture(scope="module")
def guest_image() -> GuestImage:
    missing = [t for t in ("qemu-system-x86_64", "qemu-img") if shutil.which(t) is None]
    if missing:
        pytest.skip(f"QEMU is not installed ({', '.join(missing)}; scripts/install-system-deps.sh)")
    try:
        return build_guest_image()
    except GuestImageUnavailable as exc:
        pytest.skip(f"cannot build the test guest image: {exc}")


@pytest.fixture
async def bridged(guest_image: GuestImage) -> AsyncIterator[BridgedHost]:
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
    if missing or os.geteuid() != 0:
        pytest.skip(f"tenant networks need root and {', '.join(missing) or 'root'}")
    refused = await probe_bridging("gprobe")
    if refused is not None:
        pytest.skip(f"this host cannot build tenant networks: {refused}")
    layout = random_layout()
    config = QemuDriverConfig(networking="bridge", network_layout=layout)
    state_dir = Path(tempfile.mkdtemp(prefix="andromede-net-", dir="/tmp"))
    local = QemuDriver(state_dir, host="test-host", config=config)
    socket_path = state_dir / "agent" / "agent.sock"
    stop = asyncio.Event()
    serving = asyncio.create_task(serve_agent(local, socket_path, stop, metadata_app=metadata_app))
    assert await asyncio.to_thread(agent_ready, socket_path, 60.0)
    remote = RemoteDriver(socket_path, host=local.host)
    try:
        yield BridgedHost(remote, local, config, state_dir, layout, guest_image)
    finally:
        for instance_id in await local.running():
            await local.kill(instance_id)
            await local.release(instance_id)
        await remote.close()
        stop.set()
        await serving
        for network_id in list(local._networks._state.networks):
            await local._networks.remove(network_id)
        shutil.rmtree(state_dir, ignore_errors=True)


DHCP = """#!/bin/sh
printf '#!/bin/sh\\n[ "$1" = bound ] || exit 0\\nip addr add "$ip/$mask" dev "$interface"\\n' \\
  > /run/dhcp-event
printf '[ -z "$router" ] || ip route add default via "$router"\\n' >> /run/dhcp-event
printf 'echo "andromede-dhcp ip=$ip mac=$(cat /sys/class/net/$interface/address)"\\n' \\
  >> /run/dhcp-event
chmod +x /run/dhcp-event
ip link set eth0 up
udhcpc -i eth0 -n -q -t 30 -s /run/dhcp-event
"""

SERVER = (
    DHCP
    + """
(while true; do echo hello-from-b | nc -l -p 8000; done) > /dev/null 2>&1 &
(while true; do echo ssh-from-b | nc -l -p 22; done) > /dev/null 2>&1 &
echo andromede-listening
"""
)


def prober(targets: dict[str, tuple[str, int]], *, metadata: bool) -> str:
    """User data printing ``andromede-probe-<name> got=<answer>`` for each target, every
    second or so; and once ``andromede-imds got=<answer>`` when ``metadata``."""
    loop = "".join(
        f"  r=$(nc -w 2 {address} {port} </dev/null 2>/dev/null | head -c 40)\n"
        f'  echo "andromede-probe-{name} got=$r"\n'
        for name, (address, port) in targets.items()
    )
    script = DHCP + f"(while true; do\n{loop}  sleep 1\ndone) &\n"
    if metadata:
        script += """(i=0; while [ $i -lt 120 ]; do
  # busybox-static's wget crashes in its resolver: HTTP by hand over nc.
  r=$(printf 'GET /latest/meta-data/ HTTP/1.0\\r\\nHost: 169.254.169.254\\r\\n\\r\\n' |
    nc -w 3 169.254.169.254 80 2>/dev/null | tail -n 1)
  [ -n "$r" ] && echo "andromede-imds got=$r" && break
  i=$((i + 1)); sleep 1
done) &
"""
    return script + "echo andromede-probing\n"


async def make_root(driver: RemoteDriver, image: GuestImage) -> AttachedVolume:
    volume_id, key = f"vol-{secrets.token_hex(9)[:17]}", secrets.token_bytes(32)
    backing = await put_file_image(driver, image.disk, "raw")
    await driver.create_volume(VolumeSpec(volume_id, 1, key, backing=backing))
    return AttachedVolume(volume_id, "/dev/xvda", key)


async def spec(
    host: BridgedHost, nic: NicSpec, user_data: str, firewall: InstanceFirewall
) -> InstanceSpec:
    instance_id = f"i-{secrets.token_hex(9)[:17]}"
    seed = SeedSpec(
        meta_data=json.dumps({"instance-id": instance_id, "local-hostname": instance_id}),
        user_data=user_data.encode(),
        network_config='{"version": 2}\n',
    )
    root = await make_root(host.driver, host.image)
    # A forward is user mode's business: in bridge mode it is not opened.
    return InstanceSpec(
        instance_id, 1, 128, root, seed, nic=nic, firewall=firewall,
        forwards=(PortForward("127.0.0.1", 0, 22),),
    )  # fmt: skip


async def console(driver: RemoteDriver, instance_id: str) -> str:
    return (await driver.console_output(instance_id)).decode(errors="replace")


async def wait_for(
    driver: RemoteDriver, instance_id: str, done: Callable[[str], bool], timeout: float
) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = await console(driver, instance_id)
        if done(text):
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"console of {instance_id} after {timeout:g}s:\n{text[-3000:]}")
        await asyncio.sleep(0.5)


def probes(text: str, name: str) -> list[str]:
    """The answers of one probe so far, in order."""
    marker = f"andromede-probe-{name} got="
    return [line.split(marker, 1)[1].strip() for line in text.splitlines() if marker in line]


# A read expected to get nothing waits 3 s; one expected to get an answer waits up to 20, which
# costs nothing when the guest answers promptly (a TCG guest on a loaded machine may not).
ANSWERED_WITHIN = 20.0


async def host_reads(address: str, port: int, timeout: float = 3.0) -> bytes:
    """What the peer sends on a connection from the host ("" when nothing answers)."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(address, port), timeout)
    except (OSError, TimeoutError):
        return b""
    try:
        return await asyncio.wait_for(reader.read(100), timeout)
    except (OSError, TimeoutError):
        return b""
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def command_output(*command: str) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=False).stdout


def processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if text.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
    return found


ALL_IN = InstanceFirewall(ingress=(FirewallRule("-1", 0, 0, "0.0.0.0/0"),))


async def test_tenant_networks_isolate_tenants_and_apply_security_groups_to_real_guests(
    bridged: BridgedHost,
) -> None:
    driver = bridged.driver
    capacity = await driver.capacity()
    assert capacity.networking is NetworkMode.BRIDGE

    # Two tenants' VPCs on the same block, each with a subnet on the same range.
    first, second = (
        NetworkSpec(
            f"subnet-{secrets.token_hex(4)}", tenant, "10.0.0.0/24",
            vpc_id=f"vpc-{secrets.token_hex(4)}", vpc_cidr="10.0.0.0/16",
        )
        for tenant in ("111111111111", "222222222222")
    )  # fmt: skip
    b_nic = NicSpec(first, "02:00:0a:00:00:06", "10.0.0.6")
    a_nic = NicSpec(first, "02:00:0a:00:00:05", "10.0.0.5")
    c_nic = NicSpec(second, "02:00:0b:00:00:05", "10.0.0.5")  # a's address, other tenant

    # b first: its public address goes into c's user data. No ingress rule yet.
    b = await spec(bridged, b_nic, SERVER, InstanceFirewall())
    b_network = await driver.start(b)
    assert b_network.mode is NetworkMode.BRIDGE
    assert b_network.private_ip == "10.0.0.6" and b_network.forwards == ()
    assert b_network.public_ip is not None
    b_public = b_network.public_ip
    a = await spec(
        bridged, a_nic, prober({"b": ("10.0.0.6", 8000)}, metadata=True), InstanceFirewall()
    )
    c = await spec(
        bridged,
        c_nic,
        prober({"private": ("10.0.0.6", 8000), "public": (b_public, 8000)}, metadata=False),
        InstanceFirewall(),
    )
    a_network, c_network = await asyncio.gather(driver.start(a), driver.start(c))
    assert a_network.public_ip not in (None, b_public, c_network.public_ip)
    assert await driver.network(b.instance_id) == b_network

    # Each guest took its own address and MAC by DHCP from its network.
    for guest, nic in ((b, b_nic), (a, a_nic), (c, c_nic)):
        text = await wait_for(
            driver, guest.instance_id, lambda t: "andromede-dhcp" in t, BOOT_TIMEOUT
        )
        assert f"andromede-dhcp ip={nic.private_ip} mac={nic.mac}" in text
    await wait_for(driver, b.instance_id, lambda t: "andromede-listening" in t, BOOT_TIMEOUT)

    # b's groups allow nothing in: a probes in vain, the host reaches no port 22.
    text = await wait_for(driver, a.instance_id, lambda t: len(probes(t, "b")) >= 2, PROBE_TIMEOUT)
    assert set(probes(text, "b")) == {""}
    assert await host_reads(b_public, 22) == b""

    # Whatever a's groups say, the metadata service answers it, and sees its public address.
    text = await wait_for(
        driver, a.instance_id, lambda t: "andromede-imds got=" in t, PROBE_TIMEOUT
    )
    assert f"andromede-imds got=metadata-for-{a_network.public_ip}" in text

    # Opening b to everyone takes effect on the running guests.
    await driver.set_firewall(b.instance_id, ALL_IN)
    text = await wait_for(
        driver, a.instance_id, lambda t: "hello-from-b" in probes(t, "b"), PROBE_TIMEOUT
    )
    assert await host_reads(b_public, 22, timeout=ANSWERED_WITHIN) == b"ssh-from-b\n"
    # c, on another tenant's network with the same range, still reaches b by no address.
    seen = len(probes(await console(driver, c.instance_id), "public"))
    text = await wait_for(
        driver,
        c.instance_id,
        lambda t: len(probes(t, "public")) >= seen + 3 and len(probes(t, "private")) >= seen + 3,
        PROBE_TIMEOUT,
    )
    assert set(probes(text, "public")) == {""} and set(probes(text, "private")) == {""}

    # Narrowed to SSH only: a's probes of 8000 fail again, the host still reaches 22.
    ssh_only = InstanceFirewall(ingress=(FirewallRule("tcp", 22, 22, "0.0.0.0/0"),))
    await driver.set_firewall(b.instance_id, ssh_only)
    seen = len(probes(await console(driver, a.instance_id), "b"))
    text = await wait_for(
        driver, a.instance_id, lambda t: len(probes(t, "b")) >= seen + 3, PROBE_TIMEOUT
    )
    assert set(probes(text, "b")[seen + 1 :]) == {""}
    assert await host_reads(b_public, 22, timeout=ANSWERED_WITHIN) == b"ssh-from-b\n"

    # A new driver on the same state (an agent restart) finds the guests and how they are wired.
    again = QemuDriver(bridged.state_dir, host="test-host", config=bridged.config)
    found = await again.running()
    assert {i: found[i] for i in (a.instance_id, b.instance_id, c.instance_id)} == {
        a.instance_id: RuntimeState.RUNNING,
        b.instance_id: RuntimeState.RUNNING,
        c.instance_id: RuntimeState.RUNNING,
    }
    assert await again.network(b.instance_id) == b_network
    assert await again.network(c.instance_id) == c_network
    await again.close()
    # The rebuilt rules are the same.
    assert await host_reads(b_public, 22, timeout=ANSWERED_WITHIN) == b"ssh-from-b\n"

    # Stopped, b keeps its NIC: same private and public address at its next start.
    await driver.kill(b.instance_id)
    assert await driver.network(b.instance_id) is None
    restarted = await driver.start(replace(b, firewall=ssh_only))
    assert restarted == b_network

    # Terminated: nothing of the guests or their networks remains on the host.
    prefix = bridged.layout.link_prefix
    transit_ips = set(bridged.local._networks.host_transit_ips())
    assert bridged.local._metadata is not None
    assert bridged.local._metadata.addresses() == transit_ips
    for guest in (a, b, c):
        await driver.kill(guest.instance_id)
        await driver.release(guest.instance_id)
        await driver.release(guest.instance_id)  # idempotent
        assert await driver.state(guest.instance_id) is RuntimeState.ABSENT
        await driver.delete_volume(guest.root.volume_id)
    assert bridged.local._metadata.addresses() == set()
    assert processes_mentioning(str(bridged.state_dir)) == []  # QEMU and dnsmasq
    assert f"{prefix}-" not in command_output("ip", "netns", "list")
    assert f"{prefix}t" not in command_output("ip", "link")
    routes = command_output("ip", "route")
    for network in (a_network, b_network, c_network):
        assert f"{network.public_ip} " not in routes
    for address in transit_ips:
        assert address not in command_output("ip", "addr")
    # The rules lived in the namespaces, gone with them; the host's own ruleset held only the
    # metadata guard of this host's link prefix, gone with the last network. (Other tests'
    # hosts may hold theirs meanwhile.)
    tables = command_output("nft", "list", "tables").splitlines()
    assert f"table inet andromede_imds_{prefix}" not in tables
    assert [t for t in tables if "andromede" in t and "andromede_imds_" not in t] == []


async def test_a_host_that_is_told_user_mode_does_not_probe_and_says_so(
    guest_image: GuestImage,
) -> None:
    state_dir = Path(tempfile.mkdtemp(prefix="andromede-net-", dir="/tmp"))
    try:
        driver = QemuDriver(state_dir, config=QemuDriverConfig(networking="user"))
        assert (await driver.capacity()).networking is NetworkMode.USER
        await driver.close()
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)


def test_instance_network_records_survive_the_wire() -> None:
    network = InstanceNetwork(NetworkMode.BRIDGE, "10.0.0.5", "100.65.0.1")
    assert decode(InstanceNetwork, json.loads(json.dumps(encode(network)))) == network


async def test_a_vpcs_subnets_reach_each_other_and_nobody_else_with_real_guests(
    bridged: BridgedHost,
) -> None:
    driver = bridged.driver
    tenant = "111111111111"
    vpc, other_vpc = f"vpc-{secrets.token_hex(4)}", f"vpc-{secrets.token_hex(4)}"

    def subnet(vpc_id: str, cidr: str) -> NetworkSpec:
        return NetworkSpec(
            f"subnet-{secrets.token_hex(4)}", tenant, cidr, vpc_id=vpc_id, vpc_cidr="10.0.0.0/16"
        )

    a_nic = NicSpec(subnet(vpc, "10.0.0.0/24"), "02:00:0a:00:00:05", "10.0.0.5")
    b_nic = NicSpec(subnet(vpc, "10.0.1.0/24"), "02:00:0a:00:01:06", "10.0.1.6")
    # The same tenant's other VPC, on the same block, b's subnet's very range; no public address.
    c_nic = NicSpec(
        subnet(other_vpc, "10.0.1.0/24"), "02:00:0b:00:01:07", "10.0.1.7", public_address=False
    )
    listens_on_22 = "(while true; do echo ssh-from-c | nc -l -p 22; done) > /dev/null 2>&1 &\n"
    b, a, c = await asyncio.gather(
        spec(bridged, b_nic, SERVER, InstanceFirewall()),
        spec(bridged, a_nic, prober({"b": ("10.0.1.6", 8000)}, metadata=False), InstanceFirewall()),
        spec(
            bridged,
            c_nic,
            prober({"b": ("10.0.1.6", 8000), "a": ("10.0.0.5", 8000)}, metadata=True)
            + listens_on_22,
            ALL_IN,
        ),
    )
    b_network, _, c_network = await asyncio.gather(
        driver.start(b), driver.start(a), driver.start(c)
    )
    assert c_network.public_ip is None and c_network.host_facing_ip is not None
    assert b_network.public_ip is not None
    for guest, nic in ((b, b_nic), (a, a_nic), (c, c_nic)):
        text = await wait_for(
            driver, guest.instance_id, lambda t: "andromede-dhcp" in t, BOOT_TIMEOUT
        )
        assert f"andromede-dhcp ip={nic.private_ip} mac={nic.mac}" in text
    await wait_for(driver, b.instance_id, lambda t: "andromede-listening" in t, BOOT_TIMEOUT)

    # b's groups let nothing in: a, in the VPC's other subnet, is routed there and dropped.
    text = await wait_for(driver, a.instance_id, lambda t: len(probes(t, "b")) >= 2, PROBE_TIMEOUT)
    assert set(probes(text, "b")) == {""}
    # Open to a's subnet: a reaches b across subnets, on the running guests.
    await driver.set_firewall(
        b.instance_id,
        InstanceFirewall(ingress=(FirewallRule("tcp", 8000, 8000, "10.0.0.0/24"),)),
    )
    await wait_for(driver, a.instance_id, lambda t: "hello-from-b" in probes(t, "b"), PROBE_TIMEOUT)
    # Closed again: a's probes fail again.
    await driver.set_firewall(b.instance_id, InstanceFirewall())
    seen = len(probes(await console(driver, a.instance_id), "b"))
    text = await wait_for(
        driver, a.instance_id, lambda t: len(probes(t, "b")) >= seen + 3, PROBE_TIMEOUT
    )
    assert set(probes(text, "b")[seen + 1 :]) == {""}

    # c, the same tenant's other VPC, reaches neither b (its address is nobody in c's subnet)
    # nor a, even with b open to all.
    await driver.set_firewall(b.instance_id, ALL_IN)
    await driver.set_firewall(a.instance_id, ALL_IN)
    seen = len(probes(await console(driver, c.instance_id), "b"))
    text = await wait_for(
        driver,
        c.instance_id,
        lambda t: len(probes(t, "b")) >= seen + 3 and len(probes(t, "a")) >= seen + 3,
        PROBE_TIMEOUT,
    )
    assert set(probes(text, "b")) == {""} and set(probes(text, "a")) == {""}
    # Without a public address: the host never reaches c (open to all), while it reaches b;
    # c's metadata service still answers, knowing it by its host-facing address.
    assert await host_reads(c_network.host_facing_ip, 22) == b""
    assert await host_reads(b_network.public_ip, 22, timeout=ANSWERED_WITHIN) == b"ssh-from-b\n"
    text = await wait_for(
        driver, c.instance_id, lambda t: "andromede-imds got=" in t, PROBE_TIMEOUT
    )
    assert f"andromede-imds got=metadata-for-{c_network.host_facing_ip}" in text

    # One namespace for the VPC's two subnets, one for the other VPC.
    prefix = bridged.layout.link_prefix
    namespaces = command_output("ip", "netns", "list")
    assert f"{prefix}-{vpc}" in namespaces and f"{prefix}-{other_vpc}" in namespaces
    for guest in (a, b, c):
        await driver.kill(guest.instance_id)
        await driver.release(guest.instance_id)
        await driver.delete_volume(guest.root.volume_id)
    assert f"{prefix}-" not in command_output("ip", "netns", "list")
    assert processes_mentioning(str(bridged.state_dir)) == []
