"""Certificate Manager's domain (decision 0230): an imported certificate, what ACM reads of its
PEM (:func:`inspect`), and its ARN.

What :func:`inspect` checks, in ACM's words (``InvalidCertificate``, answered
``ValidationException``): the body is one PEM certificate, valid now; the chain one or more
PEM certificates; the key an unencrypted PEM key, RSA of 2,048, 3,072 or 4,096 bits or ECDSA
on P-256 or P-384, whose public key is the certificate's. Nothing of the key is ever put in a
message, a repr or a log: it is sealed by the service before it is kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from andromede.acm.errors import InvalidCertificate

__all__ = [
    "DEFAULT_DAYS_BEFORE_EXPIRY",
    "Certificate",
    "Inspected",
    "certificate_arn",
    "imports_exceeded",
    "inspect",
]

BODY_MAX: Final = 32768  # the API model's CertificateBody
KEY_MAX: Final = 8192  # PrivateKeyBlob
CHAIN_MAX: Final = 2097152  # CertificateChainBlob
DEFAULT_DAYS_BEFORE_EXPIRY: Final = 45  # AWS's default account configuration
_PEM_CERTIFICATE: Final = "-----BEGIN CERTIFICATE-----"
_RSA_SIZES: Final = {2048: "RSA_2048", 3072: "RSA_3072", 4096: "RSA_4096"}
_CURVES: Final = {"secp256r1": "EC_prime256v1", "secp384r1": "EC_secp384r1"}
_KEY_USAGES: Final = (
    ("digital_signature", "DIGITAL_SIGNATURE"),
    ("content_commitment", "NON_REPUDIATION"),
    ("key_encipherment", "KEY_ENCIPHERMENT"),
    ("data_encipherment", "DATA_ENCIPHERMENT"),
    ("key_agreement", "KEY_AGREEMENT"),
    ("key_cert_sign", "CERTIFICATE_SIGNING"),
    ("crl_sign", "CRL_SIGNING"),
)
_EXTENDED: Final = {
    ExtendedKeyUsageOID.SERVER_AUTH: "TLS_WEB_SERVER_AUTHENTICATION",
    ExtendedKeyUsageOID.CLIENT_AUTH: "TLS_WEB_CLIENT_AUTHENTICATION",
    ExtendedKeyUsageOID.CODE_SIGNING: "CODE_SIGNING",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "EMAIL_PROTECTION",
    ExtendedKeyUsageOID.TIME_STAMPING: "TIME_STAMPING",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSP_SIGNING",
    x509.ObjectIdentifier("1.3.6.1.5.5.7.3.5"): "IPSEC_END_SYSTEM",
    x509.ObjectIdentifier("1.3.6.1.5.5.7.3.6"): "IPSEC_TUNNEL",
    x509.ObjectIdentifier("1.3.6.1.5.5.7.3.7"): "IPSEC_USER",
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "ANY",
}
ARN: Final = re.compile(
    r"arn:aws:acm:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):certificate/"
    r"(?P<id>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
)


def imports_exceeded(most: int) -> str:
    return f"Cannot exceed quota for imported certificates in the last 365 days: {most}"


def certificate_arn(region: str, tenant_id: str, certificate_id: str) -> str:
    return f"arn:aws:acm:{region}:{tenant_id}:certificate/{certificate_id}"


@dataclass(frozen=True, slots=True)
class Inspected:
    """What ACM reads of an imported certificate (DescribeCertificate's fields)."""

    domain_name: str
    alternative_names: tuple[str, ...]
    serial: str
    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime
    key_algorithm: str
    signature_algorithm: str
    key_usages: tuple[str, ...] = ()
    # (name, OID) pairs: the OID is answered for a CUSTOM usage.
    extended_key_usages: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True, repr=False)
class Certificate:
    """A certificate of an account, imported or issued by the operator's private CA;
    ``sealed_key`` is its private key sealed under the account's key ring (never in a repr).
    ``revision`` counts its writes, so that two re-imports or tag changes at once do not undo
    each other."""

    tenant_id: str
    certificate_id: str
    region: str
    body: str
    chain: str | None
    sealed_key: bytes
    facts: Inspected
    created_at: datetime
    imported_at: datetime
    tags: tuple[tuple[str, str], ...] = ()
    revision: int = 1
    # IMPORTED, or PRIVATE when issued by the operator's private CA (its ARN then).
    kind: str = "IMPORTED"
    authority_arn: str | None = None

    @property
    def arn(self) -> str:
        return certificate_arn(self.region, self.tenant_id, self.certificate_id)

    def status(self, now: datetime) -> str:
        return "EXPIRED" if now >= self.facts.not_after else "ISSUED"

    def __repr__(self) -> str:
        return f"Certificate({self.arn!r})"


def _name(name: x509.Name) -> str:
    """ACM's rendering of a distinguished name: its RDNs in order, ``C=FR,O=…,CN=…``."""
    return ",".join(rdn.rfc4514_string() for rdn in name.rdns)


def _signature_algorithm(certificate: x509.Certificate) -> str:
    """``SHA256WITHRSA``, ``SHA384WITHECDSA``… as ACM names them."""
    oid_name = certificate.signature_algorithm_oid._name.lower()
    digest = certificate.signature_hash_algorithm
    hash_name = "" if digest is None else digest.name.upper().replace("-", "")
    if "ecdsa" in oid_name:
        kind = "ECDSA"
    elif "pss" in oid_name:
        kind = "RSAPSS"
    elif "rsa" in oid_name:
        kind = "RSA"
    else:
        return oid_name.upper()
    return f"{hash_name}WITH{kind}"


def _usages(certificate: x509.Certificate) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        key_usages: tuple[str, ...] = ()
    else:
        key_usages = tuple(name for attr, name in _KEY_USAGES if getattr(usage, attr))
        if usage.key_agreement:
            only = (("encipher_only", "ENCIPHER_ONLY"), ("decipher_only", "DECIPHER_ONLY"))
            key_usages += tuple(name for attr, name in only if getattr(usage, attr))
    try:
        extended = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return key_usages, ()
    return key_usages, tuple((_EXTENDED.get(oid, "CUSTOM"), oid.dotted_string) for oid in extended)


def _names(certificate: x509.Certificate) -> tuple[str, tuple[str, ...]]:
    common = [str(a.value) for a in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = [str(n) for n in san.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        dns = []
    domain = common[0] if common else (dns[0] if dns else "")
    alternatives = tuple(dict.fromkeys([domain, *dns] if domain else dns))
    return domain, alternatives


def _body(body: str, now: datetime) -> x509.Certificate:
    if not 1 <= len(body) <= BODY_MAX:
        raise InvalidCertificate(f"The certificate must be 1 to {BODY_MAX} characters.")
    count = body.count(_PEM_CERTIFICATE)
    if count > 1:
        raise InvalidCertificate(
            "The certificate field contains more than one certificate. You can specify only "
            "one certificate in this field."
        )
    try:
        if count != 1:
            raise ValueError("no certificate")
        certificate = x509.load_pem_x509_certificate(body.encode())
    except ValueError:
        raise InvalidCertificate(
            "Unable to parse certificate. Please ensure the certificate is in PEM format."
        ) from None
    if now >= certificate.not_valid_after_utc:
        raise InvalidCertificate("The certificate has expired.")
    if now < certificate.not_valid_before_utc:
        raise InvalidCertificate("The certificate is not yet valid.")
    return certificate


def _chain(chain: str | None) -> None:
    if chain is None:
        return
    if not 1 <= len(chain) <= CHAIN_MAX:
        raise InvalidCertificate(f"The certificate chain must be 1 to {CHAIN_MAX} characters.")
    try:
        found = x509.load_pem_x509_certificates(chain.encode())
    except ValueError:
        found = []
    if not found or len(found) != chain.count(_PEM_CERTIFICATE):
        raise InvalidCertificate(
            "Unable to parse certificate chain. Please ensure the chain is in PEM format."
        )


def _key_algorithm(pem: str, certificate: x509.Certificate) -> str:
    """The key's ACM name once it is an unencrypted key ACM takes and the certificate's."""
    if not 1 <= len(pem) <= KEY_MAX:
        raise InvalidCertificate(f"The private key must be 1 to {KEY_MAX} characters.")
    if "ENCRYPTED" in pem:
        raise InvalidCertificate(
            "The private key is not supported: it is encrypted. Import an unencrypted key "
            "(without a passphrase)."
        )
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except TypeError:
        raise InvalidCertificate(
            "The private key is not supported: it is encrypted. Import an unencrypted key "
            "(without a passphrase)."
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise InvalidCertificate(
            "Unable to parse private key. Please ensure it is an unencrypted key in PEM format."
        ) from None
    if isinstance(key, rsa.RSAPrivateKey):
        algorithm = _RSA_SIZES.get(key.key_size)
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        algorithm = _CURVES.get(key.curve.name)
    else:
        algorithm = None
    if algorithm is None:
        raise InvalidCertificate(
            "The private key is not supported. Only RSA 2048-bit, 3072-bit and 4096-bit keys "
            "and ECDSA keys on P-256 or P-384 are allowed."
        )
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if key.public_key().public_bytes(der, spki) != certificate.public_key().public_bytes(der, spki):
        raise InvalidCertificate(
            "The private key does not match the public key in the certificate."
        )
    return algorithm


def inspect(body: str, private_key: str, chain: str | None, now: datetime) -> Inspected:
    """What ACM reads of a certificate to import, once it takes it."""
    certificate = _body(body, now)
    _chain(chain)
    algorithm = _key_algorithm(private_key, certificate)
    domain, alternatives = _names(certificate)
    key_usages, extended = _usages(certificate)
    serial = certificate.serial_number.to_bytes(
        (certificate.serial_number.bit_length() + 7) // 8 or 1, "big"
    )
    return Inspected(
        domain_name=domain,
        alternative_names=alternatives,
        serial=":".join(f"{b:02x}" for b in serial),
        subject=_name(certificate.subject),
        issuer=_name(certificate.issuer),
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        key_algorithm=algorithm,
        signature_algorithm=_signature_algorithm(certificate),
        key_usages=key_usages,
        extended_key_usages=extended,
    )
