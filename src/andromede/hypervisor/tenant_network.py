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

The class is a composition of parts split off for size (STYLE §10), each a layer over the one
below it, so a part calls only what lies beneath it:
:mod:`~andromede.hypervisor.tenant_network_core` (the state, names and addresses of the host's
routers), ``tenant_network_rules`` (applying a router's overlay entries, NAT routing and
firewall, and the host's uplink guard), ``tenant_network_dnsmasq`` (the DHCP servers and the
VPC resolver), ``tenant_network_build`` (building, repairing and removing routers and subnets),
then ``tenant_network_instances`` (plugging instances, their security groups and Elastic IPs)
and ``tenant_network_routing`` (network ACLs, VPC peering, NAT gateways, overlay peers). What
they share besides lives in modules of its own: :mod:`~andromede.hypervisor.network_layout`
(the address plan), :mod:`~andromede.hypervisor.network_guards` (the overlay filter and the
metadata guard), :mod:`~andromede.hypervisor.peering_links` and
:mod:`~andromede.hypervisor.peering_segments` (VPC peering on one host and across hosts)
and :mod:`~andromede.hypervisor.netns_commands` (the commands, and the threads that enter a
namespace). Callers import from here.
"""

from __future__ import annotations

from andromede.hypervisor.netns_commands import NetworkCommandError
from andromede.hypervisor.network_guards import (
    OverlayPort,
    foreign_metadata_guards,
    render_metadata_guard,
    render_overlay_filter,
    router_mac,
)
from andromede.hypervisor.network_layout import VXLAN_OVERHEAD, NetworkLayout, NetworkWatcher
from andromede.hypervisor.network_state import PluggedNic
from andromede.hypervisor.tenant_network_instances import InstancesMixin
from andromede.hypervisor.tenant_network_routing import RoutingMixin

__all__ = [
    "VXLAN_OVERHEAD",
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


class TenantNetworks(InstancesMixin, RoutingMixin):
    """The tenant networks of one host (see the module docstring).

    Built with the state directory and the layout
    (:meth:`~andromede.hypervisor.tenant_network_core.TenantNetworksCore.__init__`)."""
