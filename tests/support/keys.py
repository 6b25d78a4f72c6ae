"""The object path's keys for in-process tests: a key service over a local key file."""

from __future__ import annotations

from pathlib import Path

from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.service import KeyService
from andromede.object_keys import KmsObjectCipher


def key_service_in(directory: Path) -> KeyService:
    return KeyService(LocalKeyFileProvider(directory))


def cipher_in(directory: Path) -> KmsObjectCipher:
    """Every blob encrypted, as in production (there is no unencrypted path to test)."""
    return KmsObjectCipher(key_service_in(directory), inline=True)
