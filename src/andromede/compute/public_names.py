"""The instances' public DNS names in the compute service (decision 0151): which instances
have one (DescribeInstances' ``dnsName``, the interface association's ``publicDnsName``),
what each VPC's resolver answers of them (their private addresses, with the rest of the VPC's
DNS, :class:`~andromede.compute.driver_network.VpcDns`), and every name with its public address for
the operator's authoritative DNS (``andromede admin dns zone``).

A name comes and goes with the public address and the VPC's DNS attributes: a start gives
an address and a stop takes it (bridge mode), an Elastic IP's association and
disassociation, ModifyVpcAttribute. Each of these pushes the VPC's DNS to its hosts
(``_push_public_names_later``, in :mod:`~andromede.compute.networks`) — and, through
:class:`~andromede.compute.vpc_peerings.VpcPeeringsMixin`'s push, that of the peered VPCs
whose resolvers answer its names; a host keeps what it has when nothing changed, and
``resync_hosts`` carries it again.

This mixin comes before ``VpcPeeringsMixin`` in the service's bases, so its ``vpc_dns`` wraps
the peers' blocks too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from andromede.compute.driver_network import (
    VpcDns,
)
from andromede.compute.model import Instance, InstanceState
from andromede.compute.network import Vpc
from andromede.compute.public_dns import named_address, public_dns_suffix
from andromede.compute.vpc_peering import VpcPeeringConnection
from andromede.compute.vpcs import VpcsMixin

__all__ = ["PublicNamesMixin"]

# States in which an instance holds its private address (which its public name stands for
# inside the VPC).
_HOLDS_ADDRESS = frozenset(
    {
        InstanceState.PENDING,
        InstanceState.RUNNING,
        InstanceState.STOPPING,
        InstanceState.STOPPED,
        InstanceState.SHUTTING_DOWN,
    }
)


class PublicNamesMixin(VpcsMixin):
    @property
    def public_dns_suffix(self) -> str:
        """``<region>.compute.<public_dns_domain>``, "" when the operator set no domain."""
        return public_dns_suffix(self.limits.region, self.limits.public_dns_domain)

    async def public_dns_names(
        self, tenant_id: str, instances: Sequence[Instance]
    ) -> dict[str, str]:
        """instance id → its public DNS name, for those of ``instances`` that have one (the
        tenant's VPCs read once)."""
        suffix = self.public_dns_suffix
        if not suffix or not any(i.vpc_id for i in instances):
            return {}
        vpcs = {v.vpc_id: v for v in await self.store.list(Vpc, tenant_id)}
        names = {}
        for instance in instances:
            named = named_address(instance, vpcs.get(instance.vpc_id or ""), suffix)
            if named is not None:
                names[instance.instance_id] = named[0]
        return names

    async def public_dns_records(self) -> list[tuple[str, str]]:
        """(name, public address) of every instance of every tenant that has a public name:
        what the operator's authoritative DNS serves outside the VPCs."""
        suffix = self.public_dns_suffix
        if not suffix:
            return []
        vpcs = {v.vpc_id: v for v in await self.store.list(Vpc, None)}
        records = []
        for instance in await self.store.list(Instance, None):
            named = named_address(instance, vpcs.get(instance.vpc_id or ""), suffix)
            if named is not None:
                records.append(named)
        return records

    async def vpc_dns(self, vpc: Vpc) -> VpcDns:
        """The VPC's DNS with the public names of its instances, each standing for the
        instance's private address — and those of the VPCs peered with it whose names its
        resolver answers (the peer side's AllowDnsResolutionFromRemoteVpc on, the connection
        active: decision 0139's addendum), which is what EC2's option is for."""
        dns = await super().vpc_dns(vpc)
        suffix = self.public_dns_suffix
        if not suffix:
            return dns
        pairs = await self._named_private(vpc, suffix)
        now = self.clock()
        for peering in await self.store.list(VpcPeeringConnection, None):
            peer = peering.resolved_from(vpc.vpc_id, now)
            other = await self.store.get(Vpc, peer[0]) if peer is not None else None
            if other is not None:
                pairs |= await self._named_private(other, suffix)
        return replace(dns, public_names=tuple(sorted(pairs))) if pairs else dns

    async def _named_private(self, vpc: Vpc, suffix: str) -> set[tuple[str, str]]:
        """(public name, private address) of the VPC's instances that have a name."""
        pairs = set()
        for instance in await self.store.list(Instance, vpc.tenant_id):
            if instance.vpc_id != vpc.vpc_id or instance.state not in _HOLDS_ADDRESS:
                continue
            named = named_address(instance, vpc, suffix)
            if named is not None and instance.private_ip is not None:
                pairs.add((named[0], instance.private_ip))
        return pairs
