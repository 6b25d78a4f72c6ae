"""The check of a list of CIDR networks, which three setting groups (federation, external key
stores, notifications) use for the internal networks a tenant's URL may reach."""

from __future__ import annotations

import ipaddress

from pydantic import ValidationInfo

__all__ = ["cidr_networks"]


def cidr_networks(value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
    """``value`` unchanged when each entry is a CIDR network; the error names the setting."""
    for network in value:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError as exc:
            raise ValueError(f"{info.field_name}: {network!r} is no CIDR network") from exc
    return value
