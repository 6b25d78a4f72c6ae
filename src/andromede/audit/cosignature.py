"""Witness cosignatures of checkpoints: C2SP tlog-cosignature, the Ed25519 type (decision 0122).

A cosignature is a note signature line a *witness* adds to a log's checkpoint: a statement
that, at its timestamp, that checkpoint was the largest consistent tree head the witness had
seen for the log's origin. A verifier that requires cosignatures from witnesses it trusts
(several, run by parties independent of the operator) knows the log is not showing it a
history it shows no one else — the split view a signed checkpoint alone cannot exclude.

Format (c2sp.org/tlog-cosignature, Ed25519):

- key ID ``SHA-256(name || 0x0A || 0x04 || public key)[:4]``; a verifier key is
  ``<name>+<hex key ID>+<base64(0x04 || public key)>``;
- the line ``— <name> base64(key ID || u64 big-endian timestamp || Ed25519 signature)``;
- the signed message ``cosignature/v1\\ntime <timestamp>\\n`` followed by the whole note text
  of the checkpoint (its final newline included, no signature line).

Pure: no I/O, no clock (the timestamp is the caller's).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from andromede.audit.note import (
    NoteError,
    check_key_name,
    format_typed_key,
    parse_typed_key,
    public_key_bytes,
    split_note,
    typed_key_id,
)

__all__ = [
    "Cosignature",
    "cosign",
    "cosignatures",
    "cosigned_message",
    "cosigner_key_id",
    "format_cosigner_key",
    "parse_cosigner_key",
]

_COSIGNATURE_V1: Final = b"\x04"
_DASH: Final = "\u2014 "
_MAX_TIMESTAMP: Final = 2**63 - 1
_LENGTH: Final = 4 + 8 + 64


def cosigner_key_id(name: str, public_key: bytes) -> bytes:
    return typed_key_id(name, _COSIGNATURE_V1, public_key)


def format_cosigner_key(name: str, public_key: bytes) -> str:
    """The witness's verifier key, as clients are configured with it."""
    return format_typed_key(name, _COSIGNATURE_V1, public_key)


def parse_cosigner_key(text: str) -> tuple[str, bytes]:
    """(name, 32-byte Ed25519 public key) of a cosigner verifier key; its ID is checked."""
    return parse_typed_key(text, _COSIGNATURE_V1, "cosigner key")


def cosigned_message(text: str, timestamp: int) -> bytes:
    """What a cosignature signs: the v1 header, the time, then the checkpoint's note text."""
    if not 0 <= timestamp <= _MAX_TIMESTAMP:
        raise NoteError("a cosignature's timestamp is a u63")
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


def cosign(text: str, name: str, key: Ed25519PrivateKey, timestamp: int) -> str:
    """The cosignature line (newline-terminated) of ``name``'s ``key`` on the checkpoint note
    text ``text`` at ``timestamp`` (POSIX seconds)."""
    check_key_name(name)
    if not text.endswith("\n") or text.endswith("\n\n"):
        raise NoteError("a note's text ends with exactly one newline")
    public = public_key_bytes(key.public_key())
    signature = key.sign(cosigned_message(text, timestamp))
    raw = cosigner_key_id(name, public) + timestamp.to_bytes(8, "big") + signature
    return f"{_DASH}{name} {base64.b64encode(raw).decode()}\n"


@dataclass(frozen=True, slots=True)
class Cosignature:
    name: str
    timestamp: int


def cosignatures(note: str, name: str, public_key: bytes) -> list[Cosignature]:
    """The cosignatures of (``name``, ``public_key``) on the signed note ``note`` (a
    checkpoint with its signature lines), each verified; lines of other keys are ignored, as
    the spec says. NoteError for a malformed note or a line of this key that fails."""
    text, lines = split_note(note)
    wanted = cosigner_key_id(name, public_key)
    verifier = Ed25519PublicKey.from_public_bytes(public_key)
    found: list[Cosignature] = []
    for line in lines:
        signer, _, encoded = line[len(_DASH) :].partition(" ")
        if signer != name:
            continue
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise NoteError("a signature is not base64") from exc
        if raw[:4] != wanted:
            continue  # the same name under another key: not this cosigner's
        if len(raw) != _LENGTH:
            raise NoteError(f"the cosignature of {name} is not key ID, time and signature")
        timestamp = int.from_bytes(raw[4:12], "big")
        try:
            verifier.verify(raw[12:], cosigned_message(text, timestamp))
        except InvalidSignature as exc:
            raise NoteError(f"the cosignature of {name} does not verify") from exc
        found.append(Cosignature(name, timestamp))
    return found
