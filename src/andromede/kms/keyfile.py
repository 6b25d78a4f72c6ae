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

The provider's parts, split off for size: ``keyfile_keystore`` (the decoded keystore and its
formats), ``keyfile_files`` (the files, the lock and the state every part shares) and
``keyfile_private`` (rings' private keys); the KEKs and their cache are here. Callers import
from here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from andromede.kms.errors import (
    InvalidWrappedKey,
    KeyAlreadyExists,
    KeyDestroyed,
    KeyNotFound,
    KeyWithdrawn,
    ProviderError,
)
from andromede.kms.keyfile_files import DEFAULT_KEK_CACHE_SECONDS, KEYSTORE_FILE, ROOT_KEY_FILE
from andromede.kms.keyfile_keystore import (
    _check_above,
    _holds,
    _Keystore,
    _pending_kek_aad,
    _promoted,
)
from andromede.kms.keyfile_private import PrivateKeysMixin
from andromede.kms.model import (
    KEK_SIZE,
    NONCE_SIZE,
    TAG_SIZE,
    TenantKeyRing,
    check_tenant_id,
    kek_aad,
)
from andromede.kms.providers import check_imported_kek

__all__ = ["KEYSTORE_FILE", "ROOT_KEY_FILE", "LocalKeyFileProvider"]

_KEK_CACHE_MAX_ENTRIES = 1024


class LocalKeyFileProvider(PrivateKeysMixin):
    """Tenant KEKs sealed under a 0600 root key file, in an atomically rewritten keystore."""

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

    def close(self) -> None:
        """Forget the opened KEKs (the lock file is opened per change, nothing else is open)."""
        with self._lock:
            self._keks.clear()

    # --- KEKs --------------------------------------------------------------------------------

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
