"""Route 53's key-signing keys in KMS (decision 0317), where the route53, KMS and IAM contexts
meet: the ``route53.dnssec.KskKeys`` and ``route53.dnssec_material.KskSigner`` ports.

A KSK is a KMS key Route 53's DNSSEC service principal, ``dnssec-route53.amazonaws.com``, uses
for the zone, as on AWS: a key ARN of the zone's account (AWS wants the key in us-east-1; this
platform's KMS being regional, any served Region of the account is taken), a customer managed
key, enabled, ``ECC_NIST_P256`` with the usage ``SIGN_VERIFY``, in no external key store, whose
key policy lets the service do ``kms:DescribeKey`` and ``kms:GetPublicKey`` (checked when the
KSK is made or activated) and ``kms:Sign`` (at each signature), judged with ``aws:SourceArn``
the hosted zone's ARN and ``aws:SourceAccount`` the account, as AWS's documented key policy
conditions them; anything else is ``InvalidKMSArn``. The key's private key never leaves KMS:
the DNSKEY set is signed by ``sign_as_service`` (``ECDSA_SHA_256``).

Each use is a KMS request billed to the account (``kms.requests``) and an audit record
(``kms:DescribeKey``, ``kms:GetPublicKey``, ``kms:Sign`` on the key, ``invoked_by`` the
service), a refusal audited too and never billed, as the other services' key uses are.
"""

from __future__ import annotations

import uuid
from typing import Final

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.billing.service import BillingService
from andromede.iam.policy.service_grants import service_may
from andromede.kms.customer_keys import CustomerKeyService
from andromede.kms.errors import KmsError
from andromede.kms.keys_model import KEY_MANAGER_CUSTOMER, KEY_USAGE_SIGN_VERIFY, CustomerKey
from andromede.route53.dnssec_material import KskRefused
from andromede.route53.dnssec_model import KeySigningKey
from andromede.route53.errors import InvalidKMSArn

__all__ = ["DNSSEC_SERVICE", "KmsKeySigningKeys"]

DNSSEC_SERVICE: Final = "dnssec-route53.amazonaws.com"
_SPEC: Final = "ECC_NIST_P256"
_ALGORITHM: Final = "ECDSA_SHA_256"


def _zone_arn(zone_id: str) -> str:
    return f"arn:aws:route53:::hostedzone/{zone_id}"


class KmsKeySigningKeys:
    def __init__(
        self,
        keys: CustomerKeyService,
        region: str,
        audit: AuditService | None = None,
        billing: BillingService | None = None,
    ) -> None:
        self._keys = keys
        self._region = region
        self._audit = audit
        self._billing = billing

    def _used(self, tenant_id: str, zone_id: str, action: str, key: str, error: str | None) -> None:
        if error is None and self._billing is not None:
            self._billing.count(tenant_id, self._region, "kms.requests")
        if self._audit is None:
            return
        details = {"via": "route53", "invoked_by": DNSSEC_SERVICE, "resource": _zone_arn(zone_id)}
        if error is not None:
            details["error"] = error
        self._audit.record(
            request_id=uuid.uuid4().hex.upper()[:16],
            tenant_id=tenant_id,
            principal=DNSSEC_SERVICE,
            action=action,
            resource=key[:2048],
            outcome=Outcome.FAILURE if error is not None else Outcome.SUCCESS,
            details=details,
        )

    async def _key(self, tenant_id: str, zone_id: str, kms_arn: str, action: str) -> CustomerKey:
        """The key, found usable for the zone and its policy letting the service do
        ``action``; the use recorded either way. ``InvalidKMSArn`` otherwise."""
        parts = kms_arn.split(":")
        if len(parts) != 6 or parts[:3] != ["arn", "aws", "kms"] or parts[4] != tenant_id:
            self._used(tenant_id, zone_id, action, kms_arn, "NotFoundException")
            raise InvalidKMSArn(
                f"The KeyManagementServiceArn {kms_arn[:256]} is not the ARN of a KMS key of"
                " the hosted zone's account."
            )
        try:
            key = await self._keys.signing_key_for_service_use(kms_arn)
        except KmsError as exc:
            self._used(tenant_id, zone_id, action, kms_arn, type(exc).__name__)
            raise InvalidKMSArn(
                f"The KeyManagementServiceArn {kms_arn[:256]} cannot be used: {exc}"
            ) from None
        problem = None
        if key.key_manager != KEY_MANAGER_CUSTOMER:
            problem = "it is not a customer managed key"
        elif key.key_spec != _SPEC or key.key_usage != KEY_USAGE_SIGN_VERIFY:
            problem = f"its key spec must be {_SPEC} and its key usage {KEY_USAGE_SIGN_VERIFY}"
        elif key.in_external_key_store:
            problem = "it is in an external key store"
        if problem is not None:
            self._used(tenant_id, zone_id, action, key.arn, "InvalidKeyUsageException")
            raise InvalidKMSArn(f"The KMS key {key.arn} cannot sign for DNSSEC: {problem}.")
        allowed = service_may(
            key.policy,
            service=DNSSEC_SERVICE,
            action=action,
            resource=key.arn,
            resource_account=tenant_id,
            source_arn=_zone_arn(zone_id),
            source_account=tenant_id,
            region=key.region,
        )
        if not allowed:
            self._used(tenant_id, zone_id, action, key.arn, "AccessDeniedException")
            raise InvalidKMSArn(
                f"The key policy of the KMS key {key.arn} does not allow {DNSSEC_SERVICE} to"
                f" perform {action} for the hosted zone {zone_id}."
            )
        self._used(tenant_id, zone_id, action, key.arn, None)
        return key

    async def public_key(self, tenant_id: str, zone_id: str, kms_arn: str) -> bytes:
        await self._key(tenant_id, zone_id, kms_arn, "kms:DescribeKey")
        key = await self._key(tenant_id, zone_id, kms_arn, "kms:GetPublicKey")
        if key.public_key is None:  # a signing key always has one
            raise InvalidKMSArn(f"The KMS key {key.arn} has no public key.")
        return key.public_key

    async def sign(self, ksk: KeySigningKey, message: bytes) -> bytes:
        try:
            key = await self._key(ksk.tenant_id, ksk.zone_id, ksk.kms_arn, "kms:Sign")
            return await self._keys.sign_as_service(key, message, _ALGORITHM)
        except InvalidKMSArn as exc:
            raise KskRefused(str(exc)) from None
        except KmsError as exc:
            raise KskRefused(f"KMS did not sign with {ksk.kms_arn[:256]}: {exc}") from None
