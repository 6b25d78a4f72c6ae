"""What the parts of :class:`~andromede.hypervisor.qemu.QemuDriver` share: its settings
(:class:`QemuDriverConfig`) and :class:`QemuDriverCore` — the state directory, the volume
backend, the image copies, the tenant networks, one lock per instance, an instance's process
files and its QMP monitor — a key given to QEMU as a ``secret`` object (:func:`_add_secret`),
and the guest's CPU topology as QEMU's ``-smp`` (:func:`smp_option`).

Split off :mod:`~andromede.hypervisor.qemu` for size (STYLE §10); callers import from there.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from andromede.compute.driver import InstanceSpec, NetworkMode
from andromede.hypervisor.errors import HypervisorError
from andromede.hypervisor.flow_capture import FlowCounters
from andromede.hypervisor.image_cache import HostImages
from andromede.hypervisor.images import QemuImg, luks_passphrase
from andromede.hypervisor.instance_readings import Sampler
from andromede.hypervisor.metadata_listeners import MetadataListeners
from andromede.hypervisor.monitor import Monitor
from andromede.hypervisor.process import QemuProcess
from andromede.hypervisor.tenant_network import NetworkLayout, TenantNetworks
from andromede.hypervisor.traffic_meters import TrafficMeters
from andromede.hypervisor.volumes import FileVolumes, VolumeBackend, safe_id

__all__ = ["QemuDriverConfig", "QemuDriverCore", "smp_option"]


def smp_option(spec: InstanceSpec) -> str:
    """``-smp``'s value: the active vCPUs first (what ``instance_readings.smp_of`` reads
    back), in one socket of ``vcpus / threads_per_core`` cores (decision 0214), so the guest
    sees EC2's topology (``/proc/cpuinfo``'s "cpu cores" and "siblings")."""
    threads = max(1, spec.threads_per_core)
    cores = max(1, spec.vcpus // threads)
    return f"{cores * threads},sockets=1,cores={cores},threads={threads}"


# AF_UNIX paths are limited to 107 bytes; the socket sits at instances/<id>/qmp.sock.
_SOCKET_PATH_MAX = 107
_LONGEST_INSTANCE_ID = 19  # i- and 17 hex digits


@dataclass(frozen=True, slots=True)
class QemuDriverConfig:
    """How the driver runs QEMU; every value a setting of the composition root."""

    qemu_binary: str = "qemu-system-x86_64"
    # The object store's certificate chain and key (PEM files) with which the VPC endpoints'
    # TLS listener (``network_layout.vpce_tls_port``) answers; "" = no TLS listener.
    vpce_tls_certfile: str = ""
    vpce_tls_keyfile: str = ""
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
    # The most flows each router counts per interval for the flow logs (decision 0153).
    flow_log_max_flows: int = 10000


class QemuDriverCore:
    """The state and the steps every part of the QEMU driver shares."""

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
        self._dns_supervision: asyncio.Task[None] | None = None
        self._metadata: MetadataListeners | None = None
        # The VPC endpoints' listeners (decision 0160), on the same transit addresses.
        self._endpoints: MetadataListeners | None = None
        self._flows = FlowCounters(self._config.flow_log_max_flows)
        # The routers' meters (decision 0176), their last read kept across restarts.
        self._traffic = TrafficMeters(self._root / "networks" / "traffic.json")
        # The guests' last counters read for their metrics (decision 0178), in memory.
        self._sampler = Sampler()
        # One gathering at a time: two gateways' calls overlapping here would each skip the
        # disks the other's monitor call holds, and the later reading, taken first, would
        # discard the earlier one's disks as read before its base — for as long as the two
        # callers' loops stay in step, no volume counted at all.
        self._metrics_lock = asyncio.Lock()

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

    def _monitor(self, instance_id: str) -> Monitor:
        return Monitor(self._process(instance_id).socket, self._config.qmp_timeout)

    if TYPE_CHECKING:
        # QemuDriver's, decided there with the host's probes (looked up in that module, where
        # tests replace them); declared here so that the parts may ask it.

        async def networking(self) -> NetworkMode:
            """How this host wires instances with a NIC."""
            ...


async def _add_secret(qmp: Monitor, secret_id: str, key: bytes) -> None:
    with contextlib.suppress(HypervisorError):
        await qmp.execute("object-del", {"id": secret_id})  # a leftover of a failed attach
    await qmp.execute(
        "object-add",
        {"qom-type": "secret", "id": secret_id, "format": "base64",
         "data": base64.b64encode(luks_passphrase(key)).decode()},
    )  # fmt: skip


def _find_tool(name: str | None) -> str | None:
    """A tool on PATH, or in the sbin folders a non-root PATH often lacks."""
    if name is None:
        return None
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
