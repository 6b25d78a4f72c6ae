"""DynamoDB items sealed at rest (decision 0237): the ``dynamodb.service.ItemSealer`` over the
account's key ring.

Each table gets one data key of its account's ring when it is made, kept wrapped in its row.
Two keys are derived from it (HKDF-SHA256): one MACs the hash key's value (HMAC-SHA256), so
that the database holds no partition key in clear yet a query finds its items by equality;
the other seals each item whole (AES-256-GCM, a random nonce, its AAD the table's ARN and
creation time and the item's two key tokens, so a sealed item cannot be moved to another key
or table). Destroying the account's ring makes every item unreadable and every hash key
unmatchable. The sort key's sortable encoding stays in clear: it is what orders a query.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import struct
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from andromede.dynamodb.errors import KeyUnusable
from andromede.dynamodb.model import StoredItem, Table
from andromede.kms.errors import InvalidWrappedKey, KeyDestroyed, KeyNotFound, KeyWithdrawn
from andromede.kms.service import KeyService

__all__ = ["DynamoItemSealer", "SealedItemUnreadable"]

_FORMAT: Final = b"\x01"
_NONCE: Final = 12
_CACHE: Final = 1024  # tables whose derived keys are remembered


class SealedItemUnreadable(KeyUnusable):
    """The table's key cannot be opened (the account's ring destroyed) or an item is altered."""


def _derive(data_key: bytes, purpose: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=None, info=b"andromede-dynamodb-" + purpose).derive(
        data_key
    )


class DynamoItemSealer:
    def __init__(self, keys: KeyService) -> None:
        self._keys = keys
        self._rings: set[str] = set()
        self._derived: dict[tuple[str, bytes], tuple[bytes, AESGCM]] = {}

    def _new_key(self, tenant_id: str) -> bytes:
        if tenant_id not in self._rings:
            self._keys.ensure_tenant_key(tenant_id)  # made on first use, as for objects
            self._rings.add(tenant_id)
        return bytes(self._keys.new_data_key(tenant_id).wrapped)

    async def new_table_key(self, tenant_id: str) -> bytes:
        return await asyncio.to_thread(self._new_key, tenant_id)

    def _unwrap(self, table: Table) -> tuple[bytes, AESGCM]:
        try:
            plaintext = self._keys.unwrap_data_key(table.tenant_id, table.wrapped_key)
        except (KeyDestroyed, KeyNotFound, KeyWithdrawn, InvalidWrappedKey) as exc:
            raise SealedItemUnreadable(
                f"The table's key cannot be opened: {type(exc).__name__}"
            ) from None
        key = bytes(plaintext)
        return _derive(key, b"hash"), AESGCM(_derive(key, b"seal"))

    async def _keys_of(self, table: Table) -> tuple[bytes, AESGCM]:
        cache_key = (table.tenant_id, table.wrapped_key)
        held = self._derived.get(cache_key)
        if held is not None:
            try:  # a ring destroyed since refuses at once, as the objects' keys do
                self._keys.check_usable(table.tenant_id)
            except (KeyDestroyed, KeyNotFound, KeyWithdrawn) as exc:
                del self._derived[cache_key]
                raise SealedItemUnreadable(
                    f"The table's key cannot be opened: {type(exc).__name__}"
                ) from None
        else:
            held = await asyncio.to_thread(self._unwrap, table)
            if len(self._derived) >= _CACHE:
                self._derived.pop(next(iter(self._derived)))
            self._derived[cache_key] = held
        return held

    async def hash_token(self, table: Table, canonical: bytes) -> bytes:
        mac_key, _ = await self._keys_of(table)
        return hmac.new(mac_key, canonical, hashlib.sha256).digest()

    @staticmethod
    def _aad(table: Table, hash_token: bytes, sort_token: bytes) -> bytes:
        head = f"dynamodb\n{table.arn}\n{table.created}\n".encode()
        return head + struct.pack(">I", len(hash_token)) + hash_token + sort_token

    async def seal(self, table: Table, hash_token: bytes, sort_token: bytes, data: bytes) -> bytes:
        _, cipher = await self._keys_of(table)
        nonce = os.urandom(_NONCE)
        aad = self._aad(table, hash_token, sort_token)
        return _FORMAT + nonce + cipher.encrypt(nonce, data, aad)

    async def open(self, table: Table, item: StoredItem) -> bytes:
        _, cipher = await self._keys_of(table)
        sealed = item.sealed
        if sealed[:1] != _FORMAT:
            raise SealedItemUnreadable("unknown sealed item format")
        aad = self._aad(table, item.hash_token, item.sort_token)
        try:
            return cipher.decrypt(sealed[1 : 1 + _NONCE], sealed[1 + _NONCE :], aad)
        except InvalidTag:
            raise SealedItemUnreadable(
                "a stored item does not open under its table's key"
            ) from None

    def forget(self, tenant_id: str) -> None:
        """The derived keys of a closed account's tables dropped from memory."""
        for key in [k for k in self._derived if k[0] == tenant_id]:
            del self._derived[key]
        self._rings.discard(tenant_id)
