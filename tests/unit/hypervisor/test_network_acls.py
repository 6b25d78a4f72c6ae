"""Network ACLs on the host side: the port's values and their checks, the call through the
agent's wire, the memory twin's books."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from andromede.compute.driver import AclEntry, NetworkSpec, SubnetAcl
from andromede.compute.driver_memory import MemoryDriver
from andromede.hypervisor.agent import agent_ready, serve_agent
from andromede.hypervisor.remote import RemoteDriver
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
        {"cidr": "2001:db8::/32"},
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
