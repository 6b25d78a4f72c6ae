"""What a host measures of its running instances for CloudWatch's ``AWS/EC2`` and ``AWS/EBS``
metrics (decision 0178): the readings, their differences, and the figures EC2 publishes.

A host reads cumulative counters — the QEMU process's CPU time, its taps' bytes and packets,
its disks' bytes and operations — and reports, per instance, what they grew by since its
previous reading (:class:`InstanceStats`, over the agent wire). The difference is taken on the
host, as decision 0176 does for its network meters, so that gateways asking in turn each get
a part and nothing is counted twice. A reading carries its *generation* (the QEMU process's id
and start time): a guest restarted, or a host whose agent restarted, starts again from that
reading, never from another process's counters. A counter that went down (a tap made again, a
volume plugged again) counts from zero.

Everything here is pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "CounterReading",
    "InstanceStats",
    "VolumeStats",
    "cpu_percent",
    "difference",
]


@dataclass(frozen=True, slots=True)
class VolumeStats:
    """What one attached volume read and wrote since the previous report."""

    volume_id: str
    read_bytes: int = 0
    write_bytes: int = 0
    read_ops: int = 0
    write_ops: int = 0


@dataclass(frozen=True, slots=True)
class InstanceStats:
    """What one running instance used since its host's previous report, over ``seconds`` of
    wall time. ``network`` says whether its interfaces could be read (a guest in user-mode
    networking has no tap: no network figures)."""

    instance_id: str
    seconds: float
    cpu_seconds: float
    vcpus: int
    network: bool = True
    network_in_bytes: int = 0
    network_out_bytes: int = 0
    network_in_packets: int = 0
    network_out_packets: int = 0
    volumes: tuple[VolumeStats, ...] = ()


@dataclass(frozen=True, slots=True)
class CounterReading:
    """An instance's cumulative counters at one moment (``at``, monotonic seconds).

    ``generation`` names the process the counters belong to: readings of two generations are
    never subtracted. ``network`` holds (in bytes, out bytes, in packets, out packets) as the
    guest sees them, None when no tap was read; ``disks`` (read bytes, write bytes, read
    operations, write operations) per volume id, None when they could not be read this time;
    ``age`` the seconds since the process started."""

    generation: str
    at: float
    cpu_seconds: float
    vcpus: int
    network: tuple[int, int, int, int] | None = None
    disks: Mapping[str, tuple[int, int, int, int]] | None = field(default_factory=dict)
    # Seconds from the process's start to this reading, when known: a guest started after the
    # sampler began is counted from zero at its start, so its boot is measured too.
    age: float | None = None


def _grown(now: int, before: int) -> int:
    """A cumulative counter's growth; a counter that went down was made again (a tap, a
    device plugged again, a 32-bit counter that wrapped): it counted from zero since."""
    return now - before if now >= before else now


def difference(
    instance_id: str, before: CounterReading | None, now: CounterReading
) -> InstanceStats | None:
    """What grew between two readings of one instance; None without a previous reading of the
    same generation, or no time between them (the reading is then the base of the next)."""
    if before is None or before.generation != now.generation or now.at <= before.at:
        return None
    grown = [0, 0, 0, 0]
    network = now.network is not None and before.network is not None
    if now.network is not None and before.network is not None:
        grown = [_grown(n, b) for n, b in zip(now.network, before.network, strict=True)]
    volumes = []
    disks = {} if now.disks is None or before.disks is None else now.disks
    for volume_id, counters in sorted(disks.items()):
        # A volume plugged since counts from zero, as its node's counters do.
        previous = (before.disks or {}).get(volume_id, (0, 0, 0, 0))
        read_bytes, write_bytes, read_ops, write_ops = (
            _grown(n, b) for n, b in zip(counters, previous, strict=True)
        )
        volumes.append(VolumeStats(volume_id, read_bytes, write_bytes, read_ops, write_ops))
    return InstanceStats(
        instance_id=instance_id,
        seconds=now.at - before.at,
        cpu_seconds=max(0.0, now.cpu_seconds - before.cpu_seconds),
        vcpus=now.vcpus,
        network=network,
        network_in_bytes=grown[0],
        network_out_bytes=grown[1],
        network_in_packets=grown[2],
        network_out_packets=grown[3],
        volumes=tuple(volumes),
    )


def cpu_percent(stats: InstanceStats) -> float:
    """EC2's ``CPUUtilization``: the share of the instance's vCPUs its process used, 0 to
    100 (a process's emulation threads may run beyond its vCPUs for a moment: capped)."""
    if stats.seconds <= 0 or stats.vcpus <= 0:
        return 0.0
    return min(100.0, max(0.0, 100.0 * stats.cpu_seconds / (stats.vcpus * stats.seconds)))
