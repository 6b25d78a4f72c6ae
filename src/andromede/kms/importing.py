"""Pure rules of importing key material into a KMS key (AWS's GetParametersForImport and
ImportKeyMaterial): the wrapping key pair, the import token, unwrapping the customer's
material, and the material's id. No I/O here (decision 0046).

The customer encrypts 256 bits of material under an RSA public key this service hands out
(the *wrapping key*), with one of AWS's wrapping algorithms:

- ``RSAES_OAEP_SHA_1`` / ``RSAES_OAEP_SHA_256``: RSAES-OAEP of the material, MGF1 with the
  same hash (``openssl pkeyutl -encrypt -pkeyopt rsa_padding_mode:oaep ...``);
- ``RSA_AES_KEY_WRAP_SHA_1`` / ``RSA_AES_KEY_WRAP_SHA_256``: RSAES-OAEP of a fresh AES key,
  followed by that key's AES key wrap with padding (RFC 5649) of the material — the
  concatenation, as PKCS#11's ``CKM_RSA_AES_KEY_WRAP`` produces it.

``RSAES_PKCS1_V1_5`` is refused (AWS deprecates it: padding-oracle attacks), and the SM2
algorithms are only offered in AWS's China regions.

The **import token** carries the wrapping key's private half sealed under a ring of the
root-key provider, so that any gateway can open it within its 24 hours without a table of
pending imports::

    format (1 byte = 1) | valid to (8 bytes, epoch seconds) | algorithm (1) | key spec (1)
    | KMS ciphertext blob of the PKCS#8 private key

The blob's encryption context (:func:`token_context`) binds the key's ARN, the algorithm, the
key spec and the expiry, so a token altered in any of them, or presented for another key, does
not open.

The **material id** is HMAC-SHA256 keyed by the material over the key's id: the same material
imported again into the same key gives the same id, other material does not, and the id tells
nothing of the material (nor lets it be guessed: it is 256 random bits).
"""

from __future__ import annotations

import hashlib
import hmac
import struct
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap_with_padding

from andromede.kms.asymmetric import load_own_private_key

__all__ = [
    "IMPORT_PARAMETERS_LIFETIME",
    "IMPORT_TOKEN_RING",
    "OFFERED_WRAPPING_ALGORITHMS",
    "WRAPPING_ALGORITHMS",
    "WRAPPING_KEY_SPECS",
    "ImportToken",
    "MaterialUnwrapError",
    "TokenFormatError",
    "generated_material_id",
    "material_id",
    "token_context",
    "unwrap_material",
]

# AWS's lists (the API's enums), in a fixed order: a token stores the index.
WRAPPING_ALGORITHMS: Final = (
    "RSAES_PKCS1_V1_5",
    "RSAES_OAEP_SHA_1",
    "RSAES_OAEP_SHA_256",
    "RSA_AES_KEY_WRAP_SHA_1",
    "RSA_AES_KEY_WRAP_SHA_256",
    "SM2PKE",
)
WRAPPING_KEY_SPECS: Final = ("RSA_2048", "RSA_3072", "RSA_4096", "SM2")
OFFERED_WRAPPING_ALGORITHMS: Final = frozenset(WRAPPING_ALGORITHMS[1:5])
OFFERED_WRAPPING_KEY_SPECS: Final = frozenset(WRAPPING_KEY_SPECS[:3])
IMPORT_PARAMETERS_LIFETIME: Final = timedelta(hours=24)  # AWS's
# The ring that seals import tokens' private keys: a fixed key id no CMK can have (a uuid5 of
# a name, where CMK ids are random uuid4s), so a token is no ciphertext of any customer key.
IMPORT_TOKEN_RING: Final = str(uuid.uuid5(uuid.NAMESPACE_URL, "urn:andromede:kms:import-tokens"))
TOKEN_FORMAT: Final = 1
_TOKEN_HEADER: Final = struct.Struct(">BQBB")
_MATERIAL_ID_LABEL: Final = b"andromede/kms key material id v1:"
_GENERATED_MATERIAL_ID_LABEL: Final = b"andromede/kms generated key material id v1:"


class TokenFormatError(ValueError):
    """The bytes are no import token of this service."""


class MaterialUnwrapError(ValueError):
    """The encrypted key material does not decrypt under the wrapping key."""


@dataclass(frozen=True, slots=True)
class ImportToken:
    valid_to: datetime
    algorithm: str
    key_spec: str
    sealed_private_key: bytes  # a KMS ciphertext blob under IMPORT_TOKEN_RING

    def encode(self) -> bytes:
        return (
            _TOKEN_HEADER.pack(
                TOKEN_FORMAT,
                int(self.valid_to.timestamp()),
                WRAPPING_ALGORITHMS.index(self.algorithm),
                WRAPPING_KEY_SPECS.index(self.key_spec),
            )
            + self.sealed_private_key
        )

    @classmethod
    def decode(cls, token: bytes) -> ImportToken:
        if len(token) <= _TOKEN_HEADER.size:
            raise TokenFormatError("the import token is truncated")
        version, valid_to, algorithm, key_spec = _TOKEN_HEADER.unpack_from(token)
        if (
            version != TOKEN_FORMAT
            or algorithm >= len(WRAPPING_ALGORITHMS)
            or key_spec >= len(WRAPPING_KEY_SPECS)
        ):
            raise TokenFormatError("the import token has an unknown format")
        try:
            moment = datetime.fromtimestamp(valid_to, UTC)
        except (OverflowError, OSError, ValueError):
            raise TokenFormatError("the import token has an unknown format") from None
        return cls(
            valid_to=moment,
            algorithm=WRAPPING_ALGORITHMS[algorithm],
            key_spec=WRAPPING_KEY_SPECS[key_spec],
            sealed_private_key=token[_TOKEN_HEADER.size :],
        )


def token_context(
    key_arn: str, algorithm: str, key_spec: str, valid_to: datetime
) -> dict[str, str]:
    """What a token's sealed private key is bound to."""
    return {
        "andromede:import-into": key_arn,
        "andromede:wrapping-algorithm": algorithm,
        "andromede:wrapping-key-spec": key_spec,
        "andromede:valid-to": str(int(valid_to.timestamp())),
    }


def _oaep(algorithm: str) -> padding.OAEP:
    digest: hashes.HashAlgorithm = (
        hashes.SHA1() if algorithm.endswith("_SHA_1") else hashes.SHA256()  # noqa: S303
    )
    return padding.OAEP(mgf=padding.MGF1(algorithm=digest), algorithm=digest, label=None)


def unwrap_material(private_der: bytes, algorithm: str, encrypted: bytes) -> bytes:
    """The material ``encrypted`` holds, or ``MaterialUnwrapError``."""
    try:
        # The token's own wrapping key, made by this service and unsealed from its ring.
        private = load_own_private_key(private_der)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise MaterialUnwrapError("the import token's wrapping key is not valid") from None
    if not isinstance(private, rsa.RSAPrivateKey):
        raise MaterialUnwrapError("the import token's wrapping key is not an RSA key")
    modulus_bytes = private.key_size // 8
    try:
        if algorithm in ("RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"):
            if len(encrypted) != modulus_bytes:
                raise MaterialUnwrapError("the encrypted key material has the wrong size")
            return private.decrypt(encrypted, _oaep(algorithm))
        if algorithm in ("RSA_AES_KEY_WRAP_SHA_1", "RSA_AES_KEY_WRAP_SHA_256"):
            if len(encrypted) <= modulus_bytes:
                raise MaterialUnwrapError("the encrypted key material is truncated")
            aes_key = private.decrypt(encrypted[:modulus_bytes], _oaep(algorithm))
            if len(aes_key) not in (16, 24, 32):
                raise MaterialUnwrapError("the wrapped AES key has the wrong size")
            return aes_key_unwrap_with_padding(aes_key, encrypted[modulus_bytes:])
    except (ValueError, InvalidUnwrap) as exc:
        if isinstance(exc, MaterialUnwrapError):
            raise
        raise MaterialUnwrapError("the encrypted key material does not decrypt") from None
    raise MaterialUnwrapError(f"wrapping algorithm {algorithm} is not offered")


def material_id(key_id: str, material: bytes) -> str:
    """The material's id for ``key_id`` (64 hex digits, AWS's KeyMaterialId form)."""
    return hmac.new(material, _MATERIAL_ID_LABEL + key_id.encode(), hashlib.sha256).hexdigest()


def generated_material_id(key_id: str, version: int) -> str:
    """The id of the material version ``version`` of an AWS_KMS key's ring holds (64 hex
    digits, AWS's KeyMaterialId form). Generated material never leaves the root-key provider
    (inside an HSM it cannot), so its id is a digest of the key id and version, not of the
    material; it names, it proves nothing."""
    label = _GENERATED_MATERIAL_ID_LABEL + key_id.encode() + b":" + str(version).encode()
    return hashlib.sha256(label).hexdigest()
