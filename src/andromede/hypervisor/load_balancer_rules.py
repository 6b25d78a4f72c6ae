"""A VPC router's nftables table for its Network Load Balancers (decision 0191), pure.

Each listener is its load balancer's node addresses (one per subnet, held by the router on
that subnet's bridge as a /32, so the router answers ARP for it) and a port, over TCP, UDP
or both (session 50: a TCP_UDP listener, one rule per transport). A new flow (a connection,
or a UDP flow: the datagrams of one source address and port) to one of them is DNAT'ed to
one of the listener's targets, chosen by ``numgen random`` over a map of ``address .
port`` — connection tracking keeps the rest of the flow on the target chosen. The targets
are the healthy ones, or every registered one when none is (AWS's fail-open;
:func:`andromede.loadbalancing.model.forwarding` chooses them).

The client's address is preserved, as an NLB does for instance targets: the target's own
security groups, judged in the router's forward chain after the DNAT, see it; the reply comes
back through the router even when client and target share a subnet, since a router's bridge
keeps its instances apart at layer 2 and routes every packet between them (its ports are
isolated, the bridge answers ARP for them), so connection tracking undoes the DNAT — the
"hairpin" AWS documents for client IP preservation does not arise here.

Session 49: a load balancer with security groups has a ``guard`` chain (a filter at
prerouting, before the DNAT) dropping a new connection to a listener from a source its groups'
ingress rules do not admit on the listener's port. Each node address and port has two named
counters the upkeep reads for ``AWS/NetworkELB``: ``f_…`` counts the new flows (the nat chain
sees a flow's first packet only), ``b_…`` every byte of the flows translated, both ways (a
filter at forward, matching the connection's original destination).

Session 50: a new flow's connection tracking mark is set to its node's address
(:func:`flow_mark`); a target's ingress rule on a single address — what a rule naming the
load balancer's security group becomes — also admits the flows carrying that address's mark
(:func:`translated_by`, rendered by the router's firewall), so a target admitting the load
balancer's group receives the clients' flows with their own addresses and nothing sent to it
directly. Counters are per transport too (a UDP one's kind ends in ``u``).

Decision 0210: a TLS listener is not translated: its new connections get the connection mark
:data:`TERMINATED`, which the router's ``input`` chain accepts, and the router's TLS
terminator (:mod:`andromede.hypervisor.tls_terminators`) listening on the node address answers
them; the ``guard`` chain judges them as any listener's.

The table is the router's ``ip andromede_nlb``, replaced whole on each change (``nft -f``
runs a script atomically), beside the router's own ``andromede`` tables: its chain runs just
before their DNAT (priority ``dstnat - 5``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from andromede.compute.driver_network import FirewallRule
from andromede.loadbalancing.model import ForwardingView

__all__ = [
    "TABLE",
    "TERMINATED",
    "LoadBalancerSubnet",
    "counter_name",
    "flow_mark",
    "listener_addresses",
    "parse_counter_name",
    "render_load_balancers",
    "translated_by",
]

TABLE: Final = "andromede_nlb"
# Decision 0210: the connection mark of a flow to a TLS listener, which the router's input
# chain accepts (the terminator listens in the router's namespace). No node address maps to
# it (``flow_mark`` of 0.0.0.1).
TERMINATED: Final = "0x00000001"


@dataclass(frozen=True, slots=True)
class LoadBalancerSubnet:
    """A subnet of the router's VPC: its block and the bridge link it is on."""

    cidr: str
    link: str


def _set(values: Sequence[str]) -> str:
    ordered = sorted(set(values), key=lambda v: (ipaddress.IPv4Address(v), v))
    return ordered[0] if len(ordered) == 1 else "{ " + ", ".join(ordered) + " }"


def _dnat(view: ForwardingView) -> list[str]:
    if view.terminated:
        # Decision 0210: the router's TLS terminator accepts it (decision 0216: or its HTTP
        # proxy); marked for its input chain.
        return (
            [f"    ip daddr {_set(view.addresses)} tcp dport {view.port} ct mark set {TERMINATED}"]
            if view.addresses
            else []
        )
    if not view.addresses or not view.targets:
        return []  # nothing to forward to: the node's port stays closed (a reset)
    if len(view.targets) == 1:
        address, port = view.targets[0]
        target = f"{address}:{port}"
    else:
        elements = ", ".join(f"{i} : {a} . {p}" for i, (a, p) in enumerate(view.targets))
        target = f"numgen random mod {len(view.targets)} map {{ {elements} }}"
    return [
        f"    ip daddr {_set(view.addresses)} {protocol} dport {view.port} dnat ip to {target}"
        for protocol in view.protocols
    ]


def flow_mark(address: str) -> str:
    """The connection mark of a flow a listener of the node ``address`` translated (session
    50): the address itself, as a 32-bit number, so a target's security group rule naming
    the load balancer's group — compute turns it into the node addresses — admits it."""
    return f"0x{int(ipaddress.IPv4Address(address)):08x}"


def translated_by(rule: FirewallRule) -> str | None:
    """The match, in a target's ingress rules, of the flows a load balancer's node at the
    rule's single address translated (``ct mark`` of :func:`flow_mark`); None when the rule
    names a range or ICMP (no listener forwards ICMP)."""
    network = ipaddress.ip_network(rule.cidr)
    # No node is an IPv6 address (decision 0217: IPv6 reaches within a VPC only).
    if network.version != 4 or network.prefixlen != 32 or rule.protocol == "icmp":
        return None
    return f"ct mark {flow_mark(str(network.network_address))}"


def counter_name(kind: str, address: str, port: int, protocol: str = "tcp") -> str:
    """A named counter of the table: ``f`` (new flows) or ``b`` (bytes) of a node address
    and port, a UDP one's kind ending in ``u`` (session 50)."""
    suffix = "u" if protocol == "udp" else ""
    return f"{kind}{suffix}_{address.replace('.', '_')}_{port}"


def parse_counter_name(name: str) -> tuple[str, str, int, str] | None:
    """The kind, address, port and transport a counter's name holds (None: not one of
    ours)."""
    parts = name.split("_")
    if (
        len(parts) != 6
        or parts[0] not in ("f", "b", "fu", "bu")
        or not all(p.isdigit() for p in parts[1:])
    ):
        return None
    protocol = "udp" if parts[0].endswith("u") else "tcp"
    return parts[0][0], ".".join(parts[1:5]), int(parts[5]), protocol


def _admitted(view: ForwardingView, transport: str) -> list[str]:
    """The sources the groups admit on the listener's port over ``transport``, merged (an
    anonymous set's intervals must not overlap)."""
    cidrs = [
        ipaddress.IPv4Network(cidr)
        for protocol, low, high, cidr in view.allowed or ()
        if protocol == "-1" or (protocol == transport and low <= view.port <= high)
    ]
    return [str(n) for n in ipaddress.collapse_addresses(cidrs)]


def _guard(view: ForwardingView) -> list[str]:
    if view.allowed is None or not view.addresses:
        return []  # no security groups: every client reaches the listener (AWS's NLB)
    lines = []
    for transport in view.protocols:
        match = f"    ip daddr {_set(view.addresses)} {transport} dport {view.port} ct state new"
        admitted = _admitted(view, transport)
        if "0.0.0.0/0" in admitted:
            continue
        if not admitted:
            lines.append(f"{match} drop")
        else:
            lines.append(f"{match} ip saddr != {{ {', '.join(admitted)} }} drop")
    return lines


def _counted(view: ForwardingView) -> list[tuple[str, int, str]]:
    """The (node address, port, transport) whose flows are counted: those forwarded (not
    yet a TLS listener's, which the terminator answers)."""
    if not view.targets or view.terminated:
        return []
    return [(a, view.port, p) for a in sorted(view.addresses) for p in view.protocols]


def render_load_balancers(views: Sequence[ForwardingView]) -> str:
    """The ``nft -f`` script that replaces the router's load balancer table with the
    listeners of ``views`` (its VPC's)."""
    ordered = sorted(views, key=lambda v: (v.addresses, v.port))
    dnats = [line for view in ordered for line in _dnat(view)]
    guards = [line for view in ordered for line in _guard(view)]
    counted = [key for v in ordered for key in _counted(v)]
    lines = [
        f"table ip {TABLE}",
        f"delete table ip {TABLE}",
        f"table ip {TABLE} {{",
        *(f"  counter {counter_name(k, a, p, t)} {{ }}" for a, p, t in counted for k in ("f", "b")),
        "  chain guard {",
        "    type filter hook prerouting priority dstnat - 10; policy accept;",
        *guards,
        "  }",
        "  chain prerouting {",
        "    type nat hook prerouting priority dstnat - 5; policy accept;",
        # A new flow counted, and marked with the node's address (session 50).
        *(
            f'    ip daddr {a} {t} dport {p} counter name "{counter_name("f", a, p, t)}"'
            f" ct mark set {flow_mark(a)}"
            for a, p, t in counted
        ),
        *dnats,
        "  }",
        "  chain processed {",
        "    type filter hook forward priority filter - 5; policy accept;",
        *(
            f"    ct original ip daddr {a} ct original protocol {t} ct original proto-dst {p}"
            f' counter name "{counter_name("b", a, p, t)}"'
            for a, p, t in counted
        ),
        "  }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def listener_addresses(
    views: Sequence[ForwardingView], subnets: Sequence[LoadBalancerSubnet]
) -> dict[str, list[str]]:
    """The /32 addresses the router holds on each subnet's link: every node address in
    that subnet."""
    held: dict[str, list[str]] = {s.link: [] for s in subnets}
    for view in views:
        for address in view.addresses:
            value = ipaddress.IPv4Address(address)
            for subnet in subnets:
                if value in ipaddress.IPv4Network(subnet.cidr):
                    held[subnet.link].append(address)
    return {link: sorted(set(found)) for link, found in held.items()}
