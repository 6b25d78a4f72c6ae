"""EC2's VPC peering connection calls (decision 0139), made in process as the console's
signed-in principal through ``wire_ec2.Ec2Wire``: EC2's own authorisation, audit and errors
answer them. Each answer is read into the small rows the peering connections page and a route
table's page show; nothing here decides what EC2 allows (who may accept, reject or delete a
connection in which state is EC2's transition table, answered by its codes).

Functions over ``Ec2Wire.call`` rather than more methods of it, as ``wire_routing`` and
``wire_nat_gateways``, so that the console's one EC2 wire stays the one ``Console.ec2`` holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from xml.etree.ElementTree import Element

from andromede.console.wire_ec2 import Ec2Wire, _when, name_of, tagged, tags_of, text
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = [
    "ACTIVE",
    "FAILED",
    "PENDING",
    "NewPeering",
    "PeeringRow",
    "accept_vpc_peering_connection",
    "create_vpc_peering_connection",
    "delete_vpc_peering_connection",
    "describe_vpc_peering_connections",
    "reject_vpc_peering_connection",
]

# EC2's status codes the console acts on: only an active connection carries packets and may
# be a route's target; only a pending one is accepted or rejected; a failed one is answered by
# CreateVpcPeeringConnection itself (overlapping blocks, a peer VPC that is not there).
ACTIVE: Final = "active"
PENDING: Final = "pending-acceptance"
FAILED: Final = "failed"


@dataclass(frozen=True, slots=True)
class PeeringRow:
    peering_id: str
    name: str  # the caller's own Name tag: each side tags a connection apart
    status: str  # EC2's code: pending-acceptance, active, rejected, deleted, failed, expired
    message: str  # EC2's status message ("Pending Acceptance by …", "Overlapping CIDRs")
    requester_vpc_id: str
    requester_owner: str
    requester_cidr: str
    accepter_vpc_id: str
    accepter_owner: str
    accepter_cidr: str  # "" until active, as EC2 shows it
    expires: str  # a pending request's week's end; "" otherwise

    @property
    def active(self) -> bool:
        return self.status == ACTIVE

    def involves(self, vpc_id: str) -> bool:
        return vpc_id in (self.requester_vpc_id, self.accepter_vpc_id)

    def peer_of(self, vpc_id: str) -> tuple[str, str]:
        """The other side's VPC and block, seen from ``vpc_id`` (one of the two)."""
        if vpc_id == self.requester_vpc_id:
            return self.accepter_vpc_id, self.accepter_cidr
        return self.requester_vpc_id, self.requester_cidr

    def may_answer(self, account: str | None) -> bool:
        """Whether the page offers ``account`` to accept or reject it: a pending request to
        it. EC2 decides the call (OperationNotPermitted for the requester's)."""
        return self.status == PENDING and account == self.accepter_owner

    def may_delete(self, account: str | None) -> bool:
        """Whether the page offers ``account`` to delete it: either side once active, the
        requester while pending (the accepter rejects instead); EC2 decides the call."""
        return self.active or (self.status == PENDING and account == self.requester_owner)


@dataclass(frozen=True, slots=True)
class NewPeering:
    """CreateVpcPeeringConnection's answer: the new connection, ``failed`` at once when EC2
    reports it so (its message says why)."""

    peering_id: str
    status: str
    message: str


def _peering(item: Element) -> PeeringRow:
    requester = item.find("requesterVpcInfo")
    accepter = item.find("accepterVpcInfo")
    if requester is None:
        requester = Element("requesterVpcInfo")
    if accepter is None:
        accepter = Element("accepterVpcInfo")
    return PeeringRow(
        peering_id=text(item, "vpcPeeringConnectionId"),
        name=name_of(tags_of(item)),
        status=text(item, "status/code"),
        message=text(item, "status/message"),
        requester_vpc_id=text(requester, "vpcId"),
        requester_owner=text(requester, "ownerId"),
        requester_cidr=text(requester, "cidrBlock"),
        accepter_vpc_id=text(accepter, "vpcId"),
        accepter_owner=text(accepter, "ownerId"),
        accepter_cidr=text(accepter, "cidrBlock"),
        expires=_when(text(item, "expirationTime")),
    )


async def describe_vpc_peering_connections(
    ec2: Ec2Wire, origin: Scope, who: Principal, *, vpc_id: str | None = None
) -> list[PeeringRow]:
    """The connections the caller is a side of, requester or accepter, final ones while EC2
    still shows them (those ``vpc_id`` is a side of only, when given: EC2's filters name one
    side each, so the one list is read and kept to either side)."""
    root = await ec2.call(origin, who, "DescribeVpcPeeringConnections", {})
    rows = [_peering(p) for p in root.iterfind("vpcPeeringConnectionSet/item")]
    return [r for r in rows if r.involves(vpc_id)] if vpc_id else rows


async def create_vpc_peering_connection(
    ec2: Ec2Wire,
    origin: Scope,
    who: Principal,
    vpc_id: str,
    peer_vpc_id: str,
    peer_owner_id: str,
    name: str,
) -> NewPeering:
    """A request from the caller's ``vpc_id`` to ``peer_vpc_id`` of ``peer_owner_id`` (the
    caller's own account when empty, as EC2 reads no PeerOwnerId), in the endpoint's Region."""
    params = {
        "VpcId": vpc_id,
        "PeerVpcId": peer_vpc_id,
        **tagged("vpc-peering-connection", name),
    }
    if peer_owner_id:
        params["PeerOwnerId"] = peer_owner_id
    root = await ec2.call(origin, who, "CreateVpcPeeringConnection", params)
    return NewPeering(
        peering_id=text(root, "vpcPeeringConnection/vpcPeeringConnectionId"),
        status=text(root, "vpcPeeringConnection/status/code"),
        message=text(root, "vpcPeeringConnection/status/message"),
    )


async def accept_vpc_peering_connection(
    ec2: Ec2Wire, origin: Scope, who: Principal, peering_id: str
) -> None:
    params = {"VpcPeeringConnectionId": peering_id}
    await ec2.call(origin, who, "AcceptVpcPeeringConnection", params)


async def reject_vpc_peering_connection(
    ec2: Ec2Wire, origin: Scope, who: Principal, peering_id: str
) -> None:
    params = {"VpcPeeringConnectionId": peering_id}
    await ec2.call(origin, who, "RejectVpcPeeringConnection", params)


async def delete_vpc_peering_connection(
    ec2: Ec2Wire, origin: Scope, who: Principal, peering_id: str
) -> None:
    """Deleted: both sides' routes to it turn blackholes (EC2's, not the console's doing)."""
    params = {"VpcPeeringConnectionId": peering_id}
    await ec2.call(origin, who, "DeleteVpcPeeringConnection", params)
