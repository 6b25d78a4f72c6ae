"""Secrets Manager (decision 0190): where the secrets context meets the customer-managed KMS
keys, its API and its sweeper.

:class:`KmsSecretSealer` seals each version's value in an envelope (``wiring.kms_envelopes``,
which Systems Manager's SecureString parameters share, decision 0229): a 256-bit data key from
KMS GenerateDataKey under the secret's key (the account's AWS-managed
``alias/aws/secretsmanager``, made on first use as SQS's ``alias/aws/sqs`` is, unless the
secret names another), with AWS's encryption context (``SecretARN``, ``SecretVersionId``) and
``kms:ViaService`` = ``secretsmanager.<region>.amazonaws.com``, on behalf of the request's
caller, so the key policy, grants and IAM decide as they do on AWS; the value is then
AES-256-GCM under the data key (its AAD the secret's ARN and the version id) and only the
wrapped data key is kept beside it. Each read asks KMS Decrypt for the version's data key
again (no cache: a disabled key or a revoked right stops the next read). Each KMS use is
audited (``kms:GenerateDataKey`` / ``kms:Decrypt`` on the key, ``invoked_by``
``secretsmanager.amazonaws.com``); refusals map to Secrets Manager's errors: the caller not
allowed → ``AccessDeniedException`` ("Access to KMS is not allowed"), any other →
``EncryptionFailure`` / ``DecryptionFailure``.

**Metering** (decision 0190, session 49). Each KMS call the sealer makes on a customer's behalf
is a KMS request, as AWS bills Secrets Manager's GenerateDataKey and Decrypt calls (under the
AWS-managed ``alias/aws/secretsmanager`` key as under a customer-managed one): one
``kms.requests`` for the account of the caller Secrets Manager calls KMS for (AWS charges "the
AWS account that makes the API request", under another account's key too), in the key's
region, once the call succeeded, through the ``BillingService.count`` S3's, SQS's and Logs's
key uses go through (decision 0150). A refused or failed call (no right, a disabled key:
``AccessDeniedException``, ``EncryptionFailure``, ``DecryptionFailure``) is no request billed,
as the KMS API does not bill them; the platform's making of the AWS-managed key is not
counted. There is no data key cache, so every read is one Decrypt counted; a read that tries a
kept previous envelope after the new one was refused counts the one call that succeeded.

A version re-encrypted under a secret's new key keeps its previous envelope too, as AWS
"keeps all existing versions encrypted with the previous key" (decision 0190, session 49): its
sealed form is then the new envelope and the previous one, and a read opens the first that
KMS lets it.

**Regions** (decision 0207). A secret's key is a key of the secret's own region: the sealer
asks that region's KMS (``CustomerKeyService.in_region``), whose ``aws/secretsmanager`` it
makes there, with ``kms:ViaService`` ``secretsmanager.<the secret's region>.amazonaws.com``
— so a replica is sealed under a key of the replica's region. The replication's durable task
runs in :func:`secrets_upkeep` every ``secrets_replication_retry_interval``, as Secrets
Manager acting for the account (its root principal, decision 0204's convention).
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Final

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.billing.service import BillingService
from andromede.db.database import Database
from andromede.http.ratelimit import RateLimiter
from andromede.iam.model import Principal, PrincipalKind
from andromede.iam.service import IdentityService
from andromede.kms.customer_keys import CustomerKeyService
from andromede.kms.errors import KmsError
from andromede.secrets.errors import DecryptionFailure, EncryptionFailure, KmsAccessDenied
from andromede.secrets.model import Secret, SecretVersion
from andromede.secrets.replication import ReplicationPolicy
from andromede.secrets.rotation import RotationAudit
from andromede.secrets.rotation_sql import SqlRotationStore
from andromede.secrets.service import SecretLimits, SecretService
from andromede.secrets.store_sql import SqlSecretStore
from andromede.secretsapi.app import SecretsApp
from andromede.secretsapi.authorise import KeyUser
from andromede.settings import Settings
from andromede.wiring.kms_envelopes import (
    EnvelopeService,
    KmsEnvelopeSealer,
    envelopes,
    kept_form,
)

__all__ = ["KmsSecretSealer", "secrets_service", "secrets_upkeep"]

log = logging.getLogger(__name__)

SECRETS_MANAGER: Final = "secretsmanager.amazonaws.com"


def _open_failed(why: str, _: KmsError | None) -> DecryptionFailure:
    return DecryptionFailure(
        why or "Secrets Manager can't decrypt the protected secret text using the provided KMS key."
    )


_SECRETS_MANAGER: Final = EnvelopeService(
    "secretsmanager",
    refused=lambda: KmsAccessDenied("Access to KMS is not allowed"),
    seal_failed=lambda _: EncryptionFailure(
        "Secrets Manager can't encrypt the protected secret text using the provided KMS key. "
        "Check that the KMS key is available, enabled, and not in an invalid state."
    ),
    open_failed=_open_failed,
    owner_detail="SecretARN",
)


class KmsSecretSealer:
    """``secrets.service.SecretSealer`` over the customer-managed keys: the envelope of
    ``wiring.kms_envelopes`` with Secrets Manager's context and errors."""

    def __init__(
        self,
        customer_keys: CustomerKeyService,
        region: str,
        audit: AuditService | None = None,
        billing: BillingService | None = None,
    ) -> None:
        self._envelopes = KmsEnvelopeSealer(_SECRETS_MANAGER, customer_keys, region, audit,
                                            billing)  # fmt: skip

    async def seal(
        self, secret: Secret, version_id: str, plaintext: bytes, caller: object
    ) -> bytes:
        return await self._envelopes.seal(
            secret, _context(secret, version_id), _binding(secret, version_id), plaintext,
            _user(caller),
        )  # fmt: skip

    async def reseal(
        self, secret: Secret, version: SecretVersion, plaintext: bytes, caller: object
    ) -> bytes:
        """``version``'s value sealed under ``secret``'s (new) key, its present envelope kept
        after the new one (the previous envelope of an earlier change is not kept)."""
        fresh = await self.seal(secret, version.version_id, plaintext, caller)
        return kept_form(fresh, envelopes(version.sealed)[0])

    async def open(self, secret: Secret, version: SecretVersion, caller: object) -> bytes:
        vid = version.version_id
        return await self._envelopes.open(
            secret, _context(secret, vid), _binding(secret, vid), version.sealed, _user(caller)
        )


def _user(caller: object) -> KeyUser:
    if not isinstance(caller, KeyUser):
        raise TypeError("a secret's key is used on behalf of a request's caller")
    return caller


def _context(secret: Secret, version_id: str) -> dict[str, str]:
    return {"SecretARN": secret.arn, "SecretVersionId": version_id}


def _binding(secret: Secret, version_id: str) -> bytes:
    return b"\n".join((secret.arn.encode(), version_id.encode()))


def as_secrets_manager(account: str) -> KeyUser:
    """The caller Secrets Manager's background replication uses a key for: the account's root
    principal (a key whose policy lets the account use it lets the replication through),
    audited ``invoked_by`` ``secretsmanager.amazonaws.com`` by the sealer."""
    root = Principal(account, None, None, PrincipalKind.ROOT, f"arn:aws:iam::{account}:root")
    return KeyUser(root, None, True, f"secretsmanager-replication-{os.urandom(8).hex()}")


def replication_policy(
    settings: Settings, identity: IdentityService | None = None
) -> ReplicationPolicy:
    """Where replicas may go (the declared regions, the account's allow-list) and how the
    durable task retries, from the settings (decision 0207)."""
    return ReplicationPolicy(
        regions=frozenset(r.name for r in settings.declared_regions),
        served=settings.served_region_names,
        allowed=None if identity is None else identity.allowed_regions,
        background_caller=as_secrets_manager,
        retry_interval=settings.secrets_replication_retry_interval,
        max_backoff=settings.secrets_replication_max_backoff,
    )


def secrets_service(
    settings: Settings,
    db: Database,
    customer_keys: CustomerKeyService,
    audit: AuditService | None = None,
    billing: BillingService | None = None,
    identity: IdentityService | None = None,
) -> SecretService:
    """The secrets service of ``serve``, over the metadata database, its KMS calls metered
    when ``billing`` is given, its replicas kept to the account's allowed regions when
    ``identity`` is given."""
    service = SecretService(
        SqlSecretStore(db),
        KmsSecretSealer(customer_keys, settings.region, audit, billing),
        SecretLimits(
            max_value_size=settings.secrets_max_value_size,
            max_secrets=settings.secrets_max_secrets,
            max_versions=settings.secrets_max_versions,
            max_tags=settings.secrets_max_tags,
            version_grace=settings.secrets_version_grace,
            max_versions_held=settings.secrets_max_versions_held,
        ),
        replication=replication_policy(settings, identity),
        rotations=SqlRotationStore(db),
    )
    service.rotation.lease_seconds = settings.secrets_rotation_lease_seconds
    if audit is not None:
        service.rotation.audit = rotation_audit(audit)
    return service


def rotation_audit(audit: AuditService) -> RotationAudit:
    """A rotation's run in the secret's account's trail (decision 0303): Secrets Manager its
    principal, ``secretsmanager:RotationStarted`` / ``RotationSucceeded`` / ``RotationFailed``
    on the secret's ARN, the failed step's error in the details."""

    def record(tenant_id: str, event: str, secret_arn: str, error: str | None) -> None:
        details = {"invoked_by": SECRETS_MANAGER}
        if error is not None:
            details["error"] = error
        audit.record(
            request_id=os.urandom(8).hex().upper(),
            tenant_id=tenant_id,
            principal=SECRETS_MANAGER,
            action=f"secretsmanager:{event}",
            resource=secret_arn,
            outcome=Outcome.FAILURE if error is not None else Outcome.SUCCESS,
            details=details,
        )

    return record


def secrets_api(
    settings: Settings,
    db: Database,
    customer_keys: CustomerKeyService,
    identity: IdentityService,
    audit: AuditService,
    rate_limiter: RateLimiter | None,
    billing: BillingService | None,
) -> tuple[SecretsApp, asyncio.Task[None]]:
    """The Secrets Manager API app of ``serve`` and its sweep of the secrets past their
    recovery window, started."""
    secrets = secrets_service(settings, db, customer_keys, audit, billing, identity)
    app = SecretsApp(secrets, identity, audit, settings, rate_limiter, billing=billing)
    return app, asyncio.create_task(secrets_upkeep(settings, secrets), name="secrets")


async def secrets_upkeep(settings: Settings, secrets: SecretService) -> None:
    """Every ``secrets_sweep_interval``: purge the secrets whose recovery window is over, and
    remove the versions beyond the kept number whose grace is over. Every gateway runs it; the
    store's purge skips the rows another one holds, a version removal is a revision-checked
    write (two gateways at once: one writes, the other skips). Beside it, the replication's
    durable task (decision 0207) and the scheduled rotations (decision 0303)."""
    await asyncio.gather(
        _sweep(settings, secrets),
        secrets_replication(settings, secrets),
        secrets_rotations(settings, secrets),
    )


async def secrets_rotations(settings: Settings, secrets: SecretService) -> None:
    """Every ``secrets_rotation_poll_interval``: run the rotations whose window is open, each
    under its lease (one gateway runs a rotation; the others skip it)."""
    try:
        while True:
            try:
                if ran := await secrets.rotation.run_due():
                    log.info("secrets: %d scheduled rotations run", ran)
            except Exception:  # a failed round must not end the loop; the next one retries
                log.exception("Secrets Manager rotation failed")
            await asyncio.sleep(settings.secrets_rotation_poll_interval)
    finally:
        await secrets.rotation.stop()


async def secrets_replication(settings: Settings, secrets: SecretService) -> None:
    """Every ``secrets_replication_retry_interval``: sync the replicas due in the regions this
    gateway serves (changes made through a gateway not serving them, and failed syncs whose
    backoff is over). A replica written by two gateways at once: one wins, the other's
    revision-checked write retries later."""
    while True:
        try:
            if synced := await secrets.replication.run_due():
                log.info("secrets: %d replicas brought in sync", synced)
        except Exception:  # a failed round must not end the loop; the next one retries
            log.exception("Secrets Manager replication failed")
        await asyncio.sleep(settings.secrets_replication_retry_interval)


async def _sweep(settings: Settings, secrets: SecretService) -> None:
    while True:
        try:
            for arn in await secrets.purge_due():
                log.info("secret %s: recovery window over, deleted", arn)
            if removed := await secrets.prune_versions():
                log.info("secrets: %d versions past their grace removed", removed)
        except Exception:  # a failed round must not end the loop; the next one retries
            log.exception("Secrets Manager sweep failed")
        await asyncio.sleep(settings.secrets_sweep_interval)
