"""The in-memory twin of the hypervisor driver: volumes, snapshots and instances in dicts,
every transition immediate. For service tests and for ``hypervisor = "memory"`` (a gateway
without virtual machines, e.g. CI of the EC2 API); it keeps the port's semantics exactly:
deletes and kills are idempotent, a released instance is ABSENT, a volume opens only with the
key it was created with, the console is bytes (the last 64 KiB). An instance with a NIC is
wired in bridge mode with a host-only public address from 100.65.0.0/16, one without in user
mode with its forwards, and the firewall of each is kept for the service tests to read, as are
the overlay peers of each network (``peers``) when the host is given an underlay address.

It lives in one process: a deployment running several gateway workers must use a real driver.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from andromede.compute.driver import (
    Accelerator,
    AttachedVolume,
    HostCapacity,
    InstanceFirewall,
    InstanceNetwork,
    InstanceSpec,
    NetworkMode,
    NetworkPeer,
    PortForward,
    RuntimeState,
    VolumeSpec,
)
from andromede.compute.errors import HypervisorFailed

__all__ = ["MemoryDriver"]

CONSOLE_TAIL = 64 * 1024
_FIRST_FORWARD_PORT = 42000
_PUBLIC_RANGE = ipaddress.IPv4Network("100.65.0.0/16")


@dataclass(slots=True)
class _Volume:
    size_gib: int
    key: bytes = field(repr=False)
    backing: Path | None


@dataclass(slots=True)
class _Instance:
    spec: InstanceSpec
    state: RuntimeState
    console: bytearray = field(default_factory=bytearray)
    attached: dict[str, AttachedVolume] = field(default_factory=dict)
    network: InstanceNetwork = field(default_factory=lambda: InstanceNetwork(NetworkMode.USER))
    firewall: InstanceFirewall = field(default_factory=InstanceFirewall)


class MemoryDriver:
    """A host that runs nothing but keeps the books as a real one would."""

    def __init__(
        self,
        host: str = "memory-host",
        *,
        vcpus: int = 8,
        memory_mib: int = 16384,
        snapshot_dir: Path = Path("/nonexistent/andromede-memory-snapshots"),
        underlay_address: str = "",
        vxlan_port: int = 4789,
    ) -> None:
        self._host = host
        self._capacity = HostCapacity(
            host,
            vcpus,
            memory_mib,
            Accelerator.TCG,
            underlay_address=underlay_address,
            vxlan_port=vxlan_port if underlay_address else 0,
        )
        self._snapshot_dir = snapshot_dir
        self.volumes: dict[str, _Volume] = {}
        self.snapshots: dict[str, _Volume] = {}
        self.instances: dict[str, _Instance] = {}
        self._next_port = _FIRST_FORWARD_PORT
        self._next_public = 0
        # network id → the other hosts holding its instances, as last told (none: never told).
        self.peers: dict[str, tuple[NetworkPeer, ...]] = {}

    @property
    def host(self) -> str:
        return self._host

    async def capacity(self) -> HostCapacity:
        return self._capacity

    async def create_volume(self, spec: VolumeSpec) -> None:
        existing = self.volumes.get(spec.volume_id)
        if existing is not None:
            if existing.key != spec.key or existing.size_gib != spec.size_gib:
                raise HypervisorFailed(f"volume {spec.volume_id} exists with another definition")
            return
        if spec.backing is not None and spec.backing.parent == self._snapshot_dir:
            snapshot = self.snapshots.get(spec.backing.stem)
            if snapshot is None or snapshot.key != spec.backing_key:
                raise HypervisorFailed(f"cannot open the backing snapshot of {spec.volume_id}")
        self.volumes[spec.volume_id] = _Volume(spec.size_gib, spec.key, spec.backing)

    async def delete_volume(self, volume_id: str) -> None:
        self.volumes.pop(volume_id, None)

    async def snapshot_volume(
        self, volume_id: str, key: bytes, snapshot_id: str, snapshot_key: bytes
    ) -> None:
        volume = self._open(volume_id, key)
        self.snapshots[snapshot_id] = _Volume(volume.size_gib, snapshot_key, None)

    async def delete_snapshot(self, snapshot_id: str) -> None:
        self.snapshots.pop(snapshot_id, None)

    def snapshot_path(self, snapshot_id: str) -> Path:
        return self._snapshot_dir / f"{snapshot_id}.qcow2"

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
        forwards = tuple(self._forward(f) for f in spec.forwards)
        instance = current or _Instance(spec, RuntimeState.RUNNING)
        instance.spec = spec
        instance.state = RuntimeState.RUNNING
        instance.firewall = spec.firewall
        if spec.nic is None:
            instance.network = InstanceNetwork(NetworkMode.USER, forwards=forwards)
        else:
            public_ip = instance.network.public_ip or self._public_ip()
            instance.network = InstanceNetwork(
                NetworkMode.BRIDGE, spec.nic.private_ip, public_ip, forwards
            )
        instance.attached = {v.volume_id: v for v in spec.volumes}
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

    async def set_network_peers(self, network_id: str, peers: tuple[NetworkPeer, ...]) -> None:
        if self._capacity.underlay_address:
            self.peers[network_id] = peers

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

    async def reboot(self, instance_id: str) -> None:
        self._running(instance_id).console += b"[memory] rebooted\n"

    async def kill(self, instance_id: str) -> None:
        instance = self.instances.get(instance_id)
        if instance is not None:
            instance.state = RuntimeState.SHUT_OFF

    async def release(self, instance_id: str) -> None:
        # A running instance is killed first: after release nothing of it is left.
        self.instances.pop(instance_id, None)

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
