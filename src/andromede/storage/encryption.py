"""Encryption at rest as the object path sees it: the cipher interface, SSE-C, sealed headers.

Storage does not know where keys come from (that is key management, another bounded context):
it asks an :class:`ObjectCipher` for a fresh data key per blob (wrapped under the tenant's
key-encryption key, or a KMS key's for SSE-KMS, stored in the segment), for that key again when
it reads, and for the chunked AES-256-GCM sealer and opener of one blob. The composition root
implements the interface over ``kms.KeyService`` (``andromede/object_keys.py``).

Two things are decided here, because they are about objects rather than keys:

- **SSE-C.** The customer's key is never stored. Every SSE-C blob still has its own data key
  wrapped under the tenant KEK; the key the chunks are sealed with is
  ``HMAC-SHA256(data key, "andromede/sse-c key" | customer key)``, so opening the blob needs
  *both* the customer key and the tenant KEK (destroying the tenant key shreds SSE-C objects
  too). A later request's key is checked against ``HMAC-SHA256(data key, "andromede/sse-c
  check" | customer key)``, stored beside the wrapped key: a keyed check of a 256-bit random key,
  useless without the tenant KEK, compared in constant time.
- **Sealed headers.** Representation headers and user metadata are sealed with AES-256-GCM under
  a data key of the tenant (the object's bucket and key are the AAD, so sealed headers cannot be
  moved to another object). Object keys and bucket names stay in clear: listings need their order.
  Under SSE-S3 that data key is also the blob's, whose chunks it seals itself with nonces that
  end in three zero bytes (``kms.chunks``, format 2): a headers nonce is random but for its last
  byte, which is never zero, so the two can never meet. The cipher hands out the key's AES-GCM
  object (:meth:`ObjectCipher.key_cipher`), so the headers and the chunks share a key schedule.
- **SSE-KMS contexts.** An SSE-KMS blob's data key is bound to the encryption context (it
  unwraps only with it), so the context is stored sealed under a *tenant* data key, which also
  seals the object's headers; reads open the context first, then the blob's key with it.
- **DSSE-KMS.** Two layers, each the chunked format under a data key of its own drawn from the
  KMS key (decision 0075): the inner layer seals the plaintext, the outer one seals the inner
  layer's bytes. ``sealed_blobs`` composes them from the cipher's sealers and openers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from andromede.storage.errors import ObjectCorrupted
from andromede.storage.model import (
    ContentHeaders,
    SealedContext,
    SealedHeaders,
    build_content_headers,
    build_sealed_headers,
)

__all__ = [
    "BlobOpener",
    "BlobSealer",
    "CipherRange",
    "CustomerKey",
    "KeyCheck",
    "ObjectCipher",
    "ObjectEncryption",
    "customer_blob_key",
    "customer_key_check",
    "customer_key_matches",
    "open_context",
    "open_headers",
    "seal_context",
    "seal_headers",
]

_CUSTOMER_KEY_INFO = b"andromede/sse-c key v1"
_CUSTOMER_CHECK_INFO = b"andromede/sse-c check v1"
_HEADERS_AAD_PREFIX = b"andromede/headers v1\x00"
_CONTEXT_AAD_PREFIX = b"andromede/kms context v1\x00"
_NONCE_SIZE = 12
# The last byte of a headers or context nonce: never zero, unlike a chunk nonce's (see above).
_SEALED_NONCE_TAIL = b"\x01"


class BlobSealer(Protocol):
    """Streaming encryption of one blob: ciphertext out for plaintext in."""

    def update(self, data: bytes) -> bytes | bytearray: ...

    def finish(self) -> bytes | bytearray: ...


class BlobOpener(Protocol):
    """Streaming, verifying decryption of the chunks of one range (ObjectCorrupted on tamper)."""

    def update(self, data: bytes | memoryview) -> bytes | bytearray: ...

    def finish(self) -> None: ...


class CipherRange(Protocol):
    """The stored bytes ``[ciphertext_start, ciphertext_end)`` that hold a plaintext range."""

    @property
    def ciphertext_start(self) -> int: ...

    @property
    def ciphertext_end(self) -> int: ...


class KeyCheck(Protocol):
    """A key found usable (not destroyed) by :meth:`ObjectCipher.check_key_usable`: opaque to
    storage, which hands it to the next key use of the same request. Which uses it may stand
    in for is the cipher's to decide (never across requests)."""


class ObjectCipher(Protocol):
    """Keys and chunk ciphers for blobs. Key calls may block on a provider: they are async.

    ``encrypts`` is False only for the benchmark switch (``bench_unencrypted``), whose blobs
    are plaintext; every other implementation encrypts every blob.
    """

    @property
    def encrypts(self) -> bool: ...

    @property
    def header_size(self) -> int: ...

    @property
    def read_block_size(self) -> int: ...

    @property
    def whole_seal_max(self) -> int:
        """Bodies up to this size are sealed in one call (:meth:`seal_whole`)."""

    async def new_data_key(
        self, tenant_id: str, context: Mapping[str, str] | None = None
    ) -> tuple[bytearray, bytes, AESGCM]:
        """A fresh 256-bit data key, its wrapped form (bound to ``context`` if given) and its
        AES-GCM object (KeyUnavailable if the tenant's key was destroyed)."""

    async def new_bucket_data_key(
        self, key_ring: str, context: Mapping[str, str]
    ) -> tuple[bytearray, bytes, bytes]:
        """A fresh data key bound to ``context``, wrapped under the current bucket key of the
        ring for the context's bucket; also returns that bucket key, wrapped."""

    async def open_data_key(
        self,
        wrapped: bytes,
        context: Mapping[str, str] | None = None,
        *,
        bucket_key: bytes | None = None,
    ) -> bytearray:
        """The data key inside ``wrapped``, with the context it was bound to; under
        ``bucket_key`` if it has one (EncryptionKeyUnavailable, ObjectCorrupted)."""

    async def data_key_cipher(self, wrapped: bytes) -> tuple[AESGCM, KeyCheck]:
        """The AES-GCM object of the data key inside ``wrapped`` (bound to no context: a
        tenant data key that sealed headers or an SSE-KMS context), the key staying with the
        cipher; and the check of its key made for this use, which may stand for the next use
        of the same request, as :meth:`check_key_usable`'s (EncryptionKeyUnavailable,
        ObjectCorrupted)."""

    async def check_key_usable(self, wrapped: bytes) -> KeyCheck:
        """Refuse (EncryptionKeyUnavailable) if the key that wrapped ``wrapped`` was destroyed,
        without opening it: for what was opened with that key before and remembered. The
        check returned may stand in for the next key use of the same request
        (:meth:`blob_opener`'s ``checked``)."""

    async def blob_opener(
        self,
        wrapped: bytes,
        blob_id: str,
        header: bytes | memoryview,
        plan: CipherRange,
        *,
        context: Mapping[str, str] | None = None,
        checked: KeyCheck | None = None,
    ) -> BlobOpener:
        """The opener of blob ``blob_id`` (``header``: its first ``header_size`` bytes) whose
        data key is ``wrapped`` (bound to ``context``), the data key staying with the cipher.
        ``checked``: what :meth:`check_key_usable` returned earlier in this request, which
        spares a second check of the same key when it is still valid for it
        (EncryptionKeyUnavailable, ObjectCorrupted)."""

    async def open_first_chunk(
        self,
        wrapped: bytes,
        blob_id: str,
        stored: bytes | memoryview,
        plan: CipherRange,
        *,
        context: Mapping[str, str] | None = None,
        checked: KeyCheck | None = None,
    ) -> bytes | None:
        """The plaintext of ``plan`` when it lies in the blob's first chunk, from ``stored``
        (the blob's bytes up to ``plan.ciphertext_end``, header included): a small object's
        body in one call, for what :meth:`blob_opener` and its opener would do in several
        (same keys, checks and errors). None, having done nothing, for any other range."""

    def stored_size(self, plaintext_size: int) -> int: ...

    def sealer(self, blob_key: AESGCM | None, blob_id: str) -> BlobSealer:
        """The streaming sealer of blob ``blob_id`` under ``blob_key`` (an AES-GCM object:
        :meth:`new_data_key`'s, or :meth:`key_cipher`'s of SSE-C's mix), which is this blob's
        alone, drawn for it (:class:`~andromede.storage.sealed_blobs.BlobKeys` are spent by one
        write): the chunks are sealed under it directly, so two blobs under one key would reuse
        nonces. None only with encryption off."""

    def seal_whole(self, blob_key: AESGCM | None, blob_id: str, plaintext: bytes) -> bytes:
        """The stored bytes of a whole body of at most :attr:`whole_seal_max` bytes: what
        :meth:`sealer`'s ``update`` then ``finish`` would give, in one call. As for
        :meth:`sealer`, ``blob_key`` is this blob's alone: never hand one key to two blobs."""

    def key_cipher(self, data_key: bytes | bytearray) -> AESGCM:
        """The AES-GCM object of a data key storage holds as bytes (SSE-C's mix, a bucket-key
        data key), for the blob it seals and what storage seals under it itself."""

    def plan(self, plaintext_size: int, start: int, stop: int) -> CipherRange:
        """What to read for plaintext ``[start, stop)`` (``(0, 0)`` of an empty blob too)."""

    def opener(
        self,
        data_key: bytes | bytearray,
        blob_id: str,
        header: bytes | memoryview,
        plan: CipherRange,
    ) -> BlobOpener: ...


@dataclass(frozen=True, slots=True, repr=False)
class CustomerKey:
    """An SSE-C key as a request sent it (checked: 256 bits, MD5 matching)."""

    key: bytes
    md5: str  # base64 MD5 of the key, echoed in responses

    @classmethod
    def parse(cls, algorithm: str, key_b64: str, md5_b64: str | None) -> CustomerKey:
        """ValueError with a client-facing message for a malformed or inconsistent key."""
        if algorithm != "AES256":
            raise ValueError("The encryption algorithm must be AES256 for customer keys.")
        try:
            key = base64.b64decode(key_b64, validate=True)
        except ValueError:
            raise ValueError("The customer key is not valid base64.") from None
        if len(key) != 32:
            raise ValueError("The secret key was invalid for the specified algorithm.")
        digest = base64.b64encode(hashlib.md5(key, usedforsecurity=False).digest()).decode()
        if md5_b64 is None or not hmac.compare_digest(digest, md5_b64.strip()):
            raise ValueError(
                "The calculated MD5 hash of the key did not match the hash that was provided."
            )
        return cls(key, digest)


def customer_blob_key(data_key: bytes | bytearray, customer: CustomerKey) -> bytearray:
    """The key an SSE-C blob's chunks are derived from: needs the data key and the customer's."""
    return bytearray(
        hmac.new(bytes(data_key), _CUSTOMER_KEY_INFO + customer.key, hashlib.sha256).digest()
    )


def customer_key_check(data_key: bytes | bytearray, customer: CustomerKey) -> bytes:
    return hmac.new(bytes(data_key), _CUSTOMER_CHECK_INFO + customer.key, hashlib.sha256).digest()


def customer_key_matches(data_key: bytes | bytearray, customer: CustomerKey, check: bytes) -> bool:
    return hmac.compare_digest(customer_key_check(data_key, customer), check)


# One encoder for every PUT's headers: json.dumps builds a new one per call when given
# separators.
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":")).encode


def _headers_aad(bucket: str, key: str) -> bytes:
    return _HEADERS_AAD_PREFIX + bucket.encode() + b"\x00" + key.encode()


# Headers and context nonces are drawn a few hundred at a time. A nonce is no secret (it is
# stored beside its ciphertext): it must only never repeat under one key, and these are random
# (88 bits) under keys that are each an object's own. One os.urandom call per PUT was dear:
# it lets go of the GIL, and the database writer thread, busy during PUTs, takes it
# (decision 0035). A forked child draws its own.
_NONCES_PER_DRAW = 256


def _draw_nonces() -> Iterator[bytes]:
    step = _NONCE_SIZE - 1
    pool = os.urandom(step * _NONCES_PER_DRAW)
    return iter([pool[at : at + step] + _SEALED_NONCE_TAIL for at in range(0, len(pool), step)])


_nonces: Iterator[bytes] = iter(())


def _drop_nonces() -> None:
    global _nonces
    _nonces = iter(())


os.register_at_fork(after_in_child=_drop_nonces)


def _sealed_nonce() -> bytes:
    global _nonces
    # next() on a list iterator is atomic under the GIL: threads never share a nonce.
    nonce = next(_nonces, None)
    if nonce is None:
        _nonces = _draw_nonces()
        nonce = next(_nonces)
    return nonce


def seal_headers(
    aead: AESGCM, wrapped: bytes, bucket: str, key: str, headers: ContentHeaders
) -> SealedHeaders:
    """``headers`` sealed under the data key whose AES-GCM object is ``aead`` (its wrapped
    form ``wrapped`` is stored with them)."""
    values = headers.field_values()
    # Trailing fields only when set: an object without tags or a website redirect is sealed
    # as its seven fields were before those existed, byte for byte.
    if headers.website_redirect_location is None:
        values.pop()
        if not headers.tags:
            values.pop()
    plain = _COMPACT_JSON(values).encode()
    nonce = _sealed_nonce()
    sealed = aead.encrypt(nonce, plain, _headers_aad(bucket, key))
    return build_sealed_headers(wrapped, nonce + sealed)  # every encrypted PUT


def open_headers(aead: AESGCM, sealed: SealedHeaders, bucket: str, key: str) -> ContentHeaders:
    try:
        plain = aead.decrypt(
            sealed.ciphertext[:_NONCE_SIZE],
            sealed.ciphertext[_NONCE_SIZE:],
            _headers_aad(bucket, key),
        )
    except (InvalidTag, ValueError):
        raise ObjectCorrupted("the object's stored headers failed authentication") from None
    # str, not bytes: json.loads would sniff the encoding of bytes first.
    ctype, encoding, disposition, language, cache, expires, metadata, *later = json.loads(
        plain.decode()
    )
    tags = tuple((tag_key, value) for tag_key, value in later[0]) if later else ()
    redirect = later[1] if len(later) > 1 else None
    # Positionally, in the field order (an object's first read: see slots_builder).
    return build_content_headers(
        ctype, encoding, disposition, language, cache, expires, dict(metadata), tags, redirect
    )


def _context_aad(bucket: str, key: str) -> bytes:
    return _CONTEXT_AAD_PREFIX + bucket.encode() + b"\x00" + key.encode()


def seal_context(
    aead: AESGCM, wrapped: bytes, bucket: str, key: str, context: Mapping[str, str]
) -> SealedContext:
    """``context`` sealed under a tenant data key (``aead``: its AES-GCM object), for the
    object ``bucket``/``key`` only."""
    plain = _COMPACT_JSON(dict(context)).encode()
    nonce = _sealed_nonce()
    sealed = aead.encrypt(nonce, plain, _context_aad(bucket, key))
    return SealedContext(wrapped=wrapped, ciphertext=nonce + sealed)


def open_context(aead: AESGCM, sealed: SealedContext, bucket: str, key: str) -> dict[str, str]:
    try:
        plain = aead.decrypt(
            sealed.ciphertext[:_NONCE_SIZE],
            sealed.ciphertext[_NONCE_SIZE:],
            _context_aad(bucket, key),
        )
    except (InvalidTag, ValueError):
        raise ObjectCorrupted("the object's encryption context failed authentication") from None
    context = json.loads(plain.decode())
    if not isinstance(context, dict):
        raise ObjectCorrupted("the object's encryption context is malformed")
    return {str(k): str(v) for k, v in context.items()}


@dataclass(frozen=True, slots=True)
class ObjectEncryption:
    """How a write is encrypted: under the tenant's keys, plus the customer's key for SSE-C;
    for SSE-KMS under the key ring of a KMS key (``kms_key_ring`` names it, ``kms_key_arn`` is
    what the segments remember so that reads can check the key again), bound to
    ``kms_context``, and under an S3 Bucket Key when ``bucket_key``; in two layers, each under
    a data key of its own, when ``dual_layer`` (DSSE-KMS, never with a bucket key)."""

    tenant_id: str
    customer_key: CustomerKey | None = None
    kms_key_arn: str | None = None
    kms_key_ring: str | None = None
    kms_context: Mapping[str, str] = field(default_factory=dict)
    bucket_key: bool = False
    dual_layer: bool = False

    @property
    def key_ring(self) -> str:
        """The ring the blob's data key is wrapped under."""
        return self.kms_key_ring or self.tenant_id
