"""The capture of flow log records in a VPC router's namespace (decision 0153).

The kernel counts; Python reads the counts once an interval. A table of its own,
``inet andromede_flows``, beside the router's firewall (which it does not change), holds the
private addresses of the interfaces some flow log records (``captured``) and three dynamic
sets with a counter per element, bounded by ``size``:

- ``seen``: every forwarded packet from or to a captured address, per flow (source,
  destination, protocol, ports), updated in a base chain *before* the firewall's;
- ``passed``: the same, in a base chain *after* it — only packets the network ACLs and the
  security groups let through reach it, so a flow's REJECTed packets are what ``seen`` counts
  beyond ``passed``;
- ``totals``: every packet per captured address, which no cap of the flow sets hides: when
  the flow sets are full (new flows are then not counted), the totals exceed what the flows
  account for, and the interface's record says ``SKIPDATA`` for the interval, as EC2's does.

Elements idle for ``idle_timeout`` seconds expire, so the sets hold the live flows, not every
flow ever seen. Counters are cumulative: :class:`FlowCounters` keeps the last read counts of
each namespace (as many as the sets may hold) and reports the differences, so nothing is
flushed and no packet is lost between a read and a reset. There is no per-packet work in
user space: the per-packet cost is three set updates in the kernel, for captured
interfaces only.

The TCP flags (decision 0348) are counted the same way, by packets that carry them only: for
each of EC2's four — SYN (without ACK), SYN-ACK, FIN, RST — a set per side of the firewall
(``seen_syn``… before it, ``passed_syn``… after), updated from a chain a TCP packet of a
captured address jumps to only when it has SYN, FIN or RST set (a handful a connection; the
data packets cost one comparison). A flow's record carries the flags whose counter moved in
the interval: the passed ones on its ACCEPT record, those seen beyond them on its REJECT one.
Their sets have the flow sets' bound and idle timeout, so the table holds at most eleven
times ``max_flows`` elements per address family.

IPv6 (decision 0368) is counted alike, in sets of its own (an nftables set holds one type of
address: ``captured6``, ``seen6``, ``passed6``, ``totals6``, ``seen_syn6``…), reached by the
``ip6`` addresses of the captured interfaces, so the security groups' IPv6 chains and the
ACLs' IPv6 entries (decision 0217) make a flow's ACCEPT and REJECT as the IPv4 ones do. Both
families are read in one listing of the table, into one set of records: the bound is the
router's, shared — at most ``max_flows`` flows of both together an interval (each family's
sets hold as many: the flow and flag sets hold at most 22 times ``max_flows``), those beyond
unaccounted and their interfaces' intervals ``SKIPDATA``, as for a flow the full sets did
not count. A protocol without ports (ICMP, ICMPv6: EC2's 1 and 58) is keyed with ports 0 in
the kernel: the first bytes of its header (type, code, checksum) differ packet to packet, and
would have made an element of each packet.

A flow's ``start`` is the previous read's time and its ``end`` this one's: the interval in
which its packets were counted.

A NAT gateway's interface (decision 0176) has no tap: it is captured in the router that
translates to the gateway's address, by two more sets per gateway counting its connections
after the source NAT and before it is undone (:func:`nat_rules`), each written as EC2 writes
a NAT gateway's records, the private and the public side (:func:`_nat_records`).
"""

from __future__ import annotations

import ipaddress
import json
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from andromede.compute.flow_log_files import FlowKey, FlowRecord
from andromede.hypervisor.netns_commands import NetworkCommandError, _run
from andromede.hypervisor.router_firewall import METADATA_ADDRESS

__all__ = ["FLOW_TABLE", "FlowCounters", "FlowReport", "render_flow_table"]

FLOW_TABLE: Final = "andromede_flows"
# Protocols whose transport header starts with ports; for the others (ICMP, ICMPv6…) the
# first bytes are something else (an ICMP packet's type, code and checksum, which differs
# packet to packet): their flows are keyed with ports 0, as EC2 reports them.
_PORTED: Final = frozenset({6, 17, 132})
_PORTED_MATCH: Final = "meta l4proto { tcp, udp, sctp }"
_UNPORTED_MATCH: Final = "meta l4proto != { tcp, udp, sctp }"


@dataclass(frozen=True, slots=True)
class _Family:
    """What the table says of one address family: its sets are apart (an nftables set holds
    one type of address), named with ``suffix``."""

    suffix: str
    address: str  # the set type of an address
    match: str  # the packet's addresses in a rule (``ip``, ``ip6``)

    def key(self, ported: bool) -> str:
        ports = "th sport . th dport" if ported else "0 . 0"
        return f"{self.match} saddr . {self.match} daddr . meta l4proto . {ports}"

    @property
    def flow_type(self) -> str:
        return f"{self.address} . {self.address} . inet_proto . inet_service . inet_service"

    def named(self, name: str) -> str:
        return f"{name}{self.suffix}"


_IPV4: Final = _Family("", "ipv4_addr", "ip")
_IPV6: Final = _Family("6", "ipv6_addr", "ip6")
_FAMILIES: Final = (_IPV4, _IPV6)

# EC2 does not log an instance's traffic with the metadata service (nor DHCP and the VPC's
# resolver, which the router answers itself, off the forward hook): its connections, DNAT'ed
# to the host, are left out by their original destination.
_NOT_LOGGED: Final = f"    ct original ip daddr {METADATA_ADDRESS} return\n"

# A NAT gateway's connection (decision 0176), in its gateway's sets: the instance's
# address, the internet host's, the protocol, the instance's port and the host's.
_NAT_OUT_KEY: Final = "ct original ip saddr . ip daddr . meta l4proto . th sport . th dport"
_NAT_IN_KEY: Final = "ct original ip saddr . ip saddr . meta l4proto . th dport . th sport"

Flow = tuple[str, str, int, int, int]
Counts = tuple[int, int]

# EC2's ``tcp-flags`` bits (decision 0348), each with the match of the packets that carry it.
_FLAG_CLASSES: Final = (
    ("syn", "tcp flags & (syn|ack) == syn", 2),
    ("synack", "tcp flags & (syn|ack) == syn|ack", 18),
    ("fin", "tcp flags & fin == fin", 1),
    ("rst", "tcp flags & rst == rst", 4),
)
_SIDES: Final = ("seen", "passed")
_FLAG_SETS: Final = tuple(f"{side}_{name}" for side in _SIDES for name, _, _ in _FLAG_CLASSES)
# Only TCP packets with one of the flags EC2 reports jump to the flag chains.
_FLAGGED: Final = "meta l4proto tcp tcp flags & (fin|syn|rst) != 0"


def _count_chain(side: str, family: _Family) -> str:
    """The chain a packet of a captured address of ``family`` jumps to on ``side`` of the
    firewall: its flow counted (ports 0 for a protocol without them), its TCP flags too."""
    flow = family.named(side)
    flags = "".join(
        f"    {match} update @{family.named(f'{side}_{name}')} {{ {family.key(True)} }}\n"
        for name, match, _ in _FLAG_CLASSES
    )
    return (
        f"  chain {family.named(side)}_flows {{\n"
        f"    {_PORTED_MATCH} update @{flow} {{ {family.key(True)} }}\n"
        f"    {_UNPORTED_MATCH} update @{flow} {{ {family.key(False)} }}\n"
        f"    {_FLAGGED} jump {family.named(side)}_flags\n"
        "  }\n"
        f"  chain {family.named(side)}_flags {{\n{flags}  }}\n"
    )


def _hook_chain(name: str, side: str, priority: str) -> str:
    """A base chain on the forward hook, before (``seen``) or after (``passed``) the
    router's firewall, sending each packet of a captured address to its family's count
    chain once, though both ends be captured; ``seen`` counts every packet per captured
    address too (``totals``)."""
    rules = [_NOT_LOGGED]
    for family in _FAMILIES:
        m, captured = family.match, f"@{family.named('captured')}"
        if side == "seen":
            totals = family.named("totals")
            rules.append(f"    {m} saddr {captured} update @{totals} {{ {m} saddr }}\n")
            rules.append(f"    {m} daddr {captured} update @{totals} {{ {m} daddr }}\n")
        chain = f"{family.named(side)}_flows"
        rules.append(f"    {m} saddr {captured} jump {chain}\n")
        rules.append(f"    {m} daddr {captured} {m} saddr != {captured} jump {chain}\n")
    return (
        f"  chain {name} {{\n"
        f"    type filter hook forward priority {priority}; policy accept;\n"
        f"{''.join(rules)}"
        "  }\n"
    )


def _family_of(address: str) -> _Family:
    return _IPV6 if ":" in address else _IPV4


def render_flow_table(
    captured: Collection[str],
    max_flows: int,
    idle_timeout: int,
    gateways: Collection[str] = (),
) -> str:
    """The namespace's flow table, replaced whole by one ``nft -f`` (the counts restart).
    ``captured``: the interfaces' addresses, IPv4 and IPv6; ``gateways``: the Elastic IPs
    of the NAT gateways whose interfaces are captured here (decision 0176;
    :func:`nat_rules`)."""
    sets: list[str] = []
    for family in _FAMILIES:
        mine = sorted(a for a in captured if _family_of(a) is family)
        body = f"    elements = {{ {', '.join(mine)} }}\n" if mine else ""
        sets.append(
            f"  set {family.named('captured')} {{\n    type {family.address};\n{body}  }}\n"
        )
        counted = [
            (family.named("seen"), family.flow_type, max_flows),
            (family.named("passed"), family.flow_type, max_flows),
            (family.named("totals"), family.address, max(len(mine), 1)),
            *((family.named(name), family.flow_type, max_flows) for name in _FLAG_SETS),
        ]
        if family is _IPV4:
            counted += [
                (f"nat_{way}_{n}", family.flow_type, max_flows)
                for n in range(len(gateways))
                for way in ("out", "in")
            ]
        sets += [
            f"  set {name} {{\n    type {kind}; flags dynamic,timeout; timeout {idle_timeout}s;"
            f" size {size}; counter;\n  }}\n"
            for name, kind, size in counted
        ]
    chains = [
        _hook_chain("before", "seen", "filter - 10"),
        _hook_chain("after", "passed", "filter + 10"),
    ]
    chains += [_count_chain(side, family) for side in _SIDES for family in _FAMILIES]
    return (
        f"table inet {FLOW_TABLE}\n"
        f"delete table inet {FLOW_TABLE}\n"
        f"table inet {FLOW_TABLE} {{\n"
        f"{''.join(sets)}"
        f"{''.join(chains)}"
        f"{nat_rules(gateways)}"
        "}\n"
    )


def nat_rules(gateways: Collection[str]) -> str:
    """The chains counting what the NAT gateways translated here carry (decision 0176), per
    gateway (its sets numbered in address order: nftables keys hold five fields at most) and
    per connection (instance, internet host, protocol, instance's port, host's port): what
    leaves, after its source NAT (``srcnat + 10``: its source is the gateway's address, the
    instance's is conntrack's original), and the replies, before they are translated back
    (``mangle``, ahead of ``dstnat``). Both have passed the router's firewall or are replies
    of what did: ACCEPT."""
    if not gateways:
        return ""
    leaving, replies = [], []
    for n, address in enumerate(sorted(gateways)):
        leaving.append(f"    ip saddr {address} update @nat_out_{n} {{ {_NAT_OUT_KEY} }}\n")
        replies.append(
            f"    ip daddr {address} ct direction reply update @nat_in_{n} {{ {_NAT_IN_KEY} }}\n"
        )
    return (
        "  chain nat_leaving {\n"
        "    type filter hook postrouting priority srcnat + 10; policy accept;\n"
        f"{''.join(leaving)}"
        "  }\n"
        "  chain nat_replies {\n"
        "    type filter hook prerouting priority mangle; policy accept;\n"
        f"{''.join(replies)}"
        "  }\n"
    )


def _counted_sets(listing: str, names: Collection[str]) -> dict[str, dict[Any, Counts]]:
    """The elements of the sets ``names`` of ``nft -j list table`` with their counters."""
    found: dict[str, dict[Any, Counts]] = {name: {} for name in names}
    for item in json.loads(listing).get("nftables", []):
        found_set = item.get("set", {}) if isinstance(item, dict) else {}
        if found_set.get("name") in found:
            found[found_set["name"]] = _elements(found_set.get("elem", []))
    return found


def _read(
    listing: str, gateways: int
) -> tuple[dict[str, dict[Any, Counts]], dict[str, dict[Any, Counts]]]:
    """The counts of ``nft -j list table``: the flows seen and passed and the totals, each
    family's sets in one mapping (their keys, addresses of one family, never meet), the NAT
    gateways' sets by name; and the TCP flags' sets, by the IPv4 sets' names likewise."""
    names = [
        family.named(name)
        for family in _FAMILIES
        for name in ("seen", "passed", "totals", *_FLAG_SETS)
    ]
    names += [f"nat_{way}_{n}" for n in range(gateways) for way in ("out", "in")]
    found = _counted_sets(listing, names)
    merged = {
        name: {**found[name], **found[_IPV6.named(name)]}
        for name in ("seen", "passed", "totals", *_FLAG_SETS)
    }
    read = {name: merged[name] for name in ("seen", "passed", "totals")}
    read.update({n: found[n] for n in names if n.startswith("nat_")})
    return read, {name: merged[name] for name in _FLAG_SETS}


def _elements(elements: list[Any]) -> dict[Any, Counts]:
    found: dict[Any, Counts] = {}
    for element in elements:
        inner = element.get("elem", element) if isinstance(element, dict) else element
        if not isinstance(inner, dict):
            continue
        value, counter = inner.get("val"), inner.get("counter") or {}
        key = tuple(value["concat"]) if isinstance(value, dict) else value
        found[_normal(key)] = (int(counter.get("packets", 0)), int(counter.get("bytes", 0)))
    return found


def _normal(key: Any) -> Any:
    """A flow as (source, destination, protocol number, ports); an address as itself."""
    if not isinstance(key, tuple):
        return str(key)
    source, destination, protocol, sport, dport = key
    number = _protocol(protocol)
    if number not in _PORTED:
        sport = dport = 0
    return (str(source), str(destination), number, int(sport), int(dport))


# nftables' names of the protocols (``ipv6-icmp``: ICMPv6, EC2's protocol 58).
_PROTOCOL_NUMBERS: Final = {"icmp": 1, "tcp": 6, "udp": 17, "ipv6-icmp": 58, "sctp": 132}


def _protocol(value: Any) -> int:
    if isinstance(value, int):
        return value
    return _PROTOCOL_NUMBERS.get(str(value), 0)


@dataclass(frozen=True, slots=True)
class FlowReport:
    """One interval of one namespace: the flow records, and the interfaces whose flows the
    caps hid (the seconds they span)."""

    records: list[FlowRecord]
    skipped: dict[str, tuple[int, int]]


@dataclass(slots=True)
class _Last:
    when: int
    seen: dict[Any, Counts] = field(default_factory=dict)
    passed: dict[Any, Counts] = field(default_factory=dict)
    totals: dict[Any, Counts] = field(default_factory=dict)
    nat_out: dict[Any, Counts] = field(default_factory=dict)
    nat_in: dict[Any, Counts] = field(default_factory=dict)
    flags: dict[str, dict[Any, Counts]] = field(default_factory=dict)


# A captured NAT gateway (decision 0176): its interface's id and private address.
Gateway = tuple[str, str]


def _delta(now: Mapping[Any, Counts], before: Mapping[Any, Counts], key: Any) -> Counts:
    packets, size = now.get(key, (0, 0))
    old_packets, old_size = before.get(key, (0, 0))
    if packets < old_packets:  # expired and made again since: all of it is new
        return packets, size
    return packets - old_packets, size - old_size


class FlowCounters:
    """The flow tables of a host's routers and the counts last read from each."""

    def __init__(
        self, max_flows: int, idle_timeout: int = 1200, clock: Callable[[], float] = time.time
    ) -> None:
        self._max_flows = max_flows
        self._idle_timeout = idle_timeout
        self._clock = clock
        self._last: dict[str, _Last] = {}
        self._captured: dict[str, dict[str, str]] = {}
        self._gateways: dict[str, dict[str, Gateway]] = {}

    def namespaces(self) -> list[str]:
        """The namespaces whose flows are counted now."""
        return sorted(self._captured)

    async def capture(
        self,
        netns: str,
        interfaces: Mapping[str, str],
        gateways: Mapping[str, Gateway] | None = None,
    ) -> None:
        """Record the flows of ``interfaces`` (each private IPv4 address and IPv6 address →
        its interface's id) in ``netns``, and of the NAT gateways translated there
        (``gateways``: Elastic IP → their interface's id and private address); none: remove
        the namespace's flow table. Unchanged addresses keep their counts."""
        gateways = dict(gateways or {})
        # As the kernel writes them back (an IPv6 address compressed), so the records' keys
        # find their interface.
        interfaces = {str(ipaddress.ip_address(a)): i for a, i in interfaces.items()}
        if (
            self._captured.get(netns, {}) == dict(interfaces)
            and self._gateways.get(netns, {}) == gateways
            and netns in self._last
        ):
            return
        if not interfaces and not gateways:
            await self.forget(netns)
            return
        table = render_flow_table(interfaces, self._max_flows, self._idle_timeout, gateways)
        await _run("ip", "netns", "exec", netns, "nft", "-f", "-", stdin=table)
        self._captured[netns] = dict(interfaces)
        self._gateways[netns] = gateways
        self._last[netns] = _Last(int(self._clock()))

    async def forget(self, netns: str) -> None:
        self._captured.pop(netns, None)
        self._gateways.pop(netns, None)
        self._last.pop(netns, None)
        await _run(
            "ip", "netns", "exec", netns, "nft", "delete", "table", "inet", FLOW_TABLE,
            check=False,
        )  # fmt: skip

    async def collect(self, netns: str) -> FlowReport:
        """What ``netns`` counted since the last collection."""
        interfaces = self._captured.get(netns)
        gateways = self._gateways.get(netns, {})
        last = self._last.get(netns)
        if interfaces is None or last is None:
            return FlowReport([], {})
        now = int(self._clock())
        try:
            listing = await self._list_table(netns)
        except NetworkCommandError:
            # The router was removed (its last instance here left): nothing more to count.
            self._captured.pop(netns, None)
            self._gateways.pop(netns, None)
            self._last.pop(netns, None)
            return FlowReport([], {})
        read, flags = _read(listing, len(gateways))
        for way in ("out", "in"):
            read[f"nat_{way}"] = {
                (address, *flow): counts
                for n, address in enumerate(sorted(gateways))
                for flow, counts in read.pop(f"nat_{way}_{n}").items()
            }
        report = self._report(interfaces, last, read, now, flags, self._max_flows)
        report.records.extend(_nat_records(gateways, last, read, now))
        self._last[netns] = _Last(
            now,
            read["seen"],
            read["passed"],
            read["totals"],
            read["nat_out"],
            read["nat_in"],
            flags,
        )
        return report

    @staticmethod
    async def _list_table(netns: str) -> str:
        return await _run(
            "ip", "netns", "exec", netns, "nft", "-j", "list", "table", "inet", FLOW_TABLE
        )  # fmt: skip

    @staticmethod
    def _report(
        interfaces: Mapping[str, str],
        last: _Last,
        read: Mapping[str, dict[Any, Counts]],
        now: int,
        flags: Mapping[str, dict[Any, Counts]],
        max_flows: int,
    ) -> FlowReport:
        """The interval's records: at most ``max_flows`` flows of both families together
        (each family's sets hold as many: the bound is the router's, not the family's), the
        packets of those beyond left unaccounted, so their interfaces' intervals are
        ``SKIPDATA`` as for a flow the full sets did not count."""
        start = min(last.when, now)
        records: list[FlowRecord] = []
        accounted: dict[str, int] = {}
        held = 0
        for flow in read["seen"]:
            seen = _delta(read["seen"], last.seen, flow)
            if seen[0] <= 0 or held >= max_flows:
                continue
            held += 1
            passed = _delta(read["passed"], last.passed, flow) if flow in read["passed"] else (0, 0)
            rejected = (max(seen[0] - passed[0], 0), max(seen[1] - passed[1], 0))
            tcp_flags = _tcp_flags(flow, last.flags, flags)
            source, destination, protocol, sport, dport = flow
            for address in dict.fromkeys((source, destination)):
                interface_id = interfaces.get(address)
                if interface_id is None:
                    continue
                accounted[address] = accounted.get(address, 0) + seen[0]
                for action, (packets, size) in (("ACCEPT", passed), ("REJECT", rejected)):
                    if packets > 0:
                        key = FlowKey(
                            interface_id, source, destination, sport, dport, protocol, action
                        )
                        records.append(
                            FlowRecord(key, packets, size, start, now, tcp_flags[action])
                        )
        skipped: dict[str, tuple[int, int]] = {}
        for address, interface_id in interfaces.items():
            total = _delta(read["totals"], last.totals, address)[0]
            if total > accounted.get(address, 0):
                skipped[interface_id] = (start, now)
        return FlowReport(records, skipped)


def _tcp_flags(
    flow: Any, before: Mapping[str, dict[Any, Counts]], now: Mapping[str, dict[Any, Counts]]
) -> dict[str, int]:
    """EC2's ``tcp-flags`` of a flow's ACCEPT and REJECT records for the interval: the flags
    of its packets that passed the firewall, and of those it dropped (seen beyond passed)."""
    found = {"ACCEPT": 0, "REJECT": 0}
    for name, _, bit in _FLAG_CLASSES:
        seen = _delta(now.get(f"seen_{name}", {}), before.get(f"seen_{name}", {}), flow)[0]
        passed = _delta(now.get(f"passed_{name}", {}), before.get(f"passed_{name}", {}), flow)[0]
        if passed > 0:
            found["ACCEPT"] |= bit
        if seen > passed:
            found["REJECT"] |= bit
    return found


def _nat_records(
    gateways: Mapping[str, Gateway],
    last: _Last,
    read: Mapping[str, dict[Any, Counts]],
    now: int,
) -> list[FlowRecord]:
    """The records of NAT gateways' interfaces, as EC2 writes them (decision 0176): a
    connection's packets out are two records — instance to the interface's private address
    (the packet's destination, the internet host, as ``pkt-dstaddr``), then that address to
    the host — and its replies two — host to the private address, then it to the instance
    (``pkt-srcaddr`` the host)."""
    start = min(last.when, now)
    records: list[FlowRecord] = []
    for name, previous in (("nat_out", last.nat_out), ("nat_in", last.nat_in)):
        for connection in read[name]:
            address, instance, host, protocol, port, host_port = connection
            gateway = gateways.get(address)
            packets, size = _delta(read[name], previous, connection)
            if gateway is None or packets <= 0:
                continue
            interface_id, private = gateway
            if name == "nat_out":
                keys = [
                    FlowKey(interface_id, instance, private, port, host_port, protocol, "ACCEPT",
                            pkt_dstaddr=host),
                    FlowKey(interface_id, private, host, port, host_port, protocol, "ACCEPT"),
                ]  # fmt: skip
            else:
                keys = [
                    FlowKey(interface_id, host, private, host_port, port, protocol, "ACCEPT"),
                    FlowKey(interface_id, private, instance, host_port, port, protocol, "ACCEPT",
                            pkt_srcaddr=host),
                ]  # fmt: skip
            records += [FlowRecord(key, packets, size, start, now) for key in keys]
    return records
