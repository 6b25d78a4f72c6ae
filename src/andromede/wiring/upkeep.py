"""The background upkeep loops the application runs in each worker process.

Each loop survives a failed round (logged; the next round retries) and ends only when its task
is cancelled at shutdown: access-key usage and expired sessions, audit retention, lapsed operator
access requests, compute's purge, resync and guest shutdowns, the Auto Scaling reconciler,
automatic invoicing, and KMS key deletion, rotation and expiry.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from andromede.audit.access_service import OperatorAccessService
from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.audit.store import AuditStore
from andromede.autoscaling.reconciler import Reconciler
from andromede.billing.service import BillingService
from andromede.compute.service import ComputeService
from andromede.iam.model import TenantStatus
from andromede.iam.service import IdentityService
from andromede.iam.tenant_actions import invoice_arn
from andromede.kms.customer_keys import CustomerKeyService
from andromede.settings import Settings

__all__ = [
    "audit_retention",
    "auto_invoicing",
    "autoscaling_upkeep",
    "compute_upkeep",
    "identity_upkeep",
    "kms_upkeep",
    "lapse_access_requests",
]

log = logging.getLogger(__name__)


async def identity_upkeep(settings: Settings, identity: IdentityService) -> None:
    """Write access keys' last use in batches; drop expired temporary credentials."""
    next_purge = 0.0
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(settings.key_usage_flush_interval)
        try:
            await identity.flush_key_usage()
            if loop.time() >= next_purge:
                await identity.purge_expired_sessions()
                next_purge = loop.time() + settings.sweeper_interval
        except Exception:  # a failed round must not end the loop; the next one retries
            log.exception("identity upkeep failed")


async def audit_retention(settings: Settings, store: AuditStore) -> None:
    """Every ``sweeper_interval``: prune the audit entries older than ``audit_retention_days``
    (their text; their hashes stay, decision 0107). Every gateway may run it: pruning twice
    prunes nothing more."""
    while True:
        try:
            cut = datetime.now(UTC) - timedelta(days=settings.audit_retention_days)
            pruned = await store.prune(cut)
            if pruned:
                log.info("audit retention: %d entries older than %s pruned", pruned, cut)
        except Exception:  # a failed round must not end the loop; the next one retries
            log.exception("audit retention failed")
        await asyncio.sleep(settings.sweeper_interval)


async def lapse_access_requests(settings: Settings, service: OperatorAccessService) -> None:
    """Every ``sweeper_interval``: expire the operator access requests left pending past
    ``operator_access_request_ttl``, each lapse an event of its tenant's log (decision 0114).
    Reads lapse what they touch anyway; this puts the lapse in the log when nobody looks."""
    while True:
        try:
            lapsed = await service.lapse_due()
            if lapsed:
                log.info("operator access: %d pending requests lapsed undecided", lapsed)
        except Exception:  # a failed round must not end the loop; the next one retries
            log.exception("operator access lapse failed")
        await asyncio.sleep(settings.sweeper_interval)


async def compute_upkeep(settings: Settings, compute: ComputeService) -> None:
    """Purge the records of instances terminated longer ago than the retention, bring every
    host's firewalls and overlay peers back to the records every ``compute_resync_interval``,
    and stop or terminate the instances whose guest powered off (decision 0145); Spot prices,
    interruptions and requests follow at the same pace (decision 0202)."""
    loop = asyncio.get_running_loop()
    next_purge = loop.time() + settings.sweeper_interval
    next_resync = loop.time() + settings.compute_resync_interval
    next_check = loop.time() + settings.instance_shutdown_check_interval
    while True:
        await asyncio.sleep(max(0.0, min(next_purge, next_resync, next_check) - loop.time()))
        try:
            if loop.time() >= next_check:
                next_check = loop.time() + settings.instance_shutdown_check_interval
                await compute.notice_guest_shutdowns()
                await compute.resume_image_creations()  # decision 0148
                await compute.spot_upkeep()  # decision 0202
            if loop.time() >= next_purge:
                next_purge = loop.time() + settings.sweeper_interval
                await compute.purge_terminated()
            if loop.time() >= next_resync:
                next_resync = loop.time() + settings.compute_resync_interval
                await compute.resync_hosts()
        except Exception:  # a failed round must not end the loop; the next one retries
            log.exception("compute upkeep failed")


async def auto_invoicing(
    settings: Settings, identity: IdentityService, billing: BillingService, audit: AuditService
) -> None:
    """Every ``billing_sample_interval``: once ``billing_auto_invoice_delay`` has passed since
    a month's end, every open tenant's invoice of that month (decision 0123), each an event of
    its tenant's log by the platform. Suspended tenants are invoiced too (they hold data);
    closed ones are not."""
    delay = timedelta(seconds=settings.billing_auto_invoice_delay or 0)
    while True:
        try:
            tenants = [
                (t.id, t.name)
                for t in await identity.list_tenants()
                if t.status is not TenantStatus.CLOSED
            ]
            for invoice in await billing.issue_due_invoices(tenants, delay):
                audit.record(
                    request_id=f"auto-{invoice.number}",
                    tenant_id=invoice.tenant_id,
                    principal="andromede:auto-invoicing",
                    action="andromede:IssueInvoice",
                    resource=invoice_arn(invoice.tenant_id, invoice.number),
                    outcome=Outcome.SUCCESS,
                )
                log.info("invoice %s issued for %s", invoice.number, invoice.tenant_id)
        except Exception:  # a failed round must not end the loop; the next one retries
            log.exception("automatic invoicing failed")
        await asyncio.sleep(settings.billing_sample_interval)


async def kms_upkeep(settings: Settings, customer_keys: CustomerKeyService) -> None:
    """Destroy KMS keys whose deletion window is over; rotate keys whose rotation is due;
    delete imported key material past its expiry."""
    while True:
        try:
            report = await customer_keys.upkeep()
            for key_id in report.destroyed:
                log.warning("KMS key %s: deletion window over, key material destroyed", key_id)
            for key_id in report.rotated:
                log.info("KMS key %s: rotated automatically", key_id)
            for key_id in report.expired:
                log.warning("KMS key %s: imported key material expired, deleted", key_id)
        except Exception:  # a failed round must not end the loop; the next one retries
            log.exception("KMS key upkeep failed")
        await asyncio.sleep(settings.kms_upkeep_interval)


async def autoscaling_upkeep(settings: Settings, reconciler: Reconciler) -> None:
    """Every ``autoscaling_interval``: converge the Auto Scaling groups this gateway holds or
    may take (decision 0156); a group held by another gateway's running lease is left to it."""
    while True:
        await asyncio.sleep(settings.autoscaling_interval)
        try:
            await reconciler.run_once()
        except Exception:  # a failed round must not end the loop; the next one retries
            log.exception("Auto Scaling reconciliation failed")
