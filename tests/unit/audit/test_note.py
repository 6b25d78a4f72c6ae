"""Signed notes and checkpoints: byte for byte Go's sumdb/note example (the reference signed
note implementation), the C2SP tlog-checkpoint structure, and every way a note is refused."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from andromede.audit.merkle import EMPTY_ROOT, leaf_hash
from andromede.audit.note import (
    Checkpoint,
    NoteError,
    format_verifier_key,
    key_id,
    open_note,
    parse_verifier_key,
    public_key_bytes,
    sign_note,
)

# golang.org/x/mod/sumdb/note, note.go's package documentation and note_test.go: the signer key
# PRIVATE+KEY+PeterNeumann+c74f20a3+<base64(0x01 || Ed25519 seed)>, its verifier key, the text
# and the signed note the Go implementation writes for it.
GO_SEED = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]
GO_VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n"
    "\u2014 PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
GO_KEY = Ed25519PrivateKey.from_private_bytes(GO_SEED)


def test_signing_reproduces_the_go_note_byte_for_byte() -> None:
    assert sign_note(GO_TEXT, "PeterNeumann", GO_KEY) == GO_NOTE
    pub = public_key_bytes(GO_KEY.public_key())
    assert key_id("PeterNeumann", pub).hex() == "c74f20a3"
    assert format_verifier_key("PeterNeumann", pub) == GO_VERIFIER
    assert parse_verifier_key(GO_VERIFIER) == ("PeterNeumann", pub)
    assert open_note(GO_NOTE, "PeterNeumann", pub) == GO_TEXT


def test_a_checkpoint_has_the_specs_structure_and_verifies_with_cryptography() -> None:
    key = Ed25519PrivateKey.generate()
    origin = "s3.example/eu-west-3/audit/123456789012"
    root = leaf_hash(b"entry")
    note = sign_note(Checkpoint(origin, 20852163, root).text(), origin, key)
    # tlog-checkpoint: origin, size without leading zeros, base64 root, blank line, signature.
    lines = note.split("\n")
    assert lines[0] == origin
    assert lines[1] == "20852163"
    assert base64.b64decode(lines[2]) == root
    assert lines[3] == ""
    assert lines[4].startswith(f"\u2014 {origin} ")
    assert lines[5:] == [""]
    signature = base64.b64decode(lines[4].rsplit(" ", 1)[1])
    pub = public_key_bytes(key.public_key())
    assert signature[:4] == key_id(origin, pub)
    # Checked with cryptography's Ed25519 directly, over the text and its final newline.
    Ed25519PublicKey.from_public_bytes(pub).verify(
        signature[4:], "\n".join(lines[:3]).encode() + b"\n"
    )
    assert Checkpoint.parse(open_note(note, origin, pub)) == Checkpoint(origin, 20852163, root)


def test_the_empty_tree_is_size_zero() -> None:
    text = Checkpoint("o", 0, EMPTY_ROOT).text()
    assert text.split("\n")[1] == "0"
    assert Checkpoint.parse(text).size == 0


def _flip(note: str, position: int) -> str:
    raw = bytearray(note.encode())
    raw[position] ^= 0x01
    return raw.decode(errors="replace")


def test_any_changed_byte_of_text_or_signature_is_refused() -> None:
    pub = public_key_bytes(GO_KEY.public_key())
    text_end = len(GO_TEXT)
    for position in [*range(0, text_end, 7), len(GO_NOTE.encode()) - 10]:
        with pytest.raises(NoteError):
            open_note(_flip(GO_NOTE, position), "PeterNeumann", pub)


def test_other_keys_are_ignored_and_one_trusted_signature_is_needed() -> None:
    other = Ed25519PrivateKey.generate()
    pub = public_key_bytes(GO_KEY.public_key())
    by_other = sign_note(GO_TEXT, "PeterNeumann", other)
    with pytest.raises(NoteError, match="no signature of PeterNeumann"):
        open_note(by_other, "PeterNeumann", pub)
    cosigned = GO_NOTE + by_other.split("\n\n", 1)[1].replace("PeterNeumann", "witness.example")
    assert open_note(cosigned, "PeterNeumann", pub) == GO_TEXT
    with pytest.raises(NoteError):
        open_note(GO_TEXT, "PeterNeumann", pub)  # unsigned


@pytest.mark.parametrize(
    "text",
    ["o\n1\n", "o\n01\n" + base64.b64encode(EMPTY_ROOT).decode() + "\n", "o\n1\nAAAA\n",
     "o\nx\n" + base64.b64encode(EMPTY_ROOT).decode() + "\n", "\n1\nAA==\n"],
)  # fmt: skip
def test_malformed_checkpoints_are_refused(text: str) -> None:
    with pytest.raises(NoteError):
        Checkpoint.parse(text)


@pytest.mark.parametrize(
    "key",
    ["", "PeterNeumann", "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
     "Peter+Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
     "PeterNeumann+c74f20a3+AhpcNQcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"],
)  # fmt: skip
def test_malformed_verifier_keys_are_refused(key: str) -> None:
    with pytest.raises(NoteError):
        parse_verifier_key(key)
