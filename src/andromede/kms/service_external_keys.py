"""KeyService's two-layer keys, for KMS keys in an external key store (decision 0094): the inner
form made and opened under the ring, never a call to the customer's proxy (a network call, the
async caller's); a ring marked external makes and opens no one-layer key bound to a context.

Mixed into :class:`~andromede.kms.service.KeyService`; split off only for size. Its data-key
paths (``new_data_key``, ``unwrap_data_key``) raise ``ExternalLayerNeeded`` for these rings and
take the keys :meth:`ExternalKeysMixin.open_external_data_key` hands over.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from andromede.kms.cache import DataKeyCache
from andromede.kms.errors import InvalidWrappedKey, KeyDestroyed, KeyWithdrawn
from andromede.kms.external_keys import ExternalWrappedKey, inner_bound
from andromede.kms.model import DATA_KEY_SIZE, data_key_aad
from andromede.kms.providers import RootKeyProvider

__all__ = ["ExternalKeysMixin"]

# With the cache switched off, two-layer keys just opened are kept for the one retry that
# follows, which takes them. Bounded: emptied when full.
_HANDOFF_SIZE = 1024


class ExternalKeysMixin:
    """Two-layer keys of external key stores (mixed into KeyService)."""

    _provider: RootKeyProvider
    _cache: DataKeyCache
    _caching: bool
    _external_rings: set[str]
    _handoff: dict[tuple[str, bytes], bytearray]
    provider_calls: Counter[str]

    if TYPE_CHECKING:  # KeyService's own

        def _forget_ring(self, tenant_id: str) -> None: ...

    def mark_external(self, ring: str) -> None:
        """``ring`` is a KMS key's of an external key store: from now on its keys bound to a
        context are two-layer only (made and opened through the proxy by the caller)."""
        self._external_rings.add(ring)

    def new_external_data_key(
        self, ring: str, bound_context: bytes
    ) -> tuple[bytearray, int, bytes]:
        """A fresh data key sealed under the ring's current KEK with the inner AAD: the
        plaintext (the caller zeroes it), the KEK version and the sealed inner form (60 bytes),
        which the caller has the proxy encrypt, then files with :meth:`file_external_data_key`."""
        try:
            version = self._provider.current_version(ring)
        except (KeyDestroyed, KeyWithdrawn):
            self._forget_ring(ring)
            raise
        key = os.urandom(DATA_KEY_SIZE)
        self.provider_calls[ring] += 1
        sealed = self._provider.seal(
            ring, version, key, data_key_aad(ring, version, inner_bound(bound_context))
        )
        return bytearray(key), version, sealed

    def file_external_data_key(
        self, ring: str, wrapped: bytes, bound_context: bytes, plaintext: bytearray
    ) -> AESGCM:
        """Cache the new data key ``plaintext`` under its two-layer form ``wrapped`` (a GET soon
        after the PUT needs no proxy call); its AES-GCM object, filed with it."""
        aead = AESGCM(bytes(plaintext))
        self._cache.put_many(ring, [(wrapped + bound_context, plaintext, aead)])
        return aead

    def open_external_data_key(
        self, ring: str, wrapped: bytes, bound_context: bytes, inner: bytes
    ) -> None:
        """Open ``inner`` (the sealed form the proxy took out of the two-layer ``wrapped``)
        under the ring and file the data key under ``wrapped``, for the retry that follows
        ``ExternalLayerNeeded`` and, for the cache lifetime, for later uses."""
        parsed = ExternalWrappedKey.decode(wrapped)
        if parsed.ring != ring:
            raise InvalidWrappedKey("wrapped data key belongs to another ring")
        self.provider_calls[ring] += 1
        plaintext = self._provider.open(
            ring,
            parsed.kek_version,
            inner,
            data_key_aad(ring, parsed.kek_version, inner_bound(bound_context)),
        )
        try:
            if len(plaintext) != DATA_KEY_SIZE:
                raise InvalidWrappedKey("wrapped data key does not hold a 256-bit key")
            cache_key = wrapped + bound_context
            if self._caching:
                self._cache.put(ring, cache_key, plaintext)
            else:  # no cache: held for the retry alone, which takes it
                if len(self._handoff) >= _HANDOFF_SIZE:
                    self._handoff.clear()
                self._handoff[(ring, cache_key)] = bytearray(plaintext)
        finally:
            plaintext[:] = bytes(len(plaintext))
