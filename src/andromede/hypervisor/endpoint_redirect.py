"""A VPC router's redirection of its subnets' traffic to the object store through a VPC
gateway endpoint (decision 0160), pure: nft rule lines for
:func:`~andromede.hypervisor.router_firewall.render_firewall`.

A subnet whose route table sends the object store's prefix list to an endpoint has every TCP
connection to the store's addresses (as guests see them) DNAT'ed to the host side of the
router's transit link at ``vpce_port``, where the endpoint listener serves the S3 app
(``hypervisor/endpoint_listeners.py``): as the metadata service is reached, without a public
address or a NAT gateway — its port 443 to ``vpce_tls_port`` instead when the host has a TLS
listener (which terminates TLS with the store's certificate) —, and with the source translated
to the instance's host-facing address on the way out, by which the listener knows the instance,
hence its subnet and the endpoint. A subnet without the route keeps reaching the store the
way it did.

The sender's security groups judge such a connection by its **original** destination (decision
0160's session-47 addendum, as EC2 applies an instance's egress rules to gateway-endpoint
traffic): a base chain at the prerouting hook, ahead of the DNAT, sends every new TCP
connection to the store's addresses (and to an Interface endpoint's, whose own groups judge it
after: decision 0166) through the sender's egress chain, which returns (allowed: an egress
rule to the store's prefix list, a block holding its addresses, 0.0.0.0/0) or drops. A source
with no egress chain in the router is dropped. Once allowed, the forward chain lets it through
by its original destination (after the DNAT its destination is the host's, which no group
names). The metadata service is not judged, as on EC2.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["egress_guard", "endpoint_accepts", "endpoint_dnats"]


def _set(values: Sequence[str]) -> str:
    ordered = sorted(set(values))
    return ordered[0] if len(ordered) == 1 else "{ " + ", ".join(ordered) + " }"


def endpoint_dnats(
    endpoints: Mapping[str, Sequence[str]], *, host_transit_ip: str, port: int, tls_port: int = 0
) -> list[str]:
    """Prerouting lines: from each bridge (``endpoints``: bridge → the store's addresses) to
    the store's addresses, TCP to the endpoint listener — port 443 to the TLS listener at
    ``tls_port`` first, when there is one."""
    lines = []
    for bridge, addresses in sorted(endpoints.items()):
        if not addresses:
            continue
        match = f'    iifname "{bridge}" ip daddr {_set(addresses)}'
        if tls_port:
            lines.append(f"{match} tcp dport 443 dnat to {host_transit_ip}:{tls_port}")
        lines.append(f"{match} meta l4proto tcp dnat to {host_transit_ip}:{port}")
    return lines


def endpoint_accepts(endpoints: Mapping[str, Sequence[str]]) -> list[str]:
    """Forward lines: what was DNAT'ed above passes to the host (by its original
    destination and protocol, so nothing else to the host's address does)."""
    return [
        f'    iifname "{bridge}" ct original ip daddr {_set(addresses)}'
        " ct original protocol tcp accept"
        for bridge, addresses in sorted(endpoints.items())
        if addresses
    ]


def egress_guard(
    endpoints: Mapping[str, Sequence[str]],
    interface_addresses: Sequence[str],
    ports: str,
    senders: Sequence[str],
) -> list[str]:
    """A base chain at the prerouting hook, before the DNAT (priority -160: also before the
    Interface endpoints' ingress guard at -150): a new TCP connection from a routed bridge
    (``endpoints``: bridge → the store's addresses) to the store, or from any bridge
    (``ports``, an nft interface match) to an Interface endpoint's address
    (``interface_addresses``) on TCP 80 or 443, meets ``senders`` — one line per sender
    going to its egress chain (``goto``: the chain's ``return`` ends the check, allowed) —
    and is dropped when none is its sender. Nothing without endpoints."""
    matches = [
        f'    iifname "{bridge}" ip daddr {_set(addresses)} meta l4proto tcp'
        for bridge, addresses in sorted(endpoints.items())
        if addresses
    ]
    if interface_addresses:
        matches.append(
            f"    iifname {ports} ip daddr {_set(interface_addresses)} tcp dport {{ 80, 443 }}"
        )
    if not matches:
        return []
    return [
        "  chain endpoint_egress {",
        "    type filter hook prerouting priority -160; policy accept;",
        *(f"{match} ct state new jump endpoint_senders" for match in matches),
        "  }",
        "  chain endpoint_senders {",
        *senders,
        "    drop",
        "  }",
    ]
