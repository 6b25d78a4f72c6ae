"""Real guests of one tenant network on two hypervisors, joined over VXLAN (decision 0024).

Two QEMU drivers on this machine stand for two hosts: each its own state directory, link
prefix, transit and public ranges, and its underlay in a namespace of its own, the two joined by
a veth pair as two machines by their LAN (with both underlay addresses in one namespace the
kernel would hand VXLAN frames across directly, with the sender's connection-tracking state).
The guests are the busybox image of tests/support/guest_images.py, as in
test_guest_networks.py:

- ``b`` on host two, tenant 1, listens on 8000 and 22; its groups let in TCP 8000 only;
- ``d`` on host two, tenant 2 — the same 10.0.0.0/24, its own VXLAN id — listens on 8000 and
  lets everything in;
- ``a`` on host one, tenant 1, probes b:8000, b:22 and d's address, and asks its metadata.

So: a reaches b across hosts; b's own host refuses a on 22 (security groups at the
destination); tenant 2's guest on the other host is nobody a can reach; each guest's lease and
a's metadata come from its own host. Needs root, QEMU, ``ip``, ``nft``, ``dnsmasq``,
``bridge`` (skipped otherwise; CI requires them).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from andromede.compute.driver import (
    AttachedVolume,
    InstanceSpec,
    NetworkMode,
    SeedSpec,
    VolumeSpec,
)
from andromede.compute.driver_network import (
    FirewallRule,
    InstanceFirewall,
    NetworkPeer,
    NetworkSpec,
    NicSpec,
    PeeringLink,
)
from andromede.http.response import Receive, Scope, Send
from andromede.hypervisor import QemuDriver, QemuDriverConfig
from andromede.hypervisor.network_probe import REQUIRED_TOOLS, probe_bridging
from andromede.hypervisor.tenant_network import NetworkLayout
from support.guest_images import GuestImage, GuestImageUnavailable, build_guest_image
from support.host_images import put_file_image
from support.hypervisor_agents import underlay_pair

pytestmark = pytest.mark.slow

BOOT_TIMEOUT = 300.0  # three TCG guests at once on a loaded 2-core machine
PROBE_TIMEOUT = 150.0


async def metadata_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Stands in for the metadata app: says who asks, as this host's server sees the peer."""
    if scope["type"] != "http":
        return
    body = f"metadata-for-{scope['client'][0]}".encode()
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@dataclass
class Host:
    driver: QemuDriver
    layout: NetworkLayout
    state_dir: Path

    def peer(self, *private_ips: str) -> NetworkPeer:
        return NetworkPeer(self.layout.underlay_address, self.layout.vxlan_port, private_ips)


@pytest.fixture(scope="module")
def guest_image() -> GuestImage:
    missing = [t for t in ("qemu-system-x86_64", "qemu-img") if shutil.which(t) is None]
    if missing:
        pytest.skip(f"QEMU is not installed ({', '.join(missing)}; scripts/install-system-deps.sh)")
    try:
        return build_guest_image()
    except GuestImageUnavailable as exc:
        pytest.skip(f"cannot build the test guest image: {exc}")


def host_layout(underlay: str, underlay_netns: str) -> NetworkLayout:
    block = secrets.randbelow(64 * 256 // 2) * 2
    return NetworkLayout(
        transit_cidr=f"100.{64 + block // 256}.{block % 256}.0/24",
        public_cidr=f"100.{64 + (block + 1) // 256}.{(block + 1) % 256}.0/24",
        imds_port=20000 + secrets.randbelow(20000),
        link_prefix="v" + secrets.token_hex(2),
        underlay_address=underlay,
        vxlan_port=40000 + secrets.randbelow(20000),
        underlay_netns=underlay_netns,
    )


@pytest.fixture
async def hosts(guest_image: GuestImage) -> AsyncIterator[tuple[Host, Host]]:
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
    if missing or os.geteuid() != 0:
        pytest.skip(f"tenant networks need root and {', '.join(missing) or 'root'}")
    refused = await probe_bridging("vprobe")
    if refused is not None:
        pytest.skip(f"this host cannot build tenant networks: {refused}")
    with underlay_pair() as (one_underlay, two_underlay):
        ns_one, address_one = one_underlay.netns, one_underlay.address
        ns_two, address_two = two_underlay.netns, two_underlay.address
        made: list[Host] = []
        for name, address, netns in (("one", address_one, ns_one), ("two", address_two, ns_two)):
            layout = host_layout(address, netns)
            state_dir = Path(tempfile.mkdtemp(prefix=f"andromede-vx{name}-", dir="/tmp"))
            config = QemuDriverConfig(networking="bridge", network_layout=layout)
            driver = QemuDriver(state_dir, host=f"host-{name}", config=config)
            await driver.serve_metadata(metadata_app)
            made.append(Host(driver, layout, state_dir))
        try:
            yield made[0], made[1]
        finally:
            for host in made:
                for instance_id in await host.driver.running():
                    await host.driver.kill(instance_id)
                    await host.driver.release(instance_id)
                for network_id in list(host.driver._networks._state.networks):
                    await host.driver._networks.remove(network_id)
                await host.driver.close()
                shutil.rmtree(host.state_dir, ignore_errors=True)


DHCP = """#!/bin/sh
printf '#!/bin/sh\\n[ "$1" = bound ] || exit 0\\nip addr add "$ip/$mask" dev "$interface"\\n' \\
  > /run/dhcp-event
printf '[ -z "$router" ] || ip route add default via "$router"\\n' >> /run/dhcp-event
printf 'echo "andromede-dhcp ip=$ip mac=$(cat /sys/class/net/$interface/address) mtu=$mtu"\\n' \\
  >> /run/dhcp-event
chmod +x /run/dhcp-event
ip link set eth0 up
udhcpc -i eth0 -n -q -t 30 -O mtu -s /run/dhcp-event
"""


def server(name: str) -> str:
    """User data answering ``hello-from-<name>`` on 8000 and ``ssh-from-<name>`` on 22."""
    return DHCP + (
        f"(while true; do echo hello-from-{name} | nc -l -p 8000; done) > /dev/null 2>&1 &\n"
        f"(while true; do echo ssh-from-{name} | nc -l -p 22; done) > /dev/null 2>&1 &\n"
        "echo andromede-listening\n"
    )


def prober(targets: dict[str, tuple[str, int]]) -> str:
    """User data printing ``andromede-probe-<name> got=<answer>`` for each target, every
    second or so, and once ``andromede-imds got=<answer>``."""
    loop = "".join(
        f"  r=$(nc -w 2 {address} {port} </dev/null 2>/dev/null | head -c 40)\n"
        f'  echo "andromede-probe-{name} got=$r"\n'
        for name, (address, port) in targets.items()
    )
    return (
        DHCP
        + f"(while true; do\n{loop}  sleep 1\ndone) &\n"
        + """(i=0; while [ $i -lt 120 ]; do
  r=$(printf 'GET /latest/meta-data/ HTTP/1.0\\r\\nHost: 169.254.169.254\\r\\n\\r\\n' |
    nc -w 3 169.254.169.254 80 2>/dev/null | tail -n 1)
  [ -n "$r" ] && echo "andromede-imds got=$r" && break
  i=$((i + 1)); sleep 1
done) &
echo andromede-probing
"""
    )


async def spec(
    host: Host, image: GuestImage, nic: NicSpec, user_data: str, firewall: InstanceFirewall
) -> InstanceSpec:
    instance_id = f"i-{secrets.token_hex(9)[:17]}"
    volume_id, key = f"vol-{secrets.token_hex(9)[:17]}", secrets.token_bytes(32)
    backing = await put_file_image(host.driver, image.disk, "raw")
    await host.driver.create_volume(VolumeSpec(volume_id, 1, key, backing=backing))
    seed = SeedSpec(
        meta_data=json.dumps({"instance-id": instance_id, "local-hostname": instance_id}),
        user_data=user_data.encode(),
        network_config='{"version": 2}\n',
    )
    root = AttachedVolume(volume_id, "/dev/xvda", key)
    return InstanceSpec(instance_id, 1, 128, root, seed, nic=nic, firewall=firewall)


async def wait_for(
    driver: QemuDriver, instance_id: str, done: Callable[[str], bool], timeout: float
) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = (await driver.console_output(instance_id)).decode(errors="replace")
        if done(text):
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"console of {instance_id} after {timeout:g}s:\n{text[-3000:]}")
        await asyncio.sleep(0.5)


def probes(text: str, name: str) -> list[str]:
    marker = f"andromede-probe-{name} got="
    return [line.split(marker, 1)[1].strip() for line in text.splitlines() if marker in line]


ALL_IN = InstanceFirewall(ingress=(FirewallRule("-1", 0, 0, "0.0.0.0/0"),))
ONLY_8000 = InstanceFirewall(ingress=(FirewallRule("tcp", 8000, 8000, "10.0.0.0/24"),))


async def test_one_tenants_guests_on_two_hosts_meet_and_nobody_else(
    hosts: tuple[Host, Host], guest_image: GuestImage
) -> None:
    one, two = hosts
    mine = NetworkSpec(f"subnet-{secrets.token_hex(4)}", "111111111111", "10.0.0.0/24", vni=101)
    theirs = NetworkSpec(f"subnet-{secrets.token_hex(4)}", "222222222222", "10.0.0.0/24", vni=202)
    a_nic = NicSpec(mine, "02:00:0a:00:00:05", "10.0.0.5")
    b_nic = NicSpec(mine, "02:00:0a:00:00:06", "10.0.0.6")
    d_nic = NicSpec(theirs, "02:00:0b:00:00:07", "10.0.0.7")
    b = await spec(two, guest_image, b_nic, server("b"), ONLY_8000)
    d = await spec(two, guest_image, d_nic, server("d"), ALL_IN)
    a = await spec(
        one,
        guest_image,
        a_nic,
        prober({"b": ("10.0.0.6", 8000), "b22": ("10.0.0.6", 22), "d": ("10.0.0.7", 8000)}),
        InstanceFirewall(),
    )
    # What the compute service pushes once they run (unit-tested there): each host, the other.
    await one.driver.set_network_peers(mine.network_id, (two.peer(b_nic.private_ip),))
    await two.driver.set_network_peers(mine.network_id, (one.peer(a_nic.private_ip),))
    a_net, b_net, d_net = await asyncio.gather(
        one.driver.start(a), two.driver.start(b), two.driver.start(d)
    )
    assert {a_net.mode, b_net.mode, d_net.mode} == {NetworkMode.BRIDGE}
    capacity = await one.driver.capacity()
    assert (capacity.underlay_address, capacity.vxlan_port) == (
        one.layout.underlay_address,
        one.layout.vxlan_port,
    )

    # Each guest's lease came from its own host (the other host's DHCP knows not its MAC),
    # with the MTU that leaves room for VXLAN.
    for host, guest, nic in ((one, a, a_nic), (two, b, b_nic), (two, d, d_nic)):
        text = await wait_for(
            host.driver, guest.instance_id, lambda t: "andromede-dhcp" in t, BOOT_TIMEOUT
        )
        assert f"andromede-dhcp ip={nic.private_ip} mac={nic.mac} mtu=1450" in text
    for guest in (b, d):
        await wait_for(two.driver, guest.instance_id, lambda t: "andromede-listening" in t,
                       BOOT_TIMEOUT)  # fmt: skip

    # a reaches b on the other host, where b's groups let 8000 in...
    text = await wait_for(
        one.driver, a.instance_id, lambda t: "hello-from-b" in probes(t, "b"),
        PROBE_TIMEOUT,
    )  # fmt: skip
    # ...and not 22, which b's host refuses (several rounds, all empty).
    seen = len(probes(text, "b22"))
    text = await wait_for(
        one.driver, a.instance_id, lambda t: len(probes(t, "b22")) >= seen + 3, PROBE_TIMEOUT
    )
    assert set(probes(text, "b22")) == {""}
    # Tenant 2's guest on b's host, open to everyone, is nobody from a's network.
    assert set(probes(text, "d")) == {""}
    # a's metadata is answered on its own host, which sees a's public address there.
    text = await wait_for(
        one.driver, a.instance_id, lambda t: "andromede-imds got=" in t, PROBE_TIMEOUT
    )
    assert f"andromede-imds got=metadata-for-{a_net.public_ip}" in text

    # The peers withdrawn (b's host holds the subnet no more, say): a no longer reaches b.
    await one.driver.set_network_peers(mine.network_id, ())
    console = (await one.driver.console_output(a.instance_id)).decode(errors="replace")
    seen = len(probes(console, "b"))
    text = await wait_for(
        one.driver, a.instance_id, lambda t: len(probes(t, "b")) >= seen + 3, PROBE_TIMEOUT
    )
    assert set(probes(text, "b")[seen + 1 :]) == {""}


async def test_peered_vpcs_guests_on_two_hosts_meet_only_while_the_connection_is_told(
    hosts: tuple[Host, Host], guest_image: GuestImage
) -> None:
    """VPC peering across hosts (decision 0139's addendum) with real guests: a (VPC A, host
    one) probes b (VPC B — another tenant's —, host two only); b lets A's block in on 8000.
    Nothing before the hosts are told the connection; b answers once each is told it as the
    compute service tells it (unit-tested there: the other host's side); nothing once it is
    no longer told (deleted)."""
    one, two = hosts
    a_block, b_block = "10.91.0.0/16", "10.92.0.0/16"
    vpc_a, vpc_b = f"vpc-{secrets.token_hex(4)}", f"vpc-{secrets.token_hex(4)}"
    subnet_a = NetworkSpec(
        f"subnet-{secrets.token_hex(4)}", "111111111111", "10.91.1.0/24", vni=303,
        vpc_id=vpc_a, vpc_cidr=a_block,
    )  # fmt: skip
    subnet_b = NetworkSpec(
        f"subnet-{secrets.token_hex(4)}", "222222222222", "10.92.1.0/24", vni=404,
        vpc_id=vpc_b, vpc_cidr=b_block,
    )  # fmt: skip
    a_nic = NicSpec(subnet_a, "02:00:0c:00:00:05", "10.91.1.5")
    b_nic = NicSpec(subnet_b, "02:00:0d:00:00:06", "10.92.1.6")
    b = await spec(
        two, guest_image, b_nic, server("b"),
        InstanceFirewall(ingress=(FirewallRule("tcp", 8000, 8000, a_block),)),
    )  # fmt: skip
    a = await spec(
        one, guest_image, a_nic, prober({"b": (b_nic.private_ip, 8000)}), InstanceFirewall()
    )
    await asyncio.gather(one.driver.start(a), two.driver.start(b))
    await wait_for(two.driver, b.instance_id, lambda t: "andromede-listening" in t, BOOT_TIMEOUT)
    # Not told: a's probes of b come back empty.
    text = await wait_for(
        one.driver, a.instance_id, lambda t: len(probes(t, "b")) >= 3, BOOT_TIMEOUT
    )
    assert set(probes(text, "b")) == {""}
    link = PeeringLink(
        f"pcx-{secrets.token_hex(8)}0",
        vpc_a,
        a_block,
        vpc_b,
        b_block,
        vni=505,
    )
    await one.driver.set_peering_links(
        (replace(link, accepter_peers=(two.peer(b_nic.private_ip),)),)
    )
    await two.driver.set_peering_links(
        (replace(link, requester_peers=(one.peer(a_nic.private_ip),)),)
    )
    await wait_for(
        one.driver, a.instance_id, lambda t: "hello-from-b" in probes(t, "b"), PROBE_TIMEOUT
    )
    # The connection deleted: neither host is told it, and a reaches b no more.
    await one.driver.set_peering_links(())
    await two.driver.set_peering_links(())
    console = (await one.driver.console_output(a.instance_id)).decode(errors="replace")
    seen = len(probes(console, "b"))
    text = await wait_for(
        one.driver, a.instance_id, lambda t: len(probes(t, "b")) >= seen + 3, PROBE_TIMEOUT
    )
    assert set(probes(text, "b")[seen + 1 :]) == {""}
