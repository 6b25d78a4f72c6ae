"""Network ACLs on the real kernel: a subnet's ACL judges what crosses its boundary in its VPC's
router, statelessly, besides the security groups (andromede.hypervisor.network_acls, enforced
by andromede.hypervisor.tenant_network).

As in test_tenant_networks.py, a "guest" is a network namespace of its own whose ``eth0`` is
one end of a veth pair, the other end an isolated port of its subnet's bridge. Needs root and
the ``ip``, ``nft``, ``dnsmasq`` and ``busybox`` commands.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from andromede.compute.driver_network import (
    AclEntry,
    FirewallRule,
    InstanceFirewall,
    NetworkSpec,
    NicSpec,
    SubnetAcl,
)
from andromede.hypervisor.tenant_network import NetworkLayout, TenantNetworks
from support.tenant_networks import (
    ANSWERED_WITHIN,
    DROPPED_AFTER,
    guest,
    needs_root_and_tools,
    networks,
    outside_addresses,
    random_layout,
    serving,
)

__all__ = ["needs_root_and_tools", "networks"]  # the fixtures this module takes from support


@pytest.fixture
def layout() -> NetworkLayout:
    return random_layout("a")


def _subnet(vpc_id: str, third: int, acl: SubnetAcl | None = None) -> NetworkSpec:
    return NetworkSpec(
        network_id="subnet-" + secrets.token_hex(4),
        tenant_id="111111111111",
        cidr=f"10.9.{third}.0/24",
        vpc_id=vpc_id,
        vpc_cidr="10.9.0.0/16",
        acl=acl or SubnetAcl(),
    )


def _nic(network: NetworkSpec, host: int) -> NicSpec:
    prefix = network.cidr.rsplit(".", 1)[0]
    third = int(prefix.rsplit(".", 1)[1])
    return NicSpec(network=network, mac=f"02:00:00:00:{third:02x}:{host:02x}",
                   private_ip=f"{prefix}.{host}")  # fmt: skip


def _host_connect(address: str, port: int, timeout: float = DROPPED_AFTER) -> str:
    code = (
        "import socket\n"
        "try:\n"
        f"  s=socket.create_connection(({address!r},{port}),timeout={timeout})\n"
        "  print(s.recv(200).decode(), end='')\n"
        "except OSError: print('', end='')\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout + 8
    ).stdout


def _host_reach(address: str, port: int) -> str:
    return _host_connect(address, port, timeout=ANSWERED_WITHIN)


@contextmanager
def _outside() -> Iterator[str]:
    """An address of the host's own that is neither transit nor public: the LAN, the Internet."""
    with outside_addresses() as (address,):
        yield address


EVERYTHING = InstanceFirewall(ingress=(FirewallRule("-1", 0, 0, "0.0.0.0/0"),))
ALL = AclEntry(100, True, "-1", "0.0.0.0/0")
DENY_ALL = SubnetAcl((), ())


def _vpc() -> str:
    return "vpc-" + secrets.token_hex(4)


async def _open(networks: TenantNetworks, *instance_ids: str) -> None:
    for instance_id in instance_ids:
        assert await networks.set_instance_firewall(instance_id, EVERYTHING)


async def test_the_default_acl_lets_through_whatever_the_groups_allow(
    networks: TenantNetworks,
) -> None:
    vpc = _vpc()
    first, second = _subnet(vpc, 1), _subnet(vpc, 2)
    a_nic, b_nic = _nic(first, 5), _nic(second, 6)
    async with guest(networks, "i-a", a_nic) as a, guest(networks, "i-b", b_nic) as b:
        await _open(networks, "i-a", "i-b")
        with serving(a.netns, "", 8080), serving(b.netns, "", 8080):
            assert a.reach(b_nic.private_ip, 8080) == f"peer {a_nic.private_ip}"
            assert b.reach(a_nic.private_ip, 8080) == f"peer {b_nic.private_ip}"
            plugged = networks.plugged("i-b")
            assert plugged is not None
            assert _host_reach(plugged.public_ip, 8080).startswith("peer ")
            # The groups still apply: closed, b hears nobody, whatever the ACL allows.
            assert await networks.set_instance_firewall("i-b", InstanceFirewall())
            assert a.connect(b_nic.private_ip, 8080) == ""


async def test_a_lower_numbered_deny_blocks_a_port_across_subnets_never_within_one(
    networks: TenantNetworks,
) -> None:
    vpc = _vpc()
    first, second = _subnet(vpc, 1), _subnet(vpc, 2)
    a_nic, neighbour_nic, b_nic = _nic(first, 5), _nic(first, 6), _nic(second, 7)
    async with (
        guest(networks, "i-a", a_nic) as a,
        guest(networks, "i-n", neighbour_nic) as neighbour,
        guest(networks, "i-b", b_nic) as b,
    ):
        await _open(networks, "i-a", "i-n", "i-b")
        deny_8080 = AclEntry(90, False, "tcp", "0.0.0.0/0", 8080, 8080)
        await networks.set_acl(first.network_id, SubnetAcl(ingress=(deny_8080, ALL)))
        with serving(a.netns, "", 8080, 9090):
            assert b.connect(a_nic.private_ip, 8080) == ""
            assert b.reach(a_nic.private_ip, 9090) == f"peer {b_nic.private_ip}"
            # Between two instances of the subnet, nothing is judged.
            assert neighbour.reach(a_nic.private_ip, 8080) == f"peer {neighbour_nic.private_ip}"
            # Numbered after the allow-all, the deny is never reached.
            later = AclEntry(110, False, "tcp", "0.0.0.0/0", 8080, 8080)
            await networks.set_acl(first.network_id, SubnetAcl(ingress=(ALL, later)))
            assert b.reach(a_nic.private_ip, 8080) == f"peer {b_nic.private_ip}"
            # The entry's range is the peer's: from another range, the deny does not match.
            elsewhere = AclEntry(90, False, "tcp", "10.9.3.0/24", 8080, 8080)
            await networks.set_acl(first.network_id, SubnetAcl(ingress=(elsewhere, ALL)))
            assert b.reach(a_nic.private_ip, 8080) == f"peer {b_nic.private_ip}"


async def test_ingress_and_egress_each_block_on_their_own(networks: TenantNetworks) -> None:
    vpc = _vpc()
    first, second = _subnet(vpc, 1), _subnet(vpc, 2)
    a_nic, b_nic = _nic(first, 5), _nic(second, 6)
    async with guest(networks, "i-a", a_nic) as a, guest(networks, "i-b", b_nic) as b:
        await _open(networks, "i-a", "i-b")
        deny = AclEntry(90, False, "tcp", second.cidr, 8080, 8080)
        with serving(a.netns, "", 8080), serving(b.netns, "", 8080):
            # a's egress alone: a cannot reach b's port, b still reaches a's (the reply's
            # destination port is b's ephemeral one).
            await networks.set_acl(first.network_id, SubnetAcl(egress=(deny, ALL)))
            assert a.connect(b_nic.private_ip, 8080) == ""
            assert b.reach(a_nic.private_ip, 8080) == f"peer {b_nic.private_ip}"
            await networks.set_acl(first.network_id, SubnetAcl())
            assert a.reach(b_nic.private_ip, 8080) == f"peer {a_nic.private_ip}"
            # b's ingress alone, from a's range.
            from_first = AclEntry(90, False, "tcp", first.cidr, 8080, 8080)
            await networks.set_acl(second.network_id, SubnetAcl(ingress=(from_first, ALL)))
            assert a.connect(b_nic.private_ip, 8080) == ""
            assert b.reach(a_nic.private_ip, 8080) == f"peer {b_nic.private_ip}"


async def test_acls_are_stateless_replies_need_their_ephemeral_ports(
    networks: TenantNetworks,
) -> None:
    vpc = _vpc()
    first, second = _subnet(vpc, 1), _subnet(vpc, 2)
    a_nic, b_nic = _nic(first, 5), _nic(second, 6)
    async with guest(networks, "i-a", a_nic) as a, guest(networks, "i-b", b_nic) as b:
        await _open(networks, "i-a", "i-b")
        server = AclEntry(100, True, "tcp", "0.0.0.0/0", 8000, 8000)
        # The requests are let in, and nothing out: the replies are dropped.
        await networks.set_acl(second.network_id, SubnetAcl(ingress=(server,), egress=()))
        with serving(b.netns, "", 8000):
            assert a.connect(b_nic.private_ip, 8000) == ""
            replies = AclEntry(110, True, "tcp", first.cidr, 1024, 65535)
            await networks.set_acl(
                second.network_id, SubnetAcl(ingress=(server,), egress=(replies,))
            )
            assert a.reach(b_nic.private_ip, 8000) == f"peer {a_nic.private_ip}"
            # A connection already open is judged packet by packet too: closing the replies'
            # ports stops it (the security groups' conntrack does not let it through).
            code = (
                "import socket,time\n"
                f"s=socket.create_connection(({b_nic.private_ip!r},8000),timeout=20)\n"
                "print(s.recv(200).decode(), flush=True)\n"
            )
            assert "peer" in a.run(sys.executable, "-c", code, timeout=30).stdout
            await networks.set_acl(second.network_id, SubnetAcl(ingress=(server,), egress=()))
            assert a.connect(b_nic.private_ip, 8000) == ""


async def test_the_host_and_beyond_are_judged_on_private_addresses(
    networks: TenantNetworks,
) -> None:
    vpc = _vpc()
    first, second = _subnet(vpc, 1), _subnet(vpc, 2)
    a_nic, b_nic = _nic(first, 5), _nic(second, 6)
    async with guest(networks, "i-a", a_nic) as a, guest(networks, "i-b", b_nic) as b:
        await _open(networks, "i-a", "i-b")
        plugged = networks.plugged("i-b")
        assert plugged is not None
        host_ip = networks.host_transit_ip(second.network_id)
        with serving(b.netns, "", 22):
            assert _host_reach(plugged.public_ip, 22) == f"peer {host_ip}"
            # b's ingress sees the host's address once the public one is DNAT'ed.
            no_host = AclEntry(90, False, "tcp", f"{host_ip}/32", 22, 22)
            await networks.set_acl(second.network_id, SubnetAcl(ingress=(no_host, ALL)))
            assert _host_connect(plugged.public_ip, 22) == ""
            assert a.reach(b_nic.private_ip, 22) == f"peer {a_nic.private_ip}"
            # And its egress the host's, for the replies.
            no_reply = AclEntry(90, False, "-1", f"{host_ip}/32")
            await networks.set_acl(second.network_id, SubnetAcl(egress=(no_reply, ALL)))
            assert _host_connect(plugged.public_ip, 22) == ""
            await networks.set_acl(second.network_id, SubnetAcl())
            assert _host_reach(plugged.public_ip, 22) == f"peer {host_ip}"
        with _outside() as outside, serving(None, outside, 8443):
            assert b.reach(outside, 8443) == f"peer {plugged.public_ip}"
            # Out through the transit link, before its source is SNAT'ed.
            nowhere = AclEntry(90, False, "tcp", f"{outside}/32", 8443, 8443)
            await networks.set_acl(second.network_id, SubnetAcl(egress=(nowhere, ALL)))
            assert b.connect(outside, 8443) == ""
            assert a.reach(outside, 8443).startswith("peer ")  # another subnet, its own ACL


async def test_dhcp_the_gateway_and_the_metadata_service_pass_a_deny_all_acl(
    networks: TenantNetworks, layout: NetworkLayout
) -> None:
    vpc = _vpc()
    first, second = _subnet(vpc, 1, DENY_ALL), _subnet(vpc, 2)
    a_nic, b_nic = _nic(first, 5), _nic(second, 6)
    async with guest(networks, "i-a", a_nic) as a, guest(networks, "i-b", b_nic) as b:
        await _open(networks, "i-a", "i-b")
        plugged = networks.plugged("i-a")
        assert plugged is not None
        with serving(a.netns, "", 22), serving(b.netns, "", 22):
            # The deny-all is in force (the spec's, the subnet's first on this host)…
            assert b.connect(a_nic.private_ip, 22) == ""
            assert a.connect(b_nic.private_ip, 22) == ""
            assert _host_connect(plugged.public_ip, 22) == ""
        # …and the link-local services and the router's own addresses are not judged.
        with serving(None, networks.host_transit_ip(first.network_id), layout.imds_port):
            assert a.reach("169.254.169.254", 80) == f"peer {plugged.public_ip}"
        gateway = first.cidr.replace(".0/24", ".1")
        assert a.run("busybox", "ping", "-c", "1", "-W", "5", gateway).returncode == 0
        a.run("ip", "addr", "flush", "dev", "eth0")
        result = a.run("busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-t", "5", "-s", "/bin/true")
        assert f"lease of {a_nic.private_ip} obtained" in result.stdout + result.stderr


async def test_an_acl_told_before_its_subnet_is_built_is_kept_and_applied_at_the_first_plug(
    networks: TenantNetworks,
) -> None:
    vpc = _vpc()
    first, second = _subnet(vpc, 1), _subnet(vpc, 2)
    a_nic, b_nic = _nic(first, 5), _nic(second, 6)
    await networks.set_acl(second.network_id, DENY_ALL)
    assert second.network_id not in networks._state.networks
    async with guest(networks, "i-a", a_nic) as a, guest(networks, "i-b", b_nic) as b:
        await _open(networks, "i-a", "i-b")
        with serving(b.netns, "", 8080):
            # b's spec carries the default: the ACL told is the one held, the spec's is not.
            assert a.connect(b_nic.private_ip, 8080) == ""
            await networks.set_acl(second.network_id, SubnetAcl())
            assert a.reach(b_nic.private_ip, 8080) == f"peer {a_nic.private_ip}"
        await networks.set_acl(second.network_id, DENY_ALL)
        # The subnet's last instance gone, the host forgets its ACL: the next spec gives it.
        await networks.release("i-b")
        assert second.network_id not in networks._state.acls
        assert first.network_id in networks._state.acls


async def test_the_acls_survive_the_agent_and_a_reboot_and_old_state_reads_as_allow_all(
    networks: TenantNetworks, tmp_path: Path, layout: NetworkLayout
) -> None:
    vpc = _vpc()
    first, second = _subnet(vpc, 1), _subnet(vpc, 2)
    a_nic, b_nic = _nic(first, 5), _nic(second, 6)
    await networks.plug("i-a", a_nic)
    await networks.plug("i-b", b_nic)
    await _open(networks, "i-a", "i-b")
    deny_8080 = AclEntry(90, False, "tcp", "0.0.0.0/0", 8080, 8080)
    await networks.set_acl(second.network_id, SubnetAcl(ingress=(deny_8080, ALL)))
    # A host reboot loses namespaces and links; the agent restarts with its state file.
    subprocess.run(["ip", "netns", "del", networks.netns(vpc)], check=True)
    again = TenantNetworks(tmp_path / "net", layout)
    await again.restore()
    async with guest(again, "i-a", a_nic) as a, guest(again, "i-b", b_nic) as b:
        with serving(b.netns, "", 8080, 9090):
            assert a.connect(b_nic.private_ip, 8080) == ""
            assert a.reach(b_nic.private_ip, 9090) == f"peer {a_nic.private_ip}"
    # A state file written before network ACLs has none: the default's allow-all.
    state = tmp_path / "net" / "networks.json"
    document = json.loads(state.read_text())
    del document["acls"]
    state.write_text(json.dumps(document))
    older = TenantNetworks(tmp_path / "net", layout)
    assert older._state.acls == {}
    await older.restore()
    async with guest(older, "i-a", a_nic) as a, guest(older, "i-b", b_nic) as b:
        with serving(b.netns, "", 8080):
            assert a.reach(b_nic.private_ip, 8080) == f"peer {a_nic.private_ip}"
