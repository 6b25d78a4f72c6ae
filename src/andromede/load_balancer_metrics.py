"""Network Load Balancers' CloudWatch metrics (session 49's addendum to decision 0191), in the
``AWS/NetworkELB`` namespace of each load balancer's account. An adapter between the load
balancing and metrics contexts, which do not import each other.

- ``HealthyHostCount`` and ``UnHealthyHostCount`` (Count) per ``LoadBalancer`` and
  ``TargetGroup``, and per ``AvailabilityZone`` of the targets as well, from the health the
  checker recorded in the target groups' documents: once a minute across every gateway — the
  minute is claimed in ``metric_runs`` (decision 0181's claims), so the gateway that claims it
  writes it and no other does —, one value a minute, at the minute's start.
- ``NewFlowCount_TCP``/``_UDP``/``NewFlowCount`` (Count) and ``ProcessedBytes_TCP``/``_UDP``/
  ``ProcessedBytes`` (Bytes) per ``LoadBalancer`` and per ``AvailabilityZone`` and
  ``LoadBalancer``: what the routers' counters on each node address counted since the last
  read, given to the platform's sink (summed across routers and hosts, each counting the
  flows it translated).
- ``ActiveFlowCount``, ``ActiveFlowCount_TCP`` and ``ActiveFlowCount_UDP`` (Count, session
  50), the same dimensions: the flows the routers' connection tracking holds for each
  listener at each round, one sample per round and host (a host's routers summed; with
  several hosts, each host's value is a sample of its own, not added to the others').
- A TLS listener's (decision 0210, session 51 later): ``NewFlowCount_TLS``,
  ``ProcessedBytes_TLS`` and ``ActiveFlowCount_TLS`` — counted in the totals as the other
  transports' —, ``ClientTLSNegotiationErrorCount`` and ``TargetTLSNegotiationErrorCount``
  (Count, given when not 0, as AWS reports them), the same dimensions, from the hosts' TLS
  terminators' counts (transport ``tls``), read and summed as the routers' counters.
- Application Load Balancers' (decision 0216), in ``AWS/ApplicationELB``: the host counts as
  above (``LoadBalancer`` ``app/NAME/ID``), and from the hosts' HTTP proxies, each report
  carrying what they answered since the previous one: ``RequestCount``,
  ``HTTPCode_ELB_3XX_Count``/``4XX``/``5XX`` and ``HTTPCode_ELB_500``/``502``/``503``/
  ``504_Count``, ``HTTPCode_Target_2XX_Count`` … ``5XX`` (Count, given when not 0, AWS's
  reporting criterion) and ``TargetResponseTime`` (Seconds, the report's mean: its Average
  is the mean of the hosts' reports' means, not of every request's), per ``LoadBalancer``
  and per ``AvailabilityZone`` and ``LoadBalancer``; decision 0287:
  ``ClientTLSNegotiationErrorCount`` (an HTTPS listener's failed handshakes and refused
  client certificates) and ``DesyncMitigationMode_NonCompliant_Request_Count``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from andromede.compute.driver_balancing import RequestCounter
from andromede.loadbalancing.health_counts import HealthCount
from andromede.loadbalancing.model import ForwardingView
from andromede.metrics.model import Aggregate, Series
from andromede.metrics.runs_sql import SqlMetricRuns
from andromede.metrics.service import MetricsService
from andromede.metrics.sink import MetricsSink
from andromede.metrics.store import Point

__all__ = [
    "APPLICATION_ELB",
    "NETWORK_ELB",
    "FlowCounts",
    "FlowTally",
    "HostCounts",
    "active_values",
    "flow_values",
    "health_points",
    "request_values",
]

log = logging.getLogger(__name__)

NETWORK_ELB: Final = "AWS/NetworkELB"
APPLICATION_ELB: Final = "AWS/ApplicationELB"
_MINUTE: Final = 60
_JOB: Final = "elb-host-counts"


def health_points(counts: Sequence[HealthCount], minute: int) -> list[Point]:
    """The host counts' points for the minute starting at ``minute`` (epoch seconds)."""
    points = []
    for count in counts:
        dimensions = [("LoadBalancer", count.load_balancer), ("TargetGroup", count.target_group)]
        if count.zone:
            dimensions.append(("AvailabilityZone", count.zone))
        for name, value in (
            ("HealthyHostCount", count.healthy),
            ("UnHealthyHostCount", count.unhealthy),
        ):
            namespace = APPLICATION_ELB if count.load_balancer.startswith("app/") else NETWORK_ELB
            series = Series.of(count.tenant_id, namespace, name, dimensions)
            aggregate = Aggregate.of_values([(float(value), 1.0)])
            points.append(Point(series, _MINUTE, minute, "Count", aggregate))
    return points


class HostCounts:
    """Writes the host counts once a minute across the gateways sharing ``runs``."""

    def __init__(self, metrics: MetricsService, runs: SqlMetricRuns, holder: str) -> None:
        self._metrics = metrics
        self._runs = runs
        self._holder = holder
        self._tried = -1  # the last minute this gateway tried to claim

    async def run_once(self, now: int, counts: Sequence[HealthCount]) -> int | None:
        """This minute's counts written if this gateway claims it first: the number of
        points; None when tried already, or another gateway has it or did it."""
        minute = now - now % _MINUTE
        if minute == self._tried or not counts:
            return None  # no listener anywhere: the minute left to a gateway that sees one
        self._tried = minute
        # A claim holds one minute: a gateway that died before writing leaves no other the
        # minute (a host count is a sample; the next minute has its own).
        if not await self._runs.claim(_JOB, minute // _MINUTE, self._holder, now, _MINUTE):
            return None
        points = health_points(counts, minute)
        if points:
            await self._metrics.put_platform(points)
        await self._runs.done(_JOB, minute // _MINUTE, self._holder)
        return len(points)


# What a host counted on a listener's node address and transport: new flows, bytes, and a TLS
# listener's handshakes failed with clients and with targets.
FlowTally = tuple[int, int, int, int]
# (VPC, node address, port, transport) → what a host counted, as it read it: only grows.
Counters = Mapping[tuple[str, str, int, str], FlowTally]
# (VPC, node address, port, transport) → the flows a host's routers track now.
Active = Mapping[tuple[str, str, int, str], int]


@dataclass(frozen=True, slots=True)
class FlowValue:
    tenant_id: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    value: float
    unit: str


def _dimensions(view: ForwardingView, address: str) -> list[tuple[tuple[str, str], ...]]:
    """The load balancer's, and its node's zone and the load balancer's when known."""
    zone = dict(view.zones).get(address, "")
    found: list[tuple[tuple[str, str], ...]] = [(("LoadBalancer", view.lb_dimension),)]
    if zone:
        found.append((("AvailabilityZone", zone), ("LoadBalancer", view.lb_dimension)))
    return found


def _transports(view: ForwardingView) -> tuple[str, ...]:
    """What a listener's counts are kept by: ``tls`` for a TLS listener (its terminators'),
    its transports else."""
    return ("tls",) if view.tls is not None else view.protocols


def _summed(
    views: Sequence[ForwardingView],
    per_node: Callable[[ForwardingView, str, str], list[tuple[str, str, float]] | None],
) -> list[FlowValue]:
    """The values ``per_node`` gives of each view's node address and transport — (metric,
    unit, value), None for none — summed per account, metric and dimensions."""
    totals: dict[tuple[str, tuple[tuple[str, str], ...], str, str], float] = {}
    for view in views:
        for address in view.addresses:
            for transport in _transports(view):
                values = per_node(view, address, transport)
                if values is None:
                    continue
                for dimensions in _dimensions(view, address):
                    for name, unit, value in values:
                        key = (view.tenant_id, dimensions, name, unit)
                        totals[key] = totals.get(key, 0.0) + value
    return [
        FlowValue(tenant, name, dimensions, value, unit)
        for (tenant, dimensions, name, unit), value in sorted(totals.items())
    ]


def flow_values(views: Sequence[ForwardingView], deltas: Counters) -> list[FlowValue]:
    """The flow metrics of what the counters counted (``deltas``: since the last read), per
    load balancer and per zone of the node, per transport (``…_TCP``, ``…_UDP``, ``…_TLS``)
    and in all (``NewFlowCount``, ``ProcessedBytes``: session 50, UDP's and TLS's included);
    a TLS listener's failed handshakes when there were some; a listener of none counted,
    nothing."""

    def per_node(
        view: ForwardingView, address: str, transport: str
    ) -> list[tuple[str, str, float]] | None:
        key = (view.vpc_id, address, view.port, transport)
        flows, processed, client_errors, target_errors = deltas.get(key, (0, 0, 0, 0))
        if not (flows or processed or client_errors or target_errors):
            return None
        suffix = transport.upper()
        values: list[tuple[str, str, float]] = [
            (f"NewFlowCount_{suffix}", "Count", flows),
            ("NewFlowCount", "Count", flows),
            (f"ProcessedBytes_{suffix}", "Bytes", processed),
            ("ProcessedBytes", "Bytes", processed),
        ]
        if client_errors:
            values.append(("ClientTLSNegotiationErrorCount", "Count", client_errors))
        if target_errors:
            values.append(("TargetTLSNegotiationErrorCount", "Count", target_errors))
        return values

    return _summed(views, per_node)


def active_values(views: Sequence[ForwardingView], active: Active) -> list[FlowValue]:
    """``ActiveFlowCount``, ``ActiveFlowCount_TCP``, ``_UDP`` (session 50) and ``_TLS``:
    the flows tracked now, per load balancer and per zone of the node, for the listeners
    ``active`` names (a router here holds them; 0 counted as a value, a gauge's sample)."""

    def per_node(
        view: ForwardingView, address: str, transport: str
    ) -> list[tuple[str, str, float]] | None:
        count = active.get((view.vpc_id, address, view.port, transport))
        if count is None:
            return None
        values = [("ActiveFlowCount", "Count", float(count))]
        values.append((f"ActiveFlowCount_{transport.upper()}", "Count", float(count)))
        return values

    return _summed(views, per_node)


def request_values(
    views: Sequence[ForwardingView], requests: Sequence[RequestCounter]
) -> list[FlowValue]:
    """``AWS/ApplicationELB``'s request metrics of one report's counts (decision 0216)."""
    found: list[FlowValue] = []
    for counter in requests:
        view = next(
            (
                v
                for v in views
                if v.http is not None
                and (v.vpc_id, v.port) == (counter.vpc_id, counter.port)
                and counter.address in v.addresses
            ),
            None,
        )
        if view is None or not (counter.requests or counter.client_tls_errors):
            continue
        values: list[tuple[str, str, float]] = [("RequestCount", "Count", counter.requests)]
        for label, count in zip(("3XX", "4XX", "5XX"), counter.elb[1:], strict=True):
            values.append((f"HTTPCode_ELB_{label}_Count", "Count", count))
        for code, count in zip(("500", "502", "503", "504"), counter.elb_5xx, strict=True):
            values.append((f"HTTPCode_ELB_{code}_Count", "Count", count))
        for label, count in zip(("2XX", "3XX", "4XX", "5XX"), counter.target, strict=True):
            values.append((f"HTTPCode_Target_{label}_Count", "Count", count))
        values.append(("ClientTLSNegotiationErrorCount", "Count", counter.client_tls_errors))
        values.append(
            ("DesyncMitigationMode_NonCompliant_Request_Count", "Count", counter.non_compliant)
        )
        if counter.target_answers:
            mean = counter.target_time_ms / 1000 / counter.target_answers
            values.append(("TargetResponseTime", "Seconds", mean))
        for dimensions in _dimensions(view, counter.address):
            found += [
                FlowValue(view.tenant_id, name, dimensions, float(value), unit)
                for name, unit, value in values
                if value or name == "TargetResponseTime"
            ]
    return found


class FlowCounts:
    """Gives the sink what the routers counted since the last read (their counters only
    grow: :class:`~andromede.hypervisor.load_balancers.RouterLoadBalancers` carries a
    replaced table's counts over)."""

    def __init__(self, sink: MetricsSink) -> None:
        self._sink = sink
        self._last: dict[tuple[str, tuple[str, str, int, str]], FlowTally] = {}

    def record(self, host: str, views: Sequence[ForwardingView], counters: Counters) -> int:
        """The values given to the sink for ``host``'s routers' ``counters``."""
        deltas: dict[tuple[str, str, int, str], FlowTally] = {}
        for gone in [k for k in self._last if k[0] == host and k[1] not in counters]:
            del self._last[gone]  # a listener gone, or its router
        for key, counted in counters.items():
            before = self._last.get((host, key))
            self._last[(host, key)] = counted
            if before is None:
                continue  # the first read of a counter: its start, not a minute's flows
            flows, processed, client_errors, target_errors = (
                max(0, now - then) for now, then in zip(counted, before, strict=True)
            )
            deltas[key] = (flows, processed, client_errors, target_errors)
        return self._give(flow_values(views, deltas))

    def record_active(self, views: Sequence[ForwardingView], active: Active) -> int:
        """The values given to the sink for one host's routers' ``active`` flows, a sample
        of each gauge per round (session 50)."""
        return self._give(active_values(views, active))

    def record_requests(
        self, views: Sequence[ForwardingView], requests: Sequence[RequestCounter]
    ) -> int:
        """The values given to the sink for one host's HTTP proxies' counts since its
        previous report (decision 0216)."""
        return self._give(request_values(views, requests), APPLICATION_ELB)

    def _give(self, values: Sequence[FlowValue], namespace: str = NETWORK_ELB) -> int:
        for value in values:
            self._sink.record(
                value.tenant_id, namespace, value.name, value.dimensions, value.value, value.unit
            )
        return len(values)
