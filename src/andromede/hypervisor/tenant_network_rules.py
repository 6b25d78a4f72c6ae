"""Applying a router's rules (:class:`RulesMixin`): the overlay's forwarding entries,
permanent neighbours and bridge filter on each subnet's VXLAN port, the policy routes to NAT
gateways translated on other hosts (:mod:`~andromede.hypervisor.nat_gateways`), the router's
nftables ruleset (:func:`~andromede.hypervisor.router_firewall.render_firewall`: security
groups, network ACLs, NAT, Elastic IPs, peering), and the host's uplink guard and forwarding
for the Elastic IPs and NAT gateway addresses it announces. Each rewrites what is in force from
the state: the steps every change of the state ends with.

A layer of :class:`~andromede.hypervisor.tenant_network.TenantNetworks` (see
:mod:`~andromede.hypervisor.tenant_network`), split off for size (STYLE §10).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Collection, Sequence

from andromede.compute.driver_network import (
    EndpointRoute,
    InstanceFirewall,
    NatRoute,
    SubnetAcl,
)
from andromede.hypervisor.elastic_ips import render_uplink_guard
from andromede.hypervisor.interface_routes import (
    EXEMPT_PRIORITY,
    exempt_key,
    exempt_rules,
    exempt_spec,
    routing_commands,
    stale_priorities,
)
from andromede.hypervisor.nat_gateways import hops, routing_table, rule_priority, stale_rules
from andromede.hypervisor.netns_commands import _enable_forwarding, _ip_batch, _run
from andromede.hypervisor.network_guards import OverlayPort, render_overlay_filter, router_mac
from andromede.hypervisor.network_state import NetworkRecord
from andromede.hypervisor.router_firewall import TRANSIT, render_firewall
from andromede.hypervisor.tenant_network_core import TenantNetworksCore
from andromede.hypervisor.traffic_meters import render_meter_table
from andromede.hypervisor.vpc_dns import resolver_addresses

__all__ = ["RulesMixin"]


class RulesMixin(TenantNetworksCore):
    """Rewriting what is in force in a router and on the host from the state."""

    async def _apply_uplink(self) -> None:
        """With an uplink: forwarding on for it and for the transit links of the routers
        holding Elastic IPs (the kernel answers a proxy ARP entry only on an interface that
        forwards, and the instances' packets leave through the host), and the host's guard
        that keeps the uplink to those addresses (:func:`render_uplink_guard`)."""
        uplink = self._layout.elastic_ip_uplink
        if not uplink:
            return
        held = [n for n in self._state.nics.values() if n.elastic_ip]
        links = {
            self._host_link(self._state.networks[n.network_id].index)
            for n in held
            if n.network_id in self._state.networks
        }
        addresses = [n.elastic_ip for n in held if n.elastic_ip]
        for router in self._state.nat:
            members = self._members(router)
            if members and self._translated(router):
                links.add(self._host_link(members[0].index))
                addresses += self._translated(router)
        _enable_forwarding([uplink, *sorted(links)])
        guard = render_uplink_guard(uplink, self._layout.link_prefix, addresses)
        await _run("nft", "-f", "-", stdin=guard)

    async def _apply_overlay(self, router: str) -> None:
        """Point each subnet of the router at its peers: one forwarding entry per peer router
        on the subnet's VXLAN port, one permanent neighbour per remote instance (its host's
        router MAC, so the packet is routed there, never bridged to the instance), and the
        bridge rules of every port."""
        subnets = [record for record in self._members(router) if self._overlay(record)]
        if not subnets:
            return
        ns = self.netns(router)
        me = (self._layout.underlay_address, self._layout.vxlan_port)
        in_ns = ["ip", "netns", "exec", ns]
        nsx = ["ip", "-n", ns]
        ports = []
        forwarded = self._forwarded_nat(router)
        nat_hops = hops(forwarded)
        local = {nic.network_id for nic in self._router_nics(router)}
        for record in subnets:
            routers = {
                router_mac(record.network_id, peer.address, peer.port): (peer.address, peer.port)
                for peer in self._state.peers.get(record.network_id, ())
                if (peer.address, peer.port) != me
            }
            # The routers of the hosts translating for this subnet's NAT gateways: one
            # neighbour (the hop) and one forwarding entry each.
            hop_neighbours: dict[str, str] = {}
            for route in forwarded if record.network_id in local else ():
                if record.network_id in {source.network_id for source in route.sources}:
                    hop = nat_hops[(route.via_address, route.via_port)]
                    mac = router_mac(record.network_id, hop.via_address, hop.via_port)
                    routers[mac] = (hop.via_address, hop.via_port)
                    hop_neighbours[hop.address] = mac
            vxlan = record.vxlan
            listed = await _run(*in_ns, "bridge", "fdb", "show", "dev", vxlan)
            for line in listed.splitlines():
                fields = line.split()
                if "dst" in fields:
                    mac, dst = fields[0], fields[fields.index("dst") + 1]
                    if mac not in routers or routers[mac][0] != dst:
                        await _run(
                            *in_ns, "bridge", "fdb", "del", mac, "dev", vxlan, "dst", dst,
                            check=False,
                        )  # fmt: skip
            for mac, (address, port) in sorted(routers.items()):
                await _run(
                    *in_ns, "bridge", "fdb", "replace", mac, "dev", vxlan,
                    "dst", address, "port", str(port), "self", "permanent",
                )  # fmt: skip
            remote = self._remote(record.network_id) | hop_neighbours
            bridge = record.bridge
            listed = await _run(*nsx, "neigh", "show", "dev", bridge, "nud", "permanent")
            for line in listed.splitlines():
                fields = line.split()
                if fields and remote.get(fields[0]) != (fields[2] if len(fields) > 2 else None):
                    await _run(*nsx, "neigh", "del", fields[0], "dev", bridge, check=False)
            for address, mac in sorted(remote.items()):
                await _run(
                    *nsx, "neigh", "replace", address, "lladdr", mac, "dev", bridge,
                    "nud", "permanent",
                )  # fmt: skip
            ports.append(OverlayPort(vxlan, self._router(record.network_id), tuple(routers)))
        await _run(*in_ns, "nft", "-f", "-", stdin=render_overlay_filter(ports))
        await self._apply_nat_routing(router, subnets, forwarded, local)

    def _forwarded_nat(self, router: str) -> list[NatRoute]:
        """The router's NAT routes another host translates, for the subnets that have
        instances here (a stub's instances send from their own hosts)."""
        local = {nic.network_id for nic in self._router_nics(router)}
        return [
            route
            for route in self._state.nat.get(router, ())
            if not route.translated_here and any(s.network_id in local for s in route.sources)
        ]

    async def _apply_nat_routing(
        self,
        router: str,
        subnets: Sequence[NetworkRecord],
        forwarded: Sequence[NatRoute],
        local: Collection[str],
    ) -> None:
        """The router's policy rules and tables sending what its subnets route to a NAT
        gateway of another host to that host's router (:func:`routing_table`): each table
        refilled, each rule added or taken away as the routes now say."""
        ns = self.netns(router)
        layout = self._layout
        throw = [subnets[0].vpc_cidr or subnets[0].cidr, layout.transit_cidr, layout.public_cidr]
        wanted: dict[int, str] = {}
        commands: list[str] = []
        for record in subnets:
            table = (
                routing_table(record.slot, record.bridge, record.network_id, forwarded, throw=throw)
                if record.network_id in local
                else []
            )
            priority = rule_priority(record.slot)
            commands.append(f"route flush table {priority}")
            if table:
                wanted[priority] = str(ipaddress.IPv4Network(record.cidr))
                commands += table
        listed = json.loads(await _run("ip", "-n", ns, "-j", "rule", "show") or "[]")
        stale = stale_rules(listed, wanted)
        commands += [f"rule del priority {priority}" for priority in stale]
        present = {rule.get("priority") for rule in listed} - set(stale)
        commands += [
            f"rule add from {source} lookup {priority} priority {priority}"
            for priority, source in sorted(wanted.items())
            if priority not in present
        ]
        await _run("ip", "-n", ns, "-force", "-batch", "-", stdin="\n".join(commands) + "\n")

    async def _apply_firewall(self, router: str) -> None:
        """The router's ruleset: the security groups of every instance of every subnet in it,
        and every subnet's network ACL (stubs' too: a packet to or from their instances
        elsewhere is judged here as it is on their hosts)."""
        subnets = self._members(router)
        host_ip, _ = self._transit(subnets[0].index)
        nics = self._router_nics(router)
        firewalls: dict[str, InstanceFirewall] = {}
        remote: dict[str, str] = {}
        for record in subnets:
            firewalls |= self._state.firewalls.get(record.network_id, {})
            if self._overlay(record):
                remote |= self._remote(record.network_id)
        interface_endpoints = [r for r in self._endpoints.get(router, ()) if r.interface]
        ruleset = render_firewall(
            firewalls,
            transit_cidr=self._layout.transit_cidr,
            public_cidr=self._layout.public_cidr,
            nat={nic.private_ip: nic.public_ip for nic in nics},
            host_transit_ip=host_ip,
            imds_port=self._layout.imds_port,
            remote=remote,
            bridges=[record.bridge for record in subnets],
            # A secondary address (decision 0161) has no public one: nothing of it leaves
            # through the host.
            unmapped=[nic.private_ip for nic in nics if not nic.mapped]
            + [address for nic in nics for address in nic.secondary_ips],
            elastic={nic.elastic_target: nic.elastic_ip for nic in nics if nic.elastic_ip},
            sources={nic.mac: nic.addresses for nic in nics},
            unchecked={nic.mac for nic in nics if not nic.source_dest_check},
            acls={
                record.cidr: self._state.acls.get(record.network_id, SubnetAcl())
                for record in subnets
            },
            nat_routes=self._state.nat.get(router, ()),
            peering_ends=[end.name for end in self._link_ends if end.router == router]
            + [segment.name for segment in self._segments if segment.router == router],
            peering_transit=[s for s in self._segments if s.router == router],
            resolver=(
                resolver_addresses(subnets[0].vpc_cidr or subnets[0].cidr)
                if self._dns(router).support
                else ()
            ),
            endpoints={
                record.bridge: route.addresses
                for route in self._endpoints.get(router, ())
                for record in subnets
                if record.network_id == route.network_id
            },
            endpoint_port=self._layout.vpce_port,
            endpoint_tls_port=self._layout.vpce_tls_port,
            interface_routes=self._interface_routes.get(router, ()),
            interface_endpoints=interface_endpoints,
            route_bridges={record.network_id: record.bridge for record in subnets},
            ipv6=(
                {nic.private_ip: nic.ipv6_addresses for nic in nics}
                if any(record.ipv6_cidr for record in subnets)
                else None
            ),
            acl_ipv6={record.cidr: record.ipv6_cidr for record in subnets if record.ipv6_cidr},
        )
        # The meters (decision 0176) in the same transaction: declared again, their counters
        # kept, their ranges and gateways as the router's now are.
        ruleset += render_meter_table(
            transit=TRANSIT,
            platform=[
                self._layout.transit_cidr,
                self._layout.public_cidr,
                *self._layout.platform_cidrs,
            ],
            gateways=self._translated(router),
        )
        await _run("ip", "netns", "exec", self.netns(router), "nft", "-f", "-", stdin=ruleset)
        await self._hold_endpoint_addresses(router, subnets, interface_endpoints)
        # Every change of a router ends here: its routes to interfaces follow its subnets.
        await self._apply_interface_routing(router, subnets)

    async def _hold_endpoint_addresses(
        self,
        router: str,
        subnets: Sequence[NetworkRecord],
        endpoints: Sequence[EndpointRoute],
    ) -> None:
        """The router holds its Interface endpoints' addresses (decision 0166), each as a /32
        on its subnet's bridge here, so that the subnet's own guests reach it (they ask for
        it by ARP, not through the router): the bridges' /32 addresses are those (a bridge's
        own is its subnet's gateway, of the subnet's length), added and taken back to match."""
        ns = self.netns(router)
        wanted = {
            (record.bridge, address)
            for route in endpoints
            for address in route.addresses
            for record in subnets
            if ipaddress.IPv4Address(address) in ipaddress.IPv4Network(record.cidr)
        }
        shown = json.loads(await _run("ip", "-n", ns, "-j", "addr", "show") or "[]")
        bridges = {record.bridge for record in subnets}
        held = {
            (link["ifname"], info["local"])
            for link in shown
            if link.get("ifname") in bridges
            for info in link.get("addr_info", ())
            if info.get("family") == "inet" and info.get("prefixlen") == 32
        }
        commands = [f"addr del {a}/32 dev {b}" for b, a in sorted(held - wanted)]
        commands += [f"addr replace {a}/32 dev {b}" for b, a in sorted(wanted - held)]
        if commands:
            await _ip_batch(ns, *commands)

    async def _apply_interface_routing(self, router: str, subnets: Sequence[NetworkRecord]) -> None:
        """The router's policy rules and tables sending what its subnets route to a network
        interface to that interface's address
        (:func:`~andromede.hypervisor.interface_routes.routing_commands`); nothing to do for
        a router that has none and held none."""
        routes = self._interface_routes.get(router, ())
        if not routes and router not in self._interface_routed:
            return
        ns = self.netns(router)
        layout = self._layout
        throw = [subnets[0].vpc_cidr or subnets[0].cidr, layout.transit_cidr, layout.public_cidr]
        bridges = {r.network_id: (r.slot, r.bridge, r.cidr) for r in subnets}
        commands, wanted = routing_commands(routes, bridges, throw=throw)
        listed = json.loads(await _run("ip", "-n", ns, "-j", "rule", "show") or "[]")
        stale = stale_priorities(listed, wanted)
        commands += [f"rule del priority {priority}" for priority in stale]
        # The rules keeping an appliance's forward from looping (decision 0179).
        exempt = exempt_rules(routes, bridges) if wanted else set()
        held = {key for rule in listed if (key := exempt_key(rule)) is not None}
        commands += [
            f"rule del {exempt_spec(key)} priority {EXEMPT_PRIORITY}"
            for key in sorted(held - exempt)
        ]
        commands += [
            f"rule add {exempt_spec(key)} lookup main priority {EXEMPT_PRIORITY}"
            for key in sorted(exempt - held)
        ]
        present = {rule.get("priority") for rule in listed} - set(stale)
        commands += [
            f"rule add from {source} lookup {priority} priority {priority}"
            for priority, source in sorted(wanted.items())
            if priority not in present
        ]
        await _run("ip", "-n", ns, "-force", "-batch", "-", stdin="\n".join(commands) + "\n")
        if wanted:
            self._interface_routed.add(router)
        else:
            self._interface_routed.discard(router)
