"""Firehose streams under a customer-managed KMS key (decision 0223's addendum): the
``firehose.model.RecordSealer`` and ``StreamKeyCheck`` over the data key sealer SQS and SNS
use (``kms_data_keys``), with Firehose's encryption context ``aws:firehose:arn`` = the
stream's ARN and ``kms:ViaService`` = ``firehose.<region>.amazonaws.com``.

- **The caller's right.** CreateDeliveryStream and StartDeliveryStreamEncryption with
  ``CUSTOMER_MANAGED_CMK`` need the caller allowed ``kms:DescribeKey`` and ``kms:CreateGrant``
  on the key (AWS's Firehose makes a grant on it with the caller's credentials), judged by the
  key's policy, grants and IAM as KMS judges them; the key must be an enabled symmetric
  encryption key of the Region.
- **Firehose's own use.** Each put of a stream whose encryption is ENABLED seals its records
  under one data key of the key, made for that put (``seal_many``): the key must be usable
  (enabled, not pending deletion), else the put is refused ``InvalidKMSResourceException``.
  Opening a record reads the key its sealed bytes name: a record keeps the key that sealed
  it whatever the stream says since. A record sealed under the account's key ring (before
  the key, or after encryption stopped) is opened by ``firehose_delivery.KeyRingRecordSealer``.
- **Errors.** KMS's refusals become ``KmsResourceError`` with Firehose's codes
  (``KMS.DisabledException``, ``KMS.InvalidStateException``, ``KMS.NotFoundException``,
  ``KMS.AccessDeniedException``, ``KMS.InvalidKeyUsageException``) and the FailureDescription
  types (``DISABLED_KMS_KEY``, ``INVALID_KMS_KEY``, ``KMS_KEY_NOT_FOUND``, ``KMS_ACCESS_DENIED``).
  Each data key made or opened is a ``kms.requests`` of the stream's account, audited with
  ``invoked_by`` ``firehose.amazonaws.com``; a refusal is audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from andromede.audit.service import AuditService
from andromede.billing.service import BillingService
from andromede.firehose.errors import KmsResourceError
from andromede.firehose.model import BufferedRecord, DeliveryStream, NewRecord
from andromede.firehose_delivery import KeyRingRecordSealer
from andromede.kms.customer_keys import Caller, CustomerKeyService
from andromede.kms.keys_errors import (
    CmkAccessDenied,
    CmkDisabled,
    CmkInvalidState,
    CustomerKeyError,
    InvalidKeyUsage,
)
from andromede.kms.service import KeyService
from andromede.wiring.kms_data_keys import KMS_FORMAT, DataKeySealer, SealedResource, ServiceUse

__all__ = ["StreamKmsSealer"]

_FIREHOSE: Final = ServiceUse("firehose", "aws:firehose:arn")
# How long an opened data key is remembered: a delivery opens a put's records with one unwrap.
_OPENED_PERIOD: Final = 300


class StreamKmsSealer:
    def __init__(
        self,
        plain: KeyRingRecordSealer,
        customer_keys: CustomerKeyService,
        keys: KeyService,
        audit: AuditService | None,
        billing: BillingService | None = None,
        *,
        cache_size: int = 1000,
    ) -> None:
        self._plain = plain
        self._sealer = DataKeySealer(
            _FIREHOSE, customer_keys, keys, audit, billing, cache_size=cache_size
        )

    async def authorise(self, stream: DeliveryStream, key_arn: str, caller: object) -> None:
        if not isinstance(caller, Caller):
            raise TypeError("a caller is the Firehose API's KMS Caller")
        asking = Caller(
            account_id=caller.account_id,
            arn=caller.arn,
            principal=caller.principal,
            source_ip=caller.source_ip,
            secure=caller.secure,
            via_service=self._sealer.via(stream.region),
            request_id=caller.request_id,
        )
        try:
            for action in ("kms:DescribeKey", "kms:CreateGrant"):
                await self._sealer.key(_resource(stream), stream.arn, key_arn, asking, action)
        except CustomerKeyError as exc:
            raise _kms_error(exc, key_arn) from None

    async def usable(self, stream: DeliveryStream, key_arn: str) -> None:
        try:
            await self._sealer.key(_resource(stream), stream.arn, key_arn, None,
                                   "kms:GenerateDataKey")  # fmt: skip
        except CustomerKeyError as exc:
            raise _kms_error(exc, key_arn) from None

    async def seal(self, stream: DeliveryStream, records: Sequence[NewRecord]) -> list[bytes]:
        key_arn = stream.sealing_key_arn
        if key_arn is None:
            return await self._plain.seal(stream, records)
        items = [(r.data, _context(stream, r.record_id)) for r in records]
        try:
            return await self._sealer.seal_many(_resource(stream), key_arn, None, items)
        except CustomerKeyError as exc:
            raise _kms_error(exc, key_arn) from None

    async def open(self, stream: DeliveryStream, records: Sequence[BufferedRecord]) -> list[bytes]:
        """Each record under what sealed it: its customer-managed key, or the key ring."""
        opened: list[bytes | None] = [None] * len(records)
        plain = [i for i, r in enumerate(records) if r.sealed[:1] != KMS_FORMAT]
        if plain:
            for i, data in zip(
                plain, await self._plain.open(stream, [records[i] for i in plain]), strict=True
            ):
                opened[i] = data
        resource = _resource(stream)
        for i, record in enumerate(records):
            if opened[i] is not None:
                continue
            try:
                opened[i] = await self._sealer.open(
                    resource, None, record.sealed, _context(stream, record.record_id)
                )
            except CustomerKeyError as exc:
                raise _kms_error(exc, "") from None
        return [data for data in opened if data is not None]


def _resource(stream: DeliveryStream) -> SealedResource:
    return SealedResource(stream.arn, stream.tenant_id, stream.region, _OPENED_PERIOD)


def _context(stream: DeliveryStream, record_id: str) -> bytes:
    return f"firehose\n{stream.arn}\n{record_id}".encode()


def _kms_error(exc: CustomerKeyError, key_arn: str) -> KmsResourceError:
    message = str(exc) or f"The KMS key {key_arn[:256]} cannot be used."
    if isinstance(exc, CmkAccessDenied):
        return KmsResourceError("KMS.AccessDeniedException", "KMS_ACCESS_DENIED", message,
                                lasting=False)  # fmt: skip
    if isinstance(exc, CmkDisabled):
        return KmsResourceError("KMS.DisabledException", "DISABLED_KMS_KEY", message,
                                lasting=False)  # fmt: skip
    if isinstance(exc, CmkInvalidState):
        return KmsResourceError("KMS.InvalidStateException", "INVALID_KMS_KEY", message,
                                lasting=False)  # fmt: skip
    if isinstance(exc, InvalidKeyUsage):
        return KmsResourceError(
            "KMS.InvalidKeyUsageException", "INVALID_KMS_KEY",
            f"{message} (Firehose uses symmetric encryption keys only)", lasting=True,
        )  # fmt: skip
    return KmsResourceError("KMS.NotFoundException", "KMS_KEY_NOT_FOUND", message, lasting=True)
