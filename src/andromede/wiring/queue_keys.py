"""SSE-KMS for SQS queues (decision 0165): where the queue context meets the customer-managed
KMS keys, as ``sse_kms_keys`` is for S3.

:class:`QueueKmsSealer` seals a message under a data key of the queue's KMS key and opens it
again, on behalf of the request's caller: each send asks the key service whether the caller
may ``kms:GenerateDataKey`` under the key (key policy, grants and IAM, encryption context
``aws:sqs:arn`` = the queue's ARN, ``kms:ViaService`` = ``sqs.<region>.amazonaws.com``) and
whether the key is Enabled; each receive asks the same for ``kms:Decrypt`` on the key each
message names. So disabling the key, scheduling its deletion or revoking the caller's right
stops sends and receives at the next call — stricter than SQS, which keeps using a cached
data key until its reuse period ends (decision 0165). The platform's own sends (S3's bucket
events, SNS deliveries) have no caller: the key must only be usable.

**The data key reuse period.** What the period saves is the key provider's work (an HSM
wrap): a data key is made once per queue and key, then reused for the queue's
``KmsDataKeyReusePeriodSeconds``, and an opened data key is remembered as long; both caches
are bounded (``queue_kms_data_key_cache_size``) and emptied when full. Each message still
has its own random nonce, and its AAD binds the account, the message id, the key's ARN and
the queue that sealed it.

**Metering and audit.** A data key made or opened is a KMS request the caller's account pays
(``kms.requests``, decision 0150), audited as ``kms:GenerateDataKey`` / ``kms:Decrypt`` on the
key with ``invoked_by`` ``sqs.amazonaws.com``; a cache hit asks the provider nothing and counts
nothing (as SQS calls KMS once per reuse period). A refused use is always audited, never
counted. The key of an external key store is refused (``KMS.InvalidStateException``): its
data keys would need the customer's proxy at each message, which SQS's path does not call.
"""

from __future__ import annotations

import asyncio
import json
import os
import struct
import time
import uuid
from collections.abc import Callable
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.billing.service import BillingService
from andromede.iam.model import Principal
from andromede.kms.customer_keys import Caller, CustomerKeyService, SseKey
from andromede.kms.errors import InvalidWrappedKey, KeyDestroyed, KeyNotFound
from andromede.kms.keys_errors import (
    CmkAccessDenied,
    CmkDisabled,
    CmkInvalidState,
    CustomerKeyError,
    InvalidKeyUsage,
)
from andromede.kms.keys_model import ALIAS_PREFIX, alias_arn, key_arn
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
from andromede.queues.sealing import KMS_FORMAT
from andromede.queues.sse import AWS_MANAGED_SQS_KEY_ALIAS, reuse_period_of
from andromede.sqsapi.authorise import KeyUser

__all__ = ["QueueKmsSealer"]

_NONCE: Final = 12
_SQS_SERVICE: Final = "sqs.amazonaws.com"
_KMS_REQUESTS: Final = "kms.requests"
# The encryption context SQS binds a queue's data keys to.
_SQS_ARN_CONTEXT: Final = "aws:sqs:arn"


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
        self._customer_keys = customer_keys
        self._keys = keys
        self._audit = audit
        self._billing = billing
        self._cache_size = cache_size
        self._clock = clock
        # (queue ARN, key ARN) -> (until, cipher, wrapped): the data key new messages use.
        self._sealing: dict[tuple[str, str], tuple[float, AESGCM, bytes]] = {}
        # (key ring, wrapped data key) -> (until, cipher): data keys opened for receives.
        self._opened: dict[tuple[str, bytes], tuple[float, AESGCM]] = {}

    async def seal(
        self, queue: Queue, key_ref: str, caller: object | None, plaintext: bytes, context: bytes
    ) -> bytes:
        action = "kms:GenerateDataKey"
        key = await self._key(queue, queue.arn, key_ref, caller, action)
        now = self._clock()
        held = self._sealing.get((queue.arn, key.arn))
        if held is None or held[0] <= now:

            def make() -> tuple[AESGCM, bytes]:
                new = self._keys.new_data_key(key.key_ring_id)
                new.plaintext[:] = bytes(len(new.plaintext))
                return new.cipher, new.wrapped

            try:
                cipher, wrapped = await asyncio.to_thread(make)
            except (KeyDestroyed, KeyNotFound, InvalidWrappedKey) as exc:
                self._record(caller, queue, action, key.arn, type(exc).__name__)
                raise KmsNotFound(f"Key '{key.arn}' does not exist") from None
            self._used(caller, queue, action, key.arn)
            if len(self._sealing) >= self._cache_size:
                self._sealing.clear()
            held = (now + reuse_period_of(queue), cipher, wrapped)
            self._sealing[(queue.arn, key.arn)] = held
        _, cipher, wrapped = held
        header = json.dumps({"k": key.arn, "q": queue.arn}, separators=(",", ":")).encode()
        nonce = os.urandom(_NONCE)
        sealed = cipher.encrypt(nonce, plaintext, context + b"\n" + header)
        return b"".join(
            (
                KMS_FORMAT,
                struct.pack(">H", len(header)),
                header,
                struct.pack(">H", len(wrapped)),
                wrapped,
                nonce,
                sealed,
            )
        )

    async def open(
        self, queue: Queue, caller: object | None, sealed: bytes, context: bytes
    ) -> bytes:
        try:
            (size,) = struct.unpack(">H", sealed[1:3])
            header = sealed[3 : 3 + size]
            named = json.loads(header)
            sealed_arn, sealed_by = str(named["k"]), str(named["q"])
            (wrapped_size,) = struct.unpack(">H", sealed[3 + size : 5 + size])
            start = 5 + size
            wrapped = sealed[start : start + wrapped_size]
            nonce = sealed[start + wrapped_size : start + wrapped_size + _NONCE]
            body = sealed[start + wrapped_size + _NONCE :]
        except (struct.error, ValueError, KeyError, TypeError) as exc:
            raise KmsInvalidState("The message's sealed form is not readable.") from exc
        action = "kms:Decrypt"
        key = await self._key(queue, sealed_by, sealed_arn, caller, action)
        now = self._clock()
        held = self._opened.get((key.key_ring_id, wrapped))
        if held is None or held[0] <= now:
            try:
                cipher = await asyncio.to_thread(
                    self._keys.data_key_cipher, key.key_ring_id, wrapped
                )
            except (KeyDestroyed, KeyNotFound, InvalidWrappedKey) as exc:
                self._record(caller, queue, action, key.arn, type(exc).__name__)
                raise KmsNotFound(f"Key '{key.arn}' does not exist") from None
            self._used(caller, queue, action, key.arn)
            if len(self._opened) >= self._cache_size:
                self._opened.clear()
            held = (now + reuse_period_of(queue), cipher)
            self._opened[(key.key_ring_id, wrapped)] = held
        try:
            return held[1].decrypt(nonce, body, context + b"\n" + header)
        except InvalidTag:
            raise KmsInvalidState("The message does not open under its data key.") from None

    async def _key(
        self, queue: Queue, sealed_by: str, key_ref: str, caller: object | None, action: str
    ) -> SseKey:
        """The usable key ``key_ref`` of the queue owner's account, ``caller`` allowed
        ``action`` on it (any caller: the platform's own use)."""
        region = queue.region
        keys = self._customer_keys
        try:
            if key_ref in (
                AWS_MANAGED_SQS_KEY_ALIAS,
                alias_arn(region, queue.tenant_id, AWS_MANAGED_SQS_KEY_ALIAS),
            ):
                made, _ = await keys.aws_managed_key(queue.tenant_id, "sqs")
                key_ref = made.arn
            qualified = _owner_qualified(key_ref, queue.tenant_id, region)
            if isinstance(caller, KeyUser):
                found = await keys.key_for_sse(
                    self._caller(caller, region),
                    qualified,
                    {_SQS_ARN_CONTEXT: sealed_by},
                    action=action,
                )
            else:
                found = await keys.key_for_service_use(qualified, alias_arn=True)
            if found.external:
                raise CmkInvalidState(
                    f"{found.arn} is in an external key store, which SQS queues do not use "
                    "(decision 0165)"
                )
        except CustomerKeyError as exc:
            self._record(caller, queue, action, key_ref, type(exc).__name__)
            raise _queue_error(exc, key_ref) from None
        return found

    @staticmethod
    def _caller(user: KeyUser, region: str) -> Caller:
        principal = user.principal
        return Caller(
            account_id=principal.tenant_id or "",
            arn=principal.arn,
            principal=principal,
            source_ip=user.source_ip,
            secure=user.secure,
            via_service=f"sqs.{region}.amazonaws.com",
            request_id=user.request_id,
        )

    def _used(self, caller: object | None, queue: Queue, action: str, arn: str) -> None:
        self._record(caller, queue, action, arn, None)
        if self._billing is not None:
            account = _account(caller) or queue.tenant_id
            self._billing.count(account, queue.region, _KMS_REQUESTS)

    def _record(
        self, caller: object | None, queue: Queue, action: str, arn: str, error: str | None
    ) -> None:
        if self._audit is None:
            return
        details = {"via": "sqs", "invoked_by": _SQS_SERVICE, "region": queue.region}
        details[_SQS_ARN_CONTEXT] = queue.arn
        if error is not None:
            details["error"] = error
        user = caller if isinstance(caller, KeyUser) else None
        self._audit.record(
            request_id=user.request_id if user else uuid.uuid4().hex.upper()[:16],
            tenant_id=_account(caller) or queue.tenant_id,
            principal=user.principal.arn if user else _SQS_SERVICE,
            action=action,
            resource=arn[:2048],
            outcome=Outcome.FAILURE if error is not None else Outcome.SUCCESS,
            details=details,
        )


def _account(caller: object | None) -> str | None:
    if isinstance(caller, KeyUser) and isinstance(caller.principal, Principal):
        return caller.principal.tenant_id
    return None


def _owner_qualified(key_ref: str, owner: str, region: str) -> str:
    """A key id or alias name as its ARN in the queue owner's account and region (a caller of
    another account names the owner's key, as SQS uses the queue's key); an ARN as it is."""
    if key_ref.startswith("arn:"):
        return key_ref
    if key_ref.startswith(ALIAS_PREFIX):
        return alias_arn(region, owner, key_ref)
    return key_arn(region, owner, key_ref)


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
    return KmsNotFound(f"Invalid keyId {key_ref[:256]}")
