"""One tenant's instances on two hosts meet; another tenant's do not — the whole path a user
takes: boto3 → ``andromede serve`` → two ``andromede agent`` processes → guests joined over VXLAN
(decisions 0022 and 0024).

Both agents run on this machine but are distinct hosts, as in test_ec2_hosts.py (own state
directory, link prefix, transit and public ranges, host name, TCP port with a certificate of a
throw-away CA), and each keeps its underlay in a namespace of its own
(``hypervisor_underlay_netns``), the two joined by a veth pair — two machines on a LAN
(tests/support/hypervisor_agents.py says why one namespace would not do).

Every guest (the busybox image of tests/support/guest_images.py) runs the same user data: it
takes its lease, answers ``hello-from-<its instance id>`` on TCP 8000, and probes 8000 on the
first two addresses of its subnet other than its own, printing what answered on its console.
Tenant A runs two instances in one reservation (MaxCount=2): the scheduler spreads them, one
per host. Tenant B runs one, with the first address of *its* default subnet — the same address
as one of A's. Both tenants' groups let 8000 in from anywhere, so only the networks' isolation
stands between them. So:

- each of A's instances reaches the other, on the other host (both directions);
- B's instance never hears from A's, nor A's from B's — though A's probe of the shared address
  crosses to a host where, whichever host B is on, an instance with that address answers for
  exactly one tenant;
- each guest's lease carries the overlay's MTU (1450), so its network spans hosts.

Termination leaves no QEMU process, tenant namespace, host link or VXLAN device of these hosts.
Needs root, QEMU and the tools tenant networks need (skipped otherwise; CI requires them).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from andromede.hypervisor.network_probe import REQUIRED_TOOLS, probe_bridging
from e2e.iam_helpers import new_tenant
from support.guest_images import GuestImage, GuestImageUnavailable, build_guest_image
from support.hypervisor_agents import (
    AgentPki,
    AgentProcess,
    Underlay,
    stop_agents,
    underlay_pair,
)
from support.qemu_host import (
    clear_qemu_host,
    ec2_client,
    import_image,
    new_qemu_host,
    qemu_processes,
)
from support.server import ServerProcess, running_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1200)]

WAIT = {"Delay": 2, "MaxAttempts": 300}
CONSOLE_TIMEOUT = 420.0  # three TCG guests at once on a loaded 2-core machine
OVERLAY_MTU = 1450  # the underlay's 1500 less VXLAN's 50
VXLAN_PORT = 4789  # hypervisor_vxlan_port's default: each host's underlay is its own

# Identical for every guest, so one reservation of two can run it: the guest learns its
# address from its lease and its id from its NoCloud seed.
USER_DATA = r"""#!/bin/sh
printf '#!/bin/sh\n[ "$1" = bound ] || exit 0\nip addr add "$ip/$mask" dev "$interface"\n' \
  > /run/dhcp-event
printf '[ -z "$router" ] || ip route add default via "$router"\n' >> /run/dhcp-event
printf 'echo "$ip" > /run/ip\necho "andromede-dhcp ip=$ip mtu=$mtu"\n' >> /run/dhcp-event
chmod +x /run/dhcp-event
ip link set eth0 up
udhcpc -i eth0 -n -q -t 60 -O mtu -s /run/dhcp-event
me=$(sed -n 's/.*"instance-id"[": ]*\(i-[0-9a-f]*\).*/\1/p' /seed/meta-data | head -n 1)
ip=$(cat /run/ip)
net=${ip%.*}
(while true; do echo "hello-from-$me" | nc -l -p 8000; done) > /dev/null 2>&1 &
echo "andromede-listening id=$me"
(while true; do
  for last in 4 5; do
    [ "$net.$last" = "$ip" ] && continue
    r=$(nc -w 2 "$net.$last" 8000 </dev/null 2>/dev/null | head -c 40)
    echo "andromede-probe-$net.$last got=$r"
  done
  sleep 1
done) &
# Its metadata, from its own host's router (IMDSv2: a token first; nc's input kept open
# until the answer came). imds METHOD PATH HEADER prints the body of a 200, else nothing.
imds() {
  (printf "$1 $2 HTTP/1.0\r\nHost: 169.254.169.254\r\n$3\r\n"; sleep 5) |
    nc -w 20 169.254.169.254 80 2>/dev/null > /run/imds
  head -n 1 /run/imds | grep -q ' 200 ' && sed '1,/^\r*$/d' /run/imds | tr -d '\r\n'
}
(i=0; while [ $i -lt 120 ]; do
  t=$(imds PUT /latest/api/token 'X-aws-ec2-metadata-token-ttl-seconds: 300\r\n')
  [ -n "$t" ] && r=$(imds GET /latest/meta-data/instance-id "X-aws-ec2-metadata-token: $t\r\n")
  [ -n "$r" ] && echo "andromede-imds instance-id=$r" && break
  i=$((i + 1)); sleep 1
done) &
"""


@pytest.fixture(scope="module")
def guest_image() -> GuestImage:
    missing = [tool for tool in ("qemu-system-x86_64", "qemu-img") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"QEMU is not installed ({', '.join(missing)}; scripts/install-system-deps.sh)")
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
    if missing or os.geteuid() != 0:
        pytest.skip(f"tenant networks need root and {', '.join(missing) or 'root'}")
    # In a thread of its own: asyncio.run here would replace the loop pytest-asyncio keeps
    # for this thread, which then dies unclosed (an unraisable ResourceWarning).
    with ThreadPoolExecutor(1) as thread:
        refused = thread.submit(asyncio.run, probe_bridging("xprobe")).result()
    if refused is not None:
        pytest.skip(f"this host cannot build tenant networks: {refused}")
    try:
        return build_guest_image()
    except GuestImageUnavailable as exc:
        pytest.skip(f"cannot build the test guest image: {exc}")


@dataclass(frozen=True)
class Host:
    agent: AgentProcess
    underlay: Underlay
    link_prefix: str

    def instances(self) -> set[str]:
        """The instances whose QEMU this host runs, by their state directories."""
        return {
            path.parent.name
            for path in self.agent.state_dir.glob("instances/*/qemu.pid")
            if path.read_text().strip() and _alive(int(path.read_text().strip()))
        }

    def leftovers(self) -> dict[str, list[str]]:
        """What of this host's networking and guests is still there (empty lists: nothing)."""
        namespaces = _lines(["ip", "netns", "list"])
        links = _lines(["ip", "-o", "link", "show"])
        tables = _lines(["nft", "list", "tables"])
        return {
            "qemu": [str(pid) for pid in qemu_processes(self.agent.state_dir)],
            "namespaces": [n for n in namespaces if n.startswith(f"{self.link_prefix}-")],
            "host links": [
                line for line in links if line.split(": ", 2)[1].startswith(self.link_prefix)
            ],
            "nft tables": [t for t in tables if t.endswith(f"_{self.link_prefix}")],
            "underlay links": [link for link in self.underlay.links() if link not in {"lo", "lan"}],
        }


@dataclass(frozen=True)
class Region:
    gateway: ServerProcess
    hosts: dict[str, Host]


def _network_state(host: Host) -> Any:
    """What the host's agent records of its tenant networks (hypervisor/tenant_network.py)."""
    return json.loads((host.agent.state_dir / "networks" / "networks.json").read_text())


def _lines(command: list[str]) -> list[str]:
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.splitlines()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory, guest_image: GuestImage) -> Iterator[Region]:
    root = tmp_path_factory.mktemp("ec2overlay")
    pki = AgentPki(root / "pki")
    data_dir = root / "data"
    # The gateway drives no local agent (its state directory stays empty).
    gateway_state, gateway_host_env = new_qemu_host("xgw")
    made = {name: new_qemu_host(name, gateway_host_env) for name in ("xhv-a", "xhv-b")}
    try:
        with underlay_pair() as underlays:
            hosts: dict[str, Host] = {}
            for (name, (state_dir, host_env)), underlay in zip(
                made.items(), underlays, strict=True
            ):
                agent = AgentProcess(
                    name,
                    data_dir,
                    state_dir,
                    {
                        **host_env,
                        **pki.agent_env(name),
                        "ANDROMEDE_HYPERVISOR_HOST_NAME": name,
                        "ANDROMEDE_HYPERVISOR_NETWORKING": "bridge",
                        "ANDROMEDE_HYPERVISOR_UNDERLAY_ADDRESS": underlay.address,
                        "ANDROMEDE_HYPERVISOR_UNDERLAY_NETNS": underlay.netns,
                        "ANDROMEDE_INSTANCE_STOP_TIMEOUT": "5",
                    },
                )
                prefix = host_env["ANDROMEDE_HYPERVISOR_LINK_PREFIX"]
                hosts[name] = Host(agent, underlay, prefix)
            gateway_env = {
                **gateway_host_env,
                "ANDROMEDE_WORKERS": "1",
                "ANDROMEDE_INSTANCE_STOP_TIMEOUT": "5",
                # One vCPU per guest: TCG on a shared 2-core machine.
                "ANDROMEDE_INSTANCE_TYPES": json.dumps({"t3.nano": [1, 256, 8]}),
                "ANDROMEDE_HYPERVISOR_HOSTS": json.dumps(
                    [{"name": h.agent.name, "url": h.agent.url} for h in hosts.values()]
                ),
                **pki.gateway_env(),
            }
            # The gateway first: it migrates the database and writes the secrets key the
            # agents read (decision 0021).
            with running_server(data_dir, extra_env=gateway_env) as gateway:
                try:
                    for host in hosts.values():
                        host.agent.start()
                    yield Region(gateway, hosts)
                finally:
                    stop_agents(host.agent for host in hosts.values())
    finally:
        for state_dir, host_env in [*made.values(), (gateway_state, gateway_host_env)]:
            clear_qemu_host(state_dir, host_env)


def _console(ec2: Any, instance_id: str) -> str:
    return str(ec2.get_console_output(InstanceId=instance_id).get("Output") or "")


def _console_until(ec2: Any, instance_id: str, pattern: str) -> str:
    deadline = time.monotonic() + CONSOLE_TIMEOUT
    while not re.search(pattern, console := _console(ec2, instance_id)):
        if time.monotonic() > deadline:
            raise AssertionError(f"console of {instance_id} after {CONSOLE_TIMEOUT:g}s:\n{console}")
        time.sleep(2)
    return console


def _probes(console: str, address: str) -> list[str]:
    marker = f"andromede-probe-{address} got="
    return [line.split(marker, 1)[1].strip() for line in console.splitlines() if marker in line]


def _probed(ec2: Any, instance_id: str, address: str, rounds: int) -> str:
    """The console once it shows ``rounds`` probes of ``address``."""
    deadline = time.monotonic() + CONSOLE_TIMEOUT
    while len(_probes(console := _console(ec2, instance_id), address)) < rounds:
        if time.monotonic() > deadline:
            raise AssertionError(f"console of {instance_id} after {CONSOLE_TIMEOUT:g}s:\n{console}")
        time.sleep(2)
    return console


def _allow_8000_from_anywhere(ec2: Any) -> None:
    ec2.authorize_security_group_ingress(
        GroupName="default",
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 8000, "ToPort": 8000,
                        "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )  # fmt: skip


def _described(ec2: Any, instance_ids: list[str]) -> dict[str, dict[str, Any]]:
    reservations = ec2.describe_instances(InstanceIds=instance_ids)["Reservations"]
    return {i["InstanceId"]: i for r in reservations for i in r["Instances"]}


def test_one_tenants_instances_on_two_hosts_meet_and_another_tenants_do_not(
    region: Region, guest_image: GuestImage
) -> None:
    gateway, hosts = region.gateway, region.hosts
    image_id = import_image(gateway, guest_image.disk, "busybox")
    ec2_a = ec2_client(gateway)
    tenant_b = new_tenant(gateway, "overlay")
    ec2_b = ec2_client(gateway, (tenant_b.access_key_id, tenant_b.secret_access_key))
    for ec2 in (ec2_a, ec2_b):
        _allow_8000_from_anywhere(ec2)

    launched: list[tuple[Any, str]] = []
    try:
        run = ec2_a.run_instances(ImageId=image_id, InstanceType="t3.nano", MinCount=2,
                                  MaxCount=2, UserData=USER_DATA)  # fmt: skip
        pair = [i["InstanceId"] for i in run["Instances"]]
        launched += [(ec2_a, instance_id) for instance_id in pair]
        run = ec2_b.run_instances(ImageId=image_id, InstanceType="t3.nano", MinCount=1,
                                  MaxCount=1, UserData=USER_DATA)  # fmt: skip
        [theirs] = [i["InstanceId"] for i in run["Instances"]]
        launched.append((ec2_b, theirs))
        ec2_a.get_waiter("instance_running").wait(InstanceIds=pair, WaiterConfig=WAIT)
        ec2_b.get_waiter("instance_running").wait(InstanceIds=[theirs], WaiterConfig=WAIT)
        _check_the_overlay(ec2_a, ec2_b, pair, theirs, hosts)
    finally:
        for ec2, instance_id in launched:
            ec2.terminate_instances(InstanceIds=[instance_id])
        for ec2, instance_id in launched:
            ec2.get_waiter("instance_terminated").wait(InstanceIds=[instance_id], WaiterConfig=WAIT)

    # Nothing of these hosts is left: guests, tenant namespaces (their taps and VXLAN ports
    # with them), host links, the metadata guard, the VXLAN devices staged on the underlay.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(any(h.leftovers().values()) for h in hosts.values()):
        time.sleep(1)
    for host in hosts.values():
        # Every part of the host's network state empty, whatever parts later releases add.
        state = _network_state(host)
        assert {"networks", "nics", "firewalls", "peers", "specs", "acls", "nat"} <= set(state)
        assert {part: held for part, held in state.items() if held} == {}
        assert host.leftovers() == {
            "qemu": [], "namespaces": [], "host links": [], "nft tables": [],
            "underlay links": [],
        }  # fmt: skip


def _check_the_overlay(
    ec2_a: Any, ec2_b: Any, pair: list[str], theirs: str, hosts: dict[str, Host]
) -> None:
    # One of A's instances on each host, seen in each host's own QEMU processes.
    placed = {name: host.instances() for name, host in hosts.items()}
    assert sorted(len(on_host) for on_host in placed.values()) == [1, 2], placed
    assert {i for on_host in placed.values() for i in on_host} == {*pair, theirs}
    for on_host in placed.values():
        assert len(on_host & set(pair)) == 1, placed

    mine = _described(ec2_a, pair)
    address = {instance_id: mine[instance_id]["PrivateIpAddress"] for instance_id in pair}
    address[theirs] = _described(ec2_b, [theirs])[theirs]["PrivateIpAddress"]
    # B's first address is one of A's: the same private address, on two tenants' networks.
    assert address[theirs] in set(address[i] for i in pair), address

    # Every lease from its own host, with the overlay's MTU.
    for ec2, instance_id in [*((ec2_a, i) for i in pair), (ec2_b, theirs)]:
        console = _console_until(ec2, instance_id, r"andromede-dhcp ip=\S+ mtu=\S*")
        assert f"andromede-dhcp ip={address[instance_id]} mtu={OVERLAY_MTU}" in console

    # Each guest's metadata, answered on its own host (every host's router is the gateway).
    for ec2, instance_id in [*((ec2_a, i) for i in pair), (ec2_b, theirs)]:
        console = _console_until(ec2, instance_id, r"andromede-imds instance-id=\S+")
        assert re.findall(r"andromede-imds instance-id=(\S+)", console) == [instance_id]

    # A's instances reach each other across the hosts, both ways.
    first, second = pair
    for prober, target in ((first, second), (second, first)):
        _console_until(
            ec2_a, prober, rf"andromede-probe-{re.escape(address[target])} got=hello-from-{target}"
        )

    # While they run (the peers pushed: they met), each host holds what must be gone at the end.
    for host in hosts.values():
        found = host.leftovers()
        assert found["qemu"] and found["namespaces"] and found["host links"], found
        assert found["nft tables"] and not found["underlay links"], found
        assert _network_state(host)["peers"], _network_state(host)
        # The VXLAN socket lives on the host's underlay, in the namespace that holds it.
        assert VXLAN_PORT in host.underlay.udp_ports()

    # B's instance, probing A's other address for several rounds, hears nothing.
    [other] = [address[i] for i in pair if address[i] != address[theirs]]
    seen = len(_probes(_console(ec2_b, theirs), other))
    console = _probed(ec2_b, theirs, other, seen + 5)
    assert set(_probes(console, other)) == {""}, console
    assert "hello-from-i-" not in console
    # And every answer A's instances heard came from A: never from B's instance, though it
    # has one of their addresses and lets 8000 in from anywhere.
    for instance_id in pair:
        console = _console(ec2_a, instance_id)
        answers = {a for a in _probes(console, address[theirs]) if a} | {
            a for a in _probes(console, other) if a
        }
        assert answers <= {f"hello-from-{i}" for i in pair}, console
        assert f"hello-from-{theirs}" not in console
