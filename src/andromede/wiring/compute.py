"""Compute's wiring: the compute service over the hypervisors the settings name, reconciled
at start, and the hypervisor host's side, its agent and the instance metadata service it serves
to its guests (decisions 0021 and 0022), and the gate of the requests its agents forward from
VPC endpoints (decision 0166), and the VPC flow-log pass (decision 0153)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import ssl
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.autoscaling.model import Activity, ActivityStatus
from andromede.autoscaling.reconciler import Reconciler
from andromede.autoscaling.service import AutoScalingService, ScalingLimits
from andromede.autoscaling.store_sql import SqlGroupStore
from andromede.autoscaling_adapters import ComputeFleet, TopicNotifier
from andromede.billing.service import BillingService
from andromede.compute.driver import HypervisorDriver
from andromede.compute.host_processes import HostProcesses, read_host_processes
from andromede.compute.images import ImageFiles
from andromede.compute.service import ComputeService
from andromede.compute.store_sql import SqlComputeStore
from andromede.compute.vpc_endpoint import endpoint_service
from andromede.compute_adapters import (
    BucketImageSource,
    KmsDiskKeys,
    compute_limits,
    hypervisor_drivers,
    hypervisor_host_driver,
)
from andromede.db.database import Database
from andromede.errors import ConfigurationError
from andromede.flow_log_delivery import FlowLogDelivery
from andromede.hypervisor.agent import serve_agent
from andromede.hypervisor.agent_tls import agent_server_context
from andromede.iam.errors import NoSuchTenant
from andromede.iam.model import TenantStatus
from andromede.iam.service import IdentityService
from andromede.imds.app import ImdsLimits, MetadataApp, create_metadata_app
from andromede.imds.directory import ComputeInstanceDirectory
from andromede.kms.customer_keys import CustomerKeyService
from andromede.kms.service import KeyService
from andromede.metrics.service import MetricsService
from andromede.metrics.sink import MetricsSink
from andromede.notifications.service import TopicService
from andromede.platform_metrics import nat_gateway_metrics
from andromede.s3.authorise import S3Authoriser
from andromede.scaling_forecasts import MetricForecaster
from andromede.settings import Settings
from andromede.storage.service import ObjectService
from andromede.vpc_endpoint_front import EndpointForwarder, EndpointGate, attestation_key
from andromede.wiring.billing import instance_meter, on_demand_card, traffic_meter
from andromede.wiring.deployment import open_metadata_database
from andromede.wiring.identity import identity_service
from andromede.wiring.logs import FlowLogDestinations

__all__ = [
    "autoscaling_reconciler",
    "autoscaling_service",
    "hosts_reader",
    "open_instance_metadata",
    "run_hypervisor_agent",
    "start_compute",
]

log = logging.getLogger(__name__)


async def start_compute(
    settings: Settings,
    db: Database,
    keys: KeyService,
    objects: ObjectService,
    identity: IdentityService,
    *,
    customer_keys: CustomerKeyService | None = None,
    audit: AuditService | None = None,
    billing: BillingService | None = None,
) -> ComputeService:
    """The compute service over the hypervisor the settings name, reconciled with what the
    hosts run (a failed reconciliation is logged: the API still serves, and the next start
    tries again)."""
    compute = ComputeService(
        SqlComputeStore(db),
        hypervisor_drivers(settings),
        KmsDiskKeys(
            keys,
            inline=settings.key_provider == "file",
            customer_keys=customer_keys,
            audit=audit,
        ),
        compute_limits(settings),
        ImageFiles(settings.data_dir / "compute" / "images", settings.max_image_size),
        BucketImageSource(objects, S3Authoriser(identity.policies_for, settings.region)),
    )
    if billing is not None:
        compute.on_transition = instance_meter(billing)
        compute.on_demand_prices = on_demand_card(billing, settings.region)  # decision 0202
    if settings.hypervisor == "memory" and settings.workers > 1:
        log.warning(
            "hypervisor = memory keeps its instances in each worker process: with %d workers "
            "console output and reboots reach only the worker that started an instance; "
            "set workers = 1 or a real hypervisor",
            settings.workers,
        )
    try:
        await compute.reconcile()
    except Exception:
        log.exception("compute: reconciliation with the hypervisor failed")
    return compute


def hosts_reader(compute: ComputeService) -> Callable[[], Awaitable[list[HostProcesses]]]:
    """Asks every host ``compute`` drives for its supervised network processes, through the
    drivers (and their kept connections) the gateway already holds: the management API's
    ``/hosts/metrics`` (decision 0389)."""

    async def read() -> list[HostProcesses]:
        return await read_host_processes(
            [compute.drivers[host] for host in sorted(compute.drivers)]
        )

    return read


def autoscaling_service(
    settings: Settings,
    db: Database,
    compute: ComputeService,
    audit: AuditService,
    topics: TopicService | None = None,
    metrics: MetricsService | None = None,
) -> AutoScalingService:
    """EC2 Auto Scaling over the metadata database, launching through ``compute`` (decision
    0156); each scaling activity an event of the group's account's log, by Auto Scaling's
    service-linked role as AWS's CloudTrail names it; predictive scaling's load forecasts
    read from ``metrics`` (decision 0197)."""
    service = AutoScalingService(
        SqlGroupStore(db),
        ComputeFleet(compute),
        ScalingLimits(
            max_groups_per_tenant=settings.max_autoscaling_groups_per_tenant,
            max_instances_per_group=settings.max_instances_per_autoscaling_group,
            max_scheduled_actions=settings.max_scheduled_actions_per_autoscaling_group,
            max_lifecycle_hooks=settings.max_lifecycle_hooks_per_autoscaling_group,
            max_policies=settings.max_scaling_policies_per_autoscaling_group,
            max_notification_configurations=(
                settings.max_notification_configurations_per_autoscaling_group
            ),
            max_warm_pool_instances=settings.max_warm_pool_instances_per_autoscaling_group,
        ),
        region=settings.region,
    )

    def audited(activity: Activity) -> None:
        launch = activity.description.startswith("Launching")
        if activity.description.startswith("Executing scheduled action"):
            # A scheduled action's firing changes the group's sizes (decision 0159).
            action = "autoscaling:UpdateAutoScalingGroup"
        elif activity.description.startswith("Executing scaling policy"):
            # A policy's execution sets the desired capacity (decision 0177).
            action = "autoscaling:ExecutePolicy"
        else:
            action = "ec2:RunInstances" if launch else "ec2:TerminateInstances"
        audit.record(
            request_id=f"asg-{activity.activity_id}",
            tenant_id=activity.tenant_id,
            principal=(
                f"arn:aws:iam::{activity.tenant_id}:role/aws-service-role/"
                "autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
            ),
            action=action,
            resource=f"autoScalingGroupName/{activity.group_name}",
            outcome=(
                Outcome.SUCCESS
                if activity.status_code == ActivityStatus.SUCCESSFUL
                else Outcome.FAILURE
            ),
            details={
                "activity": activity.activity_id,
                "description": activity.description,
                "cause": activity.cause,
                "status": activity.status_code,
            },
        )

    service.on_activity = audited
    if topics is not None:  # lifecycle hooks' targets: the account's topics (decision 0159)
        service.notifier = TopicNotifier(topics)
    if metrics is not None:
        service.forecaster = MetricForecaster(
            metrics,
            sample_interval=settings.instance_metrics_interval,
            history_days=settings.predictive_scaling_history_days,
            minimum_hours=settings.predictive_scaling_min_history_hours,
            hours=settings.predictive_scaling_forecast_hours,
        )
    return service


def autoscaling_reconciler(
    settings: Settings, scaling: AutoScalingService, identity: IdentityService
) -> Reconciler:
    """This gateway's reconciler: its own owner name for the groups' leases (host, process and
    a random part, so that two workers of one host, or a restarted process, are told apart),
    acting only for active accounts."""

    async def active(tenant_id: str) -> bool:
        try:
            return (await identity.get_tenant(tenant_id)).status is TenantStatus.ACTIVE
        except NoSuchTenant:
            return False

    return Reconciler(
        scaling,
        f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}",
        lease=timedelta(seconds=settings.autoscaling_claim_lease),
        active=active,
    )


@contextlib.asynccontextmanager
async def open_instance_metadata(
    settings: Settings, driver: HypervisorDriver
) -> AsyncIterator[MetadataApp]:
    """The instance metadata service of the host ``driver`` runs: what the hypervisor agent
    serves to its guests (decision 0021). The agent is a platform component of the host, like
    a gateway: it opens the same metadata database (its schema is the gateways' to migrate) for
    the compute records, and identity over it with the data folder's secrets key to issue the
    instance profiles' credentials."""
    db = open_metadata_database(settings, settings.effective_database_url)
    try:
        directory = ComputeInstanceDirectory(
            SqlComputeStore(db),
            driver,
            settings.region,
            public_dns_domain=settings.public_dns_domain,
        )
        yield create_metadata_app(
            directory, identity_service(settings, db), ImdsLimits.from_settings(settings)
        )
    finally:
        await db.close()


def run_hypervisor_agent(settings: Settings) -> None:
    """Serve this host's QEMU driver on its agent socket — and, with ``hypervisor_agent_listen``,
    to gateways on other machines over mutual TLS (decision 0022) — and the instance metadata
    service to its guests, until SIGTERM/SIGINT (blocking; the body of ``andromede agent`` and
    of the agent process ``andromede serve`` starts)."""
    listen = settings.hypervisor_agent_address
    tls = None
    if listen is not None:
        cert, key, ca = (
            settings.hypervisor_agent_tls_cert,
            settings.hypervisor_agent_tls_key,
            settings.hypervisor_agent_tls_ca,
        )
        if cert is None or key is None or ca is None:  # the settings refuse it too
            raise ConfigurationError("hypervisor_agent_listen needs its certificate, key and CA")
        try:
            tls = agent_server_context(cert, key, ca)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationError(f"the agent's TLS certificate, key or CA: {exc}") from exc
    driver = hypervisor_host_driver(settings)
    upstream = settings.vpc_endpoint_gateway_url or f"http://{settings.s3_host}:{settings.s3_port}"

    async def main() -> None:
        async with open_instance_metadata(settings, driver) as metadata:
            # The VPC endpoints' listeners forward to a gateway with an attested origin
            # (decision 0160), under a key derived from the secrets key opened just above.
            forwarder = EndpointForwarder(
                driver.endpoint_origin,
                attestation_key(settings.data_dir / "keys" / "secrets.key"),
                upstream,
            )
            try:
                await driver.serve_endpoints(forwarder)
                await serve_agent(
                    driver,
                    settings.hypervisor_agent_socket,
                    metadata_app=metadata,
                    listen=listen,
                    tls=tls,
                )
            finally:
                await forwarder.aclose()

    asyncio.run(main())


def endpoint_gate(settings: Settings, compute: ComputeService | None) -> EndpointGate:
    """The gate of the requests the hypervisor agents forward from VPC endpoints: their
    attestations checked under the data folder's key, the endpoint read from compute (none
    without compute: every such request is refused)."""

    async def lookup(endpoint_id: str) -> tuple[str, str, str] | None:
        found = await compute.endpoint_of(endpoint_id) if compute is not None else None
        if found is None:
            return None
        return found.vpc_id, found.policy_document, endpoint_service(found.service_name)

    return EndpointGate(
        attestation_key(settings.data_dir / "keys" / "secrets.key"),
        lookup,
        max_age=settings.vpc_endpoint_origin_max_age,
        clock=time.time,
    )


def flow_log_task(
    settings: Settings,
    compute: ComputeService,
    objects: ObjectService,
    billing: BillingService,
    sink: MetricsSink,
    destinations: FlowLogDestinations | None,
) -> asyncio.Task[None]:
    """The VPC flow-log pass of ``serve`` (decision 0153), started: every
    ``flow_log_delivery_interval`` the hosts' counts into the tenants' buckets, log groups
    (decision 0153's session-48 addendum) or Firehose streams (decision 0348). It gathers the
    hosts' network meters too (decision 0176) and each NAT gateway's ``AWS/NATGateway``
    metrics (decision 0181). CreateFlowLogs tags the streams it names for that delivery
    (decision 0387)."""
    if destinations is not None:
        compute.log_delivery_streams = destinations.streams
    delivery = FlowLogDelivery(
        compute,
        objects,
        settings.region,
        meter=traffic_meter(billing, settings.region),
        gateway_metrics=nat_gateway_metrics(sink),
        groups=destinations.groups if destinations is not None else None,
        streams=destinations.streams if destinations is not None else None,
    )
    return asyncio.create_task(
        delivery.run_forever(settings.flow_log_delivery_interval), name="flow-logs"
    )
