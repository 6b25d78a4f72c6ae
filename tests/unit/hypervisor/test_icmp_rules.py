"""ICMP types and codes on the host side (decision 0130): a security group rule's and a network
ACL entry's checks, their wire forms (an older agent still reads what it can enforce), a state
file from before, and the nft matches the rulesets hold (their effect on packets:
tests/contract/test_icmp_rules.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from andromede.compute.driver_network import (
    AclEntry,
    FirewallRule,
    InstanceFirewall,
    SubnetAcl,
)
from andromede.hypervisor.network_acls import icmp_match, render_network_acls
from andromede.hypervisor.network_state import load_state, save_state
from andromede.hypervisor.router_firewall import render_firewall
from andromede.hypervisor.wire import decode, encode

ANYWHERE = "0.0.0.0/0"
# The fields of an entry as agents older than decision 0130 know them.
ACL_ENTRY_FIELDS = {"rule_number", "allow", "protocol", "cidr", "from_port", "to_port"}


def test_the_match_of_a_type_and_a_code() -> None:
    assert icmp_match(-1, -1) == ""  # all: the caller's match of every ICMP packet
    assert icmp_match(8, -1) == "icmp type 8"
    assert icmp_match(3, 4) == "icmp type 3 icmp code 4"
    assert icmp_match(0, 0) == "icmp type 0 icmp code 0"


@pytest.mark.parametrize(
    ("icmp_type", "icmp_code"), [(256, -1), (8, 256), (-2, -1), (-1, 0), (8, -2)]
)
def test_a_malformed_icmp_entry_or_rule_is_refused(icmp_type: int, icmp_code: int) -> None:
    with pytest.raises(ValueError):
        AclEntry(100, True, "icmp", ANYWHERE, icmp_type=icmp_type, icmp_code=icmp_code)
    with pytest.raises(ValueError):
        FirewallRule("icmp", icmp_type, icmp_code, ANYWHERE)


def test_a_rule_of_all_icmp_is_read_in_both_forms() -> None:
    assert FirewallRule("icmp", 8, 0, ANYWHERE).icmp_type_code == (8, 0)
    assert FirewallRule("icmp", -1, -1, ANYWHERE).icmp_type_code == (-1, -1)
    # What controllers before decision 0130 sent for every icmp rule, and states hold.
    assert FirewallRule("icmp", 0, 65535, ANYWHERE).icmp_type_code == (-1, -1)
    with pytest.raises(ValueError):
        FirewallRule("icmp", 1, 65535, ANYWHERE)


def test_an_entry_of_all_icmp_keeps_the_wire_form_older_agents_read() -> None:
    every = AclEntry(100, True, "icmp", ANYWHERE)
    assert set(encode(every)) == ACL_ENTRY_FIELDS
    assert decode(AclEntry, encode(every)) == every
    # A type or code is sent: an older agent refuses the call rather than allow all ICMP.
    echo = AclEntry(100, True, "icmp", ANYWHERE, icmp_type=8, icmp_code=0)
    wired = encode(echo)
    assert set(wired) - ACL_ENTRY_FIELDS == {"icmp_type", "icmp_code"}
    assert decode(AclEntry, wired) == echo
    assert set(encode(AclEntry(100, True, "icmp", ANYWHERE, icmp_type=0))) == (
        ACL_ENTRY_FIELDS | {"icmp_type"}
    )
    assert decode(SubnetAcl, encode(SubnetAcl((echo,), (every,)))) == SubnetAcl((echo,), (every,))
    # A security group rule's wire form is the one it had: the type and code are its ports.
    rule = FirewallRule("icmp", 8, -1, ANYWHERE)
    assert encode(rule) == {"protocol": "icmp", "from_port": 8, "to_port": -1, "cidr": ANYWHERE}
    assert decode(FirewallRule, encode(rule)) == rule


def _firewall(*ingress: FirewallRule) -> str:
    return render_firewall(
        {"10.0.1.5": InstanceFirewall(ingress=ingress)},
        transit_cidr="100.64.0.0/16",
        public_cidr="100.65.0.0/16",
        nat={"10.0.1.5": "100.65.0.1"},
        host_transit_ip="100.64.0.1",
        imds_port=16925,
    )


def _chain(ruleset: str, name: str) -> list[str]:
    return ruleset.split(f"  chain {name} {{\n")[1].split("\n  }")[0].splitlines()


def test_a_security_group_rule_matches_its_type_and_code_and_replies_pass_by_conntrack() -> None:
    ruleset = _firewall(
        FirewallRule("icmp", 8, -1, "10.0.0.0/8"),
        FirewallRule("icmp", 3, 4, ANYWHERE),
        FirewallRule("icmp", -1, -1, "192.0.2.0/24"),
        FirewallRule("icmp", 0, 65535, "198.51.100.0/24"),  # an older controller's all
    )
    assert _chain(ruleset, "ingress_0") == [
        "    ip saddr 10.0.0.0/8 icmp type 8 accept",
        "    icmp type 3 icmp code 4 accept",
        "    ip saddr 192.0.2.0/24 ip protocol icmp accept",
        "    ip saddr 198.51.100.0/24 ip protocol icmp accept",
        "    drop",
    ]
    # Stateful: the echo reply and the errors of an allowed flow pass before any group's chain.
    forward = _chain(ruleset, "forward")
    assert forward.index("    ct state established,related accept") < forward.index(
        "    ip daddr 10.0.1.5 jump ingress_0"
    )


def test_an_acl_entry_matches_its_type_and_code() -> None:
    acl = SubnetAcl(
        ingress=(
            AclEntry(90, True, "icmp", ANYWHERE, icmp_type=8, icmp_code=0),
            AclEntry(95, False, "icmp", "10.0.0.0/8"),
            AclEntry(100, True, "-1", ANYWHERE),
        ),
        egress=(AclEntry(100, True, "icmp", ANYWHERE, icmp_type=0),),
    )
    rules = render_network_acls({"10.0.1.0/24": acl})
    chains = "\n".join(rules.chains) + "\n"
    assert _chain(chains, "acl_ingress_0") == [
        '    icmp type 8 icmp code 0 return comment "rule 90"',
        '    ip saddr 10.0.0.0/8 meta l4proto icmp drop comment "rule 95"',
        '    return comment "rule 100"',
    ]
    assert _chain(chains, "acl_egress_0") == [
        '    icmp type 0 return comment "rule 100"',
        '    drop comment "no rule matched"',
    ]


@pytest.mark.skipif(shutil.which("nft") is None, reason="needs nft")
def test_nft_takes_the_rendered_matches(tmp_path: Path) -> None:
    # nft's own parser, without loading anything: the numeric types and codes are nft's.
    acl = SubnetAcl(ingress=(AclEntry(90, True, "icmp", ANYWHERE, icmp_type=13, icmp_code=0),))
    ruleset = render_firewall(
        {"10.0.1.5": InstanceFirewall(ingress=(FirewallRule("icmp", 255, 255, ANYWHERE),))},
        transit_cidr="100.64.0.0/16",
        public_cidr="100.65.0.0/16",
        nat={"10.0.1.5": "100.65.0.1"},
        host_transit_ip="100.64.0.1",
        imds_port=16925,
        acls={"10.0.1.0/24": acl},
    )
    path = tmp_path / "ruleset.nft"
    path.write_text(ruleset)
    checked = subprocess.run(
        ["nft", "--check", "-f", str(path)], capture_output=True, text=True, check=False
    )
    if "Operation not permitted" in checked.stderr:
        pytest.skip("nft --check needs CAP_NET_ADMIN")
    assert checked.returncode == 0, checked.stderr


def test_a_state_file_from_before_reads_its_icmp_rules_as_all(tmp_path: Path) -> None:
    path = tmp_path / "networks.json"
    rule: dict[str, Any] = {"protocol": "icmp", "from_port": 0, "to_port": 65535, "cidr": ANYWHERE}
    entry = {
        "rule_number": 100,
        "allow": True,
        "protocol": "icmp",
        "cidr": ANYWHERE,
        "from_port": 0,
        "to_port": 65535,
    }
    path.write_text(
        json.dumps(
            {
                "firewalls": {"subnet-1": {"10.0.1.5": {"ingress": [rule], "egress": []}}},
                "acls": {"subnet-1": {"ingress": [entry], "egress": []}},
            }
        )
    )
    state = load_state(path)
    [read] = state.firewalls["subnet-1"]["10.0.1.5"].ingress
    assert read.icmp_type_code == (-1, -1)
    [held] = state.acls["subnet-1"].ingress
    assert (held.icmp_type, held.icmp_code) == (-1, -1)
    save_state(path, state)
    assert load_state(path) == state
