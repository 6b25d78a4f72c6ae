"""Decision 0360: AWS/Events' metrics apart by Region — in process, EventBridge built as
``serve`` builds it (``wiring.events`` over the SQL store on SQLite) for a deployment of two
Regions, its metrics through the platform's buffered sink into the metrics service, read back
with CloudWatch's API signed for each Region (AWS JSON 1.0). A rule of one name in both
Regions has a series in each; GetMetricData and ListMetrics in one Region see only its own;
what CloudWatch serves in the default Region only is refused by name in the other; a policy
sees the call's Region as ``aws:RequestedRegion``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from andromede.cloudwatchapi.app import CloudWatchApp
from andromede.metrics.service import MetricsService
from andromede.metrics.sink import BufferedSink
from andromede.metrics.store import MemoryMetricStore
from andromede.settings import Settings
from support.json_client import signed_json_post
from support.regional_events import PATTERN, RegionalEvents, region_bound_keys, regional_events

HOME = "eu-fr-1"
OTHER = "eu-de-1"
ENTRY = {"Source": "my.app", "DetailType": "order", "Detail": "{}"}


class Queues:
    """The deliveries' queue-and-topic sink: every message accepted."""

    async def send(self, tenant_id: str, arn: str, message: str, **given: Any) -> None:
        return None


@dataclass
class World(RegionalEvents):
    cloudwatch: CloudWatchApp
    sink: BufferedSink

    async def call(
        self, region: str, action: str, payload: dict[str, Any], *, cloudwatch: bool = False
    ) -> tuple[int, dict[str, Any]]:
        """EventBridge's ``action``, or CloudWatch's (AWS JSON 1.0) where ``cloudwatch``."""
        if not cloudwatch:
            return await super().call(region, action, payload)
        reply = await signed_json_post(
            self.cloudwatch,
            f"GraniteServiceVersion20100801.{action}",
            payload,
            content_type="application/x-amz-json-1.0",
            credentials=self.credentials,
            service="monitoring",
            region=region,
        )
        return reply.status, reply.json()

    async def metrics(self, region: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        status, answer = await self.call(region, action, payload, cloudwatch=True)
        assert status == 200, answer
        return answer

    async def triggered(self, region: str, rule: str) -> float:
        """The sum of the rule's ``TriggeredRules`` over the last hour, read in ``region``."""
        return await self.summed(region, "TriggeredRules", [("RuleName", rule)])

    async def summed(
        self,
        region: str,
        name: str,
        dimensions: list[tuple[str, str]] | None = None,
        stat: str = "Sum",
    ) -> float:
        """The ``stat`` of AWS/Events' ``name`` over the last hour, read in ``region``."""
        now = datetime.now(UTC)
        stat = {
            "Metric": {
                "Namespace": "AWS/Events",
                "MetricName": name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions or []],
            },
            "Period": 3600,
            "Stat": stat,
        }
        answer = await self.metrics(
            region,
            "GetMetricData",
            {
                "MetricDataQueries": [{"Id": "t", "MetricStat": stat}],
                "StartTime": (now - timedelta(hours=1)).timestamp(),
                "EndTime": (now + timedelta(minutes=5)).timestamp(),
            },
        )
        (result,) = answer["MetricDataResults"]
        return float(sum(result["Values"]))


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    settings = Settings(
        data_dir=tmp_path,
        region=HOME,
        regions=[{"name": HOME}, {"name": OTHER}],
        served_regions=(HOME, OTHER),
        events_delivery_retry_base=0.001,
    )
    service = MetricsService(MemoryMetricStore())
    sink = BufferedSink(service)
    async with regional_events(settings, Queues(), metrics=sink) as built:
        cloudwatch = CloudWatchApp(service, built.identity, built.audit, settings)
        yield World(**vars(built), cloudwatch=cloudwatch, sink=sink)


async def test_each_regions_rules_publish_into_its_own_series(world: World) -> None:
    """``orders`` in both Regions: two events matched in eu-de-1, one in eu-fr-1, each
    Region's GetMetricData seeing its own count only, its ListMetrics its own series, and
    the account's ``PutEvents`` metrics each Region's own."""
    queue = {"Id": "q", "Arn": f"arn:aws:sqs:{HOME}:{world.account}:q"}
    bus = {"Id": "b", "Arn": f"arn:aws:events:{HOME}:{world.account}:event-bus/default"}
    await world.ok(HOME, "PutRule", {"Name": "orders", "EventPattern": PATTERN})
    await world.ok(HOME, "PutTargets", {"Rule": "orders", "Targets": [queue]})
    await world.ok(OTHER, "PutRule", {"Name": "orders", "EventPattern": PATTERN})
    await world.ok(OTHER, "PutRule", {"Name": "only-there", "EventPattern": PATTERN})
    role = {"RoleArn": f"arn:aws:iam::{world.account}:role/none"}  # never delivered here
    for rule in ("orders", "only-there"):
        await world.ok(OTHER, "PutTargets", {"Rule": rule, "Targets": [{**bus, **role}]})
    await world.ok(OTHER, "PutEvents", {"Entries": [ENTRY, ENTRY]})
    await world.ok(HOME, "PutEvents", {"Entries": [ENTRY]})
    await world.parts.deliveries.drain()  # eu-de-1's refused at once: no such role
    await world.sink.flush()

    assert await world.triggered(OTHER, "orders") == 2
    assert await world.triggered(HOME, "orders") == 1
    assert await world.triggered(HOME, "only-there") == 0

    def names(answer: dict[str, Any]) -> set[tuple[str, str]]:
        return {
            (m["MetricName"], d["Value"])
            for m in answer["Metrics"]
            for d in m.get("Dimensions", [])
            if d["Name"] == "RuleName"
        }

    listed = await world.metrics(OTHER, "ListMetrics", {"Namespace": "AWS/Events"})
    assert ("TriggeredRules", "only-there") in names(listed)
    home = await world.metrics(HOME, "ListMetrics", {"Namespace": "AWS/Events"})
    assert ("TriggeredRules", "orders") in names(home)
    assert all(rule != "only-there" for _, rule in names(home))
    # The account's own metrics too: each Region's PutEvents counted there.
    for region, entries in ((HOME, 1.0), (OTHER, 2.0)):
        assert await world.summed(region, "PutEventsEntriesCount") == entries
        assert await world.summed(region, "PutEventsApproximateSuccessCount") == 1
    # The deliveries' first attempts: eu-fr-1's one, eu-de-1's two events to two rules.
    latency = "IngestionToInvocationStartLatency"
    for region, deliveries in ((HOME, 1.0), (OTHER, 4.0)):
        assert await world.summed(region, latency, stat="SampleCount") == deliveries


async def test_another_region_serves_metric_data_only(world: World) -> None:
    """An alarm, a dashboard… stay the default Region's: refused by name in another, while
    PutMetricData there keeps its datum apart from the default Region's."""
    status, answer = await world.call(OTHER, "DescribeAlarms", {}, cloudwatch=True)
    assert status == 400, answer
    assert answer["__type"].endswith("InvalidAction"), answer
    assert f"not served in Region {OTHER}" in answer["message"]
    datum = {"MetricName": "m", "Value": 1.0}
    await world.metrics(OTHER, "PutMetricData", {"Namespace": "App", "MetricData": [datum]})
    there = await world.metrics(OTHER, "ListMetrics", {"Namespace": "App"})
    home = await world.metrics(HOME, "ListMetrics", {"Namespace": "App"})
    assert [m["MetricName"] for m in there["Metrics"]] == ["m"]
    assert home["Metrics"] == []


async def test_a_policy_sees_the_metric_calls_region(world: World) -> None:
    """A user allowed ``cloudwatch:ListMetrics`` in the default Region only (by
    ``aws:RequestedRegion``) is refused in the other."""
    keys = await region_bound_keys(world.identity, world.account, "cloudwatch:ListMetrics", HOME)
    dev = replace(world, credentials=keys)
    await dev.metrics(HOME, "ListMetrics", {})
    status, answer = await dev.call(OTHER, "ListMetrics", {}, cloudwatch=True)
    assert status == 403, answer
    assert answer["__type"].endswith("AccessDenied"), answer


@dataclass
class Checks:
    """Route 53's statuses as the endpoints' failover reads them (one left out: healthy)."""

    unhealthy: set[str]

    async def healthy(
        self, tenant_id: str, health_check_ids: Collection[str]
    ) -> Mapping[str, bool]:
        return {c: c not in self.unhealthy for c in health_check_ids}


async def test_a_global_endpoints_put_events_count_where_its_events_went(world: World) -> None:
    """Decision 0366: a PutEvents naming an endpoint is the PutEvents of the Region its health
    check picks — the primary's while healthy, the secondary's after failover — so AWS/Events'
    PutEvents metrics are that Region's. AWS documents no ``EndpointId`` dimension (its
    metrics' dimensions are EventBusName, EventSourceName and RuleName), so none is made."""
    checks = Checks(set())
    world.parts.endpoints.health = checks
    for region in (HOME, OTHER):
        await world.ok(region, "CreateEventBus", {"Name": "orders"})
    check = "0a1b2c3d-4e5f-6789-abcd-ef0123456789"
    buses = [f"arn:aws:events:{r}:{world.account}:event-bus/orders" for r in (HOME, OTHER)]
    await world.ok(HOME, "CreateEndpoint", {
        "Name": "checkout",
        "RoutingConfig": {"FailoverConfig": {
            "Primary": {"HealthCheck": f"arn:aws:route53:::healthcheck/{check}"},
            "Secondary": {"Route": OTHER},
        }},
        "ReplicationConfig": {"State": "DISABLED"},
        "EventBuses": [{"EventBusArn": arn} for arn in buses],
    })  # fmt: skip
    described = await world.ok(HOME, "DescribeEndpoint", {"Name": "checkout"})
    through = {"EndpointId": described["EndpointId"]}
    entry = {**ENTRY, "EventBusName": "orders"}
    await world.ok(HOME, "PutEvents", {**through, "Entries": [entry, entry]})
    checks.unhealthy.add(check)  # failover: the secondary's bus takes them
    await world.ok(HOME, "PutEvents", {**through, "Entries": [entry, entry, entry]})
    await world.sink.flush()

    for region, entries in ((HOME, 2.0), (OTHER, 3.0)):
        assert await world.summed(region, "PutEventsEntriesCount") == entries
        assert await world.summed(region, "PutEventsApproximateCallCount") == 1
        assert await world.summed(region, "PutEventsApproximateSuccessCount") == 1
        assert await world.summed(region, "PutEventsLatency", stat="SampleCount") == 1
        assert await world.summed(region, "PutEventsRequestSize") > 0
        listed = await world.metrics(region, "ListMetrics", {"Namespace": "AWS/Events"})
        names = {d["Name"] for m in listed["Metrics"] for d in m.get("Dimensions", [])}
        assert "EndpointId" not in names
