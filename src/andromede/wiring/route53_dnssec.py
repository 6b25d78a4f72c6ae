"""Route 53's DNSSEC signing wired (decision 0317): its store over the metadata database, the
key-signing keys checked and used in KMS as ``dnssec-route53.amazonaws.com``
(``route53_dnssec_keys``), the zone-signing keys' private keys sealed under the account's
key as queued messages are (``wiring.queues.KeySealer``), the operations on the Route 53 app,
a zone's DNSSEC state deleted with it, and the signing material the public name servers
sign with."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from andromede.audit.service import AuditService
from andromede.billing.service import BillingService
from andromede.db.database import Database
from andromede.kms.customer_keys import CustomerKeyService
from andromede.kms.service import KeyService
from andromede.route53.dnssec import DnssecService
from andromede.route53.dnssec_material import SigningMaterial
from andromede.route53.dnssec_store_sql import SqlDnssecStore
from andromede.route53.service import Route53Service
from andromede.route53_dnssec_keys import KmsKeySigningKeys
from andromede.route53api.app import Route53App
from andromede.settings import Settings
from andromede.wiring.queues import KeySealer

__all__ = ["route53_dnssec"]


def route53_dnssec(
    app: Route53App,
    service: Route53Service,
    settings: Settings,
    db: Database,
    customer_keys: CustomerKeyService,
    keys: KeyService,
    audit: AuditService | None,
    billing: BillingService | None,
) -> tuple[SigningMaterial, Callable[[str], Awaitable[int]]]:
    """The name servers' signing material, and what closing a tenant deletes of DNSSEC."""
    store = SqlDnssecStore(db)
    kms = KmsKeySigningKeys(customer_keys, settings.region, audit, billing)
    sealer = KeySealer(keys)
    app.dnssec = DnssecService(service, store, kms, sealer)
    before = service.zone_deleted

    async def zone_deleted(tenant_id: str, zone_id: str) -> None:
        if before is not None:
            await before(tenant_id, zone_id)
        await store.delete_zone(tenant_id, zone_id)

    service.zone_deleted = zone_deleted
    material = SigningMaterial(
        store,
        kms,
        sealer,
        settings.route53_dnssec_signature_validity_seconds,
        settings.route53_dnssec_zsk_rotation_seconds,
    )
    return material, store.forget_tenant
