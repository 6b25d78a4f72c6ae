"""VPC peering across hosts on a host, pure (hypervisor/peering_segments.py, decision 0139's
addendum): which router of a host leads a connection's segment and what it routes onto it,
the forward rules of a lead, and the link's way over the agent's wire (left out while empty,
so an older agent still reads a connection within one host)."""

from __future__ import annotations

from andromede.compute.driver_network import (
    FirewallRule,
    InstanceFirewall,
    NetworkPeer,
    PeeringLink,
)
from andromede.hypervisor.peering_links import link_name
from andromede.hypervisor.peering_segments import (
    PORT_OFFSET,
    is_segment,
    segment_mac,
    segment_name,
    segments_here,
    transit_rules,
)
from andromede.hypervisor.router_firewall import render_firewall
from andromede.hypervisor.wire import decode, encode

ME = ("192.0.2.1", 4789)
OTHER = NetworkPeer("192.0.2.2", 4789, ("10.2.1.6", "10.2.1.7"))
LINK = PeeringLink(
    "pcx-1", "vpc-a", "10.1.0.0/16", "vpc-b", "10.2.0.0/16", vni=77, accepter_peers=(OTHER,)
)


def test_the_requesters_router_leads_and_routes_the_other_sides_instances_elsewhere() -> None:
    [segment] = segments_here([LINK], {"vpc-a"}, ME)
    mac = segment_mac("pcx-1", "192.0.2.2", 4789)
    assert (segment.router, segment.name, segment.vni, segment.end) == (
        "vpc-a", segment_name("pcx-1"), 77, "",
    )  # fmt: skip
    assert segment.mac == segment_mac("pcx-1", *ME) != mac
    assert segment.routes == (("10.2.1.6", mac), ("10.2.1.7", mac))
    assert segment.hosts == ((mac, "192.0.2.2", 4789 + PORT_OFFSET),)
    assert is_segment(segment.name) and len(segment.name) <= 15
    # With the peer's router here too, the requester's still leads, beside its link's end.
    [both] = segments_here([LINK], {"vpc-a", "vpc-b"}, ME)
    assert (both.router, both.end) == ("vpc-a", link_name("pcx-1", "a"))


def test_the_accepters_router_leads_where_it_is_alone_and_routes_the_requesters() -> None:
    link = PeeringLink(
        "pcx-1", "vpc-a", "10.1.0.0/16", "vpc-b", "10.2.0.0/16", vni=77,
        requester_peers=(NetworkPeer("192.0.2.2", 4789, ("10.1.1.5",)),),
    )  # fmt: skip
    [segment] = segments_here([link], {"vpc-b"}, ME)
    assert segment.router == "vpc-b" and segment.routes[0][0] == "10.1.1.5"


def test_no_segment_without_an_overlay_a_vxlan_id_or_a_router_here() -> None:
    assert segments_here([LINK], {"vpc-a"}, ("", 0)) == []
    assert segments_here([LINK], {"vpc-c"}, ME) == []
    one_host = PeeringLink("pcx-1", "vpc-a", "10.1.0.0/16", "vpc-b", "10.2.0.0/16")
    assert segments_here([one_host], {"vpc-a", "vpc-b"}, ME) == []
    # This host's own instances, were they listed, are reached here, never over the segment.
    mine = PeeringLink(
        "pcx-1", "vpc-a", "10.1.0.0/16", "vpc-b", "10.2.0.0/16", vni=77,
        accepter_peers=(NetworkPeer(*ME, ("10.2.1.9",)), OTHER),
    )  # fmt: skip
    [segment] = segments_here([mine], {"vpc-a"}, ME)
    assert "10.2.1.9" not in dict(segment.routes)


def test_a_lead_lets_the_segment_reach_its_peers_router_and_the_link_its_own_vpc_elsewhere() -> (
    None
):
    [alone] = segments_here([LINK], {"vpc-a"}, ME)
    assert transit_rules([alone], {"10.1.1.9"}) == []  # no peer router here: no transit
    [both] = segments_here([LINK], {"vpc-a", "vpc-b"}, ME)
    assert transit_rules([both], {"10.1.1.9"}) == [
        f'    iifname "{both.name}" oifname "{both.end}" accept',
        f'    iifname "{both.end}" ip daddr {{ 10.1.1.9 }} accept',
    ]
    assert transit_rules([both], ()) == [f'    iifname "{both.name}" oifname "{both.end}" accept']


def test_the_routers_ruleset_lets_only_its_own_instances_out_onto_the_segment() -> None:
    [both] = segments_here([LINK], {"vpc-a", "vpc-b"}, ME)
    rules = (FirewallRule("-1", 0, 0, "0.0.0.0/0"),)
    ruleset = render_firewall(
        {"10.1.1.5": InstanceFirewall(ingress=rules, egress=rules)},
        transit_cidr="100.64.0.0/24",
        public_cidr="100.65.0.0/24",
        nat={"10.1.1.5": "100.65.0.5"},
        host_transit_ip="100.64.0.1",
        imds_port=20000,
        remote={"10.1.1.9": "02:00:00:00:00:09"},
        peering_ends=[both.end, both.name],
        peering_transit=[both],
    )
    assert f'oifname {{ "{both.end}", "{both.name}" }} ip saddr {{ 10.1.1.5 }} accept' in ruleset
    assert f'iifname "{both.name}" oifname "{both.end}" accept' in ruleset
    assert f'iifname "{both.end}" ip daddr {{ 10.1.1.9 }} accept' in ruleset
    # Nothing from a peer leaves for the host or beyond, whatever the peer's router sends.
    drop = f'iifname {{ "{both.end}", "{both.name}" }} oifname "transit" drop'
    assert ruleset.index(drop) < ruleset.index('oifname "transit" accept')
    # After every instance's jumps: what comes in on the segment meets their ingress first.
    assert ruleset.index("jump ingress_0") < ruleset.index(f'iifname "{both.name}"')


def test_a_link_crosses_the_agents_wire_with_its_peers_and_without_them_as_before() -> None:
    assert decode(PeeringLink, encode(LINK)) == LINK
    within = PeeringLink("pcx-1", "vpc-a", "10.1.0.0/16", "vpc-b", "10.2.0.0/16")
    assert set(encode(within)) == {
        "peering_id", "requester_vpc_id", "requester_cidr", "accepter_vpc_id", "accepter_cidr",
    }  # fmt: skip
    assert decode(PeeringLink, encode(within)) == within
    assert encode(LINK)["vni"] == 77 and "requester_peers" not in encode(LINK)
