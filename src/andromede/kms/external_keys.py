"""The wrapped data key of a KMS key in an external key store (decision 0094): two layers, the
operator's ring and the customer's external key, for S3 objects, parts, bucket keys and EBS
volumes.

A data key bound to an encryption context (SSE-KMS, EBS) is sealed under the KMS key's ring,
as any, but with its own ring AAD (:func:`inner_bound`); that sealed form (60 bytes) is then
encrypted by the customer's XKS proxy under the external key, and what is stored is::

    format (1 byte = 2) | KEK version (4 bytes) | ring id length (1 byte) | ring id (ASCII)
    | IV length (1 byte: 12 or 16) | IV | metadata length (1 byte, 0-20) | ciphertextMetadata
    | the ring-sealed data key under the external key (60 bytes) | the proxy's tag (16 bytes)

The first six bytes are laid out as format 1's (``kms.model``), so the ring is read the same
way; format 1 readers refuse format 2 (``parse_wrapped_key``), and ``KeyService`` answers
:class:`~andromede.kms.errors.ExternalLayerNeeded` for one it does not hold. The proxy's AAD
(:func:`data_key_aad`) binds the KMS key, the KEK version and the digest of the context the
data key is bound to (the object's or the bucket's ARN and the customer's context, or the
volume's id): a layer moved to another object, key or version fails at the proxy. Every byte
of the stored form is authenticated by one of the two layers: the header by the proxy's AAD
(the ring id is the key id, the KEK version), the IV, metadata, ciphertext and tag by the
proxy's AES-GCM, the inner form by the ring's. The inner ring AAD differs from a one-layer
key's, so the inner form, once the proxy has opened it, never passes for a format 1 key.
No I/O here but through the port the object and disk paths call the proxy by,
:class:`ExternalDataKeys`, in :func:`take_outer_layer`.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, Protocol

from andromede.kms.ciphertext import MAX_EXTERNAL_METADATA, SEALED_KEY_SIZE, ExternalLayer
from andromede.kms.errors import InvalidWrappedKey
from andromede.kms.model import TAG_SIZE, wrapped_key_ring

__all__ = [
    "EXTERNAL_WRAPPED_KEY_FORMAT",
    "ExternalDataKeys",
    "ExternalWrappedKey",
    "data_key_aad",
    "inner_bound",
    "is_external_form",
    "take_outer_layer",
]

EXTERNAL_WRAPPED_KEY_FORMAT: Final = 2
_FORMAT_BYTE: Final = bytes([EXTERNAL_WRAPPED_KEY_FORMAT])
_HEADER: Final = struct.Struct(">BIB")
_IV_SIZES: Final = (12, 16)
_PROXY_AAD_LABEL: Final = b"andromede/kms xks data key v1"
_INNER_LABEL: Final = b"andromede/kms xks inner v1\x00"


def is_external_form(wrapped: bytes) -> bool:
    """Whether ``wrapped`` is the two-layer form (its first byte; nothing else is checked)."""
    return wrapped[:1] == _FORMAT_BYTE


def inner_bound(bound_context: bytes) -> bytes:
    """What the ring's AAD binds for the inner form of a two-layer key, in place of the
    context digest alone: a one-layer key's AAD never equals it."""
    return _INNER_LABEL + bound_context


def data_key_aad(key_id: str, kek_version: int, bound_context: bytes) -> bytes:
    """What the proxy authenticates with the inner form: the KMS key, the KEK version and the
    digest of the context the data key is bound to (at most 81 bytes: well under the 8 KiB a
    proxy must take). Not the AAD of a ciphertext blob's layer (``ciphertext.external_aad``):
    a blob's layer never opens as a data key's, nor the reverse."""
    version = struct.pack(">I", kek_version)
    return _PROXY_AAD_LABEL + uuid.UUID(key_id).bytes + version + bound_context


@dataclass(frozen=True, slots=True)
class ExternalWrappedKey:
    """A parsed two-layer key: the ring (the KMS key's id), the KEK version of the inner
    form, and the proxy's layer around it."""

    ring: str
    kek_version: int
    layer: ExternalLayer

    def encode(self) -> bytes:
        owner = self.ring.encode("ascii")
        return (
            _HEADER.pack(EXTERNAL_WRAPPED_KEY_FORMAT, self.kek_version, len(owner))
            + owner
            + self.layer.encode()
        )

    @classmethod
    def decode(cls, blob: bytes) -> ExternalWrappedKey:
        """The fields of ``blob``, or ``InvalidWrappedKey`` (anything but this exact shape)."""
        if not is_external_form(blob) or len(blob) < _HEADER.size:
            raise InvalidWrappedKey("not a two-layer wrapped data key")
        _, kek_version, owner_length = _HEADER.unpack_from(blob)
        ring = wrapped_key_ring(blob)  # checks the ring's name
        at = _HEADER.size + owner_length
        if kek_version < 1 or at >= len(blob):
            raise InvalidWrappedKey("wrapped data key has the wrong length")
        iv_size = blob[at]
        if iv_size not in _IV_SIZES or at + 1 + iv_size >= len(blob):
            raise InvalidWrappedKey("wrapped data key has the wrong length")
        iv = bytes(blob[at + 1 : at + 1 + iv_size])
        at += 1 + iv_size
        metadata_size = blob[at]
        if metadata_size > MAX_EXTERNAL_METADATA:
            raise InvalidWrappedKey("wrapped data key has the wrong length")
        metadata = bytes(blob[at + 1 : at + 1 + metadata_size])
        at += 1 + metadata_size
        if len(blob) != at + SEALED_KEY_SIZE + TAG_SIZE:
            raise InvalidWrappedKey("wrapped data key has the wrong length")
        layer = ExternalLayer(
            iv=iv,
            tag=bytes(blob[at + SEALED_KEY_SIZE :]),
            metadata=metadata,
            ciphertext=bytes(blob[at : at + SEALED_KEY_SIZE]),
        )
        return cls(ring, kek_version, layer)


class ExternalDataKeys(Protocol):
    """The customer's proxy as the object and disk paths use it (implemented by
    ``CustomerKeyService``): the proxy's Encrypt of a data key's inner form, and its Decrypt.
    ``operation`` is the KMS operation the proxy is told (``GenerateDataKey``, ``Decrypt``),
    ``via_service`` the service it comes through. Raises the KMS key errors
    (``CmkInvalidState`` for every proxy failure, as AWS; ``CmkNotFound``, ``CmkDisabled``,
    ``InvalidCiphertext``)."""

    async def wrap_data_key(
        self,
        ring: str,
        kek_version: int,
        sealed: bytes,
        bound_context: bytes,
        *,
        operation: str,
        via_service: str,
    ) -> ExternalLayer: ...

    async def unwrap_data_key(
        self,
        ring: str,
        kek_version: int,
        layer: ExternalLayer,
        bound_context: bytes,
        *,
        operation: str,
        via_service: str,
    ) -> bytes: ...


async def take_outer_layer(
    proxy: ExternalDataKeys,
    wrapped: bytes,
    ring: str,
    bound_context: bytes,
    via_service: str,
    open_inner: Callable[[ExternalWrappedKey, bytes], Awaitable[None]],
) -> None:
    """Have the proxy take the outer layer off the two-layer key ``wrapped`` of ``ring`` (its
    Decrypt), then ``open_inner`` the parsed key and the inner form it gave (the key service
    opens it and keeps the data key). ``InvalidWrappedKey`` for a malformed key or one of
    another ring; the proxy's refusals as the KMS key's errors (``CustomerKeyError``). The
    object and disk paths share it and map the errors to their own."""
    parsed = ExternalWrappedKey.decode(wrapped)
    if parsed.ring != ring:
        raise InvalidWrappedKey("wrapped data key belongs to another ring")
    inner = await proxy.unwrap_data_key(
        parsed.ring,
        parsed.kek_version,
        parsed.layer,
        bound_context,
        operation="Decrypt",
        via_service=via_service,
    )
    await open_inner(parsed, inner)
