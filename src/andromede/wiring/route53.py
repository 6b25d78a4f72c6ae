"""Amazon Route 53's wiring (decision 0280): the service over the metadata database with the
settings' bounds and name servers, a private zone's VPC checked against the compute
service's VPCs of the account (in this gateway's Region), and its REST-XML app put into
``apis`` under ``route53``, the SigV4 service its calls are signed for. Query logging
(decision 0305): the configurations over the database, their log groups checked and written
through the Logs service ``serve`` put into ``apis``, the public name servers' lines flushed
every ``route53_query_log_flush_seconds``. DNSSEC signing (decision 0317):
``wiring.route53_dnssec``. Traffic policies (decision 0330): over the database, within the
``route53_max_traffic_*`` quotas. Reusable delegation sets (decision 0346) over the database,
of the configured name servers; a VPC authorised for a zone may be any account's of this
gateway's Region. The clients' places read again when their file changes, every
``route53_client_geolocation_reload_interval`` (decision 0420)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Final

from andromede.audit.service import AuditService
from andromede.billing.service import BillingService
from andromede.compute.network import Vpc
from andromede.compute.service import ComputeService
from andromede.db.database import Database
from andromede.elbapi.wire import hosted_zone
from andromede.errors import ConfigurationError
from andromede.http.ratelimit import RateLimiter
from andromede.http.response import Receive, Scope, Send
from andromede.iam.service import IdentityService
from andromede.kms.customer_keys import CustomerKeyService
from andromede.kms.service import KeyService
from andromede.loadbalancing.errors import LoadBalancingError
from andromede.loadbalancing.service import LoadBalancingService
from andromede.logs.service import LogsService
from andromede.logsapi.app import LogsApp
from andromede.route53.cidr_collections import CidrCollectionService, CidrLimits
from andromede.route53.cidr_store_sql import SqlCidrCollectionStore
from andromede.route53.client_places import ClientGeography, ClientRegions
from andromede.route53.delegation_set_store_sql import SqlDelegationSetStore
from andromede.route53.delegation_sets import DelegationSetLimits, DelegationSetService
from andromede.route53.dnssec_material import SigningMaterial
from andromede.route53.geolocation_files import load_geography
from andromede.route53.geolocation_reload import GeolocationSource, PlacesReloader
from andromede.route53.geoproximity import ClientLocations, places
from andromede.route53.model import AliasTarget
from andromede.route53.public_zones import PublicZones, SetServers, server_name
from andromede.route53.query_log_lines import QueryLogBuffer, QueryLogTarget, Writer
from andromede.route53.query_log_store_sql import SqlQueryLogStore
from andromede.route53.query_logging import QueryLoggingService, QueryLogStore
from andromede.route53.service import AliasTargets, Route53Limits, Route53Service
from andromede.route53.store import ZoneStore
from andromede.route53.store_sql import SqlZoneStore
from andromede.route53.traffic_service import TrafficLimits, TrafficPolicyService
from andromede.route53.traffic_store_sql import SqlTrafficStore
from andromede.route53_query_logs import LogsQueryLogGroups, LogsQueryLogWriter
from andromede.route53api.app import Route53App
from andromede.route53api.public_dns import DnsLimits, PublicNameServer
from andromede.settings import Settings
from andromede.storage.multi_region_access_points import NearestRegion
from andromede.wiring.route53_dnssec import route53_dnssec

__all__ = [
    "DNS_QUERIES",
    "HOSTED_ZONES",
    "bill_hosted_zones",
    "geolocation_reloads",
    "load_balancer_aliases",
    "nearest_region",
    "public_name_server",
    "query_log_targets",
    "route53_api",
    "route53_limits",
    "traffic_limits",
]

log = logging.getLogger(__name__)

HOSTED_ZONES: Final = "route53.hosted-zones"
DNS_QUERIES: Final = "route53.dns-queries"
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def route53_limits(settings: Settings) -> Route53Limits:
    """The service's bounds and places; ``ConfigurationError`` when the clients' geolocation
    file cannot be read or has a bad line (decision 0395): the gateway does not start."""
    known = places(settings.route53_region_coordinates)
    try:
        geography = load_geography(
            settings.route53_client_geolocation_file,
            settings.route53_client_geolocation_max_networks,
            settings.route53_client_regions,
            known,
            settings.route53_client_geolocation_format,
            settings.route53_client_max_accuracy_radius_km,
        )
    except OSError as exc:
        raise ConfigurationError(
            f"route53_client_geolocation_file cannot be read: {exc.strerror}"
        ) from None
    except ValueError as exc:
        raise ConfigurationError(f"route53_client_geolocation_file: {exc}") from None
    return Route53Limits(
        name_servers=settings.route53_name_servers,
        max_hosted_zones=settings.route53_max_hosted_zones,
        max_changes=settings.route53_max_changes,
        max_records=settings.route53_max_record_sets,
        max_vpc_authorisations=settings.route53_max_vpc_association_authorizations,
        region=settings.region,
        places=known,
        clients=ClientLocations(settings.route53_client_locations, known),
        geography=geography,
    )


def nearest_region(settings: Settings, limits: Route53Limits) -> NearestRegion | None:
    """The Region nearest an S3 client for Multi-Region Access Points (decision 0413), from
    the same client places the public name servers read (``limits``, built once); None when
    the operator places no client (the gateway's Region then stands for every client's)."""
    if limits.geography is None and not settings.route53_client_locations:
        return None
    return ClientRegions(limits.geography, limits.clients, limits.places).nearest


def geolocation_reloads(
    settings: Settings, geography: ClientGeography | None
) -> asyncio.Task[None] | None:
    """The task reading the clients' places again when their file changes (decision 0420),
    into the ``geography`` Route 53 and S3 share; None when there is no file or
    ``route53_client_geolocation_reload_interval`` is 0."""
    interval = settings.route53_client_geolocation_reload_interval
    if geography is None or not settings.route53_client_geolocation_file or interval <= 0:
        return None
    source = GeolocationSource(
        settings.route53_client_geolocation_file,
        settings.route53_client_geolocation_max_networks,
        settings.route53_client_geolocation_format,
        settings.route53_client_max_accuracy_radius_km,
    )
    reloads = PlacesReloader(geography, source).run_forever(interval)
    return asyncio.create_task(reloads, name="route53-geolocation-reload")


def traffic_limits(settings: Settings) -> TrafficLimits:
    return TrafficLimits(
        max_policies=settings.route53_max_traffic_policies,
        max_versions=settings.route53_max_traffic_policy_versions,
        max_instances=settings.route53_max_traffic_policy_instances,
        max_document=settings.route53_max_traffic_policy_document,
        max_sets=settings.route53_max_record_sets,
    )


def load_balancer_aliases(balancers: LoadBalancingService, settings: Settings) -> AliasTargets:
    """Alias targets that are the account's load balancers (decision 0284): the
    ``CanonicalHostedZoneId`` and DNS name DescribeLoadBalancers gives
    (``<name>-<id>.elb.<region>.<elb_dns_domain>``, ``dualstack.`` before it as AWS's
    consoles write it), standing for the load balancer's node addresses (A; an AAAA alias
    has none, the nodes being IPv4)."""
    suffix = f".elb.{settings.region}.{settings.elb_dns_domain}".lower()

    async def target(
        tenant_id: str, alias: AliasTarget, record_type: str
    ) -> tuple[str, ...] | None:
        name = alias.dns_name.rstrip(".").removeprefix("dualstack.")
        if alias.hosted_zone_id != hosted_zone(settings.region) or not name.endswith(suffix):
            return None
        if record_type not in {"A", "AAAA"}:
            return None
        lb_name, _, lb_id = name[: -len(suffix)].rpartition("-")
        try:
            balancer = await balancers.load_balancer(tenant_id, lb_id)
        except LoadBalancingError:
            return None
        if balancer.name.lower() != lb_name:
            return None
        return tuple(n.address for n in balancer.nodes) if record_type == "A" else ()

    return target


async def bill_hosted_zones(
    store: ZoneStore, billing: BillingService, region: str, now: float
) -> int:
    """Count a zone-month in ``route53.hosted-zones`` for each zone not yet billed for the
    month of ``now`` (UTC), as AWS bills a hosted zone: once for the month it is made in, then
    once each month it is still held, not pro rata. The store's claim makes each zone billed
    once a month whichever gateways sweep."""
    month = int(datetime.fromtimestamp(now, UTC).strftime("%Y%m"))
    claimed = await store.claim_billing(month)
    for tenant_id, _ in claimed:
        billing.count(tenant_id, region, HOSTED_ZONES, 1)
    return len(claimed)


async def _billing_sweeps(
    store: ZoneStore, billing: BillingService, region: str, interval: float
) -> None:
    while True:
        try:
            await bill_hosted_zones(store, billing, region, time.time())
        except Exception:  # a failed sweep is tried again at the next one
            log.exception("Route 53: the hosted zones could not be billed")
        await asyncio.sleep(interval)


async def query_log_targets(store: QueryLogStore, buffer: QueryLogBuffer) -> None:
    """The buffer told which zones log their queries, and where (decision 0305)."""
    targets = {}
    for config in await store.every():
        targets[config.zone_id] = QueryLogTarget(config.tenant_id, config.group_name)
    buffer.set_targets(targets)


async def _query_log_flushes(
    store: QueryLogStore, buffer: QueryLogBuffer, write: Writer, interval: float
) -> None:
    while True:
        try:
            await query_log_targets(store, buffer)
        except Exception:  # the previous targets stay; read again at the next flush
            log.exception("Route 53: the query logging configurations could not be read")
        await buffer.flush(write)
        await asyncio.sleep(interval)


def public_name_server(
    service: Route53Service,
    settings: Settings,
    billing: BillingService | None,
    query_logs: QueryLogBuffer | None = None,
    signing: SigningMaterial | None = None,
    set_servers: SetServers | None = None,
) -> PublicNameServer:
    """The public name servers of decision 0289 over ``service``'s public zones: read again
    at the next query when one changes here, each answered query counted in
    ``route53.dns-queries`` for the zone's account (and kept in ``query_logs`` when its zone
    logs its queries, decision 0305); the signed zones' answers signed with ``signing``
    (decision 0317); each address of ``route53_name_server_addresses`` answering the zones
    of its names only, a zone's servers its delegation set's (``set_servers``, decision
    0395)."""
    zones = PublicZones(
        service,
        settings.route53_name_servers,
        settings.route53_dns_cache_seconds,
        signing=signing,
        set_servers=set_servers,
    )
    served: dict[str, frozenset[str]] = {}
    for name, address in settings.route53_name_server_addresses.items():
        served[address] = served.get(address, frozenset()) | {server_name(name)}
    service.public_changed = zones.invalidate
    limits = DnsLimits(
        rate_limit=settings.route53_dns_rate_limit,
        max_udp_size=settings.route53_dns_max_udp_size,
        max_tcp_connections=settings.route53_dns_max_tcp_connections,
    )

    def count(tenant_id: str) -> None:
        if billing is not None:
            billing.count(tenant_id, settings.region, DNS_QUERIES, 1)

    return PublicNameServer(
        zones,
        limits,
        count,
        query_logs=query_logs,
        locate=service.client_location,
        served=served,
        geography=service.geography,
    )


async def _serve_public_dns(server: PublicNameServer, listen: tuple[str, ...]) -> None:
    try:
        bound = await server.start(listen)
    except OSError:
        log.exception("Route 53: the public name servers could not listen on %s", listen)
        raise
    log.info("Route 53: public name servers answering on %s", bound)
    try:
        await asyncio.Event().wait()  # until serve stops (the task cancelled)
    finally:
        server.close()


def route53_api(
    apis: MutableMapping[str, ASGIApp],
    settings: Settings,
    db: Database,
    identity: IdentityService,
    audit: AuditService,
    rate_limiter: RateLimiter | None,
    compute: ComputeService | None,
    billing: BillingService | None = None,
    background: list[asyncio.Task[None]] | None = None,
    balancers: LoadBalancingService | None = None,
    customer_keys: CustomerKeyService | None = None,
    keys: KeyService | None = None,
    limits: Route53Limits | None = None,
) -> Callable[[str], Awaitable[int]]:
    """Route 53's app of ``serve`` put into ``apis``, and what closing a tenant deletes of it
    (its zones, changes, query logging configurations, traffic policies and DNSSEC state);
    with ``billing``, the hosted zones' monthly sweep (every ``billing_sample_interval``)
    started into ``background``; with the KMS services, DNSSEC signing (decision 0317)."""

    async def vpc_exists(tenant_id: str, region: str, vpc_id: str) -> bool:
        if compute is None or region != settings.region:
            return False
        return await compute.owns_vpc(tenant_id, vpc_id)

    async def vpc_owner(region: str, vpc_id: str) -> str | None:
        # Any account's VPC: a zone authorises another account's VPC (decision 0346).
        if compute is None or region != settings.region:
            return None
        vpc = await compute.store.get(Vpc, vpc_id)
        return None if vpc is None else vpc.tenant_id

    store = SqlZoneStore(db)
    service = Route53Service(
        store,
        route53_limits(settings) if limits is None else limits,
        vpc_exists,
        vpcs_changed=None if compute is None else compute.push_vpc_dns,
        alias_targets=None if balancers is None else load_balancer_aliases(balancers, settings),
    )
    if compute is not None:
        # The VPC resolvers answer the private zones associated with their VPC (0280).
        compute.private_zones = service.vpc_zones
        service.vpc_owner = vpc_owner
    app = Route53App(service, identity, audit, settings, rate_limiter)
    apis[Route53App.name] = app
    set_store = SqlDelegationSetStore(db)
    app.delegation_sets = DelegationSetService(
        service,
        set_store,
        settings.route53_name_servers,
        DelegationSetLimits(
            settings.route53_max_delegation_sets, settings.route53_max_zones_by_delegation_set
        ),
    )
    cidr_store = SqlCidrCollectionStore(db)
    app.cidr_collections = CidrCollectionService(
        service,
        cidr_store,
        CidrLimits(settings.route53_max_cidr_collections, settings.route53_max_cidr_blocks),
    )

    def logs() -> LogsService | None:
        found = apis.get(LogsApp.name)
        return found.service if isinstance(found, LogsApp) else None

    def ingested(tenant_id: str, size: int, meter: str) -> None:
        if billing is not None:
            billing.count(tenant_id, settings.region, meter, size)

    edge = settings.region  # this gateway is one edge location, named after its Region
    groups = LogsQueryLogGroups(logs, settings.region, edge)
    query_store = SqlQueryLogStore(db)
    app.query_logging = QueryLoggingService(service, query_store, groups, settings.region)
    service.zone_deleted = app.query_logging.zone_deleted
    traffic_store = SqlTrafficStore(db)
    # A load balancer endpoint is an alias to the balancer's canonical zone (decision 0330).
    app.traffic = TrafficPolicyService(
        service,
        traffic_store,
        traffic_limits(settings),
        lambda region: hosted_zone(region or settings.region),
    )
    signing, forget_signing = None, None
    if customer_keys is not None and keys is not None:
        signing, forget_signing = route53_dnssec(
            app, service, settings, db, customer_keys, keys, audit, billing
        )
    if settings.route53_dns_listen and background is not None:
        buffer = QueryLogBuffer(settings.route53_query_log_buffer, edge)

        async def configs_changed() -> None:
            await query_log_targets(query_store, buffer)

        app.query_logging.changed = configs_changed

        async def set_servers(tenant_id: str, set_id: str) -> tuple[str, ...] | None:
            found = await set_store.get(tenant_id, set_id)
            return None if found is None else found.name_servers

        serving = _serve_public_dns(
            public_name_server(service, settings, billing, buffer, signing, set_servers),
            settings.route53_dns_listen,
        )
        background.append(asyncio.create_task(serving, name="route53-public-dns"))
        flushes = _query_log_flushes(query_store, buffer, LogsQueryLogWriter(groups, logs,
            ingested), settings.route53_query_log_flush_seconds)  # fmt: skip
        background.append(asyncio.create_task(flushes, name="route53-query-logs"))
    if background is not None:  # the clients' places read again (decision 0420)
        reloads = geolocation_reloads(settings, service.geography)
        background += [] if reloads is None else [reloads]
    if billing is not None and background is not None:
        sweeps = _billing_sweeps(store, billing, settings.region, settings.billing_sample_interval)
        background.append(asyncio.create_task(sweeps, name="route53-billing"))

    async def forget_tenant(tenant_id: str) -> int:
        await query_store.forget_tenant(tenant_id)
        await traffic_store.forget_tenant(tenant_id)
        await set_store.forget_tenant(tenant_id)
        await cidr_store.forget_tenant(tenant_id)
        if forget_signing is not None:
            await forget_signing(tenant_id)
        return await store.forget_tenant(tenant_id)

    return forget_tenant
