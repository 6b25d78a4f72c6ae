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

What a host is told of tenant networks (subnets, NICs, ACLs, routes, security-group rules,
flow captures) is :mod:`andromede.compute.driver_network`'s (decision 0198's split); of
Network Load Balancers, :mod:`andromede.compute.driver_balancing`'s.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Final, Protocol

from andromede.compute.driver_balancing import (
    BalancedListener,
    BalancerReport,
    ProbeResult,
    TargetProbe,
)
from andromede.compute.driver_network import (
    WIRE_OMITTED_AT_DEFAULT,
    EndpointRoute,
    FlowCapture,
    HostFlows,
    InstanceFirewall,
    InterfaceRoute,
    NatRoute,
    NetworkPeer,
    NetworkSpec,
    NicSpec,
    PeeringLink,
    SubnetAcl,
    VpcDns,
)
from andromede.compute.instance_stats import InstanceStats

__all__ = [
    "Accelerator",
    "AttachedVolume",
    "HostCapacity",
    "HypervisorDriver",
    "ImageBacking",
    "InstanceNetwork",
    "InstanceSpec",
    "InterfaceSpec",
    "NetworkMode",
    "PortForward",
    "RuntimeState",
    "SeedSpec",
    "SnapshotBacking",
    "SupervisedProcesses",
    "VolumeSpec",
]

# A new security group's rules (no ingress, all egress), the default of the specs below: one
# frozen value shared, as a dataclass default is, named here since ruff's RUF009 cannot tell
# that a call to a class of another module builds an immutable value.
_DEFAULT_FIREWALL: Final = InstanceFirewall()


@dataclass(frozen=True, slots=True)
class SupervisedProcesses:
    """One kind of a host's supervised network processes (decisions 0375, 0378, 0389):
    ``restarts``, how many times one was found dead and started again on the host, kept
    across its agent's restarts; ``up`` and ``down``, how many of those that should run there
    run, and do not, when asked."""

    restarts: int = 0
    up: int = 0
    down: int = 0


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
class InterfaceSpec:
    """An interface beyond an instance's primary (decision 0161): a NIC of its own on its
    subnet (``nic``: its network, MAC and private address; no public address), at
    ``device_index``, behind its own security groups (``firewall``)."""

    interface_id: str
    device_index: int
    nic: NicSpec
    firewall: InstanceFirewall = _DEFAULT_FIREWALL


@dataclass(frozen=True, slots=True)
class InstanceSpec:
    """Everything a host needs to start one instance."""

    instance_id: str
    vcpus: int  # active: cores x threads per core (decision 0214)
    memory_mib: int
    root: AttachedVolume
    seed: SeedSpec
    volumes: tuple[AttachedVolume, ...] = ()
    nic: NicSpec | None = None
    # Host ports reaching the guest; with user-mode networking the driver picks free host ports
    # when host_port is 0 and reports them in the :class:`InstanceNetwork` of :meth:`start`.
    forwards: tuple[PortForward, ...] = ()
    # The instance's security groups, merged; :meth:`HypervisorDriver.set_firewall` replaces it.
    firewall: InstanceFirewall = _DEFAULT_FIREWALL
    # Its interfaces beyond the primary, in device order (decision 0161); left out of the wire
    # form while empty, so an agent older than them still reads the spec.
    interfaces: tuple[InterfaceSpec, ...] = field(
        default=(), metadata={WIRE_OMITTED_AT_DEFAULT: True}
    )
    # Its vCPUs' threads per core (decision 0214): the guest sees vcpus / threads_per_core
    # cores of that many threads. Left out of the wire form at 1, as for the interfaces.
    threads_per_core: int = field(default=1, metadata={WIRE_OMITTED_AT_DEFAULT: True})


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

    async def supervised_processes(self) -> dict[str, SupervisedProcesses]:
        """Each kind of the host's supervised network processes — its VPC routers'
        ``resolver``, ``responder`` and ``forwarder``, its subnets' ``dhcp`` servers — with how
        many times one was found dead and started again (decisions 0375, 0378; kept across
        the agent's restarts, 0389) and how many run and do not now: what the operator reads
        with ``andromede admin hosts`` and scrapes at ``/api/v1/hosts/metrics``."""
        ...

    async def set_load_balancers(self, listeners: tuple[BalancedListener, ...]) -> BalancerReport:
        """Make every VPC router here forward exactly the listeners of ``listeners`` of its
        VPC (decision 0191, session 51: every host of the region is handed them all), at once;
        a listener of a VPC without a router here is not applied (its router, once built,
        gets it at the next call). Answers which VPCs have a router here and what they
        counted (:class:`BalancerReport`). A host without tenant networks (user-mode
        networking) applies nothing and answers an empty report."""
        ...

    async def probe_targets(self, probes: tuple[TargetProbe, ...]) -> tuple[ProbeResult, ...]:
        """Run the probes of ``probes`` that are due — each target once per its
        ``interval``, however many gateways ask — from the router of its VPC, and answer
        their outcomes; a probe of a VPC without a router here, or not due, is not run and
        not answered. A host without tenant networks probes nothing."""
        ...

    async def close(self) -> None:
        """Let go of QMP connections; running guests keep running."""
        ...
