"""The bytes a VPC router counts for billing (decision 0176): internet egress per private
address, and bytes each NAT gateway translated here processes.

The kernel counts; the agent reads the counts once a pass. A table of its own in every
router's namespace, ``ip andromede_meters``, beside the firewall (which it does not change),
with three dynamic sets holding a counter per element:

- ``egress``, per source address: what leaves through the router's transit link, once the
  firewall let it (a base chain at ``filter + 20`` of the forward hook: a packet the firewall
  dropped never reaches it), to an address *outside* ``platform`` — the host's transit and
  public ranges, the Elastic IPs' block and the operator's own ranges (the object store's
  endpoint, the operator's LAN). That is "the internet": an instance reaching the object
  store, the metadata service or another VPC's public address is not billed as data transfer
  out (the metadata service and VPC endpoints are DNAT'ed to the host's transit address
  before the forward hook; peering leaves through its own links, not the transit link). What
  an instance sends through a NAT gateway translated here counts too, under its own private
  address: its data leaves for the internet as any other.
- ``nat_out``, per NAT gateway address: what leaves translated to it, counted in the
  postrouting hook *after* the source NAT (``srcnat + 10``), where the packet carries the
  gateway's address;
- ``nat_in``, likewise: the replies arriving for it, counted in the prerouting hook *before*
  they are translated back (``mangle``, ahead of ``dstnat``) and only as replies of tracked
  connections — what arrives unasked is dropped, not processed. Billed with ``nat_out`` as the
  gateway's bytes processed; reported apart too (``nat-gateway-in``) for the gateway's
  ``AWS/NATGateway`` metrics, which tell the directions apart (decision 0181).

The table is declared whole at every apply of the router's rules (appended to its ruleset, so
one ``nft -f`` makes both): its sets and chains are declared (made once, left as they are
after), its chains flushed and refilled and its two sets of ranges (``platform``,
``gateways``) refilled, so the counters survive every rule change. They are lost only when
the table is: a router rebuilt (its namespace made again, a host rebooted).

**No double counting across rebuilds or agent restarts**: the counts are cumulative and the
agent reports differences from its previous read, kept in a file of its own with the table's
kernel handle (its generation: a table made again gets a new handle). A read of a table with
another handle than the one kept starts from zero — all it counted is new. The file is
written before the report is returned, so a restart never reports a count twice (at worst, a
pass lost between the write and the gateway's receipt is not billed).
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from andromede.compute.traffic import INTERNET_OUT, NAT_GATEWAY, NAT_GATEWAY_IN, TrafficCount
from andromede.hypervisor.netns_commands import NetworkCommandError, _run

__all__ = ["METER_TABLE", "TrafficMeters", "render_meter_table"]

METER_TABLE: Final = "andromede_meters"
# A VPC's block is at most a /16: every address of it fits, and nothing ever expires.
_ADDRESSES: Final = 65536
_GATEWAYS: Final = 256


def render_meter_table(
    *, transit: str, platform: Collection[str], gateways: Collection[str]
) -> str:
    """The router's meter table, declared so that applying it again keeps its counters.
    ``transit``: the router's end of its transit link; ``platform``: the ranges that are not
    the internet; ``gateways``: the NAT gateway addresses translated here."""
    table = f"ip {METER_TABLE}"
    lines = [
        f"table {table} {{",
        "  set platform { type ipv4_addr; flags interval; auto-merge; }",
        "  set gateways { type ipv4_addr; }",
        f"  set egress {{ type ipv4_addr; size {_ADDRESSES}; flags dynamic; counter; }}",
        f"  set nat_out {{ type ipv4_addr; size {_GATEWAYS}; flags dynamic; counter; }}",
        f"  set nat_in {{ type ipv4_addr; size {_GATEWAYS}; flags dynamic; counter; }}",
        "  chain forward { type filter hook forward priority filter + 20; policy accept; }",
        "  chain outbound { type filter hook postrouting priority srcnat + 10; policy accept; }",
        "  chain inbound { type filter hook prerouting priority mangle; policy accept; }",
        "}",
        f"flush chain {table} forward",
        f"flush chain {table} outbound",
        f"flush chain {table} inbound",
        f"flush set {table} platform",
        f"flush set {table} gateways",
        f'add rule {table} forward oifname "{transit}" ip daddr != @platform'
        " update @egress { ip saddr }",
        f'add rule {table} outbound oifname "{transit}" ip saddr @gateways'
        " update @nat_out { ip saddr }",
        f'add rule {table} inbound iifname "{transit}" ip daddr @gateways'
        " ct state established,related update @nat_in { ip daddr }",
    ]
    if platform:
        lines.append(f"add element {table} platform {{ {', '.join(sorted(platform))} }}")
    if gateways:
        lines.append(f"add element {table} gateways {{ {', '.join(sorted(gateways))} }}")
    return "\n".join(lines) + "\n"


def _read(listing: str) -> tuple[int, dict[str, int]]:
    """The table's handle and each counted element's bytes (``<set> <address>``), from
    ``nft -j list table``."""
    handle = 0
    counted: dict[str, int] = {}
    for item in json.loads(listing).get("nftables", []):
        if not isinstance(item, dict):
            continue
        if "table" in item:
            handle = int(item["table"].get("handle", 0))
        found = item.get("set", {})
        if found.get("name") not in {"egress", "nat_out", "nat_in"}:
            continue
        for element in found.get("elem", []):
            inner = element.get("elem", element) if isinstance(element, dict) else element
            if isinstance(inner, dict):
                bytes_ = int((inner.get("counter") or {}).get("bytes", 0))
                counted[f"{found['name']} {inner.get('val')}"] = bytes_
    return handle, counted


class TrafficMeters:
    """The meter tables of a host's routers and the counts last read from each, kept in
    ``path`` across restarts of the agent."""

    def __init__(self, path: Path) -> None:
        self._path = path
        try:
            loaded = json.loads(path.read_text())
        except (OSError, ValueError):
            loaded = {}
        self._last: dict[str, dict[str, Any]] = loaded if isinstance(loaded, dict) else {}

    async def collect(
        self, routers: Mapping[str, str], gateways: Mapping[str, Mapping[str, str]]
    ) -> list[TrafficCount]:
        """What each router (router id → namespace) counted since the previous read;
        ``gateways``: router id → the addresses it translates → their NAT gateways' ids. A
        router without a table (being built, removed) reports nothing."""
        counts: list[TrafficCount] = []
        kept: dict[str, dict[str, Any]] = {}
        for router, netns in sorted(routers.items()):
            try:
                listing = await _run(
                    "ip", "netns", "exec", netns, "nft", "-j", "list", "table", "ip", METER_TABLE
                )  # fmt: skip
            except NetworkCommandError:
                continue
            handle, now = _read(listing)
            last = self._last.get(router, {})
            before: dict[str, int] = last.get("counts", {}) if last.get("handle") == handle else {}
            kept[router] = {"handle": handle, "counts": now}
            counts += _differences(router, now, before, gateways.get(router, {}))
        self._last = kept
        self._save()
        return counts

    def _save(self) -> None:
        self._path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = self._path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self._last, sort_keys=True))
        os.replace(temporary, self._path)


def _differences(
    router: str, now: Mapping[str, int], before: Mapping[str, int], gateways: Mapping[str, str]
) -> Sequence[TrafficCount]:
    per_gateway: dict[str, int] = {}
    inbound: dict[str, int] = {}  # the replies' part, for the gateway's metrics (0181)
    counts: list[TrafficCount] = []
    for key, total in sorted(now.items()):
        delta = total - before.get(key, 0)
        if delta < 0:  # cannot shrink in one table; should it, all of it is new
            delta = total
        if delta <= 0:
            continue
        name, address = key.split(" ", 1)
        if name == "egress":
            counts.append(TrafficCount(INTERNET_OUT, router, address, delta))
        elif address in gateways:
            gateway = gateways[address]
            per_gateway[gateway] = per_gateway.get(gateway, 0) + delta
            if name == "nat_in":
                inbound[gateway] = inbound.get(gateway, 0) + delta
    counts += [TrafficCount(NAT_GATEWAY, router, g, n) for g, n in sorted(per_gateway.items())]
    counts += [TrafficCount(NAT_GATEWAY_IN, router, g, n) for g, n in sorted(inbound.items())]
    return counts
