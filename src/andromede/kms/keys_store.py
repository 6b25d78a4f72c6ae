"""Where CMK metadata and aliases live: the ``CustomerKeyStore`` protocol and its in-memory
twin (the SQL implementation is ``keys_store_sql.py``).

The store keeps metadata only — never key material, which is the root-key provider's. A key id
is unique across tenants (a uuid); an alias name is unique per tenant and region (an alias is
a regional resource, decision 0138). Listings are in key id (alias
name) order, resumed after a marker. Each key's completed rotations are kept in the order they
were made, until the key is removed; so are its grants, listed in grant id order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from andromede.kms.keys_errors import AliasAlreadyExists, CmkNotFound
from andromede.kms.keys_model import (
    Alias,
    CustomerKey,
    Grant,
    KeyRotation,
    KeyState,
    RotationType,
)
from andromede.kms.xks_errors import XksKeyAlreadyInUse

__all__ = ["CustomerKeyStore", "MemoryCustomerKeyStore"]


class CustomerKeyStore(Protocol):
    async def insert_key(self, key: CustomerKey) -> None:
        """Add a new key (its id is fresh); ``XksKeyAlreadyInUse`` if the key is in an
        external key store whose other key has the same external key."""

    async def keys_in_store(self, custom_key_store_id: str) -> int:
        """How many keys (pending deletion included) the custom key store holds."""

    async def get_key(self, key_id: str) -> CustomerKey | None: ...

    async def replace_key(self, key: CustomerKey) -> bool:
        """Write ``key`` (with its revision bumped) over the stored record of the same id if
        that record is still at ``key.revision``; False if it changed since (read it again).
        ``CmkNotFound`` if there is no such key."""

    async def delete_key(self, key_id: str) -> None:
        """Remove the key, every alias pointing at it, its rotations and its grants.
        Idempotent."""

    async def list_keys(
        self, tenant_id: str, *, after: str | None, limit: int
    ) -> list[CustomerKey]:
        """The tenant's keys in key id order, after ``after``, at most ``limit``."""

    async def keys_due_for_deletion(self, now: datetime, limit: int) -> list[CustomerKey]:
        """Keys pending deletion whose deletion date is past, any tenant."""

    async def claim_deletion(self, key_id: str, now: datetime) -> bool:
        """Remove the key, its aliases, rotations and grants if it is still pending deletion with
        its date past; whether it was removed (a cancelled deletion is not)."""

    async def keys_due_for_rotation(self, now: datetime, limit: int) -> list[CustomerKey]:
        """Enabled keys with automatic rotation whose next rotation date is past, any tenant."""

    async def keys_with_expired_material(self, now: datetime, limit: int) -> list[CustomerKey]:
        """Keys whose ring holds imported material past its expiry (``material_expiry``,
        pending material included), any tenant."""

    async def add_rotation(
        self,
        key_id: str,
        rotated_at: datetime,
        rotation_type: RotationType,
        *,
        limit: int | None = None,
    ) -> KeyRotation | None:
        """Record a rotation of an existing key; with ``limit``, only while the key has fewer
        than ``limit`` rotations of that type (None when it has them all: the count and the
        insertion are one step, so concurrent requests never pass the limit)."""

    async def delete_rotation(self, rotation_id: int) -> None:
        """Forget a rotation that did not happen after all (its provider call failed)."""

    async def list_rotations(
        self, key_id: str, *, after: int | None, limit: int
    ) -> list[KeyRotation]:
        """The key's rotations, oldest first, after the rotation id ``after``."""

    async def insert_grant(self, grant: Grant, *, limit: int) -> bool:
        """Add a grant to an existing key while the key has fewer than ``limit`` grants (the
        count and the insertion are one step); False when it has them all."""

    async def get_grant(self, grant_id: str) -> Grant | None: ...

    async def grants_for(self, key_id: str, grantees: tuple[str, ...]) -> list[Grant]:
        """The key's grants whose grantee is one of ``grantees``."""

    async def list_grants(
        self,
        key_id: str,
        *,
        after: str | None,
        limit: int,
        grant_id: str | None = None,
        grantee: str | None = None,
    ) -> list[Grant]:
        """The key's grants (that one, or that grantee's, when given) after ``after``."""

    async def list_retirable_grants(
        self, retiring: str, *, after: str | None, limit: int
    ) -> list[Grant]:
        """The grants, of any key, that ``retiring`` may retire, after ``after``."""

    async def delete_grant(self, grant_id: str) -> bool:
        """Remove the grant; whether it existed."""

    async def insert_alias(self, alias: Alias) -> None:
        """Add an alias (``AliasAlreadyExists`` if the tenant has one of that name in the
        alias's region)."""

    async def get_alias(self, tenant_id: str, region: str, name: str) -> Alias | None: ...

    async def point_alias(
        self, tenant_id: str, region: str, name: str, key_id: str, now: datetime
    ) -> None:
        """Make an existing alias name another key (``CmkNotFound`` if there is no alias)."""

    async def delete_alias(self, tenant_id: str, region: str, name: str) -> bool:
        """Remove the alias; whether it existed."""

    async def list_aliases(
        self, tenant_id: str, region: str, *, key_id: str | None, after: str | None, limit: int
    ) -> list[Alias]:
        """The tenant's aliases in ``region`` (of one key when ``key_id``) in name order after
        ``after``."""


def _due_for_deletion(key: CustomerKey, now: datetime) -> bool:
    return (
        key.state is KeyState.PENDING_DELETION
        and key.deletion_date is not None
        and key.deletion_date <= now
    )


class MemoryCustomerKeyStore:
    """The in-memory twin, for unit tests and as the contract suite's reference."""

    def __init__(self) -> None:
        self._keys: dict[str, CustomerKey] = {}
        self._aliases: dict[tuple[str, str, str], Alias] = {}  # tenant, region, name
        self._rotations: dict[int, KeyRotation] = {}
        self._last_rotation_id = 0
        self._grants: dict[str, Grant] = {}

    async def insert_key(self, key: CustomerKey) -> None:
        if key.record_id in self._keys:
            raise ValueError("duplicate key id")
        if key.xks_key_id is not None and any(
            (k.custom_key_store_id, k.xks_key_id) == (key.custom_key_store_id, key.xks_key_id)
            for k in self._keys.values()
        ):
            raise XksKeyAlreadyInUse(
                f"External key {key.xks_key_id} is already associated with a KMS key in "
                f"custom key store {key.custom_key_store_id}"
            )
        self._keys[key.record_id] = key

    async def keys_in_store(self, custom_key_store_id: str) -> int:
        return sum(k.custom_key_store_id == custom_key_store_id for k in self._keys.values())

    async def get_key(self, key_id: str) -> CustomerKey | None:
        return self._keys.get(key_id)

    async def replace_key(self, key: CustomerKey) -> bool:
        stored = self._keys.get(key.record_id)
        if stored is None:
            raise CmkNotFound(f"key {key.key_id} does not exist")
        if stored.revision != key.revision:
            return False
        self._keys[key.record_id] = replace(key, revision=key.revision + 1)
        return True

    async def delete_key(self, key_id: str) -> None:
        self._keys.pop(key_id, None)
        # A record id is one region's: its aliases are all of that region.
        for slot in [s for s, a in self._aliases.items() if a.key_id == key_id]:
            del self._aliases[slot]
        for rotation_id in [i for i, r in self._rotations.items() if r.key_id == key_id]:
            del self._rotations[rotation_id]
        for grant_id in [i for i, g in self._grants.items() if g.key_id == key_id]:
            del self._grants[grant_id]

    async def list_keys(
        self, tenant_id: str, *, after: str | None, limit: int
    ) -> list[CustomerKey]:
        keys = sorted(
            (k for k in self._keys.values() if k.tenant_id == tenant_id),
            key=lambda k: k.record_id,
        )
        return [k for k in keys if after is None or k.record_id > after][:limit]

    async def keys_due_for_deletion(self, now: datetime, limit: int) -> list[CustomerKey]:
        due = [k for k in self._keys.values() if _due_for_deletion(k, now)]
        return sorted(due, key=lambda k: k.key_id)[:limit]

    async def claim_deletion(self, key_id: str, now: datetime) -> bool:
        key = self._keys.get(key_id)
        if key is None or not _due_for_deletion(key, now):
            return False
        await self.delete_key(key_id)
        return True

    async def keys_due_for_rotation(self, now: datetime, limit: int) -> list[CustomerKey]:
        due = [
            k
            for k in self._keys.values()
            if k.state is KeyState.ENABLED
            and k.rotation_enabled
            and k.next_rotation_date is not None
            and k.next_rotation_date <= now
        ]
        return sorted(due, key=lambda k: k.key_id)[:limit]

    async def keys_with_expired_material(self, now: datetime, limit: int) -> list[CustomerKey]:
        expired = [
            k for k in self._keys.values() if (e := k.material_expiry) is not None and e <= now
        ]
        return sorted(expired, key=lambda k: k.key_id)[:limit]

    async def add_rotation(
        self,
        key_id: str,
        rotated_at: datetime,
        rotation_type: RotationType,
        *,
        limit: int | None = None,
    ) -> KeyRotation | None:
        if key_id not in self._keys:
            raise CmkNotFound(f"key {key_id} does not exist")
        if limit is not None:
            made = [
                r
                for r in self._rotations.values()
                if r.key_id == key_id and r.rotation_type is rotation_type
            ]
            if len(made) >= limit:
                return None
        self._last_rotation_id += 1
        rotation = KeyRotation(self._last_rotation_id, key_id, rotated_at, rotation_type)
        self._rotations[rotation.rotation_id] = rotation
        return rotation

    async def delete_rotation(self, rotation_id: int) -> None:
        self._rotations.pop(rotation_id, None)

    async def list_rotations(
        self, key_id: str, *, after: int | None, limit: int
    ) -> list[KeyRotation]:
        rotations = sorted(
            (
                r
                for r in self._rotations.values()
                if r.key_id == key_id and (after is None or r.rotation_id > after)
            ),
            key=lambda r: r.rotation_id,
        )
        return rotations[:limit]

    async def insert_grant(self, grant: Grant, *, limit: int) -> bool:
        if grant.key_id not in self._keys:
            raise CmkNotFound(f"key {grant.key_id} does not exist")
        if grant.grant_id in self._grants:
            raise ValueError("duplicate grant id")
        if sum(g.key_id == grant.key_id for g in self._grants.values()) >= limit:
            return False
        self._grants[grant.grant_id] = grant
        return True

    async def get_grant(self, grant_id: str) -> Grant | None:
        return self._grants.get(grant_id)

    async def grants_for(self, key_id: str, grantees: tuple[str, ...]) -> list[Grant]:
        return sorted(
            (g for g in self._grants.values() if g.key_id == key_id and g.grantee in grantees),
            key=lambda g: g.grant_id,
        )

    async def list_grants(
        self,
        key_id: str,
        *,
        after: str | None,
        limit: int,
        grant_id: str | None = None,
        grantee: str | None = None,
    ) -> list[Grant]:
        return self._grant_page(
            lambda g: (
                g.key_id == key_id
                and (grant_id is None or g.grant_id == grant_id)
                and (grantee is None or g.grantee == grantee)
            ),
            after,
            limit,
        )

    async def list_retirable_grants(
        self, retiring: str, *, after: str | None, limit: int
    ) -> list[Grant]:
        return self._grant_page(lambda g: g.retiring == retiring, after, limit)

    def _grant_page(
        self, wanted: Callable[[Grant], bool], after: str | None, limit: int
    ) -> list[Grant]:
        grants = sorted(
            (
                g
                for g in self._grants.values()
                if wanted(g) and (after is None or g.grant_id > after)
            ),
            key=lambda g: g.grant_id,
        )
        return grants[:limit]

    async def delete_grant(self, grant_id: str) -> bool:
        return self._grants.pop(grant_id, None) is not None

    async def insert_alias(self, alias: Alias) -> None:
        slot = (alias.tenant_id, alias.region, alias.name)
        if slot in self._aliases:
            raise AliasAlreadyExists(f"alias {alias.name} already exists")
        self._aliases[slot] = alias

    async def get_alias(self, tenant_id: str, region: str, name: str) -> Alias | None:
        return self._aliases.get((tenant_id, region, name))

    async def point_alias(
        self, tenant_id: str, region: str, name: str, key_id: str, now: datetime
    ) -> None:
        slot = (tenant_id, region, name)
        alias = self._aliases.get(slot)
        if alias is None:
            raise CmkNotFound(f"alias {name} does not exist")
        self._aliases[slot] = replace(alias, key_id=key_id, updated_at=now)

    async def delete_alias(self, tenant_id: str, region: str, name: str) -> bool:
        return self._aliases.pop((tenant_id, region, name), None) is not None

    async def list_aliases(
        self, tenant_id: str, region: str, *, key_id: str | None, after: str | None, limit: int
    ) -> list[Alias]:
        aliases = sorted(
            (
                a
                for (tenant, where, _), a in self._aliases.items()
                if tenant == tenant_id
                and where == region
                and (key_id is None or a.key_id == key_id)
            ),
            key=lambda a: a.name,
        )
        return [a for a in aliases if after is None or a.name > after][:limit]
