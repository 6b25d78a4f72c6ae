"""The platform's own metrics (decision 0172): the queue store counting sends, receives and
(decision 0181) deletions into ``AWS/SQS`` and the sampler's queue depths and oldest age, over a
migrated SQLite database; the Auto Scaling groups' sizes in ``AWS/AutoScaling`` from the gateway
whose reconciler holds them (the compute service on the memory hypervisor); each in the owning
account only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from andromede.db.database import Database, open_database
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.service import KeyService
from andromede.metrics.model import Series
from andromede.metrics.service import MetricsService
from andromede.metrics.sink import BufferedSink
from andromede.metrics.store import MemoryMetricStore
from andromede.platform_metrics import MeteredQueueStore, PlatformMetrics, QueueActivity
from andromede.queues.model import Queue
from andromede.queues.service import BatchEntry, QueueService
from andromede.queues.store import StoredMessage
from andromede.settings import Settings
from andromede.wiring.queues import KeySealer
from support.autoscalingapp import World, autoscaling_world
from support.schema import migrated_sqlite


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = open_database(migrated_sqlite(tmp_path / "meta.db"))
    yield database
    await database.close()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with autoscaling_world(tmp_path) as created:
        yield created


async def sums(metrics: MetricsService, tenant: str, namespace: str, name: str, dims: str) -> float:
    series = Series.of(tenant, namespace, name, [(dims.split("=")[0], dims.split("=")[1])])
    points = await metrics.store.read(series, [60], 0, 2**40)
    return sum(p.aggregate.total for p in points)


async def test_queue_sends_receives_and_depths(db: Database) -> None:
    # The clock of the test's own run: the store's reads (depths) take the real time.
    now = datetime.now(UTC)
    metrics = MetricsService(MemoryMetricStore())
    sink, activity = BufferedSink(metrics), QueueActivity()
    store = MeteredQueueStore(db, sink, activity)
    await store.create_queue(Queue("t1", "jobs", "eu", {}, now, now), limit=10)
    sent = now - timedelta(seconds=100)
    messages = [
        StoredMessage(f"m{n}", b"sealed", sent, sent, now + timedelta(hours=1)) for n in range(3)
    ]
    await store.send("t1", "jobs", messages)
    got = await store.receive(
        "t1", "jobs", now + timedelta(seconds=1), limit=1,
        visible_until=now + timedelta(minutes=5), receipts=["r"], redrive=None,
        in_flight_limit=100,
    )  # fmt: skip
    assert len(got) == 1
    # Decision 0181: a deletion counts; one by a stale receipt deletes nothing, counts nothing.
    assert await store.delete_message("t1", "jobs", got[0].message_id, "r")
    assert not await store.delete_message("t1", "jobs", got[0].message_id, "r")
    platform = PlatformMetrics(sink, queues=store, activity=activity)
    assert await platform.run_once() == 7  # three counts, four gauges
    assert await sums(metrics, "t1", "AWS/SQS", "NumberOfMessagesSent", "QueueName=jobs") == 3
    assert await sums(metrics, "t1", "AWS/SQS", "NumberOfMessagesReceived", "QueueName=jobs") == 1
    visible = "ApproximateNumberOfMessagesVisible"
    assert await sums(metrics, "t1", "AWS/SQS", visible, "QueueName=jobs") == 2
    assert await sums(metrics, "t2", "AWS/SQS", visible, "QueueName=jobs") == 0
    assert await sums(metrics, "t1", "AWS/SQS", "NumberOfMessagesDeleted", "QueueName=jobs") == 1
    # The two left were sent 100 seconds before the test began.
    age = await sums(metrics, "t1", "AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName=jobs")
    assert 100 <= age < 160
    # Nothing pending: the next round writes the gauges only.
    assert await platform.run_once() == 4


async def test_the_service_tells_empty_receives_and_sent_sizes(
    db: Database, tmp_path: Path
) -> None:
    """Decision 0181: through the real queue service, a receive that found nothing (its wait
    included) is one empty receive, and each stored message's size one sample."""
    metrics = MetricsService(MemoryMetricStore())
    sink, activity = BufferedSink(metrics), QueueActivity()
    store = MeteredQueueStore(db, sink, activity)
    keys = KeyService(LocalKeyFileProvider(tmp_path / "keys"))
    try:
        queues = QueueService(store, KeySealer(keys), region="eu")
        queues.observer = store
        queue = await queues.create_queue("t1", "sized", {})
        assert await queues.receive(queue, max_messages=None, visibility=None, wait=1) == []
        await queues.send_message(queue, "hello", {}, {}, None, "t1")
        entries = [BatchEntry("a", "x" * 10), BatchEntry("b", "y" * 30)]
        assert len((await queues.send_batch(queue, entries, "t1"))[0]) == 2
        assert len(await queues.receive(queue, max_messages=10, visibility=None, wait=0)) == 3
    finally:
        keys.close()
    await sink.flush()
    dims = [("QueueName", "sized")]
    empty = Series.of("t1", "AWS/SQS", "NumberOfEmptyReceives", dims)
    assert [p.aggregate.total for p in await metrics.store.read(empty, [60], 0, 2**40)] == [1.0]
    sizes = Series.of("t1", "AWS/SQS", "SentMessageSize", dims)
    [point] = await metrics.store.read(sizes, [60], 0, 2**40)
    aggregate = point.aggregate
    assert (aggregate.count, aggregate.total, aggregate.minimum, aggregate.maximum) == (
        3.0,
        45.0,
        5.0,
        30.0,
    )
    assert point.unit == "Bytes"


async def test_fifo_sends_and_receives_count_too(db: Database) -> None:
    # The clock of the test's own run: the store's reads (depths) take the real time.
    now = datetime.now(UTC)
    metrics = MetricsService(MemoryMetricStore())
    sink, activity = BufferedSink(metrics), QueueActivity()
    store = MeteredQueueStore(db, sink, activity)
    queue = Queue("t1", "q.fifo", "eu", {"FifoQueue": "true"}, now, now)
    await store.create_queue(queue, limit=10)
    messages = [
        StoredMessage(f"m{n}", b"s", now, now, now + timedelta(hours=1), "g", f"d{n}")
        for n in range(2)
    ]
    await store.send_fifo("t1", "q.fifo", messages, now, now + timedelta(minutes=5))
    got = await store.receive_fifo(
        "t1", "q.fifo", now, limit=10, visible_until=now + timedelta(seconds=30),
        receipts=["r1", "r2"], redrive=None, in_flight_limit=100,
    )  # fmt: skip
    assert len(got) == 2
    await sink.flush()
    dims = "QueueName=q.fifo"
    assert await sums(metrics, "t1", "AWS/SQS", "NumberOfMessagesSent", dims) == 2
    assert await sums(metrics, "t1", "AWS/SQS", "NumberOfMessagesReceived", dims) == 2


async def test_autoscaling_group_sizes_from_the_holding_gateway(world: World) -> None:
    await world.create_group(MinSize=1, MaxSize=4, DesiredCapacity=2)
    await world.converge("gw-1")
    metrics = MetricsService(MemoryMetricStore())
    platform = PlatformMetrics(BufferedSink(metrics), scaling=world.service, owner="gw-1")
    # Decision 0182: a group's metrics only once it collects them, as on AWS.
    assert await platform.run_once() == 0
    await world.root.call(
        "EnableMetricsCollection",
        AutoScalingGroupName="web",
        Granularity="1Minute",
        Metrics=["GroupDesiredCapacity", "GroupInServiceInstances", "GroupMinSize", "GroupMaxSize"],
    )
    elsewhere = PlatformMetrics(BufferedSink(metrics), scaling=world.service, owner="gw-2")
    assert await elsewhere.run_once() == 0  # another gateway's group
    assert await platform.run_once() == 4
    dims = "AutoScalingGroupName=web"
    ns = "AWS/AutoScaling"
    assert await sums(metrics, world.tenant_id, ns, "GroupDesiredCapacity", dims) == 2
    assert await sums(metrics, world.tenant_id, ns, "GroupMinSize", dims) == 1
    assert await sums(metrics, world.tenant_id, ns, "GroupMaxSize", dims) == 4
    members = await world.service.fleet.members(world.tenant_id, "web")
    assert len(members) == 2
    running = sum(m.state == "running" for m in members)
    assert await sums(metrics, world.tenant_id, ns, "GroupInServiceInstances", dims) == running
    listed, _ = await metrics.list_metrics(world.tenant_id, ns, None, [])
    assert len(listed) == 4
    assert (await metrics.list_metrics("someone-else", ns, None, []))[0] == []


async def test_a_warm_pools_instances_are_not_the_groups(world: World) -> None:
    """Decision 0194: the group metrics count the group's own instances, not its pool's."""
    await world.create_group(MinSize=1, MaxSize=3, DesiredCapacity=1)
    await world.root.call("PutWarmPool", AutoScalingGroupName="web")
    for _ in range(3):
        await world.converge("gw-1")
    assert len(await world.service.fleet.members(world.tenant_id, "web")) == 3
    await world.root.call(
        "EnableMetricsCollection",
        AutoScalingGroupName="web",
        Granularity="1Minute",
        Metrics=["GroupTotalInstances"],
    )
    metrics = MetricsService(MemoryMetricStore())
    platform = PlatformMetrics(BufferedSink(metrics), scaling=world.service, owner="gw-1")
    assert await platform.run_once() == 1
    dims = "AutoScalingGroupName=web"
    total = await sums(metrics, world.tenant_id, "AWS/AutoScaling", "GroupTotalInstances", dims)
    assert total == 1


def test_the_s3_storage_metrics_settings(tmp_path: Path) -> None:
    """Decision 0181: the hour is a UTC hour, the interval at most a day."""
    settings = Settings(
        data_dir=tmp_path, s3_storage_metrics_hour=23, s3_storage_metrics_interval=1
    )
    assert (settings.s3_storage_metrics_hour, settings.s3_storage_metrics_interval) == (23, 1)
    assert Settings(data_dir=tmp_path).s3_storage_metrics_interval == 86400
    for bad in ({"s3_storage_metrics_hour": 24}, {"s3_storage_metrics_interval": 0},
                {"s3_storage_metrics_interval": 86401}):  # fmt: skip
        with pytest.raises(ValueError, match="s3_storage_metrics"):
            Settings(data_dir=tmp_path, **bad)  # type: ignore[arg-type]
