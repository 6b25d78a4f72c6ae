"""Route 53's operations (decision 0280): which one a method and path under ``/2013-04-01/``
name, the IAM action each needs and the resource it acts on; the families not served yet
(health checks, traffic policies, DNSSEC, query logging, reusable delegation sets) are known
by name, to be refused in Route 53's words."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

__all__ = ["PREFIX", "Route", "route"]

PREFIX: Final = "/2013-04-01/"

_ROUTES: Final[tuple[tuple[str, str, str], ...]] = (
    ("POST", r"hostedzone", "CreateHostedZone"),
    ("GET", r"hostedzone", "ListHostedZones"),
    ("GET", r"hostedzonesbyname", "ListHostedZonesByName"),
    ("GET", r"hostedzonecount", "GetHostedZoneCount"),
    ("GET", r"hostedzone/(?P<zone>[^/]+)", "GetHostedZone"),
    ("POST", r"hostedzone/(?P<zone>[^/]+)", "UpdateHostedZoneComment"),
    ("DELETE", r"hostedzone/(?P<zone>[^/]+)", "DeleteHostedZone"),
    ("POST", r"hostedzone/(?P<zone>[^/]+)/rrset/?", "ChangeResourceRecordSets"),
    ("GET", r"hostedzone/(?P<zone>[^/]+)/rrset/?", "ListResourceRecordSets"),
    ("POST", r"hostedzone/(?P<zone>[^/]+)/associatevpc", "AssociateVPCWithHostedZone"),
    ("POST", r"hostedzone/(?P<zone>[^/]+)/disassociatevpc", "DisassociateVPCFromHostedZone"),
    ("GET", r"change/(?P<change>[^/]+)", "GetChange"),
    ("POST", r"tags/hostedzone/(?P<zone>[^/]+)", "ChangeTagsForResource"),
    ("GET", r"tags/hostedzone/(?P<zone>[^/]+)", "ListTagsForResource"),
)
_COMPILED: Final = tuple((m, re.compile(p + "$"), n) for m, p, n in _ROUTES)
# AWS's families not served yet, by their path's first segment.
NOT_YET: Final[dict[str, str]] = {
    "healthcheck": "Health checks",
    "healthcheckcount": "Health checks",
    "trafficpolicy": "Traffic policies",
    "trafficpolicies": "Traffic policies",
    "trafficpolicyinstance": "Traffic policies",
    "trafficpolicyinstances": "Traffic policies",
    "trafficpolicyinstancecount": "Traffic policies",
    "keysigningkey": "DNSSEC signing",
    "queryloggingconfig": "Query logging",
    "delegationset": "Reusable delegation sets",
    "cidrcollection": "CIDR collections",
    "checkeripranges": "Health checks",
    "testdnsanswer": "TestDNSAnswer",
    "accountlimit": "Account limits",
}


@dataclass(frozen=True)
class Route:
    name: str  # the operation, "" when none matches
    zone_id: str = ""
    change_id: str = ""

    @property
    def action(self) -> str:
        return f"route53:{self.name or 'Unknown'}"

    def resource(self) -> str:
        if self.zone_id:
            return f"arn:aws:route53:::hostedzone/{self.zone_id}"
        if self.change_id:
            return f"arn:aws:route53:::change/{self.change_id}"
        return "*"


def route(method: str, path: str) -> Route:
    if not path.startswith(PREFIX):
        return Route("")
    rest = path[len(PREFIX) :]
    for wanted, pattern, name in _COMPILED:
        match = pattern.match(rest)
        if match is not None and wanted == method:
            found = match.groupdict()
            return Route(name, found.get("zone") or "", found.get("change") or "")
    # DNSSEC of a zone and the VPC authorisations are also not served yet.
    if re.match(
        r"hostedzone/[^/]+/(dnssec|enable-dnssec|disable-dnssec|authorizevpcassociation|deauthorizevpcassociation|listvpcassociationauthorizations)",
        rest,
    ):
        return Route("NotYet:DNSSEC and VPC association authorisations")
    first = rest.split("/", 1)[0]
    if first in NOT_YET or first.startswith("hostedzonelimit") or first == "hostedzonesbyvpc":
        return Route("NotYet:" + NOT_YET.get(first, "Hosted zone limits and lookups by VPC"))
    return Route("")
