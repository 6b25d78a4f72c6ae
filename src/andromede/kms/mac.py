"""HMAC keys (KeyUsage ``GENERATE_VERIFY_MAC``): AWS KMS's key specs and MAC algorithms, key
generation, and MACs made and checked with the standard library's ``hmac``.

Like a signing key's private key, the MAC key reaches this module only as the bytes the key
service has just unsealed (it is stored sealed under the key's own ring), and leaves it as a
MAC. Checking compares in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Final

__all__ = [
    "MAC_KEY_SPECS",
    "MacAlgorithmMismatch",
    "MacMismatch",
    "generate_mac_key",
    "key_size",
    "mac_algorithms",
    "make_mac",
    "verify_mac",
]

# KeySpec → (its one MAC algorithm, the key's length in bytes), as AWS KMS defines them.
_SPECS: Final[dict[str, tuple[str, int]]] = {
    "HMAC_224": ("HMAC_SHA_224", 28),
    "HMAC_256": ("HMAC_SHA_256", 32),
    "HMAC_384": ("HMAC_SHA_384", 48),
    "HMAC_512": ("HMAC_SHA_512", 64),
}
MAC_KEY_SPECS: Final = frozenset(_SPECS)


class MacAlgorithmMismatch(ValueError):
    """The MAC algorithm is not the one of the key's spec."""


class MacMismatch(ValueError):
    """The MAC is not the key's over the message."""


def mac_algorithms(key_spec: str) -> tuple[str, ...]:
    return (_SPECS[key_spec][0],)


def key_size(key_spec: str) -> int:
    """The length in bytes of a generated key of ``key_spec`` (its digest's)."""
    return _SPECS[key_spec][1]


def generate_mac_key(key_spec: str) -> bytes:
    return secrets.token_bytes(key_size(key_spec))


def _digest(key_spec: str, algorithm: str) -> str:
    if algorithm != _SPECS[key_spec][0]:
        raise MacAlgorithmMismatch(f"{algorithm} is not the MAC algorithm of a {key_spec} key")
    return "sha" + algorithm.rsplit("_", 1)[1]


def make_mac(key_spec: str, secret: bytes, algorithm: str, message: bytes) -> bytes:
    return hmac.new(secret, message, getattr(hashlib, _digest(key_spec, algorithm))).digest()


def verify_mac(key_spec: str, secret: bytes, algorithm: str, message: bytes, mac: bytes) -> None:
    """Nothing if ``mac`` is the key's over ``message``; ``MacMismatch`` if not."""
    if not hmac.compare_digest(make_mac(key_spec, secret, algorithm, message), mac):
        raise MacMismatch("the MAC does not verify")
