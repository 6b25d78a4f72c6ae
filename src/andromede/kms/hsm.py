"""The PKCS#11 root-key provider: tenant KEKs as non-extractable objects in an HSM token.

Owns the Andromède objects of one token (python-pkcs11; SoftHSM2 in tests):

- one AES-256 secret-key object per tenant KEK version: ``CKA_TOKEN``, ``CKA_PRIVATE``,
  ``CKA_SENSITIVE``, not ``CKA_EXTRACTABLE``, usable for ``CKM_AES_GCM`` encrypt/decrypt only;
  ``CKA_ID = "andromede-kek:" + tenant id`` (so one search finds every version of a tenant)
  and ``CKA_LABEL = "andromede-kek:<tenant>:v<version>"``;
- at most one private key per ring (``create_private_key``, decision 0048), with the ring's
  ``CKA_ID`` and the attributes of a KEK (token, private, sensitive, not extractable): the
  private half of an RSA or EC key pair made by ``C_GenerateKeyPair``
  (``CKA_LABEL = "andromede-private:<tenant>:<spec>"``, ``...:decrypt`` for an RSA key that
  decrypts, and then cannot sign: a key pair does one or the other), or an HMAC secret, a
  ``CKK_GENERIC_SECRET`` key of the digest's length made by ``C_GenerateKey``
  (``CKA_LABEL = "andromede-secret:<tenant>:<spec>"``). A private key or secret the customer
  imports (``import_private_key``) is the same object, made by ``C_CreateObject`` from the
  key's numbers or the secret's bytes. Signing (RSASSA-PKCS1-v1_5 and PSS,
  over a message or a digest; ECDSA over a digest hashed here, the message not being secret),
  RSAES-OAEP decryption and HMAC run inside the token (``C_Sign``, ``C_Decrypt``). The public
  half is a session object, read once for its SubjectPublicKeyInfo and destroyed: the KMS key
  keeps the public key in its record. A ring's objects are told apart by their labels, so an
  HMAC secret (a secret key too) is never taken for a KEK version. Generating an RSA key holds
  the provider's lock for its length (seconds for 4096 bits in SoftHSM2): the library is
  initialised for one call at a time, and key creation is rare and off the object path;
- one data object per destroyed tenant (``CKA_LABEL = "andromede-destroyed:<tenant>"``), the
  tombstone that turns "not found" into "destroyed" and forbids reusing the tenant id.

An imported KEK (``import_tenant_key``: a KMS key's customer material) is the same object with
the customer's bytes as ``CKA_VALUE`` (``C_CreateObject``); withdrawing it calls
``C_DestroyObject`` and leaves no tombstone, so that the same material may be imported again.

The root of trust is the token itself: it generates the KEKs, keeps them under its own master
key and PIN, and seals and opens data keys inside it (``C_Encrypt``/``C_Decrypt`` with
``CKM_AES_GCM``, which SoftHSM2 2.6 supports, AAD included). No KEK byte ever reaches this
process (but imported material, once, on its way in), so nothing of the root or of the KEKs
can leak from it; destroying a tenant calls ``C_DestroyObject`` on each of its objects (KEKs
and private key).
The nonce comes from ``os.urandom`` (SoftHSM2 accepts a caller IV; an HSM in FIPS mode that
insists on generating it would need the PKCS#11 3.0 message API).

One logged-in read-write session is shared by the provider's calls under a lock (PKCS#11
sessions are not safe for concurrent use). Open the provider after forking worker processes:
a PKCS#11 library initialised before ``fork()`` is not usable in the child.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar

import pkcs11
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pkcs11 import MGF, Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11.exceptions import (
    ArgumentsBad,
    KeyHandleInvalid,
    MechanismInvalid,
    MechanismParamInvalid,
    NoSuchToken,
    ObjectHandleInvalid,
    PinIncorrect,
    PKCS11Error,
    UserAlreadyLoggedIn,
)
from pkcs11.mechanisms import GCMParams
from pkcs11.types import DecryptMixin, EncryptMixin, SignMixin
from pkcs11.util import biginteger
from pkcs11.util.ec import encode_named_curve_parameters

from andromede.kms import mac
from andromede.kms.asymmetric import RSA_KEY_SPECS, ec_curve, public_key_info, rsa_bits
from andromede.kms.errors import (
    AlgorithmNotOffered,
    InvalidWrappedKey,
    KeyAlreadyExists,
    KeyDestroyed,
    KeyNotFound,
    KeyWithdrawn,
    ProviderError,
)
from andromede.kms.mac import MAC_KEY_SPECS
from andromede.kms.model import KEK_SIZE, NONCE_SIZE, TAG_SIZE, TenantKeyRing, check_tenant_id
from andromede.kms.providers import (
    DIGEST_SIZES,
    PRIVATE_KEY_SPECS,
    check_decryption_key,
    check_mac_key,
    check_private_key_material,
    check_private_key_spec,
    check_signing_key,
)

__all__ = ["Pkcs11Provider"]

_KEK_ID_PREFIX = b"andromede-kek:"
_KEK_LABEL_PREFIX = "andromede-kek:"
_PRIVATE_LABEL_PREFIX = "andromede-private:"
_HMAC_KEY_LABEL_PREFIX = "andromede-secret:"
_PUBLIC_LABEL_PREFIX = "andromede-public:"
_DECRYPT_SUFFIX = ":decrypt"
_TOMBSTONE_PREFIX = "andromede-destroyed:"
_APPLICATION = "andromede-kms"
# A key handle gone stale (its object destroyed, by any process): an attribute read answers
# CKR_OBJECT_HANDLE_INVALID, and a C_*Init CKR_KEY_HANDLE_INVALID (SoftHSM2 says the former).
_STALE_HANDLE = (ObjectHandleInvalid, KeyHandleInvalid)
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
            # No tombstone. A destroyed ring has no objects left (but those an interrupted
            # destroy left behind, which may go too).
            self._destroy_ring_objects(tenant_id)
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
            self._destroy_ring_objects(tenant_id)
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
            # AES keys only: an HMAC secret is a secret key with its ring's id too.
            kek_objects = {Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.AES}
            for key in self._session.get_objects(kek_objects):
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
            except _STALE_HANDLE:
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

    def create_private_key(
        self, tenant_id: str, key_spec: str, *, rsa_decrypt: bool = False
    ) -> bytes:
        check_tenant_id(tenant_id)
        check_private_key_spec(key_spec, rsa_decrypt=rsa_decrypt)
        with self._lock, _provider_errors():
            known = self._lookup(tenant_id, fresh=True)
            _check_live(tenant_id, known)
            if known.private is not None:
                raise KeyAlreadyExists.holding_private_key(tenant_id)
            try:
                if key_spec in MAC_KEY_SPECS:
                    self._generate_secret(tenant_id, key_spec)
                    return b""
                return self._generate_key_pair(tenant_id, key_spec, rsa_decrypt)
            finally:
                self._known.pop(tenant_id, None)

    def import_private_key(
        self, tenant_id: str, key_spec: str, material: bytes, *, rsa_decrypt: bool = False
    ) -> bytes:
        """The ring's private key is the customer's ``material``, once checked, entered in the
        token by ``C_CreateObject`` as an object with the attributes and label of a generated
        one (sensitive, not extractable, to sign or to decrypt): an RSA or EC private key from
        the key's numbers, or an HMAC secret as a ``CKK_GENERIC_SECRET``. The public key
        answered is computed from the material, no public object is made.

        The material passes through this process's memory once, here, as an imported KEK's
        does (decision 0046): the caller's ``bytes``, the key ``cryptography`` parsed, and
        python-pkcs11's copy of the template, none of which Python can erase, and none kept
        once this returns. Afterwards it lives only in the token, which never hands it back.
        (SoftHSM2 marks such an object neither ``CKA_ALWAYS_SENSITIVE`` nor
        ``CKA_NEVER_EXTRACTABLE``: its value was known outside the token.)"""
        check_tenant_id(tenant_id)
        private = check_private_key_material(key_spec, material, rsa_decrypt=rsa_decrypt)
        if private is None:
            template = {**_secret_template(tenant_id, key_spec), Attribute.VALUE: material}
            public = b""
        else:
            template = {
                **_key_pair_private_template(tenant_id, key_spec, rsa_decrypt),
                Attribute.CLASS: ObjectClass.PRIVATE_KEY,
                **_private_numbers(key_spec, private),
            }
            public = public_key_info(private)
        with self._lock, _provider_errors():
            known = self._lookup(tenant_id, fresh=True)
            _check_live(tenant_id, known)
            if known.private is not None:
                raise KeyAlreadyExists.holding_private_key(tenant_id)
            try:
                self._session.create_object(template)
            finally:
                self._known.pop(tenant_id, None)
        return public

    def sign(self, tenant_id: str, algorithm: str, message: bytes, *, digest: bool) -> bytes:
        def sign(held: _PrivateObject) -> bytes:
            hash_name = check_signing_key(
                held.key_spec, held.rsa_decrypt, algorithm, message, digest=digest
            )
            key = _capable(held, SignMixin)
            hashing = _HASHES[hash_name]
            if algorithm.startswith("ECDSA"):
                hashed = message if digest else hashlib.new(hash_name, message).digest()
                r_and_s = key.sign(hashed, mechanism=Mechanism.ECDSA)
                half = len(r_and_s) // 2  # r | s, each as long as the curve's order
                return encode_dss_signature(
                    int.from_bytes(r_and_s[:half]), int.from_bytes(r_and_s[half:])
                )
            if algorithm.startswith("RSASSA_PSS"):
                # AWS KMS's salt is as long as the digest (as asymmetric.sign's).
                pss = (hashing.mechanism, hashing.mgf, DIGEST_SIZES[hash_name])
                mechanism = Mechanism.RSA_PKCS_PSS if digest else hashing.rsa_pss
                return key.sign(message, mechanism=mechanism, mechanism_param=pss)
            if digest:  # RSASSA-PKCS1-v1_5 of a digest: the token pads the DigestInfo
                return key.sign(hashing.digest_info + message, mechanism=Mechanism.RSA_PKCS)
            return key.sign(message, mechanism=hashing.rsa_pkcs1)

        return self._with_private_key(tenant_id, sign)

    def decrypt_private(self, tenant_id: str, algorithm: str, ciphertext: bytes) -> bytes:
        def decrypt(held: _PrivateObject) -> bytes:
            hashing = _HASHES[check_decryption_key(held.key_spec, held.rsa_decrypt, algorithm)]
            key = _capable(held, DecryptMixin)
            oaep = (hashing.mechanism, hashing.mgf, None)  # MGF1 with the same hash, no label
            try:
                plaintext = key.decrypt(
                    ciphertext, mechanism=Mechanism.RSA_PKCS_OAEP, mechanism_param=oaep
                )
            except _STALE_HANDLE:
                raise
            except (ArgumentsBad, MechanismInvalid, MechanismParamInvalid):
                # The token's refusal of the parameters, before any byte of the ciphertext is
                # looked at (SoftHSM2 2.6 knows OAEP with SHA-1 only).
                raise AlgorithmNotOffered(f"the PKCS#11 token does not offer {algorithm}") from None
            except PKCS11Error:
                # SoftHSM2 says CKR_GENERAL_ERROR, others CKR_ENCRYPTED_DATA_INVALID or _LEN_RANGE.
                raise InvalidWrappedKey("the ciphertext does not decrypt with this key") from None
            if not isinstance(plaintext, bytes):  # a single buffer in gives a single buffer out
                raise ProviderError("PKCS#11 decrypt returned a stream")
            return plaintext

        return self._with_private_key(tenant_id, decrypt)

    def mac(self, tenant_id: str, algorithm: str, message: bytes) -> bytes:
        def make_mac(held: _PrivateObject) -> bytes:
            hashing = _HASHES[check_mac_key(held.key_spec, algorithm)]
            return _capable(held, SignMixin).sign(message, mechanism=hashing.hmac)

        return self._with_private_key(tenant_id, make_mac)

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
        except _STALE_HANDLE:
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
            keys, private = ({}, None) if destroyed else self._ring_objects(tenant_id)
            known = _TenantObjects(looked_up=now, destroyed=destroyed, keys=keys, private=private)
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

    def _ring_objects(
        self, tenant_id: str
    ) -> tuple[dict[int, EncryptMixin], _PrivateObject | None]:
        """The ring's KEK versions and private key, told apart by their labels (one search)."""
        versions: dict[int, EncryptMixin] = {}
        private = None
        kek_label = f"{_KEK_LABEL_PREFIX}{tenant_id}:v"
        for found in self._session.get_objects({Attribute.ID: _ring_id(tenant_id)}):
            label = str(found[Attribute.LABEL])
            if label.startswith(kek_label):
                version = label[len(kek_label) :]
                if isinstance(found, EncryptMixin) and version.isdigit():
                    versions[int(version)] = found
            elif (held := _private_object(tenant_id, label, found)) is not None:
                private = held
        return versions, private

    def _destroy_ring_objects(self, tenant_id: str) -> None:
        """``C_DestroyObject`` of every object of the ring: KEK versions, private key."""
        for found in list(self._session.get_objects({Attribute.ID: _ring_id(tenant_id)})):
            found.destroy()

    def _with_private_key(
        self, tenant_id: str, operation: Callable[[_PrivateObject], bytes]
    ) -> bytes:
        """Run ``operation`` with the ring's private key; a stale handle is looked up once more
        (a destruction or withdrawal by another process: the fresh lookup says so)."""
        check_tenant_id(tenant_id)
        with self._lock, _provider_errors():
            try:
                return operation(self._private_key(tenant_id, fresh=False))
            except _STALE_HANDLE:
                return operation(self._private_key(tenant_id, fresh=True))

    def _private_key(self, tenant_id: str, *, fresh: bool) -> _PrivateObject:
        known = self._lookup(tenant_id, fresh=fresh)
        if known.private is None and not known.destroyed and not fresh:
            known = self._lookup(tenant_id, fresh=True)  # perhaps made by another process since
        _check_live(tenant_id, known)
        if known.private is None:
            raise KeyNotFound.without_private_key(tenant_id)
        return known.private

    def _generate_secret(self, tenant_id: str, key_spec: str) -> None:
        self._session.generate_key(
            KeyType.GENERIC_SECRET,
            mac.key_size(key_spec) * 8,
            store=True,
            capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
            mechanism=Mechanism.GENERIC_SECRET_KEY_GEN,
            template=_secret_template(tenant_id, key_spec),
        )

    def _generate_key_pair(self, tenant_id: str, key_spec: str, rsa_decrypt: bool) -> bytes:
        """Generate the pair; the private half stays, the public half answers as SPKI DER."""
        private_template = _key_pair_private_template(tenant_id, key_spec, rsa_decrypt)
        public_template: dict[Attribute, Any] = {
            Attribute.ID: _ring_id(tenant_id),
            Attribute.LABEL: f"{_PUBLIC_LABEL_PREFIX}{tenant_id}",
            Attribute.TOKEN: False,  # a session object, destroyed below
            Attribute.WRAP: False,
        }
        usage = (
            MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT
            if rsa_decrypt
            else MechanismFlag.SIGN | MechanismFlag.VERIFY
        )
        if key_spec in RSA_KEY_SPECS:
            public, _ = self._session.generate_keypair(
                KeyType.RSA,
                rsa_bits(key_spec),  # python-pkcs11 sets the public exponent, 65537
                store=True,
                capabilities=usage,
                mechanism=Mechanism.RSA_PKCS_KEY_PAIR_GEN,
                public_template=public_template,
                private_template=private_template,
            )
        else:
            public, _ = self._session.generate_keypair(
                KeyType.EC,
                store=True,
                capabilities=usage,
                mechanism=Mechanism.EC_KEY_PAIR_GEN,
                public_template={
                    **public_template,
                    Attribute.EC_PARAMS: encode_named_curve_parameters(ec_curve(key_spec).name),
                },
                private_template=private_template,
            )
        try:
            return _public_key_info(key_spec, public)
        finally:
            public.destroy()

    def _tombstone(self, tenant_id: str) -> pkcs11.Object | None:
        for found in self._session.get_objects(
            {Attribute.CLASS: ObjectClass.DATA, Attribute.LABEL: _TOMBSTONE_PREFIX + tenant_id}
        ):
            return found
        return None


def _ring_id(tenant_id: str) -> bytes:
    """The ``CKA_ID`` of every object of the ring."""
    return _KEK_ID_PREFIX + tenant_id.encode("ascii")


def _kek_template(tenant_id: str, version: int) -> dict[Attribute, Any]:
    """The attributes of every KEK object, generated or imported."""
    return {
        Attribute.CLASS: ObjectClass.SECRET_KEY,
        Attribute.KEY_TYPE: KeyType.AES,
        Attribute.ID: _ring_id(tenant_id),
        Attribute.LABEL: f"{_KEK_LABEL_PREFIX}{tenant_id}:v{version}",
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


def _private_template(tenant_id: str, label: str) -> dict[Attribute, Any]:
    """What a ring's private key or secret shares with its KEKs: in the token for good, never
    out of it, and no use but its own (the callers add it)."""
    return {
        Attribute.ID: _ring_id(tenant_id),
        Attribute.LABEL: label,
        Attribute.TOKEN: True,
        Attribute.PRIVATE: True,
        Attribute.SENSITIVE: True,
        Attribute.EXTRACTABLE: False,
        Attribute.UNWRAP: False,
        Attribute.DERIVE: False,
    }


def _key_pair_private_template(
    tenant_id: str, key_spec: str, rsa_decrypt: bool
) -> dict[Attribute, Any]:
    """The attributes of a ring's RSA or EC private key, generated or imported: to sign, or
    (an RSA key that ``rsa_decrypt``) to decrypt."""
    label = f"{_PRIVATE_LABEL_PREFIX}{tenant_id}:{key_spec}"
    return {
        **_private_template(tenant_id, label + _DECRYPT_SUFFIX if rsa_decrypt else label),
        Attribute.SIGN: not rsa_decrypt,
        Attribute.SIGN_RECOVER: False,
        Attribute.DECRYPT: rsa_decrypt,
    }


def _secret_template(tenant_id: str, key_spec: str) -> dict[Attribute, Any]:
    """The attributes of a ring's HMAC secret, generated or imported: HMAC only."""
    return {
        **_private_template(tenant_id, f"{_HMAC_KEY_LABEL_PREFIX}{tenant_id}:{key_spec}"),
        Attribute.CLASS: ObjectClass.SECRET_KEY,
        Attribute.KEY_TYPE: KeyType.GENERIC_SECRET,
        Attribute.SIGN: True,
        Attribute.VERIFY: True,
        Attribute.ENCRYPT: False,
        Attribute.DECRYPT: False,
        Attribute.WRAP: False,
    }


def _private_numbers(
    key_spec: str, private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
) -> dict[Attribute, Any]:
    """The key-type attributes of an imported private key: PKCS#11's big-endian integers of an
    RSA key's CRT form, or an EC key's curve and scalar (as long as the curve's order)."""
    if isinstance(private, rsa.RSAPrivateKey):
        numbers = private.private_numbers()
        return {
            Attribute.KEY_TYPE: KeyType.RSA,
            Attribute.MODULUS: biginteger(numbers.public_numbers.n),
            Attribute.PUBLIC_EXPONENT: biginteger(numbers.public_numbers.e),
            Attribute.PRIVATE_EXPONENT: biginteger(numbers.d),
            Attribute.PRIME_1: biginteger(numbers.p),
            Attribute.PRIME_2: biginteger(numbers.q),
            Attribute.EXPONENT_1: biginteger(numbers.dmp1),
            Attribute.EXPONENT_2: biginteger(numbers.dmq1),
            Attribute.COEFFICIENT: biginteger(numbers.iqmp),
        }
    curve = ec_curve(key_spec)
    return {
        Attribute.KEY_TYPE: KeyType.EC,
        Attribute.EC_PARAMS: encode_named_curve_parameters(curve.name),
        Attribute.VALUE: private.private_numbers().private_value.to_bytes(
            (curve.key_size + 7) // 8
        ),
    }


def _private_object(tenant_id: str, label: str, found: pkcs11.Object) -> _PrivateObject | None:
    """The ring's private key if ``found`` is one (by its label and class), else None."""
    for prefix, kind in (
        (_PRIVATE_LABEL_PREFIX, pkcs11.PrivateKey),
        (_HMAC_KEY_LABEL_PREFIX, pkcs11.SecretKey),
    ):
        ring_prefix = f"{prefix}{tenant_id}:"
        if label.startswith(ring_prefix) and isinstance(found, kind):
            key_spec = label[len(ring_prefix) :]
            rsa_decrypt = key_spec.endswith(_DECRYPT_SUFFIX)
            key_spec = key_spec.removesuffix(_DECRYPT_SUFFIX)
            if key_spec in PRIVATE_KEY_SPECS:
                return _PrivateObject(key_spec=key_spec, rsa_decrypt=rsa_decrypt, key=found)
    return None


_Capability = TypeVar("_Capability", SignMixin, DecryptMixin)


def _capable(held: _PrivateObject, capability: type[_Capability]) -> _Capability:
    """The key object, with the mixin python-pkcs11 gives it for the capability it was made
    with (a token object altered since may lack it)."""
    if not isinstance(held.key, capability):
        raise ProviderError(f"the ring's {held.key_spec} key object cannot do this")
    return held.key


def _public_key_info(key_spec: str, public: pkcs11.Object) -> bytes:
    """The SubjectPublicKeyInfo DER of a public key object just generated."""
    public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey
    if key_spec in RSA_KEY_SPECS:
        public_key = rsa.RSAPublicNumbers(
            int.from_bytes(public[Attribute.PUBLIC_EXPONENT]),
            int.from_bytes(public[Attribute.MODULUS]),
        ).public_key()
    else:
        curve = ec_curve(key_spec)
        point = _uncompressed_point(bytes(public[Attribute.EC_POINT]), curve)
        public_key = ec.EllipticCurvePublicKey.from_encoded_point(curve, point)
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _uncompressed_point(ec_point: bytes, curve: ec.EllipticCurve) -> bytes:
    """The point of ``CKA_EC_POINT``: a DER OCTET STRING around it (PKCS#11 2.40), or the bare
    point (tokens of older versions of the standard)."""
    size = 1 + 2 * ((curve.key_size + 7) // 8)  # 0x04 | x | y
    if len(ec_point) == size:
        return ec_point
    header = bytes([0x04, size]) if size < 0x80 else bytes([0x04, 0x81, size])
    if not ec_point.startswith(header) or len(ec_point) != len(header) + size:
        raise ProviderError("the token answered an EC point this provider cannot read")
    return ec_point[len(header) :]


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
    private: _PrivateObject | None

    def ring(self, tenant_id: str) -> TenantKeyRing:
        if self.destroyed:
            raise KeyDestroyed.for_tenant(tenant_id)
        if not self.keys:
            raise KeyWithdrawn.for_tenant(tenant_id)
        return TenantKeyRing(tenant_id=tenant_id, versions=tuple(sorted(self.keys)))


class _PrivateObject(NamedTuple):
    """The ring's private key (a ``PrivateKey``) or HMAC secret (a ``SecretKey``) object."""

    key_spec: str
    rsa_decrypt: bool
    key: pkcs11.Object


class _Hash(NamedTuple):
    """A hash's PKCS#11 names, for each mechanism that uses it."""

    mechanism: Mechanism
    mgf: MGF
    rsa_pkcs1: Mechanism
    rsa_pss: Mechanism
    hmac: Mechanism
    digest_info: bytes  # DER DigestInfo of a digest of this hash, up to the digest


_HASHES: dict[str, _Hash] = {
    # RFC 8017 section 9.2, note 1, for the DigestInfo prefixes.
    "sha1": _Hash(
        Mechanism.SHA_1, MGF.SHA1, Mechanism.SHA1_RSA_PKCS, Mechanism.SHA1_RSA_PKCS_PSS,
        Mechanism.SHA_1_HMAC, bytes.fromhex("3021300906052b0e03021a05000414"),
    ),
    "sha224": _Hash(
        Mechanism.SHA224, MGF.SHA224, Mechanism.SHA224_RSA_PKCS, Mechanism.SHA224_RSA_PKCS_PSS,
        Mechanism.SHA224_HMAC, bytes.fromhex("302d300d06096086480165030402040500041c"),
    ),
    "sha256": _Hash(
        Mechanism.SHA256, MGF.SHA256, Mechanism.SHA256_RSA_PKCS, Mechanism.SHA256_RSA_PKCS_PSS,
        Mechanism.SHA256_HMAC, bytes.fromhex("3031300d060960864801650304020105000420"),
    ),
    "sha384": _Hash(
        Mechanism.SHA384, MGF.SHA384, Mechanism.SHA384_RSA_PKCS, Mechanism.SHA384_RSA_PKCS_PSS,
        Mechanism.SHA384_HMAC, bytes.fromhex("3041300d060960864801650304020205000430"),
    ),
    "sha512": _Hash(
        Mechanism.SHA512, MGF.SHA512, Mechanism.SHA512_RSA_PKCS, Mechanism.SHA512_RSA_PKCS_PSS,
        Mechanism.SHA512_HMAC, bytes.fromhex("3051300d060960864801650304020305000440"),
    ),
}  # fmt: skip


@contextlib.contextmanager
def _provider_errors() -> Iterator[None]:
    """Translate a library failure into ProviderError at the edge (domain errors pass)."""
    try:
        yield
    except PKCS11Error as exc:
        raise ProviderError(f"PKCS#11 call failed: {type(exc).__name__}") from exc
