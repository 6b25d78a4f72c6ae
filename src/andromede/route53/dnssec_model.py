"""Route 53's DNSSEC signing (decision 0317), its pure part: the key-signing keys (KSKs, each a
customer managed KMS key of the account, ``ECC_NIST_P256`` ``SIGN_VERIFY``), a zone's signing
state and its zone-signing keys (ZSKs, ECDSA P-256 keys Route 53 makes and rolls itself), and
the DNS forms GetDNSSEC gives of a KSK — its DNSKEY, key tag and DS — made by dnspython's
``dns.dnssec`` (RFC 4034 key tags, RFC 4509 SHA-256 digests), never by hand.

``dns.dnssec`` imports dnspython's DSA module, which ``cryptography`` warns is deprecated; the
import is made here once with that warning silenced (the DSA algorithm is never used), and
the other modules take ``dns.dnssec`` (and its algorithms' base classes) from here.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import re
import warnings
from dataclasses import dataclass
from typing import Final

import dns.dnssectypes
import dns.name
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.utils import CryptographyDeprecationWarning

with warnings.catch_warnings():
    warnings.simplefilter("ignore", CryptographyDeprecationWarning)
    import dns.dnssec
    from dns.dnssecalgs.base import GenericPrivateKey, GenericPublicKey

from dns.rdtypes.ANY.DNSKEY import DNSKEY

__all__ = [
    "ALGORITHM",
    "DIGEST_TYPE",
    "KSK_FLAG",
    "MAX_KEY_SIGNING_KEYS",
    "ZSK_FLAG",
    "GenericPrivateKey",
    "GenericPublicKey",
    "KeySigningKey",
    "KskStatus",
    "ServeSignature",
    "ZoneSigning",
    "ZoneSigningKey",
    "dnskey_of",
    "dnssec",
    "ds_of",
    "ksk_view",
    "valid_ksk_name",
]

dnssec = dns.dnssec
ALGORITHM: Final = dns.dnssectypes.Algorithm.ECDSAP256SHA256  # 13, the one Route 53 signs with
DIGEST_TYPE: Final = 2  # SHA-256, the DS digest GetDNSSEC gives
KSK_FLAG: Final = 257  # zone key + secure entry point
ZSK_FLAG: Final = 256
MAX_KEY_SIGNING_KEYS: Final = 2  # a zone's KSKs, as AWS's quota
_NAME: Final = re.compile(r"^[A-Za-z0-9_]{3,128}$")


class KskStatus(enum.Enum):
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
    DELETING = "DELETING"
    ACTION_NEEDED = "ACTION_NEEDED"
    INTERNAL_FAILURE = "INTERNAL_FAILURE"


class ServeSignature(enum.Enum):
    SIGNING = "SIGNING"
    NOT_SIGNING = "NOT_SIGNING"
    DELETING = "DELETING"
    ACTION_NEEDED = "ACTION_NEEDED"
    INTERNAL_FAILURE = "INTERNAL_FAILURE"


def valid_ksk_name(name: str) -> bool:
    """A KSK's name as AWS takes it: 3 to 128 letters, digits and underscores."""
    return bool(_NAME.match(name))


@dataclass(frozen=True, slots=True)
class KeySigningKey:
    tenant_id: str
    zone_id: str
    name: str
    kms_arn: str
    status: KskStatus
    public_key: bytes  # the KMS key's SubjectPublicKeyInfo (DER), as GetPublicKey gives it
    caller_reference: str
    created: int  # ms
    modified: int  # ms
    status_message: str = ""

    def with_status(self, status: KskStatus, now: int, message: str = "") -> KeySigningKey:
        return dataclasses.replace(self, status=status, modified=now, status_message=message)


@dataclass(frozen=True, slots=True)
class ZoneSigningKey:
    """One ZSK: its public key (SubjectPublicKeyInfo DER) and its private key (PKCS#8 DER)
    sealed under the account's key; ``created`` in seconds."""

    created: int
    public_key: bytes
    sealed_private_key: bytes


@dataclass(frozen=True, slots=True)
class ZoneSigning:
    """A zone's DNSSEC state: whether it is signed, and its ZSKs (oldest first); ``version``
    is compared and set by each write."""

    tenant_id: str
    zone_id: str
    signing: bool
    zone_keys: tuple[ZoneSigningKey, ...]
    modified: int  # ms
    version: int = 1


def dnskey_of(public_key_der: bytes, flags: int) -> DNSKEY:
    """The DNSKEY record of an ECDSA P-256 public key (SubjectPublicKeyInfo DER)."""
    public = serialization.load_der_public_key(public_key_der)
    if not isinstance(public, ec.EllipticCurvePublicKey) or public.curve.name != "secp256r1":
        raise ValueError("not an ECDSA P-256 public key")
    return dns.dnssec.make_dnskey(public, ALGORITHM, flags=flags)


def ds_of(zone_name: str, dnskey: DNSKEY) -> str:
    """The DS record's text (key tag, algorithm, digest type, digest) of ``dnskey``."""
    return dns.dnssec.make_ds(dns.name.from_text(zone_name), dnskey, "SHA256").to_text().upper()


def ksk_view(zone_name: str, ksk: KeySigningKey) -> dict[str, str | int]:
    """GetDNSSEC's fields of one KSK that come of its key: flag, algorithm and digest, key tag,
    digest, public key, DS and DNSKEY records."""
    dnskey = dnskey_of(ksk.public_key, KSK_FLAG)
    ds = dns.dnssec.make_ds(dns.name.from_text(zone_name), dnskey, "SHA256")
    return {
        "Flag": KSK_FLAG,
        "SigningAlgorithmMnemonic": "ECDSAP256SHA256",
        "SigningAlgorithmType": int(ALGORITHM),
        "DigestAlgorithmMnemonic": "SHA-256",
        "DigestAlgorithmType": DIGEST_TYPE,
        "KeyTag": dns.dnssec.key_id(dnskey),
        "DigestValue": ds.digest.hex().upper(),
        "PublicKey": base64.b64encode(dnskey.key).decode(),
        "DSRecord": ds.to_text().upper(),
        "DNSKEYRecord": f"{KSK_FLAG} 3 {int(ALGORITHM)} {base64.b64encode(dnskey.key).decode()}",
    }
