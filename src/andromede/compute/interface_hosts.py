"""The hosts' side of the network interfaces beyond an instance's primary (decision 0161,
:class:`InterfaceHostsMixin`): what a host is told of them (:class:`InterfaceSpec`: its
subnet, MAC, addresses and own security groups), the primary's NIC with its secondary
addresses, and when it is told — at a start, once RunInstances' pending instance runs, when
their groups or addresses change, and at every resync — and each subnet's overlay peers with
their addresses. The calls themselves are ``network_interfaces``'s; split off for size
(STYLE §10).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import replace

from andromede.compute.driver import (
    InterfaceSpec,
)
from andromede.compute.driver_network import (
    InstanceFirewall,
    NicSpec,
)
from andromede.compute.elastic_ip import ElasticAddress
from andromede.compute.errors import NotFound
from andromede.compute.instance_attributes import InstanceAttributesMixin
from andromede.compute.model import Instance, InstanceState, SecurityGroup
from andromede.compute.network import NetworkInterface, Subnet, merge_firewall
from andromede.compute.networks import _members

__all__ = ["InterfaceHostsMixin"]

log = logging.getLogger(__name__)


class InterfaceHostsMixin(InstanceAttributesMixin):
    async def interfaces_of(self, instance: Instance) -> list[NetworkInterface]:
        """The instance's interfaces in device order, its primary first."""
        held = [
            i
            for i in await self.store.list(NetworkInterface, instance.tenant_id)
            if i.instance_id == instance.instance_id
        ]
        return sorted(held, key=lambda i: (i.device_index, i.interface_id))

    # -- on the hosts ------------------------------------------------------------------------

    async def interface_specs(self, instance: Instance) -> tuple[InterfaceSpec, ...]:
        """What the instance's host plugs of its interfaces beyond the primary, at a start."""
        return tuple(
            [
                await self._interface_spec(instance, interface)
                for interface in await self.interfaces_of(instance)
                if interface.device_index > 0
            ]
        )

    async def _interface_spec(
        self, instance: Instance, interface: NetworkInterface
    ) -> InterfaceSpec:
        subnet = await self._owned(Subnet, interface.tenant_id, interface.subnet_id, "subnet")
        ref = interface.elastic_ip
        address = await self.store.get(ElasticAddress, ref.allocation_id) if ref else None
        nic = NicSpec(
            await self._network_spec(subnet),
            interface.mac,
            interface.private_ip,
            public_address=False,
            # Its own Elastic IP (decision 0161's addendum), routed to its address.
            elastic_ip=interface.elastic_ip.public_ip if interface.elastic_ip else None,
            secondary_ips=interface.secondary_ips,
            source_dest_check=interface.source_dest_check,
            ipv6_addresses=interface.ipv6_addresses,
            # Its Elastic IP translated to one of its secondary addresses, when so associated.
            elastic_private_ip=(
                address.private_ip
                if address is not None
                and address.private_ip in interface.secondary_ips
                and address.association_id == (ref.association_id if ref else None)
                else None
            ),
        )
        return InterfaceSpec(
            interface.interface_id,
            interface.device_index,
            nic,
            await self._interface_firewall(instance, interface),
        )

    async def _interface_firewall(
        self, instance: Instance, interface: NetworkInterface
    ) -> InstanceFirewall:
        """The interface's own security groups merged, confined to its instance's routes."""
        groups = {g.group_id: g for g in await self.store.list(SecurityGroup, interface.tenant_id)}
        members = _members(
            await self.store.list(Instance, interface.tenant_id),
            await self.store.list(NetworkInterface, interface.tenant_id),
        )
        mine = [groups[g] for g in interface.group_ids if g in groups]
        view = await self.routing_view(interface.tenant_id)
        lists = await self.prefix_list_cidrs(interface.tenant_id)
        # Reached from outside by its own Elastic IP, whatever its instance's primary has.
        seen = replace(instance, elastic_ip=interface.elastic_ip or instance.elastic_ip)
        return view.firewall(seen, merge_firewall(mine, members, lists))

    async def _nic_of(self, instance: Instance) -> NicSpec | None:
        """The instance's primary NIC as its host is told at a start (its secondary
        addresses too, decision 0161); None for an instance from before tenant networks."""
        if instance.private_ip is None or instance.mac is None or instance.subnet_id is None:
            return None
        subnet = await self.store.get(Subnet, instance.subnet_id)
        if subnet is None:
            raise NotFound("subnet", instance.subnet_id)
        network = await self._network_spec(subnet)
        primary = await self.store.get(NetworkInterface, instance.network_interface_id or "")
        return NicSpec(
            network,
            instance.mac,
            instance.private_ip,
            public_address=instance.associate_public_ip,
            elastic_ip=instance.elastic_ip.public_ip if instance.elastic_ip else None,
            secondary_ips=primary.secondary_ips if primary is not None else (),
            source_dest_check=primary.source_dest_check if primary is not None else True,
            ipv6_addresses=primary.ipv6_addresses if primary is not None else (),
        )

    async def _push_addresses(self, interface: NetworkInterface) -> None:
        """Its secondary addresses to its running instance's host: a further interface's
        with its rules, a primary's as its start gives its NIC (device index 0); and to the
        other hosts of its subnet, as overlay peers. Logged when the host fails: the next
        start or resync brings them."""
        if interface.instance_id:
            self._spawn(self._push_peers(interface.subnet_id))
        if interface.device_index > 0 or not interface.instance_id:
            await self._push_interface(interface)
            return
        instance = await self.store.get(Instance, interface.instance_id)
        if instance is None or instance.state is not InstanceState.RUNNING:
            return
        driver = self.drivers.get(instance.host)
        nic = await self._nic_of(instance)
        if driver is None or nic is None:
            return
        try:
            spec = InterfaceSpec(interface.interface_id, 0, nic)
            await driver.attach_interface(instance.instance_id, spec)
        except Exception:
            log.exception("interface %s: its addresses could not be set", interface.interface_id)

    async def _push_interfaces(self, instance: Instance) -> None:
        """Once the instance runs: its interfaces beyond the primary, to its host (again, when
        its start brought them: attaching again replaces their rules)."""
        for interface in await self.interfaces_of(instance):
            await self._push_interface(interface)

    async def _push_interface(self, interface: NetworkInterface) -> None:
        """Its security groups to its instance's host again, when attached to a running one
        beyond the primary (attaching again replaces the rules). A failure is logged: the
        next change or start pushes them again."""
        if not interface.instance_id or interface.device_index == 0:
            return
        instance = await self.store.get(Instance, interface.instance_id)
        if instance is None or instance.state is not InstanceState.RUNNING:
            return
        driver = self.drivers.get(instance.host)
        if driver is None:
            return
        try:
            spec = await self._interface_spec(instance, interface)
            await driver.attach_interface(instance.instance_id, spec)
        except Exception:
            log.exception("interface %s: the firewall could not be set", interface.interface_id)

    async def _push_firewalls(
        self, tenant_id: str, touched: Collection[str], *, vpc_ids: Collection[str] = ()
    ) -> None:
        """The instances' firewalls (``networks``), then those of the interfaces beyond a
        primary whose groups are touched, or name a touched group, or whose VPC's routing
        changed."""
        await super()._push_firewalls(tenant_id, touched, vpc_ids=vpc_ids)
        if not touched and not vpc_ids:
            return
        groups = {g.group_id: g for g in await self.store.list(SecurityGroup, tenant_id)}
        for interface in await self.store.list(NetworkInterface, tenant_id):
            if not interface.instance_id or interface.device_index == 0:
                continue
            referenced = {
                rule.group_id
                for group_id in interface.group_ids
                if group_id in groups
                for rule in (*groups[group_id].ingress, *groups[group_id].egress)
                if rule.group_id is not None
            }
            if (set(interface.group_ids) | referenced) & set(touched) or (
                interface.vpc_id in vpc_ids
            ):
                await self._push_interface(interface)

    async def resync_hosts(self) -> None:
        """Every host converges on the records (``networks``), the interfaces attached beyond
        a primary of its running instances included: their rules pushed again."""
        await super().resync_hosts()
        running = {
            i.instance_id
            for i in await self.store.list(Instance, None)
            if i.state is InstanceState.RUNNING
        }
        for interface in await self.store.list(NetworkInterface, None):
            if interface.instance_id in running:
                await self._push_interface(interface)
