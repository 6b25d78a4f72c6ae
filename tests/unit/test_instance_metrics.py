"""The instances' metrics (decision 0178): the host's arithmetic — CPU % from two readings of
a process, counters made again or wrapped, generations, disks not read in a pass — the
readings of ``/proc``, ``ip -s -j link`` and QMP ``query-blockstats``, and the points one
measure makes: resolutions by monitoring, dimensions, tenants."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from andromede.autoscaling_adapters import run_request
from andromede.compute.driver_memory import MemoryDriver
from andromede.compute.images import ImageFiles
from andromede.compute.instance_stats import (
    CounterReading,
    InstanceStats,
    VolumeStats,
    cpu_percent,
    difference,
)
from andromede.compute.model import Instance, InstanceState
from andromede.compute.monitoring import MeasuredInstance
from andromede.compute.service import ComputeService
from andromede.compute.store_memory import MemoryComputeStore
from andromede.hypervisor.agent import agent_ready, serve_agent
from andromede.hypervisor.instance_readings import (
    Sampler,
    block_counters,
    process_age,
    process_cpu,
    smp_of,
    tap_counters,
)
from andromede.hypervisor.remote import RemoteDriver
from andromede.hypervisor.wire import CALLS, decode, encode
from andromede.instance_metrics import EBS, EC2, instance_points
from andromede.metrics.model import Series
from andromede.metrics.service import MetricsService
from andromede.metrics.sink import BufferedSink
from andromede.metrics.store import MemoryMetricStore
from andromede.settings import Settings
from support.computekit import MemoryDiskKeys, limits

TICKS = os.sysconf("SC_CLK_TCK")


def reading(at: float, cpu: float, *, generation: str = "7:100", **extra: object) -> CounterReading:
    fields: dict[str, object] = {"vcpus": 2, "network": (1000, 500, 10, 5), "disks": {}}
    fields.update(extra)
    return CounterReading(generation, at, cpu, **fields)  # type: ignore[arg-type]


def test_cpu_percent_from_two_readings_of_a_process() -> None:
    # 30 CPU seconds over a minute of a 2-vCPU guest: a quarter of its capacity.
    stats = difference("i-1", reading(100.0, 10.0), reading(160.0, 40.0))
    assert stats is not None
    assert (stats.instance_id, stats.seconds, stats.cpu_seconds) == ("i-1", 60.0, 30.0)
    assert cpu_percent(stats) == pytest.approx(25.0)
    # QEMU's own threads may run beyond the vCPUs for a moment: capped at 100.
    busy = difference("i-1", reading(0.0, 0.0), reading(10.0, 25.0))
    assert busy is not None and cpu_percent(busy) == 100.0
    # No time, no base, another process: no measure (the reading is the next base).
    assert difference("i-1", reading(5.0, 1.0), reading(5.0, 2.0)) is None
    assert difference("i-1", None, reading(5.0, 2.0)) is None
    assert difference("i-1", reading(0.0, 50.0), reading(60.0, 1.0, generation="8:200")) is None
    assert cpu_percent(InstanceStats("i", 0.0, 1.0, 1)) == 0.0


def test_counters_made_again_or_wrapped_count_from_zero() -> None:
    before = reading(0.0, 0.0, network=(10_000, 8_000, 100, 80), disks={"vol-a": (4096, 0, 1, 0)})
    # The tap was made again (its counters restarted) and the volume plugged again.
    now = reading(60.0, 6.0, network=(300, 9_000, 3, 90), disks={"vol-a": (512, 1024, 1, 2)})
    stats = difference("i-1", before, now)
    assert stats is not None
    assert (stats.network_in_bytes, stats.network_out_bytes) == (300, 1_000)
    assert (stats.network_in_packets, stats.network_out_packets) == (3, 10)
    assert stats.volumes == (VolumeStats("vol-a", 512, 1024, 0, 2),)
    # A volume plugged since the last reading counts from zero; no tap read: no network.
    later = reading(
        120.0, 7.0, network=None, disks={"vol-a": (512, 1024, 1, 2), "vol-b": (8, 0, 1, 0)}
    )
    stats = difference("i-1", now, later)
    assert stats is not None and not stats.network
    assert stats.volumes == (VolumeStats("vol-a"), VolumeStats("vol-b", 8, 0, 1, 0))


def test_the_sampler_counts_each_growth_once() -> None:
    sampler = Sampler()
    first = {"i-1": reading(0.0, 0.0, disks={"vol-a": (100, 0, 1, 0)})}
    assert sampler.take(first) == ()  # a base only
    # Its monitor busy this pass: no disks, and the next pass measures from the last base.
    (busy,) = sampler.take({"i-1": reading(60.0, 3.0, disks=None)})
    assert busy.volumes == ()
    (after,) = sampler.take({"i-1": reading(120.0, 6.0, disks={"vol-a": (700, 0, 3, 0)})})
    assert after.volumes == (VolumeStats("vol-a", 600, 0, 2, 0),)
    # Two calls at once: the one read first but taken last counts nothing, and keeps the
    # other's base (so the next call does not count its interval again).
    late = {"i-1": reading(150.0, 7.0, disks={"vol-a": (800, 0, 4, 0)})}
    (newer,) = sampler.take({"i-1": reading(170.0, 8.0, disks={"vol-a": (900, 0, 5, 0)})})
    assert newer.volumes == (VolumeStats("vol-a", 200, 0, 2, 0),)
    assert sampler.take(late) == ()
    (next_one,) = sampler.take({"i-1": reading(230.0, 9.0, disks={"vol-a": (950, 0, 6, 0)})})
    assert (next_one.seconds, next_one.volumes) == (60.0, (VolumeStats("vol-a", 50, 0, 1, 0),))
    # A guest restarted (another process) starts again from a base; one gone is forgotten.
    assert sampler.take({"i-1": reading(280.0, 1.0, generation="9:1")}) == ()
    assert sampler.take({}) == ()
    assert sampler.take({"i-1": reading(340.0, 2.0, generation="9:1")}) == ()


def test_a_guest_started_after_the_sampler_counts_from_its_start() -> None:
    """Its counters began at its start: what its boot read and sent before the first pass is
    counted (the first pass may come after it); a guest older than the sampler (an agent
    restarted beside it) is a base only, so nothing is counted twice."""
    sampler = Sampler(clock=lambda: 1000.0)
    young = reading(1030.0, 3.0, age=20.0, disks={"vol-a": (4096, 0, 8, 0)})
    old = reading(1030.0, 50.0, generation="8:1", age=400.0, disks={"vol-b": (9, 0, 1, 0)})
    (first,) = sampler.take({"i-young": young, "i-old": old})
    assert (first.instance_id, first.seconds, first.cpu_seconds) == ("i-young", 20.0, 3.0)
    assert first.volumes == (VolumeStats("vol-a", 4096, 0, 8, 0),)
    assert (first.network_in_bytes, first.network_out_bytes) == (1000, 500)
    # The next pass counts only what grew since.
    later = reading(1090.0, 6.0, age=80.0, disks={"vol-a": (5000, 0, 9, 0)})
    (second,) = sampler.take({"i-young": later})
    assert (second.seconds, second.volumes) == (60.0, (VolumeStats("vol-a", 904, 0, 1, 0),))


def test_process_age_from_the_hosts_uptime(tmp_path: Path) -> None:
    (tmp_path / "uptime").write_text("500.25 900.00\n")
    assert process_age(f"42:{100 * TICKS}", tmp_path) == pytest.approx(400.25)
    assert process_age("42:x", tmp_path) is None
    assert process_age("42:1", tmp_path / "none") is None


def test_host_readings(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    (proc / "42").mkdir(parents=True)
    # The command name may hold spaces and parentheses; utime 14, stime 15, starttime 22.
    fields = ["S", *["0"] * 10, str(3 * TICKS), str(2 * TICKS), *["0"] * 6, "98765", "0"]
    (proc / "42" / "stat").write_text(f"42 (qemu (guest) x) {' '.join(fields)}\n")
    (proc / "42" / "cmdline").write_bytes(b"qemu\0-name\0guest=i-1\0-smp\0cpus=4,sockets=1\0")
    assert process_cpu(42, proc) == (5.0, "42:98765")
    assert process_cpu(43, proc) is None
    assert smp_of(42, proc) == 4
    (proc / "42" / "cmdline").write_bytes(b"qemu\0-smp\x002\0")
    assert smp_of(42, proc) == 2
    assert smp_of(43, proc) == 1

    listing = [
        {"ifname": "tapabc", "stats64": {"rx": {"bytes": 700, "packets": 7},
                                         "tx": {"bytes": 9000, "packets": 12}}},
        {"ifname": "br0"},
        {"ifname": "bad", "stats64": {"rx": {"bytes": "x"}}},
    ]  # fmt: skip
    # What the tap sends (tx) is what the guest receives.
    assert tap_counters(json.dumps(listing))["tapabc"] == (9000, 700, 12, 7)
    assert "bad" not in tap_counters(json.dumps(listing))

    answer = [
        {"device": "", "node-name": "vol-1", "stats": {"rd_bytes": 10, "wr_bytes": 20,
                                                        "rd_operations": 1, "wr_operations": 2}},
        {"device": "", "qdev": "/machine/peripheral/disk-vol-2/virtio-backend",
         "stats": {"rd_bytes": 5, "wr_bytes": 0, "rd_operations": 1, "wr_operations": 0}},
        {"device": "", "node-name": "seed", "stats": {"rd_bytes": 99}},
    ]  # fmt: skip
    nodes = {"vol-1": "vol-0001", "vol-2": "vol-0002"}
    assert block_counters(answer, nodes) == {"vol-0001": (10, 20, 1, 2), "vol-0002": (5, 0, 1, 0)}


def instance(**changes: object) -> Instance:
    fields: dict[str, object] = {
        "instance_id": "i-0123456789abcdef0",
        "tenant_id": "t1",
        "reservation_id": "r-1",
        "image_id": "ami-1",
        "instance_type": "t3.micro",
        "state": InstanceState.RUNNING,
        "host": "h",
        "launch_time": datetime.now(UTC),
        "root_volume_id": "vol-1",
        "availability_zone": "a",
        "vcpus": 2,
        "memory_mib": 1024,
    }
    fields.update(changes)
    return Instance(**fields)  # type: ignore[arg-type]


STATS = InstanceStats(
    "i-0123456789abcdef0", 60.0, 30.0, 2, True, 1000, 2000, 10, 20,
    (VolumeStats("vol-1", 4096, 8192, 1, 2), VolumeStats("vol-2", 4, 8, 1, 1)),
)  # fmt: skip


def test_points_by_monitoring_and_dimensions() -> None:
    basic = instance_points(MeasuredInstance(instance(), STATS))
    ec2 = {(p.name, p.dimensions): p for p in basic if p.namespace == EC2}
    # Basic monitoring: 5-minute periods, the instance only (no group).
    status = {p for p in basic if p.name.startswith("StatusCheckFailed")}
    assert {p.resolution for p in basic if p.namespace == EC2 and p not in status} == {300}
    assert {p.resolution for p in status} == {60}
    assert {d for _, d in ec2} == {(("InstanceId", "i-0123456789abcdef0"),)}
    cpu = ec2[("CPUUtilization", (("InstanceId", "i-0123456789abcdef0"),))]
    assert (cpu.value, cpu.unit, cpu.tenant_id) == (pytest.approx(25.0), "Percent", "t1")
    by_name = {name: p.value for (name, _), p in ec2.items()}
    assert by_name["NetworkIn"] == 1000 and by_name["NetworkOut"] == 2000
    assert by_name["NetworkPacketsIn"] == 10 and by_name["NetworkPacketsOut"] == 20
    assert by_name["EBSReadBytes"] == 4100 and by_name["EBSWriteOps"] == 3
    assert by_name["StatusCheckFailed"] == 0 and "DiskReadBytes" not in by_name
    ebs = {(p.name, p.dimensions): p for p in basic if p.namespace == EBS}
    assert ebs[("VolumeWriteBytes", (("VolumeId", "vol-1"),))].value == 8192
    assert {p.resolution for p in ebs.values()} == {60}

    detailed = instance_points(
        MeasuredInstance(instance(monitoring=True, autoscaling_group="web"), STATS)
    )
    assert {p.resolution for p in detailed if p.namespace == EC2} == {60}
    cpu_dims = {p.dimensions for p in detailed if p.name == "CPUUtilization"}
    assert cpu_dims == {
        (("InstanceId", "i-0123456789abcdef0"),),
        (("AutoScalingGroupName", "web"),),
        (("ImageId", "ami-1"),),
        (("InstanceType", "t3.micro"),),
    }
    # The group's aggregate whatever the monitoring (what target tracking reads); status
    # checks per instance only; no network figures without a tap.
    grouped = instance_points(
        MeasuredInstance(
            instance(autoscaling_group="web"), InstanceStats("i-0123456789abcdef0", 60, 6, 1, False)
        )
    )
    assert {p.dimensions for p in grouped if p.name == "CPUUtilization"} == {
        (("InstanceId", "i-0123456789abcdef0"),),
        (("AutoScalingGroupName", "web"),),
    }
    assert {p.dimensions for p in grouped if p.name.startswith("StatusCheck")} == {
        (("InstanceId", "i-0123456789abcdef0"),)
    }
    assert not [p for p in grouped if p.name.startswith("Network")]


async def test_the_sink_keeps_basic_monitoring_at_five_minutes() -> None:
    metrics = MetricsService(MemoryMetricStore())
    sink = BufferedSink(metrics)
    dims = [("InstanceId", "i-1")]
    sink.record("t1", EC2, "CPUUtilization", dims, 20.0, "Percent", resolution=300)
    sink.record("t1", EC2, "CPUUtilization", dims, 40.0, "Percent", resolution=300)
    assert await sink.flush() == 1
    series = Series.of("t1", EC2, "CPUUtilization", dims)
    [point] = await metrics.store.read(series, [300], 0, 2**40)
    assert (point.resolution, point.start % 300, point.aggregate.total) == (300, 0, 60.0)
    assert await metrics.store.read(series, [60], 0, 2**40) == []
    with pytest.raises(ValueError, match="no stored resolution"):
        sink.record("t1", EC2, "CPUUtilization", dims, 1.0, resolution=120)


def test_the_wire_keeps_every_field() -> None:
    call = CALLS["collect_metrics"]
    assert call.parameters == ()
    assert decode(call.result, encode((STATS,))) == (STATS,)
    assert decode(call.result, []) == ()


async def test_over_the_agents_socket_and_a_host_that_does_not_answer(tmp_path: Path) -> None:
    """The measures come over the agent's socket; a host whose agent is away (or older than
    the call) is skipped, the others' measures kept."""
    driver = MemoryDriver("h1", vcpus=4, memory_mib=4096)
    socket_path = tmp_path / "agent" / "agent.sock"
    stop = asyncio.Event()
    task = asyncio.create_task(serve_agent(driver, socket_path, stop))
    assert await asyncio.to_thread(agent_ready, socket_path, 10.0)
    remote = RemoteDriver(socket_path, host="h1")
    away = RemoteDriver(tmp_path / "nobody.sock", host="h2", connect_timeout=0.5)
    compute = ComputeService(
        MemoryComputeStore(),
        [remote, away],
        MemoryDiskKeys(),
        limits(),
        ImageFiles(tmp_path / "images", max_size=1024**3),
    )
    try:
        assert await remote.collect_metrics() == ()
        assert await compute.measured_instances() == []
    finally:
        await compute.close()
        stop.set()
        await task


def test_the_interval_is_a_setting() -> None:
    assert Settings().instance_metrics_interval == 60.0
    assert Settings(instance_metrics_interval=5).instance_metrics_interval == 5.0
    # Detailed monitoring's minutes must each get a sample.
    for refused in (0.5, 301):
        with pytest.raises(ValidationError):
            Settings(instance_metrics_interval=refused)


def test_an_auto_scaling_groups_launch_reads_its_templates_monitoring() -> None:
    params = {"ImageId": "ami-1", "Monitoring.Enabled": "true"}
    assert run_request(params, "lt-1", 1, None, ()).monitoring is True
    assert run_request({"ImageId": "ami-1"}, "lt-1", 1, None, ()).monitoring is False
