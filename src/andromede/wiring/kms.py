"""KMS's wiring: the customer keys over the database, decided by key policies with IAM's
policies, with the external key stores' client, each of whose calls is audited (decision 0090).
"""

from __future__ import annotations

from collections.abc import Callable

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.db.database import Database
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.kms.custom_key_stores import CustomKeyStoreService
from andromede.kms.customer_keys import CustomerKeyService
from andromede.kms.keys_store_sql import SqlCustomerKeyStore
from andromede.kms.service import KeyService
from andromede.kms.xks_client import XksCall, XksClient
from andromede.kms.xks_store_sql import SqlCustomKeyStoreStore
from andromede.kmsapi.authorise import KmsAuthoriser, alias_names
from andromede.settings import Settings

__all__ = ["customer_key_service", "xks_auditor"]


def customer_key_service(
    settings: Settings,
    db: Database,
    identity: IdentityService,
    keys: KeyService,
    audit: AuditService | None = None,
) -> CustomerKeyService:
    """The KMS keys over ``db``, decided by key policies with ``identity``'s IAM policies, and
    the external key stores (their proxies' secrets sealed as IAM's access-key secrets are;
    every proxy call audited when ``audit`` is given)."""
    key_store = SqlCustomerKeyStore(db)
    authoriser = KmsAuthoriser(
        identity.policies_for, settings.region, key_aliases=alias_names(key_store)
    )
    client = XksClient(
        region=settings.region,
        timeout=settings.xks_timeout,
        allowed_networks=settings.xks_allowed_networks,
        ca_bundle=settings.xks_ca_bundle,
        client_certificate=(
            None
            if settings.xks_client_cert is None or settings.xks_client_key is None
            else (settings.xks_client_cert, settings.xks_client_key)
        ),
        max_connections=settings.xks_max_connections,
        on_call=None if audit is None else xks_auditor(audit),
    )
    external_stores = CustomKeyStoreService(
        SqlCustomKeyStoreStore(db),
        key_store,
        authoriser,
        client,
        SecretSealer.from_key_file(settings.data_dir / "keys" / "secrets.key"),
    )
    return CustomerKeyService(
        key_store,
        keys,
        authoriser,
        region=settings.region,
        on_demand_rotations=settings.kms_on_demand_rotations,
        grants_per_key=settings.kms_grants_per_key,
        external_stores=external_stores,
        regions=[r.name for r in settings.declared_regions],
    )


def xks_auditor(audit: AuditService) -> Callable[[XksCall], None]:
    """Each call to a customer's XKS proxy as an audit record of its own (decision 0090),
    beside the KMS request's: which proxy API, for which KMS operation, request and key, and
    how it ended. Never a plaintext, a key or the credential."""

    def record(call: XksCall) -> None:
        details = {
            "proxy": call.base_url,
            "kms_operation": call.metadata.kms_operation,
            "duration_ms": f"{call.duration_ms:.1f}",
        }
        if call.external_key_id is not None:
            details["xks_key_id"] = call.external_key_id
        if call.failure is not None:
            details["error"] = call.failure.value
        key_arn = call.metadata.kms_key_arn
        audit.record(
            request_id=call.metadata.kms_request_id or "-",
            tenant_id=call.metadata.account_id,
            principal=call.metadata.aws_principal_arn,
            action=f"kms-xks-proxy:{call.operation}",
            resource=key_arn or call.base_url,
            outcome=Outcome.SUCCESS if call.failure is None else Outcome.FAILURE,
            details=details,
        )

    return record
