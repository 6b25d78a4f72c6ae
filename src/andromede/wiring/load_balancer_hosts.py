"""The Network Load Balancers' data plane on every host of the region (session 51's addendum
to decision 0191): the load balancing service's listeners handed to each host through the
hypervisor port — a QEMU driver in this process or an agent's, alike — and the targets'
health probes asked of one host per VPC, their outcomes recorded.

The *primary* of a VPC probes its targets: the host with the lowest name among those that
report the VPC's router built (a host unreachable this round reports nothing, and the next
one probes). Every host with the router forwards, so a client's flow is translated by its own
host's router; only the probes are one host's, so the thresholds count one series.

Here the two contexts meet: the service's views are copied into the port's types
(:mod:`andromede.compute.driver_balancing`), the counters back into the metrics' keys.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from andromede.compute.driver import HypervisorDriver
from andromede.compute.driver_balancing import (
    BalancedListener,
    BalancerReport,
    ProbeResult,
    TargetProbe,
)
from andromede.load_balancer_metrics import FlowCounts
from andromede.loadbalancing.model import ForwardingView
from andromede.loadbalancing.target_groups import Probe

__all__ = [
    "HostFlowTotals",
    "Record",
    "balanced_listener",
    "drive_hosts",
    "primaries",
    "target_probe",
]

# (VPC, node address, port, transport): what a listener's counts are kept by.
CounterKey = tuple[str, str, int, str]

log = logging.getLogger(__name__)

_T = TypeVar("_T")
_U = TypeVar("_U")

# Hands a probe's outcome to the service: (probe, ok, timed out, HTTP code).
Record = Callable[[Probe, bool, bool, int | None], Awaitable[None]]


def balanced_listener(view: ForwardingView) -> BalancedListener:
    """What a host needs of a listener's view: everything but its metric dimensions."""
    return BalancedListener(
        listener_id=view.listener_id,
        vpc_id=view.vpc_id,
        addresses=view.addresses,
        port=view.port,
        targets=view.targets,
        allowed=view.allowed,
        protocols=view.protocols,
    )


def target_probe(probe: Probe) -> TargetProbe:
    return TargetProbe(
        tenant_id=probe.tenant_id,
        tg_id=probe.tg_id,
        vpc_id=probe.vpc_id,
        target_id=probe.target_id,
        port=probe.port,
        address=probe.address,
        health_port=probe.health_port,
        timeout=probe.timeout,
        interval=probe.interval,
        protocol=probe.protocol,
        path=probe.path,
        matcher=probe.matcher,
    )


class HostFlowTotals:
    """Each host's counters summed from the reports (each carries what the host counted since
    its previous one, to whichever gateway), as running totals for
    :class:`~andromede.load_balancer_metrics.FlowCounts`, which takes a minute's flows as
    the difference of two reads; and its tracked flows, a gauge's sample each round."""

    def __init__(self, flows: FlowCounts) -> None:
        self._flows = flows
        self._totals: dict[str, dict[CounterKey, tuple[int, int]]] = {}

    def record(self, host: str, views: Sequence[ForwardingView], report: BalancerReport) -> None:
        before = self._totals.get(host, {})
        totals: dict[CounterKey, tuple[int, int]] = {}
        for counter in report.counters:
            key = (counter.vpc_id, counter.address, counter.port, counter.transport)
            flows, processed = before.get(key, (0, 0))
            totals[key] = (flows + counter.flows, processed + counter.processed_bytes)
        self._totals[host] = totals  # a listener no longer listed: its total goes
        self._flows.record(host, views, totals)
        active = {(a.vpc_id, a.address, a.port, a.transport): a.count for a in report.active}
        self._flows.record_active(views, active)


def primaries(reports: dict[str, BalancerReport]) -> dict[str, str]:
    """VPC → the host that probes its targets: the lowest name of those holding its router."""
    chosen: dict[str, str] = {}
    for host in sorted(reports, reverse=True):
        for vpc_id in reports[host].routers:
            chosen[vpc_id] = host
    return chosen


async def drive_hosts(
    drivers: Sequence[HypervisorDriver],
    views: Sequence[ForwardingView],
    probes: Sequence[Probe],
    record: Record,
    flows: HostFlowTotals | None = None,
) -> None:
    """One round: ``views`` applied on every host of ``drivers`` (at once), their counters
    given to ``flows``, then each VPC's probes asked of its primary host, each outcome
    handed to ``record``. A host that fails is logged and left out of the round."""
    listeners = tuple(_carried(balanced_listener, views))
    answers = await asyncio.gather(
        *(driver.set_load_balancers(listeners) for driver in drivers), return_exceptions=True
    )
    reports: dict[str, BalancerReport] = {}
    for driver, answer in zip(drivers, answers, strict=True):
        if isinstance(answer, BaseException):
            log.warning("load balancers on host %s: %s", driver.host, answer)
            continue
        reports[driver.host] = answer
        if flows is not None:
            flows.record(driver.host, views, answer)
    primary = primaries(reports)
    asked = {
        driver: tuple(
            _carried(target_probe, [p for p in probes if primary.get(p.vpc_id) == driver.host])
        )
        for driver in drivers
    }
    asked = {driver: wanted for driver, wanted in asked.items() if wanted}
    results = await asyncio.gather(
        *(driver.probe_targets(wanted) for driver, wanted in asked.items()),
        return_exceptions=True,
    )
    by_key = {(p.tenant_id, p.tg_id, p.target_id, p.port): p for p in probes}
    for driver, result in zip(asked, results, strict=True):
        if isinstance(result, BaseException):
            log.warning("health probes on host %s: %s", driver.host, result)
            continue
        for outcome in result:
            await _record_one(by_key, outcome, record)


def _carried(copy: Callable[[_T], _U], items: Sequence[_T]) -> list[_U]:
    """The port's copies of ``items``; one the port refuses (an address or a port out of its
    checks) is logged and left out, not the round: the other listeners still forward."""
    copies = []
    for item in items:
        try:
            copies.append(copy(item))
        except ValueError as exc:
            log.error("not handed to the hosts: %r: %s", item, exc)
    return copies


async def _record_one(
    by_key: dict[tuple[str, str, str, int], Probe], outcome: ProbeResult, record: Record
) -> None:
    probe = by_key.get(outcome.probe.key)
    if probe is None:  # a host answering what it was not asked: not taken
        log.warning("a host answered a probe it was not asked: %s", outcome.probe.key)
        return
    await record(probe, outcome.ok, outcome.timed_out, outcome.code)
