"""Where the public name servers' clients are, by the operator's GeoIP file (decisions 0395,
0404, 0410, 0413 and 0420): the file or export, its format, the networks it may hold, how
often it is checked for a new edition, and how coarse a point may be.

One group of ``andromede.settings.Settings``, which is composed of them all; the fields keep
their ``ANDROMEDE_<NAME>`` environment variables and TOML keys. Moved out of ``network`` (which
keeps Route 53's other settings) when decision 0420 would have taken it past 800 lines.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Route53PlacesSettings(BaseModel):
    """The GeoIP file placing the public name servers' clients."""

    route53_client_geolocation_file: str = Field(
        default="",
        description="A CSV file of network,continent,country,subdivision (CIDR; ISO 3166"
        " codes as GeoLocation takes them), or GeoLite2's or DB-IP's export (a directory or"
        " files joined with the path separator; route53_client_geolocation_format, decision"
        " 0404), or a MaxMind DB (.mmdb) file (decision 0410) placing the public name"
        " servers' clients, the"
        " longest network holding a query's EDNS client subnet, else its source, winning:"
        " geolocation sets answer the client's subdivision, country, continent or the"
        " default; empty = geolocation sets answered as in a VPC (decision 0395). GeoLite2"
        " City's and DB-IP's coordinates are the client's point: geoproximity sets and, when"
        " route53_client_regions does not hold it, latency sets answer by the distance from"
        " it, S3 Multi-Region Access Points route to the active Region nearest it"
        " (decision 0413).",
    )
    route53_client_geolocation_format: Literal["andromede", "geolite2", "dbip", "mmdb"] = Field(
        default="andromede",
        description="The format of route53_client_geolocation_file (a file, a directory or"
        " files joined with the path separator): andromede (network,continent,country,"
        "subdivision; a GeoLite2 header or a DB-IP range on the first line is recognised"
        " too, and a MaxMind DB by its metadata marker), geolite2 (MaxMind's City or"
        " Country CSV: blocks and locations files), dbip (DB-IP's city or country lite CSV,"
        " the country's continent from GeoNames' table: decision 0413) (decision 0404) or"
        " mmdb (a MaxMind DB file, GeoLite2 or DB-IP City or Country, mapped rather than"
        " held in memory; decision 0410).",
    )
    route53_client_geolocation_max_networks: int = Field(
        default=4_000_000,
        ge=1,
        le=50_000_000,
        description="Networks route53_client_geolocation_file may hold, at most (they are"
        " held in memory); a larger file stops the start (decision 0395). A MaxMind DB is"
        " mapped, not held: not bounded by it (decision 0410).",
    )
    route53_client_geolocation_reload_interval: float = Field(
        default=300.0,
        ge=0,
        le=86400,
        description="Seconds between two checks, by each worker, of whether"
        " route53_client_geolocation_file changed (its files' modification time, size or"
        " inode): a new version is read and checked off the event loop, then swapped in while"
        " queries are answered from the previous one; a bad one is refused with a warning,"
        " the previous one kept; 0 = read at start only (decision 0420).",
    )
    route53_client_max_accuracy_radius_km: int = Field(
        default=1000,
        ge=0,
        le=20000,
        description="The accuracy radius (km) past which a route53_client_geolocation_file"
        " point (GeoLite2 City's accuracy_radius, a MaxMind DB's location.accuracy_radius) is"
        " not the client's: geoproximity and latency sets and S3 Multi-Region Access Points"
        " then treat the client as one without coordinates, its geolocation place kept;"
        " 0 = any radius (decision 0420).",
    )
