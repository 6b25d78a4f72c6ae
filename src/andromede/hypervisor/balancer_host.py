"""A QEMU host's side of the Network Load Balancer calls of the hypervisor port (session 51's
addendum to decision 0191): the listeners a gateway hands it applied to its VPC routers
(:class:`~andromede.hypervisor.load_balancers.RouterLoadBalancers`), what they counted
answered, and the probes it is asked run when due from the routers
(:class:`~andromede.hypervisor.target_probes.HealthChecker`), their outcomes answered; a TLS
listener served by a terminator in its router's namespace
(:class:`~andromede.hypervisor.tls_terminators.TlsTerminators`, decision 0210), with the
certificates and keys the gateway handed over and within the bounds it gave — the keys held
in memory only, for as long as a listener presents them. A gateway hands a listener's keys
only to a host whose last answer named its VPC router (decision 0210's session 51 later
addendum); told a listener with its keys withheld, a host starts no terminator for it, and
one already serving it goes on with the keys it holds (the gateway, not having heard this
host yet, hands them again in the same round). The terminators' counts are answered with
the routers' (transport ``tls``). An HTTP listener (decision 0216) is served by an HTTP
proxy in its router's namespace (:class:`~andromede.hypervisor.http_listeners.HttpListeners`).

The host keeps when it last probed each target, not the gateway: every gateway's upkeep asks
the host that probes a VPC, and a target is still probed once per its interval — the
thresholds count one series of probes, whichever gateway records them. Likewise it answers
its counters as what was counted since its previous report, so that several gateways asking
add up to the flows once.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import Callable
from dataclasses import replace

from andromede.compute.driver_balancing import (
    AccessLogLines,
    ActiveFlows,
    BalancedHttp,
    BalancedListener,
    BalancedTls,
    BalancerReport,
    ListenerCounter,
    ProbeResult,
    RequestCounter,
    TargetProbe,
)
from andromede.hypervisor.http_listeners import HttpListeners
from andromede.hypervisor.load_balancers import CounterKey, RouterLoadBalancers
from andromede.hypervisor.target_probes import HealthChecker, ProbeOutcome
from andromede.hypervisor.tls_terminators import TerminatorLimits, TlsTerminators, sni_context
from andromede.loadbalancing.application import HttpSettings
from andromede.loadbalancing.certificates import CertificateMaterial
from andromede.loadbalancing.errors import NotFound
from andromede.loadbalancing.group_routing import policy_from
from andromede.loadbalancing.http_rules import rule_from
from andromede.loadbalancing.model import ForwardingView
from andromede.loadbalancing.target_groups import Probe
from andromede.loadbalancing.tls import TlsSettings
from andromede.loadbalancing.trust_stores import mutual_from

__all__ = ["HostBalancers", "forwarding_view", "probe_of"]


def forwarding_view(listener: BalancedListener) -> ForwardingView:
    """The router's view of a listener the port carried (its metric dimensions stay with the
    gateway: a host records no metric)."""
    return ForwardingView(
        listener_id=listener.listener_id,
        vpc_id=listener.vpc_id,
        addresses=listener.addresses,
        port=listener.port,
        targets=listener.targets,
        allowed=listener.allowed,
        protocols=listener.protocols,
        tls=None if listener.tls is None else tls_settings(listener.tls),
        http=None if listener.http is None else http_settings(listener.http),
    )


def http_settings(http: BalancedHttp) -> HttpSettings:
    """The HTTP proxy's settings of a listener the port carried (decision 0216): its rules
    read back from their documents."""
    return HttpSettings(
        rules=tuple(rule_from(json.loads(rule)) for rule in http.rules),
        groups=http.groups,
        idle_timeout=http.idle_timeout,
        xff_mode=http.xff_mode,
        xff_client_port=http.xff_client_port,
        drop_invalid_headers=http.drop_invalid_headers,
        max_header_bytes=http.max_header_bytes,
        client_keep_alive=http.client_keep_alive,
        protocol=http.protocol,
        policies=tuple(policy_from(json.loads(policy)) for policy in http.policies),
        access_log=http.access_log,
        group_arns=http.group_arns,
        access_log_max_lines=http.access_log_max_lines,
        desync_mode=http.desync_mode,  # decision 0287
        connection_log=http.connection_log,
    )


def tls_settings(tls: BalancedTls) -> TlsSettings:
    """The terminator's settings of a TLS listener the port carried: its certificates by
    ARN (their material is looked up by it), its policies."""
    return TlsSettings(
        certificates=tuple(c.arn for c in tls.certificates),
        ssl_policy=tls.ssl_policy,
        alpn_policy=tls.alpn_policy,
        target_tls=tls.target_tls,
        mutual=mutual_from(tls.mutual),  # decision 0256
        access_log=tls.access_log,  # decision 0269
        access_log_max_lines=tls.access_log_max_lines,
    )


def probe_of(probe: TargetProbe) -> Probe:
    """The health checker's probe of one the port carried, field for field."""
    return Probe(
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


class HostBalancers:
    """The load balancers of one host's routers, as the port drives them."""

    def __init__(
        self, routers: RouterLoadBalancers, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._routers = routers
        self._applying = asyncio.Lock()
        self._probing = asyncio.Lock()
        # (new flows, bytes, client and target TLS handshakes failed) as last reported.
        self._reported: dict[CounterKey, tuple[int, int, int, int]] = {}
        self._asked: dict[tuple[str, str, str, int], TargetProbe] = {}
        self._outcomes: list[ProbeResult] = []
        self._checker = HealthChecker(routers.namespace_of, self._record, clock=clock)
        # The certificates of the TLS listeners last handed over, by ARN: what the
        # terminators load (nothing else keeps a key, and a listener gone takes it away).
        self._certificates: dict[str, CertificateMaterial] = {}
        self._served: dict[str, BalancedListener] = {}
        self._terminators = TlsTerminators(routers.namespace_of, self._material)
        # Decision 0216: the HTTP listeners' proxies.
        self._http = HttpListeners(routers.namespace_of, self._https_context)
        self._requests_reported: dict[tuple[str, str, int], tuple[int, ...]] = {}

    async def apply(self, listeners: tuple[BalancedListener, ...]) -> BalancerReport:
        """Apply ``listeners`` (every router here forwards its VPC's, and only them) and
        report the routers here and what they counted since the previous report."""
        async with self._applying:
            listeners = tuple(self._with_keys_held(listener) for listener in listeners)
            views = [forwarding_view(listener) for listener in listeners]
            await self._routers.apply(views)
            served = [
                listener
                for listener in listeners
                if listener.tls is not None
                and not listener.tls.withheld
                and self._routers.namespace_of(listener.vpc_id)
            ]
            # Only the keys of listeners a router here serves are kept (a gateway hands the
            # keys to the hosts whose last answer named the router; any other is dropped).
            self._served = {listener.listener_id: listener for listener in served}
            self._certificates = {
                c.arn: CertificateMaterial(c.arn, c.body, c.chain, c.private_key)
                for listener in served
                if listener.tls is not None
                for c in listener.tls.certificates
            }
            bounds = {
                listener.listener_id: TerminatorLimits(
                    listener.tls.max_connections, listener.tls.buffer_bytes
                )
                for listener in served
                if listener.tls is not None
            }
            await self._terminators.apply(
                [forwarding_view(listener) for listener in served],
                lambda view: bounds[view.listener_id],
            )
            # An HTTPS listener told without its keys is never started (as a TLS one).
            await self._http.apply(
                [
                    forwarding_view(listener)
                    for listener in listeners
                    if listener.http is not None
                    and (listener.tls is None or not listener.tls.withheld)
                ]
            )
            counters = {
                key: (flows, processed, 0, 0)
                for key, (flows, processed) in (await self._routers.counters()).items()
            }
            counters.update(self._terminators.counters())
            active = await self._routers.active_flows()
            active.update(self._terminators.active_flows())
            # Each report carries what was counted since the previous one: every gateway
            # asks, and each count must reach the metrics once.
            since = {
                key: tuple(
                    max(0, now - before)
                    for now, before in zip(
                        counted, self._reported.get(key, (0, 0, 0, 0)), strict=True
                    )
                )
                for key, counted in counters.items()
            }
            self._reported = counters
            requests = self._requests_since()
            logged = self._http.access_logs()
            logged.update(self._terminators.access_logs())  # decision 0269
            connected = self._http.connection_logs()  # decision 0287
        vpcs = {listener.vpc_id for listener in listeners}
        return BalancerReport(
            routers=tuple(sorted(v for v in vpcs if self._routers.namespace_of(v) is not None)),
            counters=tuple(ListenerCounter(*key, *counts) for key, counts in sorted(since.items())),
            active=tuple(ActiveFlows(*key, count) for key, count in sorted(active.items())),
            requests=requests,
            access_logs=tuple(AccessLogLines(*key, lines) for key, lines in sorted(logged.items())),
            connection_logs=tuple(
                AccessLogLines(*key, lines) for key, lines in sorted(connected.items())
            ),
        )

    def _requests_since(self) -> tuple[RequestCounter, ...]:
        """The HTTP proxies' counts since the previous report (decision 0216)."""
        counted = self._http.counters()
        found = []
        for key, now in sorted(counted.items()):
            before = self._requests_reported.get(key, (0,) * len(now))
            if len(before) != len(now) or any(n < b for n, b in zip(now, before, strict=True)):
                before = (0,) * len(now)  # served anew: its counts started again
            delta = [n - b for n, b in zip(now, before, strict=True)]
            found.append(
                RequestCounter(
                    *key,
                    requests=delta[0],
                    elb=(delta[1], delta[2], delta[3], delta[4]),
                    elb_5xx=(delta[5], delta[6], delta[7], delta[8]),
                    target=(delta[9], delta[10], delta[11], delta[12]),
                    target_time_ms=delta[13],
                    target_answers=delta[14],
                    client_tls_errors=delta[15],  # decision 0287
                    non_compliant=delta[16],
                )
            )
        self._requests_reported = counted
        return tuple(found)

    def _with_keys_held(self, listener: BalancedListener) -> BalancedListener:
        """A TLS listener told with its keys withheld (a gateway that has not yet heard this
        host name its router) that a terminator here serves with the keys of an earlier
        hand-over: kept as it was, not stopped — the gateway hands its keys over again in
        the same round."""
        if listener.tls is None or not listener.tls.withheld:
            return listener
        earlier = self._served.get(listener.listener_id)
        if earlier is None or earlier.vpc_id != listener.vpc_id:
            return listener
        return replace(listener, tls=earlier.tls)

    @property
    def terminating(self) -> set[tuple[str, str]]:
        """The TLS listeners served here, as (VPC, listener id)."""
        return self._terminators.listening

    @property
    def proxying(self) -> set[tuple[str, str]]:
        """The HTTP listeners served here, as (VPC, listener id) (decision 0216)."""
        return self._http.listening

    async def close(self) -> None:
        """Stop the TLS and HTTP listeners' servers (the routers' rules stay, as the guests
        do)."""
        async with self._applying:
            await self._terminators.close()
            await self._http.close()
            self._certificates = {}
            self._served = {}

    async def _https_context(self, view: ForwardingView) -> ssl.SSLContext:
        """An HTTPS listener's server context, from the certificates of its hand-over."""
        if view.tls is None:
            raise ValueError("not an HTTPS listener")
        return await sni_context(view.tenant_id, view.tls, self._material)

    async def _material(self, tenant_id: str, arn: str) -> CertificateMaterial:
        if arn not in self._certificates:  # never: each listener carries its own
            raise NotFound("CertificateNotFound", "certificate not handed over")
        return self._certificates[arn]

    async def probe(self, probes: tuple[TargetProbe, ...]) -> tuple[ProbeResult, ...]:
        """Run the due ones of ``probes`` from their VPCs' routers here; their outcomes."""
        async with self._probing:
            self._asked = {probe.key: probe for probe in probes}
            self._outcomes = []
            await self._checker.run_once([probe_of(probe) for probe in probes])
            outcomes, self._outcomes = tuple(self._outcomes), []
        return outcomes

    async def _record(self, probe: Probe, outcome: ProbeOutcome) -> None:
        asked = self._asked[(probe.tenant_id, probe.tg_id, probe.target_id, probe.port)]
        self._outcomes.append(
            ProbeResult(asked, outcome.ok, timed_out=outcome.timed_out, code=outcome.code)
        )
