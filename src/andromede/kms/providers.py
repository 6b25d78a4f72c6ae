"""The interface every root-key provider implements (local key file, PKCS#11 HSM).

A provider is the only place tenant key-encryption keys (KEKs) exist. It creates, versions,
lists and destroys them, and seals/opens data keys with them, so that a KEK never has to be
handed to the caller: with PKCS#11 the KEKs are non-extractable token objects and the sealing
happens inside the token; with the key file they are sealed under the root key in the keystore
file and opened only for the length of one call.

Destruction is final: the provider keeps a tombstone (the tenant id, no key material) so that
later calls say :class:`~andromede.kms.errors.KeyDestroyed` rather than "not found", and
refuses to create keys for that tenant id again.

Imported material (KMS keys with Origin EXTERNAL, AWS ImportKeyMaterial) is the one exception
to "the provider makes its KEKs": the ring's only version, 1, is the customer's 256-bit key,
used as the AES-256-GCM KEK exactly as a generated one is. Withdrawing it (AWS
DeleteImportedKeyMaterial) destroys the version *without* a tombstone, so the same material
imported again opens what it sealed before; until then every call that needs a key of the
ring, ``check_usable`` included, says :class:`~andromede.kms.errors.KeyWithdrawn` (a
``KeyNotFound``). The provider keeps no trace of a withdrawal: a withdrawn ring is a ring never
made (whether a ring is generated or imported, and so whether ``create_tenant_key`` or
``import_tenant_key`` is the call to make, is the KMS key's record).

Calls block (file I/O, HSM round trips); async callers run cache misses in a thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from andromede.kms.model import TenantKeyRing

__all__ = ["RootKeyProvider"]


class RootKeyProvider(Protocol):
    """Holder of the tenant KEKs, under a root of trust it never lets go of."""

    def create_tenant_key(self, tenant_id: str) -> TenantKeyRing:
        """Create version 1; ``KeyAlreadyExists`` if it has keys, ``KeyDestroyed`` if it had."""
        ...

    def import_tenant_key(self, tenant_id: str, material: bytes) -> TenantKeyRing:
        """Create version 1 with ``material`` (``KEK_SIZE`` bytes, else ``ValueError``) as its
        KEK; ``KeyAlreadyExists`` if the ring has keys, ``KeyDestroyed`` if it had. The
        material passes through this process once, here, and is then kept only as the
        provider keeps its generated KEKs."""
        ...

    def withdraw_tenant_key(self, tenant_id: str) -> None:
        """Destroy every version of the ring and leave *no* tombstone, so that
        :meth:`import_tenant_key` may make it again. Idempotent; nothing to do for a ring
        never made or already destroyed."""
        ...

    def rotate_tenant_key(self, tenant_id: str) -> TenantKeyRing:
        """Add a version that becomes current; older versions keep opening what they sealed."""
        ...

    def destroy_tenant_key(self, tenant_id: str) -> None:
        """Destroy every version of the tenant's KEK and leave a tombstone. Idempotent."""
        ...

    def tenant_key_ring(self, tenant_id: str) -> TenantKeyRing:
        """The tenant's live versions; ``KeyWithdrawn`` (a ``KeyNotFound``: none, withdrawn or
        never made) or ``KeyDestroyed`` otherwise."""
        ...

    def current_version(self, tenant_id: str) -> int:
        """The version that wraps new data keys: ``tenant_key_ring(tenant_id).current``, asked
        on every new data key, so a provider answers it as cheaply as it can."""
        ...

    def list_tenants(self) -> list[str]:
        """Tenant ids that hold live KEKs, sorted."""
        ...

    def check_usable(self, tenant_id: str) -> None:
        """``KeyDestroyed`` if the tenant's KEKs were destroyed, ``KeyWithdrawn`` if the ring
        holds none (withdrawn, or never made), by this instance or another process. Cheap (it
        runs on every data-key cache hit): the key file answers from its keystore as last
        rechecked (``key_file_recheck_interval``), a token from the handles it holds, which a
        destruction or withdrawal anywhere invalidates at once. A ring found empty is looked
        up again at once (another process may have made or imported it since)."""
        ...

    def seal(self, tenant_id: str, kek_version: int, plaintext: bytes, aad: bytes) -> bytes:
        """AES-256-GCM under the KEK version with a fresh nonce: ``nonce | ciphertext | tag``."""
        ...

    def seal_many(
        self, tenant_id: str, kek_version: int, plaintexts: Sequence[bytes], aad: bytes
    ) -> list[bytes]:
        """:meth:`seal` of each of ``plaintexts`` (each with its own fresh nonce), in order:
        fresh data keys made a batch at a time."""
        ...

    def open(self, tenant_id: str, kek_version: int, sealed: bytes, aad: bytes) -> bytearray:
        """Inverse of :meth:`seal`; ``InvalidWrappedKey`` when authentication fails."""
        ...

    def close(self) -> None:
        """Release files, sessions and library handles."""
        ...
