"""SAML 2.0 identity providers' metadata: what an IAM SAML provider is made from (decision 0095).

A metadata document is read once, when a provider is created or updated; what the assertion
checks need is kept beside it: the IdP's ``entityID`` (an assertion's ``Issuer`` must be it), the
certificates of its ``IDPSSODescriptor``'s signing keys (``KeyDescriptor`` with ``use="signing"``
or no ``use``, which the metadata specification reads as both; several are allowed, for a key
rotation) and ``validUntil``.

The document is a tenant's text: it is parsed with defusedxml, which refuses a DTD outright (no
entity expansion, no XML bomb, no external entity, no network), after its size was checked.
Anything else is IAM's ``InvalidInput``.
"""

from __future__ import annotations

import base64
import binascii
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import defusedxml.ElementTree as SafeElementTree
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from defusedxml import DefusedXmlException

from andromede.iam.errors import InvalidInput

__all__ = [
    "CERTIFICATES_MAX",
    "ENTITY_ID_MAX",
    "METADATA_MIN",
    "ParsedMetadata",
    "parse_metadata",
    "parse_xml_datetime",
]

MD: Final = "urn:oasis:names:tc:SAML:2.0:metadata"
DS: Final = "http://www.w3.org/2000/09/xmldsig#"
_PROTOCOL: Final = "urn:oasis:names:tc:SAML:2.0:protocol"
METADATA_MIN: Final = 1000  # IAM's model: SAMLMetadataDocument is 1,000 characters at least
ENTITY_ID_MAX: Final = 1024  # IAM's model: SAMLIssuerURLType
CERTIFICATES_MAX: Final = 10  # signing certificates taken from one document
_RSA_BITS_MIN: Final = 2048
_FRACTION = re.compile(r"\.(\d+)")


@dataclass(frozen=True, slots=True)
class ParsedMetadata:
    entity_id: str
    certificates: tuple[str, ...]  # base64 DER, as the metadata gives them
    valid_until: datetime | None


def parse_xml_datetime(text: str) -> datetime:
    """An ``xs:dateTime`` as SAML writes it (``2026-12-02T10:00:00.123Z``), aware, UTC. A time
    without a zone is UTC (SAML requires UTC). ValueError if it is none."""
    text = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), text.strip(), count=1)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _invalid(message: str) -> InvalidInput:
    return InvalidInput(f"Invalid SAML metadata document: {message}")


def parse_metadata(document: str, max_size: int) -> ParsedMetadata:
    """The entity id, signing certificates and validity of an IdP's metadata ``document``.
    InvalidInput for a document too short or too long, not XML, with a DTD, not an
    ``EntityDescriptor`` with an ``IDPSSODescriptor`` of SAML 2.0, or without a usable signing
    certificate (RSA of 2,048 bits or more, or EC)."""
    if len(document) < METADATA_MIN:
        raise _invalid(f"it must be at least {METADATA_MIN} characters")
    if len(document.encode()) > max_size:
        raise _invalid(f"it is larger than {max_size} bytes")
    try:
        root = SafeElementTree.fromstring(document, forbid_dtd=True)
    except (DefusedXmlException, ElementTree.ParseError) as exc:
        raise _invalid("it is not well-formed XML without a DTD") from exc
    if root.tag != f"{{{MD}}}EntityDescriptor":
        raise _invalid("its root must be an md:EntityDescriptor")
    entity_id = (root.get("entityID") or "").strip()
    if not 1 <= len(entity_id) <= ENTITY_ID_MAX:
        raise _invalid(f"its entityID must be 1 to {ENTITY_ID_MAX} characters")
    descriptors = [
        d
        for d in root.findall(f"{{{MD}}}IDPSSODescriptor")
        if _PROTOCOL in (d.get("protocolSupportEnumeration") or "").split()
    ]
    if not descriptors:
        raise _invalid("it has no IDPSSODescriptor supporting SAML 2.0")
    certificates: list[str] = []
    for descriptor in descriptors:
        for key in descriptor.findall(f"{{{MD}}}KeyDescriptor"):
            if key.get("use", "signing") != "signing":
                continue  # an encryption key: not one assertions are signed with
            for element in key.iterfind(
                f"{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate"
            ):
                certificate = _certificate(element.text or "")
                if certificate not in certificates:
                    certificates.append(certificate)
    if not certificates:
        raise _invalid("its IDPSSODescriptor has no signing certificate")
    if len(certificates) > CERTIFICATES_MAX:
        raise _invalid(f"it has more than {CERTIFICATES_MAX} signing certificates")
    valid_until = None
    if (text := root.get("validUntil")) is not None:
        try:
            valid_until = parse_xml_datetime(text)
        except ValueError as exc:
            raise _invalid("its validUntil is not a date and time") from exc
    return ParsedMetadata(entity_id, tuple(certificates), valid_until)


def _certificate(text: str) -> str:
    """The certificate's base64 DER without white space, once it is known to be an X.509
    certificate of a key strong enough to sign assertions."""
    compact = "".join(text.split())
    try:
        certificate = x509.load_der_x509_certificate(base64.b64decode(compact, validate=True))
        key = certificate.public_key()
    except (binascii.Error, ValueError) as exc:
        raise _invalid("an X509Certificate is not a base64 DER certificate") from exc
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < _RSA_BITS_MIN:
            raise _invalid(f"an RSA signing key has fewer than {_RSA_BITS_MIN} bits")
    elif not isinstance(key, ec.EllipticCurvePublicKey):
        raise _invalid("a signing key is neither RSA nor EC")
    return compact
