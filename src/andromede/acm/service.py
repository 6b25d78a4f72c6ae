"""Certificate Manager's service (decision 0230): certificates imported, re-imported under their
ARN, read, listed, tagged and deleted; the account's expiry-event configuration; a
certificate's private key opened for a service terminating TLS for the account (never for an
API answer).

The private key is sealed under the account's own key ring by a :class:`CertificateSealer`
(the one IAM's server certificates use, decision 0205), bound to the account and the
certificate's id, so closing the account shreds it with the rest of its data. What presents a
certificate (the load balancers' listeners) is asked through ``certificate_users``, so one in
use is not deleted (``CertificateInUse``) and DescribeCertificate's ``InUseBy`` names them.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Final, Protocol

from cryptography.hazmat.primitives import serialization

from andromede.acm.errors import (
    CertificateInUse,
    CertificateNotFound,
    Conflict,
    InvalidArn,
    InvalidParameter,
    InvalidTag,
    TooManyTags,
    ValidationFailed,
)
from andromede.acm.model import (
    ARN,
    DEFAULT_DAYS_BEFORE_EXPIRY,
    Certificate,
    certificate_arn,
    inspect,
)
from andromede.acm.private_ca import PrivateAuthority
from andromede.acm.store import CertificateStore

__all__ = ["AcmLimits", "AcmService", "CertificateSealer", "key_context"]

MAX_TAGS: Final = 50  # ACM's tags per certificate
_ATTEMPTS: Final = 5


class CertificateSealer(Protocol):
    """Seals under the account's key ring; ``context`` is bound to the ciphertext (IAM's
    server certificates' sealer answers it)."""

    async def seal(self, tenant_id: str, plaintext: bytes, context: bytes) -> bytes: ...

    async def open(self, tenant_id: str, sealed: bytes, context: bytes) -> bytes: ...


@dataclass(frozen=True, slots=True)
class AcmLimits:
    max_certificates: int = 2500  # AWS's ACM certificates per account
    max_imports_per_year: int = 5000  # AWS's imported certificates in the last 365 days


def key_context(tenant_id: str, certificate_id: str) -> bytes:
    return f"acm-certificate\n{tenant_id}\n{certificate_id}".encode()


def _now() -> datetime:
    now = datetime.now(UTC)
    # Milliseconds, as the database keeps them: a certificate read back is the one written.
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def check_tags(tags: Sequence[tuple[str, str]]) -> None:
    for key, _ in tags:
        if key.lower().startswith("aws:"):
            raise InvalidTag(f"Tag key '{key[:128]}' uses the reserved prefix 'aws:'.")


class AcmService:
    def __init__(
        self,
        store: CertificateStore,
        sealer: CertificateSealer,
        region: str,
        limits: AcmLimits | None = None,
        clock: Callable[[], datetime] = _now,
        authority: PrivateAuthority | None = None,
    ) -> None:
        self.store = store
        # The operator's private CA, when configured: RequestCertificate issues from it.
        self.authority = authority
        self._sealer = sealer
        self.region = region
        self._limits = limits or AcmLimits()
        self._clock = clock
        # Set by the wiring: the ARNs of what presents a certificate (the load balancers).
        self.certificate_users: Callable[[str, str], Awaitable[list[str]]] | None = None

    def now(self) -> datetime:
        return self._clock()

    def certificate_id(self, tenant_id: str, arn: str) -> str:
        """The id an ARN names: ``InvalidArn`` unless an ACM certificate ARN,
        ``CertificateNotFound`` when another account's or Region's."""
        match = ARN.fullmatch(arn)
        if match is None:
            raise InvalidArn(f"String '{arn[:2048]}' is not a valid ARN.")
        if match["account"] != tenant_id or match["region"] != self.region:
            raise CertificateNotFound(f"Could not find certificate {arn[:2048]}.")
        return match["id"]

    async def get(self, tenant_id: str, arn: str) -> Certificate:
        found = await self.store.get(tenant_id, self.certificate_id(tenant_id, arn))
        if found is None:
            raise CertificateNotFound(f"Could not find certificate {arn[:2048]}.")
        return found

    async def import_certificate(
        self,
        tenant_id: str,
        body: str,
        private_key: str,
        chain: str | None = None,
        tags: Sequence[tuple[str, str]] = (),
        arn: str | None = None,
    ) -> Certificate:
        """A new certificate, or, with ``arn``, the certificate re-imported under its ARN (its
        tags and creation kept: ACM refuses tags on a re-import)."""
        held = None
        if arn is not None:
            held = await self.get(tenant_id, arn)
            if held.kind != "IMPORTED":
                raise ValidationFailed(
                    f"Certificate {held.arn} was not imported: it cannot be reimported."
                )
            if tags:
                raise InvalidParameter("Tags cannot be specified when reimporting a certificate.")
        check_tags(tags)
        if len(dict(tags)) > MAX_TAGS:
            raise TooManyTags(f"A certificate can have at most {MAX_TAGS} tags.")
        now = self.now()
        facts = inspect(body, private_key, chain, now)
        now_ms = int(now.timestamp() * 1000)
        await self.store.count_import(
            tenant_id, now_ms, now_ms - 365 * 86_400_000, self._limits.max_imports_per_year
        )
        certificate_id = held.certificate_id if held is not None else str(uuid.uuid4())
        sealed = await self._sealer.seal(
            tenant_id, private_key.encode(), key_context(tenant_id, certificate_id)
        )
        if held is not None:
            changed = replace(
                held,
                body=body.strip(),
                chain=None if chain is None else chain.strip(),
                sealed_key=sealed,
                facts=facts,
                imported_at=now,
                revision=held.revision + 1,
            )
            if not await self.store.replace(changed):
                raise Conflict("The certificate was changed by another request; try again.")
            return changed
        made = Certificate(
            tenant_id=tenant_id,
            certificate_id=certificate_id,
            region=self.region,
            body=body.strip(),
            chain=None if chain is None else chain.strip(),
            sealed_key=sealed,
            facts=facts,
            created_at=now,
            imported_at=now,
            tags=tuple(dict(tags).items()),
        )
        await self.store.create(made, self._limits.max_certificates)
        return made

    async def request_certificate(
        self,
        tenant_id: str,
        domain: str,
        names: Sequence[str],
        algorithm: str,
        authority_arn: str,
        tags: Sequence[tuple[str, str]] = (),
    ) -> Certificate:
        """A PRIVATE certificate issued at once by the operator's private CA (no validation,
        as AWS Private CA's), its key generated here and sealed as an imported one's."""
        authority = self.authority
        if authority is None or authority_arn != authority.arn:
            raise InvalidArn(f"Could not find certificate authority {authority_arn[:2048]}.")
        check_tags(tags)
        if len(dict(tags)) > MAX_TAGS:
            raise TooManyTags(f"A certificate can have at most {MAX_TAGS} tags.")
        now = self.now()
        body, key = authority.issue(domain, (domain, *names), algorithm, now)
        facts = inspect(body, key, authority.certificate_pem, now)
        certificate_id = str(uuid.uuid4())
        made = Certificate(
            tenant_id=tenant_id,
            certificate_id=certificate_id,
            region=self.region,
            body=body.strip(),
            chain=authority.certificate_pem.strip(),
            sealed_key=await self._sealer.seal(
                tenant_id, key.encode(), key_context(tenant_id, certificate_id)
            ),
            facts=facts,
            created_at=now,
            imported_at=now,  # its issuance
            tags=tuple(dict(tags).items()),
            kind="PRIVATE",
            authority_arn=authority.arn,
        )
        await self.store.create(made, self._limits.max_certificates)
        return made

    def renewable(self, certificate: Certificate) -> bool:
        """Whether ACM renews it: a PRIVATE certificate of the private CA configured."""
        authority = self.authority
        return (
            certificate.kind == "PRIVATE"
            and authority is not None
            and certificate.authority_arn == authority.arn
        )

    async def renew(self, tenant_id: str, arn: str) -> Certificate:
        """A PRIVATE certificate issued again under its ARN — the same names and key
        algorithm, a new key, a new validity —, as ACM's managed renewal."""
        found = await self.get(tenant_id, arn)
        authority = self.authority
        if authority is None or not self.renewable(found):
            raise ValidationFailed(f"Certificate {found.arn} is not eligible for renewal.")
        now = self.now()
        facts = found.facts
        body, key = authority.issue(
            facts.domain_name, facts.alternative_names, facts.key_algorithm, now
        )
        renewed = replace(
            found,
            body=body.strip(),
            chain=authority.certificate_pem.strip(),
            sealed_key=await self._sealer.seal(
                tenant_id, key.encode(), key_context(tenant_id, found.certificate_id)
            ),
            facts=inspect(body, key, authority.certificate_pem, now),
            imported_at=now,
            revision=found.revision + 1,
        )
        if not await self.store.replace(renewed):
            raise Conflict("The certificate was changed by another request; try again.")
        return renewed

    async def export(self, tenant_id: str, arn: str, passphrase: bytes) -> tuple[Certificate, str]:
        """A PRIVATE certificate and its key, encrypted under ``passphrase`` (PKCS #8)."""
        found = await self.get(tenant_id, arn)
        if found.kind != "PRIVATE":
            raise ValidationFailed(f"Certificate ARN: {found.arn} is not a private certificate")
        opened = await self.private_key(tenant_id, arn)
        key = serialization.load_pem_private_key(opened, password=None)
        encrypted = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase),
        )
        return found, encrypted.decode()

    async def in_use_by(self, tenant_id: str, arn: str) -> list[str]:
        if self.certificate_users is None:
            return []
        return await self.certificate_users(tenant_id, arn)

    async def delete(self, tenant_id: str, arn: str) -> None:
        found = await self.get(tenant_id, arn)
        if await self.in_use_by(tenant_id, found.arn):
            raise CertificateInUse(f"Certificate {found.arn} in account {tenant_id} is in use.")
        if not await self.store.delete(tenant_id, found.certificate_id):
            raise CertificateNotFound(f"Could not find certificate {arn[:2048]}.")

    async def add_tags(self, tenant_id: str, arn: str, tags: Sequence[tuple[str, str]]) -> None:
        check_tags(tags)

        def change(held: Certificate) -> Certificate:
            merged = dict(held.tags) | dict(tags)
            if len(merged) > MAX_TAGS:
                raise TooManyTags(
                    f"the TagSet: {{{', '.join(merged)[:512]}}} contains too many Tags. "
                    f"A certificate can have at most {MAX_TAGS} tags."
                )
            return replace(held, tags=tuple(merged.items()))

        await self._change(tenant_id, arn, change)

    async def remove_tags(
        self, tenant_id: str, arn: str, tags: Sequence[tuple[str, str | None]]
    ) -> None:
        """Each key's tag removed, when its value is the one given (or none is given)."""
        check_tags([(k, "") for k, _ in tags])

        def change(held: Certificate) -> Certificate:
            kept = tuple(
                (k, v)
                for k, v in held.tags
                if not any(k == key and value in (None, v) for key, value in tags)
            )
            return replace(held, tags=kept)

        await self._change(tenant_id, arn, change)

    async def _change(
        self, tenant_id: str, arn: str, change: Callable[[Certificate], Certificate]
    ) -> None:
        for _ in range(_ATTEMPTS):
            held = await self.get(tenant_id, arn)
            changed = change(held)
            if changed.tags == held.tags:
                return
            if await self.store.replace(replace(changed, revision=held.revision + 1)):
                return
        raise Conflict("The certificate was changed by another request meanwhile; try again.")

    async def private_key(self, tenant_id: str, arn: str) -> bytes:
        """The PEM private key, opened for a service terminating TLS for the account."""
        found = await self.get(tenant_id, arn)
        return await self._sealer.open(
            tenant_id, found.sealed_key, key_context(tenant_id, found.certificate_id)
        )

    async def days_before_expiry(self, tenant_id: str) -> int:
        days = await self.store.days_before_expiry(tenant_id)
        return DEFAULT_DAYS_BEFORE_EXPIRY if days is None else days

    async def put_days_before_expiry(self, tenant_id: str, days: int) -> None:
        if not 1 <= days <= 45:
            # ACM's own bound: expiry events begin at most 45 days before.
            raise ValidationFailed(
                "1 validation error detected: Value at 'expiryEvents.daysBeforeExpiry' failed "
                "to satisfy constraint: Member must have value between 1 and 45"
            )
        await self.store.put_days_before_expiry(tenant_id, days)

    def arn_of(self, tenant_id: str, certificate_id: str) -> str:
        return certificate_arn(self.region, tenant_id, certificate_id)
