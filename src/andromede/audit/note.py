"""Signed notes and checkpoints (C2SP signed-note and tlog-checkpoint): pure functions.

A checkpoint is the note text ``<origin>\\n<tree size>\\n<base64 root hash>\\n``; signed, a
blank line and one signature line per key follow: ``— <key name> <base64(key ID || Ed25519
signature of the text)>``. The key ID is ``SHA-256(key name || 0x0A || 0x01 || public key)[:4]``
and a verifier key is written ``<name>+<hex key ID>+<base64(0x01 || public key)>``, as Go's
``golang.org/x/mod/sumdb/note`` writes them, so that any note verifier checks our checkpoints.

The log signs each log's checkpoint with the key name equal to the log's origin (the spec's
"SHOULD match"): one Ed25519 key per region, one key ID per log. Opening a note never trusts
its text before a signature by the expected key has verified; a signature by that name and ID
that fails makes the whole note refused, and signatures of other keys are ignored.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from andromede.audit.merkle import HASH_SIZE

__all__ = [
    "Checkpoint",
    "NoteError",
    "check_key_name",
    "format_typed_key",
    "format_verifier_key",
    "key_id",
    "open_note",
    "parse_typed_key",
    "parse_verifier_key",
    "public_key_bytes",
    "sign_note",
    "sign_note_with",
    "split_note",
    "typed_key_id",
]

_ED25519 = b"\x01"
_DASH = "\u2014 "
_MAX_SIGNATURES = 16  # the spec's floor for what a verifier accepts


class NoteError(ValueError):
    """A note, checkpoint or verifier key that is malformed or whose signature fails."""


def public_key_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def typed_key_id(name: str, algorithm: bytes, public_key: bytes) -> bytes:
    """A signed-note key ID: ``SHA-256(name || 0x0A || algorithm || public key)[:4]``."""
    return hashlib.sha256(name.encode() + b"\n" + algorithm + public_key).digest()[:4]


def key_id(name: str, public_key: bytes) -> bytes:
    return typed_key_id(name, _ED25519, public_key)


def check_key_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise NoteError(f"not a key name: {name!r}")


def format_typed_key(name: str, algorithm: bytes, public_key: bytes) -> str:
    """A verifier key ``<name>+<hex key ID>+<base64(algorithm || public key)>``."""
    check_key_name(name)
    encoded = base64.b64encode(algorithm + public_key).decode()
    return f"{name}+{typed_key_id(name, algorithm, public_key).hex()}+{encoded}"


def parse_typed_key(text: str, algorithm: bytes, what: str) -> tuple[str, bytes]:
    """(name, 32-byte Ed25519 public key) of a verifier key of ``algorithm`` (0x01 a note
    signer's, 0x04 a cosigner's), its key ID checked; ``what`` names it in the errors."""
    name, _, rest = text.strip().partition("+")
    hex_id, _, encoded = rest.partition("+")  # the base64 part may hold '+' itself
    try:
        check_key_name(name)
        raw = base64.b64decode(encoded, validate=True)
        wanted = bytes.fromhex(hex_id)
    except (NoteError, ValueError, binascii.Error) as exc:
        raise NoteError(f"not a {what} (name+keyid+base64)") from exc
    if len(raw) != 33 or raw[:1] != algorithm:
        raise NoteError(f"the {what} is not an Ed25519 key of type 0x{algorithm.hex()}")
    if typed_key_id(name, algorithm, raw[1:]) != wanted:
        raise NoteError(f"the {what}'s ID does not match its name and key")
    return name, raw[1:]


def format_verifier_key(name: str, public_key: bytes) -> str:
    return format_typed_key(name, _ED25519, public_key)


def parse_verifier_key(text: str) -> tuple[str, bytes]:
    """(name, 32-byte Ed25519 public key) of a verifier key; its key ID is checked."""
    return parse_typed_key(text, _ED25519, "verifier key")


def sign_note(text: str, name: str, key: Ed25519PrivateKey) -> str:
    """The note ``text`` (ending in a newline) signed by ``key`` under ``name``."""
    return sign_note_with(text, name, public_key_bytes(key.public_key()), key.sign)


def sign_note_with(text: str, name: str, public_key: bytes, sign: Callable[[bytes], bytes]) -> str:
    """The note ``text`` signed under ``name`` by ``sign``, the Ed25519 signing of the key
    whose public half is ``public_key`` wherever its private half lives (an HSM's)."""
    check_key_name(name)
    if not text.endswith("\n") or text.endswith("\n\n"):
        raise NoteError("a note's text ends with exactly one newline")
    signature = base64.b64encode(key_id(name, public_key) + sign(text.encode())).decode()
    return f"{text}\n{_DASH}{name} {signature}\n"


def split_note(note: str) -> tuple[str, list[str]]:
    """(text, signature lines) of a signed note, its shape checked (no signature verified):
    the text ends with its newline, each line starts with an em dash and a space."""
    if not note.endswith("\n"):
        raise NoteError("a signed note ends with a newline")
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise NoteError("a signed note has no control characters")
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("the note has no blank line before its signatures")
    text, lines = note[: split + 1], note[split + 2 :].splitlines()
    if not lines or len(lines) > _MAX_SIGNATURES:
        raise NoteError("the note has no signature, or too many")
    if any(not line.startswith(_DASH) for line in lines):
        raise NoteError("a signature line starts with an em dash and a space")
    return text, lines


def open_note(note: str, name: str, public_key: bytes) -> str:
    """The text of ``note`` once a signature by (``name``, ``public_key``) has verified."""
    text, lines = split_note(note)
    wanted = key_id(name, public_key)
    verifier = Ed25519PublicKey.from_public_bytes(public_key)
    verified = False
    for line in lines:
        signer, _, encoded = line[len(_DASH) :].partition(" ")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise NoteError("a signature is not base64") from exc
        if len(raw) < 5:
            raise NoteError("a signature is too short")
        if signer != name or raw[:4] != wanted:
            continue  # another key's: ignored, as the spec says
        try:
            verifier.verify(raw[4:], text.encode())
        except InvalidSignature as exc:
            raise NoteError(f"the signature of {name} does not verify") from exc
        verified = True
    if not verified:
        raise NoteError(f"the note carries no signature of {name}")
    return text


@dataclass(frozen=True, slots=True)
class Checkpoint:
    origin: str
    size: int
    root_hash: bytes

    def text(self) -> str:
        root = base64.b64encode(self.root_hash).decode()
        return f"{self.origin}\n{self.size}\n{root}\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """The checkpoint of a note's (verified) text; extension lines are ignored."""
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "" or any(not line for line in lines[:-1]):
            raise NoteError("a checkpoint is at least three non-empty lines")
        origin, size, root = lines[0], lines[1], lines[2]
        if not size.isdigit() or not size.isascii() or (size != "0" and size.startswith("0")):
            raise NoteError("the checkpoint's tree size is not a decimal number")
        try:
            root_hash = base64.b64decode(root, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise NoteError("the checkpoint's root hash is not base64") from exc
        if len(root_hash) != HASH_SIZE:
            raise NoteError("the checkpoint's root hash is not a SHA-256 hash")
        return cls(origin, int(size), root_hash)
