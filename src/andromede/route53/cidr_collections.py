"""Route 53's CIDR collections (decision 0353): an account's named sets of locations, each
location a list of CIDR blocks, that IP-based record sets (``CidrRoutingConfig``) name, the
public name servers answering a query with the set whose location holds the client's address.

As AWS keeps them:

- a collection has a name unique in the account (``CidrCollectionAlreadyExistsException``
  when another caller reference asks for it again; the same reference gets the collection
  made), a UUID id and a version, 1 at creation and one more at each change;
- ChangeCidrCollection applies its changes all or nothing: ``PUT`` adds blocks to a location
  (making it), ``DELETE_IF_EXISTS`` takes blocks away (a location without blocks is gone); with
  ``CollectionVersion`` the change applies only to that version
  (``CidrCollectionVersionMismatchException``); a block is in one location of a collection
  (``CidrBlockInUseException``), and a location a record set names keeps a block
  (``CidrBlockInUseException``);
- blocks are IPv4 /1 to /24 and IPv6 /1 to /48 (the whole space is the ``*`` default location);
- a collection is deleted only when it is empty and no record set names it
  (``CidrCollectionInUseException``).

``route53_max_cidr_collections`` an account and ``route53_max_cidr_blocks`` a collection are
the operator's (AWS's: 5 and 1,000; ``LimitsExceeded``). The collections are kept by a
:class:`CidrCollectionStore` (memory here, SQL in ``cidr_store_sql``)."""

from __future__ import annotations

import ipaddress
import re
import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Final, Protocol

from andromede.route53.errors import (
    CidrBlockInUseException,
    CidrCollectionAlreadyExistsException,
    CidrCollectionInUseException,
    CidrCollectionVersionMismatchException,
    InvalidInput,
    LimitsExceeded,
    NoSuchCidrCollectionException,
    NoSuchCidrLocationException,
)
from andromede.route53.service import Route53Service

__all__ = [
    "DEFAULT_LOCATION",
    "CidrChange",
    "CidrCollection",
    "CidrCollectionService",
    "CidrCollectionStore",
    "CidrLimits",
    "MemoryCidrCollectionStore",
    "already_exists",
    "check_block",
]

DEFAULT_LOCATION: Final = "*"  # the record set answering the addresses no block holds
MAX_CHANGES: Final = 1000  # botocore's CidrCollectionChanges
MAX_CIDR_LIST: Final = 1000  # botocore's CidrList
MAX_PREFIX: Final = {4: 24, 6: 48}  # AWS: IPv4 /1-/24, IPv6 /1-/48
_NAME: Final = re.compile(r"^[0-9A-Za-z_\-]{1,64}$")
_LOCATION: Final = re.compile(r"^[0-9A-Za-z_\-]{1,16}$")
_ACTIONS: Final = frozenset({"PUT", "DELETE_IF_EXISTS"})

Locations = tuple[tuple[str, tuple[str, ...]], ...]  # (location, its blocks), by name


@dataclass(frozen=True, slots=True)
class CidrCollection:
    collection_id: str  # a UUID, as AWS's
    tenant_id: str
    name: str
    caller_reference: str
    version: int
    locations: Locations
    created: int  # ms

    def blocks(self) -> dict[str, tuple[str, ...]]:
        return dict(self.locations)

    def block_count(self) -> int:
        return sum(len(blocks) for _, blocks in self.locations)


@dataclass(frozen=True, slots=True)
class CidrChange:
    action: str  # PUT or DELETE_IF_EXISTS
    location: str
    blocks: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CidrLimits:
    max_collections: int = 5  # AWS: 5 an account
    max_blocks: int = 1000  # AWS: 1,000 a collection


def check_block(text: str) -> str:
    """A CIDR block as AWS takes it (its network address, IPv4 /1 to /24, IPv6 /1 to /48), in its
    canonical form; ``InvalidInput`` otherwise."""
    try:
        network = ipaddress.ip_network(text.strip(), strict=True)
    except ValueError as exc:
        raise InvalidInput(f"Invalid CIDR block: {text[:50]}") from exc
    if "/" not in text or not 1 <= network.prefixlen <= MAX_PREFIX[network.version]:
        raise InvalidInput(
            f"Invalid CIDR block: {text[:50]} (IPv4 blocks are /1 to /24, IPv6 blocks /1 to "
            "/48; the default location * holds the rest)"
        )
    return str(network)


def already_exists(name: str) -> CidrCollectionAlreadyExistsException:
    return CidrCollectionAlreadyExistsException(
        f"A CIDR collection with the name {name[:64]} and a different caller reference "
        "already exists in this account."
    )


class CidrCollectionStore(Protocol):
    async def create(self, collection: CidrCollection) -> None:
        """Add it; ``CidrCollectionAlreadyExistsException`` when the account holds its name."""

    async def get(self, tenant_id: str, collection_id: str) -> CidrCollection | None: ...

    async def collections(self, tenant_id: str) -> list[CidrCollection]:
        """The account's, by id."""

    async def replace(self, collection: CidrCollection, version: int) -> bool:
        """Store it in place of its version ``version``; False when that version is no
        longer the stored one (a concurrent change won)."""

    async def delete(self, tenant_id: str, collection_id: str) -> bool: ...

    async def forget_tenant(self, tenant_id: str) -> int: ...


class MemoryCidrCollectionStore:
    def __init__(self) -> None:
        self._collections: dict[str, CidrCollection] = {}

    async def create(self, collection: CidrCollection) -> None:
        if any(
            c.tenant_id == collection.tenant_id and c.name == collection.name
            for c in self._collections.values()
        ):
            raise already_exists(collection.name)
        self._collections[collection.collection_id] = collection

    async def get(self, tenant_id: str, collection_id: str) -> CidrCollection | None:
        found = self._collections.get(collection_id)
        return found if found is not None and found.tenant_id == tenant_id else None

    async def collections(self, tenant_id: str) -> list[CidrCollection]:
        return sorted(
            (c for c in self._collections.values() if c.tenant_id == tenant_id),
            key=lambda c: c.collection_id,
        )

    async def replace(self, collection: CidrCollection, version: int) -> bool:
        stored = self._collections.get(collection.collection_id)
        if stored is None or stored.version != version:
            return False
        self._collections[collection.collection_id] = collection
        return True

    async def delete(self, tenant_id: str, collection_id: str) -> bool:
        if await self.get(tenant_id, collection_id) is None:
            return False
        del self._collections[collection_id]
        return True

    async def forget_tenant(self, tenant_id: str) -> int:
        gone = [k for k, c in self._collections.items() if c.tenant_id == tenant_id]
        for key in gone:
            del self._collections[key]
        return len(gone)


def applied(collection: CidrCollection, changes: Sequence[CidrChange]) -> Locations:
    """The collection's locations after ``changes``, in order; a block already in another
    location is ``CidrBlockInUseException``."""
    locations = {name: list(blocks) for name, blocks in collection.locations}
    for change in changes:
        held = locations.setdefault(change.location, [])
        for block in change.blocks:
            if change.action == "PUT":
                elsewhere = next(
                    (n for n, b in locations.items() if n != change.location and block in b), None
                )
                if elsewhere is not None:
                    raise CidrBlockInUseException(
                        f"The CIDR block {block} is already in use by location {elsewhere} of "
                        "the collection."
                    )
                if block not in held:
                    held.append(block)
            elif block in held:
                held.remove(block)
    return tuple(
        (name, tuple(sorted(blocks, key=_block_order)))
        for name, blocks in sorted(locations.items())
        if blocks
    )


def _block_order(block: str) -> tuple[int, int, int]:
    network = ipaddress.ip_network(block)
    return network.version, int(network.network_address), network.prefixlen


class CidrCollectionService:
    def __init__(
        self,
        zones: Route53Service,
        store: CidrCollectionStore,
        limits: CidrLimits,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.zones = zones
        self.store = store
        self.limits = limits
        self._clock = clock
        # The zones check a CidrRoutingConfig and answer it with the blocks held here.
        zones.cidr_locations = self.location_names
        zones.cidr_blocks = self.blocks_of

    async def create(self, tenant_id: str, name: str, caller_reference: str) -> CidrCollection:
        if not _NAME.match(name):
            raise InvalidInput(f"Invalid CIDR collection name: {name[:64]}")
        if not 1 <= len(caller_reference) <= 64 or not caller_reference.isascii():
            raise InvalidInput("Invalid CallerReference: 1 to 64 ASCII characters")
        collections = await self.store.collections(tenant_id)
        same = next((c for c in collections if c.name == name), None)
        if same is not None:
            if same.caller_reference == caller_reference:
                return same  # a retried request, as AWS answers it
            raise already_exists(name)
        if len(collections) >= self.limits.max_collections:
            raise LimitsExceeded(
                "Limits Exceeded: MAX_CIDR_COLLECTIONS_BY_ACCOUNT - Cannot create more than "
                f"{self.limits.max_collections} CIDR collections."
            )
        made = CidrCollection(
            str(uuid.uuid4()), tenant_id, name, caller_reference, 1, (), int(self._clock() * 1000)
        )
        await self.store.create(made)
        return made

    async def get(self, tenant_id: str, collection_id: str) -> CidrCollection:
        found = await self.store.get(tenant_id, collection_id)
        if found is None:
            raise NoSuchCidrCollectionException(
                f"The CIDR collection with ID {collection_id[:64]} doesn't exist."
            )
        return found

    async def collections(self, tenant_id: str) -> list[CidrCollection]:
        return await self.store.collections(tenant_id)

    async def change(
        self,
        tenant_id: str,
        collection_id: str,
        version: int | None,
        changes: Sequence[CidrChange],
    ) -> CidrCollection:
        """The changes applied all or nothing (the rules above); the collection as stored."""
        if not 1 <= len(changes) <= MAX_CHANGES:
            raise InvalidInput(f"Invalid request: Changes must hold 1 to {MAX_CHANGES} changes")
        checked = [_checked(change) for change in changes]
        current = await self.get(tenant_id, collection_id)
        if version is not None and version != current.version:
            raise CidrCollectionVersionMismatchException(
                f"The CIDR collection version {version} doesn't match the current version "
                f"{current.version}."
            )
        locations = applied(current, checked)
        gone = {n for n, _ in current.locations} - {n for n, _ in locations}
        used = await self._used_locations(tenant_id, collection_id)
        if gone & used:
            raise CidrBlockInUseException(
                f"The CIDR location {sorted(gone & used)[0]} is used by record sets: it keeps "
                "at least one block."
            )
        updated = replace(current, version=current.version + 1, locations=locations)
        if updated.block_count() > self.limits.max_blocks:
            raise LimitsExceeded(
                "Limits Exceeded: MAX_CIDR_BLOCKS_BY_COLLECTION - Cannot hold more than "
                f"{self.limits.max_blocks} CIDR blocks in a collection."
            )
        if not await self.store.replace(updated, current.version):
            raise CidrCollectionVersionMismatchException(
                "The CIDR collection changed while the change was applied; read its version again."
            )
        await self.zones.cidr_collection_changed(tenant_id, collection_id)
        return updated

    async def _used_locations(self, tenant_id: str, collection_id: str) -> set[str]:
        return {
            r.cidr_routing[1]
            for z in await self.zones.store.zones(tenant_id)
            for r in z.records
            if r.cidr_routing is not None and r.cidr_routing[0] == collection_id
        }

    async def delete(self, tenant_id: str, collection_id: str) -> None:
        found = await self.get(tenant_id, collection_id)
        zones = await self.zones.store.zones(tenant_id)
        if found.locations or any(
            r.cidr_routing is not None and r.cidr_routing[0] == collection_id
            for z in zones
            for r in z.records
        ):
            raise CidrCollectionInUseException(
                f"The CIDR collection {collection_id[:64]} is in use, and isn't empty: delete "
                "its locations and the record sets that name it first."
            )
        if not await self.store.delete(tenant_id, collection_id):
            raise NoSuchCidrCollectionException(
                f"The CIDR collection with ID {collection_id[:64]} doesn't exist."
            )

    async def blocks(
        self, tenant_id: str, collection_id: str, location: str | None
    ) -> list[tuple[str, str]]:
        """The collection's (block, location) pairs, of one location when one is named
        (``NoSuchCidrLocationException`` when it has no block)."""
        found = await self.get(tenant_id, collection_id)
        held = found.blocks()
        if location is not None and location not in held:
            raise NoSuchCidrLocationException(
                f"The CIDR location {location[:16]} doesn't exist in collection "
                f"{collection_id[:64]}."
            )
        names = [location] if location is not None else sorted(held)
        return [(block, name) for name in names for block in held[name]]

    async def location_names(self, tenant_id: str, collection_id: str) -> frozenset[str] | None:
        """The collection's locations, None when the account has no such collection."""
        found = await self.store.get(tenant_id, collection_id)
        return None if found is None else frozenset(n for n, _ in found.locations)

    async def blocks_of(
        self, tenant_id: str, collection_ids: Collection[str]
    ) -> Mapping[str, Mapping[str, tuple[str, ...]]]:
        """The named collections' blocks by location, for the answers."""
        wanted = set(collection_ids)
        return {
            c.collection_id: c.blocks()
            for c in await self.store.collections(tenant_id)
            if c.collection_id in wanted
        }


def _checked(change: CidrChange) -> CidrChange:
    if change.action not in _ACTIONS:
        raise InvalidInput(
            f"Invalid XML ; cvc-enumeration-valid: Value '{change.action[:32]}' is not "
            "facet-valid with respect to enumeration '[PUT, DELETE_IF_EXISTS]'."
        )
    if not _LOCATION.match(change.location):
        raise InvalidInput(f"Invalid CIDR location name: {change.location[:16]}")
    if not 1 <= len(change.blocks) <= MAX_CIDR_LIST:
        raise InvalidInput(f"Invalid request: CidrList must hold 1 to {MAX_CIDR_LIST} blocks")
    return CidrChange(change.action, change.location, tuple(check_block(b) for b in change.blocks))
