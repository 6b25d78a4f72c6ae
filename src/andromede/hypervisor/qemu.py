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

The class is the composition of parts split off for size (STYLE §10):
:mod:`~andromede.hypervisor.qemu_core` (the settings, and the state and steps the parts share),
``qemu_storage`` (volumes, images, snapshots, disks plugged and unplugged) and
``qemu_network`` (the tenant networks' settings, the metadata service, security groups,
Elastic IPs); here the host's capacity and networking mode, an instance's life cycle and what
is observed of it. Callers import from here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil

from andromede.compute.driver import (
    HostCapacity,
    InstanceNetwork,
    InstanceSpec,
    NetworkMode,
    PortForward,
    RuntimeState,
)
from andromede.compute.driver_network import (
    NicSpec,
)
from andromede.hypervisor.accelerator import probe_accelerator
from andromede.hypervisor.errors import (
    HypervisorError,
    InstanceBusy,
    InstanceNotRunning,
    VolumeNotFound,
)
from andromede.hypervisor.images import option_path
from andromede.hypervisor.network_probe import probe_bridging, probe_underlay
from andromede.hypervisor.process import QemuProcess
from andromede.hypervisor.qemu_core import QemuDriverConfig, _add_secret, smp_option
from andromede.hypervisor.qemu_interfaces import InterfacesMixin
from andromede.hypervisor.qemu_metrics import MetricsMixin
from andromede.hypervisor.qemu_network import NetworkingMixin
from andromede.hypervisor.qemu_storage import StorageMixin
from andromede.hypervisor.seed import build_seed_iso
from andromede.hypervisor.user_network import (
    ingress_allows_tcp,
    nic_device,
    user_netdev,
)

__all__ = ["QemuDriver", "QemuDriverConfig"]

logger = logging.getLogger(__name__)

CONSOLE_TAIL = 64 * 1024
SEED_NODE = "seed"
_FORWARD_ATTEMPTS = 3


class QemuDriver(StorageMixin, NetworkingMixin, InterfacesMixin, MetricsMixin):
    """:class:`~andromede.compute.driver.HypervisorDriver` over QEMU processes on this host.

    Built with the state directory, the host name, the settings and the volume backend
    (:meth:`~andromede.hypervisor.qemu_core.QemuDriverCore.__init__`)."""

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
                elif spec.interfaces:
                    raise HypervisorError(
                        f"{self._host} wires its guests in user-mode networking: no further "
                        "interface"
                    )
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
                    if network.mode is NetworkMode.BRIDGE:
                        await self._start_interfaces(qmp, process, spec.interfaces)
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
            "-smp", smp_option(spec), "-m", str(spec.memory_mib),
            "-nodefaults", "-no-user-config", "-display", "none",
            "-S", "-daemonize", "-pidfile", str(process.pidfile),
            "-qmp", f"unix:{option_path(process.socket)},server=on,wait=off",
            "-chardev", f"file,id=console,path={option_path(process.console)},append=on",
            "-serial", "chardev:console",
        ]  # fmt: skip
        if accelerator == "kvm":
            argv += ["-cpu", "host"]
        return argv

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
            # Its further interfaces (decision 0161), then its own tap, public address, lease
            # and rules; its network too when it was the last.
            await self._release_interfaces(process)
            await self._networks.release(instance_id)
            shutil.rmtree(process.directory, ignore_errors=True)
        self._locks.pop(instance_id, None)

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
        if self._metadata is not None or self._endpoints is not None:
            self._networks.watch(None)
        if self._metadata is not None:
            await self._metadata.close()
            self._metadata = None
        if self._endpoints is not None:
            await self._endpoints.close()
            self._endpoints = None
        if self._host_side is not None:  # the TLS listeners' servers (decision 0210)
            await self._host_side.close()
            self._host_side = None
        if self._dns_supervision is not None:
            self._dns_supervision.cancel()
            await asyncio.gather(self._dns_supervision, return_exceptions=True)
            self._dns_supervision = None
        self._locks.clear()
        await self._volumes.close()


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
