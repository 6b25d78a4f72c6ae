"""A VPC router's nftables ruleset, pure (decisions 0106, 0121, 0125, 0128, 0129, 0139): the
security groups of every instance of its subnets, its network ACLs, its NAT (host-facing and
Elastic IP addresses, NAT gateways), the metadata service's redirection, and what may leave
through its transit link, its overlay ports and its peering links.

Rendered whole and replaced atomically by one ``nft -f`` inside the router's namespace
(:class:`~andromede.hypervisor.tenant_network.TenantNetworks` applies it); moved out of
``tenant_network.py`` unchanged, that module having grown past STYLE §10's size.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Final

from andromede.compute.driver_network import (
    EndpointRoute,
    FirewallRule,
    InstanceFirewall,
    InterfaceRoute,
    NatRoute,
    SubnetAcl,
)
from andromede.hypervisor.endpoint_redirect import egress_guard, endpoint_accepts, endpoint_dnats
from andromede.hypervisor.interface_endpoints import (
    interface_accepts,
    interface_dnats,
    interface_guard,
    interface_snats,
)
from andromede.hypervisor.interface_routes import ON_PATH, ingress_lines, mark_lines
from andromede.hypervisor.load_balancer_rules import TERMINATED, translated_by
from andromede.hypervisor.nat_gateways import (
    FORWARD_MARK,
    NAT_MARK,
    forward_marks,
    inbound_drop,
    snat_rules,
)
from andromede.hypervisor.network_acls import icmp_match, render_network_acls
from andromede.hypervisor.peering_links import forward_rules
from andromede.hypervisor.peering_segments import Segment, transit_rules

__all__ = ["METADATA_ADDRESS", "TRANSIT", "render_firewall"]

METADATA_ADDRESS: Final = "169.254.169.254"
# The name of a router's end of its transit link to the host.
TRANSIT: Final = "transit"
_TRANSIT = TRANSIT


def _rule_line(rule: FirewallRule, peer: str, verdict: str) -> str:
    """One nft rule line; ``peer`` is ``saddr`` (ingress) or ``daddr`` (egress). An IPv6
    rule's (decision 0217) goes in a chain only IPv6 packets reach, as an IPv4 rule's in one
    only IPv4 packets reach: ``0.0.0.0/0`` and ``::/0`` need no match."""
    if ":" in rule.cidr:
        parts = [] if rule.cidr == "::/0" else [f"ip6 {peer} {rule.cidr}"]
    else:
        parts = [] if rule.cidr == "0.0.0.0/0" else [f"ip {peer} {rule.cidr}"]
    if rule.protocol in {"tcp", "udp"}:
        ports = (
            str(rule.from_port)
            if rule.from_port == rule.to_port
            else f"{rule.from_port}-{rule.to_port}"
        )
        parts.append(f"{rule.protocol} dport {ports}")
    elif rule.protocol == "icmp":
        # A type (and code) allowed: its replies and the errors of allowed flows still pass
        # by conntrack (established, related), as EC2's stateful groups let them.
        parts.append(icmp_match(*rule.icmp_type_code) or "ip protocol icmp")
    return "    " + " ".join([*parts, verdict])


def _v4(rules: Sequence[FirewallRule]) -> list[FirewallRule]:
    return [rule for rule in rules if ":" not in rule.cidr]


def _v6(rules: Sequence[FirewallRule]) -> list[FirewallRule]:
    """A NIC's IPv6 rules; an ``icmp`` one matches nothing of IPv6 (ICMPv6 is another
    protocol, as on EC2), so it is left out."""
    return [rule for rule in rules if ":" in rule.cidr and rule.protocol != "icmp"]


def _ipv6_spoofing(
    sources: Mapping[str, tuple[str, ...]],
    unchecked: Collection[str],
    ipv6: Mapping[str, tuple[str, ...]] | None,
) -> list[str]:
    """Each checked NIC sends IPv6 from its own IPv6 addresses only (decision 0217); none
    without ``ipv6`` (no subnet here has IPv6: the forward chain's policy drops it all)."""
    if ipv6 is None:
        return []
    lines = []
    for mac, addresses in sorted(sources.items()):
        if not addresses or mac in unchecked:
            continue
        own = ipv6.get(addresses[0], ())
        if own:
            lines.append(f"    ether saddr {mac} ip6 saddr != {{ {', '.join(own)} }} drop")
        else:
            lines.append(f"    ether saddr {mac} meta nfproto ipv6 drop")
    return lines


def _senders(
    numbers: Mapping[str, int], sources: Mapping[str, tuple[str, ...]], unchecked: Collection[str]
) -> list[str]:
    """Each sender's way to its egress chain (``numbers``: private address → chain number),
    for :func:`~andromede.hypervisor.endpoint_redirect.egress_guard`: an appliance's
    (``unchecked``) forward from an address not its own meets the appliance's rules, as in
    the forward chain (decision 0161); everything else its source's."""
    lines = [
        f"    ether saddr {mac} ip saddr != {{ {', '.join(addresses)} }}"
        f" goto egress_{numbers[addresses[0]]}"
        for mac, addresses in sorted(sources.items())
        if mac in unchecked and addresses and addresses[0] in numbers
    ]
    return lines + [f"    ip saddr {private} goto egress_{n}" for private, n in numbers.items()]


def _interfaces(names: Collection[str]) -> str:
    """An nft interface-name match: one name, or a set of them."""
    ordered = sorted(names)
    if len(ordered) == 1:
        return f'"{ordered[0]}"'
    return "{ " + ", ".join(f'"{name}"' for name in ordered) + " }"


def render_firewall(
    firewalls: Mapping[str, InstanceFirewall],
    *,
    transit_cidr: str,
    public_cidr: str,
    nat: Mapping[str, str],
    host_transit_ip: str,
    imds_port: int,
    remote: Collection[str] = (),
    bridges: Collection[str] = ("br0",),
    unmapped: Collection[str] = (),
    elastic: Mapping[str, str] | None = None,
    acls: Mapping[str, SubnetAcl] | None = None,
    nat_routes: Sequence[NatRoute] = (),
    peering_ends: Collection[str] = (),
    peering_transit: Sequence[Segment] = (),
    resolver: Collection[str] = (),
    endpoints: Mapping[str, Sequence[str]] | None = None,
    endpoint_port: int = 0,
    endpoint_tls_port: int = 0,
    sources: Mapping[str, tuple[str, ...]] | None = None,
    unchecked: Collection[str] = (),
    interface_routes: Sequence[InterfaceRoute] = (),
    interface_endpoints: Sequence[EndpointRoute] = (),
    route_bridges: Mapping[str, str] | None = None,
    ipv6: Mapping[str, tuple[str, ...]] | None = None,
    acl_ipv6: Mapping[str, str] | None = None,
) -> str:
    """The namespace's whole nftables ruleset, replaced atomically by one ``nft -f``.

    ``firewalls`` maps private address → rules, for the instances of every subnet of the
    namespace (``bridges``, one per subnet); ``nat`` private → host-facing address. An egress
    chain *returns* when a rule allows the packet (then the peer's ingress chain decides) and
    drops otherwise; an ingress chain accepts or drops. Replies of allowed connections pass by
    conntrack, as security groups are stateful. So a packet between two subnets of the VPC
    meets its sender's egress and its receiver's ingress rules, as one between two instances
    of one subnet does. ``remote`` are the private addresses of the VPC's instances on other
    hosts: a packet to one leaves once its sender's egress allows it, and the destination's
    ingress rules apply on the destination's host (a packet from one meets the ingress chain
    of its local destination here). ``unmapped``: private addresses without a public one —
    nothing is DNAT'ed to them at their host-facing address, and they reach nothing through
    the transit link but the metadata service, unless they have an Elastic IP. ``elastic``:
    private → Elastic IP, DNAT'ed to the private address from the transit link, and the
    source of what the instance sends out through it but its metadata requests (the host's
    transit address), which keep the host-facing one: the metadata service knows the instance
    by it. ``acls``: subnet CIDR → its network ACL, judged before anything else of the forward
    chain, connection tracking included (:mod:`~andromede.hypervisor.network_acls`).
    ``nat_routes``: the VPC's NAT gateways (:mod:`~andromede.hypervisor.nat_gateways`) — what
    their sources send to their destinations is marked, translated to the gateway's address
    when it leaves here, or let out towards the router of the host that translates it.
    ``peering_ends``: the router's ends of links to peered VPCs' routers and its peering
    segments' devices, out through which only its own instances send;
    ``peering_transit``: the segments it leads
    (:func:`~andromede.hypervisor.peering_segments.transit_rules`). ``resolver``: the
    addresses where the VPC's resolver answers its subnets' DNS queries
    (:mod:`~andromede.hypervisor.vpc_dns`; none while its DNS support is off). ``endpoints``:
    bridge → the object store's addresses its subnet reaches through a VPC endpoint,
    redirected to the host's endpoint listener at ``endpoint_port`` (port 443 to
    ``endpoint_tls_port``, when not 0)
    (:mod:`~andromede.hypervisor.endpoint_redirect`, decision 0160). ``sources``: MAC →
    addresses (the primary first) of the NICs plugged here (decision 0161): what one sends from
    an address it does not hold is dropped before anything else judges it (anti-spoofing),
    unless its MAC is ``unchecked`` (its source/destination check off: an appliance), when it
    meets the NIC's egress rules and never leaves through the host. ``interface_routes``: what
    subnets route to an interface meets its ingress rules here, or leaves for its host
    (:func:`~andromede.hypervisor.interface_routes.ingress_lines`; ``route_bridges``: network
    id → bridge of the subnets here), an appliance's forward marked before routing
    (:func:`~andromede.hypervisor.interface_routes.mark_lines`). ``interface_endpoints``:
    the VPC's Interface endpoints (:mod:`~andromede.hypervisor.interface_endpoints`,
    decision 0166), judged by their groups and redirected to the same listeners. A new
    connection to either kind of endpoint meets its sender's egress rules first, against its
    original destination (:func:`~andromede.hypervisor.endpoint_redirect.egress_guard`).
    ``ipv6``: given when a subnet here has an IPv6 block (decision 0217), private address →
    that NIC's IPv6 addresses: they meet its rules' IPv6 ranges in chains of their own
    (``egress6_N``, ``ingress6_N``), a NIC sends IPv6 from them only, and the router answers
    neighbour discovery; without it nothing IPv6 is forwarded (the chain's policy drops it).
    ``acl_ipv6``: subnet CIDR → its IPv6 block, whose IPv6 packets its ACL's IPv6 entries
    judge (:func:`~andromede.hypervisor.network_acls.render_network_acls`)."""
    ports = _interfaces(bridges)
    network_acls = render_network_acls(acls or {}, acl_ipv6)
    elastic = elastic or {}
    dropped = sorted(set(unmapped) - set(elastic))
    lines = [
        "table ip andromede_nat",
        "delete table ip andromede_nat",
        "table ip andromede_nat {",
        "  chain prerouting {",
        "    type nat hook prerouting priority dstnat; policy accept;",
        f"    iifname {ports} ip daddr {METADATA_ADDRESS} tcp dport 80"
        f" dnat to {host_transit_ip}:{imds_port}",
        *endpoint_dnats(
            endpoints or {},
            host_transit_ip=host_transit_ip,
            port=endpoint_port,
            tls_port=endpoint_tls_port,
        ),
        *interface_dnats(
            interface_endpoints,
            ports,
            host_transit_ip=host_transit_ip,
            port=endpoint_port,
            tls_port=endpoint_tls_port,
        ),
    ]
    for private, public in sorted(nat.items()):
        if private not in unmapped:
            lines.append(f'    iifname "{_TRANSIT}" ip daddr {public} dnat to {private}')
    for private, held in sorted(elastic.items()):
        lines.append(f'    iifname "{_TRANSIT}" ip daddr {held} dnat to {private}')
    lines += [
        "  }",
        "  chain postrouting {",
        "    type nat hook postrouting priority srcnat; policy accept;",
        *snat_rules(nat_routes, transit=_TRANSIT, host_ranges=(transit_cidr, public_cidr)),
        *interface_snats(
            interface_endpoints,
            [a for addresses in (endpoints or {}).values() for a in addresses],
            nat,
            transit=_TRANSIT,
        ),
    ]
    for private, public in sorted(nat.items()):
        address = elastic.get(private)
        if address is None:
            lines.append(f'    oifname "{_TRANSIT}" ip saddr {private} snat to {public}')
            continue
        # Only the metadata service is on the host's transit address (the forward chain
        # drops the rest of the transit range): it keeps knowing the instance by its
        # host-facing address; everything else leaves from the Elastic IP.
        lines += [
            f'    oifname "{_TRANSIT}" ip saddr {private} ip daddr {host_transit_ip}'
            f" snat to {public}",
            f'    oifname "{_TRANSIT}" ip saddr {private} snat to {address}',
        ]
    # An Elastic IP translated to a secondary address (decision 0161's addendum): what leaves
    # from that address leaves from it.
    for private, address in sorted(elastic.items()):
        if private not in nat:
            lines.append(f'    oifname "{_TRANSIT}" ip saddr {private} snat to {address}')
    lines += [
        "  }",
        "}",
        "table inet andromede_filter",
        "delete table inet andromede_filter",
        "table inet andromede_filter {",
        "  chain forward {",
        "    type filter hook forward priority filter; policy drop;",
        # Anti-spoofing (decision 0161): a NIC sends from its own addresses only, unless its
        # source/destination check is off.
        *(
            f"    ether saddr {mac} ip saddr != {{ {', '.join(addresses)} }} drop"
            for mac, addresses in sorted((sources or {}).items())
            if addresses and mac not in unchecked
        ),
        # Likewise in IPv6 (decision 0217): a NIC without IPv6 addresses sends none.
        *_ipv6_spoofing(sources or {}, unchecked, ipv6),
        # Stateless: the network ACLs judge replies too, so they come before conntrack.
        *network_acls.forward,
        "    ct state established,related accept",
        # What an appliance's path carries may be one direction of a connection only here
        # (an asymmetric route, decision 0179): its security groups judge it all the same.
        f"    ct state invalid meta mark & {ON_PATH} == 0 drop"
        if interface_routes
        else "    ct state invalid drop",
        # The metadata service, whatever the security groups say (as on EC2).
        f"    iifname {ports} ct original ip daddr {METADATA_ADDRESS} accept",
        # The object store through a VPC endpoint (decision 0160), its sender's egress rules
        # having judged it by its original destination before the DNAT (egress_guard).
        *endpoint_accepts(endpoints or {}),
        *interface_accepts(interface_endpoints, ports),
        # Nothing else towards the host or the other networks' public addresses.
        f"    iifname {ports} ip daddr {{ {transit_cidr}, {public_cidr} }} drop",
        *inbound_drop(nat_routes, transit=_TRANSIT),
        *forward_marks(nat_routes),
    ]
    unless_natted = (
        f" meta mark != {NAT_MARK}" if any(r.translated_here for r in nat_routes) else ""
    )
    if any(not r.translated_here for r in nat_routes):
        # What another host translates never leaves through this one's transit link.
        lines.append(f'    oifname "{_TRANSIT}" meta mark {FORWARD_MARK} drop')
    if dropped:
        # Without a public address (nor an Elastic IP), nothing but the metadata service
        # through the host — and what a route sends to a NAT gateway.
        lines.append(
            f'    oifname "{_TRANSIT}" ip saddr {{ {", ".join(dropped)} }}{unless_natted} drop'
        )
    chains: list[str] = []
    numbers = {private: number for number, private in enumerate(sorted(firewalls))}
    for mac, addresses in sorted((sources or {}).items()):
        if mac in unchecked and addresses and addresses[0] in numbers:
            own = ", ".join(addresses)
            lines += [
                f'    ether saddr {mac} ip saddr != {{ {own} }} oifname "{_TRANSIT}" drop',
                f"    ether saddr {mac} ip saddr != {{ {own} }}"
                f" jump egress_{numbers[addresses[0]]}",
            ]
            if remote and interface_routes:
                # What it forwards to an instance on another host (decision 0179), whose
                # ingress rules that host applies.
                lines.append(
                    f"    ether saddr {mac} ip saddr != {{ {own} }} oifname {ports}"
                    f" ip daddr {{ {', '.join(sorted(remote))} }} accept"
                )
    # Every sender's egress first, then what is routed to an interface (its ingress rules
    # judge it, before those of its destination, which may be an instance here: 0179),
    # then the receivers' ingress.
    lines += [
        f"    ip saddr {private} jump egress_{number}"
        for number, private in enumerate(sorted(firewalls))
    ]
    held6 = {
        number: (ipv6 or {}).get(private, ())
        for number, private in enumerate(sorted(firewalls))
        if (ipv6 or {}).get(private)
    }
    lines += [
        f"    ip6 saddr {address} jump egress6_{number}"
        for number, addresses in held6.items()
        for address in addresses
    ]
    lines += ingress_lines(interface_routes, numbers, remote, route_bridges or {})
    lines += [
        f"    ip daddr {private} jump ingress_{number}"
        for number, private in enumerate(sorted(firewalls))
    ]
    lines += [
        f"    ip6 daddr {address} jump ingress6_{number}"
        for number, addresses in held6.items()
        for address in addresses
    ]
    for number, (_, firewall) in enumerate(sorted(firewalls.items())):
        egress = [f"  chain egress_{number} {{"]
        egress += [_rule_line(rule, "daddr", "return") for rule in _v4(firewall.egress)]
        egress += ["    drop", "  }"]
        if number in held6:
            egress += [f"  chain egress6_{number} {{"]
            egress += [_rule_line(rule, "daddr", "return") for rule in _v6(firewall.egress)]
            egress += ["    drop", "  }"]
            egress += [f"  chain ingress6_{number} {{"]
            egress += [_rule_line(rule, "saddr", "accept") for rule in _v6(firewall.ingress)]
            egress += ["    drop", "  }"]
        ingress = [f"  chain ingress_{number} {{"]
        for rule in _v4(firewall.ingress):
            ingress.append(_rule_line(rule, "saddr", "accept"))
            # A single address may be a load balancer's node (its group named as a source):
            # what that node translated keeps the client's address, and carries the node's
            # mark (session 50's addendum to decision 0191).
            through = translated_by(rule)
            if through is not None:
                ingress.append(
                    _rule_line(rule, "saddr", "accept").replace(f"ip saddr {rule.cidr}", through, 1)
                )
        ingress += ["    drop", "  }"]
        chains += egress + ingress
    if remote and any(r.translated_here for r in nat_routes):
        # The VPC's instances on other hosts leave through their own host's transit link;
        # here only what they send to a NAT gateway this host translates for them.
        lines.append(
            f'    oifname "{_TRANSIT}" ip saddr {{ {", ".join(sorted(remote))} }}'
            f" meta mark != {NAT_MARK} drop"
        )
    if peering_ends:
        # Nothing that came from a peered VPC leaves for the host or beyond: a peering carries
        # the two blocks only (the peer's router routes no more onto its link or segment; this
        # holds should it).
        lines.append(f'    iifname {_interfaces(peering_ends)} oifname "{_TRANSIT}" drop')
    # Leaving for the host (the metadata service) once egress allowed it.
    lines.append(f'    oifname "{_TRANSIT}" accept')
    if any(not route.translated_here for route in nat_routes):
        # Towards the router of the host that translates it, once egress allowed it.
        lines.append(f"    oifname {ports} meta mark {FORWARD_MARK} accept")
    if remote and firewalls:
        # From an instance here to one on another host, once egress allowed it: its ingress is
        # that host's to apply. Never from one remote address to another (no transit here).
        local = ", ".join(sorted(firewalls))
        lines.append(
            f"    oifname {ports} ip saddr {{ {local} }}"
            f" ip daddr {{ {', '.join(sorted(remote))} }} accept"
        )
    # Out to a peered VPC's router, once egress allowed it (decision 0139).
    lines += forward_rules(list(peering_ends), list(firewalls))
    # Across hosts, between a segment and the peer's router here (the 0139 addendum).
    lines += transit_rules(peering_transit, remote)
    lines.append("  }")
    lines += chains
    lines += network_acls.chains
    lines += egress_guard(
        endpoints or {},
        [a for route in interface_endpoints for a in route.addresses],
        ports,
        _senders(numbers, sources or {}, unchecked),
    )
    lines += interface_guard(interface_endpoints, ports, _rule_line)
    marks = mark_lines(
        interface_routes,
        route_bridges or {},
        {mac: a for mac, a in (sources or {}).items() if mac in unchecked},
    )
    if marks:
        lines += [
            "  chain route_marks {",
            "    type filter hook prerouting priority mangle; policy accept;",
            *marks,
            "  }",
        ]
    lines += [
        "  chain input {",
        "    type filter hook input priority filter; policy drop;",
        "    ct state established,related accept",
        '    iifname "lo" accept',
        # A Network Load Balancer's TLS listener, answered by the router (decision 0210).
        f"    ct mark {TERMINATED} accept",
        # DHCP and ARP-level needs of the instances; nothing else of the namespace is a service.
        f"    iifname {ports} udp dport 67 accept",
        f"    iifname {ports} ip protocol icmp accept",
    ]
    if ipv6 is not None:
        # Neighbour and router discovery, echo, and DHCPv6 of the router (decision 0217).
        lines += [
            f"    iifname {ports} meta l4proto ipv6-icmp accept",
            f"    iifname {ports} udp dport 547 accept",
        ]
    if resolver:
        # The VPC's resolver (decision 0143), for its own subnets only.
        lines.append(
            f"    iifname {ports} ip daddr {{ {', '.join(sorted(resolver))} }}"
            " meta l4proto { tcp, udp } th dport 53 accept"
        )
    lines += [
        "  }",
        "}",
    ]
    return "\n".join(lines) + "\n"
