"""Amazon Route 53's IAM actions (decision 0280), the ``route53`` service of
:mod:`andromede.iam.policy.actions`: every action AWS's IAM knows for ``route53``, so that a
misspelt ``route53:CreateHostedZones`` is refused when a policy is written. Kept apart so that
the catalogue stays under STYLE.md's size."""

from __future__ import annotations

__all__ = ["ROUTE53_ACTIONS"]

ROUTE53_ACTIONS = (
    "ActivateKeySigningKey", "AssociateVPCWithHostedZone", "ChangeCidrCollection",
    "ChangeResourceRecordSets", "ChangeTagsForResource", "CreateCidrCollection",
    "CreateHealthCheck", "CreateHealthCheckSource", "CreateHostedZone", "CreateKeySigningKey",
    "CreateQueryLoggingConfig", "CreateResourceRecordSetProtections", "CreateReusableDelegationSet",
    "CreateTrafficPolicy", "CreateTrafficPolicyInstance", "CreateTrafficPolicyVersion",
    "CreateVPCAssociationAuthorization", "DeactivateKeySigningKey", "DeleteCidrCollection",
    "DeleteHealthCheck", "DeleteHealthCheckSource", "DeleteHostedZone", "DeleteKeySigningKey",
    "DeleteQueryLoggingConfig", "DeleteResourceRecordSetProtections", "DeleteReusableDelegationSet",
    "DeleteTrafficPolicy", "DeleteTrafficPolicyInstance", "DeleteVPCAssociationAuthorization",
    "DisableHostedZoneDNSSEC", "DisassociateVPCFromHostedZone", "EnableHostedZoneDNSSEC",
    "GetAccountLimit", "GetChange", "GetCheckerIpRanges", "GetDNSSEC", "GetGeoLocation",
    "GetHealthCheck", "GetHealthCheckCount", "GetHealthCheckLastFailureReason",
    "GetHealthCheckSource", "GetHealthCheckStatus", "GetHostedZone", "GetHostedZoneChangeBatch",
    "GetHostedZoneCount", "GetHostedZoneLimit", "GetQueryLoggingConfig", "GetReusableDelegationSet",
    "GetReusableDelegationSetLimit", "GetTrafficPolicy", "GetTrafficPolicyInstance",
    "GetTrafficPolicyInstanceCount", "ListCidrBlocks", "ListCidrCollections", "ListCidrLocations",
    "ListGeoLocations", "ListHealthCheckSources", "ListHealthChecks", "ListHealthChecksBySource",
    "ListHostedZoneChangeBatches", "ListHostedZones", "ListHostedZonesByName",
    "ListHostedZonesByVPC", "ListQueryLoggingConfigs", "ListResourceRecordSetChanges",
    "ListResourceRecordSetProtections", "ListResourceRecordSets", "ListReusableDelegationSets",
    "ListTagsForResource", "ListTagsForResources", "ListTrafficPolicies",
    "ListTrafficPolicyInstances", "ListTrafficPolicyInstancesByHostedZone",
    "ListTrafficPolicyInstancesByPolicy", "ListTrafficPolicyVersions",
    "ListVPCAssociationAuthorizations", "TestDNSAnswer", "UpdateHealthCheck",
    "UpdateHostedZoneComment", "UpdateHostedZoneFeatures", "UpdateHostedZoneTier",
    "UpdateTrafficPolicyComment", "UpdateTrafficPolicyInstance",
)  # fmt: skip
