"""A DHCP options set's record and EC2's rules for it, pure (decision 0143).

A **DHCP options set** (``dopt-…``) says what the DHCP servers of a VPC's subnets hand out:
``domain-name`` (option 15), ``domain-name-servers`` (6; ``AmazonProvidedDNS`` is the VPC's
own resolver), ``ntp-servers`` (42), ``netbios-name-servers`` (44) and ``netbios-node-type``
(46). A set never changes once made (EC2 has no ModifyDhcpOptions); a VPC is associated with
one set, or with none (AssociateDhcpOptions ``default``).

Each account has a **default set**, as on EC2: the Region's domain and ``AmazonProvidedDNS``,
the one every VPC is associated with when made. Its id is derived from the tenant's (like the
default VPC's, decision 0021), and it is stored on first need. A VPC record says which set
it has by :attr:`~andromede.compute.network.Vpc.dhcp_options_id`: ``default`` (every record
written before this decision, and every new VPC) stands for the account's default set, ""
for none — which EC2 shows as ``default`` — and anything else is a set's id.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from andromede.compute.errors import InvalidParameterValue
from andromede.compute.model import FORMAT_VERSION, Tags

__all__ = [
    "ACCOUNT_DEFAULT",
    "AMAZON_PROVIDED_DNS",
    "KEYS",
    "NO_OPTIONS",
    "DhcpOptions",
    "check_configurations",
    "default_dhcp_options",
    "default_dhcp_options_id",
    "shown_options_id",
]

AMAZON_PROVIDED_DNS: Final = "AmazonProvidedDNS"
# What a VPC record's ``dhcp_options_id`` holds for the account's default set, and for none.
ACCOUNT_DEFAULT: Final = "default"
NO_OPTIONS: Final = ""
# EC2's keys, in the order it lists them.
KEYS: Final = (
    "domain-name",
    "domain-name-servers",
    "ntp-servers",
    "netbios-name-servers",
    "netbios-node-type",
    "ipv6-address-preferred-lease-time",
)
_MAX_SERVERS: Final = 4  # EC2: up to four name, NTP or NetBIOS servers
_NODE_TYPES: Final = ("1", "2", "4", "8")
_DOMAIN_MAX: Final = 255
_DOMAIN = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$")
# EC2's bounds for the DHCPv6 preferred lease time (seconds): 140 to 2,147,483,647.
_LEASE_TIME = (140, 2_147_483_647)

Configurations = tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True, slots=True)
class DhcpOptions:
    dhcp_options_id: str
    tenant_id: str
    # (key, values) in EC2's key order; values in the order given.
    configurations: Configurations
    tags: Tags = ()
    format_version: int = FORMAT_VERSION
    revision: int = 0

    @property
    def resource_id(self) -> str:
        return self.dhcp_options_id

    def values(self, key: str) -> tuple[str, ...]:
        return next((values for k, values in self.configurations if k == key), ())


def default_dhcp_options_id(tenant_id: str) -> str:
    """The id of the tenant's default set: the same on every gateway, at every call."""
    digest = hashlib.sha256(f"andromede-default-dopt:{tenant_id}".encode()).hexdigest()
    return f"dopt-{digest[:17]}"


def shown_options_id(stored: str, tenant_id: str) -> str:
    """What EC2 says of a VPC's set (``dhcpOptionsId``) from what its record holds: the
    set's id, the account's default set's, or ``default`` for none."""
    if stored == ACCOUNT_DEFAULT:
        return default_dhcp_options_id(tenant_id)
    return stored or "default"


def default_dhcp_options(tenant_id: str, domain: str) -> DhcpOptions:
    """EC2's default set: the Region's domain and the Amazon-provided resolver."""
    return DhcpOptions(
        default_dhcp_options_id(tenant_id),
        tenant_id,
        (("domain-name", (domain,)), ("domain-name-servers", (AMAZON_PROVIDED_DNS,))),
    )


def check_configurations(given: Sequence[tuple[str, Sequence[str]]]) -> Configurations:
    """EC2's checks of CreateDhcpOptions' ``DhcpConfiguration.N``: known keys, each once, with
    values; at most four servers of each kind, IPv4 addresses or ``AmazonProvidedDNS``; one
    node type of 1, 2, 4 or 8; domain names a DNS name each (several, space-separated, as
    EC2 takes them). Returns them in EC2's key order."""
    if not given:
        raise InvalidParameterValue("The request must contain the parameter DhcpConfiguration")
    found: dict[str, tuple[str, ...]] = {}
    for key, raw in given:
        if key not in KEYS:
            raise InvalidParameterValue(
                f"Value ({key[:64]}) for parameter key is invalid. Unknown key"
            )
        if key in found:
            raise InvalidParameterValue(f"Duplicate DHCP configuration key: {key}")
        values = tuple(v.strip() for v in raw)
        if not values or any(not v for v in values):
            raise InvalidParameterValue(f"Value for parameter {key} is empty")
        found[key] = _checked(key, values)
    return tuple((key, found[key]) for key in KEYS if key in found)


def _checked(key: str, values: tuple[str, ...]) -> tuple[str, ...]:
    if key == "domain-name":
        if len(values) > 1:
            raise InvalidParameterValue("domain-name takes a single value")
        names = values[0].split()
        if len(values[0]) > _DOMAIN_MAX or not all(_DOMAIN.match(n) for n in names):
            raise InvalidParameterValue(f"Invalid domain name: {values[0][:64]}")
        return values
    if key == "netbios-node-type":
        if len(values) > 1 or values[0] not in _NODE_TYPES:
            raise InvalidParameterValue(
                f"Value ({','.join(values)[:32]}) for parameter netbios-node-type is invalid."
                " Valid values are 1, 2, 4 and 8"
            )
        return values
    if key == "ipv6-address-preferred-lease-time":
        low, high = _LEASE_TIME
        if len(values) > 1 or not values[0].isdigit() or not low <= int(values[0]) <= high:
            raise InvalidParameterValue(
                f"Value ({values[0][:32]}) for parameter ipv6-address-preferred-lease-time is"
                f" invalid. It must be between {low} and {high} seconds"
            )
        return values
    if len(values) > _MAX_SERVERS:
        raise InvalidParameterValue(f"Too many values for {key}: at most {_MAX_SERVERS}")
    for value in values:
        if key == "domain-name-servers" and value == AMAZON_PROVIDED_DNS:
            continue
        try:
            ipaddress.IPv4Address(value)
        except ValueError:
            raise InvalidParameterValue(
                f"Value ({value[:64]}) for parameter {key} is invalid. "
                "It must be an IPv4 address"
                + (" or AmazonProvidedDNS" if key == "domain-name-servers" else "")
            ) from None
    return values
