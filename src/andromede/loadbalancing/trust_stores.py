"""Trust stores and mutual TLS (decision 0256), pure: a CA certificates bundle and a
certificate revocation list checked as ELBv2 checks them, a listener's
``MutualAuthentication``, what a host's proxy needs of it (:class:`MutualTls`), and the
headers a target is told of the client's certificate (:func:`client_certificate_headers`).

- **A bundle** is PEM text of one or more ``CERTIFICATE`` blocks, nothing else; each an X.509
  v3 CA certificate (``basicConstraints`` CA true) with an RSA (2048 to 8192 bits) or ECDSA
  (P-256, P-384, P-521) key — AWS's "Certificate requirements" — else
  ``InvalidCaCertificatesBundle``.
- **A CRL** (PEM or DER) must be issued by one of the store's CAs and signed by it, else
  ``InvalidRevocationContent``; its revoked serial numbers are what the proxies refuse.
- **Headers** as AWS's ALB gives them: in ``verify`` mode the leaf's serial number in
  hexadecimal, its issuer and subject as RFC 2253 strings, its validity as
  ``NotBefore=…;NotAfter=…`` (ISO 8601, UTC) and the leaf in URL-encoded PEM (``+=/`` kept);
  in ``passthrough`` mode ``X-Amzn-Mtls-Clientcert``, the URL-encoded PEM of what the client
  presented: its leaf, then the chain it sent (decision 0269). A client's own copies of these
  headers never reach a target.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final
from urllib.parse import quote

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from andromede.loadbalancing.errors import InvalidConfiguration, LbValidationError, Refused

__all__ = [
    "MODES",
    "MTLS_HEADERS",
    "CheckedCrl",
    "MutualAuthentication",
    "MutualTls",
    "checked_bundle",
    "checked_crl",
    "client_certificate_headers",
    "is_revoked",
    "mutual_document",
    "mutual_from",
]

MODES: Final = ("off", "passthrough", "verify")
MTLS_HEADERS: Final = frozenset(
    {
        b"x-amzn-mtls-clientcert",
        b"x-amzn-mtls-clientcert-serial-number",
        b"x-amzn-mtls-clientcert-issuer",
        b"x-amzn-mtls-clientcert-subject",
        b"x-amzn-mtls-clientcert-validity",
        b"x-amzn-mtls-clientcert-leaf",
    }
)
_CURVES: Final = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)
_PEM_BEGIN: Final = "-----BEGIN "


def _bundle_error(message: str) -> Refused:
    return Refused("InvalidCaCertificatesBundle", message)


def _revocation_error(message: str) -> Refused:
    return Refused("InvalidRevocationContent", message)


def checked_bundle(data: bytes, max_certificates: int) -> tuple[x509.Certificate, ...]:
    """The CA certificates of a bundle, refused (``InvalidCaCertificatesBundle``) unless it
    is PEM ``CERTIFICATE`` blocks only, each a v3 CA certificate with a key AWS takes, at
    most ``max_certificates`` of them."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise _bundle_error("The CA certificates bundle is not PEM text") from None
    kinds = [line for line in text.splitlines() if line.startswith(_PEM_BEGIN)]
    if not kinds:
        raise _bundle_error("The CA certificates bundle holds no certificate")
    if any(line.strip() != "-----BEGIN CERTIFICATE-----" for line in kinds):
        raise _bundle_error("The CA certificates bundle must hold PEM certificates only")
    if len(kinds) > max_certificates:
        raise _bundle_error(
            f"The CA certificates bundle holds more than {max_certificates} certificates"
        )
    try:
        certificates = tuple(x509.load_pem_x509_certificates(data))
    except ValueError:
        raise _bundle_error("The CA certificates bundle holds an unreadable certificate") from None
    for index, certificate in enumerate(certificates, 1):
        _check_ca(certificate, index)
    return certificates


def _check_ca(certificate: x509.Certificate, index: int) -> None:
    if certificate.version is not x509.Version.v3:
        raise _bundle_error(f"Certificate {index} of the bundle is not an X.509 v3 certificate")
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.value.ca:
        raise _bundle_error(f"Certificate {index} of the bundle is not a CA certificate")
    key = certificate.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        if not 2048 <= key.key_size <= 8192:
            raise _bundle_error(
                f"Certificate {index} of the bundle has an RSA key of a size not supported"
            )
        return
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, _CURVES):
        return
    raise _bundle_error(f"Certificate {index} of the bundle has a key type not supported")


@dataclass(frozen=True, slots=True)
class CheckedCrl:
    """A revocation list taken into a trust store: its issuer (RFC 4514) and the serial
    numbers it revokes."""

    issuer: str
    serials: tuple[int, ...]


def checked_crl(
    data: bytes, authorities: Sequence[x509.Certificate], max_entries: int
) -> CheckedCrl:
    """The list's revoked serials, refused (``InvalidRevocationContent``) unless it is a CRL
    (PEM or DER) issued and signed by one of ``authorities``;
    ``TooManyTrustStoreRevocationEntries`` beyond ``max_entries``."""
    try:
        crl = (
            x509.load_pem_x509_crl(data)
            if data.lstrip().startswith(b"-----BEGIN")
            else x509.load_der_x509_crl(data)
        )
    except ValueError:
        raise _revocation_error(
            "The revocation file is not a certificate revocation list"
        ) from None
    issuers = [a for a in authorities if a.subject == crl.issuer]
    if not issuers:
        raise _revocation_error(
            "The revocation list's issuer is not a CA certificate of the trust store"
        )
    if not any(_signed_by(crl, a) for a in issuers):
        raise _revocation_error("The revocation list is not signed by its issuer")
    serials = tuple(sorted({entry.serial_number for entry in crl}))
    if len(serials) > max_entries:
        raise Refused(
            "TooManyTrustStoreRevocationEntries",
            f"A trust store can hold at most {max_entries} revoked entries",
        )
    return CheckedCrl(crl.issuer.rfc4514_string(), serials)


def _signed_by(crl: x509.CertificateRevocationList, authority: x509.Certificate) -> bool:
    key = authority.public_key()
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        return False
    try:
        return crl.is_signature_valid(key)
    except (InvalidSignature, TypeError, ValueError):
        return False


@dataclass(frozen=True, slots=True)
class MutualAuthentication:
    """A listener's ``MutualAuthentication``: its mode, its trust store (``verify``), and
    whether an expired client certificate is taken and the store's CA names advertised."""

    mode: str = "off"
    trust_store_id: str = ""
    ignore_expiry: bool = False
    advertise_ca_names: str = "off"

    @classmethod
    def checked(
        cls,
        mode: str,
        trust_store_id: str,
        ignore_expiry: bool | None,
        advertise_ca_names: str | None,
    ) -> MutualAuthentication:
        """ELBv2's rules: a trust store with ``verify`` only, and required by it; the
        verify-only options with ``verify`` only."""
        if mode not in MODES:
            raise LbValidationError(
                f"Mutual authentication mode '{mode[:32]}' must be one of: " + ", ".join(MODES)
            )
        if advertise_ca_names not in (None, "on", "off"):
            raise LbValidationError("AdvertiseTrustStoreCaNames must be 'on' or 'off'")
        if mode != "verify":
            if trust_store_id:
                raise InvalidConfiguration(
                    f"A trust store cannot be specified with mutual authentication mode '{mode}'"
                )
            if ignore_expiry or advertise_ca_names == "on":
                raise InvalidConfiguration(
                    "IgnoreClientCertificateExpiry and AdvertiseTrustStoreCaNames can only be "
                    "specified with mutual authentication mode 'verify'"
                )
            return cls(mode)
        if not trust_store_id:
            raise InvalidConfiguration(
                "A trust store must be specified with mutual authentication mode 'verify'"
            )
        return cls(mode, trust_store_id, bool(ignore_expiry), advertise_ca_names or "off")


@dataclass(frozen=True, slots=True)
class MutualTls:
    """What a host's HTTPS proxy needs of a listener's mutual TLS: its mode, and in
    ``verify`` mode the trust store's CA bundle (PEM), the revoked (issuer, serial) pairs,
    whether an expired certificate is taken and the CA names advertised."""

    mode: str
    ca_bundle: str = ""
    revoked: frozenset[tuple[str, int]] = frozenset()
    ignore_expiry: bool = False
    advertise_ca_names: bool = False


def mutual_document(settings: MutualTls | None) -> str:
    """``settings`` as the hypervisor port carries it (JSON; "" for none)."""
    if settings is None:
        return ""
    return json.dumps(
        {
            "mode": settings.mode,
            "ca_bundle": settings.ca_bundle,
            "revoked": sorted([issuer, str(serial)] for issuer, serial in settings.revoked),
            "ignore_expiry": settings.ignore_expiry,
            "advertise_ca_names": settings.advertise_ca_names,
        }
    )


def mutual_from(document: str) -> MutualTls | None:
    """What :func:`mutual_document` wrote, read back (None: off)."""
    if not document:
        return None
    doc = json.loads(document)
    if doc["mode"] not in ("passthrough", "verify"):
        raise ValueError("unknown mutual TLS mode")
    return MutualTls(
        str(doc["mode"]),
        str(doc.get("ca_bundle") or ""),
        frozenset((str(issuer), int(serial)) for issuer, serial in doc.get("revoked") or ()),
        bool(doc.get("ignore_expiry")),
        bool(doc.get("advertise_ca_names")),
    )


def is_revoked(settings: MutualTls, leaf_der: bytes) -> bool:
    """Whether the client's certificate is on one of the trust store's revocation lists."""
    if not settings.revoked:
        return False
    leaf = x509.load_der_x509_certificate(leaf_der)
    return (leaf.issuer.rfc4514_string(), leaf.serial_number) in settings.revoked


def _url_pem(certificates: Iterable[x509.Certificate]) -> bytes:
    pem = "".join(c.public_bytes(serialization.Encoding.PEM).decode("ascii") for c in certificates)
    return quote(pem, safe="+=/").encode("ascii")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def client_certificate_headers(
    mode: str, leaf_der: bytes | None, chain_der: Sequence[bytes] = ()
) -> list[tuple[bytes, bytes]]:
    """The headers a target is told of the client's certificate (none without one); in
    ``passthrough`` mode the leaf then ``chain_der``, the other certificates the client
    presented, in its order (decision 0269)."""
    if leaf_der is None or mode == "off":
        return []
    leaf = x509.load_der_x509_certificate(leaf_der)
    if mode == "passthrough":
        chain = [x509.load_der_x509_certificate(der) for der in chain_der]
        return [(b"x-amzn-mtls-clientcert", _url_pem([leaf, *chain]))]
    serial = f"{leaf.serial_number:X}"
    validity = (
        f"NotBefore={_iso(leaf.not_valid_before_utc)};NotAfter={_iso(leaf.not_valid_after_utc)}"
    )
    return [
        (
            b"x-amzn-mtls-clientcert-serial-number",
            serial.zfill(len(serial) + len(serial) % 2).encode(),
        ),
        (b"x-amzn-mtls-clientcert-issuer", leaf.issuer.rfc4514_string().encode()),
        (b"x-amzn-mtls-clientcert-subject", leaf.subject.rfc4514_string().encode()),
        (b"x-amzn-mtls-clientcert-validity", validity.encode()),
        (b"x-amzn-mtls-clientcert-leaf", _url_pem([leaf])),
    ]
