"""AWS Signature Version 4a (decision 0355): the asymmetric SigV4 botocore uses where an
endpoint's ruleset asks for it — EventBridge's PutEvents naming a global endpoint
(``AWS4-ECDSA-P256-SHA256``, ``X-Amz-Region-Set: *``).

The client derives an ECDSA P-256 key from its secret access key (NIST SP 800-108's KDF in
counter mode over HMAC-SHA256, the access key id and a counter byte as context, retried
while the candidate is not below the curve's order minus one) and signs the SHA-256 of a
string to sign whose scope names no Region. The canonical request is SigV4's. The server
holds the same secret, derives the same key, and checks the DER signature with its public
half. Pure functions; the key derivation is memoised (it is the costly part).

Decision 0380 adds what S3 clients send: presigned URLs (the same claim in the query, with
``X-Amz-Region-Set``) and ``aws-chunked`` payloads whose chunk signatures are ECDSA too. A
DER signature's length varies (70 to 72 bytes), so AWS's CRT pads each chunk's hex signature
with ``*`` to :data:`PADDED_SIGNATURE_LENGTH` characters and chains the next chunk on the
signature without its padding (aws-c-auth's ``aws_trim_padded_sigv4a_signature``).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

__all__ = [
    "ALGORITHM_V4A",
    "PADDED_SIGNATURE_LENGTH",
    "STREAMING_PAYLOAD_TRAILER_V4A",
    "STREAMING_PAYLOAD_V4A",
    "derive_private_value",
    "ecdsa_matches",
    "public_key",
    "signature_matches",
    "string_to_sign_v4a",
    "unpadded",
]

ALGORITHM_V4A: Final = "AWS4-ECDSA-P256-SHA256"
STREAMING_PAYLOAD_V4A: Final = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"
STREAMING_PAYLOAD_TRAILER_V4A: Final = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER"
#: A DER P-256 signature is at most 72 bytes: 144 hex characters, the CRT's padded width.
PADDED_SIGNATURE_LENGTH: Final = 144
_PADDING: Final = "*"
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


def public_key(access_key_id: str, secret_key: str) -> ec.EllipticCurvePublicKey:
    """The public half of the key the secret derives (what chunk signatures are checked with)."""
    return _public_key(access_key_id, secret_key)


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
    return ecdsa_matches(_public_key(access_key_id, secret_key), string_to_sign, signature_hex)


def ecdsa_matches(key: ec.EllipticCurvePublicKey, string_to_sign: str, signature_hex: str) -> bool:
    try:
        der = bytes.fromhex(signature_hex)
    except ValueError:
        return False
    try:
        key.verify(
            der, string_to_sign.encode("utf-8", "surrogateescape"), ec.ECDSA(hashes.SHA256())
        )
    except InvalidSignature:
        return False
    return True


def unpadded(signature: str) -> str | None:
    """A chunk's hex signature without the CRT's ``*`` padding; None when it is not of that
    shape (hex, then only padding, 144 characters at most)."""
    if len(signature) > PADDED_SIGNATURE_LENGTH:
        return None
    core = signature.rstrip(_PADDING)
    if not core or _PADDING in core or any(c not in "0123456789abcdefABCDEF" for c in core):
        return None
    return core
