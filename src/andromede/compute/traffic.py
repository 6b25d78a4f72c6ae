"""Network bytes a host's routers count for billing (decision 0176), pure: what a host reports
(:class:`TrafficCount`) and what the control plane makes of it (:func:`attribute`).

A host reports, per VPC router, the bytes each private address sent to the internet
(``internet-out``: out through the router's transit link to an address outside the platform's
own ranges) and the bytes each NAT gateway it translates for processed, both directions
(``nat-gateway``). The control plane gives each count to its owner: an address to the network
interface of the router's VPC holding it (its instance's tenant), a gateway to its record.

Decision 0181: a host also reports, apart, the part of a gateway's bytes that came *in* from
the destinations (``nat-gateway-in``, the replies), which the gateway's CloudWatch metrics
need (:func:`per_gateway`) and billing ignores (the ``nat-gateway`` count already holds it). A
kind of its own rather than a field, so that a gateway of the release before, which refuses
unknown fields on the wire, reads a newer agent's answer and drops the kind it does not know.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

__all__ = [
    "INTERNET_OUT",
    "NAT_GATEWAY",
    "NAT_GATEWAY_IN",
    "GatewayBytes",
    "TrafficCount",
    "attribute",
    "per_gateway",
]

INTERNET_OUT: Final = "internet-out"
NAT_GATEWAY: Final = "nat-gateway"
NAT_GATEWAY_IN: Final = "nat-gateway-in"


@dataclass(frozen=True, slots=True)
class TrafficCount:
    """Bytes counted by a router since the host's previous report: ``kind``
    :data:`INTERNET_OUT` (``subject`` a private address of the router's VPC, ``router_id``)
    or :data:`NAT_GATEWAY` (``subject`` the gateway's id), and :data:`NAT_GATEWAY_IN` (the
    part of the latter that came in from the destinations)."""

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


@dataclass(frozen=True, slots=True)
class GatewayBytes:
    """A NAT gateway's bytes of a pass: sent on to the destinations (``out``: what its
    sources sent it) and received back from them (``back``: what it sends its sources)."""

    out: int = 0
    back: int = 0


def per_gateway(
    counts: Iterable[TrafficCount], gateways: Mapping[str, str]
) -> dict[tuple[str, str], GatewayBytes]:
    """Each NAT gateway's bytes per (tenant, gateway id); ``gateways``: id → tenant. A host
    older than the inbound count reports none: its bytes all count as sent out."""
    total: dict[str, int] = {}
    back: dict[str, int] = {}
    for count in counts:
        if count.bytes > 0 and count.kind == NAT_GATEWAY:
            total[count.subject] = total.get(count.subject, 0) + count.bytes
        elif count.bytes > 0 and count.kind == NAT_GATEWAY_IN:
            back[count.subject] = back.get(count.subject, 0) + count.bytes
    found: dict[tuple[str, str], GatewayBytes] = {}
    for gateway, processed in sorted(total.items()):
        tenant = gateways.get(gateway)
        if tenant is not None:
            inbound = min(back.get(gateway, 0), processed)
            found[(tenant, gateway)] = GatewayBytes(processed - inbound, inbound)
    return found
