"""VPC peering connections across hosts (decision 0139's addendum): the connection's own VXLAN
segment joining one router per host.

One host (:mod:`~andromede.hypervisor.peering_links`) joins the two VPCs' routers by a veth
pair. When a side's instances run on another host too, the connection gets a segment of its
own: a VXLAN device ``pcx<8 hex of the id>v`` (VXLAN id ``PeeringLink.vni``, UDP port the
host's overlay port plus :data:`PORT_OFFSET`, so its ids never meet the subnets' on a socket)
in one router of each host holding either side — the *lead*: the requester's router where it
is built here, else the accepter's. Each host's lead routes every instance of the *other*
side that runs on another host (``ip route <address>/32 dev pcx…v``) to that host's lead on
the segment: a permanent neighbour at its MAC (:func:`segment_mac`, computed alike on every
host) and one forwarding entry per host, as the subnets' overlay does (decision 0024) — no
ARP, flooding nor learning crosses hosts.

So a packet from a (VPC A, host 1) to b (VPC B, host 2) is routed by host 1's A router onto
the segment, arrives in host 2's router holding b (B's, or A's when both are there, which hands
it to B's over their link), and meets b's ingress chain there; the reply takes the way back.
Each router sees both directions of what it forwards, so connection tracking holds:

- a router lets out onto its segment only what its own instances send once their egress rules
  returned (:func:`~andromede.hypervisor.peering_links.forward_rules` names the segment as an
  end), and whatever comes in on it reaches only a local instance's ingress chain or, in a lead
  holding its peer here too, the link to that peer's router (:func:`transit_rules`);
- a lead holding its peer here takes, from the link, what the peer's instances send to its own
  VPC's instances on other hosts (the reply's way, and a connection the peer opens), onto its
  VPC's overlay — the destination's ingress rules apply on its host.

Nothing of a third VPC crosses: a segment routes one connection's two blocks, a router lets
in from it only towards its own instances or its peer of that connection, and only from its
link of that same connection towards its own VPC's instances elsewhere.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from andromede.compute.driver_network import (
    NetworkPeer,
    PeeringLink,
)
from andromede.hypervisor.netns_commands import NetworkCommandError
from andromede.hypervisor.peering_links import link_name

__all__ = [
    "PORT_OFFSET",
    "Segment",
    "apply_segments",
    "is_segment",
    "segment_mac",
    "segment_name",
    "segments_here",
    "transit_rules",
]

Run = Callable[..., Awaitable[str]]

# The facade's logger name, as the other parts of the tenant networks log under.
log = logging.getLogger("andromede.hypervisor.tenant_network")

# The segments' UDP port is the host's overlay port plus this: a connection's VXLAN id is
# drawn from the same 24 bits as the subnets', and two devices of one id on one port of a
# host clash; on ports of their own they never do.
PORT_OFFSET: Final = 1


def segment_name(peering_id: str) -> str:
    """The segment's device in a router: 12 characters, within the kernel's 15."""
    return link_name(peering_id, "v")


def is_segment(name: str) -> bool:
    """Whether a link of a router's namespace is a peering segment's device."""
    return len(name) == 12 and name.startswith("pcx") and name.endswith("v")


def segment_mac(peering_id: str, address: str, port: int) -> str:
    """The MAC of the segment's device on the host whose overlay endpoint is ``address:port``
    (its subnets' port): locally administered, unicast, the same whichever host computes it
    (as the subnets' router MACs: ``network_guards.router_mac``)."""
    digest = hashlib.sha256(f"andromede-pcx:{peering_id}:{address}:{port}".encode()).digest()
    return ":".join(f"{octet:02x}" for octet in (0x02, *digest[:5]))


@dataclass(frozen=True, slots=True)
class Segment:
    """A connection's segment as one host holds it: in ``router`` (the lead), the device
    ``name``, its VXLAN id, this router's end of the link to the peer's router when that is
    here too (``end``, else ""), each of the other side's instances elsewhere with its host's
    segment MAC (``routes``), and each such host's MAC with its endpoint (``hosts``: the
    segment's address and port)."""

    router: str
    name: str
    vni: int
    mac: str
    end: str
    routes: tuple[tuple[str, str], ...]
    hosts: tuple[tuple[str, str, int], ...]


def segments_here(
    links: Sequence[PeeringLink], routers: Collection[str], me: tuple[str, int]
) -> list[Segment]:
    """The segments of the links told whose lead router is built here (``routers``), for a
    host whose overlay endpoint is ``me`` (none: ``("", 0)``, and no segment)."""
    if not me[0]:
        return []
    segments: list[Segment] = []
    for link in sorted(links, key=lambda link: link.peering_id):
        if not link.vni or not (link.requester_peers or link.accepter_peers):
            continue
        if link.requester_vpc_id in routers:
            lead, others = link.requester_vpc_id, link.accepter_peers
            end = link_name(link.peering_id, "a") if link.accepter_vpc_id in routers else ""
        elif link.accepter_vpc_id in routers:
            lead, others, end = link.accepter_vpc_id, link.requester_peers, ""
        else:
            continue
        routes, hosts = _routes(link.peering_id, others, me)
        segments.append(
            Segment(
                lead,
                segment_name(link.peering_id),
                link.vni,
                segment_mac(link.peering_id, *me),
                end,
                routes,
                hosts,
            )
        )
    return segments


def _routes(
    peering_id: str, peers: Sequence[NetworkPeer], me: tuple[str, int]
) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str, int], ...]]:
    routes: dict[str, str] = {}
    hosts: dict[str, tuple[str, int]] = {}
    for peer in peers:
        if (peer.address, peer.port) == me:
            continue  # this host's own instances are reached here, never over the segment
        mac = segment_mac(peering_id, peer.address, peer.port)
        hosts[mac] = (peer.address, peer.port + PORT_OFFSET)
        routes.update(dict.fromkeys(peer.private_ips, mac))
    return (
        tuple(sorted(routes.items())),
        tuple((mac, address, port) for mac, (address, port) in sorted(hosts.items())),
    )


def transit_rules(segments: Sequence[Segment], remote: Collection[str]) -> list[str]:
    """A lead router's forward-chain rules for what crosses it between its segment and its
    link to the peer's router here (placed after every instance's jumps): from the segment
    to the peer's router; from that link to its own VPC's instances on other hosts
    (``remote``), whose ingress their hosts apply."""
    lines: list[str] = []
    for segment in segments:
        if not segment.end:
            continue
        lines.append(f'    iifname "{segment.name}" oifname "{segment.end}" accept')
        if remote:
            lines.append(
                f'    iifname "{segment.end}" ip daddr {{ {", ".join(sorted(remote))} }} accept'
            )
    return lines


async def apply_segments(
    run: Run,
    netns: Callable[[str], str],
    wanted: Sequence[Segment],
    present: Mapping[str, Collection[str]],
    *,
    underlay: tuple[str, int],
    underlay_netns: str,
    staging: Callable[[int], str],
    mtu: int,
) -> list[Segment]:
    """Make the ``wanted`` segments' devices missing from their routers (``present``: router
    → the segment devices its namespace holds now), each created on the underlay (its socket
    lives there) then moved in; point each at the other hosts and route the other side's
    instances onto it, taking away what is no longer told; delete the devices no longer
    wanted (their routes and neighbours go with them). Returns the segments in force: one
    that cannot be made is logged and left out (the next push tries it again)."""
    keep = {(segment.router, segment.name) for segment in wanted}
    for router, names in sorted(present.items()):
        for name in sorted(names):
            if (router, name) not in keep:
                await run("ip", "-n", netns(router), "link", "del", name, check=False)
    ip = ["ip", "-n", underlay_netns] if underlay_netns else ["ip"]
    made: list[Segment] = []
    for segment in wanted:
        try:
            await _make(run, netns(segment.router), segment, present, ip, underlay, staging, mtu)
        except NetworkCommandError:
            # One segment that cannot be made (its VXLAN id already another connection's on
            # this host) must not keep the others, nor the one-host links, from this push.
            log.warning("VPC peering segment %s (VXLAN id %d) not made", segment.name, segment.vni,
                        exc_info=True)  # fmt: skip
            continue
        made.append(segment)
    return made


async def _make(
    run: Run,
    ns: str,
    segment: Segment,
    present: Mapping[str, Collection[str]],
    ip: list[str],
    underlay: tuple[str, int],
    staging: Callable[[int], str],
    mtu: int,
) -> None:
    """One segment's device made (on the underlay, then moved in) when missing, set up, and
    pointed at the other hosts."""
    if segment.name not in present.get(segment.router, ()):
        temporary = staging(segment.vni)
        await run(*ip, "link", "del", temporary, check=False)
        await run(
            *ip, "link", "add", temporary, "type", "vxlan", "id", str(segment.vni),
            "local", underlay[0], "dstport", str(underlay[1] + PORT_OFFSET), "nolearning",
        )  # fmt: skip
        try:
            await run(*ip, "link", "set", temporary, "netns", ns)
            await run("ip", "-n", ns, "link", "set", temporary, "name", segment.name)
        except NetworkCommandError:
            await run(*ip, "link", "del", temporary, check=False)
            await run("ip", "-n", ns, "link", "del", temporary, check=False)
            raise
    await run(
        "ip", "-n", ns, "link", "set", segment.name, "address", segment.mac,
        "mtu", str(mtu), "up",
    )  # fmt: skip
    await run(
        "ip", "netns", "exec", ns, "sysctl", "-q", "-w",
        f"net.ipv4.conf.{segment.name}.rp_filter=0",
    )  # fmt: skip
    await _sync(run, ns, segment)


async def _sync(run: Run, ns: str, segment: Segment) -> None:
    """The segment's forwarding entries, neighbours and routes as told: stale ones deleted,
    the others replaced."""
    in_ns = ["ip", "netns", "exec", ns]
    hosts = {mac: (address, port) for mac, address, port in segment.hosts}
    listed = await run(*in_ns, "bridge", "fdb", "show", "dev", segment.name)
    for line in listed.splitlines():
        fields = line.split()
        if "dst" in fields:
            mac, dst = fields[0], fields[fields.index("dst") + 1]
            if hosts.get(mac, ("",))[0] != dst:
                await run(
                    *in_ns, "bridge", "fdb", "del", mac, "dev", segment.name, "dst", dst,
                    check=False,
                )  # fmt: skip
    for mac, (address, port) in sorted(hosts.items()):
        await run(
            *in_ns, "bridge", "fdb", "replace", mac, "dev", segment.name,
            "dst", address, "port", str(port), "self", "permanent",
        )  # fmt: skip
    routes = dict(segment.routes)
    commands: list[str] = []
    listed = await run("ip", "-n", ns, "-j", "route", "show", "dev", segment.name)
    shown = json.loads(listed or "[]")
    for route in shown:
        destination = str(route.get("dst", "")).removesuffix("/32")
        if destination not in routes:
            commands.append(f"route del {route.get('dst')} dev {segment.name}")
    neighbours = await run("ip", "-n", ns, "neigh", "show", "dev", segment.name, "nud", "permanent")
    for line in neighbours.splitlines():
        fields = line.split()
        if fields and routes.get(fields[0]) != (fields[2] if len(fields) > 2 else None):
            commands.append(f"neigh del {fields[0]} dev {segment.name}")
    for address, mac in sorted(routes.items()):
        commands += [
            f"neigh replace {address} lladdr {mac} dev {segment.name} nud permanent",
            f"route replace {address}/32 dev {segment.name}",
        ]
    if commands:
        await run("ip", "-n", ns, "-force", "-batch", "-", stdin="\n".join(commands) + "\n")
