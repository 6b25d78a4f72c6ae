"""RSA private keys for test identity providers (OIDC, SAML), made once per test process.

Making a 2048-bit key costs 50 to 200 ms of CPU, and the test IdPs made one or more per test:
hundreds a run. The process keeps the keys it made and gives one again once nothing else holds
it (no IdP, fixture or test still refers to it): every key alive at once is distinct, so a
rotated key, a second issuer or a forged signature still differ from the trusted one, whatever
the fixtures' scopes. A key still referred to only from garbage not yet collected counts as
held: a new key is made, never one in use given twice."""

from __future__ import annotations

import sys

from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = ["rsa_private_key"]

_made: dict[int, list[rsa.RSAPrivateKey]] = {}
# References to a kept key nothing else holds: the list's and getrefcount's argument.
_UNHELD = 2


def rsa_private_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    """A key of ``bits`` that nothing else in the process holds now."""
    made = _made.setdefault(bits, [])
    for index in range(len(made)):
        if sys.getrefcount(made[index]) <= _UNHELD:
            return made[index]
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    made.append(key)
    return key
