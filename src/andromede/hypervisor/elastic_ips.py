"""Elastic IPs on a host: which addresses a host may route to an instance, and the host's guard
on the uplink that announces them.

An Elastic IP is an address of a pool the operator routes to the hypervisors (or that a host
announces on its uplink by proxy ARP, ``NetworkLayout.elastic_ip_uplink``). A host routes each
one it holds as a ``/32`` over the transit link of the instance's router, whose namespace NATs
it 1:1 to the instance's private address (``tenant_network.render_firewall``). Here: the
checks an address passes before a host routes it (:func:`check_elastic_ip`), and the host's
rule that keeps its uplink to those addresses (:func:`render_uplink_guard`): forwarding is on
for the uplink once it announces an address, and without the guard a neighbour on its segment
could reach the instances' host-only public addresses through the host.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Mapping

from andromede.hypervisor.errors import AddressRefused

__all__ = ["check_elastic_ip", "render_uplink_guard", "uplink_guard_table"]


def check_elastic_ip(
    address: str,
    instance_id: str,
    *,
    host_ranges: Collection[str],
    host_addresses: Collection[str] = (),
    held: Mapping[str, str],
) -> str:
    """``address`` as the host routes it (dotted quad), or :class:`AddressRefused`: not an IPv4
    unicast address, inside one of ``host_ranges`` (the transit and public ranges), one of
    ``host_addresses`` (the underlay's), or held by another instance (``held``: Elastic IP →
    the instance that holds it on this host)."""
    try:
        parsed = ipaddress.IPv4Address(address)
    except ValueError:
        raise AddressRefused(f"Elastic IP {address!r} is not an IPv4 address") from None
    if (
        parsed.is_unspecified
        or parsed.is_loopback
        or parsed.is_multicast
        or parsed.is_link_local  # 169.254.0.0/16: the metadata address among them
        or parsed.is_reserved
    ):
        raise AddressRefused(f"Elastic IP {parsed} is not a unicast address a host can route")
    for cidr in host_ranges:
        if parsed in ipaddress.IPv4Network(cidr):
            raise AddressRefused(f"Elastic IP {parsed} is in the host's own range {cidr}")
    if str(parsed) in host_addresses:
        raise AddressRefused(f"Elastic IP {parsed} is an address of the host")
    holder = held.get(str(parsed))
    if holder is not None and holder != instance_id:
        raise AddressRefused(f"Elastic IP {parsed} is routed to {holder} on this host already")
    return str(parsed)


def uplink_guard_table(link_prefix: str) -> str:
    return f"andromede_eip_{link_prefix}"


def render_uplink_guard(uplink: str, link_prefix: str, addresses: Collection[str]) -> str:
    """The host's table (one per link prefix) that lets what arrives on the uplink into a
    tenant network's transit link (``<prefix>t*``) through only towards an Elastic IP the host
    holds, or as a reply of a connection the instance opened: the public addresses stay
    host-only. What the host forwards elsewhere is not this table's business."""
    table = uplink_guard_table(link_prefix)
    match = f'iifname "{uplink}" oifname "{link_prefix}t*"'
    elements = ", ".join(sorted(addresses))
    return (
        "\n".join(
            [
                f"table inet {table}",
                f"delete table inet {table}",
                f"table inet {table} {{",
                "  set elastic {",
                "    type ipv4_addr",
                *([f"    elements = {{ {elements} }}"] if addresses else []),
                "  }",
                "  chain forward {",
                "    type filter hook forward priority filter; policy accept;",
                f"    {match} ct state established,related accept",
                f"    {match} ip daddr != @elastic drop",
                "  }",
                "}",
            ]
        )
        + "\n"
    )
