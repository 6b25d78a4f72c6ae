"""The QEMU driver's networking besides starting a guest (:class:`NetworkingMixin`): what
the control plane tells the host's tenant networks (peers, ACLs, NAT gateways, peering, VPC
DNS: bridge mode only), the metadata service on their transit addresses, an instance's
security groups (the router's rules in bridge mode, the port forwards QEMU opens in user mode)
and its Elastic IP.

How the host wires instances (bridge or user mode) is decided by
:meth:`~andromede.hypervisor.qemu.QemuDriver.networking`, with the host's probes. A part of
:class:`~andromede.hypervisor.qemu.QemuDriver`, split off for size (STYLE §10).
"""

from __future__ import annotations

import asyncio
import logging

from andromede.compute.driver import (
    InstanceNetwork,
    NetworkMode,
    PortForward,
    SupervisedProcesses,
)
from andromede.compute.driver_balancing import (
    BalancedListener,
    BalancerReport,
    ProbeResult,
    TargetProbe,
)
from andromede.compute.driver_network import (
    EndpointRoute,
    FlowCapture,
    HostFlows,
    InstanceFirewall,
    InterfaceRoute,
    NatRoute,
    NetworkPeer,
    NetworkSpec,
    PeeringLink,
    SkippedFlows,
    SubnetAcl,
    VpcDns,
)
from andromede.compute.flow_log_files import FlowRecord
from andromede.hypervisor.balancer_host import HostBalancers
from andromede.hypervisor.errors import AddressRefused, HypervisorError, InstanceNotRunning
from andromede.hypervisor.load_balancers import RouterLoadBalancers
from andromede.hypervisor.metadata_listeners import AsgiApp, ListenerTls, MetadataListeners
from andromede.hypervisor.process import QemuProcess
from andromede.hypervisor.qemu_core import QemuDriverCore
from andromede.hypervisor.user_network import free_port, hmp, ingress_allows_tcp

__all__ = ["NetworkingMixin"]

# The facade's logger name, as before the split: log settings, readers and tests name it.
logger = logging.getLogger("andromede.hypervisor.qemu")


class NetworkingMixin(QemuDriverCore):
    """The tenant networks' settings, the metadata service, security groups, Elastic IPs."""

    _balancers: RouterLoadBalancers | None = None
    _host_side: HostBalancers | None = None

    async def load_balancers(self) -> RouterLoadBalancers | None:
        """Bridge mode: the Network Load Balancers of this host's routers (decision 0191).
        User mode has no router: None."""
        if await self.networking() is not NetworkMode.BRIDGE:
            return None
        if self._balancers is None:
            self._balancers = RouterLoadBalancers(self._networks)
        return self._balancers

    async def set_load_balancers(self, listeners: tuple[BalancedListener, ...]) -> BalancerReport:
        """Bridge mode: every router here forwards its VPC's listeners (session 51: the
        port's call, whether a gateway drives this host in its own process or through its
        agent). User mode has no router: nothing applied, an empty report."""
        balancers = await self._host_balancers()
        return BalancerReport() if balancers is None else await balancers.apply(listeners)

    async def probe_targets(self, probes: tuple[TargetProbe, ...]) -> tuple[ProbeResult, ...]:
        """Bridge mode: the due probes run from their VPCs' routers here. User mode: none."""
        balancers = await self._host_balancers()
        return () if balancers is None else await balancers.probe(probes)

    async def _host_balancers(self) -> HostBalancers | None:
        routers = await self.load_balancers()
        if routers is None:
            return None
        if self._host_side is None:
            self._host_side = HostBalancers(routers)
        return self._host_side

    async def set_network_peers(
        self,
        network_id: str,
        peers: tuple[NetworkPeer, ...],
        *,
        network: NetworkSpec | None = None,
    ) -> None:
        if await self.networking() is NetworkMode.BRIDGE:
            await self._networks.set_peers(network_id, peers, network)

    async def set_network_acl(self, network_id: str, acl: SubnetAcl) -> None:
        """Bridge mode: the subnet's router enforces it (:meth:`TenantNetworks.set_acl`).
        User mode routes nothing between subnets: nothing to enforce, nothing kept."""
        if await self.networking() is NetworkMode.BRIDGE:
            await self._networks.set_acl(network_id, acl)

    async def set_nat_routes(self, router_id: str, routes: tuple[NatRoute, ...]) -> None:
        """Bridge mode: the VPC's router applies them (:meth:`TenantNetworks.set_nat_routes`).
        User mode has no router to translate in: nothing kept (the service routes no NAT
        gateway to a user-mode host's instances: their forwards are their only way out)."""
        if await self.networking() is NetworkMode.BRIDGE:
            await self._networks.set_nat_routes(router_id, routes)

    async def set_endpoint_routes(self, router_id: str, routes: tuple[EndpointRoute, ...]) -> None:
        """Bridge mode: the VPC's router redirects to the endpoint listener
        (:meth:`TenantNetworks.set_endpoint_routes`). User mode has no router: nothing kept."""
        if await self.networking() is NetworkMode.BRIDGE:
            await self._networks.set_endpoint_routes(router_id, routes)

    async def set_interface_routes(
        self, router_id: str, routes: tuple[InterfaceRoute, ...]
    ) -> None:
        """Bridge mode: the VPC's router forwards to the interfaces
        (:meth:`TenantNetworks.set_interface_routes`). User mode has no router: nothing kept."""
        if await self.networking() is NetworkMode.BRIDGE:
            await self._networks.set_interface_routes(router_id, routes)

    async def set_peering_links(self, links: tuple[PeeringLink, ...]) -> None:
        """Bridge mode: the routers are joined (:meth:`TenantNetworks.set_peering_links`).
        User mode has no router to join: nothing kept."""
        if await self.networking() is NetworkMode.BRIDGE:
            await self._networks.set_peering_links(links)

    async def set_vpc_dns(self, router_id: str, dns: VpcDns) -> None:
        """Bridge mode: the VPC's router serves them (:meth:`TenantNetworks.set_vpc_dns`).
        User mode has QEMU's own DHCP and DNS (slirp), no router: nothing kept."""
        if await self.networking() is NetworkMode.BRIDGE:
            await self._networks.set_vpc_dns(router_id, dns)

    async def collect_flows(self, captures: tuple[FlowCapture, ...]) -> HostFlows:
        """Bridge mode: each VPC router counts its captured interfaces' flows in the kernel
        (:mod:`~andromede.hypervisor.flow_capture`), read here; routers with no captured
        interface left lose their flow table. Every router's meters (internet egress, NAT
        gateways: :mod:`~andromede.hypervisor.traffic_meters`) are read with them. User mode
        has no router: nothing counted."""
        if await self.networking() is not NetworkMode.BRIDGE:
            return HostFlows()
        traffic = await self._traffic.collect(*self._networks.metered())
        wanted: dict[str, dict[str, str]] = {}
        gateways: dict[str, dict[str, tuple[str, str]]] = {}
        for capture in captures:
            if capture.nat_address:
                # A NAT gateway's interface: captured where its address is translated.
                netns = self._networks.nat_router_netns(capture.nat_address)
                if netns is not None:
                    wanted.setdefault(netns, {})
                    gateways.setdefault(netns, {})[capture.nat_address] = (
                        capture.interface_id,
                        capture.private_ip,
                    )
                continue
            netns = self._networks.router_netns(capture.network_id)
            if netns is not None:
                for address in (capture.private_ip, *capture.ipv6_addresses):
                    wanted.setdefault(netns, {})[address] = capture.interface_id
        records: list[FlowRecord] = []
        skipped: list[SkippedFlows] = []
        for netns in self._flows.namespaces():
            report = await self._flows.collect(netns)
            records += report.records
            skipped += [SkippedFlows(i, s, e) for i, (s, e) in sorted(report.skipped.items())]
            if netns not in wanted:
                await self._flows.forget(netns)
        for netns, interfaces in wanted.items():
            await self._flows.capture(netns, interfaces, gateways.get(netns))
        return HostFlows(tuple(records), tuple(skipped), tuple(traffic))

    async def serve_metadata(self, app: AsgiApp) -> None:
        """Serve the metadata app on every tenant network's host transit address (at the
        layout's ``imds_port``), now and as networks come and go, until :meth:`close`.
        Networks recorded before a host reboot are rebuilt first. A host in user mode has no
        tenant network: nothing listens (user-mode guests have no metadata service)."""
        if self._metadata is not None:
            raise HypervisorError("the metadata service is already served")
        self._metadata = MetadataListeners(app, self._config.network_layout.imds_port)
        self._watch_networks()
        if await self.networking() is NetworkMode.BRIDGE:
            await self._restore_networks()
            for host_ip in self._networks.host_transit_ips():
                await self._metadata.network_up(host_ip)

    async def serve_endpoints(self, app: AsgiApp) -> None:
        """Serve ``app`` (the VPC endpoints' front: decision 0160) on every tenant network's
        host transit address at the layout's ``vpce_port``, as the metadata service is."""
        if self._endpoints is not None:
            raise HypervisorError("the VPC endpoints are already served")
        layout, config = self._config.network_layout, self._config
        tls = (
            ListenerTls(layout.vpce_tls_port, config.vpce_tls_certfile, config.vpce_tls_keyfile)
            if layout.vpce_tls_port and config.vpce_tls_certfile
            else None
        )
        self._endpoints = MetadataListeners(app, layout.vpce_port, tls)
        self._watch_networks()
        if await self.networking() is NetworkMode.BRIDGE:
            await self._restore_networks()
            for host_ip in self._networks.host_transit_ips():
                await self._endpoints.network_up(host_ip)

    async def supervised_processes(self) -> dict[str, SupervisedProcesses]:
        """What the supervision of this host's routers and subnets counted, and what of them
        runs now (:meth:`TenantNetworks.supervised_processes`, decisions 0378, 0389)."""
        return self._networks.supervised_processes()

    def endpoint_origin(
        self, server_ip: str, client_ip: str, client_port: int = 0
    ) -> tuple[str, str, str] | None:
        """Which VPC endpoint a connection to a listener came through
        (:meth:`TenantNetworks.endpoint_origin`)."""
        return self._networks.endpoint_origin(server_ip, client_ip, client_port)

    def _watch_networks(self) -> None:
        listeners = [w for w in (self._metadata, self._endpoints) if w is not None]
        self._networks.watch(_Listeners(listeners) if listeners else None)

    async def _restore_networks(self) -> None:
        """Once per driver: rebuild what a host reboot removed of the recorded networks."""
        if not self._networks_restored:
            self._networks_restored = True
            await self._networks.restore()
            # From then on the routers' DNS processes are watched (decision 0375).
            self._dns_supervision = asyncio.create_task(self._networks.supervise_dns_forever())

    async def set_firewall(self, instance_id: str, firewall: InstanceFirewall) -> None:
        if await self._networks.set_instance_firewall(instance_id, firewall):
            logger.debug("instance %s: security groups in force", instance_id)
            return
        async with self._lock(instance_id):
            process = self._process(instance_id)
            if not process.alive() or process.network().mode is not NetworkMode.USER:
                return  # nothing runs: a later start brings its own rules
            await self._refresh_forwards(instance_id, process, firewall)

    async def set_elastic_ip(self, instance_id: str, address: str | None) -> None:
        """Bridge mode: the tenant networks route it (:meth:`TenantNetworks.set_elastic_ip`).
        User mode has no address to route: taking one away is a no-op, giving one is refused
        (:class:`AddressRefused`), rather than reported done and reaching nothing."""
        async with self._lock(instance_id):
            process = self._process(instance_id)
            if not process.alive():
                if address is None:  # a guest gone without a stop: its route goes now
                    await self._networks.set_elastic_ip(instance_id, None)
                raise InstanceNotRunning(f"instance {instance_id} is not running on {self._host}")
            if await self._networks.set_elastic_ip(instance_id, address):
                return
            if address is not None:
                raise AddressRefused(
                    f"instance {instance_id} has user-mode networking on {self._host}:"
                    " no Elastic IP is routed to it"
                )

    async def _refresh_forwards(
        self, instance_id: str, process: QemuProcess, firewall: InstanceFirewall
    ) -> None:
        """User mode, live: open the requested forwards the rules now allow, close the others
        (QEMU's ``hostfwd_add``/``hostfwd_remove``). Egress (``restrict``) waits for a start."""
        current = {(f.host_address, f.guest_port): f for f in process.forwards()}
        wanted = {
            (f.host_address or self._config.forward_address, f.guest_port): f
            for f in process.requested_forwards()
            if ingress_allows_tcp(firewall, f)
        }
        kept = [f for key, f in current.items() if key in wanted]
        async with self._monitor(instance_id) as qmp:
            for key, forward in current.items():
                if key not in wanted:
                    rule = f"tcp:{forward.host_address}:{forward.host_port}"
                    await hmp(qmp, f"hostfwd_remove net0 {rule}", success=f"{rule} removed")
            for key, requested in wanted.items():
                if key in current:
                    continue
                forward = self._bind_forward(requested)
                await hmp(qmp, f"hostfwd_add net0 tcp:{forward.host_address}:"
                                f"{forward.host_port}-:{forward.guest_port}")  # fmt: skip
                kept.append(forward)
        private_ip = process.network().private_ip
        process.write_forwards(kept)
        process.write_network(InstanceNetwork(NetworkMode.USER, private_ip, None, tuple(kept)))
        logger.info("instance %s: %d port forward(s) after new rules", instance_id, len(kept))

    def _bind_forward(self, forward: PortForward) -> PortForward:
        address = forward.host_address or self._config.forward_address
        port = forward.host_port or free_port(address)
        return PortForward(address, port, forward.guest_port)

    async def _drop_elastic_ip(self, instance_id: str) -> None:
        """A guest that does not run holds no Elastic IP here: EC2 may give it to another
        instance meanwhile (on any host), and its next start brings its own again. Its NIC,
        addresses and rules stay, as a stopped instance's do."""
        plugged = self._networks.plugged(instance_id)
        if plugged is not None and plugged.elastic_ip is not None:
            await self._networks.set_elastic_ip(instance_id, None)


class _Listeners:
    """The listeners told together of each transit address that comes and goes."""

    def __init__(self, listeners: list[MetadataListeners]) -> None:
        self._listeners = listeners

    async def network_up(self, host_ip: str) -> None:
        for listeners in self._listeners:
            await listeners.network_up(host_ip)

    async def network_down(self, host_ip: str) -> None:
        for listeners in self._listeners:
            await listeners.network_down(host_ip)
