"""AWS Certificate Manager's wiring (decision 0230): the service over the metadata database with
the settings' bounds and the operator's private CA (``acm_private_ca_certificate`` and
``_key``, read once at start), its private keys sealed by IAM's server certificates' sealer (the
account's key ring, decision 0205), its API app, and its meeting with load balancing: a TLS or
HTTPS listener takes an ACM certificate's ARN beside an IAM server certificate's (one
:class:`~andromede.loadbalancing_adapters.AccountCertificates` dispatching by the ARN's
service), and a certificate a listener presents is ``InUseBy`` its load balancer and not
deleted.

**Expiry.** Every gateway looks every ``acm_expiry_check_interval`` for the certificates not
checked today (UTC); each is checked by one of them (``acm.expiry``): its days to expiry are
written as the account's ``AWS/CertificateManager`` ``DaysToExpiry`` (dimension
``CertificateArn``) and, within the account's ``DaysBeforeExpiry``, an "ACM Certificate
Approaching Expiration" event (``source`` ``aws.acm``, ``detail`` ``DaysToExpiry`` and
``CommonName``) goes to its default event bus, as AWS sends them daily."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Final

from andromede.acm.expiry import ExpiryNotice, check_expiry
from andromede.acm.private_ca import PrivateAuthority
from andromede.acm.service import AcmLimits, AcmService
from andromede.acm.store_sql import SqlCertificateStore
from andromede.acmapi.app import AcmApp
from andromede.audit.service import AuditService
from andromede.db.database import Database
from andromede.errors import ConfigurationError
from andromede.events.model import DEFAULT_BUS, event_envelope
from andromede.events.service import EventsService
from andromede.http.ratelimit import RateLimiter
from andromede.http.response import Receive, Scope, Send
from andromede.iam.service import IdentityService
from andromede.loadbalancing.service import LoadBalancingService
from andromede.loadbalancing_adapters import (
    AccountCertificates,
    AcmCertificates,
    IdentityCertificates,
)
from andromede.metrics.sink import MetricsSink
from andromede.settings import Settings

__all__ = [
    "ExpiryReports",
    "acm_api",
    "acm_expiry",
    "load_balancer_of",
    "present_on",
    "private_authority",
]

log = logging.getLogger(__name__)
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
NAMESPACE: Final = "AWS/CertificateManager"
APPROACHING: Final = "ACM Certificate Approaching Expiration"


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
    events: EventsService | None = None,
    sink: MetricsSink | None = None,
) -> tuple[AcmService, Callable[[str], Awaitable[int]], asyncio.Task[None]]:
    """The ACM API app of ``serve`` put into ``apis`` (under ``acm``, its SigV4 service), what
    closing a tenant deletes of it (its certificates, their keys already unreadable once its
    key ring is destroyed), and its expiry check, started. With ``balancers``, their
    listeners take ACM certificates; ``events`` and ``sink``: where the expiry check tells."""
    sealer = identity.certificate_sealer
    if sealer is None:
        raise ConfigurationError("ACM needs the certificates' sealer (wired before it)")
    acm = AcmService(
        SqlCertificateStore(db),
        sealer,
        settings.region,
        AcmLimits(
            max_certificates=settings.acm_max_certificates,
            max_imports_per_year=settings.acm_max_imports_per_year,
        ),
        authority=private_authority(settings),
    )
    if balancers is not None:
        present_on(balancers, acm, identity)
    apis[AcmApp.name] = AcmApp(acm, identity, audit, settings, rate_limiter)
    reports = ExpiryReports(events, sink)
    task = asyncio.create_task(acm_expiry(settings, acm, reports), name="acm-expiry")
    return acm, acm.store.forget_tenant, task


def private_authority(settings: Settings) -> PrivateAuthority | None:
    """The operator's private CA of the settings (both files, or neither)."""
    certificate, key = settings.acm_private_ca_certificate, settings.acm_private_ca_key
    if certificate is None and key is None:
        return None
    if certificate is None or key is None:
        raise ConfigurationError("acm_private_ca_certificate and acm_private_ca_key go together")
    try:
        pems = certificate.read_bytes(), key.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"ACM's private CA cannot be read: {exc.strerror}") from None
    authority = PrivateAuthority.load(settings.region, *pems)
    # What the operator tells the accounts to name in CertificateAuthorityArn.
    log.info("ACM's private certificate authority: %s", authority.arn)
    return authority


class ExpiryReports:
    """What a certificate's daily expiry check tells: its metric, and its event when due."""

    def __init__(self, events: EventsService | None, sink: MetricsSink | None) -> None:
        self._events = events
        self._sink = sink

    async def __call__(self, notice: ExpiryNotice) -> None:
        certificate = notice.certificate
        if self._sink is not None:
            self._sink.record(
                certificate.tenant_id, NAMESPACE, "DaysToExpiry",
                [("CertificateArn", certificate.arn)], float(notice.days_to_expiry),
            )  # fmt: skip
        if self._events is None or not notice.approaching:
            return
        event = event_envelope(
            event_id=str(uuid.uuid4()),
            detail_type=APPROACHING,
            source="aws.acm",
            account=certificate.tenant_id,
            moment=datetime.now(UTC),
            region=certificate.region,
            resources=[certificate.arn],
            detail={
                "DaysToExpiry": notice.days_to_expiry,
                "CommonName": certificate.facts.domain_name,
            },
        )
        await self._events.route(certificate.tenant_id, DEFAULT_BUS, [event])


async def acm_expiry(
    settings: Settings, acm: AcmService, observe: Callable[[ExpiryNotice], Awaitable[None]]
) -> None:
    while True:
        try:
            await check_expiry(acm, datetime.now(UTC), observe)
        except Exception:  # a failed round must not end the loop; the next one retries
            log.exception("ACM's expiry check failed")
        await asyncio.sleep(settings.acm_expiry_check_interval)


def present_on(balancers: LoadBalancingService, acm: AcmService, identity: IdentityService) -> None:
    """Listeners take ACM's certificates beside IAM's; ACM asks them what uses one."""
    balancers.certificates = AccountCertificates(
        IdentityCertificates(identity), AcmCertificates(acm)
    )

    async def users(tenant_id: str, arn: str) -> list[str]:
        listeners = await balancers.certificate_users(tenant_id, arn)
        return list(dict.fromkeys(load_balancer_of(a) for a in listeners))

    acm.certificate_users = users
