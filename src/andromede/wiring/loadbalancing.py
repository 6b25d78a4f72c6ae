"""Elastic Load Balancing's wiring (decision 0191): the load balancing service over the
metadata database and the compute service's VPCs, and its ``elasticloadbalancing`` Query app
on the shared endpoint."""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from andromede.alb_access_logs import AccessLogBatches, LogBucketWriter
from andromede.audit.service import AuditService
from andromede.autoscaling.errors import AutoScalingError
from andromede.autoscaling.service import AutoScalingService
from andromede.autoscaling.traffic import REMOVING, listed, serving
from andromede.autoscaling_adapters import TargetGroupHealth
from andromede.compute.service import ComputeService
from andromede.db.database import Database
from andromede.elbapi.spec import elb_spec
from andromede.http.ratelimit import RateLimiter
from andromede.iam.service import IdentityService
from andromede.iamapi.app import QueryApp
from andromede.load_balancer_metrics import FlowCounts, HostCounts
from andromede.loadbalancing.core import LbLimits
from andromede.loadbalancing.errors import LoadBalancingError, NotFound
from andromede.loadbalancing.service import LoadBalancingService
from andromede.loadbalancing.store_sql import SqlLbStore
from andromede.loadbalancing.target_groups import Probe
from andromede.loadbalancing_adapters import BucketObjects, ComputeNetwork, IdentityCertificates
from andromede.metrics.runs_sql import SqlMetricRuns
from andromede.metrics.service import MetricsService
from andromede.metrics.sink import MetricsSink
from andromede.s3.authorise import S3Authoriser
from andromede.settings import Settings
from andromede.storage.service import ObjectService
from andromede.wiring.load_balancer_hosts import (
    HostFlowTotals,
    ListenerCertificates,
    drive_hosts,
)

__all__ = [
    "LbMetrics",
    "Registered",
    "elb_app",
    "load_balancer_upkeep",
    "load_balancing_service",
    "sync_auto_scaling_groups",
]

log = logging.getLogger(__name__)


def load_balancing_service(
    settings: Settings,
    db: Database,
    compute: ComputeService,
    scaling: AutoScalingService | None = None,
) -> LoadBalancingService:
    """The load balancing service; with ``scaling``, Auto Scaling's ELB health checks read
    its target groups' health (decision 0198: the two contexts meet here)."""
    balancers = LoadBalancingService(
        SqlLbStore(db),
        ComputeNetwork(compute),
        settings.region,
        LbLimits(
            max_load_balancers=settings.elb_max_load_balancers_per_tenant,
            max_target_groups=settings.elb_max_target_groups_per_tenant,
            max_listeners=settings.elb_max_listeners_per_load_balancer,
            max_targets=settings.elb_max_targets_per_target_group,
            max_tags=settings.elb_max_tags,
            max_security_groups=settings.elb_max_security_groups,
            max_certificates=settings.elb_max_certificates_per_listener,
            max_rules=settings.elb_max_rules_per_load_balancer,
            http_max_header_bytes=settings.elb_http_max_header_bytes,
            access_log_max_lines=settings.elb_access_log_max_buffered_lines,
            provisioning=timedelta(seconds=settings.elb_provisioning_seconds),
            max_trust_stores=settings.elb_max_trust_stores_per_tenant,
            trust_store_bundle_bytes=settings.elb_trust_store_max_bundle_bytes,
            trust_store_ca_certificates=settings.elb_trust_store_max_ca_certificates,
            trust_store_revocation_bytes=settings.elb_trust_store_max_revocation_bytes,
            trust_store_revoked_entries=settings.elb_trust_store_max_revoked_entries,
        ),
    )
    if scaling is not None:
        scaling.target_health = TargetGroupHealth(balancers)
    return balancers


def elb_app(
    settings: Settings,
    service: LoadBalancingService,
    identity: IdentityService,
    audit: AuditService,
    rate_limiter: RateLimiter | None,
    objects: ObjectService | None = None,
) -> QueryApp:
    """The ``elasticloadbalancing`` Query app (credential scope service of that name); its
    TLS listeners present the account's IAM server certificates, which IAM then refuses to
    delete while one does (decision 0210); its trust stores read their bundles and revocation
    lists from ``objects`` as the caller (decision 0256)."""
    service.certificates = IdentityCertificates(identity)
    if objects is not None:
        service.objects = BucketObjects(
            objects, S3Authoriser(identity.policies_for, settings.region)
        )
        service.log_buckets = LogBucketWriter(objects)  # decision 0264
    identity.certificate_users = service.certificate_users
    return QueryApp(
        elb_spec(service, settings.elb_dns_domain), identity, audit, settings, rate_limiter
    )


@dataclass(frozen=True, slots=True)
class LbMetrics:
    """Where the upkeep writes ``AWS/NetworkELB`` (session 49): the host counts once a
    minute across gateways, the routers' flow counters through the platform's sink."""

    hosts: HostCounts
    flows: FlowCounts

    @classmethod
    def over(cls, db: Database, metrics: MetricsService, sink: MetricsSink) -> LbMetrics:
        holder = f"elb-{secrets.token_hex(6)}"  # this gateway, in the minutes' claims
        return cls(HostCounts(metrics, SqlMetricRuns(db), holder), FlowCounts(sink))


async def load_balancer_upkeep(
    settings: Settings,
    service: LoadBalancingService,
    compute: ComputeService,
    scaling: AutoScalingService,
    metrics: LbMetrics | None = None,
) -> None:
    """Every ``elb_upkeep_interval``: the Auto Scaling groups' instances registered in their
    target groups; with ``metrics``, the host counts of the minute (once across gateways);
    and on every host the compute service drives — in this process or behind an agent, on
    this machine or another — every listener applied to the host's VPC routers, their flow
    counters and tracked flows read, and the targets due probed by each VPC's primary host,
    their outcomes recorded (:func:`~andromede.wiring.load_balancer_hosts.drive_hosts`,
    session 51); a TLS listener with its certificates, whose keys the hosts' terminators
    present (decision 0210)."""

    async def record(probe: Probe, ok: bool, timed_out: bool, code: int | None) -> None:
        await service.record_probe(probe, ok, timed_out=timed_out, code=code)

    registered: Registered = {}
    totals = HostFlowTotals(metrics.flows) if metrics is not None else None
    # Decision 0264: the hosts' access log lines, written once their five minutes end.
    writer = service.log_buckets
    logs = (
        AccessLogBatches(service, writer, settings.region)
        if isinstance(writer, LogBucketWriter)
        else None
    )
    # Decision 0210: TLS listeners reach the hosts with their certificates, opened here.
    certificates = ListenerCertificates(
        service.certificate_material,
        settings.elb_tls_max_connections,
        settings.elb_tls_buffer_bytes,
    )
    while True:
        await asyncio.sleep(settings.elb_upkeep_interval)
        try:
            await sync_auto_scaling_groups(scaling, service, registered)
            if metrics is not None:
                now = int(datetime.now(UTC).timestamp())
                await metrics.hosts.run_once(now, await service.health_counts())
            hosts = list(compute.drivers.values())
            if not hosts:
                continue
            views = await service.forwarding_views()
            probes = await service.probes()
            await drive_hosts(hosts, views, probes, record, totals, certificates, logs)
            if logs is not None:
                await logs.flush()
        except Exception:  # a failed round must not end the loop; the next one retries
            log.exception("load balancer upkeep failed")


# (tenant, Auto Scaling group, target group ARN) → the instances last registered for it.
Registered = dict[tuple[str, str, str], set[str]]


async def sync_auto_scaling_groups(
    scaling: AutoScalingService, service: LoadBalancingService, registered: Registered
) -> None:
    """Each Auto Scaling group's running instances registered in the target groups it names
    (decision 0191), and deregistered once they leave it — stopped, terminated, in Standby,
    the warm pool, detaching — or the group lets go of the target group or goes. What a
    gateway registered is remembered in ``registered``; from a target group the group is
    Removing, every instance of the group is deregistered (so that one registered by another
    gateway leaves too); then the group's attachment states are advanced from what its target
    groups show (decision 0201). The instances that left while no gateway ran stay
    registered, shown unused once stopped."""
    held: set[tuple[str, str]] = set()
    for group in await scaling.store.groups(None):
        held.add((group.tenant_id, group.name))
        members = await scaling.fleet.members(group.tenant_id, group.name)
        running = serving(group, members)
        attached = set() if group.deleting else set(group.target_groups)
        removing = {a for a, s in listed(group) if s == REMOVING and not group.deleting}
        everyone = [m.instance_id for m in members]
        before_arns = {k[2] for k in registered if k[:2] == (group.tenant_id, group.name)}
        for arn in sorted(attached | before_arns | removing):
            await _sync_one(
                service,
                registered,
                (group.tenant_id, group.name, arn),
                running if arn in attached else [],
                everyone if arn in removing else [],
            )
        try:
            await scaling.advance_attachments(group, members)
        except AutoScalingError as exc:  # gone or contended meanwhile: the next round
            log.warning("Auto Scaling group %s: attachment states: %s", group.name, exc)
    for key in [k for k in registered if k[:2] not in held]:
        await _sync_one(service, registered, key, [])


async def _sync_one(
    service: LoadBalancingService,
    registered: Registered,
    key: tuple[str, str, str],
    wanted: list[str],
    also_leaving: list[str] | None = None,
) -> None:
    before = registered.get(key, set())
    leaving = (before | set(also_leaving or ())) - set(wanted)
    try:
        await service.reconcile_instances(key[0], key[2], wanted, sorted(leaving))
    except NotFound:
        registered.pop(key, None)  # the target group went, and its targets with it
        return
    except LoadBalancingError as exc:  # an instance stopped meanwhile: the next round
        log.warning("Auto Scaling group %s: target group %s: %s", key[1], key[2], exc)
        return
    if wanted:
        registered[key] = set(wanted)
    else:
        registered.pop(key, None)
