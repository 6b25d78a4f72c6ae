"""The QEMU driver: one ``qemu-system-x86_64`` process per instance, driven over QMP.

State on the host, under the directory given to :class:`QemuDriver` (0700)::

    images/<image-id>.<sha256>       verified read-only copies of images (image_cache.py),
                                     sent by the control plane (put_image)
    volumes/<volume-id>.qcow2        qcow2 + LUKS, an overlay over an image or self-contained
    snapshots/<snapshot-id>.qcow2    self-contained qcow2 + LUKS copies
                                     (both with the file backend; the RBD backend keeps them
                                     in a Ceph pool instead: :mod:`.volumes`, :mod:`.rbd_volumes`)
    instances/<instance-id>/         one per instance known to the host
        qmp.sock  qemu.pid           the monitor and the process, found again after a restart
        seed.luks                    the NoCloud seed, LUKS-encrypted with the root-volume key
        console.log  console.prev    the serial console of this boot and the tail of the last
        forwards.json  volumes.json  host ports and attached volume ids (no secrets)
        network.json                 how the instance is reached (InstanceNetwork)
    networks/                        the tenant networks' state (tenant_network.py)

Start: QEMU is spawned paused (``-S``, ``-daemonize`` so it outlives the service), then over QMP
each key becomes a ``secret`` object, each volume a ``blockdev-add`` of the encrypted qcow2 and a
``device_add`` of a virtio-blk disk (root first, boot index 0, the volume id as the disk's serial
as EC2 does), the seed a read-only disk, and ``cont`` lets the guest run. Keys live in QEMU's
memory only. The guest boots its root volume through the firmware, like any EC2 image.

Networking (``QemuDriverConfig.networking``): in *bridge* mode an instance with a tenant NIC is
plugged into its tenant network (:mod:`~andromede.hypervisor.tenant_network`: a bridge per
subnet in its VPC's namespace, nftables security groups, a host-only public address unless the
NIC asks for none) and QEMU joins through a tap device opened in that namespace; the network is
built with its first instance and removed with its last. In *user* mode — the declared
fallback where the host cannot build networks, chosen by ``auto`` after a probe and said in
the log and in :class:`HostCapacity` — QEMU's user-mode networking gives the guest its private
address by DHCP and host port forwards reach it (none when the NIC has no public address).
An instance without a NIC gets user-mode networking in either mode.

Elastic IPs (``set_elastic_ip``, ``NicSpec.elastic_ip`` at start): in bridge mode the tenant
networks route one to a running instance; a guest that stops, is killed or is found gone
(``running``) loses its address on this host (EC2 may give it to another instance meanwhile)
and its next start brings it again. User mode routes none: giving one is refused, a start with
one starts without it (logged).

Security groups in user mode: see :mod:`~andromede.hypervisor.user_network`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import shutil
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from andromede.compute.driver import (
    AttachedVolume,
    HostCapacity,
    ImageBacking,
    InstanceFirewall,
    InstanceNetwork,
    InstanceSpec,
    NatRoute,
    NetworkMode,
    NetworkPeer,
    NetworkSpec,
    NicSpec,
    PeeringLink,
    PortForward,
    RuntimeState,
    SubnetAcl,
    VolumeSpec,
    VpcDns,
)
from andromede.hypervisor.accelerator import probe_accelerator
from andromede.hypervisor.errors import (
    AddressRefused,
    HypervisorError,
    ImageInUse,
    InstanceBusy,
    InstanceNotRunning,
    VolumeNotFound,
)
from andromede.hypervisor.image_cache import HostImages
from andromede.hypervisor.images import QemuImg, luks_passphrase, option_path
from andromede.hypervisor.metadata_listeners import AsgiApp, MetadataListeners
from andromede.hypervisor.monitor import Monitor
from andromede.hypervisor.network_probe import probe_bridging, probe_underlay
from andromede.hypervisor.process import QemuProcess
from andromede.hypervisor.seed import build_seed_iso
from andromede.hypervisor.tenant_network import NetworkLayout, TenantNetworks
from andromede.hypervisor.user_network import (
    free_port,
    hmp,
    ingress_allows_tcp,
    nic_device,
    user_netdev,
)
from andromede.hypervisor.volumes import GIB, FileVolumes, VolumeBackend, safe_id

__all__ = ["QemuDriver", "QemuDriverConfig"]

logger = logging.getLogger(__name__)

CONSOLE_TAIL = 64 * 1024
# AF_UNIX paths are limited to 107 bytes; the socket sits at instances/<id>/qmp.sock.
_SOCKET_PATH_MAX = 107
_LONGEST_INSTANCE_ID = 19  # i- and 17 hex digits
SEED_NODE = "seed"
_FORWARD_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class QemuDriverConfig:
    """How the driver runs QEMU; every value a setting of the composition root."""

    qemu_binary: str = "qemu-system-x86_64"
    qemu_img_binary: str = "qemu-img"
    # Formats seed containers fast (images.py); None or not installed: qemu-img does it.
    cryptsetup_binary: str | None = "cryptsetup"
    machine: str = "pc"
    # Multiply the host's CPUs (memory is not overcommitted by default: guests would swap).
    cpu_overcommit: float = 4.0
    memory_overcommit: float = 1.0
    # PBKDF2 time of LUKS volumes; the keys are random data keys, see images.py.
    luks_iter_time_ms: int = 10
    qmp_timeout: float = 10.0
    qemu_img_timeout: float = 600.0
    detach_timeout: float = 10.0
    # How long a hard stop waits for QEMU to quit cleanly before SIGKILL.
    quit_timeout: float = 3.0
    probe_timeout: float = 5.0
    # A console file past this size is cut to its tail when the console is read or the host
    # is reconciled (running()).
    console_file_limit: int = 1024 * 1024
    # Address the user-mode port forwards listen on.
    forward_address: str = "127.0.0.1"
    # bridge: tenant networks (needs root); user: QEMU user-mode networking; auto: bridge
    # where a probe shows the host can build tenant networks, else user (logged, reported).
    networking: Literal["auto", "bridge", "user"] = "auto"
    network_layout: NetworkLayout = field(default_factory=NetworkLayout)
    # The largest image put_image accepts (the control plane's max_image_size).
    max_image_size: int = 64 * 1024**3


class QemuDriver:
    """:class:`~andromede.compute.driver.HypervisorDriver` over QEMU processes on this host."""

    def __init__(
        self,
        state_dir: Path,
        *,
        host: str | None = None,
        config: QemuDriverConfig | None = None,
        volumes: Callable[[Path, QemuImg], VolumeBackend] | None = None,
    ) -> None:
        """``volumes`` makes the volume backend from the state directory (resolved) and the
        driver's qemu-img (default: files under ``state_dir``;
        :mod:`andromede.hypervisor.rbd_volumes` for Ceph RBD)."""
        self._root = state_dir.resolve()
        self._host = host or socket.gethostname()
        self._config = config or QemuDriverConfig()
        socket_path = self._root / "instances" / ("i" * _LONGEST_INSTANCE_ID) / "qmp.sock"
        if len(os.fsencode(socket_path)) > _SOCKET_PATH_MAX:
            raise HypervisorError(
                f"state directory {self._root} is too long for QMP socket paths "
                f"({_SOCKET_PATH_MAX} bytes at most)"
            )
        for directory in (self._root, self._instances):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._img = QemuImg(
            self._config.qemu_img_binary,
            iter_time_ms=self._config.luks_iter_time_ms,
            timeout=self._config.qemu_img_timeout,
            cryptsetup_binary=_find_tool(self._config.cryptsetup_binary),
        )
        self._volumes: VolumeBackend = (
            volumes(self._root, self._img)
            if volumes is not None
            else FileVolumes(self._root, self._img, host=self._host)
        )
        self._images = HostImages(self._root / "images", max_size=self._config.max_image_size)
        self._locks: dict[str, asyncio.Lock] = {}
        self._networks = TenantNetworks(self._root / "networks", self._config.network_layout)
        self._networking: NetworkMode | None = None
        self._networking_lock = asyncio.Lock()
        self._networks_restored = False
        self._metadata: MetadataListeners | None = None

    @property
    def host(self) -> str:
        return self._host

    @property
    def _instances(self) -> Path:
        return self._root / "instances"

    def _process(self, instance_id: str) -> QemuProcess:
        return QemuProcess(self._instances / safe_id(instance_id))

    def _lock(self, instance_id: str) -> asyncio.Lock:
        return self._locks.setdefault(instance_id, asyncio.Lock())

    # -- host -----------------------------------------------------------------------------

    async def capacity(self) -> HostCapacity:
        probe = await probe_accelerator(
            self._config.qemu_binary, timeout=self._config.probe_timeout
        )
        networking = await self.networking()
        layout = self._config.network_layout
        # An overlay joins tenant networks, which only bridge mode builds.
        underlay = layout.underlay_address if networking is NetworkMode.BRIDGE else ""
        return HostCapacity(
            host=self._host,
            vcpus=int((os.cpu_count() or 1) * self._config.cpu_overcommit),
            memory_mib=int(_memory_total_mib() * self._config.memory_overcommit),
            accelerator=probe.accelerator,
            networking=networking,
            storage_domain=self._volumes.storage_domain(),
            underlay_address=underlay,
            vxlan_port=layout.vxlan_port if underlay else 0,
        )

    async def set_network_peers(
        self,
        network_id: str,
        peers: tuple[NetworkPeer, ...],
        *,
        network: NetworkSpec | None = None,
    ) -> None:
        if await self.networking() is NetworkMode.BRIDGE:
            await self._networks.set_peers(network_id, peers, network)

    async def set_network_acl(self, network_id: str, acl: SubnetAcl) -> None:
        """Bridge mode: the subnet's router enforces it (:meth:`TenantNetworks.set_acl`).
        User mode routes nothing between subnets: nothing to enforce, nothing kept."""
        if await self.networking() is NetworkMode.BRIDGE:
            await self._networks.set_acl(network_id, acl)

    async def set_nat_routes(self, router_id: str, routes: tuple[NatRoute, ...]) -> None:
        """Bridge mode: the VPC's router applies them (:meth:`TenantNetworks.set_nat_routes`).
        User mode has no router to translate in: nothing kept (the service routes no NAT
        gateway to a user-mode host's instances: their forwards are their only way out)."""
        if await self.networking() is NetworkMode.BRIDGE:
            await self._networks.set_nat_routes(router_id, routes)

    async def set_peering_links(self, links: tuple[PeeringLink, ...]) -> None:
        """Bridge mode: the routers are joined (:meth:`TenantNetworks.set_peering_links`).
        User mode has no router to join: nothing kept."""
        if await self.networking() is NetworkMode.BRIDGE:
            await self._networks.set_peering_links(links)

    async def set_vpc_dns(self, router_id: str, dns: VpcDns) -> None:
        """Bridge mode: the VPC's router serves them (:meth:`TenantNetworks.set_vpc_dns`).
        User mode has QEMU's own DHCP and DNS (slirp), no router: nothing kept."""
        if await self.networking() is NetworkMode.BRIDGE:
            await self._networks.set_vpc_dns(router_id, dns)

    async def networking(self) -> NetworkMode:
        """How this host wires instances with a NIC: decided once (a probe for ``auto``)."""
        async with self._networking_lock:
            if self._networking is None:
                self._networking = await self._decide_networking()
            return self._networking

    async def _decide_networking(self) -> NetworkMode:
        wanted = self._config.networking
        if wanted == "user":
            logger.info("networking: user mode (configured), port forwards reach the guests")
            return NetworkMode.USER
        reason = await probe_bridging(
            self._config.network_layout.link_prefix, timeout=self._config.probe_timeout
        )
        if reason is None:
            await self._check_underlay()
            logger.info("networking: tenant networks (bridges in network namespaces)")
            return NetworkMode.BRIDGE
        if wanted == "bridge":
            raise HypervisorError(f"hypervisor networking = bridge, but {reason}")
        logger.warning(
            "networking: this host cannot build tenant networks (%s): user-mode networking "
            "with port forwards, no isolation between tenants beyond QEMU's",
            reason,
        )
        return NetworkMode.USER

    async def _check_underlay(self) -> None:
        """A host given an underlay holds it (in its namespace), or does not start: its
        networks would otherwise be built with VXLAN ports whose frames go nowhere, and the
        other hosts would send to an address nobody has."""
        layout = self._config.network_layout
        if not layout.underlay_address:
            return
        reason = await probe_underlay(
            layout.underlay_address, layout.underlay_netns, timeout=self._config.probe_timeout
        )
        if reason is not None:
            raise HypervisorError(f"the underlay of the tenant networks: {reason}")

    async def serve_metadata(self, app: AsgiApp) -> None:
        """Serve the metadata app on every tenant network's host transit address (at the
        layout's ``imds_port``), now and as networks come and go, until :meth:`close`.
        Networks recorded before a host reboot are rebuilt first. A host in user mode has no
        tenant network: nothing listens (user-mode guests have no metadata service)."""
        if self._metadata is not None:
            raise HypervisorError("the metadata service is already served")
        self._metadata = MetadataListeners(app, self._config.network_layout.imds_port)
        self._networks.watch(self._metadata)
        if await self.networking() is NetworkMode.BRIDGE:
            await self._restore_networks()
            for host_ip in self._networks.host_transit_ips():
                await self._metadata.network_up(host_ip)

    async def _restore_networks(self) -> None:
        """Once per driver: rebuild what a host reboot removed of the recorded networks."""
        if not self._networks_restored:
            self._networks_restored = True
            await self._networks.restore()

    # -- volumes --------------------------------------------------------------------------

    async def create_volume(self, spec: VolumeSpec) -> None:
        if not isinstance(spec.backing, ImageBacking):
            await self._volumes.create(spec)
            return
        # Under the image's lock: a forget_image at the same moment waits for the overlay,
        # then sees it reads the copy.
        async with self._images.lock(spec.backing.image_id):
            image = self._images.path(spec.backing.image_id, spec.backing.sha256)
            await self._volumes.create(spec, image)

    # -- images ---------------------------------------------------------------------------

    async def has_image(self, image_id: str, sha256: str) -> bool:
        return self._images.has(image_id, sha256)

    async def put_image(
        self, image_id: str, sha256: str, disk_format: str, chunks: AsyncIterator[bytes]
    ) -> None:
        await self._images.put(image_id, sha256, disk_format, chunks)

    async def forget_image(self, image_id: str) -> None:
        """Refused (ImageInUse) while a volume reads from the copy: with files an overlay
        names it as its backing file, and removing it would break that volume. The control
        plane forgets an image only once no volume of it is left, so a refusal is a
        disagreement to look at, not a state to wait out."""
        async with self._images.lock(image_id):
            for copy in self._images.copies(image_id):
                if await self._volumes.reads_from(copy):
                    raise ImageInUse(f"image {image_id}: a volume on {self._host} still reads it")
            self._images.forget(image_id)

    async def delete_volume(self, volume_id: str) -> None:
        for instance_id in self._users_of(volume_id):
            if self._process(instance_id).alive():
                raise InstanceBusy(f"volume {volume_id} is attached to running {instance_id}")
        await self._volumes.delete(volume_id)

    async def grow_volume(self, volume_id: str, key: bytes, size_gib: int) -> None:
        """Offline, the backend grows the image (qemu-img, with ``key``); under a running
        guest, QEMU does (QMP ``block_resize`` on the volume's node, which it opened with the
        key at attach or boot), and virtio-blk tells the guest its new capacity at once. The
        instance's lock keeps a start or a stop from crossing either."""
        if not await self._volumes.exists(volume_id):
            raise VolumeNotFound(f"volume {volume_id} not found on {self._host}")
        size = size_gib * GIB
        async with contextlib.AsyncExitStack() as held:
            users = self._users_of(volume_id)
            for instance_id in users:
                await held.enter_async_context(self._lock(instance_id))
            running = [i for i in users if self._process(i).alive()]
            if not running:
                await self._volumes.grow(volume_id, key, size)
                return
            node = _node(volume_id)
            async with self._monitor(running[0]) as qmp:
                # QEMU holds the volume open (its key was checked then): the size is its node's.
                # block_resize would shrink as readily as grow, so it is asked only to grow.
                if await _node_size(qmp, node) >= size:
                    return
                await qmp.execute("block_resize", {"node-name": node, "size": size})
        logger.info("volume %s grown to %d GiB under %s", volume_id, size_gib, running[0])

    async def snapshot_volume(
        self, volume_id: str, key: bytes, snapshot_id: str, snapshot_key: bytes
    ) -> None:
        if not await self._volumes.exists(volume_id):
            raise VolumeNotFound(f"volume {volume_id} not found on {self._host}")
        running_users = [i for i in self._users_of(volume_id) if self._process(i).alive()]
        if running_users:
            await self._backup_live(running_users[0], volume_id, snapshot_id, snapshot_key, key)
        else:
            await self._volumes.copy_to_snapshot(volume_id, key, snapshot_id, snapshot_key)

    async def _backup_live(
        self, instance_id: str, volume_id: str, snapshot_id: str, target_key: bytes, key: bytes
    ) -> None:
        """A point-in-time copy of a volume in use: QEMU's own backup job, which sees every
        write the guest made (qemu-img on the volume could read half-written metadata)."""
        size = await self._volumes.virtual_size(volume_id, key)
        await self._volumes.new_snapshot_target(snapshot_id, size, target_key)
        node, job = f"backup-{safe_id(volume_id)}", f"job-{safe_id(volume_id)}"
        try:
            async with self._lock(instance_id), self._monitor(instance_id) as qmp:
                await _add_secret(qmp, f"key-{node}", target_key)
                await _add_backend_secrets(qmp, self._volumes)
                target = self._volumes.snapshot_target_node(node, snapshot_id, f"key-{node}")
                await qmp.execute("blockdev-add", target)
                try:
                    async with qmp.events("BLOCK_JOB_COMPLETED") as listener:
                        await qmp.execute(
                            "blockdev-backup",
                            {"job-id": job, "device": _node(volume_id), "target": node,
                             "sync": "full", "auto-dismiss": True},
                        )  # fmt: skip
                        done = await qmp.wait_for(
                            listener, lambda data: data.get("device") == job,
                            self._config.qemu_img_timeout,
                        )  # fmt: skip
                    if not done:
                        raise HypervisorError(f"snapshot of {volume_id} timed out")
                finally:
                    with contextlib.suppress(HypervisorError):
                        await qmp.execute("blockdev-del", {"node-name": node})
                    with contextlib.suppress(HypervisorError):
                        await qmp.execute("object-del", {"id": f"key-{node}"})
            await self._volumes.commit_snapshot(snapshot_id)
        except BaseException:
            await self._volumes.abort_snapshot(snapshot_id)
            raise

    async def copy_snapshot(
        self, source_id: str, source_key: bytes, snapshot_id: str, snapshot_key: bytes
    ) -> None:
        # A snapshot is never open in a guest: qemu-img reads it, whatever runs.
        await self._volumes.copy_snapshot(source_id, source_key, snapshot_id, snapshot_key)

    async def delete_snapshot(self, snapshot_id: str) -> None:
        await self._volumes.delete_snapshot(snapshot_id)

    def _users_of(self, volume_id: str) -> list[str]:
        return [
            path.name
            for path in self._instances.iterdir()
            if volume_id in QemuProcess(path).attached()
        ]

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self, spec: InstanceSpec) -> InstanceNetwork:
        async with self._lock(spec.instance_id):
            process = self._process(spec.instance_id)
            if process.alive():
                raise InstanceBusy(f"instance {spec.instance_id} is already running")
            volumes = (spec.root, *spec.volumes)
            for volume in volumes:
                if not await self._volumes.exists(volume.volume_id):
                    raise VolumeNotFound(f"volume {volume.volume_id} not found on {self._host}")
            process.prepare()
            # The seed is written while QEMU starts (paused): it is plugged last, after the
            # volumes, and neither waits for the other's subprocesses.
            seed = asyncio.ensure_future(self._write_seed(spec, process))
            try:
                accelerator = (await self.capacity()).accelerator
                if spec.nic is not None and await self.networking() is NetworkMode.BRIDGE:
                    network = await self._spawn_bridged(spec, spec.nic, process, accelerator.value)
                else:
                    network = await self._spawn_user(spec, process, accelerator.value)
                forwards = network.forwards
            except BaseException:
                # Not cancelled: a cancelled wait would leave its qemu-img running.
                await asyncio.gather(seed, return_exceptions=True)
                raise
            # Written before the guest runs: a service that dies now finds them on restart.
            process.write_requested_forwards(_requested_forwards(spec))
            process.write_forwards(forwards)
            process.write_network(network)
            process.write_attached([v.volume_id for v in volumes])
            try:
                async with self._monitor(spec.instance_id) as qmp:
                    for index, volume in enumerate(volumes):
                        await self._plug(qmp, volume, boot=index == 0)
                    await seed
                    await _add_secret(qmp, f"key-{SEED_NODE}", spec.root.key)
                    await qmp.execute(
                        "blockdev-add",
                        {"driver": "luks", "node-name": SEED_NODE, "read-only": True,
                         "key-secret": f"key-{SEED_NODE}",
                         "file": {"driver": "file", "filename": str(process.seed),
                                  "read-only": True}},
                    )  # fmt: skip
                    await qmp.execute(
                        "device_add",
                        {"driver": "virtio-blk-pci", "id": "disk-seed", "drive": SEED_NODE,
                         "serial": "cidata"},
                    )  # fmt: skip
                    await qmp.execute("cont")
            except BaseException:
                await asyncio.gather(seed, return_exceptions=True)
                await process.kill()
                process.forget_runtime()  # our own kill: not a crash (state() reads the pidfile)
                raise
            logger.info(
                "instance %s started (%s, %d vCPU, %d MiB)",
                spec.instance_id, accelerator.value, spec.vcpus, spec.memory_mib,
            )  # fmt: skip
            return network

    async def _spawn_bridged(
        self, spec: InstanceSpec, nic: NicSpec, process: QemuProcess, accelerator: str
    ) -> InstanceNetwork:
        """QEMU on the tap plugged for the instance in its tenant network (its security groups
        applied before the guest runs). QEMU stays in the host's namespace, where its storage
        is; only the tap's descriptor comes from the tenant network's."""
        plugged = await self._networks.plug(spec.instance_id, nic, spec.firewall)
        tap = await self._networks.open_tap(plugged, timeout=self._config.qmp_timeout)
        try:
            argv = [
                *self._command(spec, process, accelerator),
                "-netdev", f"tap,id=net0,fd={tap}", "-device", nic_device(spec),
            ]  # fmt: skip
            await process.spawn(argv, timeout=self._config.qmp_timeout, pass_fds=(tap,))
        finally:
            os.close(tap)  # QEMU holds its own copy
        return InstanceNetwork(
            NetworkMode.BRIDGE,
            plugged.private_ip,
            plugged.public_ip if plugged.mapped else None,
            host_facing_ip=plugged.public_ip,
        )

    async def _spawn_user(
        self, spec: InstanceSpec, process: QemuProcess, accelerator: str
    ) -> InstanceNetwork:
        """QEMU with user-mode networking: the forwards the ingress rules allow, on host
        ports picked free (again when QEMU finds one taken)."""
        requested = _requested_forwards(spec)
        allowed = tuple(f for f in requested if ingress_allows_tcp(spec.firewall, f))
        if spec.nic is not None and spec.nic.elastic_ip is not None:
            # EC2 keeps the association of a stopped instance: its start must not fail for
            # it, though no address is routed here (set_elastic_ip refuses one).
            logger.warning(
                "instance %s: user-mode networking, its Elastic IP %s is not routed",
                spec.instance_id, spec.nic.elastic_ip,
            )  # fmt: skip
        for attempt in range(_FORWARD_ATTEMPTS):
            forwards = tuple(self._bind_forward(forward) for forward in allowed)
            argv = self._command(spec, process, accelerator)
            # A NIC even when the rules open no forward yet: set_firewall may open one live.
            if spec.nic is not None or requested:
                netdev = user_netdev(spec, forwards, restrict=not spec.firewall.egress)
                argv += ["-netdev", netdev, "-device", nic_device(spec)]
            try:
                await process.spawn(argv, timeout=self._config.qmp_timeout)
                break
            except HypervisorError as exc:
                if "host forwarding" not in str(exc) or attempt == _FORWARD_ATTEMPTS - 1:
                    raise
        private_ip = spec.nic.private_ip if spec.nic else None
        return InstanceNetwork(NetworkMode.USER, private_ip, None, forwards)

    async def set_firewall(self, instance_id: str, firewall: InstanceFirewall) -> None:
        if await self._networks.set_instance_firewall(instance_id, firewall):
            logger.debug("instance %s: security groups in force", instance_id)
            return
        async with self._lock(instance_id):
            process = self._process(instance_id)
            if not process.alive() or process.network().mode is not NetworkMode.USER:
                return  # nothing runs: a later start brings its own rules
            await self._refresh_forwards(instance_id, process, firewall)

    async def set_elastic_ip(self, instance_id: str, address: str | None) -> None:
        """Bridge mode: the tenant networks route it (:meth:`TenantNetworks.set_elastic_ip`).
        User mode has no address to route: taking one away is a no-op, giving one is refused
        (:class:`AddressRefused`), rather than reported done and reaching nothing."""
        async with self._lock(instance_id):
            process = self._process(instance_id)
            if not process.alive():
                if address is None:  # a guest gone without a stop: its route goes now
                    await self._networks.set_elastic_ip(instance_id, None)
                raise InstanceNotRunning(f"instance {instance_id} is not running on {self._host}")
            if await self._networks.set_elastic_ip(instance_id, address):
                return
            if address is not None:
                raise AddressRefused(
                    f"instance {instance_id} has user-mode networking on {self._host}:"
                    " no Elastic IP is routed to it"
                )

    async def _refresh_forwards(
        self, instance_id: str, process: QemuProcess, firewall: InstanceFirewall
    ) -> None:
        """User mode, live: open the requested forwards the rules now allow, close the others
        (QEMU's ``hostfwd_add``/``hostfwd_remove``). Egress (``restrict``) waits for a start."""
        current = {(f.host_address, f.guest_port): f for f in process.forwards()}
        wanted = {
            (f.host_address or self._config.forward_address, f.guest_port): f
            for f in process.requested_forwards()
            if ingress_allows_tcp(firewall, f)
        }
        kept = [f for key, f in current.items() if key in wanted]
        async with self._monitor(instance_id) as qmp:
            for key, forward in current.items():
                if key not in wanted:
                    rule = f"tcp:{forward.host_address}:{forward.host_port}"
                    await hmp(qmp, f"hostfwd_remove net0 {rule}", success=f"{rule} removed")
            for key, requested in wanted.items():
                if key in current:
                    continue
                forward = self._bind_forward(requested)
                await hmp(qmp, f"hostfwd_add net0 tcp:{forward.host_address}:"
                                f"{forward.host_port}-:{forward.guest_port}")  # fmt: skip
                kept.append(forward)
        private_ip = process.network().private_ip
        process.write_forwards(kept)
        process.write_network(InstanceNetwork(NetworkMode.USER, private_ip, None, tuple(kept)))
        logger.info("instance %s: %d port forward(s) after new rules", instance_id, len(kept))

    async def _write_seed(self, spec: InstanceSpec, process: QemuProcess) -> None:
        # pycdlib is pure Python: in a thread, so the loop keeps serving the other instances.
        iso = await asyncio.to_thread(build_seed_iso, spec.seed)
        await self._img.write_luks(iso, process.seed, spec.root.key)

    def _command(self, spec: InstanceSpec, process: QemuProcess, accelerator: str) -> list[str]:
        """QEMU's command line without its network (which depends on the mode)."""
        argv = [
            self._config.qemu_binary,
            "-name", f"guest={spec.instance_id}",
            "-machine", f"{self._config.machine},accel={accelerator}",
            "-smp", str(spec.vcpus), "-m", str(spec.memory_mib),
            "-nodefaults", "-no-user-config", "-display", "none",
            "-S", "-daemonize", "-pidfile", str(process.pidfile),
            "-qmp", f"unix:{option_path(process.socket)},server=on,wait=off",
            "-chardev", f"file,id=console,path={option_path(process.console)},append=on",
            "-serial", "chardev:console",
        ]  # fmt: skip
        if accelerator == "kvm":
            argv += ["-cpu", "host"]
        return argv

    def _bind_forward(self, forward: PortForward) -> PortForward:
        address = forward.host_address or self._config.forward_address
        port = forward.host_port or free_port(address)
        return PortForward(address, port, forward.guest_port)

    async def _plug(self, qmp: Monitor, volume: AttachedVolume, *, boot: bool) -> None:
        node = _node(volume.volume_id)
        await _add_secret(qmp, f"key-{node}", volume.key)
        await _add_backend_secrets(qmp, self._volumes)
        arguments = await self._volumes.node(node, volume.volume_id, f"key-{node}")
        await qmp.execute("blockdev-add", arguments)
        device: dict[str, Any] = {
            "driver": "virtio-blk-pci",
            "id": f"disk-{node}",
            "drive": node,
            # EC2's NVMe serial: the volume id without its dash, 20 characters.
            "serial": volume.volume_id.replace("-", "")[:20],
        }
        if boot:
            device["bootindex"] = 0
        await qmp.execute("device_add", device)

    async def stop(self, instance_id: str, *, timeout: float) -> None:
        async with self._lock(instance_id):
            process = self._process(instance_id)
            if process.alive():
                with contextlib.suppress(InstanceNotRunning, HypervisorError):
                    async with self._monitor(instance_id) as qmp:
                        await qmp.execute("system_powerdown")
                if await process.wait_exit(timeout):
                    logger.info("instance %s powered off", instance_id)
                else:
                    logger.info(
                        "instance %s ignored power-down for %gs: killed", instance_id, timeout
                    )
                    await self._hard_stop(instance_id, process)
            process.forget_runtime()
            await self._drop_elastic_ip(instance_id)

    async def _drop_elastic_ip(self, instance_id: str) -> None:
        """A guest that does not run holds no Elastic IP here: EC2 may give it to another
        instance meanwhile (on any host), and its next start brings its own again. Its NIC,
        addresses and rules stay, as a stopped instance's do."""
        plugged = self._networks.plugged(instance_id)
        if plugged is not None and plugged.elastic_ip is not None:
            await self._networks.set_elastic_ip(instance_id, None)

    async def reboot(self, instance_id: str) -> None:
        async with self._lock(instance_id), self._monitor(instance_id) as qmp:
            await qmp.execute("system_reset")

    async def kill(self, instance_id: str) -> None:
        async with self._lock(instance_id):
            process = self._process(instance_id)
            await self._hard_stop(instance_id, process)
            process.forget_runtime()
            await self._drop_elastic_ip(instance_id)

    async def _hard_stop(self, instance_id: str, process: QemuProcess) -> None:
        """QMP ``quit``, then SIGKILL if QEMU has not exited within ``quit_timeout``. Quitting
        closes the disks: an RBD image's watch and exclusive lock go with it, where a killed
        client's linger about 30 s (Ceph's watch timeout) and hold up the volume's deletion
        or its next opener's first write. The guest is stopped as abruptly either way."""
        if not process.alive():
            return
        with contextlib.suppress(InstanceNotRunning, HypervisorError):
            async with self._monitor(instance_id) as qmp:
                await qmp.execute("quit")
        await process.wait_exit(self._config.quit_timeout)
        await process.kill()

    async def release(self, instance_id: str) -> None:
        async with self._lock(instance_id):
            process = self._process(instance_id)
            if process.alive():
                raise InstanceBusy(f"instance {instance_id} is running: stop or kill it first")
            # Its tap, public address, lease and rules; its network too when it was the last.
            await self._networks.release(instance_id)
            shutil.rmtree(process.directory, ignore_errors=True)
        self._locks.pop(instance_id, None)

    # -- hot-plug -------------------------------------------------------------------------

    async def attach_volume(self, instance_id: str, volume: AttachedVolume) -> None:
        if not await self._volumes.exists(volume.volume_id):
            raise VolumeNotFound(f"volume {volume.volume_id} not found on {self._host}")
        async with self._lock(instance_id):
            process = self._process(instance_id)
            if volume.volume_id in process.attached():
                return
            async with self._monitor(instance_id) as qmp:
                await self._plug(qmp, volume, boot=False)
            process.write_attached([*process.attached(), volume.volume_id])

    async def detach_volume(self, instance_id: str, volume_id: str) -> None:
        node = _node(volume_id)
        async with self._lock(instance_id):
            process = self._process(instance_id)
            async with self._monitor(instance_id) as qmp:
                async with qmp.events("DEVICE_DELETED") as listener:
                    try:
                        await qmp.execute("device_del", {"id": f"disk-{node}"})
                        # The guest acknowledges the ACPI eject; then the device is gone.
                        removed = await qmp.wait_for(
                            listener,
                            lambda data: data.get("device") == f"disk-{node}",
                            self._config.detach_timeout,
                        )
                    except HypervisorError as exc:
                        # Not plugged: already detached (a retry); go on cleaning up.
                        logger.debug("detach %s from %s: %s", volume_id, instance_id, exc)
                        removed = True
                if not removed:
                    raise HypervisorError(
                        f"instance {instance_id} did not release volume {volume_id} "
                        f"within {self._config.detach_timeout:g}s"
                    )
                with contextlib.suppress(HypervisorError):
                    await qmp.execute("blockdev-del", {"node-name": node})
                with contextlib.suppress(HypervisorError):
                    await qmp.execute("object-del", {"id": f"key-{node}"})
            process.write_attached([v for v in process.attached() if v != volume_id])

    # -- observation ----------------------------------------------------------------------

    async def state(self, instance_id: str) -> RuntimeState:
        process = self._process(instance_id)
        if process.alive():
            return RuntimeState.RUNNING
        if not process.directory.exists():
            return RuntimeState.ABSENT
        # QEMU unlinks its pidfile on its way out, a guest's power-off included; the driver's
        # own kill removes it after. One left beside a dead process: QEMU never exited, it was
        # killed or crashed.
        return RuntimeState.CRASHED if process.pidfile.exists() else RuntimeState.SHUT_OFF

    async def running(self) -> dict[str, RuntimeState]:
        if await self.networking() is NetworkMode.BRIDGE:
            await self._restore_networks()
        found: dict[str, RuntimeState] = {}
        for directory in sorted(self._instances.iterdir()):
            instance_id = directory.name
            process = QemuProcess(directory)
            if process.alive() and await self._left_paused(instance_id):
                # The service died between spawning QEMU and ``cont``: the guest never ran,
                # its start failed as far as anyone knows.
                logger.warning("instance %s was never started: killed", instance_id)
                await process.kill()
            if process.alive():
                process.bound_console(self._config.console_file_limit)
                found[instance_id] = RuntimeState.RUNNING
            else:
                process.forget_runtime()
                found[instance_id] = RuntimeState.SHUT_OFF
                plugged = self._networks.plugged(instance_id)
                if plugged is not None and plugged.elastic_ip is not None:
                    # A guest gone without a stop. Under its lock: a start in progress has
                    # plugged its address before its QEMU runs.
                    async with self._lock(instance_id):
                        if not process.alive():
                            await self._drop_elastic_ip(instance_id)
        return found

    async def _left_paused(self, instance_id: str) -> bool:
        try:
            async with self._lock(instance_id), self._monitor(instance_id) as qmp:
                status = await qmp.execute("query-status")
        except HypervisorError:
            return False
        return isinstance(status, dict) and status.get("status") == "prelaunch"

    async def console_output(self, instance_id: str) -> bytes:
        process = self._process(instance_id)
        process.bound_console(self._config.console_file_limit)
        return process.console_tail(CONSOLE_TAIL)

    async def network(self, instance_id: str) -> InstanceNetwork | None:
        process = self._process(instance_id)
        if not process.alive():
            return None
        return process.network()

    async def close(self) -> None:
        # Monitor sessions last one operation each; nothing stays open but the volume
        # backend's connection to its storage. The metadata listeners close with the agent;
        # tenant networks stay for the guests that run.
        if self._metadata is not None:
            self._networks.watch(None)
            await self._metadata.close()
            self._metadata = None
        self._locks.clear()
        await self._volumes.close()

    def _monitor(self, instance_id: str) -> Monitor:
        return Monitor(self._process(instance_id).socket, self._config.qmp_timeout)


async def _add_secret(qmp: Monitor, secret_id: str, key: bytes) -> None:
    with contextlib.suppress(HypervisorError):
        await qmp.execute("object-del", {"id": secret_id})  # a leftover of a failed attach
    await qmp.execute(
        "object-add",
        {"qom-type": "secret", "id": secret_id, "format": "base64",
         "data": base64.b64encode(luks_passphrase(key)).decode()},
    )  # fmt: skip


async def _add_backend_secrets(qmp: Monitor, volumes: VolumeBackend) -> None:
    """The storage's credentials, once per QEMU process (they outlive every volume)."""
    for arguments in volumes.qmp_secrets():
        with contextlib.suppress(HypervisorError):  # already there: added for another volume
            await qmp.execute("object-add", arguments)


async def _node_size(qmp: Monitor, node: str) -> int:
    """The virtual size of a plugged volume's node (QMP ``query-block``)."""
    for device in await qmp.execute("query-block") or []:
        inserted = device.get("inserted") or {}
        if inserted.get("node-name") == node:
            size = (inserted.get("image") or {}).get("virtual-size")
            if isinstance(size, int):
                return size
    raise HypervisorError(f"volume node {node} is not plugged into its instance")


def _node(volume_id: str) -> str:
    return f"vol-{safe_id(volume_id).removeprefix('vol-')}"


def _find_tool(name: str | None) -> str | None:
    """A tool on PATH, or in the sbin folders a non-root PATH often lacks."""
    if name is None:
        return None
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def _memory_total_mib() -> int:
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    return 0


def _requested_forwards(spec: InstanceSpec) -> tuple[PortForward, ...]:
    """The host port forwards asked for the instance: none when its NIC has no public address
    (nothing from the host reaches it, as in bridge mode)."""
    if spec.nic is not None and not spec.nic.public_address:
        return ()
    return spec.forwards
