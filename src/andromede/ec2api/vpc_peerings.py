"""EC2's VPC peering connections (decision 0139): CreateVpcPeeringConnection (``VpcId``,
``PeerVpcId``, ``PeerOwnerId``, ``PeerRegion`` — this Region's only — and
``TagSpecifications`` of type ``vpc-peering-connection``), Accept-, Reject- and
DeleteVpcPeeringConnection, DescribeVpcPeeringConnections (ids, or pages of ``MaxResults`` 5
to 1,000 with ``NextToken``; the filters EC2 documents and tags).

CreateVpcPeeringConnection answers the connection ``initiating-request``, as EC2 does;
DescribeVpcPeeringConnections then shows it as stored, ``pending-acceptance`` (or ``failed``).
Both sides see a connection; each sees and sets its own tags (CreateTags, DeleteTags).

ModifyVpcPeeringConnectionOptions (decision 0139's addendum) takes each side's
``AllowDnsResolutionFromRemoteVpc``; the retired ClassicLink options are taken ``false``
only (anything else is refused, never dropped); it answers the sides it was asked for, and
each side's ``peeringOptions`` in the describe show them.
"""

from __future__ import annotations

from collections.abc import Callable

from andromede.compute.vpc_peering import (
    PeeringState,
    VpcPeeringConnection,
    initiating_message,
)
from andromede.ec2api.errors import Ec2Error
from andromede.ec2api.filters import Filters, matches, with_tags
from andromede.ec2api.protocol import Action, Call, iso8601, paged
from andromede.ec2api.vpcs import resource_tags
from andromede.ec2api.xml import write_return, write_tags
from andromede.http.xml import XmlWriter

__all__ = ["VPC_PEERING_ACTIONS"]


def _write_options(xml: XmlWriter, element: str, dns: bool) -> None:
    xml.open(element)
    xml.element("allowDnsResolutionFromRemoteVpc", dns)
    # ClassicLink is retired: never allowed.
    xml.element("allowEgressFromLocalClassicLinkToRemoteVpc", False)
    xml.element("allowEgressFromLocalVpcToRemoteClassicLink", False)
    xml.close(element)


def _write_side(
    xml: XmlWriter, element: str, owner: str, vpc_id: str, cidr: str, region: str, dns: bool
) -> None:
    xml.open(element)
    if cidr:
        xml.element("cidrBlock", cidr)
        xml.open("cidrBlockSet")
        xml.open("item")
        xml.element("cidrBlock", cidr)
        xml.close("item")
        xml.close("cidrBlockSet")
    xml.element("ownerId", owner)
    _write_options(xml, "peeringOptions", dns)
    xml.element("vpcId", vpc_id)
    xml.element("region", region)
    xml.close(element)


def _write_peering(
    call: Call,
    xml: XmlWriter,
    peering: VpcPeeringConnection,
    element: str,
    *,
    answered: PeeringState | None = None,
) -> None:
    now = call.compute.clock()
    state = answered or peering.state_at(now)
    xml.open(element)
    # EC2 shows the accepter's block once the connection is active.
    accepter_cidr = peering.accepter_cidr if state is PeeringState.ACTIVE else ""
    _write_side(
        xml,
        "accepterVpcInfo",
        peering.accepter_tenant_id,
        peering.accepter_vpc_id,
        accepter_cidr,
        peering.region,
        peering.accepter_dns,
    )
    expiry = peering.expiration_time()
    if expiry is not None:
        xml.element("expirationTime", iso8601(expiry))
    _write_side(
        xml,
        "requesterVpcInfo",
        peering.tenant_id,
        peering.requester_vpc_id,
        peering.requester_cidr,
        peering.region,
        peering.requester_dns,
    )
    xml.open("status")
    xml.element("code", state.value)
    message = (
        initiating_message(peering.accepter_tenant_id)
        if answered is PeeringState.INITIATING_REQUEST
        else peering.message(now)
    )
    xml.element("message", message)
    xml.close("status")
    write_tags(xml, peering.tags)  # the caller's own: the service gives it as it sees it
    xml.element("vpcPeeringConnectionId", peering.peering_id)
    xml.close(element)


def _peering_filters(call: Call) -> Callable[[str], Callable[[object], list[str]] | None]:
    now = call.compute.clock()

    def of(get: Callable[[VpcPeeringConnection], str]) -> Callable[[object], list[str]]:
        return lambda p: [get(p)] if isinstance(p, VpcPeeringConnection) else []

    def expiry(p: object) -> list[str]:
        moment = p.expiration_time() if isinstance(p, VpcPeeringConnection) else None
        return [iso8601(moment)] if moment is not None else []

    def accepter_cidr(p: object) -> list[str]:
        if isinstance(p, VpcPeeringConnection) and p.state_at(now) is PeeringState.ACTIVE:
            return [p.accepter_cidr]
        return []

    fields = {
        "accepter-vpc-info.cidr-block": accepter_cidr,
        "accepter-vpc-info.owner-id": of(lambda p: p.accepter_tenant_id),
        "accepter-vpc-info.vpc-id": of(lambda p: p.accepter_vpc_id),
        "expiration-time": expiry,
        "requester-vpc-info.cidr-block": of(lambda p: p.requester_cidr),
        "requester-vpc-info.owner-id": of(lambda p: p.tenant_id),
        "requester-vpc-info.vpc-id": of(lambda p: p.requester_vpc_id),
        "status-code": of(lambda p: p.state_at(now).value),
        "status-message": of(lambda p: p.message(now)),
        "vpc-peering-connection-id": of(lambda p: p.peering_id),
    }
    return with_tags(fields)


_CREATE_HANDLED = frozenset({"VpcId", "PeerVpcId", "PeerOwnerId", "PeerRegion", "TagSpecification"})


async def create_vpc_peering_connection(call: Call) -> None:
    p = call.params
    p.refuse_unhandled("CreateVpcPeeringConnection", _CREATE_HANDLED)
    peering = await call.compute.create_vpc_peering_connection(
        call.tenant_id,
        p.required("VpcId"),
        p.required("PeerVpcId"),
        peer_owner_id=p.get("PeerOwnerId") or None,
        peer_region=p.get("PeerRegion") or None,
        tags=resource_tags(p, "vpc-peering-connection"),
    )
    # EC2 answers a new request initiating-request; it is stored pending-acceptance.
    answered = (
        PeeringState.INITIATING_REQUEST
        if peering.state is PeeringState.PENDING_ACCEPTANCE
        else None
    )
    _write_peering(call, call.result, peering, "vpcPeeringConnection", answered=answered)


async def accept_vpc_peering_connection(call: Call) -> None:
    peering = await call.compute.accept_vpc_peering_connection(
        call.tenant_id, call.params.required("VpcPeeringConnectionId")
    )
    _write_peering(call, call.result, peering, "vpcPeeringConnection")


async def reject_vpc_peering_connection(call: Call) -> None:
    await call.compute.reject_vpc_peering_connection(
        call.tenant_id, call.params.required("VpcPeeringConnectionId")
    )
    write_return(call.result)


async def delete_vpc_peering_connection(call: Call) -> None:
    await call.compute.delete_vpc_peering_connection(
        call.tenant_id, call.params.required("VpcPeeringConnectionId")
    )
    write_return(call.result)


async def describe_vpc_peering_connections(call: Call) -> None:
    p = call.params
    found = await call.compute.describe_vpc_peering_connections(
        call.tenant_id, p.values("VpcPeeringConnectionId")
    )
    filters = Filters(p.filters(), _peering_filters(call))
    chosen, next_token = paged(
        p,
        [c for c in found if matches(filters, c)],
        lambda c: c.peering_id,
        most=1000,
        ids="VpcPeeringConnectionId",
    )
    xml = call.result
    xml.open("vpcPeeringConnectionSet")
    for peering in chosen:
        _write_peering(call, xml, peering, "item")
    xml.close("vpcPeeringConnectionSet")
    xml.element("nextToken", next_token)


_SIDES = {
    "RequesterPeeringConnectionOptions": "requesterPeeringConnectionOptions",
    "AccepterPeeringConnectionOptions": "accepterPeeringConnectionOptions",
}
_DNS = "AllowDnsResolutionFromRemoteVpc"
_CLASSIC_LINK = (
    "AllowEgressFromLocalClassicLinkToRemoteVpc",
    "AllowEgressFromLocalVpcToRemoteClassicLink",
)


async def modify_vpc_peering_connection_options(call: Call) -> None:
    p = call.params
    for side in _SIDES:
        for option in _CLASSIC_LINK:
            value = p.get(f"{side}.{option}")
            if value is not None and value.lower() != "false":
                raise Ec2Error(
                    "UnsupportedOperation",
                    f"{side}.{option}: ClassicLink is retired; the option can only be false",
                )
    p.refuse_unhandled(
        "ModifyVpcPeeringConnectionOptions",
        frozenset({"VpcPeeringConnectionId", *(f"{side}.{_DNS}" for side in _SIDES)}),
        {f"{side}.{option}": frozenset({"false"}) for side in _SIDES for option in _CLASSIC_LINK},
    )
    asked = [side for side in _SIDES if p.view(side + ".").names()]

    def dns(side: str) -> bool | None:
        if p.get(f"{side}.{_DNS}") is None:
            return None
        return p.boolean(f"{side}.{_DNS}", default=False)

    peering = await call.compute.modify_vpc_peering_connection_options(
        call.tenant_id,
        p.required("VpcPeeringConnectionId"),
        requester_dns=dns("RequesterPeeringConnectionOptions"),
        accepter_dns=dns("AccepterPeeringConnectionOptions"),
    )
    values = {
        "RequesterPeeringConnectionOptions": peering.requester_dns,
        "AccepterPeeringConnectionOptions": peering.accepter_dns,
    }
    for side in sorted(asked, key=lambda s: _SIDES[s]):
        _write_options(call.result, _SIDES[side], values[side])


def _create_arns(call: Call) -> list[str]:
    # EC2 authorises CreateVpcPeeringConnection on the new connection and on both VPCs (the
    # peer's in its owner's account).
    p = call.params
    owner = p.get("PeerOwnerId") or call.tenant_id
    peer_vpc = p.get("PeerVpcId") or "*"
    return [
        call.arn("vpc-peering-connection"),
        call.arn("vpc", p.get("VpcId") or "*"),
        f"arn:aws:ec2:{call.region}:{owner}:vpc/{peer_vpc}",
    ]


def _peering_arn(call: Call) -> list[str]:
    return [call.arn("vpc-peering-connection", call.params.get("VpcPeeringConnectionId") or "*")]


VPC_PEERING_ACTIONS: dict[str, Action] = {
    "CreateVpcPeeringConnection": Action(
        create_vpc_peering_connection, mutating=True, resources=_create_arns
    ),
    "AcceptVpcPeeringConnection": Action(
        accept_vpc_peering_connection, mutating=True, resources=_peering_arn
    ),
    "RejectVpcPeeringConnection": Action(
        reject_vpc_peering_connection, mutating=True, resources=_peering_arn
    ),
    "DeleteVpcPeeringConnection": Action(
        delete_vpc_peering_connection, mutating=True, resources=_peering_arn
    ),
    "DescribeVpcPeeringConnections": Action(describe_vpc_peering_connections, mutating=False),
    "ModifyVpcPeeringConnectionOptions": Action(
        modify_vpc_peering_connection_options, mutating=True, resources=_peering_arn
    ),
}
