"""Route 53's operations (decision 0280): which one a method and path under ``/2013-04-01/``
name, the IAM action each needs and the resource it acts on (health checks: decision 0285;
query logging configurations: decision 0305; DNSSEC signing: decision 0317; traffic policies
and their instances: decision 0330; reusable delegation sets and VPC association
authorisations: decision 0346; CIDR collections: decision 0353); the families not served yet
are known by name, to be refused in Route 53's words."""

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
    # Health checks (decision 0285).
    ("POST", r"healthcheck", "CreateHealthCheck"),
    ("GET", r"healthcheck", "ListHealthChecks"),
    ("GET", r"healthcheckcount", "GetHealthCheckCount"),
    ("GET", r"healthcheck/(?P<check>[^/]+)", "GetHealthCheck"),
    ("POST", r"healthcheck/(?P<check>[^/]+)", "UpdateHealthCheck"),
    ("DELETE", r"healthcheck/(?P<check>[^/]+)", "DeleteHealthCheck"),
    ("GET", r"healthcheck/(?P<check>[^/]+)/status", "GetHealthCheckStatus"),
    ("GET", r"healthcheck/(?P<check>[^/]+)/lastfailurereason", "GetHealthCheckLastFailureReason"),
    ("POST", r"tags/healthcheck/(?P<check>[^/]+)", "ChangeTagsForResource"),
    ("GET", r"tags/healthcheck/(?P<check>[^/]+)", "ListTagsForResource"),
    ("POST", r"tags/(?P<kind>healthcheck|hostedzone)", "ListTagsForResources"),
    ("GET", r"hostedzonesbyvpc", "ListHostedZonesByVPC"),
    ("GET", r"testdnsanswer", "TestDNSAnswer"),  # decision 0289
    # Query logging (decision 0305).
    ("POST", r"queryloggingconfig", "CreateQueryLoggingConfig"),
    ("GET", r"queryloggingconfig", "ListQueryLoggingConfigs"),
    ("GET", r"queryloggingconfig/(?P<qlc>[^/]+)", "GetQueryLoggingConfig"),
    ("DELETE", r"queryloggingconfig/(?P<qlc>[^/]+)", "DeleteQueryLoggingConfig"),
    # DNSSEC signing (decision 0317).
    ("POST", r"keysigningkey", "CreateKeySigningKey"),
    ("POST", r"keysigningkey/(?P<zone>[^/]+)/(?P<ksk>[^/]+)/activate", "ActivateKeySigningKey"),
    ("POST", r"keysigningkey/(?P<zone>[^/]+)/(?P<ksk>[^/]+)/deactivate", "DeactivateKeySigningKey"),
    ("DELETE", r"keysigningkey/(?P<zone>[^/]+)/(?P<ksk>[^/]+)", "DeleteKeySigningKey"),
    ("POST", r"hostedzone/(?P<zone>[^/]+)/enable-dnssec", "EnableHostedZoneDNSSEC"),
    ("POST", r"hostedzone/(?P<zone>[^/]+)/disable-dnssec", "DisableHostedZoneDNSSEC"),
    ("GET", r"hostedzone/(?P<zone>[^/]+)/dnssec", "GetDNSSEC"),
    # Traffic policies (decision 0330).
    ("POST", r"trafficpolicy", "CreateTrafficPolicy"),
    ("POST", r"trafficpolicy/(?P<policy>[^/]+)", "CreateTrafficPolicyVersion"),
    ("GET", r"trafficpolicy/(?P<policy>[^/]+)/(?P<version>[^/]+)", "GetTrafficPolicy"),
    ("POST", r"trafficpolicy/(?P<policy>[^/]+)/(?P<version>[^/]+)", "UpdateTrafficPolicyComment"),
    ("DELETE", r"trafficpolicy/(?P<policy>[^/]+)/(?P<version>[^/]+)", "DeleteTrafficPolicy"),
    ("GET", r"trafficpolicies", "ListTrafficPolicies"),
    ("GET", r"trafficpolicies/(?P<policy>[^/]+)/versions", "ListTrafficPolicyVersions"),
    ("POST", r"trafficpolicyinstance", "CreateTrafficPolicyInstance"),
    ("GET", r"trafficpolicyinstance/(?P<instance>[^/]+)", "GetTrafficPolicyInstance"),
    ("POST", r"trafficpolicyinstance/(?P<instance>[^/]+)", "UpdateTrafficPolicyInstance"),
    ("DELETE", r"trafficpolicyinstance/(?P<instance>[^/]+)", "DeleteTrafficPolicyInstance"),
    ("GET", r"trafficpolicyinstances", "ListTrafficPolicyInstances"),
    ("GET", r"trafficpolicyinstances/hostedzone", "ListTrafficPolicyInstancesByHostedZone"),
    ("GET", r"trafficpolicyinstances/trafficpolicy", "ListTrafficPolicyInstancesByPolicy"),
    ("GET", r"trafficpolicyinstancecount", "GetTrafficPolicyInstanceCount"),
    # Reusable delegation sets and VPC association authorisations (decision 0346).
    ("POST", r"delegationset", "CreateReusableDelegationSet"),
    ("GET", r"delegationset", "ListReusableDelegationSets"),
    ("GET", r"delegationset/(?P<set>[^/]+)", "GetReusableDelegationSet"),
    ("DELETE", r"delegationset/(?P<set>[^/]+)", "DeleteReusableDelegationSet"),
    (
        "GET",
        r"reusabledelegationsetlimit/(?P<set>[^/]+)/(?P<limit>[^/]+)",
        "GetReusableDelegationSetLimit",
    ),
    (
        "POST",
        r"hostedzone/(?P<zone>[^/]+)/authorizevpcassociation",
        "CreateVPCAssociationAuthorization",
    ),
    (
        "GET",
        r"hostedzone/(?P<zone>[^/]+)/authorizevpcassociation",
        "ListVPCAssociationAuthorizations",
    ),
    (
        "POST",
        r"hostedzone/(?P<zone>[^/]+)/deauthorizevpcassociation",
        "DeleteVPCAssociationAuthorization",
    ),
    # CIDR collections (decision 0353).
    ("POST", r"cidrcollection", "CreateCidrCollection"),
    ("GET", r"cidrcollection", "ListCidrCollections"),
    ("POST", r"cidrcollection/(?P<cidr>[^/]+)", "ChangeCidrCollection"),
    ("GET", r"cidrcollection/(?P<cidr>[^/]+)", "ListCidrLocations"),
    ("DELETE", r"cidrcollection/(?P<cidr>[^/]+)", "DeleteCidrCollection"),
    ("GET", r"cidrcollection/(?P<cidr>[^/]+)/cidrblocks", "ListCidrBlocks"),
)
_COMPILED: Final = tuple((m, re.compile(p + "$"), n) for m, p, n in _ROUTES)
# AWS's families not served yet, by their path's first segment.
NOT_YET: Final[dict[str, str]] = {
    "checkeripranges": "Health checks",
    "accountlimit": "Account limits",
}


@dataclass(frozen=True)
class Route:
    name: str  # the operation, "" when none matches
    zone_id: str = ""
    change_id: str = ""
    health_check_id: str = ""  # decision 0285
    resource_type: str = ""  # ListTagsForResources' ``healthcheck`` or ``hostedzone``
    query_logging_id: str = ""  # decision 0305
    key_name: str = ""  # a key-signing key's (decision 0317)
    traffic_policy_id: str = ""  # decision 0330
    traffic_policy_version: str = ""
    traffic_instance_id: str = ""
    delegation_set_id: str = ""  # decision 0346
    limit_type: str = ""  # GetReusableDelegationSetLimit's
    cidr_collection_id: str = ""  # decision 0353

    @property
    def action(self) -> str:
        return f"route53:{self.name or 'Unknown'}"

    def resource(self) -> str:
        if self.zone_id:
            return f"arn:aws:route53:::hostedzone/{self.zone_id}"
        if self.change_id:
            return f"arn:aws:route53:::change/{self.change_id}"
        if self.health_check_id:
            return f"arn:aws:route53:::healthcheck/{self.health_check_id}"
        if self.query_logging_id:
            return f"arn:aws:route53:::queryloggingconfig/{self.query_logging_id}"
        if self.traffic_policy_id:
            return f"arn:aws:route53:::trafficpolicy/{self.traffic_policy_id}"
        if self.traffic_instance_id:
            return f"arn:aws:route53:::trafficpolicyinstance/{self.traffic_instance_id}"
        if self.delegation_set_id:
            return f"arn:aws:route53:::delegationset/{self.delegation_set_id}"
        if self.cidr_collection_id:
            return f"arn:aws:route53:::cidrcollection/{self.cidr_collection_id}"
        return "*"


def route(method: str, path: str) -> Route:
    if not path.startswith(PREFIX):
        return Route("")
    rest = path[len(PREFIX) :]
    for wanted, pattern, name in _COMPILED:
        match = pattern.match(rest)
        if match is not None and wanted == method:
            found = match.groupdict()
            return Route(
                name,
                found.get("zone") or "",
                found.get("change") or "",
                found.get("check") or "",
                found.get("kind") or "",
                found.get("qlc") or "",
                found.get("ksk") or "",
                found.get("policy") or "",
                found.get("version") or "",
                found.get("instance") or "",
                found.get("set") or "",
                found.get("limit") or "",
                found.get("cidr") or "",
            )
    first = rest.split("/", 1)[0]
    if first in NOT_YET or first.startswith("hostedzonelimit"):
        return Route("NotYet:" + NOT_YET.get(first, "Hosted zone limits"))
    return Route("")
