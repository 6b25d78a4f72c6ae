"""AWS Certificate Manager's wiring (decision 0230): the service over the metadata database with
the settings' bound, its private keys sealed by IAM's server certificates' sealer (the
account's key ring, decision 0205), its API app, and its meeting with load balancing: a TLS or
HTTPS listener takes an ACM certificate's ARN beside an IAM server certificate's (one
:class:`~andromede.loadbalancing_adapters.AccountCertificates` dispatching by the ARN's
service), and a certificate a listener presents is ``InUseBy`` its load balancer and not
deleted."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping

from andromede.acm.service import AcmLimits, AcmService
from andromede.acm.store_sql import SqlCertificateStore
from andromede.acmapi.app import AcmApp
from andromede.audit.service import AuditService
from andromede.db.database import Database
from andromede.errors import ConfigurationError
from andromede.http.ratelimit import RateLimiter
from andromede.http.response import Receive, Scope, Send
from andromede.iam.service import IdentityService
from andromede.loadbalancing.service import LoadBalancingService
from andromede.loadbalancing_adapters import (
    AccountCertificates,
    AcmCertificates,
    IdentityCertificates,
)
from andromede.settings import Settings

__all__ = ["acm_api", "load_balancer_of", "present_on"]

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def load_balancer_of(listener_arn: str) -> str:
    """A listener's load balancer: ``…:listener/net/<name>/<lb id>/<id>`` →
    ``…:loadbalancer/net/<name>/<lb id>``."""
    head, _, tail = listener_arn.partition(":listener/")
    return f"{head}:loadbalancer/{'/'.join(tail.split('/')[:3])}"


def acm_api(
    apis: MutableMapping[str, ASGIApp],
    settings: Settings,
    db: Database,
    identity: IdentityService,
    audit: AuditService,
    rate_limiter: RateLimiter | None,
    balancers: LoadBalancingService | None = None,
) -> tuple[AcmService, Callable[[str], Awaitable[int]]]:
    """The ACM API app of ``serve`` put into ``apis`` (under ``acm``, its SigV4 service), and
    what closing a tenant deletes of it (its certificates, their keys already unreadable once
    its key ring is destroyed). With ``balancers``, their listeners take ACM certificates."""
    sealer = identity.certificate_sealer
    if sealer is None:
        raise ConfigurationError("ACM needs the certificates' sealer (wired before it)")
    acm = AcmService(
        SqlCertificateStore(db),
        sealer,
        settings.region,
        AcmLimits(max_certificates=settings.acm_max_certificates),
    )
    if balancers is not None:
        present_on(balancers, acm, identity)
    apis[AcmApp.name] = AcmApp(acm, identity, audit, settings, rate_limiter)
    return acm, acm.store.forget_tenant


def present_on(balancers: LoadBalancingService, acm: AcmService, identity: IdentityService) -> None:
    """Listeners take ACM's certificates beside IAM's; ACM asks them what uses one."""
    balancers.certificates = AccountCertificates(
        IdentityCertificates(identity), AcmCertificates(acm)
    )

    async def users(tenant_id: str, arn: str) -> list[str]:
        listeners = await balancers.certificate_users(tenant_id, arn)
        return list(dict.fromkeys(load_balancer_of(a) for a in listeners))

    acm.certificate_users = users
