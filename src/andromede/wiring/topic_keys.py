"""SNS topics under a customer-managed KMS key (decision 0212): ``notifications.topic_keys``'s
:class:`TopicSealer` over the data key sealer SQS's queues use (``kms_data_keys``), with SNS's
encryption context ``aws:sns:topicArn`` = the topic's ARN, ``kms:ViaService`` =
``sns.<region>.amazonaws.com`` and ``alias/aws/sns`` the account's AWS-managed key.

A Publish to such a topic is authorised as AWS requires: the publisher (a KMS
:class:`Caller` built by the SNS API) must be allowed ``kms:GenerateDataKey`` and
``kms:Decrypt`` on the key by its policy, grants and IAM, judged by the key service as for an
SQS sender. SNS's own sealing of each delivery and opening at each attempt need the key to be
usable only. A data key is reused for five minutes (SNS has no setting for it); each one made
or opened is a ``kms.requests`` of the topic's account, audited with ``invoked_by``
``sns.amazonaws.com``. The key errors become SNS's ``KMS*`` ones here.
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
    CmkNotFound,
    CustomerKeyError,
)
from andromede.kms.service import KeyService
from andromede.notifications.errors import (
    TopicKeyAccessDenied,
    TopicKeyDisabled,
    TopicKeyError,
    TopicKeyInvalidState,
    TopicKeyNotFound,
)
from andromede.notifications.model import Topic
from andromede.wiring.kms_data_keys import DataKeySealer, SealedResource, ServiceUse

__all__ = ["TopicKmsSealer"]

_SNS: Final = ServiceUse("sns", "aws:sns:topicArn")
# SNS reuses a data key for a while and has no attribute for it (SQS's default period).
_REUSE_PERIOD: Final = 300


class TopicKmsSealer:
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
            _SNS, customer_keys, keys, audit, billing, cache_size=cache_size, clock=clock
        )

    async def authorise(self, topic: Topic, key_ref: str, publisher: object) -> None:
        if not isinstance(publisher, Caller):
            raise TypeError("a publisher is the SNS API's KMS Caller")
        caller = Caller(
            account_id=publisher.account_id,
            arn=publisher.arn,
            principal=publisher.principal,
            source_ip=publisher.source_ip,
            secure=publisher.secure,
            via_service=self._sealer.via(topic.region),
            request_id=publisher.request_id,
        )
        resource = _resource(topic)
        try:
            for action in ("kms:GenerateDataKey", "kms:Decrypt"):
                await self._sealer.key(resource, topic.arn, key_ref, caller, action)
        except CustomerKeyError as exc:
            raise _topic_error(exc, key_ref) from None

    async def seal(self, topic: Topic, key_ref: str, plaintext: bytes, context: bytes) -> bytes:
        try:
            return await self._sealer.seal(_resource(topic), key_ref, None, plaintext, context)
        except CustomerKeyError as exc:
            raise _topic_error(exc, key_ref) from None

    async def open(self, topic: Topic, sealed: bytes, context: bytes) -> bytes:
        try:
            return await self._sealer.open(_resource(topic), None, sealed, context)
        except CustomerKeyError as exc:
            raise _topic_error(exc, "") from None


def _resource(topic: Topic) -> SealedResource:
    return SealedResource(topic.arn, topic.tenant_id, topic.region, _REUSE_PERIOD)


def _topic_error(exc: CustomerKeyError, key_ref: str) -> TopicKeyError:
    if isinstance(exc, CmkAccessDenied):
        return TopicKeyAccessDenied(
            f"User is not authorized to use the KMS key {key_ref[:256]} (kms:GenerateDataKey "
            "and kms:Decrypt are needed to publish to an encrypted topic)."
        )
    if isinstance(exc, CmkDisabled):
        return TopicKeyDisabled(str(exc))
    if isinstance(exc, CmkNotFound):
        return TopicKeyNotFound(str(exc))
    if isinstance(exc, CmkInvalidState):
        return TopicKeyInvalidState(str(exc))
    return TopicKeyInvalidState(str(exc))
