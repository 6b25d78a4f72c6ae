"""The PKCS#11 root-key provider: tenant KEKs as non-extractable objects in an HSM token.

Owns the Andromède objects of one token (python-pkcs11; SoftHSM2 in tests):

- one AES-256 secret-key object per tenant KEK version: ``CKA_TOKEN``, ``CKA_PRIVATE``,
  ``CKA_SENSITIVE``, not ``CKA_EXTRACTABLE``, usable for ``CKM_AES_GCM`` encrypt/decrypt only;
  ``CKA_ID = "andromede-kek:" + tenant id`` (so one search finds every version of a tenant)
  and ``CKA_LABEL = "andromede-kek:<tenant>:v<version>"``;
- one data object per destroyed tenant (``CKA_LABEL = "andromede-destroyed:<tenant>"``), the
  tombstone that turns "not found" into "destroyed" and forbids reusing the tenant id.

An imported KEK (``import_tenant_key``: a KMS key's customer material) is the same object with
the customer's bytes as ``CKA_VALUE`` (``C_CreateObject``); withdrawing it calls
``C_DestroyObject`` and leaves no tombstone, so that the same material may be imported again.

The root of trust is the token itself: it generates the KEKs, keeps them under its own master
key and PIN, and seals and opens data keys inside it (``C_Encrypt``/``C_Decrypt`` with
``CKM_AES_GCM``, which SoftHSM2 2.6 supports, AAD included). No KEK byte ever reaches this
process (but imported material, once, on its way in), so nothing of the root or of the KEKs
can leak from it; destroying a tenant calls ``C_DestroyObject`` on each of its KEK objects.
The nonce comes from ``os.urandom`` (SoftHSM2 accepts a caller IV; an HSM in FIPS mode that
insists on generating it would need the PKCS#11 3.0 message API).

One logged-in read-write session is shared by the provider's calls under a lock (PKCS#11
sessions are not safe for concurrent use). Open the provider after forking worker processes:
a PKCS#11 library initialised before ``fork()`` is not usable in the child.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11.exceptions import (
    NoSuchToken,
    ObjectHandleInvalid,
    PinIncorrect,
    PKCS11Error,
    UserAlreadyLoggedIn,
)
from pkcs11.mechanisms import GCMParams
from pkcs11.types import DecryptMixin, EncryptMixin

from andromede.kms.errors import (
    InvalidWrappedKey,
    KeyAlreadyExists,
    KeyDestroyed,
    KeyNotFound,
    KeyWithdrawn,
    ProviderError,
)
from andromede.kms.model import KEK_SIZE, NONCE_SIZE, TAG_SIZE, TenantKeyRing, check_tenant_id

__all__ = ["Pkcs11Provider"]

_KEK_ID_PREFIX = b"andromede-kek:"
_TOMBSTONE_PREFIX = "andromede-destroyed:"
_APPLICATION = "andromede-kms"
DEFAULT_LOOKUP_TTL_SECONDS = 5.0
_MAX_KNOWN_TENANTS = 100_000


class Pkcs11Provider:
    """Tenant KEKs as non-extractable AES-256 objects of a PKCS#11 token."""

    def __init__(
        self,
        library_path: str,
        token_label: str,
        pin: str,
        *,
        lookup_ttl_seconds: float = DEFAULT_LOOKUP_TTL_SECONDS,
    ) -> None:
        try:
            library = pkcs11.lib(library_path)
            token = library.get_token(token_label=token_label)
            try:
                self._session = token.open(rw=True, user_pin=pin)
            except UserAlreadyLoggedIn:
                # PKCS#11 login is per process and token: another provider of this process
                # is logged in, and a new session shares that login.
                self._session = token.open(rw=True)
        except NoSuchToken:
            raise ProviderError(f"no PKCS#11 token labelled {token_label!r}") from None
        except PinIncorrect:
            raise ProviderError(f"the PIN of PKCS#11 token {token_label!r} is wrong") from None
        except (PKCS11Error, RuntimeError) as exc:
            # The message of a library error names the failure, never the PIN.
            raise ProviderError(f"cannot open PKCS#11 token {token_label!r}: {exc!r}") from None
        self._lock = threading.Lock()
        self._closed = False
        self._lookup_ttl = lookup_ttl_seconds
        self._known: dict[str, _TenantObjects] = {}

    # --- RootKeyProvider ---------------------------------------------------------------------

    def create_tenant_key(self, tenant_id: str) -> TenantKeyRing:
        check_tenant_id(tenant_id)
        with self._lock, _provider_errors():
            known = self._lookup(tenant_id, fresh=True)
            if known.destroyed:
                raise KeyDestroyed.for_tenant(tenant_id)
            if known.keys:
                raise KeyAlreadyExists.for_tenant(tenant_id)
            self._generate_kek(tenant_id, 1)
            return self._lookup(tenant_id, fresh=True).ring(tenant_id)

    def import_tenant_key(self, tenant_id: str, material: bytes) -> TenantKeyRing:
        """Version 1 of the ring is a token object holding ``material``, with the attributes
        of a generated KEK (sensitive, not extractable, AES-GCM encrypt/decrypt only).

        The material passes through this process's memory once, here: the caller's ``bytes``
        (which Python cannot erase) and python-pkcs11's copy of the template, freed once
        ``C_CreateObject`` returns. Afterwards it lives only in the token, which never hands
        it back (``CKA_VALUE`` of a sensitive key cannot be read)."""
        check_tenant_id(tenant_id)
        if len(material) != KEK_SIZE:
            raise ValueError(f"imported key material must be {KEK_SIZE} bytes")
        with self._lock, _provider_errors():
            known = self._lookup(tenant_id, fresh=True)
            if known.destroyed:
                raise KeyDestroyed.for_tenant(tenant_id)
            if known.keys:
                raise KeyAlreadyExists.for_tenant(tenant_id)
            self._session.create_object({**_kek_template(tenant_id, 1), Attribute.VALUE: material})
            return self._lookup(tenant_id, fresh=True).ring(tenant_id)

    def withdraw_tenant_key(self, tenant_id: str) -> None:
        check_tenant_id(tenant_id)
        with self._lock, _provider_errors():
            # No tombstone. A destroyed ring has no versions left (but those an interrupted
            # destroy left behind, which may go too).
            for key in self._versions(tenant_id).values():
                key.destroy()
            self._known.pop(tenant_id, None)

    def rotate_tenant_key(self, tenant_id: str) -> TenantKeyRing:
        check_tenant_id(tenant_id)
        with self._lock, _provider_errors():
            current = self._lookup(tenant_id, fresh=True).ring(tenant_id).current
            self._generate_kek(tenant_id, current + 1)
            return self._lookup(tenant_id, fresh=True).ring(tenant_id)

    def destroy_tenant_key(self, tenant_id: str) -> None:
        check_tenant_id(tenant_id)
        with self._lock, _provider_errors():
            # Tombstone first: a crash half-way leaves "destroyed" + leftovers that a second
            # call removes, never live-looking keys of a tenant meant to be gone.
            if self._tombstone(tenant_id) is None:
                self._session.create_object(
                    {
                        Attribute.CLASS: ObjectClass.DATA,
                        Attribute.TOKEN: True,
                        Attribute.PRIVATE: True,
                        Attribute.LABEL: _TOMBSTONE_PREFIX + tenant_id,
                        Attribute.APPLICATION: _APPLICATION,
                        Attribute.VALUE: datetime.now(UTC).isoformat(timespec="seconds").encode(),
                    }
                )
            for key in self._versions(tenant_id).values():
                key.destroy()
            self._known.pop(tenant_id, None)

    def tenant_key_ring(self, tenant_id: str) -> TenantKeyRing:
        check_tenant_id(tenant_id)
        with self._lock, _provider_errors():
            return self._lookup(tenant_id).ring(tenant_id)

    def current_version(self, tenant_id: str) -> int:
        return self.tenant_key_ring(tenant_id).current

    def check_usable(self, tenant_id: str) -> None:
        check_tenant_id(tenant_id)
        with self._lock, _provider_errors():
            known = self._lookup(tenant_id)
            if not known.keys and not known.destroyed:
                # Perhaps made or imported again by another process since the lookup.
                known = self._lookup(tenant_id, fresh=True)
            _check_live(tenant_id, known)
            try:
                # One attribute read: the handle of a key destroyed or withdrawn by any process
                # is invalid now, where a search (the lookup TTL) would see it only later.
                next(iter(known.keys.values()))[Attribute.LABEL]  # the read is the check
                return
            except ObjectHandleInvalid:
                pass
            _check_live(tenant_id, self._lookup(tenant_id, fresh=True))

    def list_tenants(self) -> list[str]:
        with self._lock, _provider_errors():
            tenants, destroyed = set(), set()
            for key in self._session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY}):
                key_id = bytes(key[Attribute.ID])
                if key_id.startswith(_KEK_ID_PREFIX):
                    tenants.add(key_id[len(_KEK_ID_PREFIX) :].decode("ascii"))
            for data in self._session.get_objects({Attribute.CLASS: ObjectClass.DATA}):
                label = str(data[Attribute.LABEL])
                if label.startswith(_TOMBSTONE_PREFIX):
                    destroyed.add(label[len(_TOMBSTONE_PREFIX) :])
            # Key objects an interrupted destroy left behind belong to no live tenant.
            return sorted(tenants - destroyed)

    def seal(self, tenant_id: str, kek_version: int, plaintext: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(NONCE_SIZE)
        mechanism_param = GCMParams(nonce, aad, 128)

        def encrypt(key: EncryptMixin) -> bytes | Iterator[bytes]:
            return key.encrypt(
                plaintext, mechanism=Mechanism.AES_GCM, mechanism_param=mechanism_param
            )

        with self._lock, _provider_errors():
            sealed = self._with_kek(tenant_id, kek_version, encrypt)
        if not isinstance(sealed, bytes):  # a single buffer in gives a single buffer out
            raise ProviderError("PKCS#11 encrypt returned a stream")
        return nonce + sealed

    def seal_many(
        self, tenant_id: str, kek_version: int, plaintexts: Sequence[bytes], aad: bytes
    ) -> list[bytes]:
        return [self.seal(tenant_id, kek_version, plaintext, aad) for plaintext in plaintexts]

    def open(self, tenant_id: str, kek_version: int, sealed: bytes, aad: bytes) -> bytearray:
        if len(sealed) < NONCE_SIZE + TAG_SIZE:
            raise InvalidWrappedKey("wrapped data key is truncated")
        mechanism_param = GCMParams(sealed[:NONCE_SIZE], aad, 128)

        def decrypt(key: EncryptMixin) -> bytes | Iterator[bytes]:
            if not isinstance(key, DecryptMixin):
                raise ProviderError("a KEK object of the token cannot decrypt")
            try:
                return key.decrypt(
                    sealed[NONCE_SIZE:],
                    mechanism=Mechanism.AES_GCM,
                    mechanism_param=mechanism_param,
                )
            except ObjectHandleInvalid:
                raise
            except PKCS11Error:
                # SoftHSM2 reports a failed tag as CKR_GENERAL_ERROR, other tokens as
                # CKR_ENCRYPTED_DATA_INVALID: either way the wrapped key does not open.
                raise InvalidWrappedKey("wrapped data key failed authentication") from None

        with self._lock, _provider_errors():
            plaintext = self._with_kek(tenant_id, kek_version, decrypt)
        if not isinstance(plaintext, bytes):
            raise ProviderError("PKCS#11 decrypt returned a stream")
        return bytearray(plaintext)

    def close(self) -> None:
        """Close the session (idempotent; the token's objects stay)."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._known.clear()
                self._session.close()

    # --- token objects -----------------------------------------------------------------------

    def _with_kek(
        self,
        tenant_id: str,
        version: int,
        operation: Callable[[EncryptMixin], bytes | Iterator[bytes]],
    ) -> bytes | Iterator[bytes]:
        """Run ``operation`` with the KEK object; a handle gone stale is looked up once more."""
        check_tenant_id(tenant_id)
        try:
            return operation(self._kek(tenant_id, version, fresh=False))
        except ObjectHandleInvalid:
            # Destroyed (or recreated) by another process since it was looked up: the fresh
            # lookup says KeyDestroyed when a tombstone is there.
            return operation(self._kek(tenant_id, version, fresh=True))

    def _kek(self, tenant_id: str, version: int, *, fresh: bool) -> EncryptMixin:
        known = self._lookup(tenant_id, fresh=fresh)
        if version not in known.keys and not fresh:
            known = self._lookup(tenant_id, fresh=True)  # a rotation by another process
        known.ring(tenant_id)  # destroyed, or no key at all, says so
        key = known.keys.get(version)
        if key is None:
            raise KeyNotFound.for_tenant(tenant_id, version)
        return key

    def _lookup(self, tenant_id: str, *, fresh: bool = False) -> _TenantObjects:
        """The tenant's objects, searched again when older than the lookup TTL.

        Searching a token walks its objects (milliseconds with a few hundred tenants in
        SoftHSM2), too slow for every PUT; a cached handle of a key destroyed meanwhile
        fails with CKR_OBJECT_HANDLE_INVALID, which triggers a fresh search, so the TTL only
        delays seeing another process's rotation, never a destruction.
        """
        now = time.monotonic()
        known = self._known.get(tenant_id)
        if fresh or known is None or now - known.looked_up >= self._lookup_ttl:
            destroyed = self._tombstone(tenant_id) is not None
            keys = {} if destroyed else self._versions(tenant_id)
            known = _TenantObjects(looked_up=now, destroyed=destroyed, keys=keys)
            if len(self._known) >= _MAX_KNOWN_TENANTS:
                self._known.clear()
            self._known[tenant_id] = known
        return known

    def _generate_kek(self, tenant_id: str, version: int) -> None:
        self._session.generate_key(
            KeyType.AES,
            KEK_SIZE * 8,
            store=True,
            capabilities=MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT,
            template=_kek_template(tenant_id, version),
        )

    def _versions(self, tenant_id: str) -> dict[int, EncryptMixin]:
        keys = self._session.get_objects(
            {
                Attribute.CLASS: ObjectClass.SECRET_KEY,
                Attribute.ID: _KEK_ID_PREFIX + tenant_id.encode("ascii"),
            }
        )
        versions: dict[int, EncryptMixin] = {}
        for key in keys:
            label = str(key[Attribute.LABEL])
            _, _, version = label.rpartition(":v")
            if isinstance(key, EncryptMixin) and version.isdigit():
                versions[int(version)] = key
        return versions

    def _tombstone(self, tenant_id: str) -> pkcs11.Object | None:
        for found in self._session.get_objects(
            {Attribute.CLASS: ObjectClass.DATA, Attribute.LABEL: _TOMBSTONE_PREFIX + tenant_id}
        ):
            return found
        return None


def _kek_template(tenant_id: str, version: int) -> dict[Attribute, Any]:
    """The attributes of every KEK object, generated or imported."""
    return {
        Attribute.CLASS: ObjectClass.SECRET_KEY,
        Attribute.KEY_TYPE: KeyType.AES,
        Attribute.ID: _KEK_ID_PREFIX + tenant_id.encode("ascii"),
        Attribute.LABEL: f"andromede-kek:{tenant_id}:v{version}",
        Attribute.TOKEN: True,
        Attribute.PRIVATE: True,
        Attribute.SENSITIVE: True,
        Attribute.EXTRACTABLE: False,
        Attribute.ENCRYPT: True,
        Attribute.DECRYPT: True,
        Attribute.WRAP: False,
        Attribute.UNWRAP: False,
        Attribute.SIGN: False,
        Attribute.VERIFY: False,
        Attribute.DERIVE: False,
    }


def _check_live(tenant_id: str, known: _TenantObjects) -> None:
    """``KeyDestroyed`` for a tombstone, ``KeyWithdrawn`` for a ring without keys."""
    if known.destroyed:
        raise KeyDestroyed.for_tenant(tenant_id)
    if not known.keys:
        raise KeyWithdrawn.for_tenant(tenant_id)


class _TenantObjects(NamedTuple):
    """What a search of the token found for one tenant, and when."""

    looked_up: float
    destroyed: bool
    keys: dict[int, EncryptMixin]

    def ring(self, tenant_id: str) -> TenantKeyRing:
        if self.destroyed:
            raise KeyDestroyed.for_tenant(tenant_id)
        if not self.keys:
            raise KeyWithdrawn.for_tenant(tenant_id)
        return TenantKeyRing(tenant_id=tenant_id, versions=tuple(sorted(self.keys)))


@contextlib.contextmanager
def _provider_errors() -> Iterator[None]:
    """Translate a library failure into ProviderError at the edge (domain errors pass)."""
    try:
        yield
    except PKCS11Error as exc:
        raise ProviderError(f"PKCS#11 call failed: {type(exc).__name__}") from exc
