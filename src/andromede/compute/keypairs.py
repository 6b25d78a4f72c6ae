"""SSH key pairs the EC2 way: generation (the private key is returned once and never kept),
import of OpenSSH public keys, and EC2's fingerprints.

EC2 computes fingerprints differently by origin and type, and tools compare them byte for
byte, so the rules are AWS's:

- an RSA key pair EC2 created: the SHA-1 digest of the private key in PKCS#8 DER;
- an imported RSA key: the MD5 digest of the public key in DER (SubjectPublicKeyInfo);
- an ed25519 key, created or imported: the SHA-256 digest of the OpenSSH public key blob,
  base64 (what ``ssh-keygen -l`` prints after ``SHA256:``, with its padding).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from andromede.compute.errors import InvalidParameterValue

__all__ = ["GeneratedKey", "ImportedKey", "generate", "import_public_key"]

_RSA_BITS = 2048
_RSA_ACCEPTED_BITS = frozenset({1024, 2048, 3072, 4096})


@dataclass(frozen=True, slots=True)
class GeneratedKey:
    key_type: str
    fingerprint: str
    public_key: str
    private_key: str = field(repr=False)  # PEM (RSA) or OpenSSH (ed25519): returned once


@dataclass(frozen=True, slots=True)
class ImportedKey:
    key_type: str
    fingerprint: str
    public_key: str


def _colon_hex(digest: bytes) -> str:
    return ":".join(f"{byte:02x}" for byte in digest)


def _openssh_public(key: rsa.RSAPublicKey | ed25519.Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()


def _ed25519_fingerprint(public_line: str) -> str:
    blob = base64.b64decode(public_line.split()[1])
    return base64.b64encode(hashlib.sha256(blob).digest()).decode()


def generate(key_type: str) -> GeneratedKey:
    """A new key pair of ``key_type`` (``rsa`` or ``ed25519``)."""
    if key_type == "rsa":
        private = rsa.generate_private_key(public_exponent=65537, key_size=_RSA_BITS)
        pkcs8 = private.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ).decode()
        return GeneratedKey(
            key_type="rsa",
            fingerprint=_colon_hex(hashlib.sha1(pkcs8).digest()),  # noqa: S324 - EC2's format
            public_key=_openssh_public(private.public_key()),
            private_key=pem,
        )
    if key_type == "ed25519":
        ed_private = ed25519.Ed25519PrivateKey.generate()
        public_line = _openssh_public(ed_private.public_key())
        openssh = ed_private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        ).decode()
        return GeneratedKey("ed25519", _ed25519_fingerprint(public_line), public_line, openssh)
    raise InvalidParameterValue(f"Invalid value '{key_type}' for KeyType.")


def import_public_key(material: bytes) -> ImportedKey:
    """An OpenSSH public key line (``ssh-rsa AAAA… comment``), checked and fingerprinted."""
    try:
        text = material.decode("ascii").strip()
        public = serialization.load_ssh_public_key(text.encode())
    except (UnicodeDecodeError, ValueError, UnsupportedAlgorithm):
        raise InvalidParameterValue("Key is not in valid OpenSSH public key format") from None
    if isinstance(public, rsa.RSAPublicKey):
        if public.key_size not in _RSA_ACCEPTED_BITS:
            raise InvalidParameterValue("RSA keys must be 1024, 2048, 3072 or 4096 bits")
        der = public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return ImportedKey(
            "rsa",
            _colon_hex(hashlib.md5(der).digest()),  # noqa: S324 - EC2's format
            _openssh_public(public),
        )
    if isinstance(public, ed25519.Ed25519PublicKey):
        line = _openssh_public(public)
        return ImportedKey("ed25519", _ed25519_fingerprint(line), line)
    raise InvalidParameterValue("Only RSA and ed25519 keys are supported")
