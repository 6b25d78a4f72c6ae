"""Tenant private networks on a host: isolation, addressing, DHCP, NAT, security groups, the
router between a VPC's subnets, and the overlay that joins a network's instances on several
hosts.

Each VPC is a Linux network namespace of its own on a host — its *router* (decision 0106) — so
two VPCs' instances, the same tenant's or two tenants', share no link, no route and no firewall
table: they cannot reach each other by construction. A network given without a VPC (and one
recorded before VPC routing) is a namespace of its own, as every network was. Inside it:

- per subnet (a tenant network), a bridge ``br<slot>`` holding the subnet's gateway address (the
  first host of its CIDR), with the instances' tap devices as *isolated* ports; the kernel
  routes between the bridges, so a VPC's subnets reach each other through the forward chain
  where the security groups apply, and an address of the VPC's block no subnet routes is
  unreachable. On each bridge: instances never talk to each other at layer 2. The bridge answers
  every ARP request on their behalf (``proxy_arp_pvlan``) and routes their packets back out, so
  all traffic between two instances crosses the namespace's IP stack — as in an AWS VPC, where
  the router sits between any two instances — and there the security groups apply with
  connection tracking (the bridge family of nftables has no conntrack on this kernel);
- dnsmasq serving DHCP on each bridge with one static lease per instance (its MAC → its address)
  and the VPC's DHCP options; the NoCloud seed also carries a static network config, DHCP is
  for images that ignore it;
- the VPC's resolver, EC2's "Amazon-provided DNS" (:mod:`~andromede.hypervisor.vpc_dns`): one
  more dnsmasq, on the VPC block's base plus two and 169.254.169.253, held by the namespace's
  loopback;
- a veth pair to the host (a /30 "transit" link per namespace, from ``transit_cidr``), the host
  side named ``<prefix>t<n>``;
- one host-facing address per instance (from ``public_cidr``, host-only: the host routes it over
  the transit link, the namespace SNATs the instance's packets to the host to it), which is its
  "public" address unless its NIC asks for none: then the namespace NATs it 1:1 to the private
  address, so the host reaches an instance's SSH port at ``public_ip:22`` — the way EC2 public
  addresses work; without one, nothing from the host reaches the instance and it reaches
  nothing through the host but the metadata service;
- the instance metadata service: 169.254.169.254:80 is DNAT'ed to the host side of the transit
  link at ``imds_port``, where the metadata server listens; its replies return by conntrack. The
  connection arrives from the instance's host-facing address, which tells the server who asks;
- an instance's Elastic IP, when it has one (:meth:`TenantNetworks.set_elastic_ip`): an address
  of the operator's (:mod:`~andromede.hypervisor.elastic_ips`), routed by the host over the
  transit link like the host-facing one; the namespace DNATs it to the private address on what
  comes from the transit link (the instance's ingress rules apply after, as for its public
  address) and SNATs to it whatever the instance sends out through the transit link but its
  metadata requests, which keep the host-facing address. An instance without a public address
  but with an Elastic IP is reached at it and sends out as a mapped one does. A host given an
  uplink (``NetworkLayout.elastic_ip_uplink``) announces each of its Elastic IPs there by proxy
  ARP, so a router on that segment reaches them through it;
- each subnet's network ACL (:meth:`TenantNetworks.set_acl`), judged on what crosses the
  subnet's boundary before anything else of the forward chain, stateless
  (:mod:`~andromede.hypervisor.network_acls`); a packet must pass it and the security groups.
  The ACL is kept for a subnet not built here yet, with the rest of the state.

A network may span hosts (decision 0024) when the host has an underlay address
(``NetworkLayout.underlay_address``) and the network a VXLAN id (``NetworkSpec.vni``): a VXLAN
port ``vxlan<slot>`` on its bridge, created in the host's namespace so its socket lives on the
underlay, then moved into the router's. A host holding instances of a VPC also gets a bridge for
each of the VPC's subnets that has instances on other hosts only (told with their peers,
:meth:`TenantNetworks.set_peers`), so its router reaches them over that subnet's VXLAN id.
Instances still never meet at layer 2, across hosts neither: each host's bridge is that host's
*router*, with a MAC derived from the network and the host's endpoint (:func:`router_mac`), the
same wherever computed. An instance on another host is a permanent neighbour at its host's
router MAC, reached through one forwarding entry per peer host, so a packet between hosts is
routed by both namespaces' IP stacks — the sender's egress rules on its host, the receiver's
ingress rules on its own — and nothing needs ARP, flooding or learning across hosts.
Bridge-family rules on the VXLAN port let only routed IPv4 between routers cross
(:func:`render_overlay_filter`): every host answers for the gateway, DHCP and the metadata
address itself. The peers come from the control plane (:meth:`TenantNetworks.set_peers`).

The host itself keeps the metadata listeners to the tenant networks: one nft table per link
prefix drops connections to ``imds_port`` on the transit range that arrive on any interface
but the transit links and loopback (:func:`render_metadata_guard`), built with the first network
and removed with the last. Another such table naming an overlapping range at the same port — an
agent's that was removed without its networks, or a second agent given the same ranges — drops
this host's guests' metadata requests too; the first build looks for one and warns, naming it
(:func:`foreign_metadata_guards`).

Nothing here is reachable from an instance but its own network and the metadata service: traffic
towards the transit and public ranges (the host, other tenants' public addresses) is dropped in
the namespace, whatever the host's own forwarding settings.

QEMU joins a network through the tap :meth:`plug` created, opened inside the namespace by a
thread of the agent that enters it for that alone (:meth:`TenantNetworks.open_tap`): QEMU itself
stays in the host's namespace, where its storage is (Ceph monitors for RBD volumes are not
reachable from a tenant network, nor should they be). State (which index, which addresses,
which rules) is kept in a JSON file under the state directory, rewritten atomically
(:mod:`~andromede.hypervisor.network_state`), so a restarted agent finds its networks again.
Needs root (CAP_NET_ADMIN) and the ``ip``, ``nft``, ``bridge`` and ``dnsmasq`` commands.
"""

from __future__ import annotations

import asyncio
import ctypes
import fcntl
import hashlib
import ipaddress
import itertools
import json
import logging
import os
import re
import socket
import struct
import threading
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol, TypeVar

from andromede.compute.driver import (
    InstanceFirewall,
    NatRoute,
    NetworkPeer,
    NetworkSpec,
    NicSpec,
    PeeringLink,
    SubnetAcl,
    VpcDns,
)
from andromede.hypervisor.dnsmasq_process import ours_running, stop_pidfile
from andromede.hypervisor.elastic_ips import (
    check_elastic_ip,
    render_uplink_guard,
    uplink_guard_table,
)
from andromede.hypervisor.nat_gateways import (
    hops,
    routing_table,
    rule_priority,
    stale_rules,
)
from andromede.hypervisor.network_state import (
    NetworkRecord,
    PluggedNic,
    load_state,
    save_state,
)
from andromede.hypervisor.peering_links import (
    LinkEnd,
    apply_links,
    ends_here,
    is_link_end,
)
from andromede.hypervisor.router_firewall import METADATA_ADDRESS, render_firewall
from andromede.hypervisor.router_firewall import TRANSIT as _TRANSIT
from andromede.hypervisor.vpc_dns import dhcp_option_args, resolver_addresses, resolver_command

__all__ = [
    "NetworkCommandError",
    "NetworkLayout",
    "NetworkWatcher",
    "OverlayPort",
    "PluggedNic",
    "TenantNetworks",
    "foreign_metadata_guards",
    "render_metadata_guard",
    "render_overlay_filter",
    "router_mac",
]

log = logging.getLogger(__name__)
_T = TypeVar("_T")

# Outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14) headers.
VXLAN_OVERHEAD = 50
_MIN_UNDERLAY_MTU = 576 + VXLAN_OVERHEAD  # IPv4's minimum datagram, inside
_NETNS_DIR = Path("/run/netns")  # where ``ip netns`` keeps the namespaces it names
_CLONE_NEWNET = 0x40000000
_TUNSETIFF = 0x400454CA
_TAP_FLAGS = 0x0002 | 0x1000  # IFF_TAP | IFF_NO_PI
_LINK_NAME = re.compile(r"[A-Za-z0-9_.-]{1,15}")


class NetworkCommandError(RuntimeError):
    """A host networking command failed; carries the command and what it printed."""


@dataclass(frozen=True, slots=True)
class NetworkLayout:
    """The host-wide address plan of the tenant networks (settings).

    ``link_prefix`` starts the name of every host-side link (at most 6 characters: Linux names
    are 15), so two agents on one host — tests, for instance — never collide."""

    transit_cidr: str = "100.64.0.0/16"
    public_cidr: str = "100.65.0.0/16"
    imds_port: int = 16925
    link_prefix: str = "andr"
    # This host's end of the overlay (VXLAN) that joins a network's instances on several hosts;
    # "" = no overlay: each network lives on this host alone.
    underlay_address: str = ""
    vxlan_port: int = 4789
    # What the underlay carries per frame; guests get this minus the VXLAN encapsulation.
    underlay_mtu: int = 1500
    # The network namespace holding the underlay address, "" = the host's own. Tests put two
    # "hosts" on one machine this way: with both endpoints in one namespace the kernel hands
    # VXLAN frames across directly ("local bypass"), connection-tracking state included,
    # and the receiving namespace's stateful rules then see replies of connections they never
    # saw open.
    underlay_netns: str = ""
    # The interface on which the host answers ARP for the Elastic IPs it holds (proxy
    # entries), so a router of the operator's segment reaches them through it; "" = none (the
    # operator's network routes the Elastic IPs' block to the hosts, or the host alone uses
    # them).
    elastic_ip_uplink: str = ""
    # Where the VPCs' resolvers send the names that are not the VPC's (decision 0143): IPv4
    # addresses reached from the routers' transit addresses; none = such names are refused.
    dns_upstream: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        transit = ipaddress.IPv4Network(self.transit_cidr)
        public = ipaddress.IPv4Network(self.public_cidr)
        if transit.prefixlen > 29:
            raise ValueError("transit_cidr must hold at least two /30 links")
        if transit.overlaps(public):
            raise ValueError("transit_cidr and public_cidr overlap")
        if not 1 <= len(self.link_prefix) <= 6 or not self.link_prefix.isalnum():
            raise ValueError("link_prefix must be 1 to 6 letters or digits")
        if self.underlay_address:
            ipaddress.IPv4Address(self.underlay_address)  # raises ValueError
        if not 1 <= self.vxlan_port <= 65535:
            raise ValueError("vxlan_port must be a UDP port")
        if self.underlay_mtu < _MIN_UNDERLAY_MTU:
            raise ValueError(f"underlay_mtu must be at least {_MIN_UNDERLAY_MTU}")
        if self.elastic_ip_uplink and not _LINK_NAME.fullmatch(self.elastic_ip_uplink):
            raise ValueError("elastic_ip_uplink must be an interface name (15 characters at most)")
        for server in self.dns_upstream:
            ipaddress.IPv4Address(server)  # raises ValueError

    @property
    def overlay_mtu(self) -> int:
        """The MTU of a network's bridge, taps and guests when it spans hosts."""
        return self.underlay_mtu - VXLAN_OVERHEAD


class NetworkWatcher(Protocol):
    """Told when a network's host transit address appears and goes (the metadata listeners)."""

    async def network_up(self, host_ip: str) -> None: ...

    async def network_down(self, host_ip: str) -> None: ...


def router_mac(network_id: str, address: str, port: int) -> str:
    """The MAC of a network's bridge on the host whose VXLAN endpoint is ``address:port``:
    locally administered, unicast, and the same whichever host computes it, so a host
    addresses a frame to another host's router without asking (no ARP crosses hosts)."""
    digest = hashlib.sha256(f"andromede-router:{network_id}:{address}:{port}".encode()).digest()
    return ":".join(f"{octet:02x}" for octet in (0x02, *digest[:5]))


@dataclass(frozen=True, slots=True)
class OverlayPort:
    """One subnet's VXLAN port in a router's namespace: its device, the MAC of this host's
    router of that subnet (its bridge's), and the other hosts' routers of that subnet."""

    device: str
    router: str
    peer_routers: Collection[str] = ()


def render_overlay_filter(ports: Sequence[OverlayPort]) -> str:
    """The namespace's bridge-family rules on its VXLAN ports, replaced atomically.

    Between hosts only routed IPv4 crosses: from this host's router of a subnet (that
    subnet's bridge's MAC) to another host's router of the same subnet, and in the other
    direction. So ARP, broadcasts, DHCP and the metadata address stay on each host — every
    host answers for the gateways and the metadata service itself — and nothing is bridged
    between a VXLAN port and an instance's tap: a packet from another host always crosses this
    namespace's IP stack, where the destination instance's security groups apply."""
    rules: dict[str, list[str]] = {"input": [], "forward": [], "output": []}
    for port in sorted(ports, key=lambda p: p.device):
        vxlan = port.device
        outbound = (
            f'    oifname "{vxlan}" ether daddr != {{ {", ".join(sorted(port.peer_routers))} }}'
            " drop"
            if port.peer_routers
            else f'    oifname "{vxlan}" drop'
        )
        rules["input"] += [
            f'    iifname "{vxlan}" ether daddr != {port.router} drop',
            f'    iifname "{vxlan}" ether type != ip drop',
            f'    iifname "{vxlan}" ip daddr {METADATA_ADDRESS} drop',
            f'    iifname "{vxlan}" udp dport {{ 67, 68 }} drop',
        ]
        rules["forward"] += [f'    iifname "{vxlan}" drop', f'    oifname "{vxlan}" drop']
        rules["output"] += [
            f'    oifname "{vxlan}" ether saddr != {port.router} drop',
            f'    oifname "{vxlan}" ether type != ip drop',
            outbound,
            f'    oifname "{vxlan}" ip daddr {METADATA_ADDRESS} drop',
            f'    oifname "{vxlan}" udp dport {{ 67, 68 }} drop',
        ]
    lines = [
        "table bridge andromede_overlay",
        "delete table bridge andromede_overlay",
        "table bridge andromede_overlay {",
    ]
    for hook, chain in rules.items():
        lines += [
            f"  chain {hook} {{",
            f"    type filter hook {hook} priority filter; policy accept;",
            *chain,
            "  }",
        ]
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_metadata_guard(layout: NetworkLayout) -> str:
    """The host's rule that keeps the metadata listeners (on the transit links' host side, at
    ``imds_port``) to the tenant networks: a connection to them from any other interface —
    the LAN — is dropped; the host's own loopback is let through. One table per link prefix,
    so two agents on one host keep theirs apart."""
    table = f"andromede_imds_{layout.link_prefix}"
    match = f"ip daddr {layout.transit_cidr} tcp dport {layout.imds_port}"
    return (
        "\n".join(
            [
                f"table inet {table}",
                f"delete table inet {table}",
                f"table inet {table} {{",
                "  chain input {",
                "    type filter hook input priority filter; policy accept;",
                f'    {match} iifname "lo" return',
                f'    {match} iifname != "{layout.link_prefix}t*" drop',
                "  }",
                "}",
            ]
        )
        + "\n"
    )


_GUARD_TABLE = re.compile(
    r"^table inet (andromede_imds_\S+) \{\n(.*?)^\}", re.MULTILINE | re.DOTALL
)
_GUARD_MATCH = re.compile(r"ip daddr (\S+) tcp dport (\d+)")


def foreign_metadata_guards(ruleset: str, layout: NetworkLayout) -> list[str]:
    """The metadata guards of other link prefixes in ``ruleset`` (``nft list ruleset``) that
    drop connections to this layout's metadata listeners: a range overlapping its transit range
    at its ``imds_port``. Their rule lets through only their own prefix's links, so every
    metadata request of this host's guests is dropped while one is there."""
    ours = f"andromede_imds_{layout.link_prefix}"
    transit = ipaddress.IPv4Network(layout.transit_cidr)
    found = []
    for table, body in _GUARD_TABLE.findall(ruleset):
        if table == ours:
            continue
        for cidr, port in _GUARD_MATCH.findall(body):
            try:
                guarded = ipaddress.IPv4Network(cidr, strict=False)
            except ValueError:
                continue
            if int(port) == layout.imds_port and guarded.overlaps(transit):
                found.append(table)
                break
    return found


class TenantNetworks:
    """The tenant networks of one host (see the module docstring)."""

    def __init__(self, state_dir: Path, layout: NetworkLayout | None = None) -> None:
        self._dir = state_dir
        self._layout = layout or NetworkLayout()
        self._lock = asyncio.Lock()
        self._state = load_state(self._state_file())
        # The VPC peering connections last told (decision 0139), and the link ends in force.
        self._peering_links: tuple[PeeringLink, ...] = ()
        self._link_ends: list[LinkEnd] = []
        self._watcher: NetworkWatcher | None = None
        self._foreign_guards_checked = False

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

    def exec_prefix(self, network_id: str) -> list[str]:
        """The command prefix that runs a program inside the network's namespace."""
        record = self._state.networks.get(network_id)
        return ["ip", "netns", "exec", self.netns(record.router if record else network_id)]

    async def open_tap(self, plugged: PluggedNic, *, timeout: float = 10.0) -> int:
        """A file descriptor on the instance's tap, opened inside its network's namespace (a
        tap is opened by name in the namespace it lives in, here by a thread that enters it);
        the caller hands it to QEMU and closes its own copy."""

        def attach() -> int:
            # TUNSETIFF on a name that does not exist would create a new, unplugged tap.
            socket.if_nametoindex(plugged.tap)  # OSError when it is not in the namespace
            tap = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)
            try:
                # The flags ``ip tuntap add mode tap`` gave it.
                fcntl.ioctl(tap, _TUNSETIFF, struct.pack("16sH", plugged.tap.encode(), _TAP_FLAGS))
            except BaseException:
                os.close(tap)
                raise
            return tap

        try:
            return await asyncio.wait_for(_in_netns(plugged.netns, attach), timeout)
        except TimeoutError:
            raise NetworkCommandError(f"opening tap {plugged.tap} timed out") from None
        except OSError as exc:
            raise NetworkCommandError(f"opening tap {plugged.tap} failed: {exc}") from None

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

    async def plug(
        self, instance_id: str, nic: NicSpec, firewall: InstanceFirewall | None = None
    ) -> PluggedNic:
        """Create the instance's tap in its network (isolated port of the subnet's bridge, the
        network built first when needed), give it a host-facing address (its public one when
        ``nic.public_address``), its Elastic IP (``nic.elastic_ip``, checked before anything
        is made: :meth:`set_elastic_ip`), a DHCP lease and its firewall chains —
        ``firewall``, else what it had, else deny all ingress; idempotent."""
        async with self._lock:
            elastic = (
                None
                if nic.elastic_ip is None
                else self._check_elastic_ip(instance_id, nic.elastic_ip)
            )
            record, built = await self._ensure_locked(nic.network, rebuild=False, finish=False)
            if record.stub:
                record.stub = False  # an instance of its own here now
            previous = self._state.nics.get(instance_id)
            if previous is None:
                plugged = PluggedNic(
                    instance_id=instance_id,
                    network_id=nic.network.network_id,
                    netns=self.netns(record.router),
                    tap=self._tap(instance_id),
                    mac=nic.mac,
                    private_ip=nic.private_ip,
                    public_ip=self._free_public_ip(),
                    mapped=nic.public_address,
                    elastic_ip=elastic,
                )
            else:
                plugged = replace(previous, mapped=nic.public_address, elastic_ip=elastic)
            self._state.nics[instance_id] = plugged
            rules = self._state.firewalls.setdefault(plugged.network_id, {})
            if firewall is not None:
                rules[plugged.private_ip] = firewall
            rules.setdefault(plugged.private_ip, InstanceFirewall())
            self._save()
            tap = plugged.tap
            inside = []
            if tap not in await _links(plugged.netns):
                inside.append(f"tuntap add dev {tap} mode tap")
            if self._overlay(record):
                inside.append(f"link set {tap} mtu {self._layout.overlay_mtu}")
            inside += [
                f"link set {tap} master {record.bridge}",
                f"link set dev {tap} type bridge_slave isolated on",
                f"link set {tap} up",
            ]
            await _all(
                _ip_batch(plugged.netns, *inside),
                _ip_batch(None, *self._host_routes(plugged, record.index)),
            )
            # A router built now gets the bridges of its VPC's subnets held by other hosts.
            built += await self._settle_stubs(record.router)
            await self._apply_overlay(record.router)  # its address is no other host's any more
            await _all(
                self._apply_firewall(record.router),
                self._start_resolver(record.router),
                *(self._restart_dhcp(r) for r in {id(r): r for r in [*built, record]}.values()),
            )
            if previous is not None and previous.elastic_ip not in (None, elastic):
                await self._unroute_elastic(previous.elastic_ip)
            if elastic is not None:
                await self._apply_uplink()
            return plugged

    async def unplug(self, instance_id: str) -> None:
        """Remove the instance's tap, address, lease and rules; no-op when not plugged."""
        async with self._lock:
            await self._unplug_locked(instance_id)

    async def release(self, instance_id: str) -> None:
        """Unplug the instance; when it was its subnet's last instance here, remove the
        subnet's bridge (kept when its VPC still has instances here and the subnet has some
        on other hosts: they are reached through it), and when it was its router's last, the
        whole namespace (nothing of a VPC stays on the host without an instance); idempotent."""
        async with self._lock:
            plugged = self._state.nics.get(instance_id)
            if plugged is None:
                return
            record = self._state.networks.get(plugged.network_id)
            router = record.router if record is not None else plugged.network_id
            others = [n for n in self._router_nics(router) if n.instance_id != instance_id]
            if not others:  # its router's last instance: the namespace goes, all in it
                await self._remove_router_locked(router)
            elif record is not None and not any(n.network_id == record.network_id for n in others):
                if self._remote(record.network_id):
                    record.stub = True  # still the way to the subnet's other hosts
                    await self._unplug_locked(instance_id)
                else:
                    self._state.nics.pop(instance_id)
                    # Its addresses routed into a namespace that stays: the host would send
                    # their traffic to the VPC until they are given again.
                    await self._unroute(plugged)
                    await self._remove_subnet_locked(record)
            else:
                await self._unplug_locked(instance_id)

    async def _unplug_locked(self, instance_id: str) -> None:
        plugged = self._state.nics.pop(instance_id, None)
        if plugged is None:
            return
        self._state.firewalls.get(plugged.network_id, {}).pop(plugged.private_ip, None)
        self._save()
        record = self._state.networks.get(plugged.network_id)
        await self._unroute(plugged)
        if _namespace_exists(plugged.netns) and plugged.tap in await _links(plugged.netns):
            await _run("ip", "-n", plugged.netns, "link", "del", plugged.tap, check=False)
        if record is not None:
            await self._apply_overlay(record.router)
            await _all(self._apply_firewall(record.router), self._restart_dhcp(record))

    async def set_instance_firewall(self, instance_id: str, firewall: InstanceFirewall) -> bool:
        """Replace one plugged instance's rules (its router's ruleset is rewritten atomically,
        the other instances' rules kept); False when the instance is not plugged."""
        async with self._lock:
            plugged = self._state.nics.get(instance_id)
            if plugged is None:
                return False
            held = self._state.firewalls.setdefault(plugged.network_id, {})
            previous = held.get(plugged.private_ip)
            if previous == firewall:
                return True  # the periodic resync's push of what is in force already
            held[plugged.private_ip] = firewall
            try:
                await self._apply_firewall(self._state.networks[plugged.network_id].router)
            except BaseException:
                # Not in force: the state must not say it is, or the next push would be
                # skipped as already applied.
                if previous is None:
                    held.pop(plugged.private_ip, None)
                else:
                    held[plugged.private_ip] = previous
                raise
            self._save()
            return True

    async def set_elastic_ip(self, instance_id: str, address: str | None) -> bool:
        """Route ``address`` (an Elastic IP) to a plugged instance in place of the one it had,
        or take it away (None); False when the instance is not plugged. The address is checked
        first (:func:`~andromede.hypervisor.elastic_ips.check_elastic_ip`: refused, nothing
        changes). Made before broken: the new address is routed, then the router's ruleset
        replaced (DNAT, SNAT, the unmapped drop) atomically, then the old address's route
        removed — a failure leaves the previous address in force. The same address: nothing
        to do."""
        async with self._lock:
            plugged = self._state.nics.get(instance_id)
            if plugged is None:
                return False
            if address is not None:
                address = self._check_elastic_ip(instance_id, address)
            if plugged.elastic_ip == address:
                return True
            record = self._state.networks[plugged.network_id]
            updated = replace(plugged, elastic_ip=address)
            try:
                if address is not None:
                    await _ip_batch(None, *self._host_routes(updated, record.index))
                self._state.nics[instance_id] = updated
                await self._apply_firewall(record.router)
            except BaseException:
                self._state.nics[instance_id] = plugged
                if address is not None:
                    await self._unroute_elastic(address)
                raise
            self._save()
            if plugged.elastic_ip is not None:
                await self._unroute_elastic(plugged.elastic_ip)
            await self._apply_uplink()
            log.info("instance %s: Elastic IP %s", instance_id, address or "taken away")
            return True

    async def set_firewall(
        self, network_id: str, firewalls: Mapping[str, InstanceFirewall]
    ) -> None:
        """Replace the security-group rules of a network's instances (private address → rules),
        atomically. Addresses of instances not plugged are ignored."""
        async with self._lock:
            record = self._state.networks[network_id]
            plugged = {nic.private_ip for nic in self._nics_of(network_id)}
            self._state.firewalls[network_id] = {
                ip: rules for ip, rules in firewalls.items() if ip in plugged
            } | {ip: InstanceFirewall() for ip in plugged - set(firewalls)}
            self._save()
            await self._apply_firewall(record.router)

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
        here, and part those no longer told (:mod:`~andromede.hypervisor.peering_links`). Not
        kept in the state file: the control plane tells every host again at each change of
        where instances run and at every resync."""
        async with self._lock:
            self._peering_links = tuple(links)
            routers = {
                r.router
                for r in self._state.networks.values()
                if _namespace_exists(self.netns(r.router))
            }
            wanted = ends_here(self._peering_links, routers)
            present = {
                router: {n for n in await _links(self.netns(router)) if is_link_end(n)}
                for router in sorted(routers)
            }
            if wanted == self._link_ends and all(end.name in present[end.router] for end in wanted):
                return  # the periodic resync's push of what is in force already
            touched = {end.router for end in (*wanted, *self._link_ends)} | {
                router for router, names in present.items() if names
            }
            await apply_links(_run, self.netns, wanted, present)
            self._link_ends = wanted
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

    def _translated(self, router: str) -> list[str]:
        """The NAT gateway addresses the router translates to on this host."""
        return sorted({r.address for r in self._state.nat.get(router, ()) if r.translated_here})

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
        await stop_pidfile(self._resolver_pidfile(router))
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
        ruleset = render_firewall(
            firewalls,
            transit_cidr=self._layout.transit_cidr,
            public_cidr=self._layout.public_cidr,
            nat={nic.private_ip: nic.public_ip for nic in nics},
            host_transit_ip=host_ip,
            imds_port=self._layout.imds_port,
            remote=remote,
            bridges=[record.bridge for record in subnets],
            unmapped=[nic.private_ip for nic in nics if not nic.mapped],
            elastic={nic.private_ip: nic.elastic_ip for nic in nics if nic.elastic_ip},
            acls={
                record.cidr: self._state.acls.get(record.network_id, SubnetAcl())
                for record in subnets
            },
            nat_routes=self._state.nat.get(router, ()),
            peering_ends=[end.name for end in self._link_ends if end.router == router],
            resolver=(
                resolver_addresses(subnets[0].vpc_cidr or subnets[0].cidr)
                if self._dns(router).support
                else ()
            ),
        )
        await _run("ip", "netns", "exec", self.netns(router), "nft", "-f", "-", stdin=ruleset)

    def _dhcp_pidfile(self, network_id: str) -> Path:
        return self._dir / f"dnsmasq-{network_id}.pid"

    async def _stop_dhcp(self, network_id: str) -> None:
        """Stop the network's dnsmasq and wait for it to exit: its successor binds the same
        port, and a released network leaves no process behind."""
        await stop_pidfile(self._dhcp_pidfile(network_id))

    def _resolver_pidfile(self, router: str) -> Path:
        return self._dir / f"resolver-{router}.pid"

    def _dns(self, router: str) -> VpcDns:
        return self._state.dns.get(router, VpcDns())

    async def _start_resolver(self, router: str, *, restart: bool = True) -> None:
        """(Re)start the router's resolver (:mod:`~andromede.hypervisor.vpc_dns`); without
        ``restart``, only when it is not running. Stopped while the VPC's DNS support is off."""
        pidfile = self._resolver_pidfile(router)
        if not restart and ours_running(pidfile):
            return
        await stop_pidfile(pidfile)
        subnets = self._members(router)
        if not subnets:
            return
        command = resolver_command(
            pidfile=pidfile,
            vpc_cidr=subnets[0].vpc_cidr or subnets[0].cidr,
            dns=self._dns(router),
            upstream=self._layout.dns_upstream,
        )
        if command is not None:
            await _run("ip", "netns", "exec", self.netns(router), *command)

    async def set_vpc_dns(self, router_id: str, dns: VpcDns) -> None:
        """Replace what a VPC's router serves of DNS and hands out by DHCP: kept when the VPC
        is not built here yet, else its resolver, input rules and DHCP servers restart with
        it (leases are static: a guest's next renewal sees the new options)."""
        async with self._lock:
            if self._state.dns.get(router_id) == dns:
                return  # the periodic resync's push of what is in force already
            self._state.dns[router_id] = dns
            self._save()
            subnets = self._members(router_id)
            if not subnets or not _namespace_exists(self.netns(router_id)):
                return
            await _all(
                self._apply_firewall(router_id),
                self._start_resolver(router_id),
                *(self._restart_dhcp(record) for record in subnets),
            )

    async def _restart_dhcp(self, record: NetworkRecord) -> None:
        # Restarted rather than reloaded: dnsmasq re-reads host files after dropping its
        # privileges, and the state directory is not for others to read. Static leases only,
        # so a restart loses nothing. One per subnet, bound to its bridge (SO_BINDTODEVICE:
        # several serve DHCP in one namespace).
        await self._stop_dhcp(record.network_id)
        cidr = ipaddress.IPv4Network(record.cidr)
        command = [
            "ip", "netns", "exec", self.netns(record.router), "dnsmasq",
            f"--pid-file={self._dhcp_pidfile(record.network_id)}",
            f"--interface={record.bridge}", "--bind-interfaces", "--except-interface=lo",
            "--port=0", "--leasefile-ro", "--dhcp-authoritative", "--no-hosts", "--no-resolv",
            f"--dhcp-range={cidr.network_address},static,{cidr.netmask},12h",
            f"--dhcp-option=option:router,{next(cidr.hosts())}",
        ]  # fmt: skip
        if self._overlay(record):
            command.append(f"--dhcp-option=option:mtu,{self._layout.overlay_mtu}")
        command += dhcp_option_args(record.vpc_cidr or record.cidr, self._dns(record.router))
        command += [
            f"--dhcp-host={nic.mac},{nic.private_ip}" for nic in self._nics_of(record.network_id)
        ]
        await _run(*command)

    # -- state file ------------------------------------------------------------------------

    def _state_file(self) -> Path:
        return self._dir / "networks.json"

    def _save(self) -> None:
        save_state(self._state_file(), self._state)


def _enable_forwarding(links: Sequence[str]) -> None:
    """IPv4 forwarding on for these host links (the host's own namespace), each alone."""
    for link in links:
        try:
            Path(f"/proc/sys/net/ipv4/conf/{link}/forwarding").write_text("1")
        except OSError as exc:
            raise NetworkCommandError(f"forwarding on {link}: {exc}") from None


def _namespace_exists(netns: str) -> bool:
    return (_NETNS_DIR / netns).exists()


def _host_link_exists(name: str) -> bool:
    return os.path.exists(f"/sys/class/net/{name}")


async def _links(netns: str) -> set[str]:
    """The names of the links in a namespace."""
    listed = await _run("ip", "-n", netns, "-o", "link", "show")
    # "2: br0: <...>", "3: transit@if12: <...>"
    return {line.split(":")[1].strip().split("@")[0] for line in listed.splitlines() if line}


async def _ip_batch(netns: str | None, *commands: str) -> None:
    """Several ``ip`` commands in one process, in order, stopping at the first that fails."""
    prefix = ("ip", "-n", netns) if netns else ("ip",)
    await _run(*prefix, "-batch", "-", stdin="\n".join(commands) + "\n")


async def _all(*steps: Awaitable[object]) -> None:
    """Run independent steps concurrently; every one runs to its end, the first failure is
    raised after."""
    for outcome in await asyncio.gather(*steps, return_exceptions=True):
        if isinstance(outcome, BaseException):
            raise outcome


async def _write_sysctls(netns: str, values: Mapping[str, str]) -> None:
    """Set a namespace's sysctls (``/proc/sys`` keys), from a thread inside it: the
    ``net/`` tree under ``/proc/sys`` shows the namespace of whoever opens it."""

    def write() -> None:
        for key, value in values.items():
            with open(f"/proc/sys/{key}", "w") as entry:
                entry.write(value)

    try:
        await _in_netns(netns, write)
    except OSError as exc:
        raise NetworkCommandError(f"setting sysctls in {netns} failed: {exc}") from None


_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        number = ctypes.get_errno()
        raise OSError(number, os.strerror(number))


async def _in_netns(netns: str, work: Callable[[], _T]) -> _T:
    """``work()`` run inside a network namespace, by a thread of its own that enters it
    (``setns`` moves the calling thread only) and ends after, so no thread of the process
    ever runs anything else there — not even when it could not return to the host's."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[_T] = loop.create_future()

    def settle(outcome: _T | BaseException) -> None:
        if done.cancelled():
            if isinstance(outcome, int):
                os.close(outcome)  # a descriptor nobody waits for any more
            return
        if isinstance(outcome, BaseException):
            done.set_exception(outcome)
        else:
            done.set_result(outcome)

    def run() -> None:
        outcome: _T | BaseException
        try:
            own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
            try:
                target = os.open(_NETNS_DIR / netns, os.O_RDONLY | os.O_CLOEXEC)
                try:
                    _setns(target)
                finally:
                    os.close(target)
                try:
                    outcome = work()
                finally:
                    _setns(own)
            finally:
                os.close(own)
        except BaseException as exc:  # handed to the awaiting task
            outcome = exc
        try:
            loop.call_soon_threadsafe(settle, outcome)
        except RuntimeError:  # the loop is closed: nobody waits
            if isinstance(outcome, int):
                os.close(outcome)

    threading.Thread(target=run, name=f"netns-{netns}", daemon=True).start()
    return await done


async def _retry_while_exists(*command: str, attempts: int = 50) -> None:
    """Run a creating command, retrying while the kernel still holds the old object's name."""
    for _ in range(attempts - 1):
        try:
            await _run(*command)
            return
        except NetworkCommandError as exc:
            if "exists" not in str(exc):
                raise
            await asyncio.sleep(0.05)
    await _run(*command)


async def _run(*command: str, stdin: str | None = None, check: bool = True) -> str:
    process = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate(stdin.encode() if stdin is not None else None)
    if check and process.returncode != 0:
        printed = err.decode(errors="replace").strip()
        shown = " ".join(command)
        raise NetworkCommandError(f"{shown} exited with {process.returncode}: {printed}")
    return out.decode(errors="replace")
