"""AWS Certificate Manager's JSON 1.1 app in process (decision 0230): AcmApp over the in-memory
identity store and a certificate store (memory by default), its keys sealed by the real
key-ring sealer IAM's server certificates use; calls made through botocore's own model of the
service (its serializer and parser, the parameters validated first), signed with SigV4 for
service ``acm``. :func:`issue` makes the certificates to import: RSA or ECDSA keys of the sizes
ACM takes, signed by a test CA whose PEM is the chain."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Final

import botocore.session
from botocore.credentials import Credentials
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from andromede.acm.memory import MemoryCertificateStore
from andromede.acm.private_ca import PrivateAuthority
from andromede.acm.service import AcmLimits, AcmService
from andromede.acm.store import CertificateStore
from andromede.acmapi.app import CONTENT_TYPE, AcmApp
from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.settings import Settings
from andromede.wiring.queues import KeySealer
from support.json_client import CallFailed, ModelledCalls
from support.keys import key_service_in

__all__ = [
    "MODEL",
    "REGION",
    "CallFailed",
    "Issued",
    "World",
    "acm_world",
    "ca_files",
    "issue",
    "private_ca",
]

REGION: Final = "eu-fr-1"
MODEL: Final = botocore.session.get_session().get_service_model("acm")


@dataclass(frozen=True)
class Issued:
    body: str
    key: str
    chain: str


@cache
def _key(kind: str) -> CertificateIssuerPrivateKeyTypes:
    """One key of each kind for the whole run (RSA keys are slow to make)."""
    if kind.startswith("rsa"):
        return rsa.generate_private_key(65537, int(kind[3:]))
    curves: dict[str, ec.EllipticCurve] = {
        "ec256": ec.SECP256R1(), "ec384": ec.SECP384R1(), "ec521": ec.SECP521R1()
    }  # fmt: skip
    return ec.generate_private_key(curves[kind])


@cache
def _ca() -> tuple[CertificateIssuerPrivateKeyTypes, x509.Name, str]:
    key = _key("ec384")
    name = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Andromede Test"),
        x509.NameAttribute(NameOID.COMMON_NAME, "Andromede Test CA"),
    ])  # fmt: skip
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA384())
    )
    return key, name, certificate.public_bytes(serialization.Encoding.PEM).decode()


def pem_key(key: CertificateIssuerPrivateKeyTypes, password: bytes | None = None) -> str:
    encryption: serialization.KeySerializationEncryption = (
        serialization.NoEncryption()
        if password is None
        else serialization.BestAvailableEncryption(password)
    )
    return key.private_bytes(  # type: ignore[union-attr]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    ).decode()


def issue(
    *names: str,
    kind: str = "rsa2048",
    days: int = 90,
    starts: timedelta = timedelta(days=-1),
    serial: int | None = None,
    server_auth: bool = True,
) -> Issued:
    """A certificate for ``names`` (the first its common name) on a key of ``kind``
    (``rsa2048``, ``rsa3072``, ``rsa4096``, ``rsa1024``, ``ec256``, ``ec384``, ``ec521``)."""
    ca_key, ca_name, ca_pem = _ca()
    key = _key(kind)
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example"),
                    x509.NameAttribute(NameOID.COMMON_NAME, names[0]),
                ]
            )
        )
        .issuer_name(ca_name)
        .public_key(key.public_key())  # type: ignore[arg-type]
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(now + starts)
        .not_valid_after(now + starts + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if server_auth:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            False,
        )
    certificate = builder.sign(ca_key, hashes.SHA256())
    body = certificate.public_bytes(serialization.Encoding.PEM).decode()
    return Issued(body, pem_key(key), ca_pem)


def key_of(kind: str, password: bytes | None = None) -> str:
    return pem_key(_key(kind), password)


def ca_files() -> tuple[bytes, bytes]:
    """The test CA's PEM certificate and unencrypted key, as an operator's files hold them."""
    key, _, pem = _ca()
    return pem.encode(), pem_key(key).encode()


def private_ca() -> PrivateAuthority:
    """The test CA as the operator's private CA of ACM (decision 0230)."""
    return PrivateAuthority.load(REGION, *ca_files())


@dataclass
class World(ModelledCalls):
    target_prefix = "CertificateManager"
    service = "acm"
    model = MODEL
    content_type = CONTENT_TYPE

    app: AcmApp
    identity: IdentityService
    credentials: Credentials | None
    tenant_id: str
    acm: AcmService
    audit_store: MemoryAuditStore
    audit: AuditService

    async def imported(self, issued: Issued, *, chain: bool = True, **params: Any) -> str:
        answer = await self.client(
            "ImportCertificate",
            Certificate=issued.body.encode(),
            PrivateKey=issued.key.encode(),
            **({"CertificateChain": issued.chain.encode()} if chain else {}),
            **params,
        )
        return str(answer["CertificateArn"])

    async def actions(self) -> Sequence[tuple[str, str, str]]:
        """The audit trail: (action, resource, outcome) of each event."""
        await self.audit.flush()
        events = await self.audit_store.list_events(None, after_id=0, limit=1000)
        return [(e.action, e.resource, e.outcome.value) for _, e in events]


async def acm_world(
    tmp_path: Path,
    store: CertificateStore | None = None,
    authority: PrivateAuthority | None = None,
    **overrides: Any,
) -> AsyncIterator[World]:
    settings = Settings(data_dir=tmp_path, region=REGION, **overrides)
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    boot = await identity.bootstrap()
    assert boot is not None
    identity.certificate_sealer = KeySealer(key_service_in(tmp_path / "keys"))
    acm = AcmService(
        store or MemoryCertificateStore(),
        identity.certificate_sealer,
        REGION,
        AcmLimits(
            max_certificates=settings.acm_max_certificates,
            max_imports_per_year=settings.acm_max_imports_per_year,
        ),
        authority=authority,
    )
    audit_store = MemoryAuditStore()
    audit = AuditService(audit_store)
    yield World(
        app=AcmApp(acm, identity, audit, settings),
        identity=identity,
        credentials=Credentials(boot.access_key_id, boot.secret_access_key),
        tenant_id=boot.tenant.id,
        acm=acm,
        audit_store=audit_store,
        audit=audit,
    )
    await audit.close()
