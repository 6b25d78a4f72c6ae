"""AWS Signature Version 4a (decision 0355): the asymmetric SigV4 botocore uses where an
endpoint's ruleset asks for it — EventBridge's PutEvents naming a global endpoint
(``AWS4-ECDSA-P256-SHA256``, ``X-Amz-Region-Set: *``).

The client derives an ECDSA P-256 key from its secret access key (NIST SP 800-108's KDF in
counter mode over HMAC-SHA256, the access key id and a counter byte as context, retried
while the candidate is not below the curve's order minus one) and signs the SHA-256 of a
string to sign whose scope names no Region. The canonical request is SigV4's. The server
holds the same secret, derives the same key, and checks the DER signature with its public
half. Pure functions; the key derivation is memoised (it is the costly part).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

__all__ = ["ALGORITHM_V4A", "derive_private_value", "signature_matches", "string_to_sign_v4a"]

ALGORITHM_V4A: Final = "AWS4-ECDSA-P256-SHA256"
# The order of P-256's base point.
_N: Final = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def derive_private_value(access_key_id: str, secret_key: str) -> int:
    """The private scalar of the client's SigV4a key, as AWS's SDKs derive it."""
    key = f"AWS4A{secret_key}".encode()
    for counter in range(1, 255):
        fixed = (
            (1).to_bytes(4, "big")
            + ALGORITHM_V4A.encode()
            + b"\x00"
            + access_key_id.encode()
            + bytes([counter])
            + (256).to_bytes(4, "big")
        )
        candidate = int.from_bytes(hmac.new(key, fixed, hashlib.sha256).digest(), "big")
        if candidate <= _N - 2:
            return candidate + 1
    raise ValueError("no SigV4a key derives from this secret")  # 2^-32 per try: never


@functools.lru_cache(maxsize=256)
def _public_key(access_key_id: str, secret_key: str) -> ec.EllipticCurvePublicKey:
    value = derive_private_value(access_key_id, secret_key)
    return ec.derive_private_key(value, ec.SECP256R1()).public_key()


def string_to_sign_v4a(amz_date: str, scope: str, canonical_request: str) -> str:
    digest = hashlib.sha256(canonical_request.encode("utf-8", "surrogateescape")).hexdigest()
    return f"{ALGORITHM_V4A}\n{amz_date}\n{scope}\n{digest}"


def signature_matches(
    access_key_id: str, secret_key: str, string_to_sign: str, signature_hex: str
) -> bool:
    try:
        der = bytes.fromhex(signature_hex)
    except ValueError:
        return False
    try:
        _public_key(access_key_id, secret_key).verify(
            der, string_to_sign.encode("utf-8", "surrogateescape"), ec.ECDSA(hashes.SHA256())
        )
    except InvalidSignature:
        return False
    return True
