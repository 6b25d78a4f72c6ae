"""Messages a service holds at rest sealed under a data key of a customer-managed KMS key, on
behalf of the resource that holds them: SQS's queues (decision 0165), SNS's topics
(decision 0212) and Firehose's delivery streams (decision 0223's addendum: ``seal_many``, one
data key a put, never reused). The adapters (``queue_keys``, ``topic_keys``,
``firehose_keys``) say which service uses the key and turn the key errors into their
protocol's.

Each seal asks the key service whether the caller may ``kms:GenerateDataKey`` under the key
(key policy, grants and IAM, the service's encryption context = the resource's ARN,
``kms:ViaService`` = ``<service>.<region>.amazonaws.com``) and whether the key is Enabled;
each open asks the same for ``kms:Decrypt`` on the key each message names. So disabling the
key, scheduling its deletion or revoking the caller's right stops the service at the next
call. Without a caller (the platform's own use: S3 events into a queue, SNS deliveries), the
key must only be usable. ``alias/aws/<service>`` is the account's AWS-managed key, made on
first use.

**The data key reuse period.** What the period saves is the key provider's work (an HSM
wrap): a data key is made once per resource and key, then reused for the resource's period,
and an opened data key is remembered as long; both caches are bounded (``cache_size``) and
emptied when full. Each message still has its own random nonce, and its AAD binds the
caller's context (the account, the message id), the key's ARN and the resource that sealed
it.

**Metering and audit.** A data key made or opened is a KMS request the caller's account pays
(``kms.requests``, decision 0150), audited as ``kms:GenerateDataKey`` / ``kms:Decrypt`` on the
key with ``invoked_by`` the service's principal; a cache hit asks the provider nothing and
counts nothing. A refused use is always audited, never counted. The key of an external key
store is refused (``CmkInvalidState``): its data keys would need the customer's proxy at each
message.

Errors are the KMS context's (``CmkNotFound``, ``CmkDisabled``, ``CmkInvalidState``,
``CmkAccessDenied``, ``InvalidKeyUsage``), for the adapters to translate.
"""

from __future__ import annotations

import asyncio
import json
import os
import struct
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.billing.service import BillingService
from andromede.kms.customer_keys import Caller, CustomerKeyService, SseKey
from andromede.kms.errors import InvalidWrappedKey, KeyDestroyed, KeyNotFound
from andromede.kms.keys_errors import CmkInvalidState, CmkNotFound, CustomerKeyError
from andromede.kms.keys_model import ALIAS_PREFIX, alias_arn, key_arn
from andromede.kms.service import KeyService

__all__ = ["KMS_FORMAT", "DataKeySealer", "SealedResource", "ServiceUse"]

# The first byte of a message sealed under a KMS key (``queues.sealing.KMS_FORMAT``).
KMS_FORMAT: Final = b"\x02"
_NONCE: Final = 12
_KMS_REQUESTS: Final = "kms.requests"


@dataclass(frozen=True, slots=True)
class ServiceUse:
    """The service using the keys: ``sqs`` with ``aws:sqs:arn``, ``sns`` with
    ``aws:sns:topicArn`` (the encryption context each binds its data keys to)."""

    service: str
    context_key: str

    @property
    def principal(self) -> str:
        return f"{self.service}.amazonaws.com"

    @property
    def managed_alias(self) -> str:
        return f"{ALIAS_PREFIX}aws/{self.service}"


@dataclass(frozen=True, slots=True)
class SealedResource:
    """The queue or topic whose messages are sealed: its ARN, account, region and data key
    reuse period in seconds."""

    arn: str
    tenant_id: str
    region: str
    reuse_period: int


class DataKeySealer:
    def __init__(
        self,
        use: ServiceUse,
        customer_keys: CustomerKeyService,
        keys: KeyService,
        audit: AuditService | None,
        billing: BillingService | None = None,
        *,
        cache_size: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._use = use
        self._customer_keys = customer_keys
        self._keys = keys
        self._audit = audit
        self._billing = billing
        self._cache_size = cache_size
        self._clock = clock
        # (resource ARN, key ARN) -> (until, cipher, wrapped): the data key new messages use.
        self._sealing: dict[tuple[str, str], tuple[float, AESGCM, bytes]] = {}
        # (key ring, wrapped data key) -> (until, cipher): data keys opened.
        self._opened: dict[tuple[str, bytes], tuple[float, AESGCM]] = {}

    async def seal(
        self,
        resource: SealedResource,
        key_ref: str,
        caller: Caller | None,
        plaintext: bytes,
        context: bytes,
    ) -> bytes:
        action = "kms:GenerateDataKey"
        key = await self.key(resource, resource.arn, key_ref, caller, action)
        now = self._clock()
        held = self._sealing.get((resource.arn, key.arn))
        if held is None or held[0] <= now:
            keys = self._keys

            def make() -> tuple[AESGCM, bytes]:
                new = keys.new_data_key(key.key_ring_id)
                new.plaintext[:] = bytes(len(new.plaintext))
                return new.cipher, new.wrapped

            try:
                cipher, wrapped = await asyncio.to_thread(make)
            except (KeyDestroyed, KeyNotFound, InvalidWrappedKey) as exc:
                self._record(caller, resource, action, key.arn, type(exc).__name__)
                raise CmkNotFound(f"Key '{key.arn}' does not exist") from None
            self._used(caller, resource, action, key.arn)
            if len(self._sealing) >= self._cache_size:
                self._sealing.clear()
            held = (now + resource.reuse_period, cipher, wrapped)
            self._sealing[(resource.arn, key.arn)] = held
        _, cipher, wrapped = held
        return _framed(cipher, wrapped, key.arn, resource.arn, plaintext, context)

    async def seal_many(
        self,
        resource: SealedResource,
        key_ref: str,
        caller: Caller | None,
        items: Sequence[tuple[bytes, bytes]],
    ) -> list[bytes]:
        """Each ``(plaintext, context)`` sealed under one data key made for them alone (never
        cached for reuse): Firehose's one data key a PutRecord or PutRecordBatch."""
        action = "kms:GenerateDataKey"
        key = await self.key(resource, resource.arn, key_ref, caller, action)
        keys = self._keys

        def make() -> tuple[AESGCM, bytes]:
            new = keys.new_data_key(key.key_ring_id)
            new.plaintext[:] = bytes(len(new.plaintext))
            return new.cipher, new.wrapped

        try:
            cipher, wrapped = await asyncio.to_thread(make)
        except (KeyDestroyed, KeyNotFound, InvalidWrappedKey) as exc:
            self._record(caller, resource, action, key.arn, type(exc).__name__)
            raise CmkNotFound(f"Key '{key.arn}' does not exist") from None
        self._used(caller, resource, action, key.arn)
        return [
            _framed(cipher, wrapped, key.arn, resource.arn, plaintext, context)
            for plaintext, context in items
        ]

    async def open(
        self, resource: SealedResource, caller: Caller | None, sealed: bytes, context: bytes
    ) -> bytes:
        return (await self.open_many(resource, caller, [(sealed, context)]))[0]

    async def open_many(
        self,
        resource: SealedResource,
        caller: Caller | None,
        items: Sequence[tuple[bytes, bytes]],
    ) -> list[bytes]:
        """Each ``(sealed, context)`` opened, the caller's right and the key's state judged once
        per key the call meets (a GetRecords of thousands of records under one key asks
        once), each data key unwrapped once per reuse period as :meth:`open`."""
        action = "kms:Decrypt"
        judged: dict[tuple[str, str], SseKey] = {}
        opened = []
        for sealed, context in items:
            header, sealed_arn, sealed_by, wrapped, nonce, body = _unframed(sealed)
            key = judged.get((sealed_by, sealed_arn))
            if key is None:
                key = await self.key(resource, sealed_by, sealed_arn, caller, action)
                judged[(sealed_by, sealed_arn)] = key
            now = self._clock()
            held = self._opened.get((key.key_ring_id, wrapped))
            if held is None or held[0] <= now:
                try:
                    cipher = await asyncio.to_thread(
                        self._keys.data_key_cipher, key.key_ring_id, wrapped
                    )
                except (KeyDestroyed, KeyNotFound, InvalidWrappedKey) as exc:
                    self._record(caller, resource, action, key.arn, type(exc).__name__)
                    raise CmkNotFound(f"Key '{key.arn}' does not exist") from None
                self._used(caller, resource, action, key.arn)
                if len(self._opened) >= self._cache_size:
                    self._opened.clear()
                held = (now + resource.reuse_period, cipher)
                self._opened[(key.key_ring_id, wrapped)] = held
            try:
                opened.append(held[1].decrypt(nonce, body, context + b"\n" + header))
            except InvalidTag:
                raise CmkInvalidState("The message does not open under its data key.") from None
        return opened

    async def key(
        self,
        resource: SealedResource,
        sealed_by: str,
        key_ref: str,
        caller: Caller | None,
        action: str,
    ) -> SseKey:
        """The usable key ``key_ref`` of the resource owner's account, ``caller`` allowed
        ``action`` on it under the context ``sealed_by`` (no caller: the platform's own use).
        A refusal is audited; CmkNotFound for a reference naming no key."""
        region, owner = resource.region, resource.tenant_id
        keys = self._customer_keys
        if region != keys.region:
            # A resource of another Region (an SQS queue there, decision 0414) uses that
            # Region's keys: its AWS-managed key, its key ids and aliases (decision 0138).
            keys = keys.in_region(region)
        try:
            if key_ref in (
                self._use.managed_alias,
                alias_arn(region, owner, self._use.managed_alias),
            ):
                made, _ = await keys.aws_managed_key(owner, self._use.service)
                key_ref = made.arn
            qualified = _owner_qualified(key_ref, owner, region)
            if caller is not None:
                found = await keys.key_for_sse(
                    caller, qualified, {self._use.context_key: sealed_by}, action=action
                )
            else:
                found = await keys.key_for_service_use(qualified, alias_arn=True)
            if found.external:
                raise CmkInvalidState(
                    f"{found.arn} is in an external key store, which {self._use.service.upper()} "
                    "does not use"
                )
        except CustomerKeyError as exc:
            self._record(caller, resource, action, key_ref, type(exc).__name__)
            if type(exc) is CmkNotFound:
                raise CmkNotFound(f"Invalid keyId {key_ref[:256]}") from None
            raise
        return found

    def via(self, region: str) -> str:
        """``kms:ViaService`` of this service's calls in ``region``."""
        return f"{self._use.service}.{region}.amazonaws.com"

    def _used(self, caller: Caller | None, resource: SealedResource, action: str, arn: str) -> None:
        self._record(caller, resource, action, arn, None)
        if self._billing is not None:
            account = caller.account_id if caller is not None else resource.tenant_id
            self._billing.count(account or resource.tenant_id, resource.region, _KMS_REQUESTS)

    def _record(
        self,
        caller: Caller | None,
        resource: SealedResource,
        action: str,
        arn: str,
        error: str | None,
    ) -> None:
        if self._audit is None:
            return
        principal = self._use.principal
        details = {"via": self._use.service, "invoked_by": principal, "region": resource.region}
        details[self._use.context_key] = resource.arn
        if error is not None:
            details["error"] = error
        self._audit.record(
            request_id=caller.request_id
            if caller is not None and caller.request_id
            else uuid.uuid4().hex.upper()[:16],
            tenant_id=(caller.account_id if caller is not None else "") or resource.tenant_id,
            principal=caller.arn if caller is not None else principal,
            action=action,
            resource=arn[:2048],
            outcome=Outcome.FAILURE if error is not None else Outcome.SUCCESS,
            details=details,
        )


def _unframed(sealed: bytes) -> tuple[bytes, str, str, bytes, bytes, bytes]:
    """:func:`_framed`'s parts: the header, the key and resource it names, the wrapped data
    key, the nonce and the ciphertext."""
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
        raise CmkInvalidState("The message's sealed form is not readable.") from exc
    return header, sealed_arn, sealed_by, wrapped, nonce, body


def _framed(
    cipher: AESGCM, wrapped: bytes, key_arn: str, sealed_by: str, plaintext: bytes, context: bytes
) -> bytes:
    """The sealed form: format byte, the header naming the key and the resource, the wrapped
    data key, the nonce and the ciphertext (AAD: the caller's context and the header)."""
    header = json.dumps({"k": key_arn, "q": sealed_by}, separators=(",", ":")).encode()
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


def _owner_qualified(key_ref: str, owner: str, region: str) -> str:
    """A key id or alias name as its ARN in the resource owner's account and region (a
    caller of another account names the owner's key, as SQS uses the queue's key); an ARN as
    it is."""
    if key_ref.startswith("arn:"):
        return key_ref
    if key_ref.startswith(ALIAS_PREFIX):
        return alias_arn(region, owner, key_ref)
    return key_arn(region, owner, key_ref)
