"""Domain errors of key management. No HTTP here: the wire adapters map them to wire errors.

No message carries key material, a wrapped key or a plaintext byte: only identifiers
(tenant id, KEK version, chunk index) that help an operator find the damaged object.

AndromedeError
└── KmsError
    ├── IntegrityError                  stored bytes are not what was written: never wrong bytes
    │   ├── UnsupportedFormatVersion    a format version this code does not read
    │   └── InvalidWrappedKey           a wrapped data key that is malformed or fails to unwrap
    ├── ExternalLayerNeeded             a data key in two layers (an external key store's) that
    │                                   is not cached: its outer layer needs the customer's proxy
    ├── TenantKeyError
    │   ├── KeyNotFound                 no key-encryption key (or no such version, or no private
    │   │                               key) for the tenant
    │   │   └── KeyWithdrawn            its imported material was deleted; it may be imported again
    │   ├── KeyDestroyed                the tenant's keys were destroyed (crypto-shredded)
    │   └── KeyAlreadyExists            create_tenant_key on a tenant that has one (or
    │                                   create_private_key on a ring that has one, or an
    │                                   import of a version the ring holds, live or pending)
    └── ProviderError                   the root-key provider failed (I/O, token, login)
        └── AlgorithmNotOffered         the provider cannot do this algorithm (a token's limit)
"""

from __future__ import annotations

from andromede.errors import AndromedeError

__all__ = [
    "AlgorithmNotOffered",
    "ExternalLayerNeeded",
    "IntegrityError",
    "InvalidWrappedKey",
    "KeyAlreadyExists",
    "KeyDestroyed",
    "KeyNotFound",
    "KeyWithdrawn",
    "KmsError",
    "ProviderError",
    "TenantKeyError",
    "UnsupportedFormatVersion",
]


class KmsError(AndromedeError):
    """Base of key-management domain errors."""


class IntegrityError(KmsError):
    """Ciphertext failed authentication, or chunks are missing, extra, reordered or truncated."""


class UnsupportedFormatVersion(IntegrityError):
    """The format version byte is not one this code reads (tampering, or a newer writer)."""


class InvalidWrappedKey(IntegrityError):
    """A wrapped data key is malformed, names another tenant, or fails authentication."""


class ExternalLayerNeeded(KmsError):
    """The key service was asked for the data key inside a two-layer wrapped form
    (``kms.external_keys``) that it does not hold: only the customer's XKS proxy can take the
    outer layer off, and the key service never calls it (it is synchronous, the proxy is a
    network call). The async caller asks the proxy, hands the inner form back
    (``KeyService.open_external_data_key``), and tries again."""

    def __init__(self, ring: str, wrapped: bytes, bound_context: bytes) -> None:
        super().__init__(f"the data key of ring {ring} needs its external key store's proxy")
        self.ring = ring
        self.wrapped = wrapped
        self.bound_context = bound_context


class TenantKeyError(KmsError):
    """A problem with a tenant's key-encryption keys."""

    def __init__(self, message: str, *, tenant_id: str) -> None:
        super().__init__(message)
        self.tenant_id = tenant_id


class KeyNotFound(TenantKeyError):
    """The tenant has no key-encryption key, or not the version a wrapped key names."""

    @classmethod
    def for_tenant(cls, tenant_id: str, version: int | None = None) -> KeyNotFound:
        if version is None:
            return cls(f"tenant {tenant_id} has no key-encryption key", tenant_id=tenant_id)
        return cls(f"tenant {tenant_id} has no key version {version}", tenant_id=tenant_id)

    @classmethod
    def without_private_key(cls, tenant_id: str) -> KeyNotFound:
        return cls(f"key ring {tenant_id} holds no private key", tenant_id=tenant_id)


class KeyWithdrawn(KeyNotFound):
    """The ring holds no key: its imported material was withdrawn (AWS
    DeleteImportedKeyMaterial), and importing the same material again makes what it sealed
    open again. A provider keeps no trace of a withdrawal, so a ring never made is said to be
    withdrawn too; a version missing from a ring that has others is plain ``KeyNotFound``."""

    @classmethod
    def for_tenant(cls, tenant_id: str, version: int | None = None) -> KeyWithdrawn:
        # ``version``: KeyNotFound's signature; this says the ring holds no live version.
        return cls(
            f"the key material of tenant {tenant_id} was withdrawn (or never made); "
            "it may be imported again",
            tenant_id=tenant_id,
        )

    @classmethod
    def for_version(cls, tenant_id: str, version: int) -> KeyWithdrawn:
        """A version to promote that the ring holds neither pending nor live."""
        return cls(
            f"key ring {tenant_id} holds no key version {version}, pending or live: withdrawn "
            "(or never made); it may be imported again",
            tenant_id=tenant_id,
        )


class KeyDestroyed(TenantKeyError):
    """The tenant's key-encryption keys were destroyed: what they wrapped is unreadable for good."""

    @classmethod
    def for_tenant(cls, tenant_id: str) -> KeyDestroyed:
        return cls(f"the keys of tenant {tenant_id} were destroyed", tenant_id=tenant_id)


class KeyAlreadyExists(TenantKeyError):
    """The tenant already has a key-encryption key (rotate it instead)."""

    @classmethod
    def for_tenant(cls, tenant_id: str) -> KeyAlreadyExists:
        return cls(f"tenant {tenant_id} already has a key", tenant_id=tenant_id)

    @classmethod
    def for_version(cls, tenant_id: str, version: int) -> KeyAlreadyExists:
        return cls(
            f"key ring {tenant_id} already holds key version {version} (live or pending)",
            tenant_id=tenant_id,
        )

    @classmethod
    def holding_private_key(cls, tenant_id: str) -> KeyAlreadyExists:
        return cls(f"key ring {tenant_id} already holds a private key", tenant_id=tenant_id)


class ProviderError(KmsError):
    """The root-key provider failed: keystore I/O, HSM library, token or login."""


class AlgorithmNotOffered(ProviderError):
    """The provider cannot do this algorithm, whatever the input (SoftHSM2 2.6 has no
    RSAES-OAEP with SHA-256): a refusal of the request, not a failure of the provider."""
