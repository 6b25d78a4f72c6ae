"""Network ACLs as a VPC router enforces them: the chains of its nftables ruleset that filter
what crosses a subnet's boundary (rendered here, pure; loaded with the rest of the router's
ruleset by :func:`~andromede.hypervisor.tenant_network.render_firewall`).

EC2's network ACLs, on the forwarded packets of the router's namespace:

- a subnet's **egress** entries judge a packet from its range to an address outside it
  (``cidr`` against the destination), its **ingress** entries a packet from outside its range
  to an address in it (``cidr`` against the source); ports are always the destination's. A
  packet between two subnets of the VPC meets the first's egress and the second's ingress, a
  packet between the VPC and the host or beyond (through the transit link, once a public or
  Elastic IP is DNAT'ed: private addresses, as the security groups see them) the subnet's one
  or the other; a packet between two instances of one subnet meets neither;
- an ICMP entry matches its type and code (-1: all), as EC2's do (decision 0130);
- entries are taken by rule number, the first that matches decides (allow: on to the other
  side's ACL and the security groups; deny: dropped), and a packet none matches is dropped;
- stateless: the chains run before connection tracking lets established traffic through, so a
  reply is judged as any packet is (tenants open the ephemeral ports of their replies), and a
  change applies to connections already open;
- exempt, as EC2's link-local services are: the metadata service (the instance's requests to
  169.254.169.254, DNAT'ed to the host, and their replies: known by their connection's original
  destination), and whatever is the router's own — DHCP, ARP, ICMP to a gateway — which is never
  forwarded, so never here.

Across hosts a packet may be forwarded by two routers (its sender's and its receiver's, over
VXLAN), each holding the VPC's subnets' ACLs. The verdict is a function of the packet's
addresses, protocol and port alone — no interface, no state — so judging it again on the second
host changes nothing: it passes both or is dropped by the first.

A subnet whose lowest entry lets every packet through (the default ACL) gets no chain at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from andromede.compute.driver_network import (
    AclEntry,
    SubnetAcl,
)

__all__ = ["ACL_CHAIN", "AclRules", "icmp_match", "render_network_acls"]

ACL_CHAIN = "network_acls"
_METADATA_ADDRESS = "169.254.169.254"
_EVERYWHERE = "0.0.0.0/0"


@dataclass(frozen=True, slots=True)
class AclRules:
    """A router's network ACL rules: ``forward``, the lines that start its forward chain
    (before connection tracking is consulted); ``chains``, the chains they jump to. Both
    empty when no subnet's ACL filters anything."""

    forward: tuple[str, ...] = ()
    chains: tuple[str, ...] = ()


def render_network_acls(
    acls: Mapping[str, SubnetAcl], ipv6: Mapping[str, str] | None = None
) -> AclRules:
    """The rules enforcing the network ACL of each subnet of a router (subnet CIDR → ACL);
    ``ipv6``: subnet CIDR → its IPv6 block, whose packets its IPv6 entries judge in chains of
    their own (decision 0217; an IPv4 entry judges no IPv6 packet, nor the reverse)."""
    dispatch: list[str] = []
    chains: list[str] = []
    for number, (cidr, acl) in enumerate(sorted(acls.items())):
        if not _lets_everything_through(acl.egress):
            name = f"acl_egress_{number}"
            dispatch.append(f"    ip saddr {cidr} ip daddr != {cidr} jump {name}")
            chains += _chain(name, acl.egress, "daddr")
        if not _lets_everything_through(acl.ingress):
            name = f"acl_ingress_{number}"
            dispatch.append(f"    ip daddr {cidr} ip saddr != {cidr} jump {name}")
            chains += _chain(name, acl.ingress, "saddr")
        block = (ipv6 or {}).get(cidr)
        if block and not _lets_everything_through(acl.ipv6_egress):
            name = f"acl6_egress_{number}"
            dispatch.append(f"    ip6 saddr {block} ip6 daddr != {block} jump {name}")
            chains += _chain(name, _ipv6_only(acl.ipv6_egress), "daddr")
        if block and not _lets_everything_through(acl.ipv6_ingress):
            name = f"acl6_ingress_{number}"
            dispatch.append(f"    ip6 daddr {block} ip6 saddr != {block} jump {name}")
            chains += _chain(name, _ipv6_only(acl.ipv6_ingress), "saddr")
    if not dispatch:
        return AclRules()
    entry = [
        f"  chain {ACL_CHAIN} {{",
        # The metadata service, its requests and their replies (as on EC2, never filtered).
        f"    ct original ip daddr {_METADATA_ADDRESS} return",
        *dispatch,
        "  }",
    ]
    return AclRules((f"    jump {ACL_CHAIN}",), tuple(entry + chains))


def _ipv6_only(entries: Sequence[AclEntry]) -> list[AclEntry]:
    """A subnet's IPv6 entries as nft can match them: an ``icmp`` one matches no IPv6 packet
    (ICMPv6 is another protocol, as on EC2), so it is left out."""
    return [entry for entry in entries if ":" in entry.cidr and entry.protocol != "icmp"]


def _lets_everything_through(entries: Sequence[AclEntry]) -> bool:
    ordered = sorted(entries, key=lambda entry: entry.rule_number)
    return bool(ordered) and ordered[0].allow and _matches_everything(ordered[0])


def _matches_everything(entry: AclEntry) -> bool:
    return entry.protocol == "-1" and entry.cidr in (_EVERYWHERE, "::/0")


def _chain(name: str, entries: Iterable[AclEntry], peer: str) -> list[str]:
    """One direction of one subnet: its entries in rule-number order, each allowing (back to
    the forward chain) or dropping what it matches, and the implicit deny; ``peer`` is
    ``saddr`` (ingress) or ``daddr`` (egress)."""
    lines = [f"  chain {name} {{"]
    for entry in sorted(entries, key=lambda entry: entry.rule_number):
        verdict = "return" if entry.allow else "drop"
        lines.append(f'    {_match(entry, peer)}{verdict} comment "rule {entry.rule_number}"')
        if _matches_everything(entry):
            break  # it decides every packet: what follows is never reached
    else:
        lines.append('    drop comment "no rule matched"')
    lines.append("  }")
    return lines


def _match(entry: AclEntry, peer: str) -> str:
    """The nft match of an entry (with a trailing space), empty when it matches everything."""
    if ":" in entry.cidr:  # in an IPv6 chain (decision 0217)
        parts = [] if entry.cidr == "::/0" else [f"ip6 {peer} {entry.cidr}"]
    else:
        parts = [] if entry.cidr == _EVERYWHERE else [f"ip {peer} {entry.cidr}"]
    if entry.protocol in {"tcp", "udp"}:
        if (entry.from_port, entry.to_port) == (0, 65535):
            parts.append(f"meta l4proto {entry.protocol}")
        elif entry.from_port == entry.to_port:
            parts.append(f"{entry.protocol} dport {entry.from_port}")
        else:
            parts.append(f"{entry.protocol} dport {entry.from_port}-{entry.to_port}")
    elif entry.protocol == "icmp":
        parts.append(icmp_match(entry.icmp_type, entry.icmp_code) or "meta l4proto icmp")
    return "".join(f"{part} " for part in parts)


def icmp_match(icmp_type: int, icmp_code: int) -> str:
    """The nft match of an ICMP type and code (-1: all), as a security group rule and a
    network ACL entry give them (decision 0130); empty for all types, which the caller
    matches as every ICMP packet. Numeric: nft takes every type and code, named or not."""
    if icmp_type == -1:
        return ""
    if icmp_code == -1:
        return f"icmp type {icmp_type}"
    return f"icmp type {icmp_type} icmp code {icmp_code}"
