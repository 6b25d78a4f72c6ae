"""Route 53's domain errors (decision 0280), one per AWS error code, no HTTP in them;
``route53api.errors`` gives each its status.

    Route53Error
    ├── NoSuchHostedZone
    ├── NoSuchChange
    ├── HostedZoneAlreadyExists
    ├── HostedZoneNotEmpty
    ├── InvalidChangeBatch        (``messages``: every refusal of the batch)
    ├── InvalidInput
    ├── InvalidDomainName
    ├── InvalidVPCId
    ├── ConflictingDomainExists
    ├── TooManyHostedZones
    ├── PublicZoneVPCAssociation
    ├── LastVPCAssociation
    ├── VPCAssociationNotFound
    ├── NoSuchQueryLoggingConfig, QueryLoggingConfigAlreadyExists,
    │   NoSuchCloudWatchLogsLogGroup, InsufficientCloudWatchLogsResourcePolicy  (decision 0305)
    ├── NoSuchKeySigningKey, KeySigningKeyAlreadyExists, TooManyKeySigningKeys,
    │   InvalidKeySigningKeyName, InvalidKeySigningKeyStatus, InvalidKMSArn, KeySigningKeyInUse,
    │   KeySigningKeyWithActiveStatusNotFound, InvalidSigningStatus, DNSSECNotFound
    │                            (DNSSEC signing: decision 0317)
    ├── KeySigningKeyInParentDSRecord  (the parent's DS names the key: decision 0324)
    ├── NoSuchDelegationSet, DelegationSetAlreadyCreated, DelegationSetAlreadyReusable,
    │   DelegationSetInUse, DelegationSetNotAvailable, HostedZoneNotFound, InvalidArgument,
    │   LimitsExceeded       (reusable delegation sets: decision 0346)
    ├── NotAuthorizedException, VPCAssociationAuthorizationNotFound,
    │   TooManyVPCAssociationAuthorizations  (VPC association authorisations: decision 0346)
    ├── NoSuchCidrCollectionException, NoSuchCidrLocationException,
    │   CidrCollectionAlreadyExistsException, CidrCollectionVersionMismatchException,
    │   CidrCollectionInUseException, CidrBlockInUseException  (CIDR collections: decision 0353)
    └── ZoneChanged               (a concurrent change won: the caller tries again)
"""

from __future__ import annotations

from collections.abc import Sequence

from andromede.errors import AndromedeError

__all__ = [
    "CidrBlockInUseException",
    "CidrCollectionAlreadyExistsException",
    "CidrCollectionInUseException",
    "CidrCollectionVersionMismatchException",
    "ConflictingDomainExists",
    "DNSSECNotFound",
    "DelegationSetAlreadyCreated",
    "DelegationSetAlreadyReusable",
    "DelegationSetInUse",
    "DelegationSetNotAvailable",
    "HostedZoneAlreadyExists",
    "HostedZoneNotEmpty",
    "HostedZoneNotFound",
    "InsufficientCloudWatchLogsResourcePolicy",
    "InvalidArgument",
    "InvalidChangeBatch",
    "InvalidDomainName",
    "InvalidInput",
    "InvalidKMSArn",
    "InvalidKeySigningKeyName",
    "InvalidKeySigningKeyStatus",
    "InvalidSigningStatus",
    "InvalidVPCId",
    "KeySigningKeyAlreadyExists",
    "KeySigningKeyInParentDSRecord",
    "KeySigningKeyInUse",
    "KeySigningKeyWithActiveStatusNotFound",
    "LastVPCAssociation",
    "LimitsExceeded",
    "NoSuchChange",
    "NoSuchCidrCollectionException",
    "NoSuchCidrLocationException",
    "NoSuchCloudWatchLogsLogGroup",
    "NoSuchDelegationSet",
    "NoSuchHostedZone",
    "NoSuchKeySigningKey",
    "NoSuchQueryLoggingConfig",
    "NotAuthorizedException",
    "PublicZoneVPCAssociation",
    "QueryLoggingConfigAlreadyExists",
    "Route53Error",
    "TooManyHostedZones",
    "TooManyKeySigningKeys",
    "TooManyVPCAssociationAuthorizations",
    "VPCAssociationAuthorizationNotFound",
    "VPCAssociationNotFound",
    "ZoneChanged",
]


class Route53Error(AndromedeError):
    """A refusal of Route 53's, its message AWS's wording."""


class NoSuchHostedZone(Route53Error):
    pass


class NoSuchChange(Route53Error):
    pass


class HostedZoneAlreadyExists(Route53Error):
    pass


class HostedZoneNotEmpty(Route53Error):
    pass


class InvalidChangeBatch(Route53Error):
    def __init__(self, messages: Sequence[str]) -> None:
        super().__init__("[" + ", ".join(messages) + "]")
        self.messages = tuple(messages)


class InvalidInput(Route53Error):
    pass


class InvalidDomainName(Route53Error):
    pass


class InvalidVPCId(Route53Error):
    pass


class ConflictingDomainExists(Route53Error):
    pass


class TooManyHostedZones(Route53Error):
    pass


class PublicZoneVPCAssociation(Route53Error):
    pass


class LastVPCAssociation(Route53Error):
    pass


class VPCAssociationNotFound(Route53Error):
    pass


class ZoneChanged(Route53Error):
    pass


class NoSuchQueryLoggingConfig(Route53Error):
    pass


class QueryLoggingConfigAlreadyExists(Route53Error):
    pass


class NoSuchCloudWatchLogsLogGroup(Route53Error):
    pass


class InsufficientCloudWatchLogsResourcePolicy(Route53Error):
    pass


class NoSuchKeySigningKey(Route53Error):
    pass


class KeySigningKeyAlreadyExists(Route53Error):
    pass


class TooManyKeySigningKeys(Route53Error):
    pass


class InvalidKeySigningKeyName(Route53Error):
    pass


class InvalidKeySigningKeyStatus(Route53Error):
    pass


class InvalidKMSArn(Route53Error):
    pass


class KeySigningKeyInUse(Route53Error):
    pass


class KeySigningKeyInParentDSRecord(Route53Error):
    pass


class KeySigningKeyWithActiveStatusNotFound(Route53Error):
    pass


class InvalidSigningStatus(Route53Error):
    pass


class DNSSECNotFound(Route53Error):
    pass


class NoSuchDelegationSet(Route53Error):
    pass


class DelegationSetAlreadyCreated(Route53Error):
    pass


class DelegationSetAlreadyReusable(Route53Error):
    pass


class DelegationSetInUse(Route53Error):
    pass


class DelegationSetNotAvailable(Route53Error):
    pass


class HostedZoneNotFound(Route53Error):
    pass


class InvalidArgument(Route53Error):
    pass


class LimitsExceeded(Route53Error):
    pass


class NotAuthorizedException(Route53Error):
    pass


class VPCAssociationAuthorizationNotFound(Route53Error):
    pass


class TooManyVPCAssociationAuthorizations(Route53Error):
    pass


class NoSuchCidrCollectionException(Route53Error):
    pass


class NoSuchCidrLocationException(Route53Error):
    pass


class CidrCollectionAlreadyExistsException(Route53Error):
    pass


class CidrCollectionVersionMismatchException(Route53Error):
    pass


class CidrCollectionInUseException(Route53Error):
    pass


class CidrBlockInUseException(Route53Error):
    pass
