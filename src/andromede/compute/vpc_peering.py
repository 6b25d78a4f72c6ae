"""A VPC peering connection's record and its state machine, pure (decision 0139).

A **VPC peering connection** (``pcx-…``) joins two VPCs of the Region — of one tenant, or of
two — so that each side's instances reach the other's block at their private addresses, where
both sides' route tables send it. The *requester* asks for it (CreateVpcPeeringConnection);
the *accepter*, the owner of the peer VPC (the same tenant or another), accepts or rejects it.

The record is the requester's (``tenant_id``) and names the accepter's tenant; both sides list
it, and each may delete it once active. Both VPCs' blocks are copied into it when it is asked
for, so a route table of one tenant never needs to read the other tenant's VPC.

**States** (EC2's ``status.code``): ``initiating-request`` (answered by the create only, as
EC2 answers it; nothing is stored in it), ``pending-acceptance``, ``active``, ``rejected``,
``deleted``, ``failed`` (stored when asked for with overlapping blocks, or a peer VPC that is
not there), ``expired`` (a pending request not accepted within a week, read so: nothing moves
it) — EC2's ``provisioning`` and ``deleting`` pass in no time here and are never stored.
:data:`TRANSITIONS` is the table of what each call may move from.

Each side's ``AllowDnsResolutionFromRemoteVpc`` (``requester_dns``, ``accepter_dns``; decision
0139's addendum) says whether the *other* VPC's resolver answers this side's names while the
connection is active (:meth:`VpcPeeringConnection.resolved_from`).
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final

from andromede.compute.errors import InvalidParameterValue, NotFound
from andromede.compute.model import FORMAT_VERSION, Tags

__all__ = [
    "EXPIRY",
    "TRANSITIONS",
    "PeeringState",
    "VpcPeeringConnection",
    "ended_with_vpc",
    "initiating_message",
    "overlap",
    "peering_route_target",
    "pending_message",
]

# EC2: a request not accepted within 7 days expires.
EXPIRY: Final = timedelta(days=7)
# How long EC2 keeps listing a connection in each final state.
_SHOWN: Final = {
    "deleted": timedelta(hours=2),
    "failed": timedelta(hours=2),
    "rejected": timedelta(days=7),
    "expired": timedelta(days=7),
}


class PeeringState(enum.StrEnum):
    INITIATING_REQUEST = "initiating-request"
    PENDING_ACCEPTANCE = "pending-acceptance"
    ACTIVE = "active"
    REJECTED = "rejected"
    DELETED = "deleted"
    FAILED = "failed"
    EXPIRED = "expired"
    PROVISIONING = "provisioning"
    DELETING = "deleting"


# call → the states it may move a connection from (anything else: InvalidStateTransition).
TRANSITIONS: Final[dict[str, frozenset[PeeringState]]] = {
    "accept": frozenset({PeeringState.PENDING_ACCEPTANCE}),
    "reject": frozenset({PeeringState.PENDING_ACCEPTANCE}),
    "delete": frozenset({PeeringState.PENDING_ACCEPTANCE, PeeringState.ACTIVE}),
}


@dataclass(frozen=True, slots=True)
class VpcPeeringConnection:
    peering_id: str
    # The requester's tenant: the record is its.
    tenant_id: str
    requester_vpc_id: str
    requester_cidr: str
    accepter_tenant_id: str
    accepter_vpc_id: str
    # Empty when the peer VPC was not found (the connection failed).
    accepter_cidr: str
    region: str
    create_time: datetime
    state: PeeringState = PeeringState.PENDING_ACCEPTANCE
    state_message: str = ""
    # When the last state was reached (a final one's window of visibility starts there).
    state_time: datetime | None = None
    # The requester's tags; the accepter's own (EC2 keeps each account's apart; older
    # records have none).
    tags: Tags = ()
    accepter_tags: Tags = ()
    # Each side's AllowDnsResolutionFromRemoteVpc (ModifyVpcPeeringConnectionOptions, set by
    # that side's owner): the other VPC's resolver answers this side's names (older records:
    # off).
    requester_dns: bool = False
    accepter_dns: bool = False
    format_version: int = FORMAT_VERSION
    revision: int = 0

    @property
    def resource_id(self) -> str:
        return self.peering_id

    def seen_by(self, tenant_id: str) -> VpcPeeringConnection:
        """The connection as ``tenant_id`` sees it: its own tags as ``tags`` (the accepter of
        another tenant's request sees its own, never the requester's)."""
        if tenant_id == self.tenant_id:
            return self
        return replace(self, tags=self.accepter_tags)

    def tags_field(self, tenant_id: str) -> str:
        """Which field holds ``tenant_id``'s tags."""
        return "tags" if tenant_id == self.tenant_id else "accepter_tags"

    def involves(self, tenant_id: str) -> bool:
        return tenant_id in (self.tenant_id, self.accepter_tenant_id)

    def state_at(self, now: datetime) -> PeeringState:
        """The state as shown at ``now``: a pending request past its week has expired."""
        if self.state is PeeringState.PENDING_ACCEPTANCE and now >= self.create_time + EXPIRY:
            return PeeringState.EXPIRED
        return self.state

    def expiration_time(self) -> datetime | None:
        if self.state is PeeringState.PENDING_ACCEPTANCE:
            return self.create_time + EXPIRY
        return None

    def visible(self, now: datetime) -> bool:
        """Whether DescribeVpcPeeringConnections still lists it: a connection in a final state
        is shown for EC2's while (two hours deleted or failed, a week rejected or expired)."""
        state = self.state_at(now)
        window = _SHOWN.get(state.value)
        if window is None:
            return True
        since = (
            self.create_time + EXPIRY
            if state is PeeringState.EXPIRED
            else (self.state_time or self.create_time)
        )
        return now - since < window

    def active_at(self, now: datetime) -> bool:
        return self.state_at(now) is PeeringState.ACTIVE

    def peer_of(self, vpc_id: str) -> tuple[str, str] | None:
        """(the other VPC's id, its block) seen from ``vpc_id``, one of its sides; None for
        a VPC that is neither."""
        if vpc_id == self.requester_vpc_id:
            return self.accepter_vpc_id, self.accepter_cidr
        if vpc_id == self.accepter_vpc_id:
            return self.requester_vpc_id, self.requester_cidr
        return None

    def resolved_from(self, vpc_id: str, now: datetime) -> tuple[str, str] | None:
        """(the peer VPC's id, its block) when ``vpc_id``'s resolver answers the peer VPC's
        names: the connection active and the peer side's AllowDnsResolutionFromRemoteVpc on;
        None otherwise."""
        if not self.active_at(now):
            return None
        if vpc_id == self.requester_vpc_id and self.accepter_dns:
            return self.accepter_vpc_id, self.accepter_cidr
        if vpc_id == self.accepter_vpc_id and self.requester_dns:
            return self.requester_vpc_id, self.requester_cidr
        return None

    def message(self, now: datetime) -> str:
        state = self.state_at(now)
        if state is PeeringState.EXPIRED:
            return "Expired"
        return self.state_message or _MESSAGES.get(state, "")


_MESSAGES: Final = {
    PeeringState.INITIATING_REQUEST: "Initiating Request to {}",
    PeeringState.PENDING_ACCEPTANCE: "Pending Acceptance by {}",
    PeeringState.ACTIVE: "Active",
    PeeringState.REJECTED: "Rejected",
    PeeringState.DELETED: "Deleted",
}


def pending_message(accepter_tenant_id: str) -> str:
    return _MESSAGES[PeeringState.PENDING_ACCEPTANCE].format(accepter_tenant_id)


def initiating_message(accepter_tenant_id: str) -> str:
    return _MESSAGES[PeeringState.INITIATING_REQUEST].format(accepter_tenant_id)


def overlap(a: str, b: str) -> bool:
    return ipaddress.IPv4Network(a).overlaps(ipaddress.IPv4Network(b))


def peering_route_target(
    peering: VpcPeeringConnection | None,
    tenant_id: str,
    table: tuple[str, str],
    peering_id: str,
) -> None:
    """A route of ``table`` (its id and its VPC's) may lead to an active peering connection
    the tenant is a side of, of the table's VPC: one it is not a side of is EC2's
    InvalidVpcPeeringConnectionID.NotFound; one of another VPC, or not active (pending,
    rejected, deleted…), InvalidParameterValue. The destination may be anything, as on EC2:
    only what lies in the peer VPC's block is carried (``routing.py``)."""
    if peering is None or not peering.involves(tenant_id):
        raise NotFound("pcx", peering_id)
    table_id, vpc_id = table
    if peering.peer_of(vpc_id) is None:
        raise InvalidParameterValue(
            f"route table {table_id} and network gateway {peering_id} belong to different networks"
        )
    if peering.state is not PeeringState.ACTIVE:
        raise InvalidParameterValue(
            f"The vpc peering connection {peering_id} is not active (its state is "
            f"{peering.state.value}): only an active connection can be routed to"
        )


def ended_with_vpc(
    peerings: Sequence[VpcPeeringConnection], vpc_id: str, now: datetime
) -> tuple[str | None, list[VpcPeeringConnection]]:
    """What deleting ``vpc_id`` does to its connections, as on EC2: an active one, and a
    pending one it requested or was asked by its own tenant, are deleted with it (the second
    of the pair); a pending request to it from another tenant keeps it (the first: that
    request's id), until its tenant rejects it."""
    ended: list[VpcPeeringConnection] = []
    for peering in peerings:
        state = peering.state_at(now)
        if peering.peer_of(vpc_id) is None or state not in TRANSITIONS["delete"]:
            continue
        if (
            state is PeeringState.PENDING_ACCEPTANCE
            and peering.accepter_vpc_id == vpc_id
            and peering.tenant_id != peering.accepter_tenant_id
        ):
            return peering.peering_id, []
        ended.append(
            replace(
                peering,
                state=PeeringState.DELETED,
                state_message="Deleted with its VPC " + vpc_id,
                state_time=now,
            )
        )
    return None, ended
