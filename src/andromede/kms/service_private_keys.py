"""KeyService's private keys held by the root-key provider (KMS asymmetric and HMAC keys):
made or imported inside the provider, and used there for one ``sign``, ``decrypt_private``,
``mac``, ``decapsulate`` or ``derive_shared_secret`` each. KeyService checks the ring's id and
passes the call on.

Mixed into :class:`~andromede.kms.service.KeyService`; split off only for size.
"""

from __future__ import annotations

from andromede.kms.model import check_tenant_id
from andromede.kms.providers import RootKeyProvider

__all__ = ["PrivateKeysMixin"]


class PrivateKeysMixin:
    """Private keys held by the provider (mixed into KeyService)."""

    _provider: RootKeyProvider

    def create_private_key(
        self,
        tenant_id: str,
        key_spec: str,
        *,
        rsa_decrypt: bool = False,
        key_agreement: bool = False,
    ) -> bytes:
        """Make the ring's private key (or HMAC secret) inside the provider; its public key
        (SubjectPublicKeyInfo DER), ``b""`` for HMAC. See ``RootKeyProvider``."""
        return self._provider.create_private_key(
            check_tenant_id(tenant_id),
            key_spec,
            rsa_decrypt=rsa_decrypt,
            key_agreement=key_agreement,
        )

    def import_private_key(
        self,
        tenant_id: str,
        key_spec: str,
        material: bytes,
        *,
        rsa_decrypt: bool = False,
        key_agreement: bool = False,
    ) -> bytes:
        """Make the ring's private key (or HMAC secret) from the customer's ``material``
        (PKCS#8 DER, or the secret); its public key, ``b""`` for HMAC; ``MaterialMismatch``
        when the material does not fit ``key_spec``. See ``RootKeyProvider``."""
        return self._provider.import_private_key(
            check_tenant_id(tenant_id),
            key_spec,
            material,
            rsa_decrypt=rsa_decrypt,
            key_agreement=key_agreement,
        )

    def sign(self, tenant_id: str, algorithm: str, message: bytes, *, digest: bool) -> bytes:
        return self._provider.sign(check_tenant_id(tenant_id), algorithm, message, digest=digest)

    def decrypt_private(self, tenant_id: str, algorithm: str, ciphertext: bytes) -> bytes:
        return self._provider.decrypt_private(check_tenant_id(tenant_id), algorithm, ciphertext)

    def mac(self, tenant_id: str, algorithm: str, message: bytes) -> bytes:
        return self._provider.mac(check_tenant_id(tenant_id), algorithm, message)

    def decapsulate(self, tenant_id: str, algorithm: str, ciphertext: bytes) -> bytes:
        return self._provider.decapsulate(check_tenant_id(tenant_id), algorithm, ciphertext)

    def derive_shared_secret(self, tenant_id: str, algorithm: str, peer_public_key: bytes) -> bytes:
        return self._provider.derive_shared_secret(
            check_tenant_id(tenant_id), algorithm, peer_public_key
        )
