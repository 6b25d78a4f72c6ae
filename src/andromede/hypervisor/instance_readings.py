"""Reading a running guest's counters on its host, for its ``AWS/EC2`` and ``AWS/EBS`` metrics
(decision 0178): cheap reads only, no agent inside the guest.

- **CPU**: the QEMU process's user and system time (``/proc/<pid>/stat``, fields 14 and 15,
  in clock ticks) — every vCPU thread and QEMU's own work for the guest; its vCPUs from its
  command line (``-smp``). The process's start time (field 22) makes its *generation*.
- **Network**: the statistics of its taps, read with one ``ip -s -j link show`` per tenant
  network namespace (a tap lives in its VPC's namespace, whose ``/sys/class/net`` the host's
  sysfs does not show). A tap *receives* what the guest sends: the guest's ``NetworkOut`` is
  the tap's ``rx``.
- **Disk**: QMP ``query-blockstats`` (bytes and operations read and written per block node),
  matched to volumes by their node names.

:class:`Sampler` keeps each instance's last reading and hands out the differences
(:func:`~andromede.compute.instance_stats.difference`), in memory only: an agent restarted
takes a new base and reports from its second pass (one interval lost, none counted twice).
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from andromede.compute.instance_stats import CounterReading, InstanceStats, difference

__all__ = [
    "Sampler",
    "block_counters",
    "process_age",
    "process_cpu",
    "smp_of",
    "tap_counters",
]

_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int, proc: Path = Path("/proc")) -> tuple[float, str] | None:
    """The process's CPU seconds (user + system) and its generation (pid and start time);
    None when it is gone."""
    try:
        text = (proc / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name in parentheses may hold spaces: fields are counted after its ")".
    fields = text.rpartition(")")[2].split()
    # fields[0] is the state (field 3): utime is field 14, stime 15, starttime 22.
    try:
        utime, stime, started = int(fields[11]), int(fields[12]), int(fields[19])
    except (IndexError, ValueError):
        return None
    return (utime + stime) / _TICKS, f"{pid}:{started}"


def process_age(generation: str, proc: Path = Path("/proc")) -> float | None:
    """Seconds since the process of ``generation`` (``pid:starttime``, as :func:`process_cpu`
    names it) started, from the host's uptime; None when unread."""
    try:
        started = int(generation.rpartition(":")[2]) / _TICKS
        uptime = float((proc / "uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return max(0.0, uptime - started)


def smp_of(pid: int, proc: Path = Path("/proc")) -> int:
    """The vCPUs QEMU was started with (``-smp N`` or ``-smp cpus=N,…``); 1 when unread."""
    try:
        argv = (proc / str(pid) / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return 1
    for option, value in itertools.pairwise(argv):
        if option == b"-smp":
            first = value.decode(errors="replace").split(",")[0]
            first = first.removeprefix("cpus=")
            if first.isdigit() and int(first) > 0:
                return int(first)
    return 1


def tap_counters(listing: str) -> dict[str, tuple[int, int, int, int]]:
    """From ``ip -s -j link show``: per link, (in bytes, out bytes, in packets, out packets)
    *as its guest sees them*: what the link sends (tx) is what the guest receives."""
    found: dict[str, tuple[int, int, int, int]] = {}
    for link in json.loads(listing or "[]"):
        stats = link.get("stats64") or link.get("stats") or {}
        rx, tx = stats.get("rx") or {}, stats.get("tx") or {}
        try:
            found[str(link["ifname"])] = (
                int(tx.get("bytes", 0)),
                int(rx.get("bytes", 0)),
                int(tx.get("packets", 0)),
                int(rx.get("packets", 0)),
            )
        except (KeyError, TypeError, ValueError):
            continue
    return found


def block_counters(
    answer: Iterable[Mapping[str, Any]], nodes: Mapping[str, str]
) -> dict[str, tuple[int, int, int, int]]:
    """From QMP ``query-blockstats``: per volume id (``nodes``: node name → volume id),
    (read bytes, write bytes, read operations, write operations)."""
    found: dict[str, tuple[int, int, int, int]] = {}
    for entry in answer:
        node = entry.get("node-name") or ""
        if node not in nodes:
            # A device's entry names its drive in its qdev path ("…/disk-<node>/…").
            qdev = str(entry.get("qdev") or "")
            node = next((n for n in nodes if f"/disk-{n}/" in qdev), "")
            if not node:
                continue
        stats = entry.get("stats") or {}
        try:
            found[nodes[node]] = (
                int(stats.get("rd_bytes", 0)),
                int(stats.get("wr_bytes", 0)),
                int(stats.get("rd_operations", 0)),
                int(stats.get("wr_operations", 0)),
            )
        except (TypeError, ValueError):
            continue
    return found


class Sampler:
    """Each instance's last reading, and what grew since. A guest first seen here that started
    after the sampler did is counted from zero at its start (its counters began there), so
    its boot is measured; one older than the sampler (an agent restarted beside it) is only
    a base, never counted twice."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._last: dict[str, CounterReading] = {}
        self._clock = clock
        self._began = clock()

    def take(self, readings: Mapping[str, CounterReading]) -> tuple[InstanceStats, ...]:
        """The differences from the previous readings; the readings become the next base, and
        an instance not read any more (stopped, gone) is forgotten."""
        found = []
        kept: dict[str, CounterReading] = {}
        for instance_id, reading in sorted(readings.items()):
            before = self._last.get(instance_id)
            if (
                before is not None
                and before.generation == reading.generation
                and (reading.at <= before.at)
            ):
                # Read before the base another call took meanwhile (two gateways asking at
                # once): what it saw is counted from that base already.
                kept[instance_id] = before
                continue
            if before is None or before.generation != reading.generation:
                before = self._start_of(reading)
            stats = difference(instance_id, before, reading)
            if stats is not None:
                found.append(stats)
            if (
                reading.disks is None
                and before is not None
                and before.generation == (reading.generation)
            ):
                # Its disks not read this time (its monitor busy): their counts wait for the
                # next pass, measured from the last base read.
                reading = replace(reading, disks=before.disks)
            kept[instance_id] = reading
        self._last = kept
        return tuple(found)

    def _start_of(self, reading: CounterReading) -> CounterReading | None:
        """The zero reading at the process's start, when it started after the sampler."""
        if reading.age is None or reading.at - reading.age < self._began:
            return None
        return CounterReading(
            generation=reading.generation,
            at=reading.at - reading.age,
            cpu_seconds=0.0,
            vcpus=reading.vcpus,
            network=None if reading.network is None else (0, 0, 0, 0),
            disks={},
        )
