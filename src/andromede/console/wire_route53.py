"""Amazon Route 53's calls (decision 0280) the console's hosted zone pages make (decision
0288), in process as the signed-in principal through Route 53's REST-XML protocol
(``route53api.app``, paths under ``/2013-04-01/``): its authorisation
(``route53:<Operation>`` on the zone's ARN), checks, audit and errors answer them. A refusal's
code and words are those of its ``ErrorResponse/Error`` (in Route 53's namespace). Each answer
is read into the small rows the pages show; nothing here decides what Route 53 allows.
Decision 0290: a record set's routing policy, set identifier, health check and alias target
(decision 0284), read and sent; tags of a health check as of a zone. Decision 0361: an
IP-based set's ``CidrRoutingConfig`` (decision 0353).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar
from urllib.parse import quote, urlencode
from xml.etree.ElementTree import Element, SubElement, tostring

import defusedxml.ElementTree as SafeET

from andromede.console.wire import Answer, AsgiApp, WireError, _call, _scope
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = [
    "GEO_FIELDS",
    "AliasRow",
    "Geoproximity",
    "RecordPage",
    "RecordRow",
    "Route53Wire",
    "Routing",
    "ZoneDetail",
    "ZoneRow",
]

_PREFIX: Final = "/2013-04-01"
_NAMESPACE: Final = "https://route53.amazonaws.com/doc/2013-04-01/"
# A GeoLocation's elements, in botocore's order.
GEO_FIELDS: Final = ("ContinentCode", "CountryCode", "SubdivisionCode")

_Item = TypeVar("_Item")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(node: Any, name: str) -> Any:
    if node is None:
        return None
    return next((c for c in node if _local(c.tag) == name), None)


def _children(node: Any, name: str) -> list[Any]:
    return [] if node is None else [c for c in node if _local(c.tag) == name]


def _text(node: Any, name: str) -> str:
    found = _child(node, name)
    return (found.text or "").strip() if found is not None else ""


def _error(answer: Answer) -> WireError:
    code, message = "InternalFailure", ""
    try:
        root = SafeET.fromstring(answer.body) if answer.body else None
    except SafeET.ParseError:
        root = None
    if root is not None:
        error = _child(root, "Error")
        code = _text(error, "Code") or code
        message = _text(error, "Message")
    return WireError(code, message, answer.status)


@dataclass(frozen=True, slots=True)
class ZoneRow:
    """One of ListHostedZones' zones."""

    zone_id: str
    name: str
    private: bool
    record_count: int
    comment: str


@dataclass(frozen=True, slots=True)
class ZoneDetail:
    """A zone as GetHostedZone tells it: a public zone's name servers, a private one's VPCs
    as (Region, VPC id)."""

    zone: ZoneRow
    name_servers: list[str] = field(default_factory=list)
    vpcs: list[tuple[str, str]] = field(default_factory=list)
    delegation_set_id: str = ""  # a reusable delegation set's (decision 0346), or none


@dataclass(frozen=True, slots=True)
class Geoproximity:
    """A geoproximity set's ``GeoProximityLocation`` (decision 0339) as listed, or as the form
    typed it (all text: Route 53 judges each, refusing in its own words): an AWS Region, a
    Local Zone Group or coordinates (latitude and longitude), and a bias (empty: none sent)."""

    aws_region: str = ""
    local_zone_group: str = ""
    latitude: str = ""
    longitude: str = ""
    bias: str = ""

    @property
    def place(self) -> str:
        """What names the place: ``AWSRegion``, ``LocalZoneGroup`` or ``Coordinates``."""
        if self.local_zone_group:
            return "LocalZoneGroup"
        if self.latitude or self.longitude:
            return "Coordinates"
        return "AWSRegion"


@dataclass(frozen=True, slots=True)
class Routing:
    """A record set's routing policy (decision 0284) as Route 53 lists it, or as the form
    typed it (the weight as its text: Route 53 refuses one that is no number): the set
    identifier with one of weight, failover kind, Region, geolocation, multivalue,
    geoproximity or a CIDR location (collection id, location name; decision 0361); and the
    health check any set may name. All empty: a simple set."""

    set_identifier: str = ""
    weight: str = ""
    failover: str = ""
    region: str = ""
    geo: tuple[tuple[str, str], ...] = ()
    multivalue: bool = False
    health_check_id: str = ""
    geoproximity: Geoproximity | None = None
    cidr: tuple[str, str] | None = None

    @property
    def policy(self) -> str:
        """The policy's name: simple, weighted, failover, latency, geolocation, multivalue,
        geoproximity, cidr (a set identifier alone: "" — Route 53 refuses it)."""
        if self.weight:
            return "weighted"
        if self.failover:
            return "failover"
        if self.region:
            return "latency"
        if self.geo:
            return "geolocation"
        if self.multivalue:
            return "multivalue"
        if self.geoproximity is not None:
            return "geoproximity"
        if self.cidr is not None:
            return "cidr"
        return "" if self.set_identifier else "simple"


@dataclass(frozen=True, slots=True)
class AliasRow:
    """An alias record's target: a record of a zone, or a load balancer (its
    ``CanonicalHostedZoneId`` and DNS name)."""

    hosted_zone_id: str
    dns_name: str
    evaluate_target_health: bool


@dataclass(frozen=True, slots=True)
class RecordRow:
    """One of ListResourceRecordSets' record sets (an alias's TTL 0 and values empty)."""

    name: str
    record_type: str
    ttl: int
    values: tuple[str, ...]
    routing: Routing = Routing()
    alias: AliasRow | None = None


@dataclass(frozen=True, slots=True)
class RecordPage:
    """A page of record sets, and where the next starts (name, type, set identifier;
    ("", "", "") at the end)."""

    records: list[RecordRow]
    next_start: tuple[str, str, str] = ("", "", "")


def _zone(node: Any) -> ZoneRow:
    config = _child(node, "Config")
    count = _text(node, "ResourceRecordSetCount")
    return ZoneRow(
        zone_id=_text(node, "Id").rsplit("/", 1)[-1],
        name=_text(node, "Name"),
        private=_text(config, "PrivateZone") == "true",
        record_count=int(count) if count.isdigit() else 0,
        comment=_text(config, "Comment"),
    )


def _geoproximity(node: Any) -> Geoproximity | None:
    if node is None:
        return None
    coordinates = _child(node, "Coordinates")
    return Geoproximity(
        aws_region=_text(node, "AWSRegion"),
        local_zone_group=_text(node, "LocalZoneGroup"),
        latitude=_text(coordinates, "Latitude"),
        longitude=_text(coordinates, "Longitude"),
        bias=_text(node, "Bias"),
    )


def _write_geoproximity(record: Element, location: Geoproximity) -> None:
    """A ``GeoProximityLocation`` in botocore's order, each element only where typed (so
    Route 53 says which is missing)."""
    node = SubElement(record, "GeoProximityLocation")
    if location.aws_region:
        SubElement(node, "AWSRegion").text = location.aws_region
    if location.local_zone_group:
        SubElement(node, "LocalZoneGroup").text = location.local_zone_group
    if location.latitude or location.longitude:
        coordinates = SubElement(node, "Coordinates")
        SubElement(coordinates, "Latitude").text = location.latitude
        SubElement(coordinates, "Longitude").text = location.longitude
    if location.bias:
        SubElement(node, "Bias").text = location.bias


def _record(node: Any) -> RecordRow:
    ttl = _text(node, "TTL")
    geo = _child(node, "GeoLocation")
    alias = _child(node, "AliasTarget")
    cidr = _child(node, "CidrRoutingConfig")
    return RecordRow(
        name=_text(node, "Name"),
        record_type=_text(node, "Type"),
        ttl=int(ttl) if ttl.isdigit() else 0,
        values=tuple(
            _text(r, "Value") for r in _children(_child(node, "ResourceRecords"), "ResourceRecord")
        ),
        routing=Routing(
            set_identifier=_text(node, "SetIdentifier"),
            weight=_text(node, "Weight"),
            failover=_text(node, "Failover"),
            region=_text(node, "Region"),
            geo=tuple((f, _text(geo, f)) for f in GEO_FIELDS if _child(geo, f) is not None),
            multivalue=_text(node, "MultiValueAnswer") == "true",
            health_check_id=_text(node, "HealthCheckId"),
            geoproximity=_geoproximity(_child(node, "GeoProximityLocation")),
            cidr=None
            if cidr is None
            else (_text(cidr, "CollectionId"), _text(cidr, "LocationName")),
        ),
        alias=None
        if alias is None
        else AliasRow(
            _text(alias, "HostedZoneId").rsplit("/", 1)[-1],
            _text(alias, "DNSName"),
            _text(alias, "EvaluateTargetHealth") == "true",
        ),
    )


def _write_record(
    parent: Element,
    name: str,
    record_type: str,
    ttl: str,
    values: Sequence[str],
    routing: Routing,
    alias: AliasRow | None,
) -> None:
    """A ``ResourceRecordSet`` in botocore's order of elements: an alias without TTL nor
    values, a routing policy's elements only where given."""
    record = SubElement(parent, "ResourceRecordSet")
    SubElement(record, "Name").text = name
    SubElement(record, "Type").text = record_type
    optional = (
        ("SetIdentifier", routing.set_identifier),
        ("Weight", routing.weight),
        ("Region", routing.region),
    )
    for element, text in optional:
        if text:
            SubElement(record, element).text = text
    if routing.geo:
        geo = SubElement(record, "GeoLocation")
        for element, text in routing.geo:
            SubElement(geo, element).text = text
    if routing.failover:
        SubElement(record, "Failover").text = routing.failover
    if routing.multivalue:
        SubElement(record, "MultiValueAnswer").text = "true"
    if alias is None:
        SubElement(record, "TTL").text = ttl
        listed = SubElement(record, "ResourceRecords")
        for value in values:
            SubElement(SubElement(listed, "ResourceRecord"), "Value").text = value
    else:
        target = SubElement(record, "AliasTarget")
        SubElement(target, "HostedZoneId").text = alias.hosted_zone_id
        SubElement(target, "DNSName").text = alias.dns_name
        evaluate = "true" if alias.evaluate_target_health else "false"
        SubElement(target, "EvaluateTargetHealth").text = evaluate
    if routing.health_check_id:
        SubElement(record, "HealthCheckId").text = routing.health_check_id
    if routing.cidr is not None:
        config = SubElement(record, "CidrRoutingConfig")
        SubElement(config, "CollectionId").text = routing.cidr[0]
        SubElement(config, "LocationName").text = routing.cidr[1]
    if routing.geoproximity is not None:
        _write_geoproximity(record, routing.geoproximity)


def _document(root: str) -> Element:
    return Element(root, {"xmlns": _NAMESPACE})


def _vpc(parent: Element, region: str, vpc_id: str) -> None:
    vpc = SubElement(parent, "VPC")
    SubElement(vpc, "VPCRegion").text = region
    SubElement(vpc, "VPCId").text = vpc_id


class Route53Wire:
    """The hosted zone calls the console makes, as ``principal``, for the request ``origin``."""

    def __init__(self, app: AsgiApp) -> None:
        self._app = app

    async def request(
        self,
        origin: Scope,
        principal: Principal,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: Element | None = None,
    ) -> Any:
        """Route 53's answer's root element (None for an empty answer), or its refusal."""
        sent = b"" if body is None else bytes(tostring(body, encoding="utf-8"))
        headers = [(b"content-length", str(len(sent)).encode())]
        if sent:
            headers.append((b"content-type", b"application/xml"))
        scope = _scope(
            origin, principal, method, f"{_PREFIX}{path}", urlencode(query or {}), headers
        )
        answer = await _call(self._app, scope, sent)
        if answer.status >= 300:
            raise _error(answer)
        return SafeET.fromstring(answer.body) if answer.body else None

    # Route 53's lists page in two ways, each the same for every list that uses it; the
    # console's calls read their pages through these rather than each building the query.
    async def marker_page(
        self, origin: Scope, principal: Principal, path: str, *, marker: str, limit: int
    ) -> tuple[Any, str]:
        """One page of a list paged by ``marker`` (ListHostedZones, ListHealthChecks,
        ListReusableDelegationSets): the answer's root, and the next page's marker ("" at
        the end: ``IsTruncated`` false)."""
        query = {"maxitems": str(limit)}
        if marker:
            query["marker"] = marker
        root = await self.request(origin, principal, "GET", path, query=query)
        more = _text(root, "IsTruncated") == "true"
        return root, _text(root, "NextMarker") if more else ""

    async def token_page(
        self,
        origin: Scope,
        principal: Principal,
        path: str,
        *,
        token: str,
        limit: int | None = None,
        query: Mapping[str, str] | None = None,
    ) -> tuple[Any, str]:
        """One page of a list paged by ``NextToken`` (the CIDR collections' lists,
        ListVPCAssociationAuthorizations) from ``token``, ``limit`` items at most (Route 53's
        default page without one): the answer's root, and the next page's token ("" at the
        end)."""
        asked = dict(query or {})
        if limit is not None:
            asked["maxresults"] = str(limit)
        if token:
            asked["nexttoken"] = token
        root = await self.request(origin, principal, "GET", path, query=asked)
        return root, _text(root, "NextToken")

    async def every_token_page(
        self,
        origin: Scope,
        principal: Principal,
        path: str,
        items: Callable[[Any], list[_Item]],
        *,
        pages: int,
        limit: int | None = None,
        query: Mapping[str, str] | None = None,
    ) -> list[_Item]:
        """The ``items`` of every page of a ``NextToken`` list, ``pages`` pages read at most
        (a bound on what one console page asks of Route 53)."""
        found: list[_Item] = []
        token = ""
        for _page in range(pages):
            root, token = await self.token_page(
                origin, principal, path, token=token, limit=limit, query=query
            )
            found += items(root)
            if not token:
                break
        return found

    @staticmethod
    def _zone_path(zone_id: str) -> str:
        return f"/hostedzone/{quote(zone_id, safe='')}"

    # -- zones ----------------------------------------------------------------------------
    async def zones(
        self, origin: Scope, principal: Principal, *, marker: str, limit: int
    ) -> tuple[list[ZoneRow], str]:
        """One page of ListHostedZones after ``marker``, and the next page's marker ("")."""
        root, following = await self.marker_page(
            origin, principal, "/hostedzone", marker=marker, limit=limit
        )
        return [_zone(z) for z in _children(_child(root, "HostedZones"), "HostedZone")], following

    async def zone(self, origin: Scope, principal: Principal, zone_id: str) -> ZoneDetail:
        root = await self.request(origin, principal, "GET", self._zone_path(zone_id))
        delegation = _child(root, "DelegationSet")
        servers = _children(_child(delegation, "NameServers"), "NameServer")
        vpcs = _children(_child(root, "VPCs"), "VPC")
        return ZoneDetail(
            zone=_zone(_child(root, "HostedZone")),
            name_servers=[(s.text or "").strip() for s in servers],
            vpcs=[(_text(v, "VPCRegion"), _text(v, "VPCId")) for v in vpcs],
            delegation_set_id=_text(delegation, "Id").rsplit("/", 1)[-1],
        )

    async def create_zone(
        self,
        origin: Scope,
        principal: Principal,
        *,
        name: str,
        comment: str,
        vpc: tuple[str, str] | None,
        delegation_set_id: str = "",
    ) -> str:
        """The new zone's id; private when ``vpc`` (Region, VPC id) is given; on the reusable
        delegation set ``delegation_set_id`` names (decision 0346), if any. Each form sent
        is a new caller reference, as each click of AWS's console is."""
        root = _document("CreateHostedZoneRequest")
        SubElement(root, "Name").text = name
        SubElement(root, "CallerReference").text = f"console-{uuid.uuid4()}"
        if vpc is not None:
            _vpc(root, *vpc)
        config = SubElement(root, "HostedZoneConfig")
        if comment:
            SubElement(config, "Comment").text = comment
        SubElement(config, "PrivateZone").text = "true" if vpc is not None else "false"
        if delegation_set_id:
            SubElement(root, "DelegationSetId").text = delegation_set_id
        answer = await self.request(origin, principal, "POST", "/hostedzone", body=root)
        return _zone(_child(answer, "HostedZone")).zone_id

    async def delete_zone(self, origin: Scope, principal: Principal, zone_id: str) -> None:
        await self.request(origin, principal, "DELETE", self._zone_path(zone_id))

    async def update_comment(
        self, origin: Scope, principal: Principal, zone_id: str, comment: str
    ) -> None:
        root = _document("UpdateHostedZoneCommentRequest")
        SubElement(root, "Comment").text = comment
        await self.request(origin, principal, "POST", self._zone_path(zone_id), body=root)

    async def associate(
        self, origin: Scope, principal: Principal, zone_id: str, vpc: tuple[str, str]
    ) -> None:
        root = _document("AssociateVPCWithHostedZoneRequest")
        _vpc(root, *vpc)
        path = f"{self._zone_path(zone_id)}/associatevpc"
        await self.request(origin, principal, "POST", path, body=root)

    async def disassociate(
        self, origin: Scope, principal: Principal, zone_id: str, vpc: tuple[str, str]
    ) -> None:
        root = _document("DisassociateVPCFromHostedZoneRequest")
        _vpc(root, *vpc)
        path = f"{self._zone_path(zone_id)}/disassociatevpc"
        await self.request(origin, principal, "POST", path, body=root)

    # -- record sets ----------------------------------------------------------------------
    async def records(
        self,
        origin: Scope,
        principal: Principal,
        zone_id: str,
        *,
        start: tuple[str, ...],
        limit: int,
    ) -> RecordPage:
        """One page of ListResourceRecordSets from ``start`` (name, type and set identifier;
        empty: the first)."""
        name, record_type, identifier = (*start, "", "", "")[:3]
        query = {"maxitems": str(limit)}
        if name:
            query["name"] = name
            if record_type:
                query["type"] = record_type
                if identifier:
                    query["identifier"] = identifier
        path = f"{self._zone_path(zone_id)}/rrset"
        root = await self.request(origin, principal, "GET", path, query=query)
        records = [
            _record(r) for r in _children(_child(root, "ResourceRecordSets"), "ResourceRecordSet")
        ]
        if _text(root, "IsTruncated") != "true":
            return RecordPage(records)
        return RecordPage(
            records,
            (
                _text(root, "NextRecordName"),
                _text(root, "NextRecordType"),
                _text(root, "NextRecordIdentifier"),
            ),
        )

    async def change(
        self,
        origin: Scope,
        principal: Principal,
        zone_id: str,
        *,
        action: str,
        name: str,
        record_type: str,
        ttl: str,
        values: Sequence[str],
        routing: Routing = Routing(),
        alias: AliasRow | None = None,
    ) -> None:
        """One ChangeResourceRecordSets change (CREATE, UPSERT or DELETE), as typed: Route 53
        refuses a TTL that is no number, a value not of its type, a routing policy or an alias
        target it does not take, a DELETE not exact."""
        root = _document("ChangeResourceRecordSetsRequest")
        change = SubElement(SubElement(SubElement(root, "ChangeBatch"), "Changes"), "Change")
        SubElement(change, "Action").text = action
        _write_record(change, name, record_type, ttl, values, routing, alias)
        path = f"{self._zone_path(zone_id)}/rrset"
        await self.request(origin, principal, "POST", path, body=root)

    # -- tags -----------------------------------------------------------------------------
    async def tags(
        self, origin: Scope, principal: Principal, zone_id: str, kind: str = "hostedzone"
    ) -> list[tuple[str, str]]:
        """A zone's tags, or a health check's (``kind`` ``healthcheck``)."""
        path = f"/tags/{kind}/{quote(zone_id, safe='')}"
        root = await self.request(origin, principal, "GET", path)
        listed = _child(_child(root, "ResourceTagSet"), "Tags")
        return [(_text(t, "Key"), _text(t, "Value")) for t in _children(listed, "Tag")]

    async def change_tags(
        self,
        origin: Scope,
        principal: Principal,
        zone_id: str,
        *,
        add: Sequence[tuple[str, str]] = (),
        remove: Sequence[str] = (),
        kind: str = "hostedzone",
    ) -> None:
        root = _document("ChangeTagsForResourceRequest")
        if add:
            added = SubElement(root, "AddTags")
            for key, value in add:
                tag = SubElement(added, "Tag")
                SubElement(tag, "Key").text = key
                SubElement(tag, "Value").text = value
        if remove:
            removed = SubElement(root, "RemoveTagKeys")
            for key in remove:
                SubElement(removed, "Key").text = key
        path = f"/tags/{kind}/{quote(zone_id, safe='')}"
        await self.request(origin, principal, "POST", path, body=root)
