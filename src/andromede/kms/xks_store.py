"""Where external key stores live: the ``CustomKeyStoreStore`` protocol and its in-memory twin
(the SQL implementation is ``xks_store_sql.py``).

Stores are per account: every read names the tenant, so one tenant never reads another's
store, even by id. Names, and proxy URIs (endpoint + path), are unique within an account;
store ids are unique everywhere. Listings are in store id order, resumed after a marker. A
change names the revision it was computed from and fails if another writer changed the store.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from andromede.kms.xks_errors import (
    CustomKeyStoreLimitExceeded,
    CustomKeyStoreNameInUse,
    CustomKeyStoreNotFound,
    XksProxyUriInUse,
)
from andromede.kms.xks_model import CustomKeyStore

__all__ = ["CustomKeyStoreStore", "MemoryCustomKeyStoreStore"]


class CustomKeyStoreStore(Protocol):
    async def insert_store(self, store: CustomKeyStore, *, limit: int) -> None:
        """Add a store while its account has fewer than ``limit`` (the count and the insertion
        are one step); ``CustomKeyStoreLimitExceeded``, ``CustomKeyStoreNameInUse`` or
        ``XksProxyUriInUse`` otherwise."""

    async def get_store(self, tenant_id: str, store_id: str) -> CustomKeyStore | None: ...

    async def find_store(self, tenant_id: str, name: str) -> CustomKeyStore | None:
        """The account's store of that name."""

    async def list_stores(
        self, tenant_id: str, *, after: str | None, limit: int
    ) -> list[CustomKeyStore]:
        """The account's stores in store id order, after ``after``."""

    async def replace_store(self, store: CustomKeyStore) -> bool:
        """Write ``store`` (revision bumped) over the record at ``store.revision``; False if it
        changed since. ``CustomKeyStoreNotFound``, ``CustomKeyStoreNameInUse``,
        ``XksProxyUriInUse`` as for an insertion."""

    async def delete_store(self, tenant_id: str, store_id: str) -> bool:
        """Remove the store; whether it existed."""


class MemoryCustomKeyStoreStore:
    """The in-memory twin, for unit tests and as the contract suite's reference."""

    def __init__(self) -> None:
        self._stores: dict[str, CustomKeyStore] = {}

    def _check_unique(self, store: CustomKeyStore) -> None:
        for other in self._stores.values():
            if other.tenant_id != store.tenant_id or other.store_id == store.store_id:
                continue
            if other.name == store.name:
                raise CustomKeyStoreNameInUse(f"A custom key store named {store.name} exists")
            if (other.endpoint, other.uri_path) == (store.endpoint, store.uri_path):
                raise XksProxyUriInUse("Another external key store uses this proxy URI")

    async def insert_store(self, store: CustomKeyStore, *, limit: int) -> None:
        if store.store_id in self._stores:
            raise ValueError("duplicate store id")
        if sum(s.tenant_id == store.tenant_id for s in self._stores.values()) >= limit:
            raise CustomKeyStoreLimitExceeded(f"An account has at most {limit} custom key stores")
        self._check_unique(store)
        self._stores[store.store_id] = store

    async def get_store(self, tenant_id: str, store_id: str) -> CustomKeyStore | None:
        store = self._stores.get(store_id)
        return store if store is not None and store.tenant_id == tenant_id else None

    async def find_store(self, tenant_id: str, name: str) -> CustomKeyStore | None:
        return next(
            (s for s in self._stores.values() if s.tenant_id == tenant_id and s.name == name),
            None,
        )

    async def list_stores(
        self, tenant_id: str, *, after: str | None, limit: int
    ) -> list[CustomKeyStore]:
        stores = sorted(
            (s for s in self._stores.values() if s.tenant_id == tenant_id),
            key=lambda s: s.store_id,
        )
        return [s for s in stores if after is None or s.store_id > after][:limit]

    async def replace_store(self, store: CustomKeyStore) -> bool:
        stored = self._stores.get(store.store_id)
        if stored is None or stored.tenant_id != store.tenant_id:
            raise CustomKeyStoreNotFound(f"Custom key store {store.store_id} does not exist")
        if stored.revision != store.revision:
            return False
        self._check_unique(store)
        self._stores[store.store_id] = replace(store, revision=store.revision + 1)
        return True

    async def delete_store(self, tenant_id: str, store_id: str) -> bool:
        store = self._stores.get(store_id)
        if store is None or store.tenant_id != tenant_id:
            return False
        del self._stores[store_id]
        return True
