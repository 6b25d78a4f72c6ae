"""The public DNS names of instances (decision 0151). Pure: the names, which instances have
one, and the zone text an operator's authoritative DNS loads.

EC2 names an instance's public IPv4 address ``ec2-203-0-113-25.<region>.compute.amazonaws.com``
while its VPC has both ``enableDnsSupport`` and ``enableDnsHostnames`` on; here the operator's
domain (``public_dns_domain``) takes the place of ``amazonaws.com``:
``ec2-203-0-113-25.<region>.compute.<public_dns_domain>``, with no name at all while it is
empty. The public address is the instance's Elastic IP, else the one its host gave it (bridge
mode); the host port forwarding to a user-mode guest is no address of the instance's and has
no name. Inside the VPC the name stands for the private address (the router's resolver,
:mod:`~andromede.hypervisor.vpc_dns`), outside for the public one (:func:`render_zone`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Final

from andromede.compute.model import Instance, InstanceState
from andromede.compute.network import Vpc

__all__ = [
    "DEFAULT_TTL",
    "PUBLIC_NAME_PREFIX",
    "named_address",
    "public_address",
    "public_dns_name",
    "public_dns_suffix",
    "render_reverse_records",
    "render_zone",
    "vpc_has_public_names",
]

PUBLIC_NAME_PREFIX: Final = "ec2-"
# A minute of caching: an Elastic IP moves, and a stopped instance's address goes back.
DEFAULT_TTL: Final = 60


def public_dns_suffix(region: str, domain: str) -> str:
    """``<region>.compute.<domain>`` (EC2's ``<region>.compute.amazonaws.com``), "" without a
    domain: then no instance has a public name."""
    return f"{region}.compute.{domain}" if domain else ""


def public_dns_name(address: str, suffix: str) -> str:
    """``ec2-a-b-c-d.<suffix>``; "" without a suffix."""
    if not suffix:
        return ""
    return f"{PUBLIC_NAME_PREFIX}{ipaddress.IPv4Address(address)}".replace(".", "-") + f".{suffix}"


def public_address(instance: Instance) -> str | None:
    """The instance's public IPv4 address: its Elastic IP, else the one its host gave it at
    its start (none while stopped); None for a terminated instance."""
    if instance.state is InstanceState.TERMINATED:
        return None
    if instance.elastic_ip is not None:
        return instance.elastic_ip.public_ip
    return instance.public_ip


def vpc_has_public_names(vpc: Vpc) -> bool:
    """EC2 names public addresses only while the VPC has DNS support and DNS hostnames on."""
    return vpc.enable_dns_support and vpc.dns_hostnames


def named_address(instance: Instance, vpc: Vpc | None, suffix: str) -> tuple[str, str] | None:
    """(public name, public address) of an instance that has a public name, else None."""
    address = public_address(instance)
    if address is None or vpc is None or not suffix or not vpc_has_public_names(vpc):
        return None
    return public_dns_name(address, suffix), address


def render_zone(
    records: Iterable[tuple[str, str]],
    suffix: str,
    *,
    ttl: int = DEFAULT_TTL,
    name_servers: Sequence[str] = (),
    serial: int = 1,
) -> str:
    """The A records of ``records`` (name, public address) in RFC 1035's master file form,
    under ``$ORIGIN <suffix>.``. Without ``name_servers``: records only, for the operator's
    zone to ``$INCLUDE`` (its SOA and NS are its own). With them: a whole zone, its SOA naming
    the first server and ``hostmaster.<suffix>``, ``serial`` its serial."""
    lines = [
        "; Public DNS names of the instances (andromede admin dns zone, decision 0151).",
        f"$ORIGIN {suffix}.",
        f"$TTL {ttl}",
    ]
    if name_servers:
        servers = [server.removesuffix(".") + "." for server in name_servers]
        # refresh, retry, expire, negative-caching TTL (RFC 1912 §2.2's orders of magnitude)
        lines.append(f"@ IN SOA {servers[0]} hostmaster.{suffix}. {serial} 3600 600 604800 {ttl}")
        lines += [f"@ IN NS {server}" for server in servers]
    for name, address in sorted(records, key=lambda r: ipaddress.IPv4Address(r[1])):
        relative = name.removesuffix(f".{suffix}")
        lines.append(f"{relative} IN A {ipaddress.IPv4Address(address)}")
    return "\n".join(lines) + "\n"


def render_reverse_records(records: Iterable[tuple[str, str]], *, ttl: int = DEFAULT_TTL) -> str:
    """The PTR records of ``records`` (name, public address), owner names absolute
    (``25.113.0.203.in-addr.arpa.``), for the reverse zones of the public blocks to
    ``$INCLUDE``."""
    lines = ["; Reverse names of the instances' public addresses (decision 0151)."]
    for name, address in sorted(records, key=lambda r: ipaddress.IPv4Address(r[1])):
        pointer = ipaddress.IPv4Address(address).reverse_pointer
        lines.append(f"{pointer}. {ttl} IN PTR {name}.")
    return "\n".join(lines) + "\n"
