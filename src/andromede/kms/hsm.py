"""The PKCS#11 root-key provider: tenant KEKs as non-extractable objects in an HSM token.

Owns the Andromède objects of one token (python-pkcs11; SoftHSM2 in tests):

- one AES-256 secret-key object per tenant KEK version: ``CKA_TOKEN``, ``CKA_PRIVATE``,
  ``CKA_SENSITIVE``, not ``CKA_EXTRACTABLE``, usable for ``CKM_AES_GCM`` encrypt/decrypt only;
  ``CKA_ID = "andromede-kek:" + tenant id`` (so one search finds every version of a tenant)
  and ``CKA_LABEL = "andromede-kek:<tenant>:v<version>"``;
- one data object per destroyed tenant (``CKA_LABEL = "andromede-destroyed:<tenant>"``), the
  tombstone that turns "not found" into "destroyed" and forbids reusing the tenant id.

The root of trust is the token itself: it generates the KEKs, keeps them under its own master
key and PIN, and seals and opens data keys inside it (``C_Encrypt``/``C_Decrypt`` with
``CKM_AES_GCM``, which SoftHSM2 2.6 supports, AAD included). No KEK byte ever reaches this
process, so nothing of the root or of the KEKs can leak from it; destroying a tenant calls
``C_DestroyObject`` on each of its KEK objects. The nonce comes from ``os.urandom`` (SoftHSM2
accepts a caller IV; an HSM in FIPS mode that insists on generating it would need the
PKCS#11 3.0 message API).

One logged-in read-write session is shared by the provider's calls under a lock (PKCS#11
sessions are not safe for concurrent use). Open the provider after forking worker processes:
a PKCS#11 library initialised before ``fork()`` is not usable in the child.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11.exceptions import NoSuchToken, PinIncorrect, PKCS11Error, UserAlreadyLoggedIn
from pkcs11.mechanisms import GCMParams
from pkcs11.types import DecryptMixin, EncryptMixin

from andromede.kms.errors import (
    InvalidWrappedKey,
    KeyAlreadyExists,
    KeyDestroyed,
    KeyNotFound,
    ProviderError,
)
from andromede.kms.model import NONCE_SIZE, TAG_SIZE, TenantKeyRing, check_tenant_id

__all__ = ["Pkcs11Provider"]

_KEK_ID_PREFIX = b"andromede-kek:"
_TOMBSTONE_PREFIX = "andromede-destroyed:"
_APPLICATION = "andromede-kms"


class Pkcs11Provider:
    """Tenant KEKs as non-extractable AES-256 objects of a PKCS#11 token."""

    def __init__(self, library_path: str, token_label: str, pin: str) -> None:
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

    # --- RootKeyProvider ---------------------------------------------------------------------

    def create_tenant_key(self, tenant_id: str) -> TenantKeyRing:
        check_tenant_id(tenant_id)
        with self._lock, _provider_errors():
            if self._tombstone(tenant_id) is not None:
                raise KeyDestroyed.for_tenant(tenant_id)
            if self._versions(tenant_id):
                raise KeyAlreadyExists.for_tenant(tenant_id)
            self._generate_kek(tenant_id, 1)
            return self._ring(tenant_id)

    def rotate_tenant_key(self, tenant_id: str) -> TenantKeyRing:
        check_tenant_id(tenant_id)
        with self._lock, _provider_errors():
            self._generate_kek(tenant_id, self._ring(tenant_id).current + 1)
            return self._ring(tenant_id)

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

    def tenant_key_ring(self, tenant_id: str) -> TenantKeyRing:
        check_tenant_id(tenant_id)
        with self._lock, _provider_errors():
            return self._ring(tenant_id)

    def list_tenants(self) -> list[str]:
        with self._lock, _provider_errors():
            tenants = set()
            for key in self._session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY}):
                key_id = bytes(key[Attribute.ID])
                if key_id.startswith(_KEK_ID_PREFIX):
                    tenants.add(key_id[len(_KEK_ID_PREFIX) :].decode("ascii"))
            return sorted(tenants)

    def seal(self, tenant_id: str, kek_version: int, plaintext: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(NONCE_SIZE)
        with self._lock, _provider_errors():
            key = self._kek(tenant_id, kek_version)
            sealed = key.encrypt(
                plaintext, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(nonce, aad, 128)
            )
        if not isinstance(sealed, bytes):  # a single buffer in gives a single buffer out
            raise ProviderError("PKCS#11 encrypt returned a stream")
        return nonce + sealed

    def open(self, tenant_id: str, kek_version: int, sealed: bytes, aad: bytes) -> bytearray:
        if len(sealed) < NONCE_SIZE + TAG_SIZE:
            raise InvalidWrappedKey("wrapped data key is truncated")
        with self._lock:
            with _provider_errors():
                key = self._kek(tenant_id, kek_version)
            if not isinstance(key, DecryptMixin):
                raise ProviderError("a KEK object of the token cannot decrypt")
            try:
                plaintext = key.decrypt(
                    sealed[NONCE_SIZE:],
                    mechanism=Mechanism.AES_GCM,
                    mechanism_param=GCMParams(sealed[:NONCE_SIZE], aad, 128),
                )
            except PKCS11Error:
                # SoftHSM2 reports a failed tag as CKR_GENERAL_ERROR, other tokens as
                # CKR_ENCRYPTED_DATA_INVALID: either way the wrapped key does not open.
                raise InvalidWrappedKey("wrapped data key failed authentication") from None
        if not isinstance(plaintext, bytes):
            raise ProviderError("PKCS#11 decrypt returned a stream")
        return bytearray(plaintext)

    def close(self) -> None:
        """Close the session (idempotent; the token's objects stay)."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._session.close()

    # --- token objects -----------------------------------------------------------------------

    def _generate_kek(self, tenant_id: str, version: int) -> None:
        self._session.generate_key(
            KeyType.AES,
            256,
            id=_KEK_ID_PREFIX + tenant_id.encode("ascii"),
            label=f"andromede-kek:{tenant_id}:v{version}",
            store=True,
            capabilities=MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT,
            template={
                Attribute.PRIVATE: True,
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
                Attribute.WRAP: False,
                Attribute.UNWRAP: False,
            },
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

    def _ring(self, tenant_id: str) -> TenantKeyRing:
        if self._tombstone(tenant_id) is not None:
            raise KeyDestroyed.for_tenant(tenant_id)
        versions = self._versions(tenant_id)
        if not versions:
            raise KeyNotFound.for_tenant(tenant_id)
        return TenantKeyRing(tenant_id=tenant_id, versions=tuple(sorted(versions)))

    def _kek(self, tenant_id: str, version: int) -> EncryptMixin:
        check_tenant_id(tenant_id)
        # The tombstone is checked first: objects a crash left behind after it are dead.
        if self._tombstone(tenant_id) is not None:
            raise KeyDestroyed.for_tenant(tenant_id)
        versions = self._versions(tenant_id)
        if not versions:
            raise KeyNotFound.for_tenant(tenant_id)
        key = versions.get(version)
        if key is None:
            raise KeyNotFound.for_tenant(tenant_id, version)
        return key


@contextlib.contextmanager
def _provider_errors() -> Iterator[None]:
    """Translate a library failure into ProviderError at the edge (domain errors pass)."""
    try:
        yield
    except PKCS11Error as exc:
        raise ProviderError(f"PKCS#11 call failed: {type(exc).__name__}") from exc
