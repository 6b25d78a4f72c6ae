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
from collections.abc import Sequence

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

__all__ = ["RouterLoadBalancers"]


class RouterLoadBalancers:
    """The load balancers of the routers of one host's tenant networks."""

    def __init__(self, networks: TenantNetworks) -> None:
        self._networks = networks
        # VPC → bridge → the node addresses held there, as applied last.
        self._held: dict[str, dict[str, list[str]]] = {}
        # VPC → the script applied last, and the counts of tables it replaced.
        self._scripts: dict[str, str] = {}
        self._carried: dict[tuple[str, str, int], tuple[int, int]] = {}

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
        listening = {(vpc_id, a, v.port) for v in views for a in v.addresses}
        for key in [k for k in self._carried if k[0] == vpc_id and k not in listening]:
            del self._carried[key]  # a listener gone: its counts with it
        if views:  # its table stays until a later apply finds no listener left
            self._held[vpc_id] = {b: a for b, a in wanted.items() if a}
        else:
            self._held.pop(vpc_id, None)
            self._scripts.pop(vpc_id, None)

    async def counters(self) -> dict[tuple[str, str, int], tuple[int, int]]:
        """(VPC, node address, port) → the new flows and bytes its routers here counted,
        since this object applied its first table (session 49's ``AWS/NetworkELB``)."""
        found = dict(self._carried)
        for vpc_id in sorted(self._scripts):
            namespace = self.namespace_of(vpc_id)
            if namespace is None:
                continue
            for key, value in (await self._read(vpc_id, namespace) or {}).items():
                held = found.get(key, (0, 0))
                found[key] = (held[0] + value[0], held[1] + value[1])
        return found

    async def _read(
        self, vpc_id: str, namespace: str
    ) -> dict[tuple[str, str, int], tuple[int, int]] | None:
        """The table's counters by (VPC, address, port); None when it has no table."""
        listed = await _run(
            "ip", "netns", "exec", namespace, "nft", "-j", "list", "counters", "table", "ip",
            TABLE, check=False,
        )  # fmt: skip
        read: dict[tuple[str, str, int], tuple[int, int]] = {}
        try:
            entries = json.loads(listed).get("nftables", [])
        except ValueError:
            return None  # no table: nft said so on its error output, nothing on this one
        for entry in entries:
            counter = entry.get("counter") if isinstance(entry, dict) else None
            parsed = parse_counter_name(str(counter.get("name", ""))) if counter else None
            if counter is None or parsed is None:
                continue
            kind, address, port = parsed
            flows, processed = read.get((vpc_id, address, port), (0, 0))
            if kind == "f":
                flows += int(counter.get("packets", 0))
            else:
                processed += int(counter.get("bytes", 0))
            read[(vpc_id, address, port)] = (flows, processed)
        return read


_BRIDGE_NF = "/proc/sys/net/bridge/bridge-nf-call-iptables"


def _no_bridged_ip_hooks() -> None:
    """Run in the router's namespace: br_netfilter's IP hook calls off, when it is loaded."""
    try:
        with open(_BRIDGE_NF, "w") as entry:
            entry.write("0")
    except FileNotFoundError:
        return  # br_netfilter is not loaded: bridged frames meet no IP hook anyway
