"""The port between the compute service and a hypervisor: what a host must do to run instances.

The compute service (:mod:`andromede.compute.service`) decides *what* runs where and keeps the
EC2 model in the database; a :class:`HypervisorDriver` makes it so on one host: it creates,
grows and deletes encrypted volumes, snapshots them and copies snapshots under new keys, starts
QEMU for an instance, stops, reboots and kills it, hot-plugs volumes, reports what actually
runs (so the service can reconcile after a restart) and returns the serial console.
Implementations: the QEMU/QMP driver (:mod:`andromede.hypervisor`) and an in-memory twin for
fast tests; both pass one contract suite (``tests/contract/test_hypervisor.py``).

Everything here is plain data: no database, no HTTP, no KMS. Key material arrives as bytes in a
spec and is handed to QEMU as a secret object; a driver never logs or stores it.

No path crosses the port: a host may be another machine. A volume names what it starts from by
reference (:class:`ImageBacking`, :class:`SnapshotBacking`); an image's bytes reach the host
through :meth:`HypervisorDriver.put_image`, verified against their SHA-256 and kept in the host's
own cache until :meth:`HypervisorDriver.forget_image` (docs/decisions/0023-images-on-hosts.md).
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

from andromede.compute.endpoint_ports import INTERFACE_SLOTS
from andromede.compute.flow_log_files import FlowRecord
from andromede.compute.instance_stats import InstanceStats
from andromede.compute.traffic import TrafficCount

__all__ = [
    "Accelerator",
    "AclEntry",
    "AttachedVolume",
    "EndpointRoute",
    "FirewallRule",
    "FlowCapture",
    "HostCapacity",
    "HostFlows",
    "HypervisorDriver",
    "ImageBacking",
    "InstanceFirewall",
    "InstanceNetwork",
    "InstanceSpec",
    "InterfaceRoute",
    "InterfaceSpec",
    "NatRoute",
    "NatSource",
    "NetworkMode",
    "NetworkPeer",
    "NetworkSpec",
    "NicSpec",
    "PeeringLink",
    "PortForward",
    "RuntimeState",
    "SeedSpec",
    "SkippedFlows",
    "SnapshotBacking",
    "SubnetAcl",
    "VolumeSpec",
    "VpcDns",
]


class Accelerator(enum.StrEnum):
    """How guests run on this host. ``tcg`` is software emulation: slower, always available."""

    KVM = "kvm"
    TCG = "tcg"


class RuntimeState(enum.StrEnum):
    """What the host sees, independent of the EC2 state the database records."""

    RUNNING = "running"  # the QEMU process is alive (the guest may still be booting)
    SHUT_OFF = "shut-off"  # the process has exited (guest powered off) and its files remain
    # The process died without exiting (SIGKILL, the OOM killer, a crash): never the guest's
    # own power-off, so never a reason to terminate it (decision 0145's addendum).
    CRASHED = "crashed"
    ABSENT = "absent"  # nothing of this instance on the host


class NetworkMode(enum.StrEnum):
    """How a host wired an instance: ``bridge`` is a tap on the tenant network's bridge with
    a host-only public address; ``user`` is QEMU's user-mode networking, the declared fallback
    where the host cannot create bridges, reached through host port forwards."""

    BRIDGE = "bridge"
    USER = "user"


@dataclass(frozen=True, slots=True)
class HostCapacity:
    """What a host offers to the scheduler."""

    host: str
    vcpus: int
    memory_mib: int
    accelerator: Accelerator
    # How this host wires instances with a tenant NIC: bridge where it can build tenant
    # networks, else user-mode networking (the declared fallback, reported here).
    networking: NetworkMode = NetworkMode.USER
    # Where this host keeps volumes and snapshots: hosts of one domain can open each other's
    # snapshots (the host's name for files on its disk, the pool for Ceph RBD). Empty: the
    # host's own disk (compute.scheduler.storage_domain_of).
    storage_domain: str = ""
    # Where this host's tenant networks meet other hosts' (VXLAN): its underlay address and
    # UDP port; "" = no overlay, its tenant networks are its own (single-host).
    underlay_address: str = ""
    vxlan_port: int = 0


@dataclass(frozen=True, slots=True)
class ImageBacking:
    """A volume over a machine image the host holds (:meth:`HypervisorDriver.put_image`): the
    host opens its own verified copy, found by id and checksum."""

    image_id: str
    disk_format: str  # "qcow2" or "raw"
    sha256: str  # hex, of the image file's bytes


@dataclass(frozen=True, slots=True)
class SnapshotBacking:
    """A volume copied from a snapshot in the host's storage domain, with the key that opens
    the snapshot (self-contained and encrypted: the copy is made under the volume's own key)."""

    snapshot_id: str
    key: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class VolumeSpec:
    """A block volume to create: encrypted at rest (qcow2 + LUKS, or an RBD image), blank, a
    copy-on-write overlay over an image, or a copy of a snapshot (``backing``)."""

    volume_id: str
    size_gib: int
    # The LUKS secret for this volume, from KMS; held by QEMU as a secret object, never written.
    key: bytes = field(repr=False)
    backing: ImageBacking | SnapshotBacking | None = None


@dataclass(frozen=True, slots=True)
class AttachedVolume:
    """A volume as an instance sees it: the EC2 device name and the key to open it."""

    volume_id: str
    device: str  # EC2 device name, e.g. "/dev/xvda" (root) or "/dev/sdf"
    key: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class SeedSpec:
    """The cloud-init NoCloud seed: the three files of the ``cidata`` volume."""

    meta_data: str  # YAML: instance-id, local-hostname, public-keys
    user_data: bytes  # as the tenant gave it (already base64-decoded), may be empty
    # YAML, network config version 2; empty: no file, and cloud-init falls back to DHCP on the
    # one interface (matched by MAC, which every renderer writes correctly).
    network_config: str


@dataclass(frozen=True, slots=True)
class PortForward:
    """A host TCP port that reaches a guest port (user-mode networking, or a published port)."""

    host_address: str
    host_port: int
    guest_port: int


_PROTOCOLS = frozenset({"tcp", "udp", "icmp", "-1"})
# A field's metadata key: the field is left out of the wire form (hypervisor.wire) while it
# holds its default, so that an agent older than the field still reads the value.
WIRE_OMITTED_AT_DEFAULT = "andromede.wire.omitted_at_default"
# A public DNS name (decision 0151): labels of letters, digits and hyphens.
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_PUBLIC_NAME = re.compile(rf"(?:{_LABEL}\.)+{_LABEL}")


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
        ipaddress.IPv4Network(self.cidr)  # raises ValueError on a bad range
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

    def __post_init__(self) -> None:
        for direction, entries in (("ingress", self.ingress), ("egress", self.egress)):
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

    def __post_init__(self) -> None:
        for block in self.peer_blocks:
            ipaddress.IPv4Network(block)  # raises ValueError on a bad block
        for name, address in self.public_names:
            # Both go into the resolver's arguments: a name of DNS letters only.
            ipaddress.IPv4Address(address)
            if not _PUBLIC_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is no DNS name")


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
        ipaddress.IPv4Network(self.cidr)  # raises ValueError on a bad range
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
class InstanceNetwork:
    """How an instance is reached, as its host wired it: what DescribeInstances reports."""

    mode: NetworkMode
    private_ip: str | None = None
    # Bridge mode: the host-only address that reaches the instance from its host (None when
    # the instance was launched without a public address).
    public_ip: str | None = None
    # User mode (or published ports): host ports that reach guest ports.
    forwards: tuple[PortForward, ...] = ()
    # Bridge mode: the address the guest's connections to its host (the metadata service)
    # come from, unique on the host — its public address when it has one, else one kept for
    # that alone, which reaches nothing. None: the public address (or no metadata service).
    host_facing_ip: str | None = None


@dataclass(frozen=True, slots=True)
class FlowCapture:
    """An interface some flow log records (decision 0153): its subnet, its private address
    on it and its id, which the host's records name. A NAT gateway's (decision 0176) names
    its Elastic IP (``nat_address``): captured by the router translating to it."""

    network_id: str
    private_ip: str
    interface_id: str
    nat_address: str = field(default="", metadata={WIRE_OMITTED_AT_DEFAULT: True})


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


@dataclass(frozen=True, slots=True)
class InterfaceSpec:
    """An interface beyond an instance's primary (decision 0161): a NIC of its own on its
    subnet (``nic``: its network, MAC and private address; no public address), at
    ``device_index``, behind its own security groups (``firewall``)."""

    interface_id: str
    device_index: int
    nic: NicSpec
    firewall: InstanceFirewall = InstanceFirewall()


@dataclass(frozen=True, slots=True)
class InstanceSpec:
    """Everything a host needs to start one instance."""

    instance_id: str
    vcpus: int
    memory_mib: int
    root: AttachedVolume
    seed: SeedSpec
    volumes: tuple[AttachedVolume, ...] = ()
    nic: NicSpec | None = None
    # Host ports reaching the guest; with user-mode networking the driver picks free host ports
    # when host_port is 0 and reports them in the :class:`InstanceNetwork` of :meth:`start`.
    forwards: tuple[PortForward, ...] = ()
    # The instance's security groups, merged; :meth:`HypervisorDriver.set_firewall` replaces it.
    firewall: InstanceFirewall = InstanceFirewall()
    # Its interfaces beyond the primary, in device order (decision 0161); left out of the wire
    # form while empty, so an agent older than them still reads the spec.
    interfaces: tuple[InterfaceSpec, ...] = field(
        default=(), metadata={WIRE_OMITTED_AT_DEFAULT: True}
    )


class HypervisorDriver(Protocol):
    """One host's hypervisor. Every method is idempotent where the name allows it (deleting
    what is absent, stopping what is stopped) so the service can retry after a crash."""

    @property
    def host(self) -> str: ...

    async def capacity(self) -> HostCapacity:
        """What the host offers; probes the accelerator once and caches it."""
        ...

    async def create_volume(self, spec: VolumeSpec) -> None: ...

    async def delete_volume(self, volume_id: str) -> None: ...

    async def grow_volume(self, volume_id: str, key: bytes, size_gib: int) -> None:
        """Grow a volume to ``size_gib`` GiB: offline when no guest runs with it (``key``
        opens it; a wrong key raises), else under the running guest, which holds it open and
        sees the new size at once. Never shrinks: a volume already that big or bigger is left
        as is (so a retry is harmless). An absent volume raises."""
        ...

    async def snapshot_volume(
        self, volume_id: str, key: bytes, snapshot_id: str, snapshot_key: bytes
    ) -> None:
        """A point-in-time, self-contained encrypted copy of a volume (no backing chain)."""
        ...

    async def copy_snapshot(
        self, source_id: str, source_key: bytes, snapshot_id: str, snapshot_key: bytes
    ) -> None:
        """A new snapshot ``snapshot_id`` of this host's storage domain with the bytes of
        ``source_id``, re-encrypted from ``source_key`` (which must open it; a wrong key
        raises) to ``snapshot_key``. Self-contained: deleting the source, or destroying its
        key, leaves the copy whole. An absent source, or a ``snapshot_id`` already taken,
        raises, and leaves nothing."""
        ...

    async def delete_snapshot(self, snapshot_id: str) -> None: ...

    async def has_image(self, image_id: str, sha256: str) -> bool:
        """Whether the host holds a verified copy of the image with this checksum."""
        ...

    async def put_image(
        self, image_id: str, sha256: str, disk_format: str, chunks: AsyncIterator[bytes]
    ) -> None:
        """Keep a copy of an image: its bytes are written aside, their SHA-256 checked, and
        only then made the image (read-only). A mismatch raises and leaves nothing. Two puts of
        one image at once: one writes, the other waits and finds it (its chunks unread)."""
        ...

    async def forget_image(self, image_id: str) -> None:
        """Remove the host's copy of an image (absent: nothing to do). Refused while a volume
        on this host still reads from that copy."""
        ...

    async def start(self, spec: InstanceSpec) -> InstanceNetwork:
        """Start QEMU for the instance (its volumes exist); returns once QMP answers, with how
        the instance is reached."""
        ...

    async def set_firewall(self, instance_id: str, firewall: InstanceFirewall) -> None:
        """Replace the security-group rules of an instance, at once and atomically; they hold
        across stop/start (a later :meth:`start` brings its own). No-op when nothing runs."""
        ...

    async def set_elastic_ip(self, instance_id: str, address: str | None) -> None:
        """Route ``address`` (an Elastic IP, IPv4) to the running instance, replacing the one
        it had; None takes it away. Setting the address it has already changes nothing. An
        instance not running on this host raises, as :meth:`reboot` does (with None, what
        the host still routed for it is removed first). Stopping, killing or releasing the
        instance takes its address off the host; :meth:`start` brings ``NicSpec.elastic_ip``.
        An address the host cannot route for it — malformed, in the host's own ranges, held
        by another of its instances, or an instance without a routed network (user-mode
        networking) — raises, and changes nothing."""
        ...

    async def set_network_peers(
        self,
        network_id: str,
        peers: tuple[NetworkPeer, ...],
        *,
        network: NetworkSpec | None = None,
    ) -> None:
        """Replace the other hosts holding instances of a tenant network (its overlay): traffic
        to their instances' addresses crosses to them. Kept when the network is not built here
        yet; no-op on a host without an overlay. ``network``, the subnet itself, lets a host
        holding instances of its VPC but none of it route to those peers (decision 0106)."""
        ...

    async def set_network_acl(self, network_id: str, acl: SubnetAcl) -> None:
        """Replace the network ACL the host enforces for a subnet (``network_id``), at once
        and atomically. Kept when the network is not built here (used when it is, as peers'
        specs are); no-op on a host without tenant networks (user-mode networking)."""
        ...

    async def set_nat_routes(self, router_id: str, routes: tuple[NatRoute, ...]) -> None:
        """Replace the NAT gateways a VPC's router (``router_id``, the VPC's id) applies on
        this host (:class:`NatRoute`), at once. Kept when the VPC is not built here yet (used
        when it is); forgotten with the VPC's last instance here. No-op on a host without
        tenant networks (user-mode networking)."""
        ...

    async def set_endpoint_routes(self, router_id: str, routes: tuple[EndpointRoute, ...]) -> None:
        """Replace the VPC endpoints a VPC's router (``router_id``) redirects its subnets'
        traffic to the object store to (:class:`EndpointRoute`, decision 0160), at once. Kept
        when the VPC is not built here yet. No-op on a host without tenant networks."""
        ...

    async def set_interface_routes(
        self, router_id: str, routes: tuple[InterfaceRoute, ...]
    ) -> None:
        """Replace the routes to network interfaces a VPC's router applies here
        (:class:`InterfaceRoute`), at once. Kept when the VPC is not built here yet. No-op on
        a host without tenant networks."""
        ...

    async def set_peering_links(self, links: tuple[PeeringLink, ...]) -> None:
        """Replace the VPC peering connections this host joins the routers of (every one whose
        two VPCs have instances here, and every one with a side here whose other side runs on
        another host; :class:`PeeringLink`), at once: a link is made when both routers are
        here, the connection's segment in the lead router when the other side runs elsewhere,
        both taken away when it is no longer told. No-op on a host without tenant networks
        (user-mode networking)."""
        ...

    async def set_vpc_dns(self, router_id: str, dns: VpcDns) -> None:
        """Replace what a VPC's router (``router_id``, the VPC's id) serves of DNS and hands
        out by DHCP (:class:`VpcDns`): its resolver and DHCP servers restart with them when
        the VPC is built here; kept otherwise. No-op on a host without tenant networks."""
        ...

    async def stop(self, instance_id: str, *, timeout: float) -> None:
        """ACPI power-down, waiting up to ``timeout`` seconds, then a hard stop."""
        ...

    async def reboot(self, instance_id: str) -> None: ...

    async def kill(self, instance_id: str) -> None:
        """Hard stop now; no-op when nothing runs."""
        ...

    async def release(self, instance_id: str) -> None:
        """Remove what the instance left on the host besides its volumes: seed, console log,
        QMP socket, taps, forwards. After it, :meth:`state` is ABSENT."""
        ...

    async def attach_interface(self, instance_id: str, interface: InterfaceSpec) -> None:
        """Give the running instance a further NIC (decision 0161), hot-plugged: its own tap
        on its subnet's bridge, DHCP lease and security groups (``interface.firewall``).
        Attaching one it has already replaces its security groups, secondary addresses and
        source/destination check. Device index 0 names the instance's primary NIC
        (``interface.nic`` as at its start): only its secondary addresses and check change.
        An instance not running here, or a host without tenant networks (user-mode
        networking), raises."""
        ...

    async def detach_interface(
        self, instance_id: str, interface_id: str, *, force: bool = False
    ) -> None:
        """Take a further NIC away from the instance, running (the guest's hot-unplug, then
        its tap and lease) or stopped (its tap and lease); absent: nothing to do. A guest
        that does not let go of the device in time raises, unless ``force``: then its
        backend and tap go all the same (EC2's forced detachment)."""
        ...

    async def attach_volume(self, instance_id: str, volume: AttachedVolume) -> None: ...

    async def detach_volume(self, instance_id: str, volume_id: str) -> None: ...

    async def state(self, instance_id: str) -> RuntimeState: ...

    async def running(self) -> dict[str, RuntimeState]:
        """Every instance the host knows of, after reattaching to QEMU processes that survived
        a restart of the service (by their QMP sockets)."""
        ...

    async def console_output(self, instance_id: str) -> bytes:
        """The serial console so far (the last 64 KiB, as EC2 returns)."""
        ...

    async def network(self, instance_id: str) -> InstanceNetwork | None:
        """How a running instance is reached (after a restart too); None when it does not run."""
        ...

    async def collect_flows(self, captures: tuple[FlowCapture, ...]) -> HostFlows:
        """Capture the flows of exactly ``captures`` from now on (decision 0153), and report
        what the captured interfaces counted since the previous call. No-op (nothing
        counted) on a host without tenant networks."""
        ...

    async def collect_metrics(self) -> tuple[InstanceStats, ...]:
        """What each running instance used since the previous call (decision 0178)."""
        ...

    async def close(self) -> None:
        """Let go of QMP connections; running guests keep running."""
        ...
