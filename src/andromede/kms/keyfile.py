"""The local key-file root-key provider (the embedded default).

Owns two files under ``<data_dir>/keys/`` (a 0700 directory):

- ``root.key`` (0600): the 256-bit root key, ``andromede-root-key-v1:<base64>``. Created once;
  refused if its mode lets anyone but the owner read it (as ssh refuses a loose private key).
- ``keystore.json`` (0600): every tenant KEK version, each sealed under the root key with
  AES-256-GCM and bound (AAD) to its tenant id and version, plus tombstones of destroyed
  tenants (no key material). A KEK imported by the customer (``import_tenant_key``) is sealed
  and kept as a generated one is; withdrawing it (one version, or the ring) removes the entry
  and leaves no tombstone, so the same material may be imported again. Rewritten whole on
  every change: temporary file, fsync, rename, fsync of the directory, so a crash leaves the
  old keystore or the new one.

A version imported *pending* (staged for a later ``promote_tenant_key``) is kept in the
keystore's ``pending`` section, ``ring -> {version: sealed}``, beside the live ones: sealed
under the root key as a KEK is, but bound (AAD) to a "pending KEK" label of its own besides
the ring and version. Promotion opens it and seals it again as a live KEK (a fresh nonce, the
KEK's AAD), in the one rewrite that moves it. So an entry copied by hand between the two
sections does not open (``ProviderError``): editing the file cannot make a staged material
wrap data keys, nor stage a live one, without the root key. Moving the sealed bytes as they
are would save one AES-GCM opening per promotion (a rare act), and give up that binding.

A ring's private key (``create_private_key``: a KMS signing or RSA decryption key's PKCS#8 DER,
or an HMAC key's secret, made here with :mod:`~andromede.kms.asymmetric` and
:mod:`~andromede.kms.mac`) is kept in the keystore's ``private`` section beside the ring's
KEKs: ``ring -> {"spec", "decrypt", "sealed"}``, sealed under the root key and bound (AAD) to
the ring, its spec, its usage and a "private key" label of its own, so that it cannot be
swapped with a KEK entry, another ring's key, or given another spec or usage. A private key
the customer imports (``import_private_key``) is kept the same way: the PKCS#8 DER
``cryptography`` writes of it, or the secret as given. Either is opened for the length of one
``sign``, ``decrypt_private`` or ``mac`` call, from the keystore as last
rechecked (as a KEK is: below), and not cached: unlike KEKs it is not used on the object path,
and the operation's own cost (loading the key) dwarfs the unsealing. Destroying or withdrawing
the ring removes it with the KEKs.

Keystore format: 1 holds KEKs and tombstones; 2 adds the ``private`` section; 3 adds the
``pending`` section (and always has a ``private`` one, empty or not). Code that knows fewer
formats reads the keys it knows and rewrites the whole file on its next change, which would
silently drop a section it does not know, and with it every private key or staged material:
so a keystore is written in the lowest format that holds what it holds. One with pending
versions is format 3, which code that knows 1 and 2 refuses to read; one without is still
format 2 with private keys and format 1 without, byte for byte what that code writes, so
that rolling back to it stays possible until the first material is staged (and once every
staged one is promoted or withdrawn).

The keystore is the only place a KEK exists — not the database — so destroying a tenant's KEK
here makes every data key it wrapped unopenable even after a database backup is restored
(limits: keystore backups and the disk's free blocks, see docs/decisions/0007-key-hierarchy.md).

Several worker processes share the files: changes are serialised with ``flock`` on
``keystore.lock`` (read, change, rewrite under the lock), and a read reloads the keystore when
its inode, size or mtime changed. That ``stat`` is made at most every ``recheck_seconds``
(``key_file_recheck_interval``): on a disk busy with fsyncs it was an eighth of a small PUT's
event-loop time. So a KEK destroyed by one worker reaches the others within that interval
(short beside the data-key cache's lifetime, which bounds it anyway); a change made here is
seen here at once, and a tenant or KEK version not found triggers a check at once, so a key
created by another worker is never missed.

Key material in memory: the root key is held for the life of the provider (every call needs
it). An opened KEK is kept (as its AES-GCM object) for at most ``kek_cache_seconds``: unsealing
it on every data key was a third of a small PUT's key-management cost. The cache cannot
outlive a destruction: every call still checks the keystore (as last rechecked, above) and
uses a cached KEK only while that keystore holds the very sealed entry it was opened from, so
a KEK destroyed or replaced is not used again once this worker has seen the change, and a
change made here empties the cache at once. Python cannot guarantee erasure of
``bytes`` copies (see :mod:`andromede.kms.cache`).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import json
import os
import secrets
import stat
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from andromede.kms import asymmetric, mac
from andromede.kms.errors import (
    InvalidWrappedKey,
    KeyAlreadyExists,
    KeyDestroyed,
    KeyNotFound,
    KeyWithdrawn,
    ProviderError,
)
from andromede.kms.model import (
    KEK_SIZE,
    NONCE_SIZE,
    TAG_SIZE,
    TenantKeyRing,
    check_tenant_id,
    kek_aad,
)
from andromede.kms.providers import (
    PRIVATE_KEY_SPECS,
    check_agreement_key,
    check_decryption_key,
    check_imported_kek,
    check_mac_key,
    check_private_key_material,
    check_private_key_spec,
    check_signing_key,
)

__all__ = ["KEYSTORE_FILE", "ROOT_KEY_FILE", "LocalKeyFileProvider"]

ROOT_KEY_FILE = "root.key"
KEYSTORE_FILE = "keystore.json"
LOCK_FILE = "keystore.lock"
KEYSTORE_FORMAT = 3  # with pending versions; see the module docstring
KEYSTORE_FORMAT_WITH_PRIVATE_KEYS = 2
KEYSTORE_FORMAT_WITHOUT_PRIVATE_KEYS = 1
_ROOT_KEY_PREFIX = b"andromede-root-key-v1:"
_ROOT_KEY_SIZE = 32
DEFAULT_KEK_CACHE_SECONDS = 300.0
_KEK_CACHE_MAX_ENTRIES = 1024


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


class LocalKeyFileProvider:
    """Tenant KEKs sealed under a 0600 root key file, in an atomically rewritten keystore."""

    def __init__(
        self,
        keys_dir: Path,
        *,
        kek_cache_seconds: float = DEFAULT_KEK_CACHE_SECONDS,
        recheck_seconds: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if kek_cache_seconds < 0 or recheck_seconds < 0:
            raise ValueError("the KEK cache lifetime and the recheck interval must be >= 0")
        self._dir = keys_dir
        self._dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._keystore_path = keys_dir / KEYSTORE_FILE
        # os.stat on a str: Path.stat costs a third more, on every provider call.
        self._keystore_file = str(self._keystore_path)
        self._lock = threading.Lock()
        with self._file_lock():
            self._root = AESGCM(self._load_or_create_root_key())
        self._keystore = _Keystore.empty()
        self._signature: tuple[int, int, int] | None = None
        self._kek_cache_seconds = kek_cache_seconds
        self._recheck_seconds = recheck_seconds
        self._next_check = float("-inf")
        self._clock = clock
        # (tenant, version) -> (expiry, the sealed keystore entry it was opened from, the KEK).
        self._keks: dict[tuple[str, int], tuple[float, bytes, AESGCM]] = {}

    @classmethod
    def in_data_dir(
        cls,
        data_dir: Path,
        *,
        kek_cache_seconds: float = DEFAULT_KEK_CACHE_SECONDS,
        recheck_seconds: float = 0.0,
    ) -> LocalKeyFileProvider:
        return cls(
            data_dir / "keys",
            kek_cache_seconds=kek_cache_seconds,
            recheck_seconds=recheck_seconds,
        )

    # --- RootKeyProvider ---------------------------------------------------------------------

    def create_tenant_key(self, tenant_id: str) -> TenantKeyRing:
        check_tenant_id(tenant_id)

        def create(keystore: _Keystore) -> None:
            if tenant_id in keystore.destroyed:
                raise KeyDestroyed.for_tenant(tenant_id)
            if keystore.tenants.get(tenant_id):
                raise KeyAlreadyExists.for_tenant(tenant_id)
            keystore.tenants[tenant_id] = {1: self._seal_new_kek(tenant_id, 1)}

        return self._change(create).ring(tenant_id)

    def import_tenant_key(
        self, tenant_id: str, material: bytes, *, version: int = 1, pending: bool = False
    ) -> TenantKeyRing:
        """``version`` of the ring is ``material``, sealed under the root key as a generated
        KEK is: in the live section, or in the pending one (with the pending AAD, see the
        module docstring). The material passes through this process's memory once, here (the
        caller's ``bytes``, which Python cannot erase); afterwards it exists only sealed in the
        keystore, and opened in the KEK cache for ``kek_cache_seconds`` as any KEK (a pending
        one is never opened but to be promoted)."""
        check_tenant_id(tenant_id)
        check_imported_kek(material, version)
        nonce = os.urandom(NONCE_SIZE)
        aad = _pending_kek_aad(tenant_id, version) if pending else kek_aad(tenant_id, version)
        sealed = nonce + self._root.encrypt(nonce, material, aad)

        def add(keystore: _Keystore) -> None:
            if tenant_id in keystore.destroyed:
                raise KeyDestroyed.for_tenant(tenant_id)
            live = keystore.tenants.get(tenant_id, {})
            if version in live or version in keystore.pending.get(tenant_id, {}):
                raise KeyAlreadyExists.for_version(tenant_id, version)
            if not pending:
                keystore.tenants.setdefault(tenant_id, {})[version] = sealed
                return
            if not live:
                raise KeyWithdrawn.for_tenant(tenant_id)
            _check_above(tenant_id, version, live)
            keystore.pending.setdefault(tenant_id, {})[version] = sealed

        return self._change(add).ring(tenant_id)

    def promote_tenant_key(self, tenant_id: str, version: int) -> TenantKeyRing:
        """The pending entry is opened and sealed again as a live KEK (see the module
        docstring), in one rewrite of the keystore."""
        check_tenant_id(tenant_id)

        def promote(keystore: _Keystore) -> None:
            if _promoted(keystore, tenant_id, version):
                return  # by another worker since the check below
            staged = keystore.pending[tenant_id]
            kek = self._open_sealed(staged.pop(version), _pending_kek_aad(tenant_id, version))
            if not staged:
                del keystore.pending[tenant_id]
            keystore.tenants[tenant_id][version] = self._seal_kek(tenant_id, version, kek)

        keystore = self._current(force=True)
        if not _promoted(keystore, tenant_id, version):  # a retry rewrites nothing
            keystore = self._change(promote)
        return keystore.ring(tenant_id)

    def withdraw_tenant_key(self, tenant_id: str, version: int | None = None) -> None:
        check_tenant_id(tenant_id)

        def withdraw(keystore: _Keystore) -> None:
            # And no tombstone: it may be imported again.
            if version is None:
                keystore.tenants.pop(tenant_id, None)
                keystore.pending.pop(tenant_id, None)
                keystore.private.pop(tenant_id, None)
                return
            for section in (keystore.tenants, keystore.pending):
                versions = section.get(tenant_id, {})
                versions.pop(version, None)
                if not versions:
                    section.pop(tenant_id, None)

        if version is None or _holds(self._current(force=True), tenant_id, version):
            self._change(withdraw)

    def rotate_tenant_key(self, tenant_id: str) -> TenantKeyRing:
        check_tenant_id(tenant_id)

        def rotate(keystore: _Keystore) -> None:
            # Above every version the ring holds: a pending one keeps its number.
            staged = keystore.pending.get(tenant_id, {})
            version = max([keystore.ring(tenant_id).current, *staged]) + 1
            keystore.tenants[tenant_id][version] = self._seal_new_kek(tenant_id, version)

        return self._change(rotate).ring(tenant_id)

    def destroy_tenant_key(self, tenant_id: str) -> None:
        check_tenant_id(tenant_id)

        def destroy(keystore: _Keystore) -> None:
            keystore.tenants.pop(tenant_id, None)
            keystore.pending.pop(tenant_id, None)
            keystore.private.pop(tenant_id, None)
            keystore.destroyed.setdefault(
                tenant_id, datetime.now(UTC).isoformat(timespec="seconds")
            )

        self._change(destroy)

    def tenant_key_ring(self, tenant_id: str) -> TenantKeyRing:
        check_tenant_id(tenant_id)
        try:
            return self._current().ring(tenant_id)
        except KeyNotFound:  # perhaps created by another worker since the last check
            return self._current(force=True).ring(tenant_id)

    def current_version(self, tenant_id: str) -> int:
        # Every new data key asks: the keystore as last read, without the lock, until a recheck
        # is due (as check_usable does). An id not found this way, valid or not, takes the
        # checked path (validation, a reload, KeyNotFound / KeyDestroyed).
        keystore = self._keystore if self._clock() < self._next_check else self._current()
        versions = keystore.tenants.get(tenant_id)
        if versions and tenant_id not in keystore.destroyed:
            return max(versions)
        return self.tenant_key_ring(tenant_id).current

    def check_usable(self, tenant_id: str) -> None:
        # Every data-key use runs this: until a recheck is due, the keystore as last read,
        # without the lock (one reference read; a reload or a change replaces it whole).
        if self._clock() < self._next_check:
            keystore = self._keystore
        else:
            keystore = self._current()
        if tenant_id in keystore.destroyed:
            raise KeyDestroyed.for_tenant(tenant_id)
        if not keystore.tenants.get(tenant_id):
            # Perhaps made or imported again by another worker since the last check.
            keystore = self._current(force=True)
            if tenant_id in keystore.destroyed:
                raise KeyDestroyed.for_tenant(tenant_id)
            if not keystore.tenants.get(tenant_id):
                raise KeyWithdrawn.for_tenant(tenant_id)

    def list_tenants(self) -> list[str]:
        keystore = self._current(force=True)
        return sorted(tenant for tenant, versions in keystore.tenants.items() if versions)

    def seal(self, tenant_id: str, kek_version: int, plaintext: bytes, aad: bytes) -> bytes:
        kek = self._kek(tenant_id, kek_version)
        nonce = os.urandom(NONCE_SIZE)
        return nonce + kek.encrypt(nonce, plaintext, aad)

    def seal_many(
        self, tenant_id: str, kek_version: int, plaintexts: Sequence[bytes], aad: bytes
    ) -> list[bytes]:
        kek = self._kek(tenant_id, kek_version)
        nonces = os.urandom(NONCE_SIZE * len(plaintexts))  # one draw: os.urandom drops the GIL
        sealed = []
        for index, plaintext in enumerate(plaintexts):
            nonce = nonces[index * NONCE_SIZE : (index + 1) * NONCE_SIZE]
            sealed.append(nonce + kek.encrypt(nonce, plaintext, aad))
        return sealed

    def open(self, tenant_id: str, kek_version: int, sealed: bytes, aad: bytes) -> bytearray:
        kek = self._kek(tenant_id, kek_version)
        if len(sealed) < NONCE_SIZE + TAG_SIZE:
            raise InvalidWrappedKey("wrapped data key is truncated")
        plaintext = bytearray(len(sealed) - NONCE_SIZE - TAG_SIZE)
        try:
            kek.decrypt_into(sealed[:NONCE_SIZE], sealed[NONCE_SIZE:], aad, plaintext)
        except (InvalidTag, ValueError):
            raise InvalidWrappedKey("wrapped data key failed authentication") from None
        return plaintext

    def create_private_key(
        self,
        tenant_id: str,
        key_spec: str,
        *,
        rsa_decrypt: bool = False,
        key_agreement: bool = False,
    ) -> bytes:
        check_tenant_id(tenant_id)
        check_private_key_spec(key_spec, rsa_decrypt=rsa_decrypt, key_agreement=key_agreement)
        # Refused before the generation (seconds for RSA 4096), and again under the lock.
        self._current(force=True).check_can_hold_private_key(tenant_id)
        if key_spec in mac.MAC_KEY_SPECS:
            secret, public = mac.generate_mac_key(key_spec), b""
        else:
            secret, public = asymmetric.generate_key_pair(key_spec)
        self._add_private_key(tenant_id, key_spec, rsa_decrypt, secret, key_agreement)
        return public

    def import_private_key(
        self,
        tenant_id: str,
        key_spec: str,
        material: bytes,
        *,
        rsa_decrypt: bool = False,
        key_agreement: bool = False,
    ) -> bytes:
        """The ring's private key is the customer's ``material``, once checked: kept as a
        generated one is (a key pair as the PKCS#8 DER ``cryptography`` writes of it, which is
        what it generates; an HMAC secret as it is), sealed in the keystore's private section.
        The material passes through this process's memory once, here (the caller's ``bytes``
        and the parsed key, which Python cannot erase), and afterwards exists only sealed, as
        a generated key does: opened for the length of one call."""
        check_tenant_id(tenant_id)
        private = check_private_key_material(
            key_spec, material, rsa_decrypt=rsa_decrypt, key_agreement=key_agreement
        )
        if private is None:
            self._add_private_key(tenant_id, key_spec, rsa_decrypt, material)
            return b""
        der = private.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        self._add_private_key(tenant_id, key_spec, rsa_decrypt, der, key_agreement)
        return asymmetric.public_key_info(private)

    def sign(self, tenant_id: str, algorithm: str, message: bytes, *, digest: bool) -> bytes:
        entry = self._sealed_private_key(tenant_id)
        check_signing_key(
            entry.key_spec,
            entry.rsa_decrypt,
            algorithm,
            message,
            digest=digest,
            key_agreement=entry.key_agreement,
        )
        private_der = self._open_private_key(tenant_id, entry)
        return asymmetric.sign(entry.key_spec, private_der, algorithm, message, digest=digest)

    def decrypt_private(self, tenant_id: str, algorithm: str, ciphertext: bytes) -> bytes:
        entry = self._sealed_private_key(tenant_id)
        check_decryption_key(entry.key_spec, entry.rsa_decrypt, algorithm)
        private_der = self._open_private_key(tenant_id, entry)
        try:
            return asymmetric.rsa_decrypt(private_der, algorithm, ciphertext)
        except asymmetric.DecryptionFailed:
            raise InvalidWrappedKey("the ciphertext does not decrypt with this key") from None

    def derive_shared_secret(self, tenant_id: str, algorithm: str, peer_public_key: bytes) -> bytes:
        entry = self._sealed_private_key(tenant_id)
        check_agreement_key(entry.key_spec, entry.key_agreement, algorithm)
        asymmetric.peer_public_key(entry.key_spec, peer_public_key)  # before the key is opened
        private_der = self._open_private_key(tenant_id, entry)
        return asymmetric.derive_shared_secret(
            entry.key_spec, private_der, algorithm, peer_public_key
        )

    def decapsulate(self, tenant_id: str, algorithm: str, ciphertext: bytes) -> bytes:
        entry = self._sealed_private_key(tenant_id)
        asymmetric.check_encapsulation(entry.key_spec, algorithm)
        private_der = self._open_private_key(tenant_id, entry)
        return asymmetric.decapsulate(entry.key_spec, private_der, algorithm, ciphertext)

    def mac(self, tenant_id: str, algorithm: str, message: bytes) -> bytes:
        entry = self._sealed_private_key(tenant_id)
        check_mac_key(entry.key_spec, algorithm)
        secret = self._open_private_key(tenant_id, entry)
        return mac.make_mac(entry.key_spec, secret, algorithm, message)

    def close(self) -> None:
        """Forget the opened KEKs (the lock file is opened per change, nothing else is open)."""
        with self._lock:
            self._keks.clear()

    # --- keys --------------------------------------------------------------------------------

    def _add_private_key(
        self,
        tenant_id: str,
        key_spec: str,
        rsa_decrypt: bool,
        secret: bytes,
        key_agreement: bool = False,
    ) -> None:
        """Seal ``secret`` (PKCS#8 DER or HMAC secret) as the ring's private key, unless the
        ring cannot hold one (``KeyDestroyed``, ``KeyWithdrawn``, ``KeyAlreadyExists``)."""
        nonce = os.urandom(NONCE_SIZE)
        sealed = nonce + self._root.encrypt(
            nonce, secret, _private_key_aad(tenant_id, key_spec, rsa_decrypt, key_agreement)
        )

        def add(keystore: _Keystore) -> None:
            keystore.check_can_hold_private_key(tenant_id)
            keystore.private[tenant_id] = _SealedPrivateKey(
                key_spec, rsa_decrypt, sealed, key_agreement
            )

        self._change(add)

    def _seal_new_kek(self, tenant_id: str, version: int) -> bytes:
        return self._seal_kek(tenant_id, version, os.urandom(KEK_SIZE))

    def _seal_kek(self, tenant_id: str, version: int, kek: bytes) -> bytes:
        nonce = os.urandom(NONCE_SIZE)
        return nonce + self._root.encrypt(nonce, kek, kek_aad(tenant_id, version))

    def _kek(self, tenant_id: str, version: int) -> AESGCM:
        """The KEK as the keystore holds it (cached; see the module docstring for how long)."""
        now = self._clock()
        if now < self._next_check:
            # Every wrap and unwrap asks: a cached KEK still valid for the keystore as last
            # read is returned without the lock (the keystore is replaced whole, never edited).
            cached = self._keks.get((tenant_id, version))
            keystore = self._keystore
            if (
                cached is not None
                and cached[0] > now
                and tenant_id not in keystore.destroyed
                and cached[1] is keystore.tenants.get(tenant_id, {}).get(version)
            ):
                return cached[2]
        with self._lock:
            self._reload_if_changed()
            sealed = self._sealed_kek(tenant_id, version)
            if sealed is None:  # perhaps created by another worker since the last check
                self._reload_if_changed(force=True)
                sealed = self._sealed_kek(tenant_id, version)
            if sealed is None:
                if not self._keystore.tenants.get(tenant_id):
                    raise KeyWithdrawn.for_tenant(tenant_id)
                raise KeyNotFound.for_tenant(tenant_id, version)
            now = self._clock()
            cached = self._keks.get((tenant_id, version))
            if cached is not None and cached[0] > now and cached[1] is sealed:
                return cached[2]
            kek = AESGCM(self._open_kek(tenant_id, version, sealed))
            if self._kek_cache_seconds > 0:
                if len(self._keks) >= _KEK_CACHE_MAX_ENTRIES:
                    self._keks.clear()  # cheap to refill; no need for LRU order here
                self._keks[(tenant_id, version)] = (now + self._kek_cache_seconds, sealed, kek)
            return kek

    def _sealed_kek(self, tenant_id: str, version: int) -> bytes | None:
        keystore = self._keystore
        if tenant_id in keystore.destroyed:
            raise KeyDestroyed.for_tenant(tenant_id)
        return keystore.tenants.get(tenant_id, {}).get(version)

    def _open_kek(self, tenant_id: str, version: int, sealed: bytes) -> bytes:
        return self._open_sealed(sealed, kek_aad(tenant_id, version))

    def _open_sealed(self, sealed: bytes, aad: bytes) -> bytes:
        """A KEK entry of the keystore, live or pending, opened under the root key."""
        try:
            return self._root.decrypt(sealed[:NONCE_SIZE], sealed[NONCE_SIZE:], aad)
        except InvalidTag:
            raise ProviderError(
                "a keystore entry failed authentication: wrong root key or altered keystore"
            ) from None

    def _sealed_private_key(self, tenant_id: str) -> _SealedPrivateKey:
        """The ring's private key entry in the keystore (as last rechecked, or at once when not
        found there: perhaps made by another worker since)."""
        check_tenant_id(tenant_id)
        keystore = self._current()
        if tenant_id not in keystore.private and tenant_id not in keystore.destroyed:
            keystore = self._current(force=True)
        return keystore.private_key(tenant_id)

    def _open_private_key(self, tenant_id: str, entry: _SealedPrivateKey) -> bytes:
        """The PKCS#8 DER or secret, for the caller's one operation."""
        aad = _private_key_aad(tenant_id, entry.key_spec, entry.rsa_decrypt, entry.key_agreement)
        try:
            return self._root.decrypt(entry.sealed[:NONCE_SIZE], entry.sealed[NONCE_SIZE:], aad)
        except (InvalidTag, ValueError):  # ValueError: too short to hold a nonce
            raise ProviderError(
                "a keystore entry failed authentication: wrong root key or altered keystore"
            ) from None

    def _load_or_create_root_key(self) -> bytes:
        path = self._dir / ROOT_KEY_FILE
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            if self._keystore_path.exists():
                # A new root key would silently orphan every KEK in the keystore.
                raise ProviderError(f"{path} is missing but {self._keystore_path} exists") from None
            return self._create_root_key(path)
        except OSError as exc:
            raise ProviderError(f"cannot open the root key file {path}: {exc.strerror}") from exc
        with os.fdopen(fd, "rb") as file:
            mode = os.fstat(file.fileno()).st_mode
            if not stat.S_ISREG(mode) or mode & 0o077:
                raise ProviderError(
                    f"{path} must be a regular file readable by its owner only (0600)"
                )
            content = file.read()
        if not content.startswith(_ROOT_KEY_PREFIX):
            raise ProviderError(f"{path} is not an Andromède root key file")
        try:
            key = base64.b64decode(content[len(_ROOT_KEY_PREFIX) :].strip(), validate=True)
        except binascii.Error:
            key = b""
        if len(key) != _ROOT_KEY_SIZE:
            raise ProviderError(f"{path} does not hold a 256-bit key")
        return key

    def _create_root_key(self, path: Path) -> bytes:
        key = secrets.token_bytes(_ROOT_KEY_SIZE)
        self._write_atomically(path, _ROOT_KEY_PREFIX + base64.b64encode(key) + b"\n")
        return key

    # --- keystore file -----------------------------------------------------------------------

    def _current(self, *, force: bool = False) -> _Keystore:
        """The keystore as on disk (at most ``recheck_seconds`` ago, or now with ``force``)."""
        with self._lock:
            self._reload_if_changed(force=force)
            return self._keystore

    def _change(self, change: Callable[[_Keystore], None]) -> _Keystore:
        with self._lock, self._file_lock():
            self._reload_if_changed(force=True)
            keystore = _Keystore(
                {tenant: dict(versions) for tenant, versions in self._keystore.tenants.items()},
                dict(self._keystore.destroyed),
                dict(self._keystore.private),
                {tenant: dict(versions) for tenant, versions in self._keystore.pending.items()},
            )
            change(keystore)
            self._write_atomically(self._keystore_path, keystore.serialise())
            self._keystore, self._signature = keystore, self._stat_signature()
            self._keks.clear()
            return keystore

    def _reload_if_changed(self, *, force: bool = False) -> None:
        now = self._clock()
        if not force and now < self._next_check:
            return
        self._next_check = now + self._recheck_seconds
        signature = self._stat_signature()
        if signature == self._signature:
            return
        if signature is None:
            self._keystore = _Keystore.empty()
        else:
            self._keystore = _Keystore.parse(self._keystore_path.read_bytes())
        self._signature = signature
        # Entries are checked against the new keystore's sealed bytes anyway; dropping them
        # here also frees the KEKs of tenants another worker destroyed.
        self._keks.clear()

    def _stat_signature(self) -> tuple[int, int, int] | None:
        try:
            info = os.stat(self._keystore_file)
        except FileNotFoundError:
            return None
        return (info.st_ino, info.st_size, info.st_mtime_ns)

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        fd = os.open(self._dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _write_atomically(self, path: Path, content: bytes) -> None:
        temporary = self._dir / f".{path.name}.{secrets.token_hex(8)}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            try:
                view = memoryview(content)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        dir_fd = os.open(self._dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
