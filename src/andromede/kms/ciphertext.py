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

Format 2 (decision 0090) is the blob of a KMS key in an external key store: the sealed data key
is encrypted once more, by the customer's XKS proxy under the external key, and the blob
carries what the proxy's Encrypt answered in its place::

    format (1 byte = 2) | key id (16 bytes) | KEK version (4 bytes)
    | IV length (1 byte: 12 or 16) | IV | metadata length (1 byte, 0-20) | ciphertextMetadata
    | the sealed data key under the external key (60 bytes) | the proxy's tag (16 bytes)
    | nonce (12 bytes) | AES-256-GCM(data key, plaintext, aad) with its 16-byte tag

``aad = "andromede/kms ciphertext v2" | every header byte above | canonical context``, so the
proxy's fields are authenticated here as well as by the proxy. The proxy's own AAD
(:func:`external_aad`) binds the key id, the KEK version and the context's SHA-256 (a bounded
size, whatever the context: the spec's proxies need not take more than 8 KiB). Opening one
needs both the operator's ring and the customer's external key.

Format 3 (decision 0138) is format 1 for a multi-Region key, whose id is ``mrk-`` and 32 hex
digits: the 16 bytes of the key id are those digits. Any region holding a related key opens it
(they share the ring the blob names). Its AAD label is format 1's; the format byte, part of the
header, keeps the two apart. No I/O here.
"""

from __future__ import annotations

import hashlib
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

__all__ = [
    "CIPHERTEXT_FORMAT",
    "EXTERNAL_CIPHERTEXT_FORMAT",
    "MULTI_REGION_CIPHERTEXT_FORMAT",
    "CiphertextBlob",
    "ExternalLayer",
    "canonical_context",
    "external_aad",
    "open_blob",
    "seal_blob",
    "seal_external_blob",
]

CIPHERTEXT_FORMAT: Final = 1
EXTERNAL_CIPHERTEXT_FORMAT: Final = 2
MULTI_REGION_CIPHERTEXT_FORMAT: Final = 3
_MULTI_REGION_PREFIX: Final = "mrk-"
_HEADER: Final = struct.Struct(">B16sI")
SEALED_KEY_SIZE: Final = NONCE_SIZE + DATA_KEY_SIZE + TAG_SIZE
_AAD_LABEL: Final = b"andromede/kms ciphertext v1"
_AAD_LABEL_EXTERNAL: Final = b"andromede/kms ciphertext v2"
_EXTERNAL_AAD_LABEL: Final = b"andromede/kms xks v1"
_MIN_SIZE: Final = _HEADER.size + SEALED_KEY_SIZE + NONCE_SIZE + TAG_SIZE
_IV_SIZES: Final = (12, 16)
_FORMATS: Final = (CIPHERTEXT_FORMAT, EXTERNAL_CIPHERTEXT_FORMAT, MULTI_REGION_CIPHERTEXT_FORMAT)
MAX_EXTERNAL_METADATA: Final = 20


@dataclass(frozen=True, slots=True)
class ExternalLayer:
    """The proxy's Encrypt answer for a sealed data key: IV, tag, ciphertextMetadata and the
    ciphertext (the sealed data key under the external key)."""

    iv: bytes
    tag: bytes
    metadata: bytes
    ciphertext: bytes

    def encode(self) -> bytes:
        if (
            len(self.iv) not in _IV_SIZES
            or len(self.tag) != TAG_SIZE
            or len(self.metadata) > MAX_EXTERNAL_METADATA
            or len(self.ciphertext) != SEALED_KEY_SIZE
        ):
            raise ValueError("an external layer of the wrong shape")
        return (
            bytes([len(self.iv)])
            + self.iv
            + bytes([len(self.metadata)])
            + self.metadata
            + self.ciphertext
            + self.tag
        )


def external_aad(key_id: str, kek_version: int, context: Mapping[str, str]) -> bytes:
    """What the proxy authenticates with the sealed data key: the KMS key, the KEK version
    and the encryption context (its SHA-256)."""
    return (
        _EXTERNAL_AAD_LABEL
        + uuid.UUID(key_id).bytes
        + struct.pack(">I", kek_version)
        + hashlib.sha256(canonical_context(context)).digest()
    )


def canonical_context(context: Mapping[str, str]) -> bytes:
    """The encryption context as the bytes the blob's AAD binds (order-independent)."""
    return json.dumps(sorted(context.items()), ensure_ascii=False, separators=(",", ":")).encode(
        "utf-8"
    )


@dataclass(frozen=True, slots=True)
class CiphertextBlob:
    """A parsed blob: which key and KEK version, the sealed data key, and the sealed payload.

    A format 2 blob has its ``external`` layer, and an empty ``sealed_key``: the sealed data
    key is the external layer's plaintext, which only the proxy gives back."""

    key_id: str
    kek_version: int
    sealed_key: bytes
    nonce: bytes
    payload: bytes  # ciphertext | tag
    external: ExternalLayer | None = None

    def header(self) -> bytes:
        if self.key_id.startswith(_MULTI_REGION_PREFIX):
            raw_id = bytes.fromhex(self.key_id.removeprefix(_MULTI_REGION_PREFIX))
            if self.external is not None:
                raise ValueError("a multi-Region key is never in an external key store")
            return (
                _HEADER.pack(MULTI_REGION_CIPHERTEXT_FORMAT, raw_id, self.kek_version)
                + self.sealed_key
            )
        raw_id = uuid.UUID(self.key_id).bytes
        if self.external is not None:
            return (
                _HEADER.pack(EXTERNAL_CIPHERTEXT_FORMAT, raw_id, self.kek_version)
                + self.external.encode()
            )
        return _HEADER.pack(CIPHERTEXT_FORMAT, raw_id, self.kek_version) + self.sealed_key

    def encode(self) -> bytes:
        return self.header() + self.nonce + self.payload

    @classmethod
    def decode(cls, blob: bytes) -> CiphertextBlob:
        if len(blob) < _MIN_SIZE:
            raise InvalidCiphertext("the ciphertext blob is truncated")
        version, raw_id, kek_version = _HEADER.unpack_from(blob)
        if kek_version < 1 or version not in _FORMATS:
            raise InvalidCiphertext("the ciphertext blob has an unknown format")
        if version == EXTERNAL_CIPHERTEXT_FORMAT:
            return cls._decode_external(blob, str(uuid.UUID(bytes=raw_id)), kek_version)
        key_end = _HEADER.size + SEALED_KEY_SIZE
        return cls(
            key_id=(
                _MULTI_REGION_PREFIX + raw_id.hex()
                if version == MULTI_REGION_CIPHERTEXT_FORMAT
                else str(uuid.UUID(bytes=raw_id))
            ),
            kek_version=kek_version,
            sealed_key=bytes(blob[_HEADER.size : key_end]),
            nonce=bytes(blob[key_end : key_end + NONCE_SIZE]),
            payload=bytes(blob[key_end + NONCE_SIZE :]),
        )

    @classmethod
    def _decode_external(cls, blob: bytes, key_id: str, kek_version: int) -> CiphertextBlob:
        at = _HEADER.size
        iv_size = blob[at]
        if iv_size not in _IV_SIZES:
            raise InvalidCiphertext("the ciphertext blob has an unknown format")
        iv = bytes(blob[at + 1 : at + 1 + iv_size])
        at += 1 + iv_size
        metadata_size = blob[at] if at < len(blob) else 0xFF
        if metadata_size > MAX_EXTERNAL_METADATA:
            raise InvalidCiphertext("the ciphertext blob has an unknown format")
        metadata = bytes(blob[at + 1 : at + 1 + metadata_size])
        at += 1 + metadata_size
        end = at + SEALED_KEY_SIZE + TAG_SIZE
        if len(blob) < end + NONCE_SIZE + TAG_SIZE:
            raise InvalidCiphertext("the ciphertext blob is truncated")
        layer = ExternalLayer(
            iv=iv,
            tag=bytes(blob[at + SEALED_KEY_SIZE : end]),
            metadata=metadata,
            ciphertext=bytes(blob[at : at + SEALED_KEY_SIZE]),
        )
        return cls(
            key_id=key_id,
            kek_version=kek_version,
            sealed_key=b"",
            nonce=bytes(blob[end : end + NONCE_SIZE]),
            payload=bytes(blob[end + NONCE_SIZE :]),
            external=layer,
        )


def _aad(header: bytes, context: Mapping[str, str]) -> bytes:
    label = _AAD_LABEL_EXTERNAL if header[0] == EXTERNAL_CIPHERTEXT_FORMAT else _AAD_LABEL
    return label + header + canonical_context(context)


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


def seal_external_blob(
    key_id: str,
    kek_version: int,
    external: ExternalLayer,
    data_key: bytes | bytearray,
    plaintext: bytes,
    context: Mapping[str, str],
    nonce: bytes,
) -> bytes:
    """The format 2 blob of ``plaintext`` under ``data_key``, whose sealed form the proxy
    encrypted into ``external``."""
    if len(nonce) != NONCE_SIZE:
        raise ValueError("nonce of the wrong size")
    blob = CiphertextBlob(key_id, kek_version, b"", nonce, b"", external)
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
