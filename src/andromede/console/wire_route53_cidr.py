"""Route 53's CIDR collections (decision 0353) as the console's pages call them (decision
0361), through the zones' wire (``wire_route53.Route53Wire``: the same REST-XML app, its
authorisation ``route53:<Operation>`` on ``cidrcollection/<id>``, audit and errors):
ListCidrCollections (each collection's locations by ListCidrLocations), CreateCidrCollection,
ListCidrBlocks (a page of the collection's, or every page of one location's),
ChangeCidrCollection under the version the page showed, and DeleteCidrCollection.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote
from xml.etree.ElementTree import SubElement

from andromede.console.wire import WireError
from andromede.console.wire_route53 import Route53Wire, _child, _children, _document, _text
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = ["CidrCalls", "CidrCollectionRow", "CidrPage"]

_LOCATIONS_SHOWN: Final = 100  # a collection's locations listed (ListCidrLocations' default page)
_LARGEST_PAGE: Final = 1000  # the lists' largest page (botocore's MaxResults)
_PAGES: Final = 100  # pages read at most where every page is wanted


@dataclass(frozen=True, slots=True)
class CidrCollectionRow:
    """A CIDR collection as ListCidrCollections gives it, with its locations where asked
    (the first 100; ``more_locations`` when there are others)."""

    collection_id: str
    name: str
    version: int
    locations: tuple[str, ...] = ()
    more_locations: bool = False


@dataclass(frozen=True, slots=True)
class CidrPage:
    """A page of a collection's blocks, by location in ListCidrBlocks' order, and the next
    page's token ("" at the end)."""

    locations: tuple[tuple[str, tuple[str, ...]], ...]
    next_token: str = ""


def _collection(node: object) -> CidrCollectionRow:
    version = _text(node, "Version")
    return CidrCollectionRow(
        collection_id=_text(node, "Id"),
        name=_text(node, "Name"),
        version=int(version) if version.isdigit() else 0,
    )


def _grouped(pairs: Sequence[tuple[str, str]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    by_location: dict[str, list[str]] = {}
    for block, location in pairs:
        by_location.setdefault(location, []).append(block)
    return tuple((name, tuple(blocks)) for name, blocks in by_location.items())


class CidrCalls:
    """The CIDR collection calls the console makes, as ``principal``."""

    def __init__(self, wire: Route53Wire) -> None:
        self._wire = wire

    @staticmethod
    def _path(collection_id: str) -> str:
        return f"/cidrcollection/{quote(collection_id, safe='')}"

    async def collections(
        self, origin: Scope, principal: Principal, *, token: str, limit: int, locations: bool = True
    ) -> tuple[list[CidrCollectionRow], str]:
        """One page of the account's collections from ``token`` (with their locations unless
        ``locations`` is false), and the next page's token ("" at the end)."""
        root, following = await self._wire.token_page(
            origin, principal, "/cidrcollection", token=token, limit=limit
        )
        found = [_collection(c) for c in _children(_child(root, "CidrCollections"), "member")]
        if locations:
            found = [await self._with_locations(origin, principal, c) for c in found]
        return found, following

    async def _with_locations(
        self, origin: Scope, principal: Principal, found: CidrCollectionRow
    ) -> CidrCollectionRow:
        path = self._path(found.collection_id)
        root, following = await self._wire.token_page(
            origin, principal, path, token="", limit=_LOCATIONS_SHOWN
        )
        names = tuple(
            _text(m, "LocationName") for m in _children(_child(root, "CidrLocations"), "member")
        )
        return CidrCollectionRow(
            found.collection_id, found.name, found.version, names, bool(following)
        )

    async def collection(
        self, origin: Scope, principal: Principal, collection_id: str
    ) -> CidrCollectionRow:
        """The account's collection of that id (its name and current version), found in
        ListCidrCollections' pages (Route 53 has no call for one); ``NoSuchCidrCollection
        Exception`` as Route 53 words it when the account holds none."""
        token = ""
        for _page in range(_PAGES):
            page, token = await self.collections(
                origin, principal, token=token, limit=_LARGEST_PAGE, locations=False
            )
            found = next((c for c in page if c.collection_id == collection_id), None)
            if found is not None:
                return found
            if not token:
                break
        raise WireError(
            "NoSuchCidrCollectionException",
            f"The CIDR collection with ID {collection_id[:64]} doesn't exist.",
            404,
        )

    async def blocks(
        self, origin: Scope, principal: Principal, collection_id: str, *, token: str, limit: int
    ) -> CidrPage:
        """One page of ListCidrBlocks from ``token``, grouped by location."""
        path = f"{self._path(collection_id)}/cidrblocks"
        root, following = await self._wire.token_page(
            origin, principal, path, token=token, limit=limit
        )
        members = _children(_child(root, "CidrBlocks"), "member")
        pairs = [(_text(m, "CidrBlock"), _text(m, "LocationName")) for m in members]
        return CidrPage(_grouped(pairs), following)

    async def location_blocks(
        self, origin: Scope, principal: Principal, collection_id: str, location: str
    ) -> list[str]:
        """Every block of one location (ListCidrBlocks' ``location``, every page);
        Route 53's ``NoSuchCidrLocationException`` when it holds none."""
        return await self._wire.every_token_page(
            origin,
            principal,
            f"{self._path(collection_id)}/cidrblocks",
            lambda root: [
                _text(m, "CidrBlock") for m in _children(_child(root, "CidrBlocks"), "member")
            ],
            pages=_PAGES,
            limit=_LARGEST_PAGE,
            query={"location": location},
        )

    async def create(self, origin: Scope, principal: Principal, name: str) -> str:
        """A new collection's id; each form sent is a new caller reference."""
        root = _document("CreateCidrCollectionRequest")
        SubElement(root, "Name").text = name
        SubElement(root, "CallerReference").text = f"console-{uuid.uuid4()}"
        answer = await self._wire.request(origin, principal, "POST", "/cidrcollection", body=root)
        return _text(_child(answer, "Collection"), "Id")

    async def change(
        self,
        origin: Scope,
        principal: Principal,
        collection_id: str,
        version: str,
        changes: Sequence[tuple[str, str, Sequence[str]]],
    ) -> None:
        """One ChangeCidrCollection of ``changes`` ((action, location, blocks), in order)
        applied to the collection's ``version`` only (the one the page showed): Route 53
        refuses it whole when the collection has changed since."""
        root = _document("ChangeCidrCollectionRequest")
        if version:
            SubElement(root, "CollectionVersion").text = version
        listed = SubElement(root, "Changes")
        for action, location, blocks in changes:
            member = SubElement(listed, "member")
            SubElement(member, "LocationName").text = location
            SubElement(member, "Action").text = action
            cidrs = SubElement(member, "CidrList")
            for block in blocks:
                SubElement(cidrs, "Cidr").text = block
        await self._wire.request(origin, principal, "POST", self._path(collection_id), body=root)

    async def delete(self, origin: Scope, principal: Principal, collection_id: str) -> None:
        await self._wire.request(origin, principal, "DELETE", self._path(collection_id))
