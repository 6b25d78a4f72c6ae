"""Amazon Route 53's calls (decision 0280) the console's hosted zone pages make (decision
0288), in process as the signed-in principal through Route 53's REST-XML protocol
(``route53api.app``, paths under ``/2013-04-01/``): its authorisation
(``route53:<Operation>`` on the zone's ARN), checks, audit and errors answer them. A refusal's
code and words are those of its ``ErrorResponse/Error`` (in Route 53's namespace). Each answer
is read into the small rows the pages show; nothing here decides what Route 53 allows.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import quote, urlencode
from xml.etree.ElementTree import Element, SubElement, tostring

import defusedxml.ElementTree as SafeET

from andromede.console.wire import Answer, AsgiApp, WireError, _call, _scope
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = ["RecordPage", "RecordRow", "Route53Wire", "ZoneDetail", "ZoneRow"]

_PREFIX: Final = "/2013-04-01"
_NAMESPACE: Final = "https://route53.amazonaws.com/doc/2013-04-01/"


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


@dataclass(frozen=True, slots=True)
class RecordRow:
    """One of ListResourceRecordSets' record sets."""

    name: str
    record_type: str
    ttl: int
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RecordPage:
    """A page of record sets, and where the next starts (("", "") at the end)."""

    records: list[RecordRow]
    next_start: tuple[str, str] = ("", "")


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


def _record(node: Any) -> RecordRow:
    ttl = _text(node, "TTL")
    return RecordRow(
        name=_text(node, "Name"),
        record_type=_text(node, "Type"),
        ttl=int(ttl) if ttl.isdigit() else 0,
        values=tuple(
            _text(r, "Value") for r in _children(_child(node, "ResourceRecords"), "ResourceRecord")
        ),
    )


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

    async def _request(
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

    @staticmethod
    def _zone_path(zone_id: str) -> str:
        return f"/hostedzone/{quote(zone_id, safe='')}"

    # -- zones ----------------------------------------------------------------------------
    async def zones(
        self, origin: Scope, principal: Principal, *, marker: str, limit: int
    ) -> tuple[list[ZoneRow], str]:
        """One page of ListHostedZones after ``marker``, and the next page's marker ("")."""
        query = {"maxitems": str(limit)}
        if marker:
            query["marker"] = marker
        root = await self._request(origin, principal, "GET", "/hostedzone", query=query)
        zones = [_zone(z) for z in _children(_child(root, "HostedZones"), "HostedZone")]
        more = _text(root, "IsTruncated") == "true"
        return zones, _text(root, "NextMarker") if more else ""

    async def zone(self, origin: Scope, principal: Principal, zone_id: str) -> ZoneDetail:
        root = await self._request(origin, principal, "GET", self._zone_path(zone_id))
        servers = _children(_child(_child(root, "DelegationSet"), "NameServers"), "NameServer")
        vpcs = _children(_child(root, "VPCs"), "VPC")
        return ZoneDetail(
            zone=_zone(_child(root, "HostedZone")),
            name_servers=[(s.text or "").strip() for s in servers],
            vpcs=[(_text(v, "VPCRegion"), _text(v, "VPCId")) for v in vpcs],
        )

    async def create_zone(
        self,
        origin: Scope,
        principal: Principal,
        *,
        name: str,
        comment: str,
        vpc: tuple[str, str] | None,
    ) -> str:
        """The new zone's id; private when ``vpc`` (Region, VPC id) is given. Each form sent
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
        answer = await self._request(origin, principal, "POST", "/hostedzone", body=root)
        return _zone(_child(answer, "HostedZone")).zone_id

    async def delete_zone(self, origin: Scope, principal: Principal, zone_id: str) -> None:
        await self._request(origin, principal, "DELETE", self._zone_path(zone_id))

    async def update_comment(
        self, origin: Scope, principal: Principal, zone_id: str, comment: str
    ) -> None:
        root = _document("UpdateHostedZoneCommentRequest")
        SubElement(root, "Comment").text = comment
        await self._request(origin, principal, "POST", self._zone_path(zone_id), body=root)

    async def associate(
        self, origin: Scope, principal: Principal, zone_id: str, vpc: tuple[str, str]
    ) -> None:
        root = _document("AssociateVPCWithHostedZoneRequest")
        _vpc(root, *vpc)
        path = f"{self._zone_path(zone_id)}/associatevpc"
        await self._request(origin, principal, "POST", path, body=root)

    async def disassociate(
        self, origin: Scope, principal: Principal, zone_id: str, vpc: tuple[str, str]
    ) -> None:
        root = _document("DisassociateVPCFromHostedZoneRequest")
        _vpc(root, *vpc)
        path = f"{self._zone_path(zone_id)}/disassociatevpc"
        await self._request(origin, principal, "POST", path, body=root)

    # -- record sets ----------------------------------------------------------------------
    async def records(
        self,
        origin: Scope,
        principal: Principal,
        zone_id: str,
        *,
        start: tuple[str, str],
        limit: int,
    ) -> RecordPage:
        """One page of ListResourceRecordSets from ``start`` (name, type; ("", "") the
        first)."""
        query = {"maxitems": str(limit)}
        if start[0]:
            query["name"] = start[0]
            if start[1]:
                query["type"] = start[1]
        path = f"{self._zone_path(zone_id)}/rrset"
        root = await self._request(origin, principal, "GET", path, query=query)
        records = [
            _record(r) for r in _children(_child(root, "ResourceRecordSets"), "ResourceRecordSet")
        ]
        if _text(root, "IsTruncated") != "true":
            return RecordPage(records)
        return RecordPage(records, (_text(root, "NextRecordName"), _text(root, "NextRecordType")))

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
    ) -> None:
        """One ChangeResourceRecordSets change (CREATE, UPSERT or DELETE), as typed: Route 53
        refuses a TTL that is no number, a value not of its type, a DELETE not exact."""
        root = _document("ChangeResourceRecordSetsRequest")
        change = SubElement(SubElement(SubElement(root, "ChangeBatch"), "Changes"), "Change")
        SubElement(change, "Action").text = action
        record = SubElement(change, "ResourceRecordSet")
        SubElement(record, "Name").text = name
        SubElement(record, "Type").text = record_type
        SubElement(record, "TTL").text = ttl
        listed = SubElement(record, "ResourceRecords")
        for value in values:
            SubElement(SubElement(listed, "ResourceRecord"), "Value").text = value
        path = f"{self._zone_path(zone_id)}/rrset"
        await self._request(origin, principal, "POST", path, body=root)

    # -- tags -----------------------------------------------------------------------------
    async def tags(
        self, origin: Scope, principal: Principal, zone_id: str
    ) -> list[tuple[str, str]]:
        path = f"/tags/hostedzone/{quote(zone_id, safe='')}"
        root = await self._request(origin, principal, "GET", path)
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
        path = f"/tags/hostedzone/{quote(zone_id, safe='')}"
        await self._request(origin, principal, "POST", path, body=root)
