"""The QEMU driver's part that measures its running guests for CloudWatch (decision 0178):
per instance, its process's CPU time, its taps' bytes and packets and its volumes' bytes and
operations (:mod:`~andromede.hypervisor.instance_readings`), reported as what grew since the
previous call. Split off :mod:`~andromede.hypervisor.qemu` for size (STYLE §10).
"""

from __future__ import annotations

import contextlib
import logging
import time

from andromede.compute.driver import NetworkMode
from andromede.compute.instance_stats import CounterReading, InstanceStats
from andromede.hypervisor.errors import HypervisorError
from andromede.hypervisor.instance_readings import (
    block_counters,
    process_age,
    process_cpu,
    smp_of,
    tap_counters,
)
from andromede.hypervisor.netns_commands import NetworkCommandError, _run
from andromede.hypervisor.process import QemuProcess
from andromede.hypervisor.qemu_core import QemuDriverCore
from andromede.hypervisor.qemu_storage import _node

__all__ = ["MetricsMixin"]

logger = logging.getLogger(__name__)

_Counters = tuple[int, int, int, int]


class MetricsMixin(QemuDriverCore):
    async def collect_metrics(self) -> tuple[InstanceStats, ...]:
        """What each running guest used since the previous call; a guest seen for the first
        time counts from its start when it started after this driver's sampler, else its
        reading is the base of the next call. Calls are taken one after the other."""
        async with self._metrics_lock:
            return await self._collect_metrics()

    async def _collect_metrics(self) -> tuple[InstanceStats, ...]:
        bridged = await self.networking() is NetworkMode.BRIDGE
        links: dict[str, dict[str, _Counters]] = {}
        readings: dict[str, CounterReading] = {}
        for directory in sorted(self._instances.iterdir()):
            process = QemuProcess(directory)
            pid = process.pid()
            cpu = process_cpu(pid) if pid is not None else None
            if pid is None or cpu is None:
                continue
            instance_id = directory.name
            network = await self._tap_reading(instance_id, process, links) if bridged else None
            readings[instance_id] = CounterReading(
                generation=cpu[1],
                at=time.monotonic(),
                cpu_seconds=cpu[0],
                vcpus=smp_of(pid),
                network=network,
                disks=await self._disk_reading(instance_id, process),
                age=process_age(cpu[1]),
            )
        return self._sampler.take(readings)

    async def _tap_reading(
        self, instance_id: str, process: QemuProcess, links: dict[str, dict[str, _Counters]]
    ) -> _Counters | None:
        """The sum over the guest's taps (its primary's and its further interfaces'), each
        namespace listed once a pass; None when none could be read."""
        nics = [self._networks.plugged(i) for i in (instance_id, *process.interfaces())]
        total, read = [0, 0, 0, 0], False
        for nic in nics:
            if nic is None:
                continue
            if nic.netns not in links:
                try:
                    listing = await _run("ip", "-n", nic.netns, "-s", "-j", "link", "show")
                    links[nic.netns] = tap_counters(listing)
                except (NetworkCommandError, ValueError):
                    logger.warning("the links of %s could not be read", nic.netns)
                    links[nic.netns] = {}
            counters = links[nic.netns].get(nic.tap)
            if counters is not None:
                read = True
                total = [a + b for a, b in zip(total, counters, strict=True)]
        return (total[0], total[1], total[2], total[3]) if read else None

    async def _disk_reading(
        self, instance_id: str, process: QemuProcess
    ) -> dict[str, _Counters] | None:
        """``query-blockstats`` per attached volume; None when the guest's monitor is busy
        (a start, a stop, a hot-plug: its counts wait for the next pass)."""
        lock = self._lock(instance_id)
        if lock.locked():
            return None
        nodes = {_node(volume_id): volume_id for volume_id in process.attached()}
        async with lock:
            with contextlib.suppress(HypervisorError, OSError):
                async with self._monitor(instance_id) as qmp:
                    answer = await qmp.execute("query-blockstats")
                return block_counters(answer if isinstance(answer, list) else [], nodes)
        return None
