"""IMDSv2 session tokens: minted by ``PUT /latest/api/token``, required by every read.

A token is the expiry time and an HMAC-SHA256 over it and the instance id, under a key that
exists only in this process's memory: nothing is stored, a token is worthless for any other
instance (a new instance reusing an address included) and after its expiry, and every token
dies with the process, as AWS's do when an instance stops. Compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
import time
from collections.abc import Callable

__all__ = ["TokenAuthority"]

_EXPIRY = struct.Struct(">Q")
_TOKEN_BYTES = _EXPIRY.size + hashlib.sha256().digest_size


class TokenAuthority:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._key = os.urandom(32)
        self._clock = clock

    def mint(self, instance_id: str, ttl_seconds: int) -> str:
        expires = int(self._clock()) + ttl_seconds
        packed = _EXPIRY.pack(expires)
        return base64.urlsafe_b64encode(packed + self._mac(packed, instance_id)).decode("ascii")

    def valid(self, token: str, instance_id: str) -> bool:
        """Whether ``token`` was minted here for ``instance_id`` and has not expired."""
        try:
            raw = base64.urlsafe_b64decode(token.encode("ascii"))
        except (binascii.Error, UnicodeEncodeError, ValueError):
            return False
        if len(raw) != _TOKEN_BYTES:
            return False
        packed, mac = raw[: _EXPIRY.size], raw[_EXPIRY.size :]
        if not hmac.compare_digest(mac, self._mac(packed, instance_id)):
            return False
        (expires,) = _EXPIRY.unpack(packed)
        return bool(self._clock() < expires)

    def _mac(self, packed_expiry: bytes, instance_id: str) -> bytes:
        return hmac.new(self._key, packed_expiry + instance_id.encode(), hashlib.sha256).digest()
