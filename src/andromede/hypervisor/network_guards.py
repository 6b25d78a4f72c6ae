"""The nftables rules of the tenant networks besides each router's firewall
(:mod:`~andromede.hypervisor.router_firewall`): the bridge-family filter on a router's VXLAN
ports that lets only routed IPv4 between routers cross hosts (:func:`render_overlay_filter`,
with the routers' MACs, :func:`router_mac`), and the host's guard that keeps the metadata
listeners to the tenant networks (:func:`render_metadata_guard`), with the detection of
another link prefix's guard that would drop this host's guests' metadata requests
(:func:`foreign_metadata_guards`). Pure functions: the text is loaded by
:class:`~andromede.hypervisor.tenant_network.TenantNetworks`.

Split off :mod:`~andromede.hypervisor.tenant_network` for size (STYLE §10), unchanged; callers
import from there.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from andromede.hypervisor.network_layout import NetworkLayout
from andromede.hypervisor.router_firewall import METADATA_ADDRESS

__all__ = [
    "OverlayPort",
    "foreign_metadata_guards",
    "render_metadata_guard",
    "render_overlay_filter",
    "router_mac",
]


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
    endpoint = f"ip daddr {layout.transit_cidr} tcp dport {layout.vpce_port}"
    endpoint_tls = f"ip daddr {layout.transit_cidr} tcp dport {layout.vpce_tls_port}"
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
                # The VPC endpoints' listeners likewise (decision 0160).
                f'    {endpoint} iifname "lo" return',
                f'    {endpoint} iifname != "{layout.link_prefix}t*" drop',
                *(
                    [
                        f'    {endpoint_tls} iifname "lo" return',
                        f'    {endpoint_tls} iifname != "{layout.link_prefix}t*" drop',
                    ]
                    if layout.vpce_tls_port
                    else []
                ),
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
