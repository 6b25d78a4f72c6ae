"""DynamoDB tables under a KMS key (decision 0254): the item sealer of ``dynamodb_keys`` for
tables whose key is the account's AWS-managed ``alias/aws/dynamodb`` or a customer-managed
key, and the ``dynamodb.table_keys.TableKeys`` the API asks when a table's key is set.

**What is sealed under what.** Each table has one 256-bit *table key* T from which its hash
key MAC key and its item sealing key are derived (``dynamodb_keys``). T is held wrapped:

- a table made under the AWS-owned key (the default) holds a data key of the account's key
  ring, and that data key is T (``table_key`` empty), as before this decision;
- once a table's key is set (CreateTable's or UpdateTable's ``SSESpecification``), it holds a
  fresh data key D of the named key's ring (``wrapped_key``) and T sealed under D (AES-256-GCM,
  its AAD the table's ARN and creation time: ``table_key``). A change of key unwraps T under
  the old key and seals it under a data key of the new one: the items, index entries and
  stream records (sealed under keys derived from T) are not touched, as AWS re-wraps its
  table key rather than re-encrypting the table. Backups of the table keep what it holds,
  so they follow its key.

**Using the key.** Setting a customer-managed key asks KMS whether the caller may
``kms:DescribeKey`` and ``kms:CreateGrant`` on it (key policy, grants, IAM, the encryption
context ``aws:dynamodb:tableName`` and ``kms:ViaService`` = ``dynamodb.<region>.amazonaws.com``)
and whether it is an enabled symmetric encryption key, as AWS's DynamoDB asks when it takes its
grant. Afterwards DynamoDB uses the key on its own (the grant's use): each table key opened
for a table's calls checks that the key is usable (enabled, not pending deletion), at most
once per ``dynamodb_table_key_check`` seconds per key; a disabled key makes the table's reads
and writes ``AccessDeniedException`` ("KMS key access denied error") and its description
``INACCESSIBLE_ENCRYPTION_CREDENTIALS`` until the key is enabled again. Each data key made
(``kms:GenerateDataKey``) or opened (``kms:Decrypt``) is audited with ``invoked_by``
``dynamodb.amazonaws.com`` and counted as one ``kms.requests`` of the table's account; an
opened table key is remembered (``dynamodb_keys``' bounded cache), so a busy table costs one
KMS request per process, not one per item.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.billing.service import BillingService
from andromede.dynamodb.model import Table, table_arn
from andromede.dynamodb.table_keys import TableKeyDenied, TableKeyInvalid
from andromede.kms.customer_keys import Caller, CustomerKeyService
from andromede.kms.errors import InvalidWrappedKey, KeyDestroyed, KeyNotFound, KeyWithdrawn
from andromede.kms.keys_errors import (
    CmkAccessDenied,
    CmkDisabled,
    CmkInvalidState,
    CmkNotFound,
    CustomerKeyError,
    InvalidKeyUsage,
)
from andromede.kms.keys_model import alias_arn
from andromede.kms.service import KeyService
from andromede.wiring.dynamodb_keys import DynamoItemSealer, SealedItemUnreadable, _derive
from andromede.wiring.kms_data_keys import DataKeySealer, SealedResource, ServiceUse

__all__ = ["DynamoKmsSealer"]

_DYNAMODB: Final = ServiceUse("dynamodb", "aws:dynamodb:tableName")
_NONCE: Final = 12
_KMS_REQUESTS: Final = "kms.requests"
_KMS_MODEL: Final = "com.amazonaws.services.kms.model"


def _table_key_aad(table: Table) -> bytes:
    return f"dynamodb-table-key\n{table.arn}\n{table.created}".encode()


def _invalid(exc: CustomerKeyError) -> TableKeyInvalid | TableKeyDenied:
    """KMS's refusal in AWS DynamoDB's words (ValidationException but for the caller's right)."""
    message = str(exc)
    if isinstance(exc, CmkAccessDenied):
        return TableKeyDenied(
            f"KMS key access denied error: {_KMS_MODEL}.AWSKMSException: {message}"
        )
    if isinstance(exc, CmkDisabled):
        return TableKeyInvalid(f"KMS key disabled error: {_KMS_MODEL}.DisabledException: {message}")
    if isinstance(exc, CmkNotFound):
        kind = "NotFoundException"
    elif isinstance(exc, InvalidKeyUsage):
        kind, message = (
            "AWSKMSException",
            (
                "EncryptionContext is supported only when creating a grant for a symmetric "
                "encryption KMS key."
            ),
        )
    else:
        kind = "KMSInvalidStateException"
    return TableKeyInvalid(f"KMS validation error: {_KMS_MODEL}.{kind}: {message}")


class DynamoKmsSealer(DynamoItemSealer):
    def __init__(
        self,
        keys: KeyService,
        customer_keys: CustomerKeyService,
        audit: AuditService | None,
        billing: BillingService | None,
        *,
        check_period: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(keys)
        self._customer_keys = customer_keys
        self._audit = audit
        self._billing = billing
        self._check_period = check_period
        self._clock = clock
        self._kms = DataKeySealer(_DYNAMODB, customer_keys, keys, audit, billing)
        self._usable_until: dict[str, float] = {}  # key ARN -> when to ask KMS again

    # --- the API's TableKeys ------------------------------------------------------------------

    async def authorise(
        self, tenant_id: str, table_name: str, key_ref: str | None, caller: object
    ) -> str:
        region = self._customer_keys.region
        arn = table_arn(region, tenant_id, table_name)
        resource = SealedResource(arn, tenant_id, region, 0)
        asking = caller if isinstance(caller, Caller) else None
        ref = key_ref if key_ref is not None else _DYNAMODB.managed_alias
        # The AWS-managed key is DynamoDB's own, every principal of the account using it
        # through DynamoDB: its policy has no CreateGrant to ask for (decision 0254).
        managed = ref in (_DYNAMODB.managed_alias, alias_arn(region, tenant_id, ref))
        actions = ("kms:DescribeKey",) if managed else ("kms:DescribeKey", "kms:CreateGrant")
        try:
            found = None
            for action in actions:
                found = await self._kms.key(resource, table_name, ref, asking, action)
        except CustomerKeyError as exc:
            raise _invalid(exc) from None
        assert found is not None  # noqa: S101 (two actions asked)
        return found.arn

    async def rekey(self, table: Table, key_arn: str | None) -> tuple[bytes, bytes]:
        old_ring = await self._ring(table)
        new_ring = table.tenant_id if key_arn is None else await self._usable(table, key_arn)

        def work() -> tuple[bytes, bytes]:
            plain = self._table_key(table, old_ring)
            try:
                if new_ring == table.tenant_id:
                    self._keys.ensure_tenant_key(new_ring)
                new = self._keys.new_data_key(new_ring)
                try:
                    nonce = os.urandom(_NONCE)
                    sealed = nonce + new.cipher.encrypt(nonce, bytes(plain), _table_key_aad(table))
                    return bytes(new.wrapped), sealed
                finally:
                    new.plaintext[:] = bytes(len(new.plaintext))
            finally:
                plain[:] = bytes(len(plain))

        try:
            wrapped, sealed = await asyncio.to_thread(work)
        except (KeyDestroyed, KeyNotFound, KeyWithdrawn, InvalidWrappedKey, InvalidTag) as exc:
            raise SealedItemUnreadable(
                f"The table's key cannot be opened: {type(exc).__name__}"
            ) from None
        if table.kms_key_arn is not None:
            self._used(table, "kms:Decrypt", table.kms_key_arn)
        if key_arn is not None:
            self._used(table, "kms:GenerateDataKey", key_arn)
        return wrapped, sealed

    async def accessible(self, table: Table) -> bool:
        if table.kms_key_arn is None:
            return True
        try:
            await self._usable(table, table.kms_key_arn, fresh=True, use=False)
        except SealedItemUnreadable:
            return False
        return True

    # --- the item sealer's keys ---------------------------------------------------------------

    async def _keys_of(self, table: Table) -> tuple[bytes, AESGCM]:
        if table.kms_key_arn is None and not table.table_key:
            return await super()._keys_of(table)  # the AWS-owned key, as decision 0237
        ring = await self._ring(table)
        cache_key = (table.tenant_id, table.wrapped_key)
        held = self._derived.get(cache_key)
        if held is not None:
            if table.kms_key_arn is None:
                await super()._keys_of(table)  # the account's ring checked as there
            return held

        def open_key() -> tuple[bytes, AESGCM]:
            plain = self._table_key(table, ring)
            try:
                key = bytes(plain)
                return _derive(key, b"hash"), AESGCM(_derive(key, b"seal"))
            finally:
                plain[:] = bytes(len(plain))

        try:
            held = await asyncio.to_thread(open_key)
        except (KeyDestroyed, KeyNotFound, KeyWithdrawn, InvalidWrappedKey, InvalidTag) as exc:
            raise SealedItemUnreadable(
                f"The table's key cannot be opened: {type(exc).__name__}"
            ) from None
        if table.kms_key_arn is not None:
            self._used(table, "kms:Decrypt", table.kms_key_arn)
        if len(self._derived) >= 1024:
            self._derived.pop(next(iter(self._derived)))
        self._derived[cache_key] = held
        return held

    def _table_key(self, table: Table, ring: str) -> bytearray:
        """T, in the clear (the caller zeroes it): the wrapped data key itself, or what it
        seals in ``table_key``."""
        plain = self._keys.unwrap_data_key(ring, table.wrapped_key)
        if not table.table_key:
            return bytearray(plain)
        try:
            sealed = table.table_key
            return bytearray(
                AESGCM(bytes(plain)).decrypt(
                    sealed[:_NONCE], sealed[_NONCE:], _table_key_aad(table)
                )
            )
        finally:
            plain[:] = bytes(len(plain))

    async def _ring(self, table: Table) -> str:
        if table.kms_key_arn is None:
            return table.tenant_id
        return await self._usable(table, table.kms_key_arn)

    async def _usable(
        self, table: Table, key_arn: str, *, fresh: bool = False, use: bool = True
    ) -> str:
        """The key ring of ``key_arn`` once KMS finds it usable (asked again after the check
        period); ``SealedItemUnreadable`` with AWS's words when it is not, audited as a refused
        use unless only the table's state is asked (``use`` False: DescribeTable)."""
        ring = key_arn.rsplit("/", 1)[-1]
        now = self._clock()
        if not fresh and self._usable_until.get(key_arn, 0.0) > now:
            return ring
        try:
            found = await self._customer_keys.key_for_service_use(key_arn)
        except CustomerKeyError as exc:
            self._usable_until.pop(key_arn, None)
            if use:
                self._record(table, "kms:Decrypt", key_arn, type(exc).__name__)
            kind = {
                CmkDisabled: "DisabledException",
                CmkNotFound: "NotFoundException",
                CmkInvalidState: "KMSInvalidStateException",
            }.get(type(exc), "AWSKMSException")
            raise SealedItemUnreadable(
                f"KMS key access denied error: {_KMS_MODEL}.{kind}: {exc}"
            ) from None
        if len(self._usable_until) >= 4096:
            self._usable_until.clear()
        self._usable_until[key_arn] = now + self._check_period
        return found.key_ring_id

    def _used(self, table: Table, action: str, key_arn: str) -> None:
        self._record(table, action, key_arn, None)
        if self._billing is not None:
            self._billing.count(table.tenant_id, table.region, _KMS_REQUESTS)

    def _record(self, table: Table, action: str, key_arn: str, error: str | None) -> None:
        if self._audit is None:
            return
        principal = _DYNAMODB.principal
        details = {"via": "dynamodb", "invoked_by": principal, "aws:dynamodb:tableName": table.name}
        if error is not None:
            details["error"] = error
        self._audit.record(
            request_id=uuid.uuid4().hex.upper()[:16],
            tenant_id=table.tenant_id,
            principal=principal,
            action=action,
            resource=key_arn[:2048],
            outcome=Outcome.FAILURE if error is not None else Outcome.SUCCESS,
            details=details,
        )
