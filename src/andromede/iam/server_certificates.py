"""IAM server certificates (part of IdentityService; decision 0205): the TLS certificates an
account uploads, with their private keys, for the services that terminate TLS for it.

What IAM checks, and answers with its own codes: the body is one PEM certificate and the chain
one or more (``MalformedCertificate`` otherwise, or when the certificate has expired); the
private key is an unencrypted PEM key, RSA of 1,024 to 4,096 bits or ECDSA on P-256 or P-384,
whose public key is the certificate's (``KeyPairMismatch``); a name of 1 to 128 of
``[\\w+=,.@-]``, an IAM path; at most ``server_certificates_per_account`` certificates.

The private key is never answered, logged or kept in clear: it is sealed under the account's
own key ring (the ``certificate_sealer``, wired over the key service), bound to the account
and the certificate's id, so closing the account shreds it with the rest of its data.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Final, Protocol

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from andromede.iam.errors import (
    ConcurrentModification,
    DeleteConflict,
    EntityAlreadyExists,
    InvalidInput,
    KeyPairMismatch,
    LimitExceeded,
    MalformedCertificate,
    NoSuchEntity,
)
from andromede.iam.model import Page, ServerCertificate, Tags
from andromede.iam.service_core import ServiceCore, check_max_items, check_name, check_path
from andromede.iam.tags import check_tags, merged, without

__all__ = ["CertificateSealer", "ServerCertificatesMixin", "certificate_context"]

BODY_MAX: Final = 16384  # IAM's CertificateBody and PrivateKey: at most 16,384 characters
CHAIN_MAX: Final = 2097152
_RSA_BITS: Final = (1024, 4096)
_CURVES: Final = (ec.SECP256R1, ec.SECP384R1)
_ID_ALPHABET: Final = string.ascii_uppercase + string.digits
_PEM_CERTIFICATE: Final = "-----BEGIN CERTIFICATE-----"
_CHANGE_ATTEMPTS: Final = 5


class CertificateSealer(Protocol):
    """Seals under the account's key ring; ``context`` is bound to the ciphertext."""

    async def seal(self, tenant_id: str, plaintext: bytes, context: bytes) -> bytes: ...

    async def open(self, tenant_id: str, sealed: bytes, context: bytes) -> bytes: ...


def certificate_context(tenant_id: str, certificate_id: str) -> bytes:
    return f"iam-server-certificate\n{tenant_id}\n{certificate_id}".encode()


def _not_found(name: str) -> NoSuchEntity:
    return NoSuchEntity(f"The Server Certificate with name {name} cannot be found.")


def _certificate(body: str, now: datetime) -> x509.Certificate:
    if not 1 <= len(body) <= BODY_MAX:
        raise InvalidInput(f"CertificateBody must be 1 to {BODY_MAX} characters")
    if body.count(_PEM_CERTIFICATE) != 1:
        raise MalformedCertificate(
            "Unable to parse certificate. Please ensure the certificate is in PEM format "
            "and holds one certificate (its chain goes in CertificateChain)."
        )
    try:
        certificate = x509.load_pem_x509_certificate(body.encode())
    except ValueError:
        raise MalformedCertificate(
            "Unable to parse certificate. Please ensure the certificate is in PEM format."
        ) from None
    if certificate.not_valid_after_utc <= now:
        raise MalformedCertificate("The certificate has expired.")
    return certificate


def _chain(chain: str | None) -> str | None:
    if chain is None:
        return None
    if not 1 <= len(chain) <= CHAIN_MAX:
        raise InvalidInput(f"CertificateChain must be 1 to {CHAIN_MAX} characters")
    try:
        if not x509.load_pem_x509_certificates(chain.encode()):
            raise ValueError("no certificate")
    except ValueError:
        raise MalformedCertificate(
            "Unable to parse certificate chain. Please ensure the chain is in PEM format."
        ) from None
    return chain


def _private_key(pem: str, certificate: x509.Certificate) -> None:
    """MalformedCertificate unless an unencrypted RSA or ECDSA key IAM takes; KeyPairMismatch
    unless the certificate's. Nothing of the key is ever put in a message."""
    if not 1 <= len(pem) <= BODY_MAX:
        raise InvalidInput(f"PrivateKey must be 1 to {BODY_MAX} characters")
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise MalformedCertificate(
            "Unable to parse private key. Please ensure it is an unencrypted key in PEM format."
        ) from None
    if isinstance(key, rsa.RSAPrivateKey):
        if not _RSA_BITS[0] <= key.key_size <= _RSA_BITS[1]:
            raise MalformedCertificate(
                f"RSA keys of {_RSA_BITS[0]} to {_RSA_BITS[1]} bits only; this one has "
                f"{key.key_size}."
            )
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        if not isinstance(key.curve, _CURVES):
            raise MalformedCertificate("ECDSA keys on P-256 or P-384 only.")
    else:
        raise MalformedCertificate("The private key must be an RSA or an ECDSA key.")
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if key.public_key().public_bytes(der, spki) != certificate.public_key().public_bytes(der, spki):
        raise KeyPairMismatch("The public key certificate and the private key do not match.")


class ServerCertificatesMixin(ServiceCore):
    # Set by the wiring (over the key service); None where certificates cannot be kept.
    certificate_sealer: CertificateSealer | None = None
    # Decision 0210, set by the wiring: the ARNs of what presents a certificate (the load
    # balancers' TLS listeners), so one in use is not deleted (IAM's DeleteConflict).
    certificate_users: Callable[[str, str], Awaitable[list[str]]] | None = None

    def _certificate_sealer(self) -> CertificateSealer:
        if self.certificate_sealer is None:
            raise InvalidInput("Server certificates are not offered by this deployment.")
        return self.certificate_sealer

    async def upload_server_certificate(
        self,
        tenant_id: str,
        name: str,
        body: str,
        private_key: str,
        chain: str | None = None,
        path: str = "/",
        tags: Tags = (),
    ) -> ServerCertificate:
        sealer = self._certificate_sealer()
        check_name("serverCertificateName", name, 128)
        check_path(path)
        checked_tags = check_tags(tags)
        now = self._now()
        certificate = _certificate(body, now)
        checked_chain = _chain(chain)
        _private_key(private_key, certificate)
        most = self._limits.server_certificates_per_account
        if len(await self._store.list_server_certificates(tenant_id)) >= most:
            raise LimitExceeded(f"Cannot exceed quota for ServerCertificatesPerAccount: {most}")
        certificate_id = "ASCA" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(17))
        sealed = await sealer.seal(
            tenant_id, private_key.encode(), certificate_context(tenant_id, certificate_id)
        )
        uploaded = ServerCertificate(
            tenant_id=tenant_id,
            name=name,
            path=path,
            certificate_id=certificate_id,
            # Kept without the white space around them, as IAM answers them (Terraform's
            # provider trims its configuration's to compare).
            body=body.strip(),
            chain=None if checked_chain is None else checked_chain.strip(),
            sealed_private_key=sealed,
            uploaded_at=now,
            expiration=certificate.not_valid_after_utc.astimezone(UTC),
            tags=checked_tags,
        )
        try:
            await self._store.create_server_certificate(uploaded)
        except EntityAlreadyExists:
            raise EntityAlreadyExists(
                f"The Server Certificate with name {name} already exists."
            ) from None
        return uploaded

    async def get_server_certificate(self, tenant_id: str, name: str) -> ServerCertificate:
        found = await self._store.get_server_certificate(tenant_id, name)
        if found is None:
            raise _not_found(name)
        return found

    async def list_server_certificates(
        self,
        tenant_id: str,
        path_prefix: str = "/",
        marker: str | None = None,
        max_items: int | None = None,
    ) -> Page[ServerCertificate]:
        """By name, from after ``marker`` (the last name of the previous page)."""
        if not path_prefix.startswith("/"):
            raise InvalidInput("PathPrefix must begin with /")
        limit = check_max_items(max_items)
        every = [
            c
            for c in await self._store.list_server_certificates(tenant_id)
            if c.path.startswith(path_prefix) and (marker is None or c.name > marker)
        ]
        items = every[:limit]
        truncated = len(every) > limit
        return Page(items, truncated, items[-1].name if truncated else None)

    async def update_server_certificate(
        self,
        tenant_id: str,
        name: str,
        new_name: str | None = None,
        new_path: str | None = None,
    ) -> ServerCertificate:
        if new_name is not None:
            check_name("newServerCertificateName", new_name, 128)
        if new_path is not None:
            check_path(new_path)
        return await self._change_certificate(
            tenant_id,
            name,
            lambda c: replace(c, name=new_name or c.name, path=new_path or c.path),
        )

    async def delete_server_certificate(self, tenant_id: str, name: str) -> None:
        if self.certificate_users is not None:
            found = await self.get_server_certificate(tenant_id, name)
            users = await self.certificate_users(tenant_id, found.arn)
            if users:
                # IAM's words when a load balancer still presents it.
                raise DeleteConflict(
                    f"Certificate: {found.certificate_id} is currently in use by {users[0]}. "
                    "Please remove it first before deleting it from IAM."
                )
        if not await self._store.delete_server_certificate(tenant_id, name):
            raise _not_found(name)

    async def tag_server_certificate(self, tenant_id: str, name: str, tags: Tags) -> None:
        checked = check_tags(tags)
        await self._change_certificate(
            tenant_id, name, lambda c: replace(c, tags=merged(c.tags, checked))
        )

    async def untag_server_certificate(self, tenant_id: str, name: str, keys: list[str]) -> None:
        await self._change_certificate(
            tenant_id, name, lambda c: replace(c, tags=without(c.tags, keys))
        )

    async def server_certificate_private_key(self, tenant_id: str, name: str) -> bytes:
        """The PEM private key, opened for a service terminating TLS for the account (never
        for an API answer)."""
        found = await self.get_server_certificate(tenant_id, name)
        return await self._certificate_sealer().open(
            tenant_id,
            found.sealed_private_key,
            certificate_context(tenant_id, found.certificate_id),
        )

    async def _change_certificate(
        self, tenant_id: str, name: str, change: Callable[[ServerCertificate], ServerCertificate]
    ) -> ServerCertificate:
        """Read, change, and write only if nobody changed it since (retried a few times, then
        ConcurrentModification, as IAM answers)."""
        for _ in range(_CHANGE_ATTEMPTS):
            read = await self.get_server_certificate(tenant_id, name)
            changed = change(read)
            if changed == read:
                return read
            try:
                written = await self._store.update_server_certificate(changed, read)
            except EntityAlreadyExists:
                raise EntityAlreadyExists(
                    f"The Server Certificate with name {changed.name} already exists."
                ) from None
            if written:
                return changed
        raise ConcurrentModification(
            "The server certificate was changed by another request meanwhile; try again"
        )
