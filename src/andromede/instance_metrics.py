"""The instances' CloudWatch metrics (decision 0178): what the hosts measured of their running
guests (:meth:`~andromede.compute.service.ComputeService.measured_instances`), written into
the ``AWS/EC2`` and ``AWS/EBS`` namespaces of the instances' accounts through a
:class:`~andromede.metrics.sink.MetricsSink`. An adapter between the compute and metrics
contexts, which do not import each other.

- ``AWS/EC2`` per ``InstanceId``: ``CPUUtilization`` (Percent), ``NetworkIn``/``NetworkOut``
  (Bytes), ``NetworkPacketsIn``/``Out`` (Count) — not for a guest in user-mode networking,
  which has no tap to read —, ``EBSReadBytes``/``EBSWriteBytes`` (Bytes) and
  ``EBSReadOps``/``EBSWriteOps`` (Count) over its volumes, as EC2 reports EBS traffic of
  Nitro instances, and ``StatusCheckFailed``, ``…_Instance``, ``…_System`` (0: its host
  measured its process running; every minute whatever the monitoring, as AWS's).
  ``DiskReadBytes`` and the other instance-store metrics are
  not published: no instance has an instance store.
- The same but status checks, aggregated per ``AutoScalingGroupName`` (whatever the
  monitoring, as on AWS: what target tracking's ``ASGAverageCPUUtilization`` reads) and, for
  instances with detailed monitoring only (as AWS), per ``ImageId`` and per
  ``InstanceType``.
- ``AWS/EBS`` per ``VolumeId``: ``VolumeReadBytes``/``VolumeWriteBytes`` (Bytes),
  ``VolumeReadOps``/``VolumeWriteOps`` (Count), every minute (as AWS for every volume).

Basic monitoring writes 5-minute periods, detailed monitoring 1-minute ones: a basic
instance's metrics have no 1-minute data, as on AWS. Every value is one host sample: a
period's ``Sum`` of bytes is what crossed in it, its ``Average`` of ``CPUUtilization`` the
mean of its samples.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

from andromede.compute.instance_stats import cpu_percent
from andromede.compute.monitoring import MeasuredInstance
from andromede.compute.service import ComputeService
from andromede.metrics.sink import MetricsSink

__all__ = ["EBS", "EC2", "InstanceMetrics", "PlatformPoint", "instance_points"]

log = logging.getLogger(__name__)

EC2: Final = "AWS/EC2"
EBS: Final = "AWS/EBS"
_BASIC: Final = 300
_DETAILED: Final = 60
_STATUS_CHECKS: Final = (
    "StatusCheckFailed",
    "StatusCheckFailed_Instance",
    "StatusCheckFailed_System",
)


@dataclass(frozen=True, slots=True)
class PlatformPoint:
    """One value for the sink: of the account ``tenant_id``."""

    tenant_id: str
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    value: float
    unit: str
    resolution: int


def instance_points(measured: MeasuredInstance) -> list[PlatformPoint]:
    """The points one measure of one instance makes."""
    instance, stats = measured.instance, measured.stats
    resolution = _DETAILED if instance.monitoring else _BASIC
    values: list[tuple[str, float, str]] = [("CPUUtilization", cpu_percent(stats), "Percent")]
    if stats.network:
        values += [
            ("NetworkIn", float(stats.network_in_bytes), "Bytes"),
            ("NetworkOut", float(stats.network_out_bytes), "Bytes"),
            ("NetworkPacketsIn", float(stats.network_in_packets), "Count"),
            ("NetworkPacketsOut", float(stats.network_out_packets), "Count"),
        ]
    if stats.volumes:
        values += [
            ("EBSReadBytes", float(sum(v.read_bytes for v in stats.volumes)), "Bytes"),
            ("EBSWriteBytes", float(sum(v.write_bytes for v in stats.volumes)), "Bytes"),
            ("EBSReadOps", float(sum(v.read_ops for v in stats.volumes)), "Count"),
            ("EBSWriteOps", float(sum(v.write_ops for v in stats.volumes)), "Count"),
        ]
    groups: list[tuple[tuple[str, str], ...]] = [(("InstanceId", instance.instance_id),)]
    if instance.autoscaling_group:
        groups.append((("AutoScalingGroupName", instance.autoscaling_group),))
    if instance.monitoring:
        groups += [(("ImageId", instance.image_id),), (("InstanceType", instance.instance_type),)]
    tenant = instance.tenant_id
    points = [
        PlatformPoint(tenant, EC2, name, dimensions, value, unit, resolution)
        for dimensions in groups
        for name, value, unit in values
    ]
    # Status checks are every minute whatever the monitoring, as on AWS.
    points += [
        PlatformPoint(tenant, EC2, name, groups[0], 0.0, "Count", _DETAILED)
        for name in _STATUS_CHECKS
    ]
    for volume in stats.volumes:
        dimensions = (("VolumeId", volume.volume_id),)
        points += [
            PlatformPoint(tenant, EBS, name, dimensions, float(value), unit, _DETAILED)
            for name, value, unit in (
                ("VolumeReadBytes", volume.read_bytes, "Bytes"),
                ("VolumeWriteBytes", volume.write_bytes, "Bytes"),
                ("VolumeReadOps", volume.read_ops, "Count"),
                ("VolumeWriteOps", volume.write_ops, "Count"),
            )
        ]
    return points


class InstanceMetrics:
    """Each ``instance_metrics_interval``: the hosts' measures into the sink (written by the
    platform's metrics loop with the other platform metrics)."""

    def __init__(self, compute: ComputeService, sink: MetricsSink) -> None:
        self._compute = compute
        self._sink = sink

    async def run_once(self) -> int:
        """One gathering; the number of points given to the sink."""
        count = 0
        for measured in await self._compute.measured_instances():
            for point in instance_points(measured):
                self._sink.record(
                    point.tenant_id,
                    point.namespace,
                    point.name,
                    point.dimensions,
                    point.value,
                    point.unit,
                    resolution=point.resolution,
                )
                count += 1
        return count
