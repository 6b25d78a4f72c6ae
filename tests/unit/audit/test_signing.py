"""The two log signing keys write the same signed note for the same key: a key held in a
token (signing through an Ed25519Signer) is indistinguishable from the key file's."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from andromede.audit.note import Checkpoint, open_note, public_key_bytes, sign_note
from andromede.audit.signing import (
    PUBLIC_KEY_FILE_NAME,
    FileLogSigningKey,
    LogSigningKey,
    TokenLogSigningKey,
    publish_verifier_key,
)

NAME = "s3.test/eu-test-1/audit"


class SeedSigner:
    """An Ed25519Signer over a seed, standing for a token's key whose seed we know."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private

    @property
    def public_key(self) -> bytes:
        return public_key_bytes(self._private.public_key())

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)


def test_a_token_key_signs_the_same_note_as_the_file_key_of_its_seed(tmp_path: Path) -> None:
    private = Ed25519PrivateKey.generate()
    keys: list[LogSigningKey] = [
        FileLogSigningKey(NAME, private),
        TokenLogSigningKey(NAME, SeedSigner(private)),
    ]
    origin = f"{NAME}/platform"
    text = Checkpoint(origin, 7, bytes(range(32))).text()
    file_note, token_note = (key.sign(text, origin) for key in keys)
    assert token_note == file_note == sign_note(text, origin, private)
    assert open_note(token_note, origin, keys[1].public_key) == text
    assert keys[0].verifier_key == keys[1].verifier_key
    publish_verifier_key(keys[1], tmp_path / PUBLIC_KEY_FILE_NAME)
    assert (tmp_path / PUBLIC_KEY_FILE_NAME).read_text() == keys[0].verifier_key + "\n"
    assert (tmp_path / PUBLIC_KEY_FILE_NAME).stat().st_mode & 0o777 == 0o644
