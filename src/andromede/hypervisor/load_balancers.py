"""Network Load Balancers on a host's VPC routers (decision 0191): the listeners of each VPC
whose router is built here, applied to that router — its ``andromede_nlb`` table
(:func:`~andromede.hypervisor.load_balancer_rules.render_load_balancers`) and the node
addresses held as /32s on their subnets' bridges — and the namespace the health checker
probes a VPC's targets from.

Every host with the VPC's router applies the same listeners, so a client's connection is
translated by the router of its own host and reaches a target on another host over the
subnet's VXLAN as any routed packet. What was applied last is remembered, so a listener, a
node address or a whole VPC's table no longer wanted is taken away.

A router with listeners has ``br_netfilter``'s calls of the IP hooks for bridged frames off
(``net.bridge.bridge-nf-call-iptables``, per namespace), where the module is loaded: with them
on, a client's connection DNAT'ed to a target of the client's own subnet is taken for a
bridged frame ("bridged DNAT") and sent at layer 2 between two isolated ports, which the
bridge drops. The routers' bridges bridge nothing between instances (their ports are
isolated, the bridge answers ARP), so nothing else goes through those calls.

Session 49: a router's table is replaced only when its script changed, since replacing it
starts its counters again; before a replacement the counters are read and carried over, so
:meth:`RouterLoadBalancers.counters` only grows (a flow counted between that read and the
replacement is lost: the metrics are best effort, as AWS's).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Final

from andromede.hypervisor.load_balancer_rules import (
    TABLE,
    LoadBalancerSubnet,
    listener_addresses,
    parse_counter_name,
    render_load_balancers,
)
from andromede.hypervisor.netns_commands import _in_netns, _run
from andromede.hypervisor.tenant_network import TenantNetworks
from andromede.loadbalancing.model import ForwardingView

__all__ = ["CounterKey", "RouterLoadBalancers", "tracked_flows"]

# (VPC, node address, port, transport): what a listener's counters and flows are kept by.
CounterKey = tuple[str, str, int, str]


class RouterLoadBalancers:
    """The load balancers of the routers of one host's tenant networks."""

    def __init__(self, networks: TenantNetworks) -> None:
        self._networks = networks
        # VPC → bridge → the node addresses held there, as applied last.
        self._held: dict[str, dict[str, list[str]]] = {}
        # VPC → the script applied last, and the counts of tables it replaced.
        self._scripts: dict[str, str] = {}
        self._carried: dict[CounterKey, tuple[int, int]] = {}
        # What the listeners applied last listen on, for the active flows (not TLS ones).
        self._listening: set[CounterKey] = set()

    def namespace_of(self, vpc_id: str) -> str | None:
        """The namespace of the VPC's router when it is built here (None: not here)."""
        if not self._networks.router_bridges(vpc_id):
            return None
        return self._networks.netns(vpc_id)

    async def apply(self, views: Sequence[ForwardingView]) -> None:
        """Make every router here forward its VPC's listeners of ``views``, and only them."""
        by_vpc: dict[str, list[ForwardingView]] = {}
        for view in views:
            by_vpc.setdefault(view.vpc_id, []).append(view)
        for vpc_id in sorted(set(by_vpc) | set(self._held)):
            namespace = self.namespace_of(vpc_id)
            if namespace is None:
                self._held.pop(vpc_id, None)  # its router went, and everything in it
                self._listening = {k for k in self._listening if k[0] != vpc_id}
                continue
            await self._apply_router(vpc_id, namespace, by_vpc.get(vpc_id, []))

    async def _apply_router(
        self, vpc_id: str, namespace: str, views: Sequence[ForwardingView]
    ) -> None:
        subnets = [
            LoadBalancerSubnet(cidr, bridge)
            for cidr, bridge in self._networks.router_bridges(vpc_id)
        ]
        wanted = listener_addresses(views, subnets)
        before = self._held.get(vpc_id, {})
        for bridge, addresses in wanted.items():
            for address in addresses:
                if address not in before.get(bridge, []):
                    await _run(
                        "ip", "-n", namespace, "addr", "replace", f"{address}/32", "dev", bridge
                    )  # fmt: skip
        for bridge, addresses in before.items():
            for address in addresses:
                if address not in wanted.get(bridge, []):
                    await _run(
                        "ip", "-n", namespace, "addr", "del", f"{address}/32", "dev", bridge,
                        check=False,
                    )  # fmt: skip
        if views:
            await _in_netns(namespace, _no_bridged_ip_hooks)
            script = render_load_balancers(views)
        else:
            script = f"table ip {TABLE}\ndelete table ip {TABLE}\n"
        # A table gone (its router rebuilt) reads None: applied again.
        present = await self._read(vpc_id, namespace) if vpc_id in self._scripts else None
        if self._scripts.get(vpc_id) != script or present is None:
            if present:  # the counts so far, before the table starts again
                for key, value in present.items():
                    held = self._carried.get(key, (0, 0))
                    self._carried[key] = (held[0] + value[0], held[1] + value[1])
            await _run("ip", "netns", "exec", namespace, "nft", "-f", "-", stdin=script)
            self._scripts[vpc_id] = script
        # A TLS listener's connections are its terminator's to count (decision 0210): not
        # the routers' TCP flows.
        listening = {
            (vpc_id, a, v.port, p)
            for v in views
            if not v.terminated
            for a in v.addresses
            for p in v.protocols
        }
        self._listening = {k for k in self._listening if k[0] != vpc_id} | listening
        for key in [k for k in self._carried if k[0] == vpc_id and k not in listening]:
            del self._carried[key]  # a listener gone: its counts with it
        if views:  # its table stays until a later apply finds no listener left
            self._held[vpc_id] = {b: a for b, a in wanted.items() if a}
        else:
            self._held.pop(vpc_id, None)
            self._scripts.pop(vpc_id, None)

    async def counters(self) -> dict[CounterKey, tuple[int, int]]:
        """(VPC, node address, port, transport) → the new flows and bytes its routers here
        counted, since this object applied its first table (session 49's ``AWS/NetworkELB``;
        session 50: per transport)."""
        found = dict(self._carried)
        for vpc_id in sorted(self._scripts):
            namespace = self.namespace_of(vpc_id)
            if namespace is None:
                continue
            for key, value in (await self._read(vpc_id, namespace) or {}).items():
                held = found.get(key, (0, 0))
                found[key] = (held[0] + value[0], held[1] + value[1])
        return found

    async def active_flows(self) -> dict[CounterKey, int]:
        """(VPC, node address, port, transport) → the flows its routers here track now
        (session 50's ``ActiveFlowCount``), every listener of a router here named (0: none):
        their connection tracking tables' entries whose original destination is a
        listener's, a TCP one neither closed nor waiting out its ``TIME_WAIT``."""
        found: dict[CounterKey, int] = {}
        for vpc_id in sorted(self._scripts):
            namespace = self.namespace_of(vpc_id)
            if namespace is None:
                continue
            found.update(dict.fromkeys((k for k in self._listening if k[0] == vpc_id), 0))
            counted = await _in_netns(namespace, _tracked_here)
            for (address, port, protocol), count in counted.items():
                key = (vpc_id, address, port, protocol)
                if key in self._listening:
                    found[key] = found.get(key, 0) + count
        return found

    async def _read(self, vpc_id: str, namespace: str) -> dict[CounterKey, tuple[int, int]] | None:
        """The table's counters by (VPC, address, port); None when it has no table."""
        listed = await _run(
            "ip", "netns", "exec", namespace, "nft", "-j", "list", "counters", "table", "ip",
            TABLE, check=False,
        )  # fmt: skip
        read: dict[CounterKey, tuple[int, int]] = {}
        try:
            entries = json.loads(listed).get("nftables", [])
        except ValueError:
            return None  # no table: nft said so on its error output, nothing on this one
        for entry in entries:
            counter = entry.get("counter") if isinstance(entry, dict) else None
            parsed = parse_counter_name(str(counter.get("name", ""))) if counter else None
            if counter is None or parsed is None:
                continue
            kind, address, port, protocol = parsed
            flows, processed = read.get((vpc_id, address, port, protocol), (0, 0))
            if kind == "f":
                flows += int(counter.get("packets", 0))
            else:
                processed += int(counter.get("bytes", 0))
            read[(vpc_id, address, port, protocol)] = (flows, processed)
        return read


_BRIDGE_NF = "/proc/sys/net/bridge/bridge-nf-call-iptables"


def _no_bridged_ip_hooks() -> None:
    """Run in the router's namespace: br_netfilter's IP hook calls off, when it is loaded."""
    try:
        with open(_BRIDGE_NF, "w") as entry:
            entry.write("0")
    except FileNotFoundError:
        return  # br_netfilter is not loaded: bridged frames meet no IP hook anyway


# The TCP states of a flow no longer carrying data (closed, or its last packets awaited).
_ENDED: Final = ("TIME_WAIT", "CLOSE")


def _tracked_here() -> dict[tuple[str, int, str], int]:
    """Run in the router's namespace: :func:`tracked_flows` of its connection tracking table,
    read line by line as the kernel lists it (this thread's namespace's: ``/proc/net`` would
    be the process's), so a large table is never held whole."""
    try:
        with open("/proc/thread-self/net/nf_conntrack") as table:
            return tracked_flows(table)
    except FileNotFoundError:
        return {}  # a kernel without the table's procfs view: no active flows read


def tracked_flows(table: Iterable[str]) -> dict[tuple[str, int, str], int]:
    """(original destination address, port, transport) → the tracked TCP and UDP flows of
    ``table`` (``/proc/net/nf_conntrack``'s lines: the original tuple's ``dst=`` and
    ``dport=`` come first), a TCP one closed or in ``TIME_WAIT`` left out."""
    counts: dict[tuple[str, int, str], int] = {}
    for line in table:
        fields = line.split()
        if len(fields) < 6 or fields[2] not in ("tcp", "udp"):
            continue
        if fields[2] == "tcp" and fields[5] in _ENDED:
            continue
        found: dict[str, str] = {}
        for field in fields:
            name, _, value = field.partition("=")
            if name in ("dst", "dport") and name not in found:
                found[name] = value
        if "dst" in found and found.get("dport", "").isdigit():
            key = (found["dst"], int(found["dport"]), fields[2])
            counts[key] = counts.get(key, 0) + 1
    return counts
