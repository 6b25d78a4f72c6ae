"""What the parts of :class:`~andromede.hypervisor.tenant_network.TenantNetworks` share
(:class:`TenantNetworksCore`): the state file and its records, the layout, the names of a
router's namespace, links and taps, its transit addresses, the instances' host-facing
addresses and Elastic IPs (checked, routed on the host and taken off it), the NAT gateway
addresses translated here, and the overlay's view of a subnet's instances on other hosts.

The bottom layer of the class (see :mod:`~andromede.hypervisor.tenant_network`), split off
for size (STYLE §10); callers import from ``tenant_network``.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
from collections.abc import Mapping
from pathlib import Path

from andromede.compute.driver_network import (
    EndpointRoute,
    InterfaceRoute,
    PeeringLink,
    VpcDns,
)
from andromede.hypervisor.dns_supervision import RestartBackoff
from andromede.hypervisor.elastic_ips import check_elastic_ip
from andromede.hypervisor.netns_commands import NetworkCommandError, _run
from andromede.hypervisor.network_guards import router_mac
from andromede.hypervisor.network_layout import NetworkLayout, NetworkWatcher
from andromede.hypervisor.network_state import NetworkRecord, PluggedNic, load_state, save_state
from andromede.hypervisor.peering_links import LinkEnd
from andromede.hypervisor.peering_segments import Segment
from andromede.hypervisor.restart_counts import load_restarts

__all__ = ["TenantNetworksCore"]


class TenantNetworksCore:
    """The state and the pieces every part of the tenant networks shares."""

    def __init__(self, state_dir: Path, layout: NetworkLayout | None = None) -> None:
        self._dir = state_dir
        self._layout = layout or NetworkLayout()
        self._lock = asyncio.Lock()
        self._state = load_state(self._state_file())
        # The VPC peering connections last told (decision 0139), and the link ends in force.
        self._peering_links: tuple[PeeringLink, ...] = ()
        self._link_ends: list[LinkEnd] = []
        # The connections' segments in force across hosts (the 0139 addendum).
        self._segments: list[Segment] = []
        self._watcher: NetworkWatcher | None = None
        self._foreign_guards_checked = False
        # router id → the VPC endpoints its subnets are redirected to (decision 0160): in
        # memory only, the control plane pushing them again with the VPC's routing.
        self._endpoints: dict[str, tuple[EndpointRoute, ...]] = {}
        # router id → its routes to network interfaces (decision 0161's addendum), likewise in
        # memory only; and the routers whose policy tables hold some now.
        self._interface_routes: dict[str, tuple[InterfaceRoute, ...]] = {}
        self._interface_routed: set[str] = set()
        # The restart backoff of the routers' DNS processes, and their restarts (decision 0375)
        # as counted before this agent started too (decision 0389).
        self._dns_backoff = RestartBackoff(
            self._layout.dns_supervise_interval, restarts=load_restarts(self._restarts_file())
        )

    def watch(self, watcher: NetworkWatcher | None) -> None:
        """Tell ``watcher`` of every network built or removed from now on (one watcher)."""
        self._watcher = watcher

    def host_transit_ips(self) -> list[str]:
        """The host side of every recorded router's transit link."""
        return sorted({self._transit(r.index)[0] for r in self._state.networks.values()})

    # -- names and addresses ----------------------------------------------------------------

    def netns(self, router_id: str) -> str:
        """The namespace of a router: a VPC's, or a network's of its own (given no VPC)."""
        return f"{self._layout.link_prefix}-{router_id}"

    def router_netns(self, network_id: str) -> str | None:
        """The namespace of the router of a network built here; None for one that is not."""
        record = self._state.networks.get(network_id)
        return None if record is None else self.netns(record.router)

    def router_bridges(self, router_id: str) -> list[tuple[str, str]]:
        """Each subnet of a router built here: its block and its bridge (decision 0191's
        load balancer table and node addresses go on them); none for a router not here."""
        return [(r.cidr, r.bridge) for r in self._members(router_id)]

    def exec_prefix(self, network_id: str) -> list[str]:
        """The command prefix that runs a program inside the network's namespace."""
        record = self._state.networks.get(network_id)
        return ["ip", "netns", "exec", self.netns(record.router if record else network_id)]

    def _host_link(self, index: int) -> str:
        return f"{self._layout.link_prefix}t{index}"

    def _transit(self, index: int) -> tuple[str, str]:
        """(host side, namespace side) addresses of a router's /30 transit link."""
        # Computed, not listed: a /16 holds 16,384 links, and listing them took longer than
        # building a network.
        transit = ipaddress.IPv4Network(self._layout.transit_cidr)
        if not 0 <= index < transit.num_addresses // 4:
            raise NetworkCommandError(f"transit link {index} is outside transit_cidr")
        base = int(transit.network_address) + 4 * index
        return str(ipaddress.IPv4Address(base + 1)), str(ipaddress.IPv4Address(base + 2))

    def host_transit_ip(self, network_id: str) -> str:
        """Where the host meets the network (its router): the metadata server listens here."""
        return self._transit(self._state.networks[network_id].index)[0]

    @staticmethod
    def _tap(instance_id: str) -> str:
        return "tap" + hashlib.sha256(instance_id.encode()).hexdigest()[:11]

    def plugged(self, instance_id: str) -> PluggedNic | None:
        return self._state.nics.get(instance_id)

    # -- pieces ----------------------------------------------------------------------------

    def _members(self, router: str) -> list[NetworkRecord]:
        """The subnets of a router on this host, by bridge slot."""
        found = [r for r in self._state.networks.values() if r.router == router]
        return sorted(found, key=lambda r: r.slot)

    def _nics_of(self, network_id: str) -> list[PluggedNic]:
        return [nic for nic in self._state.nics.values() if nic.network_id == network_id]

    def _router_nics(self, router: str) -> list[PluggedNic]:
        ns = self.netns(router)
        return [nic for nic in self._state.nics.values() if nic.netns == ns]

    def _free_index(self) -> int:
        used = {record.index for record in self._state.networks.values()}
        links = ipaddress.IPv4Network(self._layout.transit_cidr).num_addresses // 4
        for index in range(links):
            if index not in used:
                return index
        raise NetworkCommandError("no transit link left: transit_cidr is exhausted")

    def _free_public_ip(self) -> str:
        used = {nic.public_ip for nic in self._state.nics.values()}
        for address in ipaddress.IPv4Network(self._layout.public_cidr).hosts():
            if str(address) not in used:
                return str(address)
        raise NetworkCommandError("no public address left: public_cidr is exhausted")

    def _check_elastic_ip(self, instance_id: str, address: str) -> str:
        held = {n.elastic_ip: n.instance_id for n in self._state.nics.values() if n.elastic_ip}
        for routes in self._state.nat.values():
            held |= {r.address: r.nat_gateway_id for r in routes if r.translated_here}
        return self._check_address(instance_id, address, held)

    def _check_address(self, holder: str, address: str, held: Mapping[str, str]) -> str:
        layout = self._layout
        return check_elastic_ip(
            address,
            holder,
            host_ranges=(layout.transit_cidr, layout.public_cidr),
            host_addresses=(layout.underlay_address,) if layout.underlay_address else (),
            held=held,
        )

    def _host_routes(self, nic: PluggedNic, index: int) -> list[str]:
        """The host's ``ip`` commands that route an instance's addresses into its router:
        its host-facing address, and its Elastic IP with its proxy ARP entry on the uplink."""
        _, ns_ip = self._transit(index)
        via = f"via {ns_ip} dev {self._host_link(index)}"
        commands = [f"route replace {nic.public_ip}/32 {via}"]
        if nic.elastic_ip is not None:
            commands.append(f"route replace {nic.elastic_ip}/32 {via}")
            if self._layout.elastic_ip_uplink:
                uplink = self._layout.elastic_ip_uplink
                commands.append(f"neigh replace proxy {nic.elastic_ip} dev {uplink}")
        return commands

    async def _unroute(self, nic: PluggedNic) -> None:
        """Take an instance's addresses off the host (its routes, its proxy ARP entry)."""
        await _run("ip", "route", "del", f"{nic.public_ip}/32", check=False)
        if nic.elastic_ip is not None:
            await self._unroute_elastic(nic.elastic_ip)

    async def _unroute_elastic(self, address: str) -> None:
        await _run("ip", "route", "del", f"{address}/32", check=False)
        if self._layout.elastic_ip_uplink:
            uplink = self._layout.elastic_ip_uplink
            await _run("ip", "neigh", "del", "proxy", address, "dev", uplink, check=False)

    def _overlay(self, record: NetworkRecord) -> bool:
        return bool(self._layout.underlay_address) and record.vni > 0

    def _router(self, network_id: str) -> str:
        return router_mac(network_id, self._layout.underlay_address, self._layout.vxlan_port)

    def _remote(self, network_id: str) -> dict[str, str]:
        """The network's instances on other hosts: private address → their host's router
        MAC (an address plugged here is this host's, whatever a peer set still says)."""
        local = {nic.private_ip for nic in self._nics_of(network_id)}
        me = (self._layout.underlay_address, self._layout.vxlan_port)
        remote: dict[str, str] = {}
        for peer in self._state.peers.get(network_id, ()):
            if (peer.address, peer.port) == me:
                continue
            mac = router_mac(network_id, peer.address, peer.port)
            remote.update({ip: mac for ip in peer.private_ips if ip not in local})
        return remote

    def _translated(self, router: str) -> list[str]:
        """The NAT gateway addresses the router translates to on this host."""
        return sorted({r.address for r in self._state.nat.get(router, ()) if r.translated_here})

    def nat_router_netns(self, address: str) -> str | None:
        """The namespace of the router built here that translates to a NAT gateway's
        ``address``; None when none does (decision 0176: its interface is captured there)."""
        for router, routes in sorted(self._state.nat.items()):
            if self._members(router) and any(
                r.translated_here and r.address == address for r in routes
            ):
                return self.netns(router)
        return None

    def metered(self) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
        """The routers built here (router id → namespace) and, for each, the NAT gateway
        addresses it translates (address → gateway id): what its meters count (decision
        0176)."""
        routers = {r.router: self.netns(r.router) for r in self._state.networks.values()}
        gateways = {
            router: {r.address: r.nat_gateway_id for r in routes if r.translated_here}
            for router, routes in self._state.nat.items()
            if router in routers
        }
        return routers, gateways

    def _nat_host_routes(self, router: str, index: int) -> list[str]:
        """The host's ``ip`` commands routing the router's NAT gateway addresses to it, with
        their proxy ARP entries on the uplink, as an instance's Elastic IP."""
        _, ns_ip = self._transit(index)
        commands = []
        for address in self._translated(router):
            commands.append(f"route replace {address}/32 via {ns_ip} dev {self._host_link(index)}")
            if self._layout.elastic_ip_uplink:
                commands.append(
                    f"neigh replace proxy {address} dev {self._layout.elastic_ip_uplink}"
                )
        return commands

    def _dns(self, router: str) -> VpcDns:
        return self._state.dns.get(router, VpcDns())

    # -- state file ------------------------------------------------------------------------

    def _state_file(self) -> Path:
        return self._dir / "networks.json"

    def _restarts_file(self) -> Path:
        return self._dir / "process-restarts.json"

    def _save(self) -> None:
        save_state(self._state_file(), self._state)
