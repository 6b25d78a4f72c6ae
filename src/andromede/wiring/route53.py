"""Amazon Route 53's wiring (decision 0280): the service over the metadata database with the
settings' bounds and name servers, a private zone's VPC checked against the compute
service's VPCs of the account (in this gateway's Region), and its REST-XML app put into
``apis`` under ``route53``, the SigV4 service its calls are signed for."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping

from andromede.audit.service import AuditService
from andromede.compute.service import ComputeService
from andromede.db.database import Database
from andromede.http.ratelimit import RateLimiter
from andromede.http.response import Receive, Scope, Send
from andromede.iam.service import IdentityService
from andromede.route53.service import Route53Limits, Route53Service
from andromede.route53.store_sql import SqlZoneStore
from andromede.route53api.app import Route53App
from andromede.settings import Settings

__all__ = ["route53_api", "route53_limits"]

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def route53_limits(settings: Settings) -> Route53Limits:
    return Route53Limits(
        name_servers=settings.route53_name_servers,
        max_hosted_zones=settings.route53_max_hosted_zones,
        max_changes=settings.route53_max_changes,
        max_records=settings.route53_max_record_sets,
    )


def route53_api(
    apis: MutableMapping[str, ASGIApp],
    settings: Settings,
    db: Database,
    identity: IdentityService,
    audit: AuditService,
    rate_limiter: RateLimiter | None,
    compute: ComputeService | None,
) -> Callable[[str], Awaitable[int]]:
    """Route 53's app of ``serve`` put into ``apis``, and what closing a tenant deletes of it
    (its zones and changes)."""

    async def vpc_exists(tenant_id: str, region: str, vpc_id: str) -> bool:
        if compute is None or region != settings.region:
            return False
        return await compute.owns_vpc(tenant_id, vpc_id)

    store = SqlZoneStore(db)
    service = Route53Service(
        store,
        route53_limits(settings),
        vpc_exists,
        vpcs_changed=None if compute is None else compute.push_vpc_dns,
    )
    if compute is not None:
        # The VPC resolvers answer the private zones associated with their VPC (0280).
        compute.private_zones = service.vpc_zones
    apis[Route53App.name] = Route53App(service, identity, audit, settings, rate_limiter)
    return store.forget_tenant
