"""Routers and subnets made and unmade on the host (:class:`BuildMixin`): a subnet's record
and its router's namespace, transit link, bridges, sysctls and VXLAN ports, built or repaired
(:meth:`BuildMixin.ensure`, and after a reboot :meth:`BuildMixin.restore`); the host's metadata
guard loaded with them; the bridges of a VPC's subnets held by other hosts only (stubs); and a
subnet or a whole router removed with everything in it.

A layer of :class:`~andromede.hypervisor.tenant_network.TenantNetworks` (see
:mod:`~andromede.hypervisor.tenant_network`), split off for size (STYLE §10).
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import logging
from collections.abc import Collection

from andromede.compute.driver_network import (
    NetworkSpec,
)
from andromede.hypervisor.elastic_ips import uplink_guard_table
from andromede.hypervisor.netns_commands import (
    NetworkCommandError,
    _all,
    _host_link_exists,
    _ip_batch,
    _links,
    _namespace_exists,
    _retry_while_exists,
    _run,
    _write_sysctls,
)
from andromede.hypervisor.network_guards import foreign_metadata_guards, render_metadata_guard
from andromede.hypervisor.network_state import NetworkRecord
from andromede.hypervisor.router_firewall import TRANSIT as _TRANSIT
from andromede.hypervisor.tenant_network_dnsmasq import DnsmasqMixin
from andromede.hypervisor.vpc_dns import resolver_addresses

__all__ = ["BuildMixin"]

# The facade's logger name, as before the split: log settings and readers name it.
log = logging.getLogger("andromede.hypervisor.tenant_network")


class BuildMixin(DnsmasqMixin):
    """Routers and subnets built, repaired and removed."""

    # -- lifecycle -----------------------------------------------------------------------------

    async def ensure(self, spec: NetworkSpec) -> None:
        """Create the network's namespace (its router's), bridge, transit link and DHCP;
        idempotent."""
        async with self._lock:
            await self._ensure_locked(spec, rebuild=True)

    async def _ensure_locked(
        self, spec: NetworkSpec, *, rebuild: bool, finish: bool = True
    ) -> tuple[NetworkRecord, list[NetworkRecord]]:
        """The network's record, and the subnets built now: the network when new, when its
        namespace is gone (then every subnet of its router) or on ``rebuild`` (``finish``:
        see :meth:`_build`)."""
        self._state.acls.setdefault(spec.network_id, spec.acl)
        # Its VPC's DNS is the one held, if any (set_vpc_dns changes it, not a spec).
        self._state.dns.setdefault(spec.router_id, spec.dns)
        record = self._state.networks.get(spec.network_id)
        if record is None:
            record = self._new_record(spec)
            self._state.networks[spec.network_id] = record
            self._save()
            rebuild = True
        elif spec.vni and record.vni != spec.vni:
            # Recorded before its subnet had a VXLAN id (an upgrade): it gets its overlay now.
            record.vni = spec.vni
            self._save()
            rebuild = True
        elif spec.ipv6_cidr and record.ipv6_cidr != spec.ipv6_cidr:
            # Its IPv6 block came after it was built (decision 0217): its bridge takes it.
            record.ipv6_cidr = spec.ipv6_cidr
            self._save()
            rebuild = True
        built: list[NetworkRecord] = []
        if rebuild or not _namespace_exists(self.netns(record.router)):
            built = await self._build(record, finish=finish)
        return record, built

    def _new_record(self, spec: NetworkSpec, *, stub: bool = False) -> NetworkRecord:
        """A subnet joining its VPC's router on this host (the router's transit link, the
        lowest free bridge slot), or starting it."""
        members = self._members(spec.router_id)
        if any(m.tenant_id != spec.tenant_id for m in members):
            # VPC ids are the region's and a VPC is one tenant's: never one namespace for two.
            raise NetworkCommandError(f"router {spec.router_id} belongs to another tenant")
        used = {m.slot for m in members}
        return NetworkRecord(
            spec.network_id,
            spec.tenant_id,
            spec.cidr,
            members[0].index if members else self._free_index(),
            spec.vni,
            router_id=spec.vpc_id,
            slot=next(slot for slot in itertools.count() if slot not in used),
            vpc_cidr=spec.vpc_cidr,
            stub=stub,
            ipv6_cidr=spec.ipv6_cidr,
        )

    async def _build(self, record: NetworkRecord, *, finish: bool = True) -> list[NetworkRecord]:
        """Build (or repair) the network's bridge in its router's namespace, with the
        namespace and its transit link when they are missing (then every subnet of the router
        is built into it); with ``finish`` also the overlay entries, firewall and DHCP, which
        :meth:`plug` applies itself once its tap is in (so a first instance does not load them
        twice). Returns the subnets built.

        Few processes: every ``ip`` change of one namespace goes in one ``ip -batch``, the
        sysctls are written from a thread inside the namespace, and the host's metadata guard
        loads meanwhile (an instance's first start waits on all of this)."""
        ns = self.netns(record.router)
        fresh = not _namespace_exists(ns)
        subnets = self._members(record.router) if fresh else [record]
        host_ip, ns_ip = self._transit(record.index)
        host_link = self._host_link(record.index)
        guard = asyncio.ensure_future(self._load_metadata_guard())
        try:
            if fresh:
                await _run("ip", "netns", "add", ns)
                links = {"lo"}
            else:
                links = await _links(ns)
            if _TRANSIT not in links:
                # A host-side end without its peer is left over from a namespace that is gone
                # (or going: the kernel destroys a deleted namespace's links asynchronously).
                if _host_link_exists(host_link):
                    await _run("ip", "link", "del", host_link, check=False)
                await _retry_while_exists(
                    "ip", "link", "add", host_link, "type", "veth", "peer", "name", _TRANSIT,
                    "netns", ns,
                )  # fmt: skip
            await _ip_batch(
                None,
                f"addr replace {host_ip}/30 dev {host_link}",
                f"link set {host_link} up",
                # Every host-facing address, mapped or not (the metadata service's replies),
                # and every Elastic IP.
                *itertools.chain.from_iterable(
                    self._host_routes(nic, record.index) for nic in self._router_nics(record.router)
                ),
                *self._nat_host_routes(record.router, record.index),
            )
            inside = ["link set lo up"] + [
                f"addr replace {address}/32 dev lo"
                for address in resolver_addresses(record.vpc_cidr or record.cidr)
            ]
            for subnet in subnets:
                inside += self._bridge_commands(subnet, links)
            inside += [
                f"addr replace {ns_ip}/30 dev {_TRANSIT}",
                f"link set {_TRANSIT} up",
                f"route replace default via {host_ip}",
            ]
            if record.vpc_cidr:
                # The VPC's block is "local" (its main route table): an address of it that no
                # subnet here routes is unreachable, never sent to the host.
                inside.append(f"route replace unreachable {record.vpc_cidr}")
            await _ip_batch(ns, *inside)
            sysctls = {
                "net/ipv4/ip_forward": "1",
                # Between subnets a reply may come back over another bridge than its request
                # left by (the overlay routes each way through the destination's subnet).
                "net/ipv4/conf/all/rp_filter": "0",
            }
            if any(subnet.ipv6_cidr for subnet in subnets):
                # The router forwards IPv6 between its subnets (decision 0217); its firewall
                # drops what no rule allows, IPv6 as IPv4.
                sysctls["net/ipv6/conf/all/forwarding"] = "1"
            for subnet in subnets:
                sysctls |= {
                    f"net/ipv4/conf/{subnet.bridge}/proxy_arp": "1",
                    f"net/ipv4/conf/{subnet.bridge}/proxy_arp_pvlan": "1",
                    f"net/ipv4/conf/{subnet.bridge}/rp_filter": "0",
                }
            await _write_sysctls(ns, sysctls)
        finally:
            await asyncio.gather(guard, return_exceptions=True)
        guard.result()  # raises when the guard failed to load
        for subnet in subnets:
            if self._overlay(subnet):
                await self._build_vxlan(subnet, links)
        if finish:
            await self._apply_overlay(record.router)
            await _all(
                self._apply_firewall(record.router),
                self._start_resolver(record.router, restart=fresh),
                *(self._restart_dhcp(subnet) for subnet in subnets),
            )
        if any(nic.elastic_ip for nic in self._router_nics(record.router)) or self._translated(
            record.router
        ):
            await self._apply_uplink()
        if self._watcher is not None:
            await self._watcher.network_up(host_ip)
        return subnets

    def _bridge_commands(self, record: NetworkRecord, links: Collection[str]) -> list[str]:
        """The ``ip`` commands (inside the namespace) that make a subnet's bridge."""
        cidr = ipaddress.IPv4Network(record.cidr)
        commands = []
        if record.bridge not in links:
            commands.append(f"link add {record.bridge} type bridge")
        commands.append(f"addr replace {next(cidr.hosts())}/{cidr.prefixlen} dev {record.bridge}")
        if record.ipv6_cidr:
            # The subnet's IPv6 router (decision 0217): ``::1`` of its /64, no duplicate
            # address detection (nothing else on the link may hold it).
            block = ipaddress.IPv6Network(record.ipv6_cidr)
            commands.append(
                f"addr replace {block.network_address + 1}/{block.prefixlen}"
                f" dev {record.bridge} nodad"
            )
        if self._overlay(record):
            # Every host answers for the gateway itself, as its own router (a MAC of its
            # own: the other hosts address their routed frames to it).
            commands.append(
                f"link set {record.bridge} address {self._router(record.network_id)} "
                f"mtu {self._layout.overlay_mtu}"
            )
        commands.append(f"link set {record.bridge} up")
        return commands

    async def _load_metadata_guard(self) -> None:
        """Load this prefix's metadata guard; the first time, warn of another prefix's guard
        that would drop this host's guests' metadata requests (the operator's to remove: it
        may belong to an agent still running)."""
        await _run("nft", "-f", "-", stdin=render_metadata_guard(self._layout))
        if self._foreign_guards_checked:
            return
        self._foreign_guards_checked = True
        for table in foreign_metadata_guards(await _run("nft", "list", "ruleset"), self._layout):
            log.warning(
                "the nftables table %s also guards %s port %d: it drops the metadata requests"
                " of this host's instances; if no agent uses link prefix %s any more, remove it"
                " (nft delete table inet %s)",
                table,
                self._layout.transit_cidr,
                self._layout.imds_port,
                table.removeprefix("andromede_imds_"),
                table,
            )

    async def _build_vxlan(self, record: NetworkRecord, links: Collection[str]) -> None:
        """The subnet's VXLAN port on its bridge. Created in the host's namespace, so its
        UDP socket lives there (on the underlay), then moved into the router's: the tenant's
        namespace never sees the underlay, only the port."""
        ns = self.netns(record.router)
        vxlan = record.vxlan
        if vxlan not in links:
            # Named by the subnet's VXLAN id on the host: unique there, whatever the router.
            staging = f"{self._layout.link_prefix}x{record.vni}"
            underlay = self._layout.underlay_netns
            ip = ["ip", "-n", underlay] if underlay else ["ip"]
            await _run(*ip, "link", "del", staging, check=False)
            await _retry_while_exists(
                *ip, "link", "add", staging, "type", "vxlan", "id", str(record.vni),
                "local", self._layout.underlay_address,
                "dstport", str(self._layout.vxlan_port), "nolearning",
            )  # fmt: skip
            await _run(
                *ip, "link", "set", staging, "mtu", str(self._layout.overlay_mtu), "netns", ns
            )
            await _run("ip", "-n", ns, "link", "set", staging, "name", vxlan)
        await _ip_batch(
            ns,
            f"link set {vxlan} master {record.bridge}",
            # Forwarding entries are ours (one per peer router), never learnt from the wire.
            f"link set dev {vxlan} type bridge_slave learning off",
            f"link set {vxlan} up",
        )

    async def _settle_stubs(self, router: str) -> list[NetworkRecord]:
        """Give the router a bridge for each subnet of its VPC with instances on other hosts
        only (as told with their peers), and take away those whose peers are gone. Returns
        the bridges built."""
        built: list[NetworkRecord] = []
        for network_id, spec in sorted(self._state.specs.items()):
            if spec.router_id != router or network_id in self._state.networks:
                continue
            if spec.tenant_id != self._members(router)[0].tenant_id:
                continue  # never another tenant's subnet in this namespace
            record = self._new_record(spec, stub=True)
            self._state.networks[network_id] = record
            self._state.acls.setdefault(network_id, spec.acl)
            self._save()
            if self._overlay(record) and self._remote(network_id):
                built += await self._build(record, finish=False)
            else:
                del self._state.networks[network_id]
                self._save()
        for record in self._members(router):
            if record.stub and not self._remote(record.network_id):
                await self._remove_subnet_locked(record, apply=False)
        return [r for r in built if r.network_id in self._state.networks]

    async def remove(self, network_id: str) -> None:
        """Delete a network with everything in it (its router's namespace too when no other
        subnet of it has instances here); no-op when absent."""
        async with self._lock:
            record = self._state.networks.get(network_id)
            if record is None:
                return
            if any(n.network_id != network_id for n in self._router_nics(record.router)):
                for nic in self._nics_of(network_id):
                    self._state.nics.pop(nic.instance_id)
                    await self._unroute(nic)
                await self._remove_subnet_locked(record)
            else:
                await self._remove_router_locked(record.router)

    async def _remove_subnet_locked(self, record: NetworkRecord, *, apply: bool = True) -> None:
        """Take one subnet's bridge, VXLAN port, DHCP and records out of a router that stays
        (its instances already unplugged)."""
        network_id = record.network_id
        self._state.networks.pop(network_id, None)
        self._state.firewalls.pop(network_id, None)
        self._state.peers.pop(network_id, None)
        if network_id not in self._state.specs:
            # Nothing of it here any more: its next spec gives its ACL again.
            self._state.acls.pop(network_id, None)
        self._save()
        ns = self.netns(record.router)
        await self._stop_dhcp(network_id)
        for nic in [n for n in self._state.nics.values() if n.network_id == network_id]:
            self._state.nics.pop(nic.instance_id)
            await self._unroute(nic)
        links = await _links(ns) if _namespace_exists(ns) else set()
        for link in (record.vxlan, record.bridge):
            if link in links:  # the bridge's taps and neighbours go with it
                await _run("ip", "-n", ns, "link", "del", link, check=False)
        if apply and self._members(record.router):
            await self._apply_overlay(record.router)
            await self._apply_firewall(record.router)

    async def _remove_router_locked(self, router: str) -> None:
        """Delete a router's namespace with every subnet in it; no-op when absent."""
        members = self._members(router)
        for record in members:
            self._state.networks.pop(record.network_id, None)
            self._state.firewalls.pop(record.network_id, None)
            self._state.peers.pop(record.network_id, None)
        for nic in self._router_nics(router):
            self._state.nics.pop(nic.instance_id)
            await self._unroute(nic)
        for address in self._translated(router):
            await self._unroute_elastic(address)
        # The VPC leaves the host, and its NAT gateways and DNS with it (the next push or
        # spec tells them).
        self._state.nat.pop(router, None)
        self._state.dns.pop(router, None)
        # The VPC leaves the host, and with it the pushes of its ACLs: forget them, those of
        # its subnets not built here too (the next spec of a subnet gives its ACL again).
        self._state.acls = {
            network_id: acl
            for network_id, acl in self._state.acls.items()
            if network_id in self._state.networks
            or (
                network_id in self._state.specs
                and self._state.specs[network_id].router_id != router
            )
        }
        self._save()
        if not members:
            return
        host_ip, _ = self._transit(members[0].index)
        if self._watcher is not None:
            await self._watcher.network_down(host_ip)
        for record in members:
            await self._stop_dhcp(record.network_id)
        await self._stop_resolver(router)
        await _run("ip", "link", "del", self._host_link(members[0].index), check=False)
        await _run("ip", "netns", "del", self.netns(router), check=False)
        if not self._state.networks:
            # The last network gone: no metadata listener is left to guard.
            table = f"andromede_imds_{self._layout.link_prefix}"
            await _run("nft", "delete", "table", "inet", table, check=False)
            if self._layout.elastic_ip_uplink:
                guard = uplink_guard_table(self._layout.link_prefix)
                await _run("nft", "delete", "table", "inet", guard, check=False)

    async def restore(self) -> None:
        """Rebuild whatever a reboot or a crash removed of the recorded networks."""
        for record in list(self._state.networks.values()):
            async with self._lock:
                if record.network_id in self._state.networks:
                    await self._build(record)
