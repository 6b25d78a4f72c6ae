"""The platform's own CloudWatch metrics (decision 0172): what the queues and the Auto Scaling
groups report into the ``AWS/SQS`` and ``AWS/AutoScaling`` namespaces of the account they
belong to, through a :class:`~andromede.metrics.sink.MetricsSink`. An adapter between bounded
contexts, which do not import each other.

- ``AWS/SQS`` (dimension ``QueueName``): ``NumberOfMessagesSent``,
  ``NumberOfMessagesReceived`` and (decision 0181) ``NumberOfMessagesDeleted`` counted as the
  queue store takes, hands out and deletes messages (:class:`MeteredQueueStore`: S3 events
  and SNS deliveries into a queue count as sends, as on AWS); (0181) ``NumberOfEmptyReceives``
  and ``SentMessageSize`` as the queue service tells it (its ``QueueObserver``);
  ``ApproximateNumberOfMessagesVisible``, ``…NotVisible``, ``…Delayed`` and (0181)
  ``ApproximateAgeOfOldestMessage`` sampled each interval for the queues this gateway saw
  active in the last six hours (AWS reports a queue's metrics while it is active, six hours
  after its last use). Another Region's queues (decision 0414), kept under their stored
  names ``~<region>~<name>``, report under their own names in that Region's series
  (``<account>~<region>``, decision 0360).
- ``AWS/AutoScaling`` (dimension ``AutoScalingGroupName``): the group metrics each group
  collects (EnableMetricsCollection, decision 0182: none until it is asked, as on AWS) of
  the groups this gateway's reconciler holds (so that two gateways do not both report one
  group).
- ``AWS/NATGateway`` (dimension ``NatGatewayId``, decision 0181): ``BytesOutToDestination``
  and ``BytesInFromSource`` (what the gateway sent on: the same bytes, as its router counts
  them once translated), ``BytesInFromDestination`` and ``BytesOutToSource`` (the replies),
  from the hosts' meters each flow-log pass (:func:`nat_gateway_metrics`).

``AWS/EC2`` and ``AWS/EBS`` (the instances' CPU, network and disks, from the hosts' counters)
are :mod:`andromede.instance_metrics`' (decision 0178); ``AWS/S3`` storage metrics
:mod:`andromede.storage_metrics`' (decision 0181).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from andromede.autoscaling.service import AutoScalingService
from andromede.compute.traffic import GatewayBytes
from andromede.db.database import Database
from andromede.metrics.regions import series_owner
from andromede.metrics.sink import BufferedSink, MetricsSink
from andromede.queues.store import ReceivedMessage, StoredMessage
from andromede.queues.store_sql import SqlQueueStore
from andromede.regional_names import region_of_stored

__all__ = [
    "MeteredQueueStore",
    "PlatformMetrics",
    "QueueActivity",
    "nat_gateway_metrics",
    "queue_series",
]

SQS: Final = "AWS/SQS"
AUTOSCALING: Final = "AWS/AutoScaling"
NATGATEWAY: Final = "AWS/NATGateway"
# AWS reports a queue's metrics for six hours after it was last active.
_ACTIVE_FOR: Final = 6 * 3600.0


def nat_gateway_metrics(
    sink: MetricsSink,
) -> Callable[[Mapping[tuple[str, str], GatewayBytes]], None]:
    """What the flow-log pass calls with each NAT gateway's bytes of the pass, per (tenant,
    gateway id): its four byte metrics, into the current minute."""

    def record(found: Mapping[tuple[str, str], GatewayBytes]) -> None:
        for (tenant_id, gateway_id), moved in sorted(found.items()):
            dims = [("NatGatewayId", gateway_id)]
            for metric, value in (
                ("BytesOutToDestination", moved.out),
                ("BytesInFromSource", moved.out),
                ("BytesInFromDestination", moved.back),
                ("BytesOutToSource", moved.back),
            ):
                sink.record(tenant_id, NATGATEWAY, metric, dims, float(value), "Bytes")

    return record


class QueueActivity:
    """The queues this gateway sent to or received from lately, by (account, queue)."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], float] = {}

    def touch(self, tenant_id: str, name: str) -> None:
        self._seen[(tenant_id, name)] = time.monotonic()

    def active(self) -> list[tuple[str, str]]:
        since = time.monotonic() - _ACTIVE_FOR
        for key in [key for key, at in self._seen.items() if at < since]:
            del self._seen[key]
        return sorted(self._seen)


def queue_series(tenant_id: str, stored: str) -> tuple[str, str]:
    """(series owner, QueueName) of the queue the store keeps as ``stored``: another
    Region's under that Region's owner and its own name (decisions 0360, 0414)."""
    region = region_of_stored(stored)
    if region is None:
        return tenant_id, stored
    return series_owner(tenant_id, region, ""), stored.removeprefix(f"~{region}~")


class MeteredQueueStore(SqlQueueStore):
    """The SQL queue store, counting the messages it takes and hands out into the sink."""

    def __init__(self, db: Database, sink: MetricsSink, activity: QueueActivity) -> None:
        super().__init__(db)
        self._sink = sink
        self._activity = activity

    def _count(self, tenant_id: str, name: str, metric: str, n: int) -> None:
        self._activity.touch(tenant_id, name)
        owner, own = queue_series(tenant_id, name)
        self._sink.record(owner, SQS, metric, [("QueueName", own)], float(n), "Count")

    async def send(self, tenant_id: str, name: str, messages: Sequence[StoredMessage]) -> None:
        await super().send(tenant_id, name, messages)
        self._count(tenant_id, name, "NumberOfMessagesSent", len(messages))

    async def send_fifo(
        self,
        tenant_id: str,
        name: str,
        messages: Sequence[StoredMessage],
        *args: Any,
        **options: Any,
    ) -> list[tuple[str, int]]:
        # The FIFO path's other arguments (times, deduplication) pass through as they are.
        kept = await super().send_fifo(tenant_id, name, messages, *args, **options)
        self._count(tenant_id, name, "NumberOfMessagesSent", len(messages))
        return kept

    def empty_receive(self, tenant_id: str, name: str) -> None:
        # The service's word (it sees the call's outcome, a long poll's many looks included).
        self._count(tenant_id, name, "NumberOfEmptyReceives", 1)

    def sent_sizes(self, tenant_id: str, name: str, sizes: Sequence[int]) -> None:
        self._activity.touch(tenant_id, name)
        owner, own = queue_series(tenant_id, name)
        for size in sizes:  # one sample each: SentMessageSize's Average, Minimum, Maximum
            self._sink.record(
                owner, SQS, "SentMessageSize", [("QueueName", own)], float(size), "Bytes"
            )

    async def delete_message(
        self, tenant_id: str, name: str, message_id: str, receipt: str
    ) -> bool:
        deleted = await super().delete_message(tenant_id, name, message_id, receipt)
        if deleted:  # a stale receipt deletes nothing, and AWS counts only what it deleted
            self._count(tenant_id, name, "NumberOfMessagesDeleted", 1)
        return deleted

    async def receive(
        self, tenant_id: str, name: str, now: datetime, **options: Any
    ) -> list[ReceivedMessage]:
        got = await super().receive(tenant_id, name, now, **options)
        self._count(tenant_id, name, "NumberOfMessagesReceived", len(got))
        return got

    async def receive_fifo(
        self, tenant_id: str, name: str, now: datetime, **options: Any
    ) -> list[ReceivedMessage]:
        got = await super().receive_fifo(tenant_id, name, now, **options)
        self._count(tenant_id, name, "NumberOfMessagesReceived", len(got))
        return got


class PlatformMetrics:
    """Each interval: the gauges sampled into the sink, then the sink written."""

    def __init__(
        self,
        sink: BufferedSink,
        *,
        queues: SqlQueueStore | None = None,
        activity: QueueActivity | None = None,
        scaling: AutoScalingService | None = None,
        owner: str | None = None,
    ) -> None:
        self._sink = sink
        self._queues = queues
        self._activity = activity
        self._scaling = scaling
        # The reconciler's owner name: the groups it holds are this gateway's to report.
        self._owner = owner

    async def run_once(self) -> int:
        """One sampling; the number of points written."""
        await self._sample_queues()
        await self._sample_groups()
        return await self._sink.flush()

    async def _sample_queues(self) -> None:
        if self._queues is None or self._activity is None:
            return
        for tenant_id, name in self._activity.active():
            now = datetime.now(UTC)
            counts = await self._queues.counts(tenant_id, name, now)
            tenant_id, own = queue_series(tenant_id, name)
            dims = [("QueueName", own)]
            # An empty queue's oldest message is none: 0 seconds, as AWS shows it.
            age = 0.0 if counts.oldest is None else (now - counts.oldest).total_seconds()
            self._sink.record(
                tenant_id, SQS, "ApproximateAgeOfOldestMessage", dims, max(age, 0.0), "Seconds"
            )
            for metric, value in (
                ("ApproximateNumberOfMessagesVisible", counts.visible),
                ("ApproximateNumberOfMessagesNotVisible", counts.in_flight),
                ("ApproximateNumberOfMessagesDelayed", counts.delayed),
            ):
                self._sink.record(tenant_id, SQS, metric, dims, float(value), "Count")

    async def _sample_groups(self) -> None:
        if self._scaling is None:
            return
        for group in await self._scaling.store.groups(None):
            if self._owner is not None and group.claimed_by != self._owner:
                continue
            # Only the metrics the group collects (EnableMetricsCollection, decision 0182).
            if not group.enabled_metrics:
                continue
            members = [
                m
                for m in await self._scaling.fleet.members(group.tenant_id, group.name)
                if m.instance_id not in group.warmed  # a warm pool's are not the group's (0194)
            ]
            standby = [m for m in members if m.instance_id in group.standby]
            counted = [m for m in members if m.instance_id not in group.standby]
            dims = [("AutoScalingGroupName", group.name)]
            values = {
                "GroupDesiredCapacity": group.desired_capacity,
                "GroupInServiceInstances": sum(m.state == "running" for m in counted),
                "GroupMinSize": group.min_size,
                "GroupMaxSize": group.max_size,
                "GroupPendingInstances": sum(m.state == "pending" for m in counted),
                "GroupStandbyInstances": len(standby),
                "GroupTerminatingInstances": sum(m.state == "shutting-down" for m in counted),
                "GroupTotalInstances": len(members),
            }
            for metric in group.enabled_metrics:
                self._sink.record(group.tenant_id, AUTOSCALING, metric, dims, float(values[metric]))
