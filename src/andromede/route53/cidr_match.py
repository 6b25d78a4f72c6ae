"""The IP-based answer (decision 0353): which of a name's IP-based sets answers a querier, from
the blocks of the CIDR collection they name, and the EDNS client subnet (RFC 7871) a query
carries and its response gives back. Pure.

As Route 53 matches them: the querier's network is its EDNS client subnet when the query
carries one, else the address the query came from (a /32 or /128); a block holds it when the
network lies within the block (a client subnet shorter than a block does not match it, as
AWS documents). The location of the longest block holding it answers, else the ``*``
default set; a location whose set is unhealthy gives way to the next one, the default last;
when none of them is healthy the best of them answers (as every policy answers when all its
sets are unhealthy); when no location holds it and there is no default set the answer is
empty (NOERROR, no data).

The scope a response's client subnet carries is the length beyond which the answer cannot
change: the source prefix, never longer than AWS's longest block (/24, /48), when the answer
depended on the querier (IP-based and geoproximity sets), 0 when it did not."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import dns.edns
import dns.message

if TYPE_CHECKING:
    from andromede.route53.answers import ZoneSet

__all__ = [
    "ClientNetwork",
    "ClientSubnet",
    "choose_by_client",
    "collection_blocks",
    "query_subnet",
    "source_network",
]

ClientNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# A collection's blocks with their location, the longest first.
Blocks = Mapping[str, Sequence[tuple[ClientNetwork, str]]]
LONGEST_BLOCK: Final = {4: 24, 6: 48}  # AWS's longest blocks: the answer's scope at most


@dataclass(frozen=True)
class ClientSubnet:
    """The client subnet a query carried: its network and the option to answer with."""

    network: ClientNetwork
    option: dns.edns.ECSOption

    def answer(self, tailored: bool) -> dns.edns.ECSOption:
        """The option the response carries (RFC 7871 §7.2.1: family, source prefix and
        address as asked, the scope of the answer)."""
        source = self.option.srclen
        scope = min(source, LONGEST_BLOCK[self.network.version]) if tailored else 0
        return dns.edns.ECSOption(self.option.address, source, scope)


def query_subnet(query: dns.message.Message) -> ClientSubnet | None:
    """The EDNS client subnet of ``query``, None when it has none (or a broken one)."""
    for option in query.options:
        if isinstance(option, dns.edns.ECSOption):
            try:
                network = ipaddress.ip_network(f"{option.address}/{option.srclen}", strict=False)
            except ValueError:
                return None
            return ClientSubnet(network, option)
    return None


def source_network(source: str | None) -> ClientNetwork | None:
    """The network of one address (``source``), None when it is none."""
    if not source:
        return None
    try:
        return ipaddress.ip_network(source.split("%", 1)[0])
    except ValueError:
        return None


def collection_blocks(raw: Mapping[str, Mapping[str, Sequence[str]]]) -> Blocks:
    """The responder document's ``collections`` as blocks by collection, the longest first."""
    found: dict[str, list[tuple[ClientNetwork, str]]] = {}
    for collection, locations in raw.items():
        blocks = [
            (ipaddress.ip_network(str(block)), str(location))
            for location, held in locations.items()
            for block in held
        ]
        blocks.sort(key=lambda b: b[0].prefixlen, reverse=True)
        found[str(collection)] = blocks
    return found


def _holds(block: ClientNetwork, network: ClientNetwork) -> bool:
    if isinstance(block, ipaddress.IPv4Network) and isinstance(network, ipaddress.IPv4Network):
        return network.subnet_of(block)
    if isinstance(block, ipaddress.IPv6Network) and isinstance(network, ipaddress.IPv6Network):
        return network.subnet_of(block)
    return False


def choose_by_client(
    sets: Sequence[ZoneSet],
    healthy: Sequence[ZoneSet],
    collections: Blocks,
    network: ClientNetwork | None,
) -> list[ZoneSet]:
    """The set answering a querier of ``network`` among a name's IP-based ``sets`` (the
    rules above); none when no location holds it and there is no default set."""
    by_location: dict[str, ZoneSet] = {}
    for zone_set in sets:
        if zone_set.cidr is not None:
            by_location.setdefault(zone_set.cidr[1], zone_set)
    collection = next((s.cidr[0] for s in sets if s.cidr is not None), "")
    candidates: list[ZoneSet] = []
    if network is not None:
        for block, location in collections.get(collection, ()):
            found = by_location.get(location)
            if found is not None and found not in candidates and _holds(block, network):
                candidates.append(found)
    default = by_location.get("*")
    if default is not None:
        candidates.append(default)
    chosen = next((s for s in candidates if s in healthy), None)
    if chosen is None:
        return candidates[:1]
    return [chosen]
