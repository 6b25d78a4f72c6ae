"""The Network Load Balancers' data plane on every host of the region (session 51's addendum
to decision 0191): the load balancing service's listeners handed to each host through the
hypervisor port — a QEMU driver in this process or an agent's, alike — and the targets'
health probes asked of one host per VPC, their outcomes recorded.

The *primary* of a VPC probes its targets: the host with the lowest name among those that
report the VPC's router built (a host unreachable this round reports nothing, and the next
one probes). Every host with the router forwards, so a client's flow is translated by its own
host's router; only the probes are one host's, so the thresholds count one series.

Here the two contexts meet: the service's views are copied into the port's types
(:mod:`andromede.compute.driver_balancing`), the counters back into the metrics' keys. A TLS
listener's certificates are opened here, on the gateway (IAM's sealer), and handed to the
hosts with the listener (decision 0210): :class:`ListenerCertificates` keeps them opened
while listeners present them, so a key is not asked of the key service every round, and
remembers which VPC routers each host reported: a listener's keys go only to the hosts
holding its VPC's router, the others told it with its keys withheld (decision 0210's session
51 later addendum). A host whose answer names a router it was not known to hold — newly
built, or a host this gateway had not heard from — is handed the keys at once, in a second
call of the same round, so a new router's TLS listeners are served without waiting a round.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import TypeVar

from andromede.alb_access_logs import AccessLogBatches
from andromede.compute.driver import HypervisorDriver
from andromede.compute.driver_balancing import (
    BalancedHttp,
    BalancedListener,
    BalancedTls,
    BalancerReport,
    ListenerCounter,
    ProbeResult,
    ServedCertificate,
    TargetProbe,
)
from andromede.load_balancer_metrics import FlowCounts, FlowTally
from andromede.loadbalancing.application import HttpSettings
from andromede.loadbalancing.certificates import CertificateMaterial
from andromede.loadbalancing.group_routing import policy_document
from andromede.loadbalancing.http_rules import rule_document
from andromede.loadbalancing.model import ForwardingView
from andromede.loadbalancing.target_groups import Probe
from andromede.loadbalancing.trust_stores import mutual_document

__all__ = [
    "MATERIAL_KEPT",
    "RETRY_AFTER",
    "HostFlowTotals",
    "ListenerCertificates",
    "Record",
    "balanced_http",
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
# The load balancing service's ``certificate_material``: (tenant, ARN) → the opened certificate.
Material = Callable[[str, str], Awaitable[CertificateMaterial]]

# How long an opened certificate is kept: an IAM server certificate's ARN names one body and
# key (IAM refuses deleting one a listener presents; a rename is a new ARN), so this bounds
# only how long a key stays in the gateway's memory between two openings.
MATERIAL_KEPT = 600.0
RETRY_AFTER = 60.0  # seconds before a certificate that could not be opened is asked again


def balanced_listener(view: ForwardingView, tls: BalancedTls | None = None) -> BalancedListener:
    """What a host needs of a listener's view: everything but its metric dimensions, and for
    a TLS listener ``tls``, its settings with the certificates' material."""
    if (view.tls is None) != (tls is None):
        raise ValueError("a TLS listener is handed with its certificates, only it")
    return BalancedListener(
        listener_id=view.listener_id,
        vpc_id=view.vpc_id,
        addresses=view.addresses,
        port=view.port,
        targets=view.targets,
        allowed=view.allowed,
        protocols=view.protocols,
        tls=tls,
        http=None if view.http is None else balanced_http(view.http),
    )


def balanced_http(http: HttpSettings) -> BalancedHttp:
    """An HTTP listener's settings for the hosts (decision 0216): its rules as documents."""
    return BalancedHttp(
        rules=tuple(json.dumps(rule_document(rule), sort_keys=True) for rule in http.rules),
        groups=http.groups,
        idle_timeout=http.idle_timeout,
        xff_mode=http.xff_mode,
        xff_client_port=http.xff_client_port,
        drop_invalid_headers=http.drop_invalid_headers,
        max_header_bytes=http.max_header_bytes,
        client_keep_alive=http.client_keep_alive,
        protocol=http.protocol,
        policies=tuple(
            json.dumps(policy_document(tg_id, policy), sort_keys=True)
            for tg_id, policy in http.policies
        ),
        access_log=http.access_log,
        group_arns=http.group_arns,
        access_log_max_lines=http.access_log_max_lines,
        desync_mode=http.desync_mode,  # decision 0287
        connection_log=http.connection_log,
    )


class ListenerCertificates:
    """The TLS listeners' certificates opened for the hosts, each within the gateway's
    bounds (``elb_tls_max_connections``, ``elb_tls_buffer_bytes``). A certificate is kept
    opened :data:`MATERIAL_KEPT` seconds at most, and only while a listener presents it; one
    that cannot be opened (gone, its key unreadable) is asked again after
    :data:`RETRY_AFTER` seconds, its listener left out of the hosts meanwhile.

    It also remembers the VPC routers each host named in its last answer: a TLS listener's
    keys are handed only to the hosts holding its VPC's router (:meth:`routers_of`)."""

    def __init__(
        self,
        material: Material,
        max_connections: int,
        buffer_bytes: int,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._material = material
        self._max_connections = max_connections
        self._buffer_bytes = buffer_bytes
        self._clock = clock
        self._opened: dict[tuple[str, str], tuple[ServedCertificate, float]] = {}
        self._failed: dict[tuple[str, str], float] = {}
        self._routers: dict[str, frozenset[str]] = {}

    def routers_of(self, host: str) -> frozenset[str]:
        """The VPCs whose router ``host`` named in its last answer (none when unheard of)."""
        return self._routers.get(host, frozenset())

    def heard(self, host: str, routers: Sequence[str] | None) -> None:
        """``host``'s answer named ``routers``; None: it failed, and is unheard of again (its
        next answer decides, not a router it may have lost meanwhile)."""
        if routers is None:
            self._routers.pop(host, None)
        else:
            self._routers[host] = frozenset(routers)

    def forget_others(self, hosts: Sequence[str]) -> None:
        """Only the hosts of the region are remembered."""
        self._routers = {h: r for h, r in self._routers.items() if h in hosts}

    async def tls_of(self, views: Sequence[ForwardingView]) -> dict[str, BalancedTls | None]:
        """Listener id → what a host needs to terminate it (None: a certificate could not
        be opened), for the TLS listeners of ``views``."""
        now = self._clock()
        wanted = {(v.tenant_id, arn) for v in views if v.tls for arn in v.tls.certificates}
        self._opened = {k: v for k, v in self._opened.items() if k in wanted and v[1] > now}
        self._failed = {k: t for k, t in self._failed.items() if k in wanted and t > now}
        for key in sorted(wanted - set(self._opened) - set(self._failed)):
            try:
                opened = await self._material(*key)
                served = ServedCertificate(
                    opened.arn, opened.body, opened.chain, opened.private_key
                )
            except Exception as exc:  # that listener only; its type alone: nothing of a key
                log.warning(
                    "TLS certificate %s could not be opened (%s)", key[1], type(exc).__name__
                )
                self._failed[key] = now + RETRY_AFTER
                continue
            self._opened[key] = (served, now + MATERIAL_KEPT)
        answer: dict[str, BalancedTls | None] = {}
        for view in views:
            if view.tls is None:
                continue
            keys = [(view.tenant_id, arn) for arn in view.tls.certificates]
            if not keys or any(key not in self._opened for key in keys):
                answer[view.listener_id] = None
                continue
            answer[view.listener_id] = BalancedTls(
                certificates=tuple(self._opened[key][0] for key in keys),
                ssl_policy=view.tls.ssl_policy,
                alpn_policy=view.tls.alpn_policy,
                target_tls=view.tls.target_tls,
                max_connections=self._max_connections,
                buffer_bytes=self._buffer_bytes,
                mutual=mutual_document(view.tls.mutual),  # decision 0256
                access_log=view.tls.access_log,  # decision 0269
                access_log_max_lines=view.tls.access_log_max_lines,
            )
        return answer


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
        self._totals: dict[str, dict[CounterKey, FlowTally]] = {}

    def record(self, host: str, views: Sequence[ForwardingView], report: BalancerReport) -> None:
        before = self._totals.get(host, {})
        totals: dict[CounterKey, FlowTally] = {}
        for counter in report.counters:
            key = (counter.vpc_id, counter.address, counter.port, counter.transport)
            flows, processed, client_errors, target_errors = before.get(key, (0, 0, 0, 0))
            totals[key] = (
                flows + counter.flows,
                processed + counter.processed_bytes,
                client_errors + counter.client_tls_errors,
                target_errors + counter.target_tls_errors,
            )
        self._totals[host] = totals  # a listener no longer listed: its total goes
        self._flows.record(host, views, totals)
        active = {(a.vpc_id, a.address, a.port, a.transport): a.count for a in report.active}
        self._flows.record_active(views, active)
        # Decision 0216: the HTTP proxies' counts, each report's since the previous one.
        self._flows.record_requests(views, report.requests)


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
    certificates: ListenerCertificates | None = None,
    logs: AccessLogBatches | None = None,
) -> None:
    """One round: ``views`` applied on every host of ``drivers`` (at once) — a TLS
    listener's with its ``certificates`` to the hosts holding its VPC's router, with them
    withheld to the others, left out when they cannot be opened —, their counters given to
    ``flows`` and their access log lines to ``logs`` (decision 0264), then each VPC's
    probes asked of its primary host, each outcome handed to ``record``. A host that fails
    is logged and left out of the round."""
    tls = {} if certificates is None else await certificates.tls_of(views)

    def carried(view: ForwardingView) -> BalancedListener:
        served = tls.get(view.listener_id)
        if view.tls is not None and served is None:
            raise ValueError("its certificates could not be opened")
        return balanced_listener(view, served)

    listeners = tuple(_carried(carried, views))
    if certificates is not None:
        certificates.forget_others([driver.host for driver in drivers])
    answers = await asyncio.gather(
        *(_hand_over(driver, listeners, certificates) for driver in drivers),
        return_exceptions=True,
    )
    reports: dict[str, BalancerReport] = {}
    for driver, answer in zip(drivers, answers, strict=True):
        if isinstance(answer, BaseException):
            log.warning("load balancers on host %s: %s", driver.host, answer)
            if certificates is not None:
                certificates.heard(driver.host, None)
            continue
        reports[driver.host] = answer
        if flows is not None:
            flows.record(driver.host, views, answer)
        if logs is not None:
            logs.record(driver.host, views, answer)
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


async def _hand_over(
    driver: HypervisorDriver,
    listeners: tuple[BalancedListener, ...],
    certificates: ListenerCertificates | None,
) -> BalancerReport:
    """``listeners`` handed to ``driver``'s host, a TLS listener's keys only if the host held
    its VPC's router at its last answer; when this answer names a router of a TLS listener
    the host was not known to hold, a second call hands it those keys at once (its counts
    since the first answer added to the first's)."""
    if certificates is None:
        return await driver.set_load_balancers(listeners)
    held = certificates.routers_of(driver.host)
    report = await driver.set_load_balancers(_keys_where_served(listeners, held))
    certificates.heard(driver.host, report.routers)
    secure = {listener.vpc_id for listener in listeners if listener.tls is not None}
    if not (secure & set(report.routers)) - held:
        return report
    try:
        served = await driver.set_load_balancers(
            _keys_where_served(listeners, frozenset(report.routers))
        )
    except Exception as exc:  # the keys at the next round; this round's counts stand
        log.warning("TLS keys to host %s: %s", driver.host, exc)
        return report
    certificates.heard(driver.host, served.routers)
    return _added(report, served)


def _keys_where_served(
    listeners: tuple[BalancedListener, ...], routers: frozenset[str]
) -> tuple[BalancedListener, ...]:
    """``listeners`` as told to a host holding ``routers``: a TLS listener of another VPC
    without its certificates."""
    return tuple(
        listener
        if listener.tls is None or listener.vpc_id in routers
        else replace(listener, tls=listener.tls.without_keys())
        for listener in listeners
    )


def _added(first: BalancerReport, second: BalancerReport) -> BalancerReport:
    """Two answers of one round as one: the second's routers and tracked flows, the counts
    of both (each counts since the answer before it)."""
    counted: dict[CounterKey, ListenerCounter] = {}
    for counter in (*first.counters, *second.counters):
        key = (counter.vpc_id, counter.address, counter.port, counter.transport)
        before = counted.get(key)
        counted[key] = counter if before is None else replace(
            counter,
            flows=before.flows + counter.flows,
            processed_bytes=before.processed_bytes + counter.processed_bytes,
            client_tls_errors=before.client_tls_errors + counter.client_tls_errors,
            target_tls_errors=before.target_tls_errors + counter.target_tls_errors,
        )  # fmt: skip
    return BalancerReport(
        second.routers,
        tuple(counted.values()),
        second.active,
        access_logs=(*first.access_logs, *second.access_logs),  # decision 0264
        connection_logs=(*first.connection_logs, *second.connection_logs),  # decision 0287
    )


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
