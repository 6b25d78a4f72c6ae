"""Detailed monitoring and the instances' metrics (decision 0178), through the EC2 API in
process: RunInstances' and launch templates' ``Monitoring.Enabled``, MonitorInstances and
UnmonitorInstances with EC2's answers and refusals, DescribeInstances' ``Monitoring.State``;
then the memory host's figures gathered into ``AWS/EC2`` and ``AWS/EBS`` of the owning
account, at 1-minute periods for a monitored instance and 5-minute ones for the others."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from andromede.compute.driver_memory import MEMORY_STATS
from andromede.instance_metrics import InstanceMetrics
from andromede.metrics.service import MetricsService
from andromede.metrics.sink import BufferedSink
from andromede.metrics.store import MemoryMetricStore
from support.ec2app import World


async def _run(world: World, **extra: Any) -> str:
    run = await world.root.call(
        "RunInstances",
        ImageId=world.image.image_id,
        InstanceType="t3.nano",
        MinCount=1,
        MaxCount=1,
        **extra,
    )
    await world.compute.settle()
    return str(run["Instances"][0]["InstanceId"])


async def _monitoring(world: World, instance_id: str) -> str:
    described = await world.root.call("DescribeInstances", InstanceIds=[instance_id])
    return str(described["Reservations"][0]["Instances"][0]["Monitoring"]["State"])


async def test_monitoring_switched_at_launch_and_after(world: World) -> None:
    basic = await _run(world)
    detailed = await _run(world, Monitoring={"Enabled": True})
    assert await _monitoring(world, basic) == "disabled"
    assert await _monitoring(world, detailed) == "enabled"

    answer = await world.root.call("MonitorInstances", InstanceIds=[basic, detailed])
    assert [(i["InstanceId"], i["Monitoring"]["State"]) for i in answer["InstanceMonitorings"]] == [
        (basic, "pending"),
        (detailed, "pending"),
    ]
    assert await _monitoring(world, basic) == "enabled"
    answer = await world.root.call("UnmonitorInstances", InstanceIds=[basic])
    watched = await world.root.call(
        "DescribeInstances", Filters=[{"Name": "monitoring-state", "Values": ["enabled"]}]
    )
    assert [i["InstanceId"] for r in watched["Reservations"] for i in r["Instances"]] == [detailed]
    assert answer["InstanceMonitorings"][0]["Monitoring"]["State"] == "disabling"
    assert await _monitoring(world, basic) == "disabled"

    # One unknown (or another account's) instance: nothing of the call is done.
    _, other = await world.tenant("other")
    status, parsed = await other.raw("MonitorInstances", InstanceIds=[basic])
    assert (status, parsed["Error"]["Code"]) == (400, "InvalidInstanceID.NotFound")
    status, parsed = await world.root.raw(
        "MonitorInstances", InstanceIds=[basic, "i-0000000000000dead"]
    )
    assert (status, parsed["Error"]["Code"]) == (400, "InvalidInstanceID.NotFound")
    assert await _monitoring(world, basic) == "disabled"
    status, parsed = await world.root.raw("UnmonitorInstances")
    assert (status, parsed["Error"]["Code"]) == (400, "MissingParameter")
    await world.root.call("TerminateInstances", InstanceIds=[basic])
    await world.compute.settle()
    status, parsed = await world.root.raw("MonitorInstances", InstanceIds=[basic])
    assert (status, parsed["Error"]["Code"]) == (400, "IncorrectState")


async def test_a_launch_templates_monitoring(world: World) -> None:
    await world.root.call(
        "CreateLaunchTemplate",
        LaunchTemplateName="watched",
        LaunchTemplateData={
            "ImageId": world.image.image_id,
            "InstanceType": "t3.nano",
            "Monitoring": {"Enabled": True},
        },
    )
    run = await world.root.call(
        "RunInstances", LaunchTemplate={"LaunchTemplateName": "watched"}, MinCount=1, MaxCount=1
    )
    await world.compute.settle()
    assert await _monitoring(world, run["Instances"][0]["InstanceId"]) == "enabled"


async def test_the_hosts_figures_in_aws_ec2_and_aws_ebs(world: World) -> None:
    basic = await _run(world)
    detailed = await _run(world, Monitoring={"Enabled": True})
    metrics = MetricsService(MemoryMetricStore())
    sink = BufferedSink(metrics)
    gathering = InstanceMetrics(world.compute, sink)
    # Two gatherings: two minutes' worth of the memory host's figures per instance.
    assert await gathering.run_once() > 0
    await gathering.run_once()
    await sink.flush()
    now = datetime.now(UTC)
    start, end = now - timedelta(minutes=10), now + timedelta(minutes=10)

    async def stat(
        instance_id: str, name: str, period: int, statistic: str, tenant: str | None = None
    ) -> float | None:
        points = await metrics.get_metric_statistics(
            tenant or world.tenant_id, "AWS/EC2", name, [("InstanceId", instance_id)],
            start, end, period, [statistic], [], None,
        )  # fmt: skip
        if not points:
            return None
        values = [p.statistics[statistic] for p in points]
        # The two gatherings may fall in two periods (a minute's end between them).
        return sum(values) / len(values) if statistic == "Average" else sum(values)

    # The memory host's quarter of the vCPUs, whatever their number.
    assert await stat(detailed, "CPUUtilization", 60, "Average") == 25.0
    assert await stat(detailed, "NetworkIn", 60, "Sum") == 2 * MEMORY_STATS.network_in_bytes
    assert await stat(detailed, "NetworkOut", 300, "Sum") == 2 * MEMORY_STATS.network_out_bytes
    # Basic monitoring: no 1-minute data, 5-minute periods.
    assert await stat(basic, "CPUUtilization", 60, "Average") is None
    assert await stat(basic, "CPUUtilization", 300, "Average") == 25.0
    assert await stat(basic, "NetworkPacketsIn", 300, "Sum") == 20.0
    assert await stat(basic, "StatusCheckFailed", 300, "Maximum") == 0.0
    # Another account sees none of them.
    other, _ = await world.tenant("other")
    assert await stat(detailed, "CPUUtilization", 60, "Average", other) is None
    # Per image and type for the monitored instance only; its root volume in AWS/EBS.
    by_type = await metrics.get_metric_statistics(
        world.tenant_id, "AWS/EC2", "CPUUtilization", [("InstanceType", "t3.nano")],
        start, end, 60, ["SampleCount"], [], None,
    )  # fmt: skip
    assert sum(p.statistics["SampleCount"] for p in by_type) == 2
    [record] = await world.compute.describe_instances(world.tenant_id, [detailed])
    written = await metrics.get_metric_statistics(
        world.tenant_id, "AWS/EBS", "VolumeWriteBytes", [("VolumeId", record.root_volume_id)],
        start, end, 60, ["Sum"], [], None,
    )  # fmt: skip
    assert sum(p.statistics["Sum"] for p in written) == 2 * 8192
    # A stopped instance is measured no more.
    await world.root.call("StopInstances", InstanceIds=[basic, detailed])
    await world.compute.settle()
    assert await gathering.run_once() == 0
