"""The values Route 53's handlers read alike from a path, a query or a body (decision 0343): a
hosted zone's id, and a list's page size (``MaxItems`` taken up to a ceiling, as the hosted
zone, record set, health check and traffic policy lists take it; ``MaxItems``/``MaxResults``
refused outside 1..ceiling, as ListHostedZonesByVPC and ListQueryLoggingConfigs refuse it).
Each is Route 53's InvalidInput where the value is none."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from andromede.route53api.errors import Route53WireError

__all__ = ["bounded_page_size", "hosted_zone_id", "max_items"]

_ZONE_ID: Final = re.compile(r"^[A-Z0-9]{1,32}$")


def hosted_zone_id(raw: str) -> str:
    """A hosted zone's id as a path, a query or a body gives it (``/hostedzone/`` before it
    or not)."""
    zone_id = raw.strip().removeprefix("/hostedzone/")
    if not _ZONE_ID.match(zone_id):
        raise Route53WireError(
            "InvalidInput", f"The input is not valid: invalid hosted zone id {zone_id[:64]}"
        )
    return zone_id


def max_items(query: Mapping[str, str], ceiling: int, default: int | None = None) -> int:
    """The ``maxitems`` of a list's query: ``default`` (the ceiling unless given) when absent,
    at least 1, and a larger number taken as the ceiling."""
    raw = query.get("maxitems")
    if raw is None:
        return ceiling if default is None else default
    try:
        wanted = int(raw)
    except ValueError as exc:
        raise Route53WireError("InvalidInput", f"Invalid value for MaxItems: {raw[:16]}") from exc
    if wanted < 1:
        raise Route53WireError("InvalidInput", "MaxItems must be at least 1")
    return min(wanted, ceiling)


def bounded_page_size(raw: str | None, field: str, ceiling: int) -> int:
    """A page size named ``field`` on the wire: the ceiling when absent, refused outside
    1..ceiling."""
    raw = raw or str(ceiling)
    try:
        limit = int(raw)
    except ValueError as exc:
        raise Route53WireError("InvalidInput", f"Invalid value for {field}: {raw[:16]}") from exc
    if not 1 <= limit <= ceiling:
        raise Route53WireError("InvalidInput", f"{field} must be between 1 and {ceiling}")
    return limit
