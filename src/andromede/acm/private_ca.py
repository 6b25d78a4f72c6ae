"""The operator's private certificate authority (decision 0230): what RequestCertificate issues
PRIVATE certificates from, when the operator configured one, as an AWS Private CA would — no
domain validation, the certificate issued at once, its key generated here and exportable
with a passphrase.

The authority is named by one ARN, ``arn:aws:acm-pca:<region>:000000000000:
certificate-authority/<id>`` (the id derived from the authority's certificate, so every
gateway names it alike); an account names it in ``CertificateAuthorityArn``. A certificate
it issues is valid 395 days (AWS's 13 months for ACM's private certificates), for the domain
and the names asked, for TLS servers and clients.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from andromede.errors import ConfigurationError

__all__ = ["ISSUABLE", "OPERATOR_ACCOUNT", "PrivateAuthority"]

OPERATOR_ACCOUNT: Final = "000000000000"
VALIDITY: Final = timedelta(days=395)
# The key algorithms RequestCertificate takes, as the load balancers' terminators present.
ISSUABLE: Final = ("RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1", "EC_secp384r1")
_NAMESPACE: Final = uuid.UUID("5d3c7a2e-3f0b-4c57-9a43-0b7e0c4a0230")


def _new_key(algorithm: str) -> CertificateIssuerPrivateKeyTypes:
    if algorithm.startswith("RSA_"):
        return rsa.generate_private_key(65537, int(algorithm[4:]))
    curve = ec.SECP256R1() if algorithm == "EC_prime256v1" else ec.SECP384R1()
    return ec.generate_private_key(curve)


@dataclass(frozen=True, slots=True, repr=False)
class PrivateAuthority:
    """The authority's ARN, its PEM certificate (the chain of what it issues) and its key
    (never in a repr)."""

    arn: str
    certificate_pem: str
    _certificate: x509.Certificate = field(compare=False)
    _key: CertificateIssuerPrivateKeyTypes = field(compare=False)

    def __repr__(self) -> str:
        return f"PrivateAuthority({self.arn!r})"

    @classmethod
    def load(cls, region: str, certificate_pem: bytes, key_pem: bytes) -> PrivateAuthority:
        """ConfigurationError unless a CA certificate and its unencrypted RSA or ECDSA key."""
        try:
            certificate = x509.load_pem_x509_certificate(certificate_pem)
            key = serialization.load_pem_private_key(key_pem, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise ConfigurationError(
                "ACM's private CA: a PEM certificate and its unencrypted PEM key are needed"
            ) from None
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise ConfigurationError("ACM's private CA: an RSA or ECDSA key is needed")
        spki = serialization.PublicFormat.SubjectPublicKeyInfo
        der = serialization.Encoding.DER
        if key.public_key().public_bytes(der, spki) != certificate.public_key().public_bytes(
            der, spki
        ):
            raise ConfigurationError("ACM's private CA: the key is not the certificate's")
        try:
            constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
            is_ca = constraints.value.ca
        except x509.ExtensionNotFound:
            is_ca = False
        if not is_ca:
            raise ConfigurationError("ACM's private CA: the certificate is not a CA's")
        identifier = uuid.uuid5(_NAMESPACE, certificate.fingerprint(hashes.SHA256()).hex())
        arn = f"arn:aws:acm-pca:{region}:{OPERATOR_ACCOUNT}:certificate-authority/{identifier}"
        pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
        return cls(arn, pem, certificate, key)

    def issue(
        self, domain: str, names: tuple[str, ...], algorithm: str, now: datetime
    ) -> tuple[str, str]:
        """A new key of ``algorithm`` and the certificate for ``domain`` and ``names`` it
        signs, both PEM."""
        key = _new_key(algorithm)
        not_after = min(now + VALIDITY, self._certificate.not_valid_after_utc)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)]))
            .issuer_name(self._certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))  # the peers' clocks
            .not_valid_after(not_after)
            .add_extension(
                x509.SubjectAlternativeName([x509.DNSName(n) for n in dict.fromkeys(names)]),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=isinstance(key, rsa.RSAPrivateKey),
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .sign(self._key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        return certificate.public_bytes(serialization.Encoding.PEM).decode(), key_pem
