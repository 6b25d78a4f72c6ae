"""VPC peering connections on one host (decision 0139): the link joining two VPCs' routers.

Each VPC is a namespace of its own on a host — its router (decision 0106) — sharing nothing
with another. An active peering connection whose two VPCs both have instances on this host
joins their routers with a veth pair made between the two namespaces directly (never in the
host's, where two agents could pick one name): ``pcx<8 hex of the id>a`` in the requester's,
``…b`` in the accepter's. The ends hold no address: each router routes the other VPC's block
onto its end (``ip route replace <block> dev <end>``), and answers ARP there for its own
instances (``proxy_arp``), as it answers for them on their bridges. The two blocks never
overlap (the control plane fails such a request), so the routes cannot clash with a subnet's.

What crosses is each instance's firewall's to say: the control plane confined the sender's
egress to what its route table sends to the connection and the receiver's ingress to what
its own table sends back, so a packet passes only where both sides route it
(:func:`forward_rules`: out through an end only from a local instance whose egress allowed
it; in through it only to a local instance whose ingress does). Network ACLs are judged at the
subnets' boundary before all of it, as for any packet.

Across hosts (a VPC's instances on one host, the peer's on another), the connection's own
VXLAN segment joins one router per host: :mod:`~andromede.hypervisor.peering_segments`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from andromede.compute.driver_network import (
    PeeringLink,
)

__all__ = [
    "LinkEnd",
    "apply_links",
    "ends_here",
    "forward_rules",
    "is_link_end",
    "link_name",
]

Run = Callable[..., Awaitable[str]]


def link_name(peering_id: str, side: str) -> str:
    """The name of one end (``a`` the requester's, ``b`` the accepter's): 12 characters,
    within the kernel's 15, the same wherever computed."""
    return "pcx" + hashlib.sha256(peering_id.encode()).hexdigest()[:8] + side


@dataclass(frozen=True, slots=True)
class LinkEnd:
    """One end of a link, in one router: its name, and the peer block routed onto it."""

    router: str
    name: str
    peer_cidr: str
    # The other end: its router and name.
    other_router: str
    other_name: str


def ends_here(links: Sequence[PeeringLink], routers: Collection[str]) -> list[LinkEnd]:
    """The ends of the links whose two routers are both here (``routers``: the VPCs built on
    this host), requester's first, in the connections' order."""
    ends: list[LinkEnd] = []
    for link in sorted(links, key=lambda link: link.peering_id):
        if link.requester_vpc_id not in routers or link.accepter_vpc_id not in routers:
            continue
        a, b = link_name(link.peering_id, "a"), link_name(link.peering_id, "b")
        ends.append(LinkEnd(link.requester_vpc_id, a, link.accepter_cidr, link.accepter_vpc_id, b))
        ends.append(LinkEnd(link.accepter_vpc_id, b, link.requester_cidr, link.requester_vpc_id, a))
    return ends


def forward_rules(ends: Sequence[str], local: Collection[str]) -> list[str]:
    """The router's forward-chain rules for its link ends (``ends``: their names), placed
    after every instance's egress and ingress jumps: out through an end, only from one of the
    router's own instances (``local``) once its egress rules returned. In through an end, a
    packet meets its destination's ingress chain like any other; nothing else is accepted
    (nothing is routed from one peer to a third network: EC2 has no transitive peering)."""
    if not ends or not local:
        return []
    names = ", ".join(f'"{name}"' for name in sorted(ends))
    sources = ", ".join(sorted(local))
    return [f"    oifname {{ {names} }} ip saddr {{ {sources} }} accept"]


async def apply_links(
    run: Run,
    netns: Callable[[str], str],
    wanted: Sequence[LinkEnd],
    present: Mapping[str, Collection[str]],
) -> None:
    """Make the ``wanted`` ends missing from their routers (``present``: router → the link
    ends its namespace holds now; the pair at once, from the requester's side), route the peer
    blocks onto them, and delete the ends a router holds that are no longer wanted (deleting
    one end takes its pair; a namespace gone took its ends already)."""
    keep = {(end.router, end.name) for end in wanted}
    for router, names in sorted(present.items()):
        for name in sorted(names):
            if (router, name) not in keep:
                await run("ip", "-n", netns(router), "link", "del", name, check=False)
    for end in wanted:
        if end.name.endswith("a") and end.name not in present.get(end.router, ()):
            await run(
                "ip", "-n", netns(end.router), "link", "add", end.name, "type", "veth",
                "peer", "name", end.other_name, "netns", netns(end.other_router),
            )  # fmt: skip
    for end in wanted:
        ns = netns(end.router)
        await run(
            "ip", "netns", "exec", ns, "sysctl", "-q", "-w",
            f"net.ipv4.conf.{end.name}.proxy_arp=1",
        )  # fmt: skip
        await run("ip", "-n", ns, "link", "set", end.name, "up")
        await run("ip", "-n", ns, "route", "replace", end.peer_cidr, "dev", end.name)


def is_link_end(name: str) -> bool:
    """Whether a link of a router's namespace is a peering link's end."""
    return len(name) == 12 and name.startswith("pcx") and name[-1] in "ab"
