"""S3 Control's Multi-Region Access Point calls the console makes (decision 0391), in
process as the signed-in principal through ``S3ControlWire`` (its account header, its error
document): List, Get, GetMultiRegionAccessPointPolicy, GetMultiRegionAccessPointPolicyStatus,
GetMultiRegionAccessPointRoutes, Create (with its Block Public Access switches), Delete,
PutMultiRegionAccessPointPolicy, SubmitMultiRegionAccessPointRoutes and
DescribeMultiRegionAccessPointOperation (decision 0401). S3 Control authorises each as it
authorises boto3's (``s3:CreateMultiRegionAccessPoint``…) and audits the changes.

The asynchronous calls (Create, Delete, PutMultiRegionAccessPointPolicy) answer their
``RequestTokenARN``; S3 Control lists no operations, so the console keeps the token its own
call got and describes that one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlencode
from xml.etree.ElementTree import Element, SubElement, tostring

import defusedxml.ElementTree as SafeET

from andromede.console.wire_s3control import SWITCHES, S3ControlWire
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = [
    "MultiRegionPoint",
    "PointOperation",
    "PointRoute",
    "create_point",
    "delete_point",
    "describe_operation",
    "get_point",
    "list_points",
    "point_policy",
    "point_policy_public",
    "point_routes",
    "put_point_policy",
    "submit_dials",
]

# Paths as decoded: the console's wire encodes them (names and aliases need none).
_BASE: Final = "/v20180820"
_NS: Final = "{http://awss3control.amazonaws.com/doc/2018-08-20/}"
_NAMESPACE: Final = "http://awss3control.amazonaws.com/doc/2018-08-20/"


@dataclass(frozen=True, slots=True)
class PointRoute:
    """One Region of a Multi-Region Access Point: its bucket and its traffic dial."""

    bucket: str
    region: str
    dial: int | None = None  # None: as Get answers it (the routes' call says the dials)


@dataclass(frozen=True, slots=True)
class MultiRegionPoint:
    name: str
    alias: str
    created_at: str
    status: str
    regions: tuple[PointRoute, ...]
    # Its Block Public Access switches by S3's names, as Get answers them (fixed at creation).
    block: dict[str, bool] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PointOperation:
    """An asynchronous call as DescribeMultiRegionAccessPointOperation answers it."""

    token: str
    operation: str
    status: str
    created_at: str


def _point(element: Element) -> MultiRegionPoint:
    regions = element.find(f"{_NS}Regions")
    block = element.find(f"{_NS}PublicAccessBlock")
    return MultiRegionPoint(
        name=element.findtext(f"{_NS}Name") or "",
        alias=element.findtext(f"{_NS}Alias") or "",
        created_at=(element.findtext(f"{_NS}CreatedAt") or "")[:19],
        status=element.findtext(f"{_NS}Status") or "",
        block={name: (block.findtext(f"{_NS}{name}") or "") == "true" for name in SWITCHES}
        if block is not None
        else {},
        regions=tuple(
            PointRoute(r.findtext(f"{_NS}Bucket") or "", r.findtext(f"{_NS}Region") or "")
            for r in ([] if regions is None else regions.iter(f"{_NS}Region"))
            if r.find(f"{_NS}Bucket") is not None
        ),
    )


async def list_points(
    wire: S3ControlWire, origin: Scope, principal: Principal
) -> list[MultiRegionPoint]:
    """The account's Multi-Region Access Points, every page."""
    points: list[MultiRegionPoint] = []
    token = ""
    while True:
        # ``_request`` is S3ControlWire's one calling convention, shared by its callers here.
        answer = await wire._request(
            origin, principal, "GET", path=f"{_BASE}/mrap/instances",
            query=urlencode({"nextToken": token}) if token else "",
        )  # fmt: skip
        root = SafeET.fromstring(answer.body)
        points += [_point(p) for p in root.iter(f"{_NS}AccessPoint")]
        token = root.findtext(f"{_NS}NextToken") or ""
        if not token:
            return points


async def get_point(
    wire: S3ControlWire, origin: Scope, principal: Principal, name: str
) -> MultiRegionPoint:
    answer = await wire._request(origin, principal, "GET", path=f"{_BASE}/mrap/instances/{name}")
    found = SafeET.fromstring(answer.body).find(f"{_NS}AccessPoint")
    return _point(found if found is not None else Element("AccessPoint"))


async def point_policy(wire: S3ControlWire, origin: Scope, principal: Principal, name: str) -> str:
    """The established policy's JSON text, "" when it has none."""
    path = f"{_BASE}/mrap/instances/{name}/policy"
    answer = await wire._request(origin, principal, "GET", path=path)
    root = SafeET.fromstring(answer.body)
    return root.findtext(f"{_NS}Policy/{_NS}Established/{_NS}Policy") or ""


async def point_policy_public(
    wire: S3ControlWire, origin: Scope, principal: Principal, name: str
) -> bool:
    """GetMultiRegionAccessPointPolicyStatus: whether the established policy is public."""
    path = f"{_BASE}/mrap/instances/{name}/policystatus"
    answer = await wire._request(origin, principal, "GET", path=path)
    root = SafeET.fromstring(answer.body)
    return (root.findtext(f"{_NS}Established/{_NS}IsPublic") or "") == "true"


async def point_routes(
    wire: S3ControlWire, origin: Scope, principal: Principal, alias: str
) -> list[PointRoute]:
    """Each Region's bucket and dial (the call names the Multi-Region Access Point by its
    alias, as by its ARN)."""
    path = f"{_BASE}/mrap/instances/{alias}/routes"
    answer = await wire._request(origin, principal, "GET", path=path)
    root = SafeET.fromstring(answer.body)
    return [
        PointRoute(
            r.findtext(f"{_NS}Bucket") or "",
            r.findtext(f"{_NS}Region") or "",
            int(r.findtext(f"{_NS}TrafficDialPercentage") or 0),
        )
        for r in root.iter(f"{_NS}Route")
    ]


def _document(root: Element) -> bytes:
    return bytes(tostring(root, encoding="utf-8", xml_declaration=True))


def _asynchronous(call: str, name: str) -> tuple[Element, Element]:
    """An asynchronous call's document: a fresh ClientToken (each click a new request) and
    its Details with the name."""
    root = Element(f"{call}Request", {"xmlns": _NAMESPACE})
    SubElement(root, "ClientToken").text = uuid.uuid4().hex
    details = SubElement(root, "Details")
    SubElement(details, "Name").text = name
    return root, details


def _token(body: bytes) -> str:
    """The ``RequestTokenARN`` an asynchronous call answered."""
    return SafeET.fromstring(body).findtext(f"{_NS}RequestTokenARN") or ""


async def create_point(
    wire: S3ControlWire,
    origin: Scope,
    principal: Principal,
    name: str,
    buckets: list[str],
    block: dict[str, bool],
) -> str:
    """CreateMultiRegionAccessPoint over ``buckets`` (one a Region; S3 Control refuses two
    in one Region, or none) with the Block Public Access switches ``block`` (every one sent:
    S3 Control takes a switch left out as off); its request token."""
    root, details = _asynchronous("CreateMultiRegionAccessPoint", name)
    switches = SubElement(details, "PublicAccessBlock")
    for switch in SWITCHES:
        SubElement(switches, switch).text = "true" if block.get(switch) else "false"
    regions = SubElement(details, "Regions")
    for bucket in buckets:
        SubElement(SubElement(regions, "Region"), "Bucket").text = bucket
    path = f"{_BASE}/async-requests/mrap/create"
    return _token((await wire._request(origin, principal, "POST", _document(root), path=path)).body)


async def delete_point(wire: S3ControlWire, origin: Scope, principal: Principal, name: str) -> str:
    """DeleteMultiRegionAccessPoint; its request token."""
    root, _ = _asynchronous("DeleteMultiRegionAccessPoint", name)
    path = f"{_BASE}/async-requests/mrap/delete"
    return _token((await wire._request(origin, principal, "POST", _document(root), path=path)).body)


async def put_point_policy(
    wire: S3ControlWire, origin: Scope, principal: Principal, name: str, policy: str
) -> str:
    """PutMultiRegionAccessPointPolicy with ``policy`` as typed (S3 Control checks it, and
    refuses a public one where Block Public Access blocks public policies); its request
    token."""
    root, details = _asynchronous("PutMultiRegionAccessPointPolicy", name)
    SubElement(details, "Policy").text = policy
    path = f"{_BASE}/async-requests/mrap/put-policy"
    return _token((await wire._request(origin, principal, "POST", _document(root), path=path)).body)


async def describe_operation(
    wire: S3ControlWire, origin: Scope, principal: Principal, token: str
) -> PointOperation:
    """DescribeMultiRegionAccessPointOperation of a request token (its ARN)."""
    path = f"{_BASE}/async-requests/mrap/{token}"
    answer = await wire._request(origin, principal, "GET", path=path)
    found = SafeET.fromstring(answer.body).find(f"{_NS}AsyncOperation")
    operation = found if found is not None else Element("AsyncOperation")
    return PointOperation(
        token=operation.findtext(f"{_NS}RequestTokenARN") or token,
        operation=operation.findtext(f"{_NS}Operation") or "",
        status=operation.findtext(f"{_NS}RequestStatus") or "",
        created_at=(operation.findtext(f"{_NS}CreationTime") or "")[:19],
    )


async def submit_dials(
    wire: S3ControlWire, origin: Scope, principal: Principal, alias: str, dials: dict[str, int]
) -> None:
    """SubmitMultiRegionAccessPointRoutes: each Region's dial, 100 (active) or 0 (passive)."""
    root = Element("SubmitMultiRegionAccessPointRoutesRequest", {"xmlns": _NAMESPACE})
    updates = SubElement(root, "RouteUpdates")
    for region, dial in sorted(dials.items()):
        route = SubElement(updates, "Route")
        SubElement(route, "Region").text = region
        SubElement(route, "TrafficDialPercentage").text = str(dial)
    path = f"{_BASE}/mrap/instances/{alias}/routes"
    await wire._request(origin, principal, "PATCH", _document(root), path=path)
