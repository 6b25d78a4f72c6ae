"""Network bytes a host's routers count for billing (decision 0176), pure: what a host reports
(:class:`TrafficCount`) and what the control plane makes of it (:func:`attribute`).

A host reports, per VPC router, the bytes each private address sent to the internet
(``internet-out``: out through the router's transit link to an address outside the platform's
own ranges) and the bytes each NAT gateway it translates for processed, both directions
(``nat-gateway``). The control plane gives each count to its owner: an address to the network
interface of the router's VPC holding it (its instance's tenant), a gateway to its record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

__all__ = ["INTERNET_OUT", "NAT_GATEWAY", "TrafficCount", "attribute"]

INTERNET_OUT: Final = "internet-out"
NAT_GATEWAY: Final = "nat-gateway"


@dataclass(frozen=True, slots=True)
class TrafficCount:
    """Bytes counted by a router since the host's previous report: ``kind``
    :data:`INTERNET_OUT` (``subject`` a private address of the router's VPC, ``router_id``)
    or :data:`NAT_GATEWAY` (``subject`` the gateway's id)."""

    kind: str
    router_id: str
    subject: str
    bytes: int


def attribute(
    counts: Iterable[TrafficCount],
    addresses: Mapping[tuple[str, str], str],
    gateways: Mapping[str, str],
) -> dict[tuple[str, str], int]:
    """Bytes per (tenant, kind). ``addresses``: (router id, private address) → tenant of the
    interface holding it; ``gateways``: NAT gateway id → tenant. A count nobody holds now (an
    interface deleted since, an address reused across VPCs cannot be: the router is the VPC)
    is dropped: no tenant to bill."""
    billed: dict[tuple[str, str], int] = {}
    for count in counts:
        if count.bytes <= 0:
            continue
        if count.kind == NAT_GATEWAY:
            tenant = gateways.get(count.subject)
        elif count.kind == INTERNET_OUT:
            tenant = addresses.get((count.router_id, count.subject))
        else:
            tenant = None
        if tenant is not None:
            key = (tenant, count.kind)
            billed[key] = billed.get(key, 0) + count.bytes
    return billed
