"""VPC peering connections in the compute service (decision 0139): CreateVpcPeeringConnection,
Accept/Reject/DeleteVpcPeeringConnection, DescribeVpcPeeringConnections, and what each change
pushes to the hosts.

A connection is asked for in one write serialised on the requester VPC's revision (a VPC
deleted at once either goes first, and the request finds it gone, or comes after). Every later
move is a conditional replace of the connection at the revision its state was read at, so two
calls at once (an accept and a delete, two accepts) never both win: the loser reads the new
state and answers EC2's InvalidStateTransition. The quota of active connections per VPC is
counted before the accept's write, as the other quotas are: two accepts at once may exceed it
by one.

Both sides list a connection: the record is the requester's and names the accepter's tenant
(``vpc_peering.py``). Turning one active, or no longer active, pushes the firewalls of both
VPCs' running instances, whose routes to it turn active or blackhole.

ModifyVpcPeeringConnectionOptions (decision 0139's addendum) sets each side's
``AllowDnsResolutionFromRemoteVpc``, by that side's owner, on an active connection whose two
VPCs have DNS hostnames and support on: the other VPC's resolver then answers this side's
``ip-`` names (:meth:`vpc_dns` adds the peer blocks), pushed to its hosts at once, and again
when the connection ends or either VPC's DNS attributes change.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import replace

from andromede.compute.driver_network import (
    VpcDns,
)
from andromede.compute.errors import (
    IncorrectState,
    InvalidParameterValue,
    InvalidStateTransition,
    NetworkLimitExceeded,
    NotFound,
    OperationNotPermitted,
    PeeringExists,
)
from andromede.compute.gateways import RoutingMixin
from andromede.compute.model import Instance, InstanceState, Tags, check_id, check_tags, new_id
from andromede.compute.network import Vpc
from andromede.compute.peering_hosts import links_by_host
from andromede.compute.vpc_peering import (
    TRANSITIONS,
    PeeringState,
    VpcPeeringConnection,
    overlap,
    pending_message,
)

__all__ = ["VpcPeeringsMixin"]

log = logging.getLogger(__name__)

_ATTEMPTS = 8
# An instance whose host holds its VPC's router (as the overlay peers count them).
_WIRED = frozenset({InstanceState.PENDING, InstanceState.RUNNING, InstanceState.STOPPING})
_ACCOUNT = re.compile(r"^[0-9]{12}$")


class VpcPeeringsMixin(RoutingMixin):
    async def create_vpc_peering_connection(
        self,
        tenant_id: str,
        vpc_id: str,
        peer_vpc_id: str,
        *,
        peer_owner_id: str | None = None,
        peer_region: str | None = None,
        tags: Tags = (),
    ) -> VpcPeeringConnection:
        """A request from the tenant's ``vpc_id`` to ``peer_vpc_id`` of ``peer_owner_id`` (the
        tenant itself without one), in this Region only. Stored ``pending-acceptance``, or
        ``failed`` when the blocks overlap or another tenant's peer VPC is not there (EC2
        reports both through the connection's state); the tenant's own peer VPC missing is
        InvalidVpcID.NotFound at once, as on EC2."""
        check_tags(tags)
        check_id(vpc_id, "vpc")
        check_id(peer_vpc_id, "vpc")
        if peer_region is not None and peer_region != self.limits.region:
            raise InvalidParameterValue(
                f"PeerRegion '{peer_region[:32]}' is not a Region of this endpoint: VPCs of "
                f"'{self.limits.region}' only can be peered here"
            )
        accepter = peer_owner_id or tenant_id
        if not _ACCOUNT.match(accepter):
            raise InvalidParameterValue(
                f"Value ({accepter[:32]}) for parameter peerOwnerId is invalid. "
                "It must be a 12-digit account ID."
            )
        for _ in range(_ATTEMPTS):
            vpc = await self.owned_vpc(tenant_id, vpc_id)
            peer: Vpc | None
            if accepter == tenant_id:
                peer = await self.owned_vpc(tenant_id, peer_vpc_id)
            else:
                found = await self.store.get(Vpc, peer_vpc_id)
                peer = found if found is not None and found.tenant_id == accepter else None
            if peer is not None and peer.vpc_id == vpc.vpc_id:
                raise InvalidParameterValue(
                    f"The VPC {vpc_id} cannot be peered with itself: name another as PeerVpcId"
                )
            if peer is not None and await self._pair_taken(vpc.vpc_id, peer.vpc_id):
                raise PeeringExists(
                    f"A VPC peering connection between {vpc_id} and {peer_vpc_id} already "
                    "exists, pending acceptance or active"
                )
            now = self.clock()
            state, message = PeeringState.PENDING_ACCEPTANCE, pending_message(accepter)
            if peer is None:
                state, message = PeeringState.FAILED, f"The VPC {peer_vpc_id} does not exist"
            elif overlap(vpc.cidr, peer.cidr):
                state, message = PeeringState.FAILED, "Overlapping CIDRs"
            peering = VpcPeeringConnection(
                new_id("pcx"),
                tenant_id,
                requester_vpc_id=vpc.vpc_id,
                requester_cidr=vpc.cidr,
                accepter_tenant_id=accepter,
                accepter_vpc_id=peer_vpc_id,
                accepter_cidr=peer.cidr if peer is not None else "",
                region=self.limits.region,
                create_time=now,
                state=state,
                state_message=message,
                state_time=now,
                tags=tags,
            )
            if await self.store.change(vpc, insert=[peering]):
                return peering
        raise IncorrectState(f"{vpc_id} changed concurrently; retry")

    async def _pair_taken(self, vpc_id: str, peer_vpc_id: str) -> bool:
        now = self.clock()
        pair = {vpc_id, peer_vpc_id}
        return any(
            {p.requester_vpc_id, p.accepter_vpc_id} == pair
            and p.state_at(now) in (PeeringState.PENDING_ACCEPTANCE, PeeringState.ACTIVE)
            for p in await self.store.list(VpcPeeringConnection, None)
        )

    async def _peering(self, tenant_id: str, peering_id: str) -> VpcPeeringConnection:
        """A connection the tenant is a side of and still sees; NotFound otherwise."""
        check_id(peering_id, "pcx")
        peering = await self.store.get(VpcPeeringConnection, peering_id)
        if peering is None or not peering.involves(tenant_id) or not peering.visible(self.clock()):
            raise NotFound("pcx", peering_id)
        return peering

    async def describe_vpc_peering_connections(
        self, tenant_id: str, ids: Sequence[str]
    ) -> list[VpcPeeringConnection]:
        """The connections the tenant is a side of (requester or accepter) in id order, final
        ones while EC2 still shows them, or those named (each must be: NotFound)."""
        now = self.clock()
        found = {
            p.peering_id: p
            for p in await self.store.list(VpcPeeringConnection, None)
            if p.involves(tenant_id) and p.visible(now)
        }
        if not ids:
            return [found[key].seen_by(tenant_id) for key in sorted(found)]
        chosen = []
        for wanted in dict.fromkeys(ids):
            check_id(wanted, "pcx")
            if wanted not in found:
                raise NotFound("pcx", wanted)
            chosen.append(found[wanted].seen_by(tenant_id))
        return chosen

    async def peerings_by_id(self, tenant_id: str) -> dict[str, VpcPeeringConnection]:
        """Every connection the tenant is a side of, by id (a route's state needs them)."""
        return {
            p.peering_id: p
            for p in await self.store.list(VpcPeeringConnection, None)
            if p.involves(tenant_id)
        }

    async def accept_vpc_peering_connection(
        self, tenant_id: str, peering_id: str
    ) -> VpcPeeringConnection:
        """Active, by the accepter's tenant only (the requester of a request to another
        tenant: OperationNotPermitted), within the quota of active connections of both
        VPCs."""
        for _ in range(_ATTEMPTS):
            peering = await self._peering(tenant_id, peering_id)
            if peering.accepter_tenant_id != tenant_id:
                raise OperationNotPermitted(f"User {tenant_id} cannot accept peering {peering_id}")
            self._check_move(peering, "accept", PeeringState.ACTIVE)
            await self._check_quota(peering)
            now = self.clock()
            active = replace(
                peering, state=PeeringState.ACTIVE, state_message="Active", state_time=now
            )
            if await self.store.replace(active):
                self._push_sides(active)
                return replace(active, revision=active.revision + 1).seen_by(tenant_id)
        raise IncorrectState(f"{peering_id} changed concurrently; retry")

    async def reject_vpc_peering_connection(self, tenant_id: str, peering_id: str) -> None:
        """Rejected, by the accepter's tenant only."""
        for _ in range(_ATTEMPTS):
            peering = await self._peering(tenant_id, peering_id)
            if peering.accepter_tenant_id != tenant_id:
                raise OperationNotPermitted(f"User {tenant_id} cannot reject peering {peering_id}")
            self._check_move(peering, "reject", PeeringState.REJECTED)
            rejected = replace(
                peering,
                state=PeeringState.REJECTED,
                state_message="Rejected",
                state_time=self.clock(),
            )
            if await self.store.replace(rejected):
                return
        raise IncorrectState(f"{peering_id} changed concurrently; retry")

    async def delete_vpc_peering_connection(self, tenant_id: str, peering_id: str) -> None:
        """Deleted, by either side once active; a pending request by its requester only (the
        accepter rejects it). Routes to it stay, as blackholes (EC2)."""
        for _ in range(_ATTEMPTS):
            peering = await self._peering(tenant_id, peering_id)
            self._check_move(peering, "delete", PeeringState.DELETED)
            if peering.state is PeeringState.PENDING_ACCEPTANCE and peering.tenant_id != tenant_id:
                raise OperationNotPermitted(
                    f"User {tenant_id} cannot delete peering {peering_id} while it is pending "
                    "acceptance: reject it"
                )
            deleted = replace(
                peering,
                state=PeeringState.DELETED,
                state_message=f"Deleted by {tenant_id}",
                state_time=self.clock(),
            )
            if await self.store.replace(deleted):
                if peering.state is PeeringState.ACTIVE:
                    self._push_sides(deleted)
                    await self._push_dns_sides(peering, deleted)
                return
        raise IncorrectState(f"{peering_id} changed concurrently; retry")

    async def modify_vpc_peering_connection_options(
        self,
        tenant_id: str,
        peering_id: str,
        *,
        requester_dns: bool | None = None,
        accepter_dns: bool | None = None,
    ) -> VpcPeeringConnection:
        """Each side's AllowDnsResolutionFromRemoteVpc (None: left alone), as EC2 sets them:
        a side by its VPC's owner only (the other tenant: OperationNotPermitted "User … does
        not have permission to modify the accepter side peering options"), on an active
        connection only (OperationNotPermitted "Peering pcx-… is not active…"), turned on only
        while both VPCs have DNS hostnames and support on. The VPC whose resolver answers
        the changed side's names is pushed to its hosts before the answer."""
        for _ in range(_ATTEMPTS):
            peering = await self._peering(tenant_id, peering_id)
            for side, value, owner in (
                ("requester", requester_dns, peering.tenant_id),
                ("accepter", accepter_dns, peering.accepter_tenant_id),
            ):
                if value is not None and owner != tenant_id:
                    raise OperationNotPermitted(
                        f"User {tenant_id} does not have permission to modify the {side} side "
                        "peering options"
                    )
            if not peering.active_at(self.clock()):
                raise OperationNotPermitted(
                    f"Peering {peering_id} is not active. Peering options can be added only to "
                    "active peerings."
                )
            if requester_dns or accepter_dns:
                await self._check_dns_attributes(peering)
            changed = replace(
                peering,
                requester_dns=peering.requester_dns if requester_dns is None else requester_dns,
                accepter_dns=peering.accepter_dns if accepter_dns is None else accepter_dns,
            )
            if changed == peering:
                return peering.seen_by(tenant_id)
            if await self.store.replace(changed):
                await self._push_dns_sides(peering, changed)
                return replace(changed, revision=changed.revision + 1).seen_by(tenant_id)
        raise IncorrectState(f"{peering_id} changed concurrently; retry")

    async def _check_dns_attributes(self, peering: VpcPeeringConnection) -> None:
        # EC2: "Both VPCs must be enabled for DNS hostnames and DNS resolution" (the VPC
        # peering guide); its error's words were not found.
        for vpc_id in (peering.requester_vpc_id, peering.accepter_vpc_id):
            vpc = await self.store.get(Vpc, vpc_id)
            if vpc is None or not (vpc.enable_dns_support and vpc.dns_hostnames):
                raise OperationNotPermitted(
                    f"DNS resolution across peering {peering.peering_id} needs DNS hostnames "
                    f"and DNS support enabled on both VPCs; {vpc_id} has not both"
                )

    async def _push_dns_sides(
        self, before: VpcPeeringConnection, after: VpcPeeringConnection
    ) -> None:
        """The resolvers whose peer blocks changed: the requester VPC's answers the
        accepter's names (the accepter's option), and the reverse."""
        now = self.clock()
        for vpc_id in (before.requester_vpc_id, before.accepter_vpc_id):
            if before.resolved_from(vpc_id, now) != after.resolved_from(vpc_id, now):
                await self._push_own_dns(vpc_id)

    async def vpc_dns(self, vpc: Vpc) -> VpcDns:
        """The VPC's DNS (decision 0143) with the blocks of the VPCs peered with it whose
        names its resolver answers: the connection active, the peer side's option on, and
        the peer VPC's DNS hostnames and support on (its instances have names)."""
        dns = await super().vpc_dns(vpc)
        now = self.clock()
        blocks: list[str] = []
        for peering in await self.store.list(VpcPeeringConnection, None):
            peer = peering.resolved_from(vpc.vpc_id, now)
            if peer is None:
                continue
            other = await self.store.get(Vpc, peer[0])
            if other is not None and other.enable_dns_support and other.dns_hostnames:
                blocks.append(peer[1])
        return replace(dns, peer_blocks=tuple(sorted(blocks))) if blocks else dns

    async def _push_vpc_dns(self, vpc: Vpc) -> None:
        """The VPC's DNS, and that of the VPCs whose resolver answers its names: its DNS
        attributes decide whether they do."""
        await super()._push_vpc_dns(vpc)
        now = self.clock()
        for peering in await self.store.list(VpcPeeringConnection, None):
            other = peering.peer_of(vpc.vpc_id)
            if other is not None and peering.resolved_from(other[0], now) is not None:
                await self._push_own_dns(other[0])

    async def _push_own_dns(self, vpc_id: str) -> None:
        # The VPC's alone (not its peers' in turn: two peers would push each other forever).
        vpc = await self.store.get(Vpc, vpc_id)
        if vpc is not None:
            await super()._push_vpc_dns(vpc)

    def _check_move(self, peering: VpcPeeringConnection, call: str, target: PeeringState) -> None:
        state = peering.state_at(self.clock())
        if state not in TRANSITIONS[call]:
            raise InvalidStateTransition(peering.peering_id, state.value, target.value)

    async def _check_quota(self, peering: VpcPeeringConnection) -> None:
        most = self.limits.max_vpc_peerings_per_vpc
        active = [
            p
            for p in await self.store.list(VpcPeeringConnection, None)
            if p.state is PeeringState.ACTIVE
        ]
        for vpc_id in (peering.requester_vpc_id, peering.accepter_vpc_id):
            if sum(1 for p in active if p.peer_of(vpc_id) is not None) >= most:
                raise NetworkLimitExceeded(
                    "pcx",
                    f"The maximum number of active VPC peering connections ({most}) has been "
                    f"reached for {vpc_id}.",
                )

    def _push_sides(self, peering: VpcPeeringConnection) -> None:
        """Both VPCs' firewalls again: their routes to the connection turned active or
        blackhole; and the hosts' links between routers."""
        self._push_later(peering.tenant_id, (), vpc_ids=(peering.requester_vpc_id,))
        self._push_later(peering.accepter_tenant_id, (), vpc_ids=(peering.accepter_vpc_id,))
        self._spawn(self._push_peering_links())

    async def _push_peering_links(self) -> None:
        """Tell every host the active connections it joins (:func:`links_by_host`): those
        whose two VPCs have instances there, joined by a link between the routers, and those
        with one side there and the other side's instances on other hosts, reached over the
        connection's own VXLAN segment (the 0139 addendum). It parts those it is no longer
        told of. A push that fails is logged, as every push is: the next change of where
        instances run, or ``resync_hosts``, carries the whole set again."""
        active = [
            p
            for p in await self.store.list(VpcPeeringConnection, None)
            if p.state is PeeringState.ACTIVE
        ]
        placed = [
            (instance.host, instance.vpc_id, instance.private_ip)
            for instance in await self.store.list(Instance, None)
            if instance.vpc_id is not None
            and instance.private_ip is not None
            and instance.state in _WIRED
        ]
        endpoints = await self._current_endpoints() if active else {}
        told = links_by_host(active, placed, self.drivers, endpoints)
        for host, driver in sorted(self.drivers.items()):
            try:
                await driver.set_peering_links(told[host])
            except Exception:
                log.exception("host %s: the VPC peering links could not be set", host)

    async def _push_peers(self, *subnet_ids: str | None) -> None:
        """After the overlay peers, the peering links: where instances run changed."""
        await super()._push_peers(*subnet_ids)
        await self._push_peering_links()

    async def resync_hosts(self) -> None:
        await super().resync_hosts()
        await self._push_peering_links()
