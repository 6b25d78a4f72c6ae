"""SSE-KMS for SQS queues (decision 0165): where the queue context meets the customer-managed
KMS keys, as ``sse_kms_keys`` is for S3.

:class:`QueueKmsSealer` seals a message under a data key of the queue's KMS key and opens it
again, on behalf of the request's caller, through the sealer SQS and SNS share
(``kms_data_keys``: each send asks whether the caller may ``kms:GenerateDataKey`` under the
key with the encryption context ``aws:sqs:arn`` = the queue's ARN and ``kms:ViaService`` =
``sqs.<region>.amazonaws.com``, each receive the same for ``kms:Decrypt``). So disabling the
key, scheduling its deletion or revoking the caller's right stops sends and receives at the
next call — stricter than SQS, which keeps using a cached data key until its reuse period
ends (decision 0165). The platform's own sends (S3's bucket events, SNS deliveries) have no
caller: the key must only be usable. A data key is reused for the queue's
``KmsDataKeyReusePeriodSeconds``. The key errors become SQS's ``KMS.*`` ones here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from andromede.audit.service import AuditService
from andromede.billing.service import BillingService
from andromede.kms.customer_keys import Caller, CustomerKeyService
from andromede.kms.keys_errors import (
    CmkAccessDenied,
    CmkDisabled,
    CmkInvalidState,
    CustomerKeyError,
    InvalidKeyUsage,
)
from andromede.kms.service import KeyService
from andromede.queues.errors import (
    KmsAccessDenied,
    KmsDisabled,
    KmsError,
    KmsInvalidKeyUsage,
    KmsInvalidState,
    KmsNotFound,
)
from andromede.queues.model import Queue
from andromede.queues.sse import reuse_period_of
from andromede.sqsapi.authorise import KeyUser
from andromede.wiring.kms_data_keys import DataKeySealer, SealedResource, ServiceUse

__all__ = ["QueueKmsSealer"]

_SQS: Final = ServiceUse("sqs", "aws:sqs:arn")


class QueueKmsSealer:
    """``queues.sealing.KmsSealer`` over the customer-managed keys."""

    def __init__(
        self,
        customer_keys: CustomerKeyService,
        keys: KeyService,
        audit: AuditService | None,
        billing: BillingService | None = None,
        *,
        cache_size: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sealer = DataKeySealer(
            _SQS, customer_keys, keys, audit, billing, cache_size=cache_size, clock=clock
        )

    async def seal(
        self, queue: Queue, key_ref: str, caller: object | None, plaintext: bytes, context: bytes
    ) -> bytes:
        try:
            return await self._sealer.seal(
                _resource(queue), key_ref, self._caller(caller, queue), plaintext, context
            )
        except CustomerKeyError as exc:
            raise _queue_error(exc, key_ref) from None

    async def open(
        self, queue: Queue, caller: object | None, sealed: bytes, context: bytes
    ) -> bytes:
        try:
            return await self._sealer.open(
                _resource(queue), self._caller(caller, queue), sealed, context
            )
        except CustomerKeyError as exc:
            raise _queue_error(exc, "") from None

    def _caller(self, user: object | None, queue: Queue) -> Caller | None:
        if not isinstance(user, KeyUser):
            return None
        principal = user.principal
        return Caller(
            account_id=principal.tenant_id or "",
            arn=principal.arn,
            principal=principal,
            source_ip=user.source_ip,
            secure=user.secure,
            via_service=self._sealer.via(queue.region),
            request_id=user.request_id,
        )


def _resource(queue: Queue) -> SealedResource:
    return SealedResource(queue.arn, queue.tenant_id, queue.region, reuse_period_of(queue))


def _queue_error(exc: CustomerKeyError, key_ref: str) -> KmsError:
    if isinstance(exc, CmkAccessDenied):
        return KmsAccessDenied(
            f"The caller doesn't have the required KMS access to {key_ref[:256]}."
        )
    if isinstance(exc, CmkDisabled):
        return KmsDisabled(str(exc))
    if isinstance(exc, CmkInvalidState):
        return KmsInvalidState(str(exc))
    if isinstance(exc, InvalidKeyUsage):
        return KmsInvalidKeyUsage(str(exc))
    return KmsNotFound(str(exc))
