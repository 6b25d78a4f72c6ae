"""What the control plane tells a host's routers besides its instances
(:class:`RoutingMixin`): each subnet's network ACL, the VPC peering connections joining two
routers (:mod:`~andromede.hypervisor.peering_links`) on one host and across hosts
(:mod:`~andromede.hypervisor.peering_segments`), a VPC's NAT gateways
(:mod:`~andromede.hypervisor.nat_gateways`), and the other hosts holding a subnet's instances
(the overlay's peers). Each is kept when its VPC is not built here yet, else applied at once.

A layer of :class:`~andromede.hypervisor.tenant_network.TenantNetworks` (see
:mod:`~andromede.hypervisor.tenant_network`), split off for size (STYLE §10).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from andromede.compute.driver_network import (
    EndpointRoute,
    InterfaceRoute,
    NatRoute,
    NetworkPeer,
    NetworkSpec,
    PeeringLink,
    SubnetAcl,
)
from andromede.compute.endpoint_ports import interface_slot_of_port
from andromede.hypervisor.netns_commands import _all, _ip_batch, _links, _namespace_exists, _run
from andromede.hypervisor.peering_links import apply_links, ends_here, is_link_end
from andromede.hypervisor.peering_segments import apply_segments, is_segment, segments_here
from andromede.hypervisor.tenant_network_build import BuildMixin

__all__ = ["RoutingMixin"]


class RoutingMixin(BuildMixin):
    """Network ACLs, VPC peering, NAT gateways and overlay peers of the routers."""

    async def set_acl(self, network_id: str, acl: SubnetAcl) -> None:
        """Replace the network ACL of a subnet: its router's ruleset is rewritten atomically
        when the subnet is built here; else it is kept, and used when the subnet is built
        (a subnet's spec gives its ACL only when none is held: this is the one that changes
        it)."""
        async with self._lock:
            previous = self._state.acls.get(network_id)
            if previous == acl:
                return  # the periodic resync's push of what is in force already
            self._state.acls[network_id] = acl
            spec = self._state.specs.get(network_id)
            if spec is not None:
                # What a stub of the subnet is built with, should this host forget the ACL.
                self._state.specs[network_id] = replace(spec, acl=acl)
            record = self._state.networks.get(network_id)
            if record is not None and _namespace_exists(self.netns(record.router)):
                try:
                    await self._apply_firewall(record.router)
                except BaseException:
                    # Not in force: the state must not say it is.
                    if previous is None:
                        self._state.acls.pop(network_id, None)
                    else:
                        self._state.acls[network_id] = previous
                    if spec is not None:
                        self._state.specs[network_id] = spec
                    raise
            self._save()

    async def set_peering_links(self, links: Sequence[PeeringLink]) -> None:
        """Join the routers of the VPC peering connections told whose two VPCs are built
        here (:mod:`~andromede.hypervisor.peering_links`), give the lead router of each
        connection whose other side runs on other hosts its segment
        (:mod:`~andromede.hypervisor.peering_segments`), and part those no longer told. Not
        kept in the state file: the control plane tells every host again at each change of
        where instances run and at every resync."""
        async with self._lock:
            self._peering_links = tuple(links)
            routers = {
                r.router
                for r in self._state.networks.values()
                if _namespace_exists(self.netns(r.router))
            }
            me = (self._layout.underlay_address, self._layout.vxlan_port)
            wanted = ends_here(self._peering_links, routers)
            segments = segments_here(self._peering_links, routers, me)
            present: dict[str, set[str]] = {}
            carried: dict[str, set[str]] = {}
            for router in sorted(routers):
                names = await _links(self.netns(router))
                present[router] = {n for n in names if is_link_end(n)}
                carried[router] = {n for n in names if is_segment(n)}
            if (
                wanted == self._link_ends
                and segments == self._segments
                and all(end.name in present[end.router] for end in wanted)
                and all(s.name in carried[s.router] for s in segments)
            ):
                return  # the periodic resync's push of what is in force already
            touched = {end.router for end in (*wanted, *self._link_ends)} | {
                router for router, names in (*present.items(), *carried.items()) if names
            }
            touched |= {s.router for s in (*segments, *self._segments)}
            await apply_links(_run, self.netns, wanted, present)
            made = await apply_segments(
                _run,
                self.netns,
                segments,
                carried,
                underlay=me,
                underlay_netns=self._layout.underlay_netns,
                staging=lambda vni: f"{self._layout.link_prefix}p{vni}",
                mtu=self._layout.overlay_mtu,
            )
            self._link_ends = wanted
            self._segments = made
            for router in sorted(touched & routers):
                await self._apply_firewall(router)

    async def set_nat_routes(self, router_id: str, routes: Sequence[NatRoute]) -> None:
        """Replace the NAT gateways a VPC's router applies here
        (:mod:`~andromede.hypervisor.nat_gateways`). Kept when the VPC is not built here yet;
        applied at once otherwise: the addresses translated here routed to the router (and
        announced on the uplink) before its ruleset and policy routes are replaced, those no
        longer translated here taken off after. An address the host cannot route (as an
        Elastic IP: :func:`~andromede.hypervisor.elastic_ips.check_elastic_ip`) is refused
        and nothing changes."""
        async with self._lock:
            held = {n.elastic_ip: n.instance_id for n in self._state.nics.values() if n.elastic_ip}
            for other, others in self._state.nat.items():
                if other != router_id:
                    held |= {r.address: r.nat_gateway_id for r in others if r.translated_here}
            routes = tuple(
                replace(
                    route, address=self._check_address(route.nat_gateway_id, route.address, held)
                )
                if route.translated_here
                else route
                for route in routes
            )
            previous = self._state.nat.get(router_id, ())
            if previous == routes:
                return  # the periodic resync's push of what is in force already
            if routes:
                self._state.nat[router_id] = routes
            else:
                self._state.nat.pop(router_id, None)
            members = self._members(router_id)
            if members and _namespace_exists(self.netns(router_id)):
                try:
                    await _ip_batch(None, *self._nat_host_routes(router_id, members[0].index))
                    await self._apply_overlay(router_id)
                    await self._apply_firewall(router_id)
                except BaseException:
                    # Not in force: the state must not say it is.
                    if previous:
                        self._state.nat[router_id] = previous
                    else:
                        self._state.nat.pop(router_id, None)
                    raise
            self._save()
            kept = {r.address for r in routes if r.translated_here}
            for route in previous:
                if route.translated_here and route.address not in kept:
                    await self._unroute_elastic(route.address)
            await self._apply_uplink()

    async def set_endpoint_routes(self, router_id: str, routes: Sequence[EndpointRoute]) -> None:
        """Replace the VPC endpoints a router redirects its subnets' traffic to the object
        store to (decision 0160): its ruleset is rewritten at once when the VPC is built here,
        else they are kept for when it is."""
        async with self._lock:
            wanted = tuple(routes)
            if self._endpoints.get(router_id, ()) == wanted:
                return
            if wanted:
                self._endpoints[router_id] = wanted
            else:
                self._endpoints.pop(router_id, None)
            if self._members(router_id) and _namespace_exists(self.netns(router_id)):
                await self._apply_firewall(router_id)

    async def set_interface_routes(self, router_id: str, routes: Sequence[InterfaceRoute]) -> None:
        """Replace the routes to network interfaces a router applies (decision 0161's
        addendum): its policy tables and ruleset are rewritten at once when the VPC is built
        here, else they are kept for when it is."""
        async with self._lock:
            wanted = tuple(routes)
            if self._interface_routes.get(router_id, ()) == wanted:
                return  # the periodic resync's push of what is in force already
            if wanted:
                self._interface_routes[router_id] = wanted
            else:
                self._interface_routes.pop(router_id, None)
            if self._members(router_id) and _namespace_exists(self.netns(router_id)):
                await self._apply_firewall(router_id)

    def endpoint_origin(
        self, server_ip: str, client_ip: str, client_port: int = 0
    ) -> tuple[str, str, str] | None:
        """Which VPC endpoint a connection to an endpoint listener came through: (VPC id,
        endpoint id, the instance's private address), or None. ``server_ip`` is the listener's
        own address — the host side of one router's transit link, so one VPC — and
        ``client_ip`` the source the router translated the instance's to (its host-facing
        address): both the kernel's, neither the client's to choose. While the router has
        Interface endpoints (decision 0166), ``client_port`` — which the router translated
        too — names the slot of the one the instance sent to, or a gateway endpoint below
        every slot's."""
        slot = interface_slot_of_port(client_port)
        for router_id, routes in self._endpoints.items():
            members = self._members(router_id)
            if not members or self._transit(members[0].index)[0] != server_ip:
                continue
            interface = any(r.interface for r in routes)
            for nic in self._router_nics(router_id):
                if nic.public_ip != client_ip:
                    continue
                if interface and slot >= 0:
                    route = next((r for r in routes if r.slot == slot), None)
                else:
                    route = next(
                        (r for r in routes if not r.interface and r.network_id == nic.network_id),
                        None,
                    )
                if route is None:
                    return None
                return route.vpc_id, route.vpc_endpoint_id, nic.private_ip
        return None

    async def set_peers(
        self,
        network_id: str,
        peers: Sequence[NetworkPeer],
        network: NetworkSpec | None = None,
    ) -> None:
        """Replace the other hosts holding instances of the network (this host's own endpoint
        among them is ignored). Kept when the network is not built here yet: it will be with
        them; applied at once otherwise. ``network`` (the subnet) lets a host that holds
        instances of its VPC but none of it build the subnet's bridge, through which those
        peers are reached. Without an overlay on this host: ignored."""
        if not self._layout.underlay_address:
            return
        async with self._lock:
            record = self._state.networks.get(network_id)
            if peers:
                self._state.peers[network_id] = tuple(peers)
                if network is not None:
                    # Its ACL is the one held, if any (set_acl changes it, not a spec).
                    acl = self._state.acls.setdefault(network_id, network.acl)
                    self._state.specs[network_id] = replace(network, acl=acl)
            else:
                self._state.peers.pop(network_id, None)
                self._state.specs.pop(network_id, None)
            self._save()
            if record is not None:
                router = record.router
            elif network is not None:
                router = network.router_id
            else:
                return
            if not self._members(router) or not _namespace_exists(self.netns(router)):
                return  # no instance of the VPC here: nothing to reach them from
            built = await self._settle_stubs(router)
            if self._members(router):
                await self._apply_overlay(router)
                await _all(self._apply_firewall(router), *(self._restart_dhcp(r) for r in built))
