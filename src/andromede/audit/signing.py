"""The region's log signing key: one Ed25519 key, kept in a file or in the HSM (decision 0134).

:class:`LogSigningKey` is what the trail signs checkpoints with; two keys implement it, and
their notes are the same bytes for the same key (``note.sign_note_with``), so no verifier
can tell where the key lives:

- :class:`FileLogSigningKey`, kept beside the platform's other secrets:
  ``<data-dir>/keys/audit-log.key`` (0600, in the 0700 ``keys`` folder that holds
  ``secrets.key``): ``andromede-audit-log-key-v1:<base64 of the 32-byte seed>``. Made at the
  first start, atomically (written to a temporary file, then hard-linked into place, so two
  workers starting together end up with the one key the link made first). Every gateway of a
  region needs the same file, as it needs ``secrets.key``.
- :class:`TokenLogSigningKey`, over an :class:`Ed25519Signer` whose private half never leaves
  a PKCS#11 token (the key management context's ``hsm_ed25519``): the seed exists nowhere
  else, so reading the data folder no longer lets anyone sign checkpoints.

Either way the private key is never in the database, never logged: the database holds the
public half only (``audit_signing_keys``), which the first gateway registers and every later
one must match (:class:`SigningKeyMismatch` otherwise), so a gateway with another key refuses
to start rather than sign checkpoints that no verifier would accept.

The public key is published as a note verifier key (``<name>+<key id>+<base64>``) by the API
and in ``<data-dir>/audit-log.pub``, beside the admin credentials.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from andromede.audit.note import format_verifier_key, key_id, public_key_bytes, sign_note_with
from andromede.errors import ConfigurationError

__all__ = [
    "KEY_FILE_GLOB",
    "KEY_FILE_NAME",
    "PUBLIC_KEY_FILE_NAME",
    "Ed25519Signer",
    "FileLogSigningKey",
    "LogSigningKey",
    "TokenLogSigningKey",
    "publish_verifier_key",
]

KEY_FILE_NAME = "audit-log.key"
KEY_FILE_GLOB = "audit-log*.key"  # the first key's file and those rotations wrote (0140)
PUBLIC_KEY_FILE_NAME = "audit-log.pub"
_FORMAT = "andromede-audit-log-key-v1:"


class LogSigningKey(Protocol):
    """The region's key; ``name`` is the key name of the region (each log signs under its own
    origin, ``<name>/<log>``). ``sign`` may block (a token's lock): call it off the loop."""

    @property
    def name(self) -> str: ...

    @property
    def public_key(self) -> bytes: ...

    @property
    def verifier_key(self) -> str: ...

    def sign(self, text: str, name: str) -> str:
        """The note ``text`` signed under key name ``name``."""
        ...


class Ed25519Signer(Protocol):
    """An Ed25519 key whose private half is held elsewhere (a PKCS#11 token) and signs there."""

    @property
    def public_key(self) -> bytes: ...

    def sign(self, message: bytes) -> bytes:
        """The 64-byte RFC 8032 signature of ``message``."""
        ...


@dataclass(frozen=True, slots=True)
class FileLogSigningKey:
    """The key as a seed in ``keys/audit-log.key``."""

    name: str
    _private: Ed25519PrivateKey = field(repr=False)

    @property
    def public_key(self) -> bytes:
        return public_key_bytes(self._private.public_key())

    @property
    def verifier_key(self) -> str:
        return format_verifier_key(self.name, self.public_key)

    def sign(self, text: str, name: str) -> str:
        return sign_note_with(text, name, self.public_key, self._private.sign)

    @classmethod
    def load_or_create(cls, path: Path, name: str) -> FileLogSigningKey:
        if not path.exists():
            _create(path)
        return cls.load(path, name)

    def seed(self) -> bytes:
        """The private key's 32 bytes: what a rotation seals for the other gateways (0140)."""
        return self._private.private_bytes_raw()

    @classmethod
    def create_new(
        cls, folder: Path, name: str, seed: bytes | None = None
    ) -> tuple[Path, FileLogSigningKey]:
        """A new key (or the key of ``seed``, unsealed from the registry) in a file of its
        own in ``folder``, named after its key ID (``audit-log.<hex key ID>.key``): what a
        rotation to a key file writes (0140)."""
        if seed is None:
            private = Ed25519PrivateKey.generate()
        else:
            private = Ed25519PrivateKey.from_private_bytes(seed)
        key = cls(name, private)
        path = folder / f"audit-log.{key_id(name, key.public_key).hex()}.key"
        _create(path, private.private_bytes_raw())
        if cls.load(path, name).public_key != key.public_key:  # the name is the key's own
            raise ConfigurationError(f"{path} already holds another key")
        return path, key

    @classmethod
    def load(cls, path: Path, name: str) -> FileLogSigningKey:
        try:
            content = path.read_text().strip()
            if not content.startswith(_FORMAT):
                raise ValueError("unknown format")
            seed = base64.b64decode(content[len(_FORMAT) :], validate=True)
            private = Ed25519PrivateKey.from_private_bytes(seed)
        except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
            # The message names the file, never its content.
            raise ConfigurationError(f"{path} is not an audit log signing key") from exc
        return cls(name, private)


@dataclass(frozen=True, slots=True)
class TokenLogSigningKey:
    """The key as a pair in the HSM: the token signs each note's text."""

    name: str
    signer: Ed25519Signer = field(repr=False)

    @property
    def public_key(self) -> bytes:
        return self.signer.public_key

    @property
    def verifier_key(self) -> str:
        return format_verifier_key(self.name, self.public_key)

    def sign(self, text: str, name: str) -> str:
        return sign_note_with(text, name, self.signer.public_key, self.signer.sign)


def _temporary_beside(path: Path) -> Path:
    """A temporary name beside ``path`` that no other process or thread picks at once."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")


def publish_verifier_key(key: LogSigningKey, path: Path) -> None:
    """Write the verifier key to ``path`` (readable by all: it is public), atomically."""
    # Workers, and several threads of one worker, write it at once: each its own temporary.
    temporary = _temporary_beside(path)
    temporary.write_text(key.verifier_key + "\n")
    temporary.chmod(0o644)
    os.replace(temporary, path)


def _create(path: Path, seed: bytes | None = None) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    seed = seed or Ed25519PrivateKey.generate().private_bytes_raw()
    temporary = _temporary_beside(path)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, (_FORMAT + base64.b64encode(seed).decode() + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(temporary, path)  # fails if another process made the key first: theirs wins
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
