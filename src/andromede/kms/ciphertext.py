"""The ciphertext blob that KMS Encrypt returns and Decrypt takes (envelope encryption).

Each Encrypt draws a fresh data key from the CMK's key ring (wrapped under the ring's current
KEK version by the root-key provider) and seals the plaintext with it::

    format (1 byte = 1) | key id (16 bytes, the uuid) | KEK version (4 bytes)
    | sealed data key (60 bytes: nonce | AES-256-GCM(KEK, data key) | tag)
    | nonce (12 bytes) | AES-256-GCM(data key, plaintext, aad) with its 16-byte tag

``aad = "andromede/kms ciphertext v1" | every header byte above | canonical encryption context``
where the canonical context is the JSON of the context's pairs sorted by key (UTF-8, no
spaces). So a blob relabelled with another key id or KEK version, or decrypted with any other
encryption context, fails authentication. The blob names its key, so Decrypt needs no KeyId.
No I/O here.
"""

from __future__ import annotations

import json
import struct
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from andromede.kms.keys_errors import InvalidCiphertext
from andromede.kms.model import DATA_KEY_SIZE, NONCE_SIZE, TAG_SIZE

__all__ = ["CIPHERTEXT_FORMAT", "CiphertextBlob", "canonical_context", "open_blob", "seal_blob"]

CIPHERTEXT_FORMAT: Final = 1
_HEADER: Final = struct.Struct(">B16sI")
SEALED_KEY_SIZE: Final = NONCE_SIZE + DATA_KEY_SIZE + TAG_SIZE
_AAD_LABEL: Final = b"andromede/kms ciphertext v1"
_MIN_SIZE: Final = _HEADER.size + SEALED_KEY_SIZE + NONCE_SIZE + TAG_SIZE


def canonical_context(context: Mapping[str, str]) -> bytes:
    """The encryption context as the bytes the blob's AAD binds (order-independent)."""
    return json.dumps(sorted(context.items()), ensure_ascii=False, separators=(",", ":")).encode(
        "utf-8"
    )


@dataclass(frozen=True, slots=True)
class CiphertextBlob:
    """A parsed blob: which key and KEK version, the sealed data key, and the sealed payload."""

    key_id: str
    kek_version: int
    sealed_key: bytes
    nonce: bytes
    payload: bytes  # ciphertext | tag

    def header(self) -> bytes:
        return (
            _HEADER.pack(CIPHERTEXT_FORMAT, uuid.UUID(self.key_id).bytes, self.kek_version)
            + self.sealed_key
        )

    def encode(self) -> bytes:
        return self.header() + self.nonce + self.payload

    @classmethod
    def decode(cls, blob: bytes) -> CiphertextBlob:
        if len(blob) < _MIN_SIZE:
            raise InvalidCiphertext("the ciphertext blob is truncated")
        version, raw_id, kek_version = _HEADER.unpack_from(blob)
        if version != CIPHERTEXT_FORMAT or kek_version < 1:
            raise InvalidCiphertext("the ciphertext blob has an unknown format")
        key_end = _HEADER.size + SEALED_KEY_SIZE
        return cls(
            key_id=str(uuid.UUID(bytes=raw_id)),
            kek_version=kek_version,
            sealed_key=bytes(blob[_HEADER.size : key_end]),
            nonce=bytes(blob[key_end : key_end + NONCE_SIZE]),
            payload=bytes(blob[key_end + NONCE_SIZE :]),
        )


def _aad(header: bytes, context: Mapping[str, str]) -> bytes:
    return _AAD_LABEL + header + canonical_context(context)


def seal_blob(
    key_id: str,
    kek_version: int,
    sealed_key: bytes,
    data_key: bytes | bytearray,
    plaintext: bytes,
    context: Mapping[str, str],
    nonce: bytes,
) -> bytes:
    """The blob of ``plaintext`` under ``data_key`` (whose sealed form is ``sealed_key``)."""
    if len(sealed_key) != SEALED_KEY_SIZE or len(nonce) != NONCE_SIZE:
        raise ValueError("sealed data key or nonce of the wrong size")
    blob = CiphertextBlob(key_id, kek_version, sealed_key, nonce, b"")
    payload = AESGCM(bytes(data_key)).encrypt(nonce, plaintext, _aad(blob.header(), context))
    return blob.header() + nonce + payload


def open_blob(
    blob: CiphertextBlob, data_key: bytes | bytearray, context: Mapping[str, str]
) -> bytes:
    """The plaintext, or ``InvalidCiphertext`` (tampering, or another encryption context)."""
    try:
        return AESGCM(bytes(data_key)).decrypt(
            blob.nonce, blob.payload, _aad(blob.header(), context)
        )
    except InvalidTag:
        raise InvalidCiphertext("the ciphertext or its encryption context is not valid") from None
