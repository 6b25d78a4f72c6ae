"""Sealing of access-key secrets at rest.

SigV4 needs the secret itself (an HMAC key), so it cannot be stored as a one-way hash the way a
password is. It is stored sealed with AES-256-GCM under a key kept outside the database, in
``<data-dir>/keys/secrets.key`` (mode 0600), with the access key id as associated data so a sealed
secret cannot be moved to another key's row. The KMS issue moves this key under the root-key
provider (HSM or key file); the sealed format carries a version prefix for that migration.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["SecretSealer"]

_FORMAT = "v1"
_NONCE_SIZE = 12


class SecretSealer:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the secrets key must be 32 bytes")
        self._aead = AESGCM(key)

    @classmethod
    def from_key_file(cls, path: Path) -> SecretSealer:
        """Load the key, creating it (0600, in a 0700 folder) on first use."""
        if not path.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            key = AESGCM.generate_key(bit_length=256)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, key)
                os.fsync(fd)
            finally:
                os.close(fd)
            return cls(key)
        return cls(path.read_bytes())

    def seal(self, access_key_id: str, secret: str) -> str:
        nonce = os.urandom(_NONCE_SIZE)
        sealed = self._aead.encrypt(nonce, secret.encode(), access_key_id.encode())
        return f"{_FORMAT}:{base64.b64encode(nonce + sealed).decode()}"

    def unseal(self, access_key_id: str, sealed: str) -> str:
        version, _, payload = sealed.partition(":")
        if version != _FORMAT:
            raise ValueError(f"unknown sealed-secret format {version!r}")
        raw = base64.b64decode(payload)
        nonce, box = raw[:_NONCE_SIZE], raw[_NONCE_SIZE:]
        return self._aead.decrypt(nonce, box, access_key_id.encode()).decode()
