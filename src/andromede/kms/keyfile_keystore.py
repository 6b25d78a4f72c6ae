"""The key-file provider's keystore as decoded from ``keystore.json``: sealed live and pending
KEK versions per ring, sealed private keys per ring, tombstones; the keystore formats (1, 2, 3:
the lowest that holds what it holds, see ``keyfile.py``'s docstring), and the AAD that binds a
pending KEK or a private key entry to its place.

Split off ``keyfile.py`` for size. No I/O here: the provider
(:class:`~andromede.kms.keyfile.LocalKeyFileProvider`) reads, locks and rewrites the file.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, NamedTuple

from andromede.kms.errors import (
    KeyAlreadyExists,
    KeyDestroyed,
    KeyNotFound,
    KeyWithdrawn,
    ProviderError,
)
from andromede.kms.model import TenantKeyRing
from andromede.kms.providers import PRIVATE_KEY_SPECS

__all__ = [
    "KEYSTORE_FORMAT",
    "KEYSTORE_FORMAT_WITHOUT_PRIVATE_KEYS",
    "KEYSTORE_FORMAT_WITH_PRIVATE_KEYS",
]

KEYSTORE_FORMAT = 3  # with pending versions; see keyfile.py's docstring
KEYSTORE_FORMAT_WITH_PRIVATE_KEYS = 2
KEYSTORE_FORMAT_WITHOUT_PRIVATE_KEYS = 1


class _SealedPrivateKey(NamedTuple):
    """A ring's private key (PKCS#8 DER) or HMAC secret, sealed under the root key."""

    key_spec: str
    rsa_decrypt: bool
    sealed: bytes
    key_agreement: bool = False


class _Keystore:
    """The decoded keystore: sealed live and pending KEK versions per tenant, sealed private
    keys per ring, and tombstones."""

    def __init__(
        self,
        tenants: dict[str, dict[int, bytes]],
        destroyed: dict[str, str],
        private: dict[str, _SealedPrivateKey],
        pending: dict[str, dict[int, bytes]],
    ) -> None:
        self.tenants = tenants
        self.destroyed = destroyed
        self.private = private
        self.pending = pending

    @classmethod
    def empty(cls) -> _Keystore:
        return cls({}, {}, {}, {})

    @classmethod
    def parse(cls, raw: bytes) -> _Keystore:
        try:
            document: Any = json.loads(raw)
            keystore_format = document.get("format")
            if keystore_format not in (
                KEYSTORE_FORMAT_WITHOUT_PRIVATE_KEYS,
                KEYSTORE_FORMAT_WITH_PRIVATE_KEYS,
                KEYSTORE_FORMAT,
            ):
                raise ProviderError(f"keystore format {keystore_format!r} is not supported")
            tenants = _parse_versions(document["tenants"])
            destroyed = {str(tenant): str(when) for tenant, when in document["destroyed"].items()}
            if keystore_format >= KEYSTORE_FORMAT_WITH_PRIVATE_KEYS:
                private = {
                    str(tenant): _parse_private_key(entry)
                    for tenant, entry in document["private"].items()
                }
            elif "private" in document:  # written by no version of this code
                raise ValueError("a format 1 keystore holds no private keys")
            else:
                private = {}
            if keystore_format == KEYSTORE_FORMAT:
                pending = _parse_versions(document["pending"])
            elif "pending" in document:  # written by no version of this code
                raise ValueError(f"a format {keystore_format} keystore holds no pending versions")
            else:
                pending = {}
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
            raise ProviderError("keystore file is not valid") from exc
        return cls(tenants, destroyed, private, pending)

    def serialise(self) -> bytes:
        if self.pending:
            keystore_format = KEYSTORE_FORMAT
        elif self.private:
            keystore_format = KEYSTORE_FORMAT_WITH_PRIVATE_KEYS
        else:
            keystore_format = KEYSTORE_FORMAT_WITHOUT_PRIVATE_KEYS
        document: dict[str, Any] = {
            "format": keystore_format,
            "tenants": _serialise_versions(self.tenants),
            "destroyed": dict(sorted(self.destroyed.items())),
        }
        if keystore_format >= KEYSTORE_FORMAT_WITH_PRIVATE_KEYS:
            document["private"] = {
                tenant: {
                    "spec": entry.key_spec,
                    "decrypt": entry.rsa_decrypt,
                    # Only for a key-agreement key: the entries of other keys stay as written
                    # before key agreement existed.
                    **({"derive": True} if entry.key_agreement else {}),
                    "sealed": base64.b64encode(entry.sealed).decode(),
                }
                for tenant, entry in sorted(self.private.items())
            }
        if keystore_format == KEYSTORE_FORMAT:
            document["pending"] = _serialise_versions(self.pending)
        return json.dumps(document, indent=1).encode() + b"\n"

    def private_key(self, tenant_id: str) -> _SealedPrivateKey:
        """The ring's sealed private key; ``KeyDestroyed``, ``KeyWithdrawn`` (no KEK) or
        ``KeyNotFound`` (none) otherwise."""
        self.ring(tenant_id)
        entry = self.private.get(tenant_id)
        if entry is None:
            raise KeyNotFound.without_private_key(tenant_id)
        return entry

    def check_can_hold_private_key(self, tenant_id: str) -> None:
        self.ring(tenant_id)  # it must exist, and not be destroyed
        if tenant_id in self.private:
            raise KeyAlreadyExists.holding_private_key(tenant_id)

    def ring(self, tenant_id: str) -> TenantKeyRing:
        if tenant_id in self.destroyed:
            raise KeyDestroyed.for_tenant(tenant_id)
        versions = self.tenants.get(tenant_id)
        if not versions:
            raise KeyWithdrawn.for_tenant(tenant_id)
        return TenantKeyRing(tenant_id=tenant_id, versions=tuple(sorted(versions)))


def _parse_versions(section: Any) -> dict[str, dict[int, bytes]]:
    """A ``tenants`` or ``pending`` section: ring -> {version: sealed KEK}."""
    return {
        tenant: {int(v): base64.b64decode(sealed, validate=True) for v, sealed in versions.items()}
        for tenant, versions in section.items()
    }


def _serialise_versions(section: dict[str, dict[int, bytes]]) -> dict[str, dict[str, str]]:
    return {
        tenant: {
            str(v): base64.b64encode(sealed).decode() for v, sealed in sorted(versions.items())
        }
        for tenant, versions in sorted(section.items())
    }


def _parse_private_key(entry: Any) -> _SealedPrivateKey:
    key_spec, rsa_decrypt = entry["spec"], entry["decrypt"]
    key_agreement = entry.get("derive", False)
    if (
        key_spec not in PRIVATE_KEY_SPECS
        or not isinstance(rsa_decrypt, bool)
        or not isinstance(key_agreement, bool)
    ):
        raise ValueError("a private key entry is not valid")
    return _SealedPrivateKey(
        key_spec, rsa_decrypt, base64.b64decode(entry["sealed"], validate=True), key_agreement
    )


def _pending_kek_aad(tenant_id: str, version: int) -> bytes:
    """What sealing a pending KEK version binds: a label no live KEK entry's AAD (``kek_aad``)
    or private key entry's starts with, the ring and the version."""
    owner = tenant_id.encode("ascii")
    return b"andromede/kms pending kek v1" + bytes([len(owner)]) + owner + version.to_bytes(4)


def _private_key_aad(
    tenant_id: str, key_spec: str, rsa_decrypt: bool, key_agreement: bool = False
) -> bytes:
    """What sealing a ring's private key binds: a label no KEK entry's AAD starts with (see
    ``kek_aad``), the ring, the spec and the usage (one byte: 0 sign, 1 decrypt, 2 derive, the
    first two as before key agreement existed). An entry whose usage is changed in the file
    no longer opens."""
    owner, spec = tenant_id.encode("ascii"), key_spec.encode("ascii")
    return (
        b"andromede/kms private key v1"
        + bytes([len(owner)])
        + owner
        + bytes([len(spec)])
        + spec
        + bytes([rsa_decrypt | key_agreement << 1])
    )


def _check_above(tenant_id: str, version: int, live: dict[int, bytes]) -> None:
    """``ValueError`` unless ``version`` is above every live version: a pending version is
    current once promoted."""
    if version <= max(live):
        raise ValueError(
            f"pending version {version} of key ring {tenant_id} is not above its current"
            f" version {max(live)}"
        )


def _holds(keystore: _Keystore, tenant_id: str, version: int) -> bool:
    """Whether the ring holds ``version``, live or pending."""
    return version in keystore.tenants.get(tenant_id, {}) or version in keystore.pending.get(
        tenant_id, {}
    )


def _promoted(keystore: _Keystore, tenant_id: str, version: int) -> bool:
    """True when ``version`` is live (and not pending): a promotion done. False when it is
    pending and may be promoted. Else the error a promotion of it meets."""
    keystore.ring(tenant_id)  # KeyDestroyed, or KeyWithdrawn for no live version
    live = keystore.tenants[tenant_id]
    if version not in keystore.pending.get(tenant_id, {}):
        if version in live:
            return True
        raise KeyWithdrawn.for_version(tenant_id, version)
    _check_above(tenant_id, version, live)
    return False
