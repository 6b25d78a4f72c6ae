"""Ed25519 key pairs of the platform itself held in the PKCS#11 token (decision 0134).

The region's audit log signing key lives here when the root key provider is the token: a key
pair generated inside it (``CKM_EC_EDWARDS_KEY_PAIR_GEN``, curve edwards25519, named by its
OID 1.3.101.112 in ``CKA_EC_PARAMS``), the private half a token object that is sensitive,
not extractable and good for signing alone; the public half a token object too, since a
private EdDSA key carries no ``CKA_EC_POINT`` to read the public key back from. Both halves
have the caller's ``CKA_LABEL`` and a random ``CKA_ID`` of their own, which pairs them and,
when two processes each made a pair under one label, orders the pairs the same way for
every process. Signing is ``C_Sign`` with ``CKM_EDDSA`` (pure Ed25519, no pre-hash, no
context): the signature is the one RFC 8032 defines, byte for byte what a key file's seed
would give, so nothing downstream knows where the key lives. The seed never leaves the token.

The same generation, signing and public key reading serve the ``ECC_NIST_EDWARDS25519``
KMS keys a tenant's ring holds in the token (decision 0135): :func:`generate_ed25519_pair`,
:func:`ed25519_sign` and :func:`ed25519_public_key` take the caller's templates and objects,
so :mod:`.hsm` labels and pairs them as it does its RSA and EC keys, and
:func:`ed25519_private_attributes` enters a customer's imported seed as such a key.

These functions run on the provider's one session under its lock (see :mod:`.hsm` for why
one session per process); a key's ``sign`` takes that lock itself. The audit key's functions
turn library failures into :class:`ProviderError`; the lower-level ones let them through to
the provider, which tells a stale handle from a failure. A token without the two mechanisms
is :class:`AlgorithmNotOffered` before anything is asked of it.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Final, cast

from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass, Session
from pkcs11.exceptions import KeyHandleInvalid, ObjectHandleInvalid, PKCS11Error
from pkcs11.types import PrivateKey, PublicKey, SignMixin

from andromede.kms.errors import AlgorithmNotOffered, ProviderError

__all__ = [
    "TokenEd25519Key",
    "create_ed25519_key",
    "ed25519_private_attributes",
    "ed25519_public_key",
    "ed25519_sign",
    "find_ed25519_keys",
    "generate_ed25519_pair",
]

# DER of the OID id-Ed25519 (RFC 8410), which PKCS#11 3.0 accepts beside the printable
# string "edwards25519" and SoftHSM2 2.6 reads.
_EDWARDS25519_PARAMETERS: Final = bytes.fromhex("06032b6570")
_PAIR_ID_PREFIX: Final = b"andromede-ed25519:"
_PUBLIC_KEY_SIZE: Final = 32
_SEED_SIZE: Final = 32  # RFC 8032's private key, from which the token derives the scalar
_DER_OCTET_STRING_OF_32: Final = b"\x04\x20"
_NEEDED: Final = (Mechanism.EC_EDWARDS_KEY_PAIR_GEN, Mechanism.EDDSA)
_STALE_HANDLE: Final = (ObjectHandleInvalid, KeyHandleInvalid)
_SEARCHES: Final = 3


class TokenEd25519Key:
    """One Ed25519 key pair of the token: its public key, and signing inside the token."""

    __slots__ = ("_lock", "_private", "_public", "key_id", "public_key")

    def __init__(
        self,
        lock: threading.Lock,
        private: PrivateKey,
        public: PublicKey,
        key_id: bytes,
        public_key: bytes,
    ) -> None:
        self._lock = lock
        self._private = private
        self._public = public
        self.key_id = key_id
        self.public_key = public_key

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message``, made in the token."""
        with self._lock:
            try:
                # python-pkcs11 makes a private key object of any type a SignMixin.
                return ed25519_sign(cast(SignMixin, self._private), message)
            except PKCS11Error as exc:
                raise ProviderError(f"PKCS#11 EdDSA signing failed: {type(exc).__name__}") from exc

    def destroy(self) -> None:
        """Remove both halves from the token (the pair of a process that lost a race)."""
        with self._lock:
            try:
                self._private.destroy()
                self._public.destroy()
            except PKCS11Error as exc:
                raise ProviderError(
                    f"PKCS#11 C_DestroyObject failed: {type(exc).__name__}"
                ) from exc


def find_ed25519_keys(session: Session, lock: threading.Lock, label: str) -> list[TokenEd25519Key]:
    """Every complete Ed25519 pair labelled ``label``, in ``CKA_ID`` order. Call with ``lock``
    held."""
    stale: PKCS11Error | None = None
    for _ in range(_SEARCHES):
        try:
            return _search_pairs(session, lock, label)
        except _STALE_HANDLE as exc:
            stale = exc  # a pair another process destroyed while it was listed: look again
    raise ProviderError(f"PKCS#11 search for {label!r} kept meeting destroyed objects") from stale


def _search_pairs(session: Session, lock: threading.Lock, label: str) -> list[TokenEd25519Key]:
    try:
        _check_mechanisms(session)
        publics: dict[bytes, PublicKey] = {}
        for found in session.get_objects(_search(ObjectClass.PUBLIC_KEY, label)):
            if isinstance(found, PublicKey):
                publics[bytes(found[Attribute.ID])] = found
        keys = []
        for found in session.get_objects(_search(ObjectClass.PRIVATE_KEY, label)):
            if not isinstance(found, PrivateKey):
                continue
            key_id = bytes(found[Attribute.ID])
            public = publics.get(key_id)
            if public is not None:  # a half-made pair (a crash mid-generation) is ignored
                keys.append(
                    TokenEd25519Key(lock, found, public, key_id, ed25519_public_key(public))
                )
    except _STALE_HANDLE:
        raise
    except PKCS11Error as exc:
        raise ProviderError(f"PKCS#11 search for {label!r} failed: {type(exc).__name__}") from exc
    return sorted(keys, key=lambda key: key.key_id)


def create_ed25519_key(session: Session, lock: threading.Lock, label: str) -> TokenEd25519Key:
    """A new Ed25519 pair labelled ``label``, generated in the token. Call with ``lock`` held."""
    key_id = _PAIR_ID_PREFIX + os.urandom(16)
    common: dict[Attribute, Any] = {
        Attribute.ID: key_id,
        Attribute.LABEL: label,
        Attribute.TOKEN: True,
    }
    try:
        public, private = generate_ed25519_pair(
            session,
            public_template={**common, Attribute.PRIVATE: False},
            private_template={
                **common,
                Attribute.PRIVATE: True,
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
                Attribute.UNWRAP: False,
            },
        )
        point = ed25519_public_key(public)
    except PKCS11Error as exc:
        raise ProviderError(f"PKCS#11 Ed25519 key generation failed: {type(exc).__name__}") from exc
    return TokenEd25519Key(lock, private, public, key_id, point)


def generate_ed25519_pair(
    session: Session,
    *,
    public_template: dict[Attribute, Any],
    private_template: dict[Attribute, Any],
) -> tuple[PublicKey, PrivateKey]:
    """``C_GenerateKeyPair`` of an edwards25519 pair, for signing alone, with the caller's
    identity and storage attributes (``CKA_ID``, ``CKA_LABEL``, ``CKA_TOKEN``, sensitivity);
    library failures pass through. Call with the session's lock held."""
    _check_mechanisms(session)
    public, private = session.generate_keypair(
        KeyType.EC_EDWARDS,
        store=True,
        capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
        mechanism=Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
        public_template={
            **public_template,
            Attribute.EC_PARAMS: _EDWARDS25519_PARAMETERS,
            Attribute.VERIFY: True,
            Attribute.ENCRYPT: False,
            Attribute.WRAP: False,
            Attribute.DERIVE: False,
        },
        private_template={
            **private_template,
            Attribute.SIGN: True,
            Attribute.DECRYPT: False,
            Attribute.DERIVE: False,
        },
    )
    return public, private


def ed25519_private_attributes(seed: bytes) -> dict[Attribute, Any]:
    """The key-type attributes of an Ed25519 private key entered by ``C_CreateObject``: the
    curve and the RFC 8032 seed (32 bytes) as ``CKA_VALUE``, from which the token derives the
    key as any Ed25519 implementation does, so it signs as the seed's owner would."""
    if len(seed) != _SEED_SIZE:
        raise ValueError(f"an Ed25519 seed is {_SEED_SIZE} bytes")
    return {
        Attribute.KEY_TYPE: KeyType.EC_EDWARDS,
        Attribute.EC_PARAMS: _EDWARDS25519_PARAMETERS,
        Attribute.VALUE: seed,
    }


def ed25519_sign(private: SignMixin, message: bytes) -> bytes:
    """The 64-byte pure Ed25519 signature of ``message`` by an Ed25519 private key object
    (``C_Sign`` with ``CKM_EDDSA``, no parameters: no pre-hash, no context). Library failures
    pass through; call with the session's lock held."""
    return bytes(private.sign(message, mechanism=Mechanism.EDDSA))


def ed25519_public_key(public: PublicKey) -> bytes:
    """The 32 bytes of an Ed25519 public key object (RFC 8032's encoding of the point)."""
    return _public_key_bytes(bytes(public[Attribute.EC_POINT]))


def _check_mechanisms(session: Session) -> None:
    offered = session.token.slot.get_mechanisms()
    if not all(mechanism in offered for mechanism in _NEEDED):
        raise AlgorithmNotOffered(
            f"the PKCS#11 token {session.token.label!r} offers no Ed25519 keys"
            " (CKM_EC_EDWARDS_KEY_PAIR_GEN and CKM_EDDSA, PKCS#11 3.0)"
        )


def _search(object_class: ObjectClass, label: str) -> dict[Attribute, Any]:
    return {
        Attribute.CLASS: object_class,
        Attribute.KEY_TYPE: KeyType.EC_EDWARDS,
        Attribute.LABEL: label,
    }


def _public_key_bytes(point: bytes) -> bytes:
    """The 32 bytes of an edwards25519 ``CKA_EC_POINT``: SoftHSM2 wraps them in a DER OCTET
    STRING, as for Weierstrass curves; PKCS#11 3.0 tokens may give them bare."""
    if len(point) == 2 + _PUBLIC_KEY_SIZE and point.startswith(_DER_OCTET_STRING_OF_32):
        return point[2:]
    if len(point) == _PUBLIC_KEY_SIZE:
        return point
    raise ProviderError("the token's Ed25519 public key is not 32 bytes")
