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
hence its subnet and the endpoint. The forward chain lets such a connection through whatever
the instance's security groups say (as the metadata service's): its destination after the DNAT
is the host's, which no group names; a subnet without the route keeps reaching the store the
way it did.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["endpoint_accepts", "endpoint_dnats"]


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
