"""Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP), pure functions.

Virtual MFA devices are authenticator apps: a shared seed, a 30-second step, six digits, SHA-1
— what every app and AWS's ``CreateVirtualMFADevice`` use. Verification accepts the current
step and one on either side (clock drift), compares in constant time, and returns the step that
matched so the caller can refuse it next time (a code is single-use).
"""

from __future__ import annotations

import base64
import hmac
import os
import struct
from urllib.parse import quote

__all__ = [
    "SEED_BYTES",
    "STEP_SECONDS",
    "matching_step",
    "new_seed",
    "otpauth_uri",
    "seed_from_base32",
    "seed_to_base32",
    "time_step",
    "totp",
]

STEP_SECONDS = 30
SEED_BYTES = 20  # 160 bits, RFC 4226's recommendation for HMAC-SHA-1
DIGITS = 6
WINDOW = 1  # steps accepted on either side of the current one


def new_seed() -> bytes:
    return os.urandom(SEED_BYTES)


def seed_to_base32(seed: bytes) -> str:
    return base64.b32encode(seed).decode().rstrip("=")


def seed_from_base32(text: str) -> bytes:
    padded = text.upper() + "=" * (-len(text) % 8)
    return base64.b32decode(padded)


def time_step(unix_time: float, step_seconds: int = STEP_SECONDS) -> int:
    return int(unix_time // step_seconds)


def totp(seed: bytes, step: int, digits: int = DIGITS, algorithm: str = "sha1") -> str:
    """The code of ``step`` (RFC 4226 §5.3 dynamic truncation)."""
    mac = hmac.new(seed, struct.pack(">Q", step), algorithm).digest()
    offset = mac[-1] & 0x0F
    number = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**digits).zfill(digits)


def matching_step(
    seed: bytes, code: str, unix_time: float, *, after: int | None = None
) -> int | None:
    """The step within the window whose code is ``code`` and which is later than ``after``.

    Every candidate is compared (no early exit) so timing does not tell which step matched."""
    now = time_step(unix_time)
    found: int | None = None
    candidate = code.strip().encode()
    for step in range(now - WINDOW, now + WINDOW + 1):
        if after is not None and step <= after:
            continue
        if hmac.compare_digest(totp(seed, step).encode(), candidate) and found is None:
            found = step
    return found


def otpauth_uri(seed: bytes, account: str, issuer: str) -> str:
    """The URI authenticator apps import (what a QR code would carry)."""
    label = quote(f"{issuer}:{account}", safe="")
    return (
        f"otpauth://totp/{label}?secret={seed_to_base32(seed)}"
        f"&issuer={quote(issuer, safe='')}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}"
    )
