"""What other contexts ask of customer keys, with no KMS API call of their own: the
AWS-managed keys made on first use, the key an SSE-KMS object or an EBS volume uses (checked
for its caller, or for a use the platform makes on a resource's behalf), the external layer
of such data keys for keys of an external key store, and the crypto-shredding of a closed
account's keys.

Mixed into :class:`~andromede.kms.customer_keys.CustomerKeyService`; split off only for size.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING

from andromede.http.requester import requester
from andromede.kms.ciphertext import ExternalLayer
from andromede.kms.keys_errors import AliasAlreadyExists, CmkInvalidState, CmkNotFound
from andromede.kms.keys_interface import Caller, SseKey
from andromede.kms.keys_model import (
    KEY_MANAGER_AWS,
    RESERVED_ALIAS_PREFIX,
    Alias,
    CustomerKey,
    KeyState,
    ReferenceKind,
    aws_managed_key_policy,
    parse_key_reference,
    record_id_of,
)
from andromede.kms.xks_client import XksRequestMetadata

if TYPE_CHECKING:  # custom_key_stores imports customer_keys' Caller and KeyAuthoriser
    from andromede.kms.custom_key_stores import CustomKeyStoreService

from andromede.kms.customer_keys_core import _UPKEEP_BATCH, CustomerKeysCore

__all__ = ["ServiceUseMixin"]


def _service_metadata(key: CustomerKey, operation: str, via_service: str) -> XksRequestMetadata:
    """What the proxy is told of a use S3 or EBS makes of a key (the spec's Appendix B): who
    asked — the principal of the S3 or EC2 request being served and that request's id, which
    the key use's audit record carries too (the spec's kmsRequestId is the id the customer
    finds in the audit trail) — or, for work no caller asked for, the platform's own use
    (``AWS Internal``) with a request id of its own; the operation, the key's ARN and the
    service. A ``via_service`` without a region (``s3.amazonaws.com``) is the service in the
    key's region (decision 0142: S3 uses only keys of the bucket's region, so the key's region
    is the bucket's, and one object cipher serves every region)."""
    asking = requester()
    service, _, rest = via_service.partition(".")
    if rest == "amazonaws.com":
        via_service = f"{service}.{key.region}.amazonaws.com"
    return XksRequestMetadata(
        kms_operation=operation,
        kms_request_id=str(uuid.uuid4()) if asking is None else asking.request_id,
        aws_principal_arn="AWS Internal" if asking is None else asking.principal_arn,
        kms_key_arn=key.arn,
        kms_via_service=via_service,
        account_id=key.tenant_id,
    )


class ServiceUseMixin(CustomerKeysCore):
    """The uses S3, EBS and the platform make of customer keys (mixed into CustomerKeyService)."""

    # --- the SSE-KMS hook --------------------------------------------------------------

    async def aws_managed_key(self, account_id: str, service: str) -> tuple[CustomerKey, bool]:
        """The account's AWS-managed key for ``service`` (alias ``alias/aws/<service>``), made on
        first use as AWS does, by the platform (no caller to authorise); True if this call made
        it. Its policy lets the account use it through the service only and manage nothing."""
        name = f"{RESERVED_ALIAS_PREFIX}{service}"
        alias = await self._store.get_alias(account_id, self._region, name)
        if alias is not None:
            existing = await self._store.get_key(alias.key_id)
            if existing is not None:
                return existing, False
        key = CustomerKey(
            key_id=str(uuid.uuid4()),
            tenant_id=account_id,
            region=self._region,
            description=f"Default key that protects my {service.upper()} objects when no "
            "other key is defined",
            state=KeyState.ENABLED,
            created_at=self._clock(),
            policy=aws_managed_key_policy(account_id, service, self._region),
            key_manager=KEY_MANAGER_AWS,
        )
        await self._provider(self._keys.create_tenant_key, key.key_id)
        try:
            await self._store.insert_key(key)
        except BaseException:
            await self._provider(self._keys.destroy_tenant_key, key.key_id)
            raise
        now = self._clock()
        try:
            await self._store.insert_alias(
                Alias(
                    account_id,
                    name,
                    key.key_id,
                    created_at=now,
                    updated_at=now,
                    region=self._region,
                )
            )
        except AliasAlreadyExists:
            # Another request made it first: use that one; this one never protected anything.
            await self._store.delete_key(key.key_id)
            await self._provider(self._keys.destroy_tenant_key, key.key_id)
            return await self.aws_managed_key(account_id, service)
        return key, True

    async def key_for_sse(
        self,
        caller: Caller,
        key_ref: str,
        context: Mapping[str, str],
        *,
        action: str = "kms:GenerateDataKey",
    ) -> SseKey:
        """Check that ``caller`` may use the CMK named by ``key_ref`` (id, ARN, alias name or
        alias ARN) under ``context`` and that it is Enabled; return the key ring that wraps the
        object's data keys. Pass ``action="kms:Decrypt"`` on the read path.

        Raises ``CmkNotFound``, ``CmkAccessDenied``, ``CmkDisabled``, ``CmkInvalidState``."""
        key = self._one_layer(
            self._encrypting(await self._resolve(caller, key_ref, action, context))
        )
        return SseKey(key.key_id, key.arn, key.key_id, key.in_external_key_store)

    async def key_for_service_use(self, key_arn: str, *, alias_arn: bool = False) -> SseKey:
        """The key ``key_arn`` for a use the platform makes on a resource's behalf, under the
        authorisation its caller was checked for when the resource was made — as AWS EBS uses
        the grant it takes on a volume's key: opening a volume's data key at each attach or
        boot. No caller, so no policy: the key must exist and be usable (Enabled, material
        not expired), which is what the customer controls by disabling or deleting it.
        ``alias_arn``: an alias ARN is taken too, resolved now (S3 replication's
        ``ReplicaKmsKeyID`` may be one: re-pointing the alias takes effect at the next use).
        The key is always the one of the ARN's account.

        Raises ``CmkNotFound`` (deleted, or not a key ARN), ``CmkDisabled``, ``CmkInvalidState``."""
        key = await self._service_key(key_arn, alias_arn=alias_arn)
        return SseKey(key.key_id, key.arn, key.key_id, key.in_external_key_store)

    async def key_record_for_service_use(
        self, key_arn: str, *, alias_arn: bool = False
    ) -> CustomerKey:
        """:meth:`key_for_service_use`'s key as its whole record (its policy and tags), for a
        service that must find its own service principal allowed by the key's policy before
        it uses the key, or a tag on it (EventBridge, decision 0204: AWS requires the policy
        to let ``events.amazonaws.com`` in for archives, the tag
        ``EventBridgeApiDestinations=true`` for connections). Same errors."""
        return await self._service_key(key_arn, alias_arn=alias_arn)

    async def signing_key_for_service_use(self, key_arn: str) -> CustomerKey:
        """The key ``key_arn`` (a key ARN) as a service principal finds it before it signs
        with it (Route 53's DNSSEC, decision 0317): usable, of any usage and spec (the
        service checks them, with its own errors), its policy for the service to judge.
        Same errors as :meth:`key_for_service_use`."""
        return self._usable(await self._service_key_record(key_arn, alias_arn=False))

    async def _service_key(self, key_arn: str, *, alias_arn: bool) -> CustomerKey:
        key = await self._service_key_record(key_arn, alias_arn=alias_arn)
        return self._one_layer(self._encrypting(key))

    async def _service_key_record(self, key_arn: str, *, alias_arn: bool) -> CustomerKey:
        reference = parse_key_reference(key_arn)
        kinds = (
            (ReferenceKind.KEY_ARN, ReferenceKind.ALIAS_ARN)
            if alias_arn
            else (ReferenceKind.KEY_ARN,)
        )
        if reference is None or reference.kind not in kinds or reference.account is None:
            raise CmkNotFound(f"Key '{key_arn[:256]}' does not exist")
        key_id: str | None = record_id_of(reference.value, reference.region or self._region)
        if reference.is_alias:
            # An alias ARN names the alias of its own region (decision 0138).
            region = reference.region or self._region
            alias = await self._store.get_alias(reference.account, region, reference.value)
            key_id = None if alias is None else alias.key_id
        key = None if key_id is None else await self._store.get_key(key_id)
        if key is None or key.tenant_id != reference.account or key.region != reference.region:
            raise CmkNotFound(f"Key '{key_arn[:256]}' does not exist")
        return key

    def _one_layer(self, key: CustomerKey) -> CustomerKey:
        """A key of an external key store wraps the data keys of S3 objects and EBS volumes in
        two layers (decision 0094): its ring is marked so in the key service, which from then
        on neither makes nor opens a one-layer key of it bound to a context. Refused where no
        external key stores are offered (nothing could add the customer's layer)."""
        if key.in_external_key_store:
            if self._xks is None:
                raise CmkInvalidState(f"{key.arn} is in an external key store, not offered here")
            self._keys.mark_external(key.key_id)
        return key

    # --- the external layer of S3's and EBS's data keys (kms.external_keys.ExternalDataKeys) ---

    async def wrap_data_key(
        self,
        ring: str,
        kek_version: int,
        sealed: bytes,
        bound_context: bytes,
        *,
        operation: str,
        via_service: str,
    ) -> ExternalLayer:
        """The proxy's Encrypt of the inner form of a data key of the KMS key ``ring``."""
        key, xks = await self._external_key(ring)
        return await xks.wrap_data_key(
            key, kek_version, sealed, bound_context, _service_metadata(key, operation, via_service)
        )

    async def unwrap_data_key(
        self,
        ring: str,
        kek_version: int,
        layer: ExternalLayer,
        bound_context: bytes,
        *,
        operation: str,
        via_service: str,
    ) -> bytes:
        """The inner form of a two-layer data key of the KMS key ``ring``, from the proxy."""
        key, xks = await self._external_key(ring)
        return await xks.unwrap_data_key(
            key, kek_version, layer, bound_context, _service_metadata(key, operation, via_service)
        )

    async def _external_key(self, ring: str) -> tuple[CustomerKey, CustomKeyStoreService]:
        """The usable KMS key of an external key store whose ring is ``ring``: read again for
        each proxy call (its state may have changed since the request's check)."""
        key = await self._store.get_key(ring)
        if key is None:
            raise CmkNotFound("the key of this data key does not exist")
        if not key.in_external_key_store or self._xks is None:
            raise CmkInvalidState(f"{key.arn} is not in an external key store")
        return self._usable(key), self._xks

    # --- closed accounts ---------------------------------------------------------------

    async def destroy_account_keys(self, account_id: str) -> tuple[str, ...]:
        """Crypto-shred every KMS key of a closed account at once, its AWS-managed ones
        included: each ring is destroyed in the root-key provider, then the key forgotten. No
        waiting period: closing an account is final (the operator's act, not the tenant's)."""
        destroyed: list[str] = []
        while keys := await self._store.list_keys(account_id, after=None, limit=_UPKEEP_BATCH):
            for key in keys:
                await asyncio.to_thread(self._keys.destroy_tenant_key, key.key_id)
                await self._store.delete_key(key.record_id)
                destroyed.append(key.key_id)
        return tuple(destroyed)
