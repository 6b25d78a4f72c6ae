"""The in-memory twin of the hypervisor driver: volumes, snapshots and instances in dicts,
every transition immediate. For service tests and for ``hypervisor = "memory"`` (a gateway
without virtual machines, e.g. CI of the EC2 API); it keeps the port's semantics exactly:
deletes and kills are idempotent, a released instance is ABSENT, a volume opens only with the
key it was created with, the console is bytes (the last 64 KiB). An instance with a NIC is
wired in bridge mode with a host-facing address from 100.65.0.0/16, which is its public
address unless the NIC asks for none, one without in user mode with its forwards, and the
firewall of each is kept for the service tests to read, as is the Elastic IP a host routes to
it (``elastic_ip``: set by the NIC at start and by ``set_elastic_ip``, taken off by a stop, a
kill or a release, checked as a host checks it; ``network()`` does not show it).
Images are kept as their checksum, format and size (the bytes are hashed and dropped): a put
whose bytes do not match is refused, a volume over an image needs the host to hold it, and an
image that a volume reads cannot be forgotten, as with the QEMU driver's files;
the overlay peers of each network (``peers``), and the network they were told with
(``peer_networks``), are kept when the host is given an underlay address; the network ACL of
each subnet (``acls``) as a host holds it: ``set_network_acl`` replaces it, and a subnet's
spec (at start, or with its peers) gives it only when none is held; the NAT gateways each
VPC's router applies (``nat_routes``, router id → routes), as last told.

It lives in one process: a deployment running several gateway workers must use a real driver.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace

from andromede.compute.driver import (
    Accelerator,
    AttachedVolume,
    HostCapacity,
    ImageBacking,
    InstanceNetwork,
    InstanceSpec,
    InterfaceSpec,
    NetworkMode,
    PortForward,
    RuntimeState,
    SnapshotBacking,
    SupervisedProcesses,
    VolumeSpec,
)
from andromede.compute.driver_balancing import (
    ActiveFlows,
    BalancedListener,
    BalancerReport,
    ListenerCounter,
    ProbeResult,
    TargetProbe,
)
from andromede.compute.driver_network import (
    EndpointRoute,
    FlowCapture,
    HostFlows,
    InstanceFirewall,
    InterfaceRoute,
    NatRoute,
    NetworkPeer,
    NetworkSpec,
    PeeringLink,
    SubnetAcl,
    VpcDns,
)
from andromede.compute.errors import HypervisorFailed
from andromede.compute.flow_log_files import FlowRecord
from andromede.compute.instance_stats import InstanceStats, VolumeStats
from andromede.compute.traffic import TrafficCount

__all__ = ["MEMORY_STATS", "MemoryDriver"]

CONSOLE_TAIL = 64 * 1024
_FIRST_FORWARD_PORT = 42000
_PUBLIC_RANGE = ipaddress.IPv4Network("100.65.0.0/16")
# A QEMU host's own ranges by default (NetworkLayout): never an Elastic IP.
_HOST_RANGES = (ipaddress.IPv4Network("100.64.0.0/16"), _PUBLIC_RANGE)
# What each running instance used between two collect_metrics (decision 0178), the same every
# time so that a test through a server's memory host knows the figures it must read: a
# minute at a quarter of its vCPUs, 1,000 bytes in (10 packets), 2,000 out (20), and on its
# root volume 4 KiB read in one operation, 8 KiB written in two.
MEMORY_STATS = InstanceStats(
    "", 60.0, 15.0, 1, True, 1000, 2000, 10, 20, (VolumeStats("", 4096, 8192, 1, 2),)
)


@dataclass(slots=True)
class _Volume:
    size_gib: int
    key: bytes = field(repr=False)
    backing: ImageBacking | SnapshotBacking | None


@dataclass(frozen=True, slots=True)
class _Image:
    sha256: str
    disk_format: str
    size: int


@dataclass(slots=True)
class _Instance:
    spec: InstanceSpec
    state: RuntimeState
    console: bytearray = field(default_factory=bytearray)
    attached: dict[str, AttachedVolume] = field(default_factory=dict)
    network: InstanceNetwork = field(default_factory=lambda: InstanceNetwork(NetworkMode.USER))
    firewall: InstanceFirewall = field(default_factory=InstanceFirewall)
    # The Elastic IP the host routes to the instance while it runs.
    elastic_ip: str | None = None
    # Its NICs beyond the primary, by interface id (decision 0161).
    interfaces: dict[str, InterfaceSpec] = field(default_factory=dict)


class MemoryDriver:
    """A host that runs nothing but keeps the books as a real one would."""

    def __init__(
        self,
        host: str = "memory-host",
        *,
        vcpus: int = 8,
        memory_mib: int = 16384,
        storage_domain: str | None = None,
        shared_with: MemoryDriver | None = None,
        max_image_size: int = 64 * 1024**3,
        underlay_address: str = "",
        vxlan_port: int = 4789,
    ) -> None:
        """``storage_domain``: None is this host's own disk (its name). ``shared_with``: a
        host of the same domain whose volumes and snapshots this one opens too, as hosts on
        one Ceph pool do."""
        self._host = host
        self._capacity = HostCapacity(
            host,
            vcpus,
            memory_mib,
            Accelerator.TCG,
            storage_domain=storage_domain
            or (host if shared_with is None else shared_with.storage_domain),
            underlay_address=underlay_address,
            vxlan_port=vxlan_port if underlay_address else 0,
        )
        self._max_image_size = max_image_size
        self.volumes: dict[str, _Volume] = {} if shared_with is None else shared_with.volumes
        self.snapshots: dict[str, _Volume] = {} if shared_with is None else shared_with.snapshots
        # What this host holds of each image it was sent (put_image).
        self.images: dict[str, _Image] = {}
        self.image_bytes_received = 0
        self._image_locks: dict[str, asyncio.Lock] = {}
        self.instances: dict[str, _Instance] = {}
        self._next_port = _FIRST_FORWARD_PORT
        self._next_public = 0
        # network id → the other hosts holding its instances, as last told (none: never told).
        self.peers: dict[str, tuple[NetworkPeer, ...]] = {}
        # The interfaces the flow logs capture here, as last told, and what the tests say
        # the host counted of them since (decision 0153).
        self.flow_captures: tuple[FlowCapture, ...] = ()
        self.counted_flows: list[FlowRecord] = []
        # What the routers here counted for billing (decision 0176), reported once.
        self.counted_traffic: list[TrafficCount] = []
        # The VPC peering connections the host was last told to join (decision 0139).
        self.peering_links: tuple[PeeringLink, ...] = ()
        # router (VPC) id → what its router serves of DNS and DHCP options, as told.
        self.vpc_dns: dict[str, VpcDns] = {}
        self.peer_networks: dict[str, NetworkSpec | None] = {}
        # network id → the network ACL the host enforces for that subnet.
        self.acls: dict[str, SubnetAcl] = {}
        # router (VPC) id → the NAT gateways it applies here (decision 0129).
        self.nat_routes: dict[str, tuple[NatRoute, ...]] = {}
        # router id → the VPC endpoints its subnets are redirected to (decision 0160).
        self.endpoint_routes: dict[str, tuple[EndpointRoute, ...]] = {}
        self.interface_routes: dict[str, tuple[InterfaceRoute, ...]] = {}
        # Network Load Balancers (session 51): the listeners last handed, what the tests say
        # a probe of (address, health port) finds (a memory guest runs nothing: a target no
        # test names is not probed, and stays ``initial``), and when each target was probed.
        self.balanced: tuple[BalancedListener, ...] = ()
        self.probe_answers: dict[tuple[str, int], bool] = {}
        self.probes_run = 0
        self._probed: dict[tuple[str, str, str, int], float] = {}
        # What a test says the host counted of its network processes (decisions 0378, 0389).
        self.supervised: dict[str, SupervisedProcesses] = {}

    @property
    def host(self) -> str:
        return self._host

    @property
    def storage_domain(self) -> str:
        return self._capacity.storage_domain

    async def capacity(self) -> HostCapacity:
        return self._capacity

    async def create_volume(self, spec: VolumeSpec) -> None:
        existing = self.volumes.get(spec.volume_id)
        if existing is not None:
            if existing.key != spec.key or existing.size_gib != spec.size_gib:
                raise HypervisorFailed(f"volume {spec.volume_id} exists with another definition")
            return
        backing = spec.backing
        if isinstance(backing, SnapshotBacking):
            snapshot = self.snapshots.get(backing.snapshot_id)
            if snapshot is None or snapshot.key != backing.key:
                raise HypervisorFailed(f"cannot open the backing snapshot of {spec.volume_id}")
        if isinstance(backing, ImageBacking):
            image = self.images.get(backing.image_id)
            if image is None or image.sha256 != backing.sha256:
                raise HypervisorFailed(f"image {backing.image_id} is not on {self._host}")
        self.volumes[spec.volume_id] = _Volume(spec.size_gib, spec.key, backing)

    async def delete_volume(self, volume_id: str) -> None:
        self.volumes.pop(volume_id, None)

    async def grow_volume(self, volume_id: str, key: bytes, size_gib: int) -> None:
        volume = self._open(volume_id, key)
        # One record whether a guest runs with it or not: the guest would see it at once.
        volume.size_gib = max(volume.size_gib, size_gib)

    async def snapshot_volume(
        self, volume_id: str, key: bytes, snapshot_id: str, snapshot_key: bytes
    ) -> None:
        volume = self._open(volume_id, key)
        self.snapshots[snapshot_id] = _Volume(volume.size_gib, snapshot_key, None)

    async def copy_snapshot(
        self, source_id: str, source_key: bytes, snapshot_id: str, snapshot_key: bytes
    ) -> None:
        source = self.snapshots.get(source_id)
        if source is None:
            raise HypervisorFailed(f"snapshot {source_id} does not exist on {self._host}")
        if not hmac.compare_digest(source.key, source_key):
            raise HypervisorFailed(f"snapshot {source_id}: the key does not open it")
        if snapshot_id in self.snapshots:
            raise HypervisorFailed(f"snapshot {snapshot_id} already exists on {self._host}")
        # Its own record under its own key: nothing of the source is shared.
        self.snapshots[snapshot_id] = _Volume(source.size_gib, snapshot_key, None)

    async def delete_snapshot(self, snapshot_id: str) -> None:
        self.snapshots.pop(snapshot_id, None)

    async def has_image(self, image_id: str, sha256: str) -> bool:
        image = self.images.get(image_id)
        return image is not None and image.sha256 == sha256

    async def put_image(
        self, image_id: str, sha256: str, disk_format: str, chunks: AsyncIterator[bytes]
    ) -> None:
        if disk_format not in ("qcow2", "raw"):
            raise HypervisorFailed(f"image {image_id}: unknown disk format")
        async with self._image_locks.setdefault(image_id, asyncio.Lock()):
            if await self.has_image(image_id, sha256):
                return
            digest, size = hashlib.sha256(), 0
            async for chunk in chunks:
                size += len(chunk)
                self.image_bytes_received += len(chunk)
                if size > self._max_image_size:
                    raise HypervisorFailed(f"image {image_id} is too large")
                digest.update(chunk)
                await asyncio.sleep(0)  # a stream takes turns with other work, as on a host
            if not hmac.compare_digest(digest.hexdigest(), sha256):
                raise HypervisorFailed(f"image {image_id}: the bytes do not match its SHA-256")
            self.images[image_id] = _Image(sha256, disk_format, size)

    async def forget_image(self, image_id: str) -> None:
        for volume_id, volume in self.volumes.items():
            if isinstance(volume.backing, ImageBacking) and volume.backing.image_id == image_id:
                raise HypervisorFailed(f"image {image_id}: volume {volume_id} still reads it")
        self.images.pop(image_id, None)

    def _open(self, volume_id: str, key: bytes) -> _Volume:
        volume = self.volumes.get(volume_id)
        if volume is None:
            raise HypervisorFailed(f"volume {volume_id} does not exist on {self._host}")
        if volume.key != key:
            raise HypervisorFailed(f"volume {volume_id}: the key does not open it")
        return volume

    async def start(self, spec: InstanceSpec) -> InstanceNetwork:
        current = self.instances.get(spec.instance_id)
        if current is not None and current.state is RuntimeState.RUNNING:
            raise HypervisorFailed(f"instance {spec.instance_id} is already running")
        for volume in (spec.root, *spec.volumes):
            self._open(volume.volume_id, volume.key)
        if spec.nic is not None and spec.nic.elastic_ip is not None:
            self._check_elastic_ip(spec.instance_id, spec.nic.elastic_ip)
        forwards = tuple(self._forward(f) for f in spec.forwards)
        instance = current or _Instance(spec, RuntimeState.RUNNING)
        instance.spec = spec
        instance.state = RuntimeState.RUNNING
        instance.firewall = spec.firewall
        if spec.nic is None:
            instance.network = InstanceNetwork(NetworkMode.USER, forwards=forwards)
        else:
            # Kept across stop and start, as a host keeps the tap and its addresses.
            host_facing = instance.network.host_facing_ip or self._public_ip()
            instance.network = InstanceNetwork(
                NetworkMode.BRIDGE,
                spec.nic.private_ip,
                host_facing if spec.nic.public_address else None,
                forwards,
                host_facing_ip=host_facing,
            )
        instance.elastic_ip = spec.nic.elastic_ip if spec.nic is not None else None
        if spec.nic is not None:
            self.acls.setdefault(spec.nic.network.network_id, spec.nic.network.acl)
            self.vpc_dns.setdefault(spec.nic.network.router_id, spec.nic.network.dns)
        instance.attached = {v.volume_id: v for v in spec.volumes}
        if spec.interfaces and spec.nic is None:
            raise HypervisorFailed(f"instance {spec.instance_id}: interfaces need a tenant NIC")
        instance.interfaces = {i.interface_id: i for i in spec.interfaces}
        instance.console += f"[memory] {spec.instance_id} booted\n".encode()
        if spec.seed.user_data:
            instance.console += b"[memory] user data: " + spec.seed.user_data[:256] + b"\n"
        self.instances[spec.instance_id] = instance
        return instance.network

    def _public_ip(self) -> str:
        self._next_public += 1
        return str(_PUBLIC_RANGE.network_address + self._next_public)

    async def set_firewall(self, instance_id: str, firewall: InstanceFirewall) -> None:
        instance = self.instances.get(instance_id)
        if instance is not None and instance.state is RuntimeState.RUNNING:
            instance.firewall = firewall

    async def set_elastic_ip(self, instance_id: str, address: str | None) -> None:
        instance = self.instances.get(instance_id)
        if address is None and instance is not None:
            instance.elastic_ip = None
        instance = self._running(instance_id)
        if address is None or instance.elastic_ip == address:
            return
        if instance.spec.nic is None:
            raise HypervisorFailed(
                f"instance {instance_id} has user-mode networking: no Elastic IP is routed to it"
            )
        self._check_elastic_ip(instance_id, address)
        instance.elastic_ip = address

    def _check_elastic_ip(self, instance_id: str, address: str) -> None:
        """Refuse what a host refuses: not IPv4, one of its own ranges, another's address."""
        try:
            parsed = ipaddress.IPv4Address(address)
        except ValueError:
            raise HypervisorFailed(f"Elastic IP {address!r} is not an IPv4 address") from None
        if any(parsed in network for network in _HOST_RANGES):
            raise HypervisorFailed(f"Elastic IP {address} is in a range of the host's own")
        for other_id, other in self.instances.items():
            if other_id != instance_id and other.elastic_ip == address:
                raise HypervisorFailed(f"Elastic IP {address} is routed to {other_id} already")

    async def set_network_peers(
        self,
        network_id: str,
        peers: tuple[NetworkPeer, ...],
        *,
        network: NetworkSpec | None = None,
    ) -> None:
        if self._capacity.underlay_address:
            self.peers[network_id] = peers
            self.peer_networks[network_id] = network
            if network is not None:
                self.acls.setdefault(network_id, network.acl)

    async def set_interface_routes(
        self, router_id: str, routes: tuple[InterfaceRoute, ...]
    ) -> None:
        if routes:
            self.interface_routes[router_id] = routes
        else:
            self.interface_routes.pop(router_id, None)

    async def set_network_acl(self, network_id: str, acl: SubnetAcl) -> None:
        self.acls[network_id] = acl

    async def set_nat_routes(self, router_id: str, routes: tuple[NatRoute, ...]) -> None:
        if routes:
            self.nat_routes[router_id] = routes
        else:
            self.nat_routes.pop(router_id, None)

    async def set_endpoint_routes(self, router_id: str, routes: tuple[EndpointRoute, ...]) -> None:
        if routes:
            self.endpoint_routes[router_id] = routes
        else:
            self.endpoint_routes.pop(router_id, None)

    async def set_peering_links(self, links: tuple[PeeringLink, ...]) -> None:
        self.peering_links = links

    async def set_vpc_dns(self, router_id: str, dns: VpcDns) -> None:
        self.vpc_dns[router_id] = dns

    async def collect_flows(self, captures: tuple[FlowCapture, ...]) -> HostFlows:
        """The counted flows of the interfaces captured until now; an interface no longer
        captured counts nothing from now on, as a real host's."""
        held = {c.interface_id for c in self.flow_captures}
        counted = tuple(r for r in self.counted_flows if r.key.interface_id in held)
        self.flow_captures = captures
        self.counted_flows = []
        traffic, self.counted_traffic = tuple(self.counted_traffic), []
        return HostFlows(counted, traffic=traffic)

    def _routers(self) -> set[str]:
        """The VPCs whose router is built here: those of the running instances' NICs."""
        return {
            nic.network.router_id
            for instance in self.instances.values()
            if instance.state is RuntimeState.RUNNING
            for nic in (instance.spec.nic, *(i.nic for i in instance.interfaces.values()))
            if nic is not None
        }

    async def set_load_balancers(self, listeners: tuple[BalancedListener, ...]) -> BalancerReport:
        """Kept as told; the routers here are the running instances' VPCs, whose listeners
        count nothing (no packet crosses a memory host; a TLS listener's counts are its
        terminators', transport ``tls``)."""
        self.balanced = listeners
        routers = self._routers()
        here = [listener for listener in listeners if listener.vpc_id in routers]
        keys = sorted(
            {
                (lb.vpc_id, a, lb.port, t)
                for lb in here
                for a in lb.addresses
                for t in (lb.protocols if lb.tls is None else ("tls",))
            }
        )
        return BalancerReport(
            routers=tuple(sorted({listener.vpc_id for listener in here})),
            counters=tuple(ListenerCounter(*key, 0, 0) for key in keys),
            active=tuple(ActiveFlows(*key, 0) for key in keys),
        )

    async def probe_targets(self, probes: tuple[TargetProbe, ...]) -> tuple[ProbeResult, ...]:
        """The due probes of the VPCs routed here whose answer a test gave."""
        routers, now, results = self._routers(), time.monotonic(), []
        for probe in probes:
            answer = self.probe_answers.get((probe.address, probe.health_port))
            if probe.vpc_id not in routers or answer is None:
                continue
            if now - self._probed.get(probe.key, float("-inf")) < probe.interval:
                continue
            self._probed[probe.key] = now
            self.probes_run += 1
            results.append(ProbeResult(probe, answer))
        return tuple(results)

    async def supervised_processes(self) -> dict[str, SupervisedProcesses]:
        """Each kind at :attr:`supervised` (none: this host runs no process to supervise;
        a test sets what a real host would count)."""
        return dict(self.supervised)

    async def collect_metrics(self) -> tuple[InstanceStats, ...]:
        """:data:`MEMORY_STATS` for each running instance (at its vCPUs and root volume)."""
        figures = MEMORY_STATS
        return tuple(
            replace(
                figures,
                instance_id=instance_id,
                cpu_seconds=figures.cpu_seconds * instance.spec.vcpus,
                vcpus=instance.spec.vcpus,
                volumes=(replace(figures.volumes[0], volume_id=instance.spec.root.volume_id),),
            )
            for instance_id, instance in sorted(self.instances.items())
            if instance.state is RuntimeState.RUNNING
        )

    def _forward(self, forward: PortForward) -> PortForward:
        if forward.host_port:
            return forward
        self._next_port += 1
        return PortForward(forward.host_address, self._next_port, forward.guest_port)

    def _running(self, instance_id: str) -> _Instance:
        instance = self.instances.get(instance_id)
        if instance is None or instance.state is not RuntimeState.RUNNING:
            raise HypervisorFailed(f"instance {instance_id} is not running on {self._host}")
        return instance

    async def stop(self, instance_id: str, *, timeout: float) -> None:
        instance = self.instances.get(instance_id)
        if instance is not None and instance.state is RuntimeState.RUNNING:
            instance.console += b"[memory] powered off\n"
            instance.state = RuntimeState.SHUT_OFF
            instance.elastic_ip = None  # a host takes the route away with the guest

    def power_off(self, instance_id: str) -> None:
        """The guest shuts itself down (``poweroff`` inside it): its QEMU exits, its files
        stay, as on a real host. Nothing tells the service; it notices (decision 0145)."""
        instance = self._running(instance_id)
        instance.console += b"[memory] the guest powered off\n"
        instance.state = RuntimeState.SHUT_OFF
        instance.elastic_ip = None

    def crash(self, instance_id: str) -> None:
        """The guest's QEMU dies without exiting (killed, crashed), as ``state`` then tells a
        real host's: its files stay, nothing tells the service."""
        instance = self._running(instance_id)
        instance.state = RuntimeState.CRASHED
        instance.elastic_ip = None

    async def reboot(self, instance_id: str) -> None:
        self._running(instance_id).console += b"[memory] rebooted\n"

    async def kill(self, instance_id: str) -> None:
        instance = self.instances.get(instance_id)
        if instance is not None:
            instance.state = RuntimeState.SHUT_OFF
            instance.elastic_ip = None

    async def release(self, instance_id: str) -> None:
        # A running instance is killed first: after release nothing of it is left.
        instance = self.instances.pop(instance_id, None)
        if instance is None or instance.spec.nic is None:
            return
        # The subnet's last instance gone (nor is it known by its peers): a host forgets its
        # ACL, and the next spec gives it again.
        network_id = instance.spec.nic.network.network_id
        held = (i.spec.nic.network.network_id for i in self.instances.values() if i.spec.nic)
        if network_id not in held and self.peer_networks.get(network_id) is None:
            self.acls.pop(network_id, None)

    async def attach_interface(self, instance_id: str, interface: InterfaceSpec) -> None:
        instance = self._running(instance_id)
        primary = instance.spec.nic
        if primary is None:
            raise HypervisorFailed(
                f"instance {instance_id} has user-mode networking: no further interface"
            )
        if interface.device_index == 0:  # the primary's secondary addresses
            instance.spec = replace(instance.spec, nic=interface.nic)
            return
        taken = {
            i.nic.mac
            for held in self.instances.values()
            for i in held.interfaces.values()
            if i.interface_id != interface.interface_id
        }
        if interface.nic.mac in taken or interface.nic.mac == primary.mac:
            raise HypervisorFailed(f"MAC {interface.nic.mac} is plugged already")
        instance.interfaces[interface.interface_id] = interface
        instance.console += f"[memory] NIC {interface.nic.mac} hot-plugged\n".encode()

    async def detach_interface(
        self, instance_id: str, interface_id: str, *, force: bool = False
    ) -> None:
        instance = self.instances.get(instance_id)
        if instance is not None and instance.interfaces.pop(interface_id, None) is not None:
            instance.console += f"[memory] NIC of {interface_id} unplugged\n".encode()

    async def attach_volume(self, instance_id: str, volume: AttachedVolume) -> None:
        instance = self._running(instance_id)
        self._open(volume.volume_id, volume.key)
        instance.attached[volume.volume_id] = volume

    async def detach_volume(self, instance_id: str, volume_id: str) -> None:
        self._running(instance_id).attached.pop(volume_id, None)

    async def state(self, instance_id: str) -> RuntimeState:
        instance = self.instances.get(instance_id)
        return RuntimeState.ABSENT if instance is None else instance.state

    async def running(self) -> dict[str, RuntimeState]:
        return {instance_id: i.state for instance_id, i in self.instances.items()}

    async def console_output(self, instance_id: str) -> bytes:
        instance = self.instances.get(instance_id)
        return b"" if instance is None else bytes(instance.console[-CONSOLE_TAIL:])

    async def network(self, instance_id: str) -> InstanceNetwork | None:
        instance = self.instances.get(instance_id)
        if instance is None or instance.state is not RuntimeState.RUNNING:
            return None
        return instance.network

    async def close(self) -> None:
        return None

    def lose(self, instance_id: str) -> None:
        """Tests: the instance's QEMU process vanished (host reboot, crash)."""
        self.instances.pop(instance_id, None)
