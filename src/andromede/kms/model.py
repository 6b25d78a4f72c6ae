"""Pure domain of the key hierarchy: tenant ids, KEK versions, and the wrapped data-key format.

The hierarchy (see docs/decisions/0007-key-hierarchy.md)::

    root of trust (a 0600 key file, or the PKCS#11 token)
      └── tenant key-encryption key (KEK), version 1, 2, ...   held only by the root-key provider
            └── data key, one per object or part               stored wrapped, beside the object

A wrapped data key is what the object metadata stores::

    format (1 byte) | KEK version (4 bytes) | tenant id length (1 byte) | tenant id (ASCII)
    | nonce (12 bytes) | AES-256-GCM(KEK, nonce, data key, aad) with its 16-byte tag

with ``aad = "andromede/kms data key v1" | tenant id length | tenant id | KEK version``, so a
wrapped key moved to another tenant, or relabelled with another KEK version, fails to unwrap.
A data key bound to an encryption context (SSE-KMS) adds the context's SHA-256 digest
(:func:`context_digest`) to that AAD: it unwraps only with the same context, as AWS KMS
decrypts only with the context it encrypted under. No I/O here.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass

from andromede.kms.errors import InvalidWrappedKey

__all__ = [
    "DATA_KEY_SIZE",
    "KEK_SIZE",
    "TenantKeyRing",
    "WrappedDataKey",
    "check_tenant_id",
    "context_digest",
    "data_key_aad",
    "encode_wrapped_key",
    "kek_aad",
    "parse_wrapped_key",
    "wrapped_key_ring",
]

DATA_KEY_SIZE = 32
KEK_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16
WRAPPED_KEY_FORMAT = 1
_WRAP_HEADER = struct.Struct(">BIB")
_SEALED_SIZE = NONCE_SIZE + DATA_KEY_SIZE + TAG_SIZE
# Tenant ids become HSM object ids and keystore keys: a narrow alphabet keeps them unambiguous.
_TENANT_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# An object's first read in a process parses its wrapped key and builds its wrap's AAD. A
# process serves few rings, so both are remembered per ring: the owner names found valid (by
# their bytes in a wrapped key), and the AAD prefix of each (ring, KEK version). What either
# gives is a pure function of its key, so a hit is what the work would give. Bounded: emptied
# when full.
_RING_MEMO_SIZE = 4096
_valid_owners: dict[bytes, str] = {}
_ring_aads: dict[tuple[str, int], bytes] = {}


def check_tenant_id(tenant_id: str) -> str:
    """Return ``tenant_id`` if it is a usable key-owner id, else raise ``ValueError``."""
    if not _TENANT_ID.fullmatch(tenant_id):
        raise ValueError("a tenant id is 1-64 characters of A-Z a-z 0-9 . _ -")
    return tenant_id


def data_key_aad(tenant_id: str, kek_version: int, bound_context: bytes = b"") -> bytes:
    """What a data-key wrap binds besides the key: its tenant and KEK version, and the digest
    of the encryption context it is bound to, if any (empty: none, the SSE-S3 case)."""
    known = _ring_aads.get((tenant_id, kek_version))
    if known is None:
        owner = tenant_id.encode("ascii")
        known = b"andromede/kms data key v1" + bytes([len(owner)]) + owner
        known += struct.pack(">I", kek_version)
        if len(_ring_aads) >= _RING_MEMO_SIZE:
            _ring_aads.clear()  # a few rings per process: refilled at once
        _ring_aads[(tenant_id, kek_version)] = known
    return known + bound_context if bound_context else known


def context_digest(context: Mapping[str, str] | None) -> bytes:
    """SHA-256 of the canonical encryption context (pairs sorted by key, JSON, UTF-8); empty
    for no context, so that keys wrapped without one keep unwrapping as before."""
    if not context:
        return b""
    canonical = json.dumps(sorted(context.items()), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(b"andromede/kms context v1\x00" + canonical.encode()).digest()


def encode_wrapped_key(tenant_id: str, kek_version: int, sealed: bytes) -> bytes:
    """:meth:`WrappedDataKey.encode` without building one (every new data key)."""
    owner = tenant_id.encode("ascii")
    return _WRAP_HEADER.pack(WRAPPED_KEY_FORMAT, kek_version, len(owner)) + owner + sealed


def kek_aad(tenant_id: str, kek_version: int) -> bytes:
    """What sealing a KEK under a root key binds (the key-file provider's keystore entries)."""
    owner = tenant_id.encode("ascii")
    return b"andromede/kms kek v1" + bytes([len(owner)]) + owner + struct.pack(">I", kek_version)


@dataclass(frozen=True, slots=True)
class TenantKeyRing:
    """The live KEK versions of a tenant; ``current`` wraps new data keys."""

    tenant_id: str
    versions: tuple[int, ...]

    @property
    def current(self) -> int:
        return max(self.versions)


@dataclass(frozen=True, slots=True)
class WrappedDataKey:
    """A data key sealed under one tenant KEK version (``sealed`` = nonce | ciphertext | tag)."""

    tenant_id: str
    kek_version: int
    sealed: bytes

    def encode(self) -> bytes:
        return encode_wrapped_key(self.tenant_id, self.kek_version, self.sealed)

    @classmethod
    def decode(cls, blob: bytes) -> WrappedDataKey:
        tenant_id, kek_version, sealed = parse_wrapped_key(blob)
        return cls(tenant_id=tenant_id, kek_version=kek_version, sealed=sealed)


def parse_wrapped_key(blob: bytes) -> tuple[str, int, bytes]:
    """:meth:`WrappedDataKey.decode`'s checks and fields, without building one: an object's
    first read in a process parses its key (``InvalidWrappedKey``)."""
    if len(blob) < _WRAP_HEADER.size:
        raise InvalidWrappedKey("wrapped data key is truncated")
    version, kek_version, owner_length = _WRAP_HEADER.unpack_from(blob)
    if version != WRAPPED_KEY_FORMAT:
        raise InvalidWrappedKey(f"unsupported wrapped data key format {version}")
    owner_end = _WRAP_HEADER.size + owner_length
    if len(blob) != owner_end + _SEALED_SIZE or kek_version < 1:
        raise InvalidWrappedKey("wrapped data key has the wrong length")
    owner = bytes(blob[_WRAP_HEADER.size : owner_end])
    tenant_id = _valid_owners.get(owner)
    if tenant_id is None:
        tenant_id = _valid_owner(owner)
    return tenant_id, kek_version, bytes(blob[owner_end:])


def wrapped_key_ring(blob: bytes) -> str:
    """The ring a wrapped key of either form names (format 1, or the two-layer format 2 of
    ``kms.external_keys``, which shares its first bytes), checked; ``InvalidWrappedKey``."""
    if len(blob) < _WRAP_HEADER.size:
        raise InvalidWrappedKey("wrapped data key is truncated")
    version, _, owner_length = _WRAP_HEADER.unpack_from(blob)
    if version not in (WRAPPED_KEY_FORMAT, 2):
        raise InvalidWrappedKey(f"unsupported wrapped data key format {version}")
    owner_end = _WRAP_HEADER.size + owner_length
    if len(blob) < owner_end:
        raise InvalidWrappedKey("wrapped data key is truncated")
    owner = bytes(blob[_WRAP_HEADER.size : owner_end])
    tenant_id = _valid_owners.get(owner)
    return tenant_id if tenant_id is not None else _valid_owner(owner)


def _valid_owner(owner: bytes) -> str:
    """The tenant id ``owner`` spells, checked (then remembered)."""
    try:
        tenant_id = owner.decode("ascii")
    except UnicodeDecodeError:
        raise InvalidWrappedKey("wrapped data key names no valid tenant") from None
    if _TENANT_ID.fullmatch(tenant_id) is None:
        raise InvalidWrappedKey("wrapped data key names no valid tenant")
    if len(_valid_owners) >= _RING_MEMO_SIZE:
        _valid_owners.clear()
    _valid_owners[owner] = tenant_id
    return tenant_id
