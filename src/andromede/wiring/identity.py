"""Identity's wiring: the identity service over the database with the data folder's secrets
key, and what closing a tenant does (crypto-shredding first: decision 0050)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from andromede.db.database import Database
from andromede.events.store import EventsStore
from andromede.iam.errors import InvalidTenantTransition
from andromede.iam.model import Tenant, TenantStatus
from andromede.iam.saml import accepted_endpoints
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityLimits, IdentityService
from andromede.iam.store_sql import SqlIdentityStore
from andromede.kms.customer_keys import CustomerKeyService
from andromede.kms.service import KeyService
from andromede.logs.service import LogsService
from andromede.notifications.service import TopicService
from andromede.queues.mover import MessageMover
from andromede.queues.service import QueueService
from andromede.settings import Settings
from andromede.storage.model import Bucket

__all__ = ["identity_service", "tenant_closer"]

log = logging.getLogger(__name__)


def identity_service(settings: Settings, db: Database) -> IdentityService:
    """The identity service over ``db``, with the secrets key of the data folder."""
    recipients, audiences = accepted_endpoints(
        settings.saml_endpoints, settings.saml_accept_aws_endpoints, settings.region
    )
    limits = IdentityLimits(
        cache_ttl=settings.identity_cache_ttl,
        key_usage_flush_interval=settings.key_usage_flush_interval,
        max_policies_per_entity=settings.max_policies_per_entity,
        server_certificates_per_account=settings.max_server_certificates_per_tenant,
        password_min_length=settings.password_min_length,
        credential_report_lifetime=settings.credential_report_lifetime,
        linked_role_deletion_timeout=settings.linked_role_deletion_timeout,
        simulation_max_evaluations=settings.simulation_max_evaluations,
        login_max_failures=settings.login_max_failures,
        login_backoff_max=settings.login_backoff_max,
        console_session_idle_timeout=settings.console_session_idle_timeout,
        console_session_lifetime=settings.console_session_lifetime,
        oidc_ca_bundle=settings.oidc_ca_bundle,
        oidc_timeout=settings.oidc_timeout,
        oidc_allowed_networks=settings.oidc_allowed_networks,
        oidc_jwks_cache_ttl=settings.oidc_jwks_cache_ttl,
        oidc_max_document_size=settings.oidc_max_document_size,
        saml_recipients=recipients,
        saml_audiences=audiences,
        saml_clock_skew=settings.saml_clock_skew,
        saml_max_metadata_size=settings.saml_max_metadata_size,
    )
    return IdentityService(
        SqlIdentityStore(db),
        SecretSealer.from_key_file(settings.data_dir / "keys" / "secrets.key"),
        limits=limits,
    )


def tenant_closer(
    identity: IdentityService,
    keys: KeyService,
    customer_keys: CustomerKeyService,
    *,
    buckets: Callable[[str], Awaitable[list[Bucket]]],
    topics: TopicService,
    queues: QueueService | None = None,
    moves: MessageMover | None = None,
    logs: LogsService | None = None,
    events: EventsStore | None = None,
    others: Sequence[Callable[[str], Awaitable[object]]] = (),
) -> Callable[[str], Awaitable[Tenant]]:
    """What closing a tenant does, from the management API and the command line alike.
    ``buckets``: the tenant's buckets (the object service's ``list_buckets``); ``topics``:
    its event notification topics, deleted with the events queued for them (decision 0132);
    ``queues``: its SQS-style queues, deleted with their messages, which the key ring's
    destruction has made unreadable already (decision 0158); ``moves``: their message move
    tasks (decision 0165); ``logs``: its CloudWatch Logs groups, deleted with their events
    (decision 0186); ``events``: its EventBridge buses, rules and targets, so that no
    schedule of it fires again (decision 0192); ``others``: what other contexts delete of a
    closed tenant (Firehose's streams and buffered records, decision 0223)."""

    async def close(reference: str) -> Tenant:
        """Close the tenant for good, crypto-shredding it first (issue 5, decision 0050):
        every KMS key of its account and its own key ring are destroyed in the root-key
        provider, so no object, volume or ciphertext of it can be read again, whatever
        database copy is restored later. Shredding comes first: if it fails the tenant is
        not closed, and closing again retries it (each destruction is idempotent).

        Refused while the tenant has a bucket with Object Lock (decision 0102): shredding
        would destroy versions that a retention or legal hold promises to keep. The bucket
        goes once its versions may (deleting it needs it empty), then the tenant closes."""
        tenant = await identity.get_tenant(reference)
        if tenant.status is not TenantStatus.CLOSED:
            locked = sorted(b.name for b in await buckets(tenant.id) if b.object_lock is not None)
            if locked:
                raise InvalidTenantTransition(
                    "the tenant has buckets with Object Lock, whose versions closing would "
                    "destroy: " + ", ".join(locked[:10])
                )
            destroyed = await customer_keys.destroy_account_keys(tenant.id)
            await asyncio.to_thread(keys.destroy_tenant_key, tenant.id)
            forgotten = await topics.forget_tenant(tenant.id)
            if queues is not None:
                await queues.forget_tenant(tenant.id)
            if moves is not None:
                await moves.forget_tenant(tenant.id)
            if logs is not None:
                await logs.forget_tenant(tenant.id)
            if events is not None:
                await events.forget_tenant(tenant.id)
            for forget in others:
                await forget(tenant.id)
            log.warning(
                "tenant %s closing: its key ring, %d KMS keys and %d notification topics destroyed",
                tenant.id,
                len(destroyed),
                forgotten,
            )
        return await identity.close_tenant(tenant.id)

    return close
