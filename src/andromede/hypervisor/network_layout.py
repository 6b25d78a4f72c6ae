"""The host-wide address plan of the tenant networks (:class:`NetworkLayout`, from the
settings: transit and public ranges, the metadata port, link names, the overlay's underlay, the
Elastic IPs' uplink, the resolvers' upstream) and what is told of their transit addresses
(:class:`NetworkWatcher`: the metadata listeners).

Split off :mod:`~andromede.hypervisor.tenant_network` for size (STYLE §10), unchanged; callers
import from there.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Protocol

__all__ = ["VXLAN_OVERHEAD", "NetworkLayout", "NetworkWatcher"]

# Outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14) headers.
VXLAN_OVERHEAD = 50
_MIN_UNDERLAY_MTU = 576 + VXLAN_OVERHEAD  # IPv4's minimum datagram, inside
_LINK_NAME = re.compile(r"[A-Za-z0-9_.-]{1,15}")


@dataclass(frozen=True, slots=True)
class NetworkLayout:
    """The host-wide address plan of the tenant networks (settings).

    ``link_prefix`` starts the name of every host-side link (at most 6 characters: Linux names
    are 15), so two agents on one host — tests, for instance — never collide."""

    transit_cidr: str = "100.64.0.0/16"
    public_cidr: str = "100.65.0.0/16"
    imds_port: int = 16925
    # Where the VPC endpoints' listener answers on the transit links' host side (decision
    # 0160): the object store, for what the routers redirect to it.
    vpce_port: int = 16926
    # Where the endpoints' TLS listener answers (what guests send to the store's port 443),
    # terminating TLS with the store's certificate; 0 = none (their TLS then meets the plain
    # listener and fails).
    vpce_tls_port: int = 0
    link_prefix: str = "andr"
    # This host's end of the overlay (VXLAN) that joins a network's instances on several hosts;
    # "" = no overlay: each network lives on this host alone.
    underlay_address: str = ""
    vxlan_port: int = 4789
    # What the underlay carries per frame; guests get this minus the VXLAN encapsulation.
    underlay_mtu: int = 1500
    # The network namespace holding the underlay address, "" = the host's own. Tests put two
    # "hosts" on one machine this way: with both endpoints in one namespace the kernel hands
    # VXLAN frames across directly ("local bypass"), connection-tracking state included,
    # and the receiving namespace's stateful rules then see replies of connections they never
    # saw open.
    underlay_netns: str = ""
    # The interface on which the host answers ARP for the Elastic IPs it holds (proxy
    # entries), so a router of the operator's segment reaches them through it; "" = none (the
    # operator's network routes the Elastic IPs' block to the hosts, or the host alone uses
    # them).
    elastic_ip_uplink: str = ""
    # Where the VPCs' resolvers send the names that are not the VPC's (decision 0143): IPv4
    # addresses reached from the routers' transit addresses; none = such names are refused.
    dns_upstream: tuple[str, ...] = ()
    # Seconds between two checks of the routers' DNS processes, a dead one then started again
    # (decision 0375).
    dns_supervise_interval: float = 5.0
    # Ranges of the platform besides the transit and public ones (the Elastic IPs' block, the
    # object store's endpoint, the operator's LAN): what an instance sends there is not
    # internet egress (decision 0176).
    platform_cidrs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        transit = ipaddress.IPv4Network(self.transit_cidr)
        public = ipaddress.IPv4Network(self.public_cidr)
        if transit.prefixlen > 29:
            raise ValueError("transit_cidr must hold at least two /30 links")
        if transit.overlaps(public):
            raise ValueError("transit_cidr and public_cidr overlap")
        if not 1 <= len(self.link_prefix) <= 6 or not self.link_prefix.isalnum():
            raise ValueError("link_prefix must be 1 to 6 letters or digits")
        if self.underlay_address:
            ipaddress.IPv4Address(self.underlay_address)  # raises ValueError
        if not 1 <= self.vxlan_port <= 65534:
            # The next port is the VPC peering segments' (hypervisor/peering_segments.py).
            raise ValueError("vxlan_port must be a UDP port below 65535")
        if self.underlay_mtu < _MIN_UNDERLAY_MTU:
            raise ValueError(f"underlay_mtu must be at least {_MIN_UNDERLAY_MTU}")
        if self.elastic_ip_uplink and not _LINK_NAME.fullmatch(self.elastic_ip_uplink):
            raise ValueError("elastic_ip_uplink must be an interface name (15 characters at most)")
        for server in self.dns_upstream:
            ipaddress.IPv4Address(server)  # raises ValueError
        if not self.dns_supervise_interval > 0:
            raise ValueError("dns_supervise_interval must be positive")
        for block in self.platform_cidrs:
            ipaddress.IPv4Network(block)  # raises ValueError
        if self.vpce_port == self.imds_port:
            raise ValueError("vpce_port and imds_port must differ")
        if self.vpce_tls_port in (self.imds_port, self.vpce_port):
            raise ValueError("vpce_tls_port must differ from imds_port and vpce_port")

    @property
    def overlay_mtu(self) -> int:
        """The MTU of a network's bridge, taps and guests when it spans hosts."""
        return self.underlay_mtu - VXLAN_OVERHEAD


class NetworkWatcher(Protocol):
    """Told when a network's host transit address appears and goes (the metadata listeners)."""

    async def network_up(self, host_ip: str) -> None: ...

    async def network_down(self, host_ip: str) -> None: ...
