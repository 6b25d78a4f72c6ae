"""A value sealed in an envelope under a customer-managed KMS key on behalf of a request's
caller, as AWS's services that hold values for their customers do it: Secrets Manager's
secrets (decision 0190) and Systems Manager's SecureString parameters (decision 0229).

A seal asks KMS GenerateDataKey for a 256-bit data key under the owner's key (the account's
AWS-managed ``alias/aws/<service>``, made on first use, unless the owner names another),
with the service's encryption context and ``kms:ViaService`` = ``<service>.<region>.
amazonaws.com``, on behalf of the caller, so the key policy, grants and IAM decide as they do
on AWS; the value is then AES-256-GCM under the data key (its AAD the service's binding of
the value and the envelope's header) and only the wrapped data key is kept beside it. Each
open asks KMS Decrypt for the data key again (no cache: a disabled key or a revoked right
stops the next read). Each KMS use is audited (``kms:GenerateDataKey`` / ``kms:Decrypt`` on
the key, ``invoked_by`` ``<service>.amazonaws.com``) and, once it succeeded, metered as one
``kms.requests`` of the caller's account in the key's region (decision 0150: AWS bills "the
AWS account that makes the API request"). KMS's refusals become the service's errors
(:class:`EnvelopeService`): the caller not allowed → ``refused``, any other → ``seal_failed``
/ ``open_failed``.

A value re-encrypted under a new key may keep its previous envelope after the new one
(:func:`kept_form`, Secrets Manager's key change): an open tries the newest first.

The caller is any :class:`KeyCaller` (each API's ``KeyUser``); the owner any
:class:`EnvelopeOwner` (a secret, a parameter). Its keys are keys of the owner's own region.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.billing.service import BillingService
from andromede.errors import AndromedeError
from andromede.iam.model import Principal
from andromede.kms.customer_keys import Caller, CustomerKeyService
from andromede.kms.errors import KmsError
from andromede.kms.keys_errors import CmkAccessDenied, CmkNotFound
from andromede.kms.keys_model import ALIAS_PREFIX, alias_arn, key_arn

__all__ = [
    "EnvelopeOwner",
    "EnvelopeService",
    "KeyCaller",
    "KmsEnvelopeSealer",
    "envelope_key",
    "envelopes",
    "kept_form",
]

_FORMAT: Final = b"\x01"
_FORMAT_KEPT: Final = b"\x02"  # the new envelope, then the previous one kept
_NONCE: Final = 12
_KMS_REQUESTS: Final = "kms.requests"


class KeyCaller(Protocol):
    """Who a seal or an open uses the key for: the request's principal, where it came from and
    the request's id, for the key policy's conditions and the audit record."""

    @property
    def principal(self) -> Principal: ...

    @property
    def source_ip(self) -> str | None: ...

    @property
    def secure(self) -> bool: ...

    @property
    def request_id(self) -> str: ...


class EnvelopeOwner(Protocol):
    """What a value belongs to: its ARN, account, region, and the key it names (None: the
    account's AWS-managed key of the service)."""

    @property
    def arn(self) -> str: ...

    @property
    def tenant_id(self) -> str: ...

    @property
    def region(self) -> str: ...

    @property
    def kms_key_id(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class EnvelopeService:
    """The AWS service sealing (its SigV4 name, ``secretsmanager`` or ``ssm``), its errors,
    and the name its audit details give the owner's ARN."""

    name: str
    refused: Callable[[], AndromedeError]
    # KMS's refusal (None: the sealed form itself is at fault) and why, in this platform's
    # words ("" for the service's own wording of a KMS failure).
    seal_failed: Callable[[KmsError], AndromedeError]
    open_failed: Callable[[str, KmsError | None], AndromedeError]
    owner_detail: str

    @property
    def aws_managed_alias(self) -> str:
        return f"alias/aws/{self.name}"


class KmsEnvelopeSealer:
    def __init__(
        self,
        service: EnvelopeService,
        customer_keys: CustomerKeyService,
        region: str,
        audit: AuditService | None = None,
        billing: BillingService | None = None,
    ) -> None:
        self._service = service
        self._keys = customer_keys
        self._region = region
        self._audit = audit
        self._billing = billing
        self._regional: dict[str, CustomerKeyService] = {customer_keys.region: customer_keys}

    def _kms(self, region: str) -> CustomerKeyService:
        """The KMS endpoint of ``region``: an owner's keys are keys of its own region."""
        found = self._regional.get(region)
        if found is None:
            found = self._regional[region] = self._keys.in_region(region)
        return found

    async def seal(
        self,
        owner: EnvelopeOwner,
        context: Mapping[str, str],
        binding: bytes,
        plaintext: bytes,
        caller: KeyCaller,
    ) -> bytes:
        """``plaintext`` in one envelope; ``binding`` is bound into its AAD."""
        action = "kms:GenerateDataKey"
        key_ref = await self.key_ref(owner)
        try:
            made = await self._kms(owner.region).generate_data_key(
                self._caller(caller, owner.region), key_ref, 32, dict(context)
            )
        except KmsError as exc:
            self._record(caller, owner, action, key_ref, type(exc).__name__)
            if _refused(exc, key_ref, caller):
                raise self._service.refused() from None
            raise self._service.seal_failed(exc) from None
        self._record(caller, owner, action, made.key.arn, None)
        self._count(caller, made.key.arn)
        assert made.plaintext is not None  # noqa: S101 (GenerateDataKey with plaintext)
        header = json.dumps({"k": made.key.arn}, separators=(",", ":")).encode()
        nonce = os.urandom(_NONCE)
        sealed = AESGCM(made.plaintext).encrypt(nonce, plaintext, binding + b"\n" + header)
        return b"".join(
            (
                _FORMAT,
                struct.pack(">H", len(header)),
                header,
                struct.pack(">H", len(made.ciphertext)),
                made.ciphertext,
                nonce,
                sealed,
            )
        )

    async def open(
        self,
        owner: EnvelopeOwner,
        context: Mapping[str, str],
        binding: bytes,
        sealed: bytes,
        caller: KeyCaller,
    ) -> bytes:
        """The value of a sealed form: its first envelope KMS lets the caller open."""
        failed = self._service.open_failed
        try:
            forms = envelopes(sealed)
        except (struct.error, ValueError) as exc:
            raise failed("The value's sealed form is not readable.", None) from exc
        first: AndromedeError | None = None
        for envelope in forms:
            try:
                return await self._open(owner, context, binding, envelope, caller)
            except AndromedeError as exc:
                first = first or exc  # the newest key's refusal is the one to tell
        assert first is not None  # noqa: S101 (a sealed form has one envelope at least)
        raise first

    async def _open(
        self,
        owner: EnvelopeOwner,
        context: Mapping[str, str],
        binding: bytes,
        sealed: bytes,
        caller: KeyCaller,
    ) -> bytes:
        action = "kms:Decrypt"
        failed = self._service.open_failed
        try:
            if sealed[:1] != _FORMAT:
                raise ValueError("unknown sealed form")
            (size,) = struct.unpack(">H", sealed[1:3])
            header = sealed[3 : 3 + size]
            named = str(json.loads(header)["k"])
            (wrapped_size,) = struct.unpack(">H", sealed[3 + size : 5 + size])
            start = 5 + size
            wrapped = sealed[start : start + wrapped_size]
            nonce = sealed[start + wrapped_size : start + wrapped_size + _NONCE]
            body = sealed[start + wrapped_size + _NONCE :]
        except (struct.error, ValueError, KeyError, TypeError) as exc:
            raise failed("The value's sealed form is not readable.", None) from exc
        try:
            data_key, _ = await self._kms(owner.region).decrypt(
                self._caller(caller, owner.region), wrapped, dict(context), key_ref=named
            )
        except KmsError as exc:
            self._record(caller, owner, action, named, type(exc).__name__)
            if _refused(exc, named, caller):
                raise self._service.refused() from None
            raise failed("", exc) from None
        self._record(caller, owner, action, named, None)
        self._count(caller, named)
        try:
            return AESGCM(data_key).decrypt(nonce, body, binding + b"\n" + header)
        except InvalidTag:
            raise failed("The value does not open under its key.", None) from None

    async def key_ref(self, owner: EnvelopeOwner) -> str:
        """The owner's key as an ARN of the owner's account (its AWS-managed key made now if
        it names none)."""
        ref = owner.kms_key_id
        account, region = owner.tenant_id, owner.region
        managed = self._service.aws_managed_alias
        if ref is None or ref in (managed, alias_arn(region, account, managed)):
            made, _ = await self._kms(region).aws_managed_key(account, self._service.name)
            return made.arn
        if ref.startswith("arn:"):
            return ref
        if ref.startswith(ALIAS_PREFIX):
            return alias_arn(region, account, ref)
        return key_arn(region, account, ref)

    def _count(self, caller: KeyCaller, key: str) -> None:
        if self._billing is None:
            return
        parts = key.split(":")
        region = parts[3] if len(parts) >= 6 and parts[3] else self._region
        account = caller.principal.tenant_id or (parts[4] if len(parts) >= 6 else "")
        if account:
            self._billing.count(account, region, _KMS_REQUESTS)

    def _caller(self, caller: KeyCaller, region: str) -> Caller:
        principal = caller.principal
        return Caller(
            account_id=principal.tenant_id or "",
            arn=principal.arn,
            principal=principal,
            source_ip=caller.source_ip,
            secure=caller.secure,
            via_service=f"{self._service.name}.{region}.amazonaws.com",
            request_id=caller.request_id,
            region=region,
        )

    def _record(
        self, caller: KeyCaller, owner: EnvelopeOwner, action: str, key: str, error: str | None
    ) -> None:
        if self._audit is None:
            return
        name = self._service.name
        details = {
            "via": name,
            "invoked_by": f"{name}.amazonaws.com",
            self._service.owner_detail: owner.arn,
        }
        if error is not None:
            details["error"] = error
        self._audit.record(
            request_id=caller.request_id,
            tenant_id=caller.principal.tenant_id,
            principal=caller.principal.arn,
            action=action,
            resource=key[:2048],
            outcome=Outcome.FAILURE if error is not None else Outcome.SUCCESS,
            details=details,
        )


def _refused(exc: KmsError, key: str, caller: KeyCaller) -> bool:
    """Whether KMS refused the caller: KMS tells a caller of another account that a key its
    policy does not open to it does not exist (so accounts cannot probe each other's keys);
    the owner names that key, so it is a refusal, as AWS answers it ("Access to KMS is not
    allowed") when another account reads a value under its owner's AWS-managed key."""
    if isinstance(exc, CmkAccessDenied):
        return True
    account = key.split(":")[4] if key.count(":") >= 5 else None
    return (
        isinstance(exc, CmkNotFound)
        and account is not None
        and account != caller.principal.tenant_id
    )


def kept_form(fresh: bytes, previous: bytes) -> bytes:
    """A sealed form of ``fresh``'s envelope with ``previous`` kept after it (or ``fresh``
    alone when both are under the same key)."""
    if envelope_key(previous) == envelope_key(fresh):
        return fresh
    return b"".join((_FORMAT_KEPT, struct.pack(">I", len(fresh)), fresh, previous))


def envelopes(sealed: bytes) -> list[bytes]:
    """A sealed form's envelopes, the newest first: one, or the new and the previous one
    after a change of key. ``ValueError`` for a form of no known format."""
    if sealed[:1] == _FORMAT_KEPT:
        (size,) = struct.unpack(">I", sealed[1:5])
        fresh, previous = sealed[5 : 5 + size], sealed[5 + size :]
        if fresh[:1] != _FORMAT or previous[:1] != _FORMAT:
            raise ValueError("unknown sealed form")
        return [fresh, previous]
    if sealed[:1] != _FORMAT:
        raise ValueError("unknown sealed form")
    return [sealed]


def envelope_key(sealed: bytes) -> str:
    """The ARN of the key an envelope's data key is wrapped under (its header's)."""
    (size,) = struct.unpack(">H", sealed[1:3])
    return str(json.loads(sealed[3 : 3 + size])["k"])
