"""The tenant networks' state file (``networks.json`` under the state directory of
:class:`~andromede.hypervisor.tenant_network.TenantNetworks`): which subnets a host built and
where, the interfaces it plugged and the addresses it gave them, the security groups, overlay
peers, subnet specs, network ACLs, NAT gateways and VPCs' DNS it holds — so a restarted agent
finds its networks again. Rewritten whole and atomically; a field a state file from an older release
lacks reads as its default.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from andromede.compute.driver_network import (
    AclEntry,
    FirewallRule,
    InstanceFirewall,
    NatRoute,
    NatSource,
    NetworkPeer,
    NetworkSpec,
    SubnetAcl,
    VpcDns,
)

__all__ = ["NetworkRecord", "NetworkState", "PluggedNic", "load_state", "save_state"]


@dataclass(frozen=True, slots=True)
class PluggedNic:
    """An instance's interface once plugged: the tap QEMU opens inside ``netns``.
    ``public_ip`` is its host-facing address, the source of its connections to the host (the
    metadata service); ``mapped``: that address is also its public one, which the host
    reaches it at (else nothing from the host reaches it); ``elastic_ip``: the Elastic IP
    routed to it, if any (state files from before Elastic IPs: none)."""

    instance_id: str
    network_id: str
    netns: str
    tap: str
    mac: str
    private_ip: str
    public_ip: str
    mapped: bool = True
    elastic_ip: str | None = None
    # Its secondary private addresses (decision 0161), behind its rules as its own address is
    # (state files from before: none).
    secondary_ips: tuple[str, ...] = ()
    # Its source/destination check (decision 0161): off, what it sends from other addresses
    # meets its egress rules (state files from before: on).
    source_dest_check: bool = True
    # The address of its own its Elastic IP is translated to, when not its primary: one of
    # its secondary addresses (decision 0161's addendum; state files from before: none).
    elastic_private_ip: str | None = None
    # Its IPv6 addresses (decision 0217), behind its rules (state files from before: none).
    ipv6_addresses: tuple[str, ...] = ()

    @property
    def elastic_target(self) -> str:
        return self.elastic_private_ip or self.private_ip

    @property
    def addresses(self) -> tuple[str, ...]:
        return (self.private_ip, *self.secondary_ips)


@dataclass(slots=True)
class NetworkRecord:
    """A subnet on this host: bridge ``br<slot>`` (and ``vxlan<slot>``) of its router's
    namespace. Every subnet of a router shares the router's transit link (``index``)."""

    network_id: str
    tenant_id: str
    cidr: str
    index: int
    vni: int = 0  # 0: no overlay (and state files from before overlays)
    # The VPC whose namespace holds the bridge; "" = the network's own (state files from
    # before VPC routing, and networks given without a VPC).
    router_id: str = ""
    slot: int = 0
    vpc_cidr: str = ""
    # Built for the subnet's instances on other hosts only, none here: removed with them.
    stub: bool = False
    # Its IPv6 /64 (decision 0217): the bridge holds its router address; "" = none (state
    # files from before: none).
    ipv6_cidr: str = ""

    @property
    def router(self) -> str:
        return self.router_id or self.network_id

    @property
    def bridge(self) -> str:
        return f"br{self.slot}"

    @property
    def vxlan(self) -> str:
        return f"vxlan{self.slot}"


@dataclass(slots=True)
class NetworkState:
    """What a host holds of its tenant networks, as its state file keeps it."""

    networks: dict[str, NetworkRecord] = field(default_factory=dict)
    nics: dict[str, PluggedNic] = field(default_factory=dict)
    firewalls: dict[str, dict[str, InstanceFirewall]] = field(default_factory=dict)
    # network id → the other hosts holding its instances (kept before the network is built).
    peers: dict[str, tuple[NetworkPeer, ...]] = field(default_factory=dict)
    # network id → the subnet as its peers were told with: how a host that holds instances of
    # its VPC but none of it builds the bridge that reaches those peers.
    specs: dict[str, NetworkSpec] = field(default_factory=dict)
    # network id → the subnet's network ACL (held before the subnet is built; state files
    # from before network ACLs: none, the default's allow-all).
    acls: dict[str, SubnetAcl] = field(default_factory=dict)
    # router (VPC) id → the NAT gateways it applies (held before the VPC is built here; state
    # files from before NAT gateways: none).
    nat: dict[str, tuple[NatRoute, ...]] = field(default_factory=dict)
    # router (VPC) id → what its resolver and DHCP servers serve (decision 0143; held before
    # the VPC is built here; state files from before: none, a spec gives it).
    dns: dict[str, VpcDns] = field(default_factory=dict)


def load_state(path: Path) -> NetworkState:
    """The state kept at ``path``; empty when there is none yet."""
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return NetworkState()
    state = NetworkState()
    for item in raw.get("networks", []):
        state.networks[item["network_id"]] = NetworkRecord(**item)
    for item in raw.get("nics", []):
        secondary = tuple(item.pop("secondary_ips", ()))
        ipv6 = tuple(item.pop("ipv6_addresses", ()))
        state.nics[item["instance_id"]] = PluggedNic(
            **item, secondary_ips=secondary, ipv6_addresses=ipv6
        )
    for network_id, peers in raw.get("peers", {}).items():
        state.peers[network_id] = tuple(
            NetworkPeer(p["address"], p["port"], tuple(p["private_ips"])) for p in peers
        )
    for network_id, spec in raw.get("specs", {}).items():
        acl = spec.pop("acl", None)
        dns = spec.pop("dns", None)
        state.specs[network_id] = NetworkSpec(
            **spec,
            acl=SubnetAcl() if acl is None else _acl_from_json(acl),
            dns=VpcDns() if dns is None else _dns_from_json(dns),
        )
    for network_id, acl in raw.get("acls", {}).items():
        state.acls[network_id] = _acl_from_json(acl)
    for router_id, routes in raw.get("nat", {}).items():
        state.nat[router_id] = tuple(_nat_route_from_json(route) for route in routes)
    for router_id, dns in raw.get("dns", {}).items():
        state.dns[router_id] = _dns_from_json(dns)
    for network_id, rules in raw.get("firewalls", {}).items():
        state.firewalls[network_id] = {
            ip: InstanceFirewall(
                ingress=tuple(FirewallRule(**r) for r in fw["ingress"]),
                egress=tuple(FirewallRule(**r) for r in fw["egress"]),
            )
            for ip, fw in rules.items()
        }
    return state


def save_state(path: Path, state: NetworkState) -> None:
    """Write ``state`` to ``path`` (its directory made 0700 when missing), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    document = {
        "networks": [asdict(record) for record in state.networks.values()],
        "nics": [asdict(nic) for nic in state.nics.values()],
        "firewalls": {
            network_id: {ip: asdict(fw) for ip, fw in rules.items()}
            for network_id, rules in state.firewalls.items()
        },
        "peers": {
            network_id: [asdict(peer) for peer in peers]
            for network_id, peers in state.peers.items()
        },
        "specs": {network_id: asdict(spec) for network_id, spec in state.specs.items()},
        "acls": {network_id: asdict(acl) for network_id, acl in state.acls.items()},
        "nat": {
            router_id: [asdict(route) for route in routes]
            for router_id, routes in state.nat.items()
        },
        "dns": {router_id: asdict(dns) for router_id, dns in state.dns.items()},
    }
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(document, indent=1))
    os.replace(temporary, path)


def _acl_from_json(document: Mapping[str, list[dict[str, object]]]) -> SubnetAcl:
    ipv6 = {
        name: tuple(AclEntry(**entry) for entry in document[name])  # type: ignore[arg-type]
        for name in ("ipv6_ingress", "ipv6_egress")
        if name in document  # state files from before decision 0217: EC2's default
    }
    return SubnetAcl(
        ingress=tuple(AclEntry(**entry) for entry in document["ingress"]),  # type: ignore[arg-type]
        egress=tuple(AclEntry(**entry) for entry in document["egress"]),  # type: ignore[arg-type]
        **ipv6,
    )


def _nat_route_from_json(document: Mapping[str, Any]) -> NatRoute:
    return NatRoute(
        nat_gateway_id=document["nat_gateway_id"],
        address=document["address"],
        sources=tuple(NatSource(**source) for source in document["sources"]),
        destinations=tuple(document["destinations"]),
        via_address=document.get("via_address", ""),
        via_port=document.get("via_port", 0),
    )


def _dns_from_json(document: Mapping[str, Any]) -> VpcDns:
    return VpcDns(
        support=bool(document.get("support", True)),
        hostnames=bool(document.get("hostnames", False)),
        domain=str(document.get("domain", "")),
        domain_name=str(document.get("domain_name", "")),
        name_servers=tuple(document.get("name_servers", ("AmazonProvidedDNS",))),
        ntp_servers=tuple(document.get("ntp_servers", ())),
        netbios_name_servers=tuple(document.get("netbios_name_servers", ())),
        netbios_node_type=int(document.get("netbios_node_type", 0)),
        peer_blocks=tuple(document.get("peer_blocks", ())),
        public_names=tuple(
            (str(name), str(address)) for name, address in document.get("public_names", ())
        ),
    )
