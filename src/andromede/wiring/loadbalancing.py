"""Elastic Load Balancing's wiring (decision 0191): the load balancing service over the
metadata database and the compute service's VPCs, and its ``elasticloadbalancing`` Query app
on the shared endpoint."""

from __future__ import annotations

from datetime import timedelta

from andromede.audit.service import AuditService
from andromede.compute.service import ComputeService
from andromede.db.database import Database
from andromede.elbapi.spec import elb_spec
from andromede.http.ratelimit import RateLimiter
from andromede.iam.service import IdentityService
from andromede.iamapi.app import QueryApp
from andromede.loadbalancing.core import LbLimits
from andromede.loadbalancing.service import LoadBalancingService
from andromede.loadbalancing.store_sql import SqlLbStore
from andromede.loadbalancing_adapters import ComputeNetwork
from andromede.settings import Settings

__all__ = ["elb_app", "load_balancing_service"]


def load_balancing_service(
    settings: Settings, db: Database, compute: ComputeService
) -> LoadBalancingService:
    return LoadBalancingService(
        SqlLbStore(db),
        ComputeNetwork(compute),
        settings.region,
        LbLimits(
            max_load_balancers=settings.elb_max_load_balancers_per_tenant,
            max_target_groups=settings.elb_max_target_groups_per_tenant,
            max_listeners=settings.elb_max_listeners_per_load_balancer,
            max_targets=settings.elb_max_targets_per_target_group,
            max_tags=settings.elb_max_tags,
            provisioning=timedelta(seconds=settings.elb_provisioning_seconds),
        ),
    )


def elb_app(
    settings: Settings,
    service: LoadBalancingService,
    identity: IdentityService,
    audit: AuditService,
    rate_limiter: RateLimiter | None,
) -> QueryApp:
    """The ``elasticloadbalancing`` Query app (credential scope service of that name)."""
    return QueryApp(
        elb_spec(service, settings.elb_dns_domain), identity, audit, settings, rate_limiter
    )
