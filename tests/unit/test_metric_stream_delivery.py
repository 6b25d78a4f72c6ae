"""CloudWatch metric streams into Firehose (decision 0233), end to end in process: the metrics
service's one-minute roll-up read by the deliverer, each selected datapoint one JSON line in
AWS's format, put as the stream's role through a real Firehose service whose deliverer writes
into an in-memory bucket; filters, additional statistics, other accounts; a stopped stream
silent; a gone role refusing without ending the loop or changing the stream's state, counted
into PublishErrorRate and audited; the meter; the minutes claimed once, in order, caught up."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from andromede.audit.model import Outcome
from andromede.db.database import Database
from andromede.metric_stream_delivery import STREAMS_PRINCIPAL, RoleStreamDestination
from andromede.metrics.service import MetricDatum, MetricsService
from andromede.metrics.store import MemoryMetricStore
from andromede.metrics.stream_minutes import (
    MemoryMinuteRuns,
    MetricStreamDeliverer,
    StreamPolicy,
    pack,
)
from andromede.metrics.stream_service import MetricStreamService, StreamLimits
from andromede.metrics.streams import MemoryMetricStreamStore
from andromede.settings import Settings
from andromede.wiring.metric_streams import (
    METRIC_STREAM_UPDATES,
    StreamMetrics,
    metric_stream_service,
    stream_policy,
)
from support.batch_world import read
from support.firehoseapp import REGION, RecordingSink, World, firehose_world

MINUTE0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
TRUST = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": STREAMS_PRINCIPAL},
                   "Action": "sts:AssumeRole"}],
})  # fmt: skip


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Streams:
    fire: World
    metrics: MetricsService
    service: MetricStreamService
    runs: MemoryMinuteRuns
    sink: RecordingSink
    clock: Clock
    firehose_arn: str
    role_arn: str

    def deliverer(self, holder: str = "gw-a") -> MetricStreamDeliverer:
        return MetricStreamDeliverer(
            self.service.store,
            self.metrics.store,
            RoleStreamDestination(self.fire.identity, lambda: self.fire.firehose, REGION),
            self.runs,
            holder=holder,
            region=REGION,
            policy=StreamPolicy(delay=120, catch_up=5, record_bytes=400),
            observer=StreamMetrics(self.sink, self.fire.billing, self.fire.audit, REGION),
            clock=self.clock,
        )

    async def stream(self, name: str = "to-s3", **extra: Any) -> None:
        params = {
            "Name": name,
            "FirehoseArn": self.firehose_arn,
            "RoleArn": self.role_arn,
            "OutputFormat": "json",
        }
        await self.service.put(self.fire.tenant_id, params | extra)

    async def put(
        self, namespace: str, name: str, *values: float, at: int = 10, **more: Any
    ) -> None:
        """Datapoints of ``at`` seconds after MINUTE0, put a second later."""
        self.clock.now = MINUTE0 + timedelta(seconds=at + 1)
        await self.metrics.put_metric_data(
            more.pop("tenant", self.fire.tenant_id),
            namespace,
            [MetricDatum(name, timestamp=MINUTE0 + timedelta(seconds=at), value=v, **more)
             for v in values],
        )  # fmt: skip

    async def landed(self) -> list[dict[str, Any]]:
        """Every line the bucket holds, in order."""
        await self.fire.deliverer.run_pass()
        listing = await self.fire.objects.list_objects("landing", prefix="", max_keys=100)
        lines = []
        for found in sorted(listing.objects, key=lambda o: o.key):
            body = await read(self.fire.objects, "landing", found.key)
            lines += [json.loads(line) for line in body.decode().splitlines()]
        return lines


@pytest.fixture
async def streams(tmp_path: Path) -> AsyncIterator[Streams]:
    async for fire in firehose_world(tmp_path):
        made = await fire.client(
            "CreateDeliveryStream",
            DeliveryStreamName="metrics",
            DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration={
                "RoleARN": await fire.role(),
                "BucketARN": await fire.bucket(),
                "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0},
            },
        )
        await fire.deliverer.run_pass()  # CREATING → ACTIVE
        arn = made["DeliveryStreamARN"]
        allow = {"Effect": "Allow", "Action": "firehose:PutRecordBatch", "Resource": arn}
        put = json.dumps({"Version": "2012-10-17", "Statement": [allow]})
        role = await fire.identity.create_role(fire.tenant_id, "streams", TRUST)
        await fire.identity.put_role_policy(fire.tenant_id, "streams", "put", put)
        clock = Clock(MINUTE0 + timedelta(seconds=30))
        metrics = MetricsService(MemoryMetricStore(), clock=clock)
        service = MetricStreamService(MemoryMetricStreamStore(), REGION, clock=clock)
        yield Streams(
            fire, metrics, service, MemoryMinuteRuns(), RecordingSink(), clock, arn, role.arn
        )


def _after_minute(streams: Streams, minutes: int = 1) -> None:
    """The clock past the minute's end and the delay: the minute is due."""
    streams.clock.now = MINUTE0 + timedelta(minutes=minutes, seconds=121)


async def test_a_minute_lands_as_json_lines_in_awss_format(streams: Streams) -> None:
    await streams.stream(
        IncludeFilters=[{"Namespace": "App"}],
        StatisticsConfigurations=[{
            "IncludeMetrics": [{"Namespace": "App", "MetricName": "Latency"}],
            "AdditionalStatistics": ["p99", "p50"],
        }],
    )  # fmt: skip
    await streams.put(
        "App", "Latency", 10, 20, 30, dimensions=(("Host", "web-1"),), unit="Milliseconds"
    )
    await streams.put(
        "App", "Latency", 40, at=59, dimensions=(("Host", "web-1"),), unit="Milliseconds"
    )
    await streams.put("App", "Errors", 1, unit="Count")
    await streams.put("App", "Errors", 5, at=61, unit="Count")  # the next minute's
    await streams.put("Other", "Ignored", 1)
    other = await streams.fire.identity.create_tenant("other")
    await streams.put("App", "Latency", 99, tenant=other.tenant.id)
    streams.clock.now = MINUTE0 + timedelta(seconds=60 + 119)  # a second before it is due
    assert await streams.deliverer().run_once() == 1  # the minute before: nothing in it
    assert await streams.landed() == []
    _after_minute(streams)
    assert await streams.deliverer().run_once() == 1
    lines = await streams.landed()
    assert [(line["metric_name"], line["value"]["count"]) for line in lines] == [
        ("Errors", 1.0), ("Latency", 4.0)
    ]  # fmt: skip
    errors, latency = lines
    assert latency == {
        "metric_stream_name": "to-s3",
        "account_id": streams.fire.tenant_id,
        "region": REGION,
        "namespace": "App",
        "metric_name": "Latency",
        "dimensions": {"Host": "web-1"},
        "timestamp": int(MINUTE0.timestamp()) * 1000,
        "value": latency["value"],
        "unit": "Milliseconds",
    }
    value = latency["value"]
    assert (value["count"], value["sum"], value["max"], value["min"]) == (4.0, 100.0, 40.0, 10.0)
    assert list(value) == ["count", "sum", "max", "min", "p99", "p50"]
    assert 36 <= value["p99"] <= 40 and 18 <= value["p50"] <= 22
    assert errors["dimensions"] == {} and "p99" not in errors["value"]  # only Latency's
    assert await streams.fire.usage(METRIC_STREAM_UPDATES) == 2
    assert streams.sink.total("MetricUpdate") == 2 and streams.sink.total("PublishErrorRate") == 0
    assert streams.sink.points[0][3] == (("MetricStreamName", "to-s3"),)
    # The next minute: the late Errors datapoint, once.
    _after_minute(streams, 2)
    assert await streams.deliverer().run_once() == 1
    later = [x for x in await streams.landed() if x not in lines]  # the objects' order is not
    assert [(x["metric_name"], x["value"]["sum"], x["timestamp"]) for x in later] == [
        ("Errors", 5.0, (int(MINUTE0.timestamp()) + 60) * 1000)
    ]


async def test_exclude_filters_and_a_stopped_stream(streams: Streams) -> None:
    await streams.stream(
        "all-but-app", ExcludeFilters=[{"Namespace": "App", "MetricNames": ["Noise"]}]
    )
    await streams.stream("stopped")
    await streams.service.set_state(streams.fire.tenant_id, ["stopped"], "stopped")
    await streams.put("App", "Noise", 1)
    await streams.put("App", "Signal", 1)
    await streams.put("Other", "Thing", 1)
    _after_minute(streams)
    await streams.deliverer().run_once()
    lines = await streams.landed()
    assert sorted((x["metric_stream_name"], x["metric_name"]) for x in lines) == [
        ("all-but-app", "Signal"), ("all-but-app", "Thing"),
    ]  # fmt: skip


async def test_a_gone_role_refuses_without_ending_anything(streams: Streams) -> None:
    await streams.stream()
    await streams.fire.identity.delete_role_policy(streams.fire.tenant_id, "streams", "put")
    await streams.fire.identity.delete_role(streams.fire.tenant_id, "streams")
    await streams.put("App", "Signal", 1)
    _after_minute(streams)
    assert await streams.deliverer().run_once() == 1  # the minute is done all the same
    assert await streams.landed() == []
    held = await streams.service.get(streams.fire.tenant_id, "to-s3")
    assert held.state == "running"  # as AWS: the stream keeps its state
    assert streams.sink.total("PublishErrorRate") == 1
    assert await streams.fire.usage(METRIC_STREAM_UPDATES) == 0
    await streams.fire.audit.flush()
    events = [e for _, e in await streams.fire.audit_store.list_events(None, after_id=0, limit=50)]
    [failed] = [e for e in events if e.action == "cloudwatch:MetricStreamDeliveryFailed"]
    assert (failed.outcome, failed.principal) == (Outcome.FAILURE, STREAMS_PRINCIPAL)
    assert failed.resource.endswith(":metric-stream/to-s3")
    assert "cannot assume" in failed.details["error"]


async def test_minutes_sent_once_in_order_and_caught_up(streams: Streams) -> None:
    await streams.stream()
    for minute in range(4):
        await streams.put("App", "Signal", float(minute), at=minute * 60 + 5)
    _after_minute(streams)
    assert await streams.deliverer("gw-a").run_once() == 1
    assert await streams.deliverer("gw-b").run_once() == 0  # done: not sent again
    _after_minute(streams, 4)  # gw-a and gw-b were away for three minutes
    assert await streams.deliverer("gw-b").run_once() == 3
    lines = await streams.landed()  # the bucket's objects in no set order: sorted by time
    sums = [x["value"]["sum"] for x in sorted(lines, key=lambda x: x["timestamp"])]
    assert sums == [0.0, 1.0, 2.0, 3.0]
    # A stream made now does not get the minutes before it.
    streams.clock.now = MINUTE0 + timedelta(minutes=10)
    await streams.stream("late")
    await streams.put("App", "Signal", 9, at=10 * 60 + 1)
    _after_minute(streams, 11)
    await streams.deliverer().run_once()
    late = [x for x in await streams.landed() if x["metric_stream_name"] == "late"]
    assert [x["value"]["sum"] for x in late] == [9.0]


def test_lines_packed_whole_into_records() -> None:
    lines = [b"a" * 150 + b"\n"] * 5 + [b"b" * 500 + b"\n"]
    records = pack(lines, 400)
    assert [len(r) for r in records] == [302, 302, 151, 501]
    assert b"".join(records) == b"".join(lines)


def test_the_limits_are_the_settings(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        metric_streams_max_per_account=7,
        metric_streams_max_filter_names=8,
        metric_streams_max_statistics_metrics=9,
        metric_streams_list_page=10,
        metric_streams_delay=11,
        metric_streams_catch_up=12,
        metric_streams_record_bytes=13,
    )
    service = metric_stream_service(settings, cast(Database, None))  # the store not used here
    assert service.limits == StreamLimits(7, 8, 9, 10)
    assert stream_policy(settings) == StreamPolicy(delay=11, catch_up=12, record_bytes=13)


async def test_a_trust_fenced_to_the_metric_stream_is_assumed_for_it_alone(
    streams: Streams,
) -> None:
    # Decision 0321: CloudWatch assumes the role with the metric stream as aws:SourceArn and
    # its account as aws:SourceAccount.
    account = streams.fire.tenant_id

    def fenced_to(name: str) -> str:
        arn = f"arn:aws:cloudwatch:{REGION}:{account}:metric-stream/{name}"
        condition = {"StringEquals": {"aws:SourceAccount": account, "aws:SourceArn": arn}}
        return json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": STREAMS_PRINCIPAL},
                           "Action": "sts:AssumeRole", "Condition": condition}],
        })  # fmt: skip

    await streams.stream()
    identity = streams.fire.identity
    await identity.update_assume_role_policy(account, "streams", fenced_to("other"))
    await streams.put("App", "Signal", 1)
    _after_minute(streams)
    assert await streams.deliverer().run_once() == 1
    assert await streams.landed() == []
    assert streams.sink.total("PublishErrorRate") == 1
    await identity.update_assume_role_policy(account, "streams", fenced_to("to-s3"))
    await streams.put("App", "Signal", 2, at=61)  # the next minute
    _after_minute(streams, 2)
    assert await streams.deliverer().run_once() == 1
    assert [line["value"]["sum"] for line in await streams.landed()] == [2]
