"""Route 53's reusable delegation sets and VPC association authorisations (decision 0346)
as the console's pages call them (decision 0354), through the zones' wire
(``wire_route53.Route53Wire``: the same REST-XML app, its authorisation ``route53:<Operation>``
on ``delegationset/<id>`` and ``hostedzone/<id>``, audit and errors):
ListReusableDelegationSets (each set's zones by ListHostedZones' ``delegationsetid``),
CreateReusableDelegationSet, DeleteReusableDelegationSet; ListVPCAssociationAuthorizations,
CreateVPCAssociationAuthorization, DeleteVPCAssociationAuthorization; and, for the owner of a
VPC, ListHostedZonesByVPC (the other accounts' zones on it, with their ``OwningAccount``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote
from xml.etree.ElementTree import SubElement

from andromede.console.wire_route53 import (
    Route53Wire,
    ZoneRow,
    _child,
    _children,
    _document,
    _text,
    _vpc,
    _zone,
)
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = ["DelegationSetRow", "SetCalls", "SharedZoneRow"]

_ZONES_SHOWN: Final = 100  # a set's zones listed (ListHostedZones' largest page)
_AUTHORISATION_PAGES: Final = 20  # ListVPCAssociationAuthorizations' pages of 50 read at most


@dataclass(frozen=True, slots=True)
class DelegationSetRow:
    """A reusable delegation set: its id, caller reference, name servers and the zones on it
    (the first 100; ``more_zones`` when there are others)."""

    set_id: str
    caller_reference: str
    name_servers: tuple[str, ...]
    zones: tuple[ZoneRow, ...] = ()
    more_zones: bool = False


@dataclass(frozen=True, slots=True)
class SharedZoneRow:
    """Another account's private zone associated with a VPC of the caller's (by that
    account's authorisation), as ListHostedZonesByVPC lists it."""

    zone_id: str
    name: str
    owner: str
    region: str
    vpc_id: str


def _set(node: Any) -> DelegationSetRow:
    servers = _children(_child(node, "NameServers"), "NameServer")
    return DelegationSetRow(
        set_id=_text(node, "Id").rsplit("/", 1)[-1],
        caller_reference=_text(node, "CallerReference"),
        name_servers=tuple((s.text or "").strip() for s in servers),
    )


class SetCalls:
    """The delegation set and authorisation calls the console makes, as ``principal``."""

    def __init__(self, wire: Route53Wire) -> None:
        self._wire = wire

    @staticmethod
    def _zone_path(zone_id: str) -> str:
        return f"/hostedzone/{quote(zone_id, safe='')}"

    # -- reusable delegation sets ---------------------------------------------------------
    async def sets(
        self, origin: Scope, principal: Principal, *, marker: str, limit: int, zones: bool = True
    ) -> tuple[list[DelegationSetRow], str]:
        """One page of the account's sets after ``marker`` (with their zones unless
        ``zones`` is false), and the next page's marker ("" at the end)."""
        root, following = await self._wire.marker_page(
            origin, principal, "/delegationset", marker=marker, limit=limit
        )
        sets = [_set(s) for s in _children(_child(root, "DelegationSets"), "DelegationSet")]
        if zones:
            sets = [await self._with_zones(origin, principal, s) for s in sets]
        return sets, following

    async def _with_zones(
        self, origin: Scope, principal: Principal, found: DelegationSetRow
    ) -> DelegationSetRow:
        query = {"delegationsetid": found.set_id, "maxitems": str(_ZONES_SHOWN)}
        root = await self._wire.request(origin, principal, "GET", "/hostedzone", query=query)
        listed = tuple(_zone(z) for z in _children(_child(root, "HostedZones"), "HostedZone"))
        more = _text(root, "IsTruncated") == "true"
        return DelegationSetRow(
            found.set_id, found.caller_reference, found.name_servers, listed, more
        )

    async def create_set(self, origin: Scope, principal: Principal, zone_id: str) -> str:
        """A new set's id: of the platform's servers, or of the zone's own (``zone_id``;
        the zone then on it). Each form sent is a new caller reference."""
        root = _document("CreateReusableDelegationSetRequest")
        SubElement(root, "CallerReference").text = f"console-{uuid.uuid4()}"
        if zone_id:
            SubElement(root, "HostedZoneId").text = zone_id
        answer = await self._wire.request(origin, principal, "POST", "/delegationset", body=root)
        return _set(_child(answer, "DelegationSet")).set_id

    async def delete_set(self, origin: Scope, principal: Principal, set_id: str) -> None:
        path = f"/delegationset/{quote(set_id, safe='')}"
        await self._wire.request(origin, principal, "DELETE", path)

    # -- VPC association authorisations ---------------------------------------------------
    async def authorisations(
        self, origin: Scope, principal: Principal, zone_id: str
    ) -> list[tuple[str, str]]:
        """The VPCs (Region, VPC id) the zone authorises, every page read (at most 1,000)."""
        path = f"{self._zone_path(zone_id)}/authorizevpcassociation"
        return await self._wire.every_token_page(
            origin,
            principal,
            path,
            lambda root: [
                (_text(v, "VPCRegion"), _text(v, "VPCId"))
                for v in _children(_child(root, "VPCs"), "VPC")
            ],
            pages=_AUTHORISATION_PAGES,
        )

    async def authorise(
        self, origin: Scope, principal: Principal, zone_id: str, vpc: tuple[str, str]
    ) -> None:
        root = _document("CreateVPCAssociationAuthorizationRequest")
        _vpc(root, *vpc)
        path = f"{self._zone_path(zone_id)}/authorizevpcassociation"
        await self._wire.request(origin, principal, "POST", path, body=root)

    async def deauthorise(
        self, origin: Scope, principal: Principal, zone_id: str, vpc: tuple[str, str]
    ) -> None:
        root = _document("DeleteVPCAssociationAuthorizationRequest")
        _vpc(root, *vpc)
        path = f"{self._zone_path(zone_id)}/deauthorizevpcassociation"
        await self._wire.request(origin, principal, "POST", path, body=root)

    async def shared_zones(
        self, origin: Scope, principal: Principal, vpc: tuple[str, str]
    ) -> list[SharedZoneRow]:
        """The other accounts' zones associated with the caller's VPC (Region, VPC id): the
        first 100 ListHostedZonesByVPC gives, less the caller's own."""
        region, vpc_id = vpc
        query = {"vpcid": vpc_id, "vpcregion": region, "maxitems": str(_ZONES_SHOWN)}
        root = await self._wire.request(origin, principal, "GET", "/hostedzonesbyvpc", query=query)
        listed = _children(_child(root, "HostedZoneSummaries"), "HostedZoneSummary")
        rows = [
            SharedZoneRow(
                _text(z, "HostedZoneId"),
                _text(z, "Name"),
                _text(_child(z, "Owner"), "OwningAccount"),
                region,
                vpc_id,
            )
            for z in listed
        ]
        return [row for row in rows if row.owner != principal.tenant_id]
