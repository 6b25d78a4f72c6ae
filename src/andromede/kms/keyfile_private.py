"""The key-file provider's private keys: a ring's signing, RSA decryption, key-agreement or HMAC
key, made here or imported, sealed under the root key in the keystore's ``private`` section,
and opened for the length of one ``sign``, ``decrypt_private``, ``derive_shared_secret``,
``decapsulate`` or ``mac`` call (see ``keyfile.py``'s docstring).

Mixed into :class:`~andromede.kms.keyfile.LocalKeyFileProvider`; split off only for size.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization

from andromede.kms import asymmetric, mac
from andromede.kms.errors import InvalidWrappedKey, ProviderError
from andromede.kms.keyfile_files import KeyFileCore
from andromede.kms.keyfile_keystore import _Keystore, _private_key_aad, _SealedPrivateKey
from andromede.kms.model import NONCE_SIZE, check_tenant_id
from andromede.kms.providers import (
    check_agreement_key,
    check_decryption_key,
    check_mac_key,
    check_private_key_material,
    check_private_key_spec,
    check_signing_key,
)

__all__ = ["PrivateKeysMixin"]


class PrivateKeysMixin(KeyFileCore):
    """Rings' private keys (mixed into LocalKeyFileProvider)."""

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
