"""Secrets Manager (decision 0190): where the secrets context meets the customer-managed KMS
keys, its API and its sweeper.

:class:`KmsSecretSealer` seals each version's value in an envelope: a 256-bit data key from
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
import json
import logging
import os
import struct
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.billing.service import BillingService
from andromede.db.database import Database
from andromede.http.ratelimit import RateLimiter
from andromede.iam.model import Principal, PrincipalKind
from andromede.iam.service import IdentityService
from andromede.kms.customer_keys import Caller, CustomerKeyService
from andromede.kms.errors import KmsError
from andromede.kms.keys_errors import CmkAccessDenied, CmkNotFound
from andromede.kms.keys_model import ALIAS_PREFIX, alias_arn, key_arn
from andromede.secrets.errors import DecryptionFailure, EncryptionFailure, KmsAccessDenied
from andromede.secrets.model import Secret, SecretVersion
from andromede.secrets.replication import ReplicationPolicy
from andromede.secrets.service import SecretLimits, SecretService
from andromede.secrets.store_sql import SqlSecretStore
from andromede.secretsapi.app import SecretsApp
from andromede.secretsapi.authorise import KeyUser
from andromede.settings import Settings

__all__ = ["KmsSecretSealer", "envelope_key", "envelopes", "secrets_service", "secrets_upkeep"]

log = logging.getLogger(__name__)

_FORMAT: Final = b"\x01"
_FORMAT_KEPT: Final = b"\x02"  # the new envelope, then the previous one kept
_NONCE: Final = 12
_SERVICE: Final = "secretsmanager.amazonaws.com"
AWS_MANAGED_ALIAS: Final = "alias/aws/secretsmanager"
_KMS_REQUESTS: Final = "kms.requests"


class KmsSecretSealer:
    """``secrets.service.SecretSealer`` over the customer-managed keys."""

    def __init__(
        self,
        customer_keys: CustomerKeyService,
        region: str,
        audit: AuditService | None = None,
        billing: BillingService | None = None,
    ) -> None:
        self._keys = customer_keys
        self._region = region
        self._audit = audit
        self._billing = billing
        self._regional: dict[str, CustomerKeyService] = {customer_keys.region: customer_keys}

    def _kms(self, region: str) -> CustomerKeyService:
        """The KMS endpoint of ``region``: a secret's keys are keys of its own region."""
        found = self._regional.get(region)
        if found is None:
            found = self._regional[region] = self._keys.in_region(region)
        return found

    async def seal(
        self, secret: Secret, version_id: str, plaintext: bytes, caller: object
    ) -> bytes:
        action = "kms:GenerateDataKey"
        key_ref = await self._key_ref(secret)
        context = _context(secret, version_id)
        try:
            made = await self._kms(secret.region).generate_data_key(
                self._caller(caller, secret.region), key_ref, 32, context
            )
        except KmsError as exc:
            self._record(caller, secret, action, key_ref, type(exc).__name__)
            if _refused(exc, key_ref, caller):
                raise KmsAccessDenied("Access to KMS is not allowed") from None
            raise EncryptionFailure(
                "Secrets Manager can't encrypt the protected secret text using the provided "
                "KMS key. Check that the KMS key is available, enabled, and not in an invalid "
                "state."
            ) from None
        self._record(caller, secret, action, made.key.arn, None)
        self._count(caller, made.key.arn)
        assert made.plaintext is not None  # noqa: S101 (GenerateDataKey with plaintext)
        header = json.dumps({"k": made.key.arn}, separators=(",", ":")).encode()
        nonce = os.urandom(_NONCE)
        aad = _aad(secret, version_id, header)
        sealed = AESGCM(made.plaintext).encrypt(nonce, plaintext, aad)
        return b"".join(
            (
                _FORMAT,
                struct.pack(">H", len(header)),
                header,
                struct.pack(">H", len(made.ciphertext)),
                made.ciphertext,
                nonce,
                sealed,
            )
        )

    async def reseal(
        self, secret: Secret, version: SecretVersion, plaintext: bytes, caller: object
    ) -> bytes:
        """``version``'s value sealed under ``secret``'s (new) key, its present envelope kept
        after the new one (the previous envelope of an earlier change is not kept)."""
        fresh = await self.seal(secret, version.version_id, plaintext, caller)
        previous = envelopes(version.sealed)[0]
        if envelope_key(previous) == envelope_key(fresh):
            return fresh
        return b"".join((_FORMAT_KEPT, struct.pack(">I", len(fresh)), fresh, previous))

    async def open(self, secret: Secret, version: SecretVersion, caller: object) -> bytes:
        try:
            sealed = envelopes(version.sealed)
        except (struct.error, ValueError) as exc:
            raise DecryptionFailure("The secret version's sealed form is not readable.") from exc
        first: DecryptionFailure | KmsAccessDenied | None = None
        for envelope in sealed:
            try:
                return await self._open(secret, version.version_id, envelope, caller)
            except (DecryptionFailure, KmsAccessDenied) as exc:
                first = first or exc  # the newest key's refusal is the one to tell
        assert first is not None  # noqa: S101 (a sealed form has one envelope at least)
        raise first

    async def _open(self, secret: Secret, version_id: str, sealed: bytes, caller: object) -> bytes:
        action = "kms:Decrypt"
        try:
            if sealed[:1] != _FORMAT:
                raise ValueError("unknown sealed form")
            (size,) = struct.unpack(">H", sealed[1:3])
            header = sealed[3 : 3 + size]
            named = str(json.loads(header)["k"])
            (wrapped_size,) = struct.unpack(">H", sealed[3 + size : 5 + size])
            start = 5 + size
            wrapped = sealed[start : start + wrapped_size]
            nonce = sealed[start + wrapped_size : start + wrapped_size + _NONCE]
            body = sealed[start + wrapped_size + _NONCE :]
        except (struct.error, ValueError, KeyError, TypeError) as exc:
            raise DecryptionFailure("The secret version's sealed form is not readable.") from exc
        context = _context(secret, version_id)
        try:
            data_key, _ = await self._kms(secret.region).decrypt(
                self._caller(caller, secret.region), wrapped, context, key_ref=named
            )
        except KmsError as exc:
            self._record(caller, secret, action, named, type(exc).__name__)
            if _refused(exc, named, caller):
                raise KmsAccessDenied("Access to KMS is not allowed") from None
            raise DecryptionFailure(
                "Secrets Manager can't decrypt the protected secret text using the provided "
                "KMS key."
            ) from None
        self._record(caller, secret, action, named, None)
        self._count(caller, named)
        try:
            return AESGCM(data_key).decrypt(nonce, body, _aad(secret, version_id, header))
        except InvalidTag:
            raise DecryptionFailure("The secret version does not open under its key.") from None

    async def _key_ref(self, secret: Secret) -> str:
        """The secret's key as an ARN of the secret's account (its AWS-managed key made now
        if it has none)."""
        ref = secret.kms_key_id
        owner, region = secret.tenant_id, secret.region
        if ref is None or ref in (AWS_MANAGED_ALIAS, alias_arn(region, owner, AWS_MANAGED_ALIAS)):
            made, _ = await self._kms(region).aws_managed_key(owner, "secretsmanager")
            return made.arn
        if ref.startswith("arn:"):
            return ref
        if ref.startswith(ALIAS_PREFIX):
            return alias_arn(region, owner, ref)
        return key_arn(region, owner, ref)

    def _count(self, caller: object, key: str) -> None:
        """One KMS request for the account whose caller Secrets Manager called KMS for (AWS:
        "the AWS account that makes the API request is charged for the key use", another
        account's key included), in the key's region (decision 0150's ``kms.requests``)."""
        if self._billing is None or not isinstance(caller, KeyUser):
            return
        parts = key.split(":")
        region = parts[3] if len(parts) >= 6 and parts[3] else self._region
        account = caller.principal.tenant_id or (parts[4] if len(parts) >= 6 else "")
        if account:
            self._billing.count(account, region, _KMS_REQUESTS)

    def _caller(self, caller: object, region: str) -> Caller:
        if not isinstance(caller, KeyUser):
            raise TypeError("a secret's key is used on behalf of a request's caller")
        principal = caller.principal
        return Caller(
            account_id=principal.tenant_id or "",
            arn=principal.arn,
            principal=principal,
            source_ip=caller.source_ip,
            secure=caller.secure,
            via_service=f"secretsmanager.{region}.amazonaws.com",
            request_id=caller.request_id,
            region=region,
        )

    def _record(
        self, caller: object, secret: Secret, action: str, key: str, error: str | None
    ) -> None:
        if self._audit is None or not isinstance(caller, KeyUser):
            return
        details = {"via": "secretsmanager", "invoked_by": _SERVICE, "SecretARN": secret.arn}
        if error is not None:
            details["error"] = error
        self._audit.record(
            request_id=caller.request_id,
            tenant_id=caller.principal.tenant_id,
            principal=caller.principal.arn,
            action=action,
            resource=key[:2048],
            outcome=Outcome.FAILURE if error is not None else Outcome.SUCCESS,
            details=details,
        )


def _refused(exc: KmsError, key: str, caller: object) -> bool:
    """Whether KMS refused the caller: KMS tells a caller of another account that a key its
    policy does not open to it does not exist (so accounts cannot probe each other's keys);
    the secret names that key, so it is a refusal, as AWS answers it ("Access to KMS is not
    allowed") when another account reads a secret under its owner's AWS-managed key."""
    if isinstance(exc, CmkAccessDenied):
        return True
    account = key.split(":")[4] if key.count(":") >= 5 else None
    return (
        isinstance(exc, CmkNotFound)
        and isinstance(caller, KeyUser)
        and account is not None
        and account != caller.principal.tenant_id
    )


def envelopes(sealed: bytes) -> list[bytes]:
    """A sealed form's envelopes, the newest first: one, or the new and the previous one
    after a change of key. ``ValueError`` for a form of no known format."""
    if sealed[:1] == _FORMAT_KEPT:
        (size,) = struct.unpack(">I", sealed[1:5])
        fresh, previous = sealed[5 : 5 + size], sealed[5 + size :]
        if fresh[:1] != _FORMAT or previous[:1] != _FORMAT:
            raise ValueError("unknown sealed form")
        return [fresh, previous]
    if sealed[:1] != _FORMAT:
        raise ValueError("unknown sealed form")
    return [sealed]


def envelope_key(sealed: bytes) -> str:
    """The ARN of the key an envelope's data key is wrapped under (its header's)."""
    (size,) = struct.unpack(">H", sealed[1:3])
    return str(json.loads(sealed[3 : 3 + size])["k"])


def _context(secret: Secret, version_id: str) -> dict[str, str]:
    return {"SecretARN": secret.arn, "SecretVersionId": version_id}


def _aad(secret: Secret, version_id: str, header: bytes) -> bytes:
    return b"\n".join((secret.arn.encode(), version_id.encode(), header))


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
    return SecretService(
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
    )


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
    durable task (decision 0207)."""
    await asyncio.gather(_sweep(settings, secrets), secrets_replication(settings, secrets))


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
