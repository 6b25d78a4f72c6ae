"""``AWS/NetworkELB`` (decision 0191, session 49) in process: the host counts of a load
balancer's target group per ``LoadBalancer`` and ``TargetGroup`` (and zone), written once a
minute across two gateways into a memory metrics store and read back as
GetMetricStatistics reads them; the routers' flow counters turned into ``NewFlowCount_TCP``
and ``ProcessedBytes_TCP`` per load balancer and zone through the platform's sink; a TLS
listener's terminators' counts into the ``…_TLS`` metrics and the failed handshakes'."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from andromede.db.database import open_database
from andromede.load_balancer_metrics import (
    NETWORK_ELB,
    FlowCounts,
    HostCounts,
    active_values,
    flow_values,
)
from andromede.loadbalancing.model import ForwardingView
from andromede.loadbalancing.tls import TlsSettings
from andromede.metrics.alarm_service import AlarmService
from andromede.metrics.alarm_store import MemoryAlarmStore
from andromede.metrics.alarms import Alarm, AlarmState
from andromede.metrics.runs_sql import SqlMetricRuns
from andromede.metrics.service import MetricsService
from andromede.metrics.sink import BufferedSink
from andromede.metrics.store import MemoryMetricStore
from support.elbapp import ElbWorld, elb_world
from support.schema import migrated_sqlite


async def _listener(world: ElbWorld, targets: int) -> tuple[str, str]:
    """A load balancer forwarding port 80 to a group of ``targets`` instances: the
    dimensions' values net/NAME/ID and targetgroup/NAME/ID."""
    lb = await world.load_balancer()
    group = await world.target_group()
    ids = [await world.instance() for _ in range(targets)]
    await world.client.call(
        "RegisterTargets",
        TargetGroupArn=group["TargetGroupArn"],
        Targets=[{"Id": i} for i in ids],
    )
    await world.client.call(
        "CreateListener",
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="TCP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}],
    )
    # Five successes make the first healthy; two failures the second unhealthy.
    probes = {p.target_id: p for p in await world.service.probes()}
    for _ in range(5):
        await world.service.record_probe(probes[ids[0]], True, timed_out=False)
    for _ in range(2):
        await world.service.record_probe(probes[ids[1]], False, timed_out=True)
    lb_arn, tg_arn = lb["LoadBalancerArn"], group["TargetGroupArn"]
    return lb_arn.split(":loadbalancer/", 1)[1], tg_arn.split(":", 5)[5]


async def test_host_counts_once_a_minute_across_gateways(tmp_path: Path) -> None:
    async with elb_world(tmp_path) as world:
        lb_name, tg_name = await _listener(world, targets=3)
        assert lb_name.startswith("net/web/") and tg_name.startswith("targetgroup/web/")
        db = open_database(migrated_sqlite(tmp_path / "meta.db"))
        try:
            metrics = MetricsService(MemoryMetricStore())
            one = HostCounts(metrics, SqlMetricRuns(db), "g1")
            two = HostCounts(metrics, SqlMetricRuns(db), "g2")
            # A minute's first second: ``now + 1`` must stay in the same minute (a run at a
            # minute's last second read the next minute as not yet tried, once in sixty).
            now = int(datetime.now(UTC).timestamp()) // 60 * 60
            counts = await world.service.health_counts()
            # All zones and the one zone: two series a metric.
            assert await one.run_once(now, counts) == 4
            assert await two.run_once(now, counts) is None  # the minute is g1's
            assert await one.run_once(now + 1, counts) is None  # tried this minute already
            assert await two.run_once(now + 60, counts) == 4  # the next minute, g2 first
        finally:
            await db.close()

        async def stat(name: str, statistic: str, *zone: tuple[str, str]) -> list[float]:
            points = await metrics.get_metric_statistics(
                world.tenant_id, NETWORK_ELB, name,
                [("LoadBalancer", lb_name), ("TargetGroup", tg_name), *zone],
                datetime.fromtimestamp(now - 120, UTC), datetime.fromtimestamp(now + 180, UTC),
                60, [statistic], [], None,
            )  # fmt: skip
            return [p.statistics[statistic] for p in points]

        assert await stat("HealthyHostCount", "Average") == [1.0, 1.0]
        assert await stat("UnHealthyHostCount", "Maximum") == [1.0, 1.0]
        assert await stat("HealthyHostCount", "SampleCount") == [1.0, 1.0]  # once a minute
        zone = ("AvailabilityZone", "eu-fr-1a")
        assert await stat("UnHealthyHostCount", "Minimum", zone) == [1.0, 1.0]
        other = await metrics.get_metric_statistics(
            "someone-else", NETWORK_ELB, "HealthyHostCount",
            [("LoadBalancer", lb_name), ("TargetGroup", tg_name)],
            datetime.fromtimestamp(now - 120, UTC), datetime.fromtimestamp(now + 180, UTC),
            60, ["Average"], [], None,
        )  # fmt: skip
        assert other == []  # the load balancer's account's only
        # An alarm on UnHealthyHostCount (AWS's usual one) reads it and goes into ALARM.
        minute = now - now % 60
        alarms, at = MemoryAlarmStore(), [minute + 1]
        evaluator = AlarmService(
            alarms, metrics, "eu-fr-1", clock=lambda: datetime.fromtimestamp(at[0], UTC)
        )
        await evaluator.put_alarm(
            Alarm(
                tenant_id=world.tenant_id,
                name="unhealthy",
                namespace=NETWORK_ELB,
                metric_name="UnHealthyHostCount",
                dimensions=(("LoadBalancer", lb_name), ("TargetGroup", tg_name)),
                period=60,
                evaluation_periods=1,
                datapoints_to_alarm=1,
                threshold=0.0,
                comparison="GreaterThanThreshold",
                statistic="Maximum",
            )
        )
        at[0] = minute + 61  # the minute ended: the alarm is due
        assert await evaluator.evaluate_due() == 1
        [held] = await alarms.alarms(world.tenant_id)
        assert held.state is AlarmState.ALARM


async def test_flow_counters_become_flow_and_byte_metrics(tmp_path: Path) -> None:
    async with elb_world(tmp_path) as world:
        lb_name, _ = await _listener(world, targets=2)
        (view,) = await world.service.forwarding_views()
        (address,) = view.addresses
        metrics = MetricsService(MemoryMetricStore())
        sink = BufferedSink(metrics)
        flows = FlowCounts(sink)
        key = (view.vpc_id, address, 80, "tcp")
        assert flows.record("h1", [view], {key: (7, 700, 0, 0)}) == 0  # a counter's first read
        # 4 metrics, 2 dimension sets
        assert flows.record("h1", [view], {key: (10, 1000, 0, 0)}) == 8
        assert flows.record("h2", [view], {key: (2, 50, 0, 0)}) == 0  # another host's first read
        assert flows.record("h2", [view], {key: (5, 80, 0, 0)}) == 8
        assert flows.record("h2", [view], {key: (5, 80, 0, 0)}) == 0  # nothing new
        # A counter gone (its listener deleted) is forgotten: back, it is a first read again.
        assert flows.record("h2", [view], {}) == 0
        assert flows.record("h2", [view], {key: (1, 10, 0, 0)}) == 0
        await sink.flush()
        now = datetime.now(UTC)

        async def total(name: str, *zone: tuple[str, str]) -> float:
            points = await metrics.get_metric_statistics(
                world.tenant_id, NETWORK_ELB, name, [("LoadBalancer", lb_name), *zone],
                now - timedelta(minutes=5), now + timedelta(minutes=5), 60, ["Sum"], [], None,
            )  # fmt: skip
            return sum(p.statistics["Sum"] for p in points)

        assert await total("NewFlowCount_TCP") == 3 + 3
        assert await total("NewFlowCount") == 6
        assert await total("ProcessedBytes_TCP") == 300 + 30
        assert await total("ProcessedBytes", ("AvailabilityZone", "eu-fr-1a")) == 330


def test_udp_flows_and_active_flows_per_transport_and_in_all() -> None:
    """Session 50: a TCP_UDP listener's counters per transport give ``…_TCP``, ``…_UDP`` and
    totals of both; the tracked flows give ``ActiveFlowCount`` (0 a value too) per transport
    and in all, per load balancer and zone."""
    view = ForwardingView(
        "l1", "vpc-1", ("10.0.1.200", "10.0.2.200"), 53, (("10.0.2.11", 53),),
        zones=(("10.0.1.200", "eu-fr-1a"), ("10.0.2.200", "eu-fr-1b")),
        tenant_id="111111111111", lb_dimension="net/dns/0123", protocols=("tcp", "udp"),
    )  # fmt: skip
    deltas = {
        ("vpc-1", "10.0.1.200", 53, "tcp"): (2, 200, 0, 0),
        ("vpc-1", "10.0.1.200", 53, "udp"): (5, 500, 0, 0),
        ("vpc-1", "10.0.2.200", 53, "udp"): (1, 64, 0, 0),
    }
    lb = (("LoadBalancer", "net/dns/0123"),)
    zone_a = (("AvailabilityZone", "eu-fr-1a"), ("LoadBalancer", "net/dns/0123"))
    values = {(v.name, v.dimensions): v.value for v in flow_values([view], deltas)}
    assert values[("NewFlowCount_TCP", lb)] == 2
    assert values[("NewFlowCount_UDP", lb)] == 6
    assert values[("NewFlowCount", lb)] == 8
    assert values[("ProcessedBytes_UDP", zone_a)] == 500
    assert values[("ProcessedBytes", lb)] == 764
    active = {
        ("vpc-1", "10.0.1.200", 53, "tcp"): 3,
        ("vpc-1", "10.0.1.200", 53, "udp"): 4,
        ("vpc-1", "10.0.2.200", 53, "udp"): 0,
    }
    gauges = {(v.name, v.dimensions): v.value for v in active_values([view], active)}
    assert gauges[("ActiveFlowCount_TCP", lb)] == 3
    assert gauges[("ActiveFlowCount_UDP", lb)] == 4
    assert gauges[("ActiveFlowCount", lb)] == 7
    zone_b = (("AvailabilityZone", "eu-fr-1b"), ("LoadBalancer", "net/dns/0123"))
    assert gauges[("ActiveFlowCount_UDP", zone_b)] == 0  # tracked by a router here, none open
    assert ("ActiveFlowCount_TCP", zone_b) not in gauges  # no router here named it
    assert active_values([view], {}) == []


def test_a_tls_listener_s_counts_are_its_tls_metrics() -> None:
    """Decision 0210, session 51 later: a TLS listener's counts (transport ``tls``) give
    ``NewFlowCount_TLS``, ``ProcessedBytes_TLS``, ``ActiveFlowCount_TLS`` — in the totals
    too —, and ``ClientTLSNegotiationErrorCount``/``TargetTLSNegotiationErrorCount`` only
    when handshakes failed; none of its TCP metrics."""
    view = ForwardingView(
        "l1", "vpc-1", ("10.0.1.200",), 443, (("10.0.2.11", 80),),
        zones=(("10.0.1.200", "eu-fr-1a"),), tenant_id="111111111111",
        lb_dimension="net/web/0123", tls=TlsSettings(("arn:aws:iam::1:server-certificate/a",)),
    )  # fmt: skip
    lb = (("LoadBalancer", "net/web/0123"),)
    zone = (("AvailabilityZone", "eu-fr-1a"), ("LoadBalancer", "net/web/0123"))
    key = ("vpc-1", "10.0.1.200", 443, "tls")
    values = {(v.name, v.dimensions): v.value for v in flow_values([view], {key: (4, 900, 1, 2)})}
    assert values[("NewFlowCount_TLS", lb)] == values[("NewFlowCount", zone)] == 4
    assert values[("ProcessedBytes_TLS", zone)] == values[("ProcessedBytes", lb)] == 900
    assert values[("ClientTLSNegotiationErrorCount", lb)] == 1
    assert values[("TargetTLSNegotiationErrorCount", zone)] == 2
    assert not any(name.endswith("_TCP") for name, _ in values)
    # No failed handshake: those two are not given (AWS reports them when not 0).
    quiet = {v.name for v in flow_values([view], {key: (1, 10, 0, 0)})}
    assert quiet == {"NewFlowCount_TLS", "NewFlowCount", "ProcessedBytes_TLS", "ProcessedBytes"}
    # A failed handshake alone (a flow counted earlier) is still given.
    assert {v.name for v in flow_values([view], {key: (0, 0, 1, 0)})} >= {
        "ClientTLSNegotiationErrorCount"
    }
    # The routers' TCP counts of the listener's port are not its (its flows are the
    # terminators').
    assert flow_values([view], {("vpc-1", "10.0.1.200", 443, "tcp"): (3, 30, 0, 0)}) == []
    gauges = {(v.name, v.dimensions): v.value for v in active_values([view], {key: 2})}
    assert gauges == {
        ("ActiveFlowCount", lb): 2, ("ActiveFlowCount_TLS", lb): 2,
        ("ActiveFlowCount", zone): 2, ("ActiveFlowCount_TLS", zone): 2,
    }  # fmt: skip
