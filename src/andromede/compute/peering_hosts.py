"""What each host is told of the active VPC peering connections (decision 0139 and its
addendum across hosts), pure: :func:`links_by_host`.

A host holding instances of both VPCs of a connection joins their routers there by a link of
their own; a host holding one side's instances, while the other side's (or its own side's)
run on other hosts too, joins the connection's own VXLAN segment (:func:`peering_vni`) and
routes each of the other side's instances elsewhere to its host's router on that segment. So
a connection is told, with the other hosts holding each side's instances
(:class:`~andromede.compute.driver_network.NetworkPeer`: their overlay endpoints and the private
addresses), to every host holding both sides, and to every host holding one side while the
other side runs on another host it can reach (both with an overlay endpoint).
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from andromede.compute.driver_network import (
    NetworkPeer,
    PeeringLink,
)
from andromede.compute.vpc_peering import VpcPeeringConnection

__all__ = ["links_by_host", "peering_vni"]

_VNI_MAX: Final = 2**24 - 1


def peering_vni(peering_id: str) -> int:
    """The VXLAN id of a connection's own segment: derived from its id, the same wherever
    computed, in 1..2**24-1. It shares no id space with the subnets' (the segments use their
    own UDP port on the hosts: ``hypervisor.peering_segments``); two active connections of
    one host drawing the same id is the one clash (odds of one in 16 million a pair), which
    that host reports when it makes the second."""
    digest = hashlib.sha256(f"andromede-pcx-vni:{peering_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % _VNI_MAX + 1


def _peers(
    placed: Mapping[str, set[str]], endpoints: Mapping[str, tuple[str, int]], host: str
) -> tuple[NetworkPeer, ...]:
    """The other hosts (with an overlay endpoint) holding some of ``placed`` (host → private
    addresses), in host order, each with its addresses lowest first."""
    return tuple(
        NetworkPeer(
            *endpoints[other],
            tuple(sorted(addresses, key=lambda a: int(ipaddress.IPv4Address(a)))),
        )
        for other, addresses in sorted(placed.items())
        if other != host and other in endpoints and addresses
    )


def links_by_host(
    active: Sequence[VpcPeeringConnection],
    placed: Iterable[tuple[str, str, str]],
    hosts: Iterable[str],
    endpoints: Mapping[str, tuple[str, int]],
) -> dict[str, tuple[PeeringLink, ...]]:
    """For every host in ``hosts``, the links it is told (a host told none parts those it
    holds). ``placed`` is (host, VPC id, private address) of every instance wired on a host;
    ``endpoints`` host → its overlay endpoint, for the hosts that have one."""
    by_vpc: dict[str, dict[str, set[str]]] = {}
    for host, vpc_id, address in placed:
        by_vpc.setdefault(vpc_id, {}).setdefault(host, set()).add(address)
    told: dict[str, tuple[PeeringLink, ...]] = {}
    for host in sorted(set(hosts)):
        links: list[PeeringLink] = []
        for peering in sorted(active, key=lambda p: p.peering_id):
            requester = by_vpc.get(peering.requester_vpc_id, {})
            accepter = by_vpc.get(peering.accepter_vpc_id, {})
            here = (host in requester, host in accepter)
            if not any(here):
                continue
            requester_peers: tuple[NetworkPeer, ...] = ()
            accepter_peers: tuple[NetworkPeer, ...] = ()
            if host in endpoints:
                requester_peers = _peers(requester, endpoints, host)
                accepter_peers = _peers(accepter, endpoints, host)
            if here == (True, False) and not accepter_peers:
                continue  # the requester's side here, the accepter's nowhere it can reach
            if here == (False, True) and not requester_peers:
                continue
            remote = bool(requester_peers or accepter_peers)
            links.append(
                PeeringLink(
                    peering.peering_id,
                    peering.requester_vpc_id,
                    peering.requester_cidr,
                    peering.accepter_vpc_id,
                    peering.accepter_cidr,
                    vni=peering_vni(peering.peering_id) if remote else 0,
                    requester_peers=requester_peers,
                    accepter_peers=accepter_peers,
                )
            )
        told[host] = tuple(links)
    return told
