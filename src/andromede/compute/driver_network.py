"""The network half of the hypervisor port: what a host is told of tenant networks.

:mod:`andromede.compute.driver` holds the port itself (:class:`~andromede.compute.driver.
HypervisorDriver`) and the instance and volume specs; this module holds the plain data it
hands a host about networks — subnets (:class:`NetworkSpec`) and an instance's NIC on one,
network ACLs, a VPC's DNS, overlay peers, NAT gateways, VPC endpoints, routes to interfaces,
peering connections, security-group rules (:class:`InstanceFirewall`) and flow-log captures
and their reports. Split from ``driver.py`` by concern (decision 0198) so the port can grow
without either module reaching the size bound.

Plain data as the rest of the port: no database, no HTTP. A field's
:data:`WIRE_OMITTED_AT_DEFAULT` metadata tells :mod:`andromede.hypervisor.wire` to leave it
out of the wire form while it holds its default, so that an older agent still reads the spec.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from andromede.compute.endpoint_ports import INTERFACE_SLOTS
from andromede.compute.flow_log_files import FlowRecord
from andromede.compute.traffic import TrafficCount

__all__ = [
    "WIRE_OMITTED_AT_DEFAULT",
    "AclEntry",
    "EndpointRoute",
    "FirewallRule",
    "FlowCapture",
    "HostFlows",
    "InstanceFirewall",
    "InterfaceRoute",
    "NatRoute",
    "NatSource",
    "NetworkPeer",
    "NetworkSpec",
    "NicSpec",
    "PeeringLink",
    "SkippedFlows",
    "SubnetAcl",
    "VpcDns",
]

_PROTOCOLS = frozenset({"tcp", "udp", "icmp", "-1"})
# A field's metadata key: the field is left out of the wire form (hypervisor.wire) while it
# holds its default, so that an agent older than the field still reads the value.
WIRE_OMITTED_AT_DEFAULT = "andromede.wire.omitted_at_default"
# A public DNS name (decision 0151): labels of letters, digits and hyphens.
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_PUBLIC_NAME = re.compile(rf"(?:{_LABEL}\.)+{_LABEL}")
# A private hosted zone's names (decision 0280): labels of letters, digits, hyphens and
# underscores (SRV's ``_sip._tcp``), a leading ``*`` label for a wildcard.
_ZONE_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_ZONE_NAME = re.compile(rf"(?:\*\.)?(?:{_ZONE_LABEL}\.)*{_ZONE_LABEL}")


def _check_icmp(icmp_type: int, icmp_code: int) -> None:
    """An ICMP type and code, -1 for all; a code only with a type (decision 0130)."""
    if not (-1 <= icmp_type <= 255 and -1 <= icmp_code <= 255):
        raise ValueError(f"bad ICMP type {icmp_type} or code {icmp_code}")
    if icmp_type == -1 and icmp_code != -1:
        raise ValueError(f"an ICMP code ({icmp_code}) needs a type")


@dataclass(frozen=True, slots=True)
class AclEntry:
    """One network ACL rule; in each direction the entry with the lowest rule number that a
    packet matches decides, and a packet no entry matches is dropped."""

    rule_number: int  # 1..32766
    allow: bool
    protocol: str  # "tcp", "udp", "icmp" or "-1" (every protocol)
    cidr: str  # the peer's range: the source for ingress, the destination for egress
    from_port: int = 0  # tcp/udp only, inclusive (ignored for icmp and -1)
    to_port: int = 65535
    # icmp only: the ICMP type and code, -1 for all (decision 0130). Left out of the wire
    # form while all, so that an agent older than them still reads every other entry.
    icmp_type: int = field(default=-1, metadata={WIRE_OMITTED_AT_DEFAULT: True})
    icmp_code: int = field(default=-1, metadata={WIRE_OMITTED_AT_DEFAULT: True})

    def __post_init__(self) -> None:
        if isinstance(self.rule_number, bool) or not 1 <= self.rule_number <= 32766:
            raise ValueError(f"rule number {self.rule_number!r} is not in 1..32766")
        if self.protocol not in _PROTOCOLS:
            raise ValueError(f"unsupported protocol {self.protocol!r}")
        # An IPv4 or (decision 0217) an IPv6 range; raises ValueError on a bad one.
        ipaddress.ip_network(self.cidr)
        if self.protocol in {"tcp", "udp"} and not 0 <= self.from_port <= self.to_port <= 65535:
            raise ValueError(f"bad port range {self.from_port}-{self.to_port}")
        _check_icmp(self.icmp_type, self.icmp_code)


@dataclass(frozen=True, slots=True)
class SubnetAcl:
    """A subnet's network ACL as its hosts enforce it (EC2's: stateless, each direction on its
    own). The default lets everything through, as a VPC's default ACL does. Rule numbers are
    unique in each direction (EC2 refuses a second entry with a number taken)."""

    ingress: tuple[AclEntry, ...] = (AclEntry(100, True, "-1", "0.0.0.0/0"),)
    egress: tuple[AclEntry, ...] = (AclEntry(100, True, "-1", "0.0.0.0/0"),)
    # Its IPv6 entries (decision 0217), judged on the IPv6 packets of a subnet with a block,
    # EC2's rule 101 of a default ACL by default; left out of the wire form while so.
    ipv6_ingress: tuple[AclEntry, ...] = field(
        default=(AclEntry(101, True, "-1", "::/0"),), metadata={WIRE_OMITTED_AT_DEFAULT: True}
    )
    ipv6_egress: tuple[AclEntry, ...] = field(
        default=(AclEntry(101, True, "-1", "::/0"),), metadata={WIRE_OMITTED_AT_DEFAULT: True}
    )

    def __post_init__(self) -> None:
        for direction, entries in (
            ("ingress", self.ingress),
            ("egress", self.egress),
            ("IPv6 ingress", self.ipv6_ingress),
            ("IPv6 egress", self.ipv6_egress),
        ):
            numbers = [entry.rule_number for entry in entries]
            if len(set(numbers)) != len(numbers):
                raise ValueError(f"{direction}: two entries share a rule number")


@dataclass(frozen=True, slots=True)
class VpcDns:
    """What a VPC's router serves of DNS, and hands out by DHCP (decision 0143).

    ``support`` (EC2's ``enableDnsSupport``): the router answers DNS at the VPC block's base
    plus two and at 169.254.169.253. ``hostnames`` (``enableDnsHostnames``): it answers the
    ``ip-a-b-c-d.<domain>`` names of the VPC's block (A and PTR). ``domain``: the Region's
    internal domain (``ec2.internal`` in us-east-1, ``<region>.compute.internal`` elsewhere);
    "" = no name of the VPC's is served. The rest is the VPC's DHCP options set: ``domain_name``
    (option 15, "" = none), ``name_servers`` (option 6,
    ``AmazonProvidedDNS`` standing for the router's resolver), ``ntp_servers`` (option 42),
    ``netbios_name_servers`` (44) and ``netbios_node_type`` (46, 0 = none).

    ``peer_blocks``: the blocks of VPCs peered with this one whose ``ip-a-b-c-d.<domain>``
    names the router answers too (decision 0139's addendum: the peer side's
    ``AllowDnsResolutionFromRemoteVpc`` on, the connection active, the peer VPC's DNS
    hostnames and support on).

    ``public_names``: (public DNS name, private address) of the VPC's instances that have a
    public name (decision 0151): the router answers the name with the private address, so
    traffic between them stays in the VPC, as EC2's resolver does."""

    support: bool = True
    hostnames: bool = False
    domain: str = ""
    domain_name: str = ""
    name_servers: tuple[str, ...] = ("AmazonProvidedDNS",)
    ntp_servers: tuple[str, ...] = ()
    netbios_name_servers: tuple[str, ...] = ()
    netbios_node_type: int = 0
    # Left out of the wire form while empty, so that an agent older than it still reads the
    # rest.
    peer_blocks: tuple[str, ...] = field(default=(), metadata={WIRE_OMITTED_AT_DEFAULT: True})
    public_names: tuple[tuple[str, str], ...] = field(
        default=(), metadata={WIRE_OMITTED_AT_DEFAULT: True}
    )
    # The private hosted zones associated with the VPC (decision 0280), by name without the
    # final dot, and what the VPC's zone responder answers of them (decision 0284): the JSON
    # document of ``route53.responder_data``.
    private_zones: tuple[str, ...] = field(default=(), metadata={WIRE_OMITTED_AT_DEFAULT: True})
    zone_document: str = field(default="", metadata={WIRE_OMITTED_AT_DEFAULT: True})

    def __post_init__(self) -> None:
        for block in self.peer_blocks:
            ipaddress.IPv4Network(block)  # raises ValueError on a bad block
        for name, address in self.public_names:
            # Both go into the resolver's arguments: a name of DNS letters only.
            ipaddress.IPv4Address(address)
            if not _PUBLIC_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is no DNS name")
        for zone in self.private_zones:
            if not _ZONE_NAME.fullmatch(zone) or zone.startswith("*"):
                raise ValueError(f"{zone!r} is no zone name")


@dataclass(frozen=True, slots=True)
class NetworkSpec:
    """A tenant's private network — a subnet: one bridge in its VPC's network namespace on
    this host, where the VPC's subnets are routed to each other (decision 0106)."""

    network_id: str
    tenant_id: str
    cidr: str  # e.g. "10.0.0.0/24"; the gateway is the first address
    # The network's VXLAN id, unique across the region (the database allocates it); 0 = none,
    # the network stays on each host alone.
    vni: int = 0
    # The VPC the subnet belongs to, and its block: every subnet of one VPC on a host is a
    # bridge of one namespace (the VPC's router). "" = a network of its own (a VPC of one
    # subnet), as every network was before VPC routing.
    vpc_id: str = ""
    vpc_cidr: str = ""
    # The subnet's network ACL (:meth:`HypervisorDriver.set_network_acl` replaces it).
    acl: SubnetAcl = SubnetAcl()
    # Its VPC's DNS and DHCP options (:meth:`HypervisorDriver.set_vpc_dns` replaces them).
    dns: VpcDns = VpcDns()
    # Its IPv6 /64 (decision 0217): the router holds its first address and forwards IPv6
    # between the VPC's subnets; "" = none. Left out of the wire form while "".
    ipv6_cidr: str = field(default="", metadata={WIRE_OMITTED_AT_DEFAULT: True})

    @property
    def router_id(self) -> str:
        """What names the namespace the network is a bridge of: its VPC, else itself."""
        return self.vpc_id or self.network_id


@dataclass(frozen=True, slots=True)
class NetworkPeer:
    """Another host holding running instances of a tenant network: its VXLAN endpoint
    (underlay address and UDP port) and the private addresses of the instances it holds."""

    address: str
    port: int
    private_ips: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NicSpec:
    """An instance's interface on a tenant network."""

    network: NetworkSpec
    mac: str
    private_ip: str
    # Whether the host maps a public address to the instance (EC2's MapPublicIpOnLaunch, or
    # the launch's AssociatePublicIpAddress): without one, nothing from the host reaches the
    # guest and the guest reaches nothing through its host but the metadata service.
    public_address: bool = True
    # An Elastic IP associated with the instance when it starts (EC2 keeps the association of
    # a stopped instance, so each start brings it again); None: none. The host routes it to
    # the instance as :meth:`HypervisorDriver.set_elastic_ip` does.
    elastic_ip: str | None = None
    # Its secondary private addresses (decision 0161), behind its security groups as its own
    # is; left out of the wire form while empty, so an agent older than them reads the NIC.
    secondary_ips: tuple[str, ...] = field(default=(), metadata={WIRE_OMITTED_AT_DEFAULT: True})
    # Its source/destination check (decision 0161): off, it may send from other addresses
    # (an appliance), its egress rules applying; left out of the wire form while on.
    source_dest_check: bool = field(default=True, metadata={WIRE_OMITTED_AT_DEFAULT: True})
    # The secondary address its Elastic IP is translated to (decision 0161's addendum); None:
    # its own. Left out of the wire form while None.
    elastic_private_ip: str | None = field(default=None, metadata={WIRE_OMITTED_AT_DEFAULT: True})
    # Its IPv6 addresses (decision 0217), behind its security groups as its IPv4 ones are;
    # left out of the wire form while empty.
    ipv6_addresses: tuple[str, ...] = field(default=(), metadata={WIRE_OMITTED_AT_DEFAULT: True})


@dataclass(frozen=True, slots=True)
class NatSource:
    """A subnet whose route table sends some destinations to a NAT gateway."""

    network_id: str
    cidr: str


@dataclass(frozen=True, slots=True)
class PeeringLink:
    """An active VPC peering connection as a host holding instances of both its VPCs joins
    their routers (decision 0139): each router reaches the other VPC's block through a link of
    their own. What may cross is each instance's firewall's to say (the control plane confined
    it to what the instance's route table sends to the connection).

    Across hosts (the 0139 addendum): ``requester_peers`` and ``accepter_peers`` are the
    *other* hosts holding running instances of each side's VPC (their overlay endpoints and
    the instances' private addresses, as :class:`NetworkPeer`), and ``vni`` the VXLAN id of
    the connection's own segment, which joins one router per host (the requester's where it
    is here, else the accepter's). A host holding one side only is told the connection when
    the other side runs elsewhere. The three are left out of the wire form while empty, so
    an agent older than them still reads a connection within one host."""

    peering_id: str
    requester_vpc_id: str
    requester_cidr: str
    accepter_vpc_id: str
    accepter_cidr: str
    vni: int = field(default=0, metadata={WIRE_OMITTED_AT_DEFAULT: True})
    requester_peers: tuple[NetworkPeer, ...] = field(
        default=(), metadata={WIRE_OMITTED_AT_DEFAULT: True}
    )
    accepter_peers: tuple[NetworkPeer, ...] = field(
        default=(), metadata={WIRE_OMITTED_AT_DEFAULT: True}
    )

    def __post_init__(self) -> None:
        ipaddress.IPv4Network(self.requester_cidr)  # raises ValueError on a bad block
        ipaddress.IPv4Network(self.accepter_cidr)
        if not 0 <= self.vni < 2**24:
            raise ValueError(f"VXLAN id {self.vni} out of range")


@dataclass(frozen=True, slots=True)
class EndpointRoute:
    """A subnet whose route table sends the object store's addresses to a VPC gateway
    endpoint (decision 0160): its router redirects what the subnet's instances send to
    ``addresses`` (the store's addresses as guests see them) to the host's endpoint listener,
    which knows the request came through ``vpc_endpoint_id`` of ``vpc_id`` by where it came."""

    network_id: str
    cidr: str
    vpc_id: str
    vpc_endpoint_id: str
    addresses: tuple[str, ...]
    # Decision 0166, an Interface endpoint's (``slot`` 0 or more, its place among the VPC's:
    # :mod:`~andromede.compute.endpoint_ports`): ``addresses`` are its interfaces', reached
    # from every subnet (``network_id`` "", ``cidr`` the VPC's block), under ``ingress``.
    slot: int = field(default=-1, metadata={WIRE_OMITTED_AT_DEFAULT: True})
    ingress: tuple[FirewallRule, ...] = field(default=(), metadata={WIRE_OMITTED_AT_DEFAULT: True})

    def __post_init__(self) -> None:
        ipaddress.IPv4Network(self.cidr)  # raises ValueError on a bad block
        for address in self.addresses:
            ipaddress.IPv4Network(address)
        if not -1 <= self.slot < INTERFACE_SLOTS:
            raise ValueError(f"interface endpoint slot {self.slot} out of range")

    @property
    def interface(self) -> bool:
        return self.slot >= 0


@dataclass(frozen=True, slots=True)
class InterfaceRoute:
    """What a subnet's route table sends to a network interface (decision 0161's addendum):
    its router forwards ``destinations`` from the subnet (``cidr``) to the interface's
    primary address ``target_ip`` on its own subnet's bridge (``target_network_id``)."""

    network_id: str
    cidr: str
    destinations: tuple[str, ...]
    interface_id: str
    target_ip: str
    target_network_id: str

    def __post_init__(self) -> None:
        for block in (self.cidr, *self.destinations):
            ipaddress.IPv4Network(block)  # raises ValueError on a bad block
        ipaddress.IPv4Address(self.target_ip)


@dataclass(frozen=True, slots=True)
class NatRoute:
    """A NAT gateway as one host of its VPC applies it (decision 0129): what the ``sources``
    subnets' instances send to ``destinations`` leaves the VPC translated to ``address`` (the
    gateway's Elastic IP), replies coming back by connection tracking; nothing from outside
    opens a connection through it. One host of the VPC translates — the gateway's *egress
    host*: it is told ``via_address`` "" — and routes ``address`` to the VPC's router; the
    others are told its VXLAN endpoint (``via_address``, ``via_port``) and send that traffic
    to its router over the source subnet's overlay. ``destinations`` are disjoint from every
    more specific route of the sources' tables (the control plane cut them out), so no two
    NAT routes of one host overlap for one source."""

    nat_gateway_id: str
    address: str
    sources: tuple[NatSource, ...]
    destinations: tuple[str, ...]
    via_address: str = ""
    via_port: int = 0

    def __post_init__(self) -> None:
        ipaddress.IPv4Address(self.address)  # raises ValueError on a bad address
        for source in self.sources:
            ipaddress.IPv4Network(source.cidr)
        for destination in self.destinations:
            ipaddress.IPv4Network(destination)
        if self.via_address:
            ipaddress.IPv4Address(self.via_address)

    @property
    def translated_here(self) -> bool:
        return not self.via_address


@dataclass(frozen=True, slots=True)
class FirewallRule:
    """One security-group permission: ``protocol`` is tcp, udp, icmp or ``-1`` (all); ports
    are inclusive (ignored for -1); ``cidr`` is the peer range. For icmp, as in EC2, the
    ports are the ICMP type and code, -1 for all (decision 0130): ``from_port`` the type,
    ``to_port`` the code."""

    protocol: str
    from_port: int
    to_port: int
    cidr: str

    def __post_init__(self) -> None:
        if self.protocol not in {"tcp", "udp", "icmp", "-1"}:
            raise ValueError(f"unsupported protocol {self.protocol!r}")
        # An IPv4 or (decision 0217) an IPv6 range; raises ValueError on a bad one.
        ipaddress.ip_network(self.cidr)
        if self.protocol in {"tcp", "udp"} and not 0 <= self.from_port <= self.to_port <= 65535:
            raise ValueError(f"bad port range {self.from_port}-{self.to_port}")
        if self.protocol == "icmp":
            _check_icmp(*self.icmp_type_code)

    @property
    def icmp_type_code(self) -> tuple[int, int]:
        """An icmp rule's type and code, -1 for all. Ports 0 to 65535 are all types and codes:
        what controllers before decision 0130 sent for every icmp rule (and states hold)."""
        if (self.from_port, self.to_port) == (0, 65535):
            return -1, -1
        return self.from_port, self.to_port


@dataclass(frozen=True, slots=True)
class InstanceFirewall:
    """What may reach an instance and what it may send (its security groups, merged). The
    default denies all ingress and allows all egress, as a new security group does."""

    ingress: tuple[FirewallRule, ...] = ()
    egress: tuple[FirewallRule, ...] = (FirewallRule("-1", 0, 65535, "0.0.0.0/0"),)


@dataclass(frozen=True, slots=True)
class FlowCapture:
    """An interface some flow log records (decision 0153): its subnet, its private address
    on it and its id, which the host's records name. A NAT gateway's (decision 0176) names
    its Elastic IP (``nat_address``): captured by the router translating to it. Its IPv6
    addresses (decision 0368) are captured beside its IPv4 one; left out of the wire while
    it has none, so an agent of the release before still reads an IPv4-only capture."""

    network_id: str
    private_ip: str
    interface_id: str
    nat_address: str = field(default="", metadata={WIRE_OMITTED_AT_DEFAULT: True})
    ipv6_addresses: tuple[str, ...] = field(default=(), metadata={WIRE_OMITTED_AT_DEFAULT: True})


@dataclass(frozen=True, slots=True)
class SkippedFlows:
    """An interface whose flows the host's cap hid in an interval (``SKIPDATA``)."""

    interface_id: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class HostFlows:
    """What a host counted of its captured interfaces since its previous report, and its
    routers' bytes to the internet and through NAT gateways (decision 0176)."""

    records: tuple[FlowRecord, ...] = ()
    skipped: tuple[SkippedFlows, ...] = ()
    traffic: tuple[TrafficCount, ...] = field(default=(), metadata={WIRE_OMITTED_AT_DEFAULT: True})
