"""Network ACLs on the host side: the port's values and their checks, the call through the
agent's wire, the memory twin's books, and the rules a router enforces them with (their effect
on packets: tests/contract/test_network_acls.py)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from andromede.compute.driver import (
    AttachedVolume,
    InstanceSpec,
    SeedSpec,
    VolumeSpec,
)
from andromede.compute.driver_memory import MemoryDriver
from andromede.compute.driver_network import (
    AclEntry,
    InstanceFirewall,
    NetworkPeer,
    NetworkSpec,
    NicSpec,
    SubnetAcl,
)
from andromede.hypervisor.agent import agent_ready, serve_agent
from andromede.hypervisor.network_acls import AclRules, render_network_acls
from andromede.hypervisor.remote import RemoteDriver
from andromede.hypervisor.router_firewall import render_firewall
from andromede.hypervisor.tenant_network import NetworkLayout, TenantNetworks
from andromede.hypervisor.wire import CALLS, decode, encode

DENY_SSH = SubnetAcl(
    ingress=(
        AclEntry(90, False, "tcp", "10.0.2.0/24", 22, 22),
        AclEntry(100, True, "-1", "0.0.0.0/0"),
    ),
    egress=(AclEntry(100, True, "udp", "0.0.0.0/0", 1024, 65535),),
)


def test_the_default_acl_lets_everything_through_both_ways() -> None:
    everything = AclEntry(100, True, "-1", "0.0.0.0/0")
    assert SubnetAcl() == SubnetAcl((everything,), (everything,))
    assert NetworkSpec("subnet-1", "111111111111", "10.0.0.0/24").acl == SubnetAcl()


@pytest.mark.parametrize(
    "fields",
    [
        {"rule_number": 0},
        {"rule_number": 32767},  # EC2 keeps 32767 for its implicit deny
        {"rule_number": True},
        {"protocol": "sctp"},
        {"protocol": "6"},
        {"cidr": "10.0.0.1/24"},  # host bits set
        {"cidr": "2001:db8::1/32"},  # host bits set (an IPv6 range is taken: decision 0217)
        {"cidr": "nowhere"},
        {"protocol": "tcp", "from_port": 80, "to_port": 79},
        {"protocol": "udp", "from_port": -1, "to_port": 10},
        {"protocol": "tcp", "from_port": 0, "to_port": 65536},
    ],
)
def test_a_malformed_entry_is_refused(fields: dict[str, Any]) -> None:
    entry: dict[str, Any] = {
        "rule_number": 100,
        "allow": True,
        "protocol": "-1",
        "cidr": "0.0.0.0/0",
    }
    with pytest.raises(ValueError):
        AclEntry(**(entry | fields))


def test_ports_are_checked_for_tcp_and_udp_only() -> None:
    assert AclEntry(1, True, "icmp", "0.0.0.0/0", -1, -1).protocol == "icmp"
    assert AclEntry(32766, False, "-1", "10.0.0.0/8", -1, -1).rule_number == 32766


def test_two_entries_of_one_direction_may_not_share_a_number() -> None:
    entry = AclEntry(100, True, "-1", "0.0.0.0/0")
    with pytest.raises(ValueError, match="ingress"):
        SubnetAcl(ingress=(entry, AclEntry(100, False, "tcp", "10.0.0.0/8", 22, 22)))
    # One number in each direction is two rules.
    assert SubnetAcl(ingress=(entry,), egress=(entry,)).egress == (entry,)


def test_an_acl_survives_the_wire() -> None:
    call = CALLS["set_network_acl"]
    decoded = [decode(kind, encode(value)) for (_, kind), value in zip(
        call.parameters, ("subnet-1", DENY_SSH), strict=True
    )]  # fmt: skip
    assert decoded == ["subnet-1", DENY_SSH]
    spec = NetworkSpec(
        "subnet-1", "111111111111", "10.0.1.0/24", 7, "vpc-1", "10.0.0.0/16", DENY_SSH
    )
    assert decode(NetworkSpec, encode(spec)) == spec
    # A gateway from before network ACLs sends no acl: the default.
    old = encode(spec)
    del old["acl"]
    assert decode(NetworkSpec, old).acl == SubnetAcl()


def test_a_malformed_entry_is_refused_on_the_wire() -> None:
    wired = encode(DENY_SSH)
    wired["ingress"][0]["rule_number"] = 0
    with pytest.raises(ValueError):
        decode(SubnetAcl, wired)
    wired = encode(DENY_SSH)
    wired["egress"][0]["allow"] = "yes"
    with pytest.raises(ValueError):
        decode(SubnetAcl, wired)


async def test_a_remote_driver_tells_the_agents_host_a_subnets_acl(tmp_path: Path) -> None:
    driver = MemoryDriver("h1")
    socket_path = tmp_path / "agent" / "agent.sock"
    stop = asyncio.Event()
    task = asyncio.create_task(serve_agent(driver, socket_path, stop))
    assert await asyncio.to_thread(agent_ready, socket_path, 10.0)
    remote = RemoteDriver(socket_path, host="h1")
    try:
        await remote.set_network_acl("subnet-1", DENY_SSH)
        assert driver.acls == {"subnet-1": DENY_SSH}
        await remote.set_network_acl("subnet-1", SubnetAcl())
        assert driver.acls == {"subnet-1": SubnetAcl()}
    finally:
        await remote.close()
        stop.set()
        await task


# -- the rules ----------------------------------------------------------------------------------


def _chain(rules: AclRules, name: str) -> list[str]:
    text = "\n".join(rules.chains)
    return text.split(f"  chain {name} {{\n")[1].split("\n  }")[0].splitlines()


def test_the_default_acl_costs_no_rule() -> None:
    assert render_network_acls({}) == AclRules()
    assert render_network_acls({"10.0.1.0/24": SubnetAcl(), "10.0.2.0/24": SubnetAcl()}) == (
        AclRules()
    )
    # An allow-all that comes first decides everything, whatever follows.
    first = SubnetAcl(
        ingress=(
            AclEntry(200, False, "tcp", "0.0.0.0/0", 22, 22),
            AclEntry(1, True, "-1", "0.0.0.0/0"),
        )
    )
    assert render_network_acls({"10.0.1.0/24": first}) == AclRules()


def test_each_direction_is_judged_at_the_subnets_boundary_only() -> None:
    rules = render_network_acls({"10.0.1.0/24": DENY_SSH})
    assert rules.forward == ("    jump network_acls",)
    dispatch = _chain(rules, "network_acls")
    # Out of the range to outside it (egress), into it from outside (ingress): never within.
    assert dispatch[1:] == [
        "    ip saddr 10.0.1.0/24 ip daddr != 10.0.1.0/24 jump acl_egress_0",
        "    ip daddr 10.0.1.0/24 ip saddr != 10.0.1.0/24 jump acl_ingress_0",
    ]


def test_the_metadata_service_is_never_judged() -> None:
    rules = render_network_acls({"10.0.1.0/24": SubnetAcl((), ())})
    # First, before any subnet's chain: its requests, DNAT'ed, and their replies.
    assert _chain(rules, "network_acls")[0] == "    ct original ip daddr 169.254.169.254 return"


def test_entries_are_taken_by_number_the_first_match_decides_and_the_rest_is_dropped() -> None:
    acl = SubnetAcl(
        ingress=(
            AclEntry(300, True, "udp", "0.0.0.0/0", 53, 53),
            AclEntry(100, True, "tcp", "0.0.0.0/0", 1024, 65535),
            AclEntry(90, False, "tcp", "192.0.2.0/24", 8000, 8000),
            AclEntry(200, True, "icmp", "10.0.0.0/8", -1, -1),
        ),
        egress=(AclEntry(100, True, "tcp", "10.0.2.0/24"), AclEntry(110, True, "udp", "0.0.0.0/0")),
    )
    rules = render_network_acls({"10.0.1.0/24": acl})
    assert _chain(rules, "acl_ingress_0") == [
        '    ip saddr 192.0.2.0/24 tcp dport 8000 drop comment "rule 90"',
        '    tcp dport 1024-65535 return comment "rule 100"',
        '    ip saddr 10.0.0.0/8 meta l4proto icmp return comment "rule 200"',
        '    udp dport 53 return comment "rule 300"',
        '    drop comment "no rule matched"',
    ]
    # Egress matches its range against the destination; every port is the protocol's.
    assert _chain(rules, "acl_egress_0") == [
        '    ip daddr 10.0.2.0/24 meta l4proto tcp return comment "rule 100"',
        '    meta l4proto udp return comment "rule 110"',
        '    drop comment "no rule matched"',
    ]


def test_an_entry_matching_everything_ends_its_chain() -> None:
    acl = SubnetAcl(
        ingress=(
            AclEntry(10, True, "tcp", "0.0.0.0/0", 22, 22),
            AclEntry(20, False, "-1", "0.0.0.0/0"),
            AclEntry(30, True, "-1", "0.0.0.0/0"),
        ),
        egress=(AclEntry(5, True, "-1", "10.0.0.0/8"),),
    )
    rules = render_network_acls({"10.0.1.0/24": acl})
    assert _chain(rules, "acl_ingress_0") == [
        '    tcp dport 22 return comment "rule 10"',
        '    drop comment "rule 20"',
    ]
    # Every protocol, but not every address: the implicit deny stays.
    assert _chain(rules, "acl_egress_0") == [
        '    ip daddr 10.0.0.0/8 return comment "rule 5"',
        '    drop comment "no rule matched"',
    ]


def test_an_empty_acl_drops_everything_crossing_and_each_subnet_has_its_chains() -> None:
    rules = render_network_acls(
        {"10.0.2.0/24": SubnetAcl((), ()), "10.0.1.0/24": SubnetAcl(), "10.0.3.0/24": DENY_SSH}
    )
    dispatch = "\n".join(_chain(rules, "network_acls"))
    assert "acl_egress_0" not in dispatch and "acl_ingress_0" not in dispatch  # the default's
    assert "ip saddr 10.0.2.0/24 ip daddr != 10.0.2.0/24 jump acl_egress_1" in dispatch
    assert "ip daddr 10.0.3.0/24 ip saddr != 10.0.3.0/24 jump acl_ingress_2" in dispatch
    assert _chain(rules, "acl_egress_1") == ['    drop comment "no rule matched"']


def test_the_acls_come_before_connection_tracking_in_the_routers_ruleset() -> None:
    ruleset = render_firewall(
        {"10.0.1.5": InstanceFirewall()},
        transit_cidr="100.64.0.0/16",
        public_cidr="100.65.0.0/16",
        nat={"10.0.1.5": "100.65.0.1"},
        host_transit_ip="100.64.0.1",
        imds_port=16925,
        acls={"10.0.1.0/24": DENY_SSH},
    )
    forward = ruleset.split("  chain forward {\n")[1].split("\n  }")[0].splitlines()
    # Stateless: a reply is judged before conntrack would let it through.
    assert forward[1:3] == ["    jump network_acls", "    ct state established,related accept"]
    assert "  chain acl_ingress_0 {" in ruleset
    # Without ACLs (or with the default), the ruleset is what it was.
    plain = render_firewall(
        {"10.0.1.5": InstanceFirewall()},
        transit_cidr="100.64.0.0/16",
        public_cidr="100.65.0.0/16",
        nat={"10.0.1.5": "100.65.0.1"},
        host_transit_ip="100.64.0.1",
        imds_port=16925,
        acls={"10.0.1.0/24": SubnetAcl()},
    )
    assert "network_acls" not in plain


# -- what a host holds ----------------------------------------------------------------------


def _spec(network_id: str, acl: SubnetAcl | None = None) -> NetworkSpec:
    return NetworkSpec(
        network_id, "111111111111", "10.9.2.0/24", 77, "vpc-1", "10.9.0.0/16", acl or SubnetAcl()
    )


async def test_the_acl_told_is_held_the_specs_only_when_none_is_and_all_survive_a_restart(
    tmp_path: Path,
) -> None:
    # Nothing of the VPC runs here: nothing is built, only the state is kept (no kernel).
    layout = NetworkLayout(underlay_address="192.0.2.1")
    networks = TenantNetworks(tmp_path / "net", layout)
    peers = (NetworkPeer("192.0.2.2", 4789, ("10.9.2.5",)),)
    await networks.set_peers("subnet-b", peers, _spec("subnet-b", DENY_SSH))
    assert networks._state.acls == {"subnet-b": DENY_SSH}  # the first the host hears of it
    await networks.set_acl("subnet-b", SubnetAcl())
    await networks.set_acl("subnet-c", DENY_SSH)  # a subnet this host knows nothing else of
    # A spec told later does not undo what set_acl told; the kept spec follows it.
    await networks.set_peers("subnet-b", peers, _spec("subnet-b", DENY_SSH))
    assert networks._state.acls == {"subnet-b": SubnetAcl(), "subnet-c": DENY_SSH}
    assert networks._state.specs["subnet-b"].acl == SubnetAcl()
    again = TenantNetworks(tmp_path / "net", layout)
    assert again._state.acls == networks._state.acls
    assert again._state.specs == networks._state.specs


async def test_a_state_file_from_before_network_acls_reads_as_allow_all(tmp_path: Path) -> None:
    layout = NetworkLayout(underlay_address="192.0.2.1")
    networks = TenantNetworks(tmp_path / "net", layout)
    peers = (NetworkPeer("192.0.2.2", 4789, ("10.9.2.5",)),)
    await networks.set_peers("subnet-b", peers, _spec("subnet-b", DENY_SSH))
    state = tmp_path / "net" / "networks.json"
    document = json.loads(state.read_text())
    del document["acls"]
    del document["specs"]["subnet-b"]["acl"]
    state.write_text(json.dumps(document))
    older = TenantNetworks(tmp_path / "net", layout)
    assert older._state.acls == {}
    assert older._state.specs["subnet-b"] == _spec("subnet-b")


async def test_the_memory_twin_holds_acls_as_a_bridged_host_does() -> None:
    driver = MemoryDriver("h1")
    key = b"k" * 32
    await driver.create_volume(VolumeSpec("vol-1", 1, key))
    await driver.create_volume(VolumeSpec("vol-2", 1, key))
    seed = SeedSpec(meta_data="{}", user_data=b"", network_config="")
    subnet = _spec("subnet-b", DENY_SSH)

    def instance(instance_id: str, volume_id: str, network: NetworkSpec) -> InstanceSpec:
        nic = NicSpec(network, "02:00:00:00:00:05", "10.9.2.5")
        return InstanceSpec(
            instance_id, 1, 128, AttachedVolume(volume_id, "/dev/xvda", key), seed, nic=nic
        )

    # The spec's ACL, the first the host hears of the subnet…
    await driver.start(instance("i-1", "vol-1", subnet))
    assert driver.acls == {"subnet-b": DENY_SSH}
    # …then set_network_acl's: a later spec does not undo it.
    await driver.set_network_acl("subnet-b", SubnetAcl())
    await driver.start(instance("i-2", "vol-2", subnet))
    assert driver.acls == {"subnet-b": SubnetAcl()}
    # The subnet's last instance released: forgotten, as a host forgets it.
    await driver.release("i-1")
    assert driver.acls == {"subnet-b": SubnetAcl()}
    await driver.release("i-2")
    assert driver.acls == {}
