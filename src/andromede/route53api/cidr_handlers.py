"""Route 53's CIDR collections on the wire (decision 0353): CreateCidrCollection (201 with
``Location``), ListCidrCollections, ChangeCidrCollection (``CollectionVersion``, ``Changes``),
ListCidrLocations, ListCidrBlocks (``location``) and DeleteCidrCollection, in botocore's
``route53`` shapes; the lists in pages of ``maxresults`` (100 unless asked, 1,000 at most) with
an opaque ``nexttoken``."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Final, TypeVar

from andromede.http.response import Response
from andromede.http.xml import XmlWriter
from andromede.route53.cidr_collections import CidrChange, CidrCollection, CidrCollectionService
from andromede.route53api import wire
from andromede.route53api.errors import Route53WireError
from andromede.route53api.operations import Route

__all__ = ["CIDR_HANDLERS", "collection_id"]

CidrHandler = Callable[
    [CidrCollectionService, str, Route, Mapping[str, str], bytes], Awaitable[Response]
]
_DEFAULT_RESULTS: Final = 100
_MAX_RESULTS: Final = 1000
_UUID: Final = re.compile(r"^[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}$")
T = TypeVar("T")


def collection_id(raw: str) -> str:
    """A collection's id as a path gives it: AWS's UUID pattern, else ``InvalidInput``."""
    found = raw.strip()
    if not _UUID.match(found):
        raise Route53WireError(
            "InvalidInput", f"The input is not valid: invalid CIDR collection id {found[:64]}"
        )
    return found


def _page(items: Sequence[T], query: Mapping[str, str]) -> tuple[Sequence[T], str | None]:
    raw_size = query.get("maxresults") or str(_DEFAULT_RESULTS)
    token = query.get("nexttoken") or "0"
    if not raw_size.isdigit() or int(raw_size) < 1:
        raise Route53WireError("InvalidInput", f"Invalid value for MaxResults: {raw_size[:16]}")
    if not token.isdigit() or len(token) > 9:
        raise Route53WireError("InvalidInput", f"Invalid NextToken: {token[:64]}")
    start, size = int(token), min(int(raw_size), _MAX_RESULTS)
    following = start + size
    return items[start:following], str(following) if following < len(items) else None


def _write_collection(xml: XmlWriter, found: CidrCollection, root: str) -> None:
    xml.open(root)
    xml.element("Arn", f"arn:aws:route53:::cidrcollection/{found.collection_id}")
    xml.element("Id", found.collection_id)
    xml.element("Name", found.name)
    xml.element("Version", found.version)
    xml.close(root)


async def create(
    service: CidrCollectionService, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    root = wire.document(body, "CreateCidrCollectionRequest")
    name = wire.text(root, "Name", required=True) or ""
    reference = wire.text(root, "CallerReference", required=True) or ""
    made = await service.create(tenant, name, reference)
    xml = wire.writer("CreateCidrCollectionResponse")
    _write_collection(xml, made, "Collection")
    return wire.answer(xml, 201, f"/2013-04-01/cidrcollection/{made.collection_id}")


async def list_collections(
    service: CidrCollectionService, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    page, following = _page(await service.collections(tenant), query)
    xml = wire.writer("ListCidrCollectionsResponse")
    xml.element("NextToken", following)
    xml.open("CidrCollections")
    for found in page:
        _write_collection(xml, found, "member")
    xml.close("CidrCollections")
    return wire.answer(xml)


def _changes(body: bytes) -> tuple[int | None, list[CidrChange]]:
    root = wire.document(body, "ChangeCidrCollectionRequest")
    raw_version = wire.text(root, "CollectionVersion")
    if raw_version is not None and (not raw_version.strip().isdigit() or int(raw_version) < 1):
        raise Route53WireError("InvalidInput", f"Invalid CollectionVersion: {raw_version[:20]}")
    changes = []
    for node in wire.children(wire.child(root, "Changes"), "member"):
        blocks = [b.text or "" for b in wire.children(wire.child(node, "CidrList"), "Cidr")]
        changes.append(
            CidrChange(
                wire.text(node, "Action", required=True) or "",
                wire.text(node, "LocationName", required=True) or "",
                tuple(blocks),
            )
        )
    return (None if raw_version is None else int(raw_version)), changes


async def change(
    service: CidrCollectionService, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    version, changes = _changes(body)
    changed = await service.change(tenant, collection_id(op.cidr_collection_id), version, changes)
    xml = wire.writer("ChangeCidrCollectionResponse")
    xml.element("Id", changed.collection_id)
    return wire.answer(xml)


async def list_locations(
    service: CidrCollectionService, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    found = await service.get(tenant, collection_id(op.cidr_collection_id))
    page, following = _page([name for name, _ in found.locations], query)
    xml = wire.writer("ListCidrLocationsResponse")
    xml.element("NextToken", following)
    xml.open("CidrLocations")
    for name in page:
        xml.open("member")
        xml.element("LocationName", name)
        xml.close("member")
    xml.close("CidrLocations")
    return wire.answer(xml)


async def list_blocks(
    service: CidrCollectionService, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    location = query.get("location")
    blocks = await service.blocks(tenant, collection_id(op.cidr_collection_id), location)
    page, following = _page(blocks, query)
    xml = wire.writer("ListCidrBlocksResponse")
    xml.element("NextToken", following)
    xml.open("CidrBlocks")
    for block, name in page:
        xml.open("member")
        xml.element("CidrBlock", block)
        xml.element("LocationName", name)
        xml.close("member")
    xml.close("CidrBlocks")
    return wire.answer(xml)


async def delete(
    service: CidrCollectionService, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    await service.delete(tenant, collection_id(op.cidr_collection_id))
    return wire.answer(wire.writer("DeleteCidrCollectionResponse"))


CIDR_HANDLERS: Final[dict[str, CidrHandler]] = {
    "CreateCidrCollection": create,
    "ListCidrCollections": list_collections,
    "ChangeCidrCollection": change,
    "ListCidrLocations": list_locations,
    "ListCidrBlocks": list_blocks,
    "DeleteCidrCollection": delete,
}
