"""EventBridge's archives and buses under a customer's KMS key (decision 0204): the events
context's :class:`~andromede.events.event_keys.EventKeys` over the KMS context.

The key is used by EventBridge's service principal, as on AWS: it must exist in the
resource's account and be usable (Enabled, not pending deletion), and its key policy must let
``events.amazonaws.com`` do ``kms:GenerateDataKey`` (sealing) and ``kms:Decrypt`` (opening),
judged with ``aws:SourceArn`` the bus, ``aws:SourceAccount`` its account and
``kms:EncryptionContext:aws:events:event-bus:arn`` the bus's ARN — AWS's encryption context for
buses and archives. A key id, an alias name or an ARN of either is taken (an alias resolved at
each use). One data key under the key's ring seals a batch of events (a PutEvents' events
matching an archive, or the deliveries of a bus's events), each event AES-256-GCM with its own
nonce, its AAD the bus's and the resource's ARNs and the key's ARN; the sealed text names the
key's ARN and the wrapped data key, so an event keeps the key it was sealed under whatever the
resource says since. Each use (a batch sealed, a key opened for a batch) is a KMS request
billed to the account (``kms.requests``) and an audit record (``kms:GenerateDataKey`` /
``kms:Decrypt`` on the key, ``invoked_by`` ``events.amazonaws.com``), a refusal audited too and
never billed, as the key uses Secrets Manager and Logs make.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import uuid
from collections.abc import Sequence
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.billing.service import BillingService
from andromede.events.event_keys import KeyScope, KeyUnusable
from andromede.iam.policy.service_grants import service_may
from andromede.kms.customer_keys import CustomerKeyService
from andromede.kms.errors import InvalidWrappedKey, KeyDestroyed, KeyNotFound, KmsError
from andromede.kms.framing import pack_fields, unpack_fields
from andromede.kms.keys_model import ALIAS_PREFIX, alias_arn, key_arn
from andromede.kms.service import KeyService

__all__ = ["EVENTS_SERVICE", "KmsEventKeys"]

EVENTS_SERVICE: Final = "events.amazonaws.com"
_PREFIX: Final = "kms1."
_NONCE: Final = 12
_CONTEXT_KEY: Final = "kms:EncryptionContext:aws:events:event-bus:arn"


def _aad(scope: KeyScope, key: str) -> bytes:
    return "\n".join((scope.bus_arn, scope.resource_arn, key)).encode()


class KmsEventKeys:
    def __init__(
        self,
        keys: KeyService,
        customer_keys: CustomerKeyService,
        region: str,
        audit: AuditService | None = None,
        billing: BillingService | None = None,
    ) -> None:
        self._keys = keys
        self._customer_keys = customer_keys
        self._region = region
        self._audit = audit
        self._billing = billing

    def _arn_of(self, scope: KeyScope, ref: str) -> str:
        if ref.startswith("arn:"):
            return ref
        if ref.startswith(ALIAS_PREFIX):
            return alias_arn(self._region, scope.tenant_id, ref)
        return key_arn(self._region, scope.tenant_id, ref)

    def _used(self, scope: KeyScope, action: str, key: str, error: str | None) -> None:
        if error is None and self._billing is not None:
            self._billing.count(scope.tenant_id, self._region, "kms.requests")
        if self._audit is None:
            return
        details = {"via": "events", "invoked_by": EVENTS_SERVICE, "resource": scope.resource_arn}
        if error is not None:
            details["error"] = error
        self._audit.record(
            request_id=uuid.uuid4().hex.upper()[:16],
            tenant_id=scope.tenant_id,
            principal=EVENTS_SERVICE,
            action=action,
            resource=key[:2048],
            outcome=Outcome.FAILURE if error is not None else Outcome.SUCCESS,
            details=details,
        )

    async def _ring(self, scope: KeyScope, ref: str, action: str) -> tuple[str, str]:
        """(the key's ring, its ARN) if EventBridge may do ``action`` with it now; the use
        recorded either way."""
        wanted = self._arn_of(scope, ref)
        parts = wanted.split(":")
        if len(parts) < 6 or parts[2] != "kms" or parts[4] != scope.tenant_id:
            self._used(scope, action, wanted, "NotFoundException")
            raise KeyUnusable(f"KMS key {ref[:256]} does not exist or is not a key of the account.")
        try:
            key = await self._customer_keys.key_record_for_service_use(wanted, alias_arn=True)
        except KmsError as exc:
            self._used(scope, action, wanted, type(exc).__name__)
            raise KeyUnusable(f"KMS key {ref[:256]} is not usable: {exc}") from None
        allowed = service_may(
            key.policy,
            service=EVENTS_SERVICE,
            action=action,
            resource=key.arn,
            resource_account=scope.tenant_id,
            source_arn=scope.bus_arn,
            source_account=scope.tenant_id,
            region=self._region,
            keys={_CONTEXT_KEY: scope.bus_arn},
        )
        if not allowed:
            self._used(scope, action, key.arn, "AccessDeniedException")
            raise KeyUnusable(
                f"The key policy of KMS key {key.arn} does not allow {EVENTS_SERVICE} to "
                f"perform {action} for the event bus {scope.bus_arn}."
            )
        if key.in_external_key_store:
            self._used(scope, action, key.arn, "UnsupportedOperationException")
            raise KeyUnusable(
                f"KMS key {key.arn} is in an external key store, which EventBridge does not use."
            )
        self._used(scope, action, key.arn, None)
        return key.key_id, key.arn

    async def check(self, scope: KeyScope) -> None:
        assert scope.key is not None  # noqa: S101 (the service checked)
        for action in ("kms:GenerateDataKey", "kms:Decrypt"):
            await self._ring(scope, scope.key, action)

    async def key_arn(self, scope: KeyScope) -> str:
        assert scope.key is not None  # noqa: S101 (the service checked)
        wanted = self._arn_of(scope, scope.key)
        parts = wanted.split(":")
        if len(parts) < 6 or parts[2] != "kms" or parts[4] != scope.tenant_id:
            raise KeyUnusable(
                f"KMS key {scope.key[:256]} does not exist or is not a key of the account."
            )
        try:
            key = await self._customer_keys.key_record_for_service_use(wanted, alias_arn=True)
        except KmsError as exc:
            raise KeyUnusable(f"KMS key {scope.key[:256]} is not usable: {exc}") from None
        return key.arn

    def sealed(self, stored: str) -> bool:
        return stored.startswith(_PREFIX)

    def key_of(self, stored: str) -> str:
        try:
            raw = base64.b64decode(stored.removeprefix(_PREFIX), validate=True)
            (arn_raw, _), _ = unpack_fields(raw, 2)
        except (ValueError, struct.error) as exc:
            raise KeyUnusable("A stored event's sealed form is not readable.") from exc
        return arn_raw.decode()

    async def seal(self, scope: KeyScope, events: Sequence[str]) -> list[str]:
        assert scope.key is not None  # noqa: S101 (the service checked)
        ring, arn = await self._ring(scope, scope.key, "kms:GenerateDataKey")
        aad = _aad(scope, arn)

        def work() -> list[str]:
            new = self._keys.new_data_key(ring)
            try:
                head = pack_fields(arn.encode(), new.wrapped)
                out = []
                for event in events:
                    nonce = os.urandom(_NONCE)
                    body = new.cipher.encrypt(nonce, event.encode(), aad)
                    out.append(_PREFIX + base64.b64encode(head + nonce + body).decode())
                return out
            finally:
                new.plaintext[:] = bytes(len(new.plaintext))

        try:
            return await asyncio.to_thread(work)
        except (KeyDestroyed, KeyNotFound) as exc:
            raise KeyUnusable(f"KMS key {arn} is not usable: {exc}") from None

    async def open(self, scope: KeyScope, sealed: Sequence[str]) -> list[str]:
        rings: dict[bytes, str] = {}
        parsed: list[tuple[str, bytes, bytes, bytes, bytes]] = []
        for text in sealed:
            try:
                raw = base64.b64decode(text.removeprefix(_PREFIX), validate=True)
                (arn_raw, wrapped), rest = unpack_fields(raw, 2)
            except (ValueError, struct.error) as exc:
                raise KeyUnusable("A stored event's sealed form is not readable.") from exc
            if arn_raw not in rings:
                rings[arn_raw] = (await self._ring(scope, arn_raw.decode(), "kms:Decrypt"))[0]
            aad = _aad(scope, arn_raw.decode())
            parsed.append((rings[arn_raw], wrapped, rest[:_NONCE], rest[_NONCE:], aad))

        def work() -> list[str]:
            ciphers: dict[tuple[str, bytes], AESGCM] = {}
            opened = []
            for ring, wrapped, nonce, body, aad in parsed:
                cipher = ciphers.get((ring, wrapped))
                if cipher is None:
                    cipher = ciphers[(ring, wrapped)] = self._keys.data_key_cipher(ring, wrapped)
                opened.append(cipher.decrypt(nonce, body, aad).decode())
            return opened

        try:
            return await asyncio.to_thread(work)
        except (KeyDestroyed, KeyNotFound, InvalidWrappedKey, InvalidTag) as exc:
            raise KeyUnusable(f"The stored events cannot be opened: {type(exc).__name__}") from None
