"""EC2's wire errors: codes, HTTP statuses, and the one table mapping compute's domain errors.

EC2 answers an error as::

    <Response><Errors><Error><Code>InvalidInstanceID.NotFound</Code><Message>…</Message>
    </Error></Errors><RequestID>…</RequestID></Response>

botocore raises ``ClientError`` with that code, so the codes are AWS's. Capacity and quota
refusals answer 400 (AWS sends some with a 5xx, which makes SDKs retry a request that cannot
succeed; here the answer is final).
"""

from __future__ import annotations

from typing import Final

from andromede.compute import errors as compute
from andromede.compute.launch_template import MalformedTemplateName
from andromede.errors import AndromedeError
from andromede.http.query import MalformedQuery
from andromede.http.sigv4 import SigV4Error
from andromede.iam import errors as iam_errors

__all__ = ["Ec2Error", "to_ec2_error"]

# code → (status, default message)
CATALOGUE: Final[dict[str, tuple[int, str]]] = {
    "AttachmentLimitExceeded": (400, "The instance cannot take more volumes."),
    "AuthFailure": (401, "AWS was not able to validate the provided access credentials"),
    "DefaultSubnetAlreadyExistsInAvailabilityZone": (
        400,
        "A default subnet already exists in the specified Availability Zone.",
    ),
    "DefaultVpcAlreadyExists": (400, "A Default VPC already exists for this account."),
    "DefaultVpcDoesNotExist": (400, "There is no default VPC in which to carry out the request."),
    "DependencyViolation": (400, "The resource has a dependent object."),
    "DryRunOperation": (412, "Request would have succeeded, but DryRun flag is set."),
    "IdempotentParameterMismatch": (
        400,
        "The client token was already used for a request with other parameters.",
    ),
    "IncompleteSignature": (400, "The request signature does not conform to AWS standards."),
    "IncorrectInstanceState": (400, "The instance is not in a state that allows this call."),
    "IncorrectModificationState": (
        400,
        "The volume's last modification is not completed.",
    ),
    "IncorrectState": (400, "The resource is in an incorrect state for the request."),
    "InstanceLimitExceeded": (400, "You have requested more instances than your quota allows."),
    "InsufficientCidrBlocks": (400, "There are not enough free CIDR blocks in the pool."),
    "InsufficientInstanceCapacity": (400, "There is not enough capacity for the request."),
    "InternalError": (500, "An internal error has occurred."),
    "InvalidAction": (400, "The action or operation requested is invalid."),
    "InvalidAMIID.Malformed": (400, "The image ID is malformed."),
    "InvalidAMIID.NotFound": (400, "The image ID does not exist."),
    "InvalidAMIName.Duplicate": (400, "An image with this name already exists."),
    "InvalidAssociationID.NotFound": (400, "The association ID does not exist."),
    "InvalidAssociationID.Malformed": (400, "The association ID is malformed."),
    "InvalidAllocationID.NotFound": (400, "The allocation ID does not exist."),
    "InvalidAllocationID.Malformed": (400, "The allocation ID is malformed."),
    "InvalidAddress.NotFound": (400, "The address does not exist."),
    "InvalidIPAddress.InUse": (400, "Address is in use."),
    "AddressLimitExceeded": (400, "The maximum number of addresses has been reached."),
    "InsufficientAddressCapacity": (400, "Not enough available addresses."),
    "InvalidInstanceID": (400, "The instance is not in a valid state for this operation."),
    "InvalidBlockDeviceMapping": (400, "The block device mapping is not valid."),
    "InvalidGroup.Duplicate": (400, "The security group already exists."),
    "InvalidGroup.NotFound": (400, "The security group does not exist."),
    "InvalidGroup.Reserved": (400, "The security group name is reserved."),
    "CannotDelete": (400, "You cannot delete the 'default' security group."),
    "InvalidParameter": (400, "A parameter specified in a request is not valid."),
    "InvalidParameterDependency": (400, "A parameter needs another that is missing."),
    "InvalidNetworkInterfaceID.Malformed": (400, "The network interface ID is malformed."),
    "InvalidNetworkInterface.InUse": (400, "The network interface is in use."),
    "InvalidAttachmentID.NotFound": (400, "The attachment does not exist."),
    "InvalidAttachmentID.Malformed": (400, "The attachment ID is malformed."),
    "PrivateIpAddressLimitExceeded": (400, "Too many private addresses for the interface."),
    "InsufficientFreeAddressesInSubnet": (400, "Not enough free addresses in the subnet."),
    "InvalidNetworkInterfaceID.NotFound": (400, "The network interface does not exist."),
    "InvalidSubnet.Conflict": (400, "The subnet's CIDR block conflicts with another subnet."),
    "InvalidSubnet.Range": (400, "The CIDR block is not valid for the subnet."),
    "InvalidSubnetCidrBlockAssociationID.NotFound": (
        400,
        "The subnet CIDR block association ID does not exist.",
    ),
    "InvalidSubnetCidrBlockAssociationId.Malformed": (
        400,
        "The subnet CIDR block association ID is malformed.",
    ),
    "InvalidSubnetID.Malformed": (400, "The subnet ID is malformed."),
    "InvalidSubnetID.NotFound": (400, "The subnet ID does not exist."),
    "InvalidRouteTableID.NotFound": (400, "The route table ID does not exist."),
    "InvalidInternetGatewayID.NotFound": (400, "The internet gateway ID does not exist."),
    "InvalidInternetGatewayId.Malformed": (400, "The internet gateway ID is malformed."),
    "InvalidGatewayID.NotFound": (400, "The gateway ID does not exist."),
    "InvalidRoute.NotFound": (400, "The route does not exist."),
    "RouteAlreadyExists": (400, "The route already exists."),
    "DuplicateSubnetsInSameZone": (400, "Found another VPC endpoint subnet in the zone."),
    "Resource.AlreadyAssociated": (400, "The resource is already associated."),
    "Gateway.NotAttached": (400, "The gateway is not attached."),
    "RouteTableLimitExceeded": (400, "You have reached the limit on route tables in this VPC."),
    "RouteLimitExceeded": (400, "You have reached the limit on routes in this route table."),
    "InternetGatewayLimitExceeded": (400, "You have reached the limit on internet gateways."),
    "NatGatewayLimitExceeded": (400, "You have reached the limit on NAT gateways."),
    "NatGatewayNotFound": (400, "The NAT gateway does not exist."),
    "NatGatewayMalformed": (400, "The NAT gateway ID is malformed."),
    "InvalidNatGatewayID.NotFound": (400, "The NAT gateway ID does not exist."),
    "InvalidRouteTableId.Malformed": (400, "The route table ID is malformed."),
    "InvalidVpcPeeringConnectionID.NotFound": (
        400,
        "The VPC peering connection ID does not exist.",
    ),
    "InvalidVpcPeeringConnectionId.Malformed": (
        400,
        "The VPC peering connection ID is malformed.",
    ),
    "InvalidStateTransition": (
        400,
        "The VPC peering connection's state does not allow the request.",
    ),
    "VpcPeeringConnectionAlreadyExists": (
        400,
        "A VPC peering connection between these VPCs already exists.",
    ),
    "ActiveVpcPeeringConnectionPerVpcLimitExceeded": (
        400,
        "You have reached the limit on active VPC peering connections for this VPC.",
    ),
    "InvalidDhcpOptionID.NotFound": (400, "The DHCP options set does not exist."),
    "InvalidDhcpOptionsId.Malformed": (400, "The DHCP options set ID is malformed."),
    "DhcpOptionsLimitExceeded": (400, "You have reached the limit on DHCP options sets."),
    "InvalidNetworkAclID.NotFound": (400, "The network ACL ID does not exist."),
    "InvalidNetworkAclEntry.NotFound": (400, "The network ACL entry does not exist."),
    "NetworkAclEntryAlreadyExists": (400, "The network ACL entry already exists."),
    "NetworkAclLimitExceeded": (400, "You have reached the limit on network ACLs in this VPC."),
    "NetworkAclEntryLimitExceeded": (
        400,
        "You have reached the limit on entries in this network ACL.",
    ),
    "InvalidVpc.Range": (400, "The CIDR block is not valid for a VPC."),
    "InvalidVpcCidrBlockAssociationID.NotFound": (
        400,
        "The VPC CIDR block association ID does not exist.",
    ),
    "InvalidVpcID.Malformed": (400, "The VPC ID is malformed."),
    "InvalidVpcID.NotFound": (400, "The VPC ID does not exist."),
    "InvalidGroupId.Malformed": (400, "The security group ID is malformed."),
    "InvalidID": (400, "The ID is not valid."),
    "InvalidInstanceAttributeValue": (400, "The instance attribute value is not valid."),
    "InvalidInstanceID.Malformed": (400, "The instance ID is malformed."),
    "InvalidInstanceID.NotFound": (400, "The instance ID does not exist."),
    "InvalidKeyPair.Duplicate": (400, "The key pair already exists."),
    "InvalidLaunchTemplateId.Malformed": (400, "The launch template ID is malformed."),
    "InvalidLaunchTemplateId.NotFound": (400, "The launch template does not exist."),
    "InvalidLaunchTemplateId.VersionNotFound": (
        400,
        "The launch template version does not exist.",
    ),
    "InvalidLaunchTemplateName.AlreadyExistsException": (
        400,
        "Launch template name already in use.",
    ),
    "InvalidLaunchTemplateName.MalformedException": (
        400,
        "The launch template name is malformed.",
    ),
    "InvalidLaunchTemplateName.NotFoundException": (
        400,
        "At least one of the launch templates specified in the request does not exist.",
    ),
    "InvalidKeyPair.NotFound": (400, "The key pair does not exist."),
    "InvalidParameterCombination": (400, "Indicates an incorrect combination of parameters."),
    "InvalidParameterValue": (400, "A value specified in a parameter is not valid."),
    "InvalidPermission.Duplicate": (400, "The rule already exists."),
    "InvalidPermission.NotFound": (400, "The rule does not exist."),
    "InvalidSnapshot.InUse": (400, "The snapshot is in use."),
    "InvalidPrefixListId.NotFound": (400, "The prefix list ID does not exist."),
    "InvalidPrefixListID.NotFound": (400, "The prefix list does not exist."),
    "InvalidPrefixListId.Malformed": (400, "The prefix list ID is malformed."),
    "InvalidPrefixListModification": (400, "The prefix list cannot be modified so."),
    "PrefixListVersionMismatch": (400, "The prefix list has the incorrect version number."),
    "PrefixListMaxEntriesExceeded": (400, "The prefix list has too many entries."),
    "PrefixListLimitExceeded": (400, "The maximum number of prefix lists has been reached."),
    "InvalidFlowLogId.NotFound": (400, "The flow log does not exist."),
    "InvalidVpcEndpointId.NotFound": (400, "The VPC endpoint does not exist."),
    "InvalidVpcEndpointId.Malformed": (400, "The VPC endpoint ID is malformed."),
    "InvalidServiceName": (400, "The VPC endpoint service does not exist."),
    "VpcEndpointLimitExceeded": (400, "The maximum number of VPC endpoints has been reached."),
    "FlowLogAlreadyExists": (
        400,
        "There is an existing Flow Log with the same configuration and log destination.",
    ),
    "FlowLogsLimitExceeded": (400, "The maximum number of flow logs has been reached."),
    "RulesPerSecurityGroupLimitExceeded": (
        400,
        "The maximum number of rules per security group has been reached.",
    ),
    "InvalidSecurityGroupRuleId.Malformed": (400, "The security group rule ID is malformed."),
    "InvalidSecurityGroupRuleId.NotFound": (400, "The security group rule ID does not exist."),
    "InvalidSnapshot.NotFound": (400, "The snapshot does not exist."),
    "InvalidSnapshotID.Malformed": (400, "The snapshot ID is malformed."),
    "InvalidVolume.NotFound": (400, "The volume does not exist."),
    "InvalidVolumeID.Malformed": (400, "The volume ID is malformed."),
    "InvalidVolumeModification.NotFound": (400, "The volume was never modified."),
    "MissingAuthenticationToken": (401, "The request must contain valid credentials."),
    "MissingInput": (400, "No subnet was given and none can be chosen."),
    "MissingParameter": (400, "A required parameter is missing."),
    "MaxSpotInstanceCountExceeded": (
        400,
        "You have exceeded your maximum number of Spot Instance requests.",
    ),
    "SpotMaxPriceTooLow": (400, "Your Spot request price is lower than the Spot price."),
    "InvalidSpotInstanceRequestID.NotFound": (
        400,
        "The Spot Instance request ID does not exist.",
    ),
    "InvalidSpotInstanceRequestID.Malformed": (400, "The Spot Instance request ID is malformed."),
    "OperationNotPermitted": (400, "The operation is not permitted."),
    "RequestExpired": (400, "The request reached the service too late."),
    "RequestLimitExceeded": (503, "Request limit exceeded."),
    "ResourceLimitExceeded": (400, "You have exceeded an Amazon EC2 resource limit."),
    "SubnetLimitExceeded": (400, "You have reached the limit on subnets in this VPC."),
    "VpcLimitExceeded": (400, "You have reached the limit on VPCs."),
    "VPCIdNotSpecified": (400, "No default VPC for this user"),
    "SignatureDoesNotMatch": (
        403,
        "The request signature we calculated does not match the signature you provided. Check "
        "your AWS Secret Access Key and signing method. Consult the service documentation for "
        "details.",
    ),
    "UnauthorizedOperation": (403, "You are not authorized to perform this operation."),
    "UnsupportedOperation": (400, "The operation is not supported."),
    "VolumeInUse": (400, "The volume is in use."),
}


class Ec2Error(AndromedeError):
    def __init__(self, code: str, message: str | None = None) -> None:
        status, default = CATALOGUE[code]
        self.code = code
        self.status = status
        self.message = message if message is not None else default
        super().__init__(f"{code}: {self.message}")


_NOT_FOUND: Final = {
    "i": "InvalidInstanceID.NotFound",
    "sir": "InvalidSpotInstanceRequestID.NotFound",
    "ami": "InvalidAMIID.NotFound",
    "vol": "InvalidVolume.NotFound",
    "volume-modification": "InvalidVolumeModification.NotFound",
    "snap": "InvalidSnapshot.NotFound",
    "sg": "InvalidGroup.NotFound",
    "groupname": "InvalidGroup.NotFound",
    "key": "InvalidKeyPair.NotFound",
    "keyname": "InvalidKeyPair.NotFound",
    "permission": "InvalidPermission.NotFound",
    "vpc": "InvalidVpcID.NotFound",
    "subnet": "InvalidSubnetID.NotFound",
    "eni": "InvalidNetworkInterfaceID.NotFound",
    "iip-assoc": "InvalidAssociationID.NotFound",
    "lt": "InvalidLaunchTemplateId.NotFound",
    "lt-name": "InvalidLaunchTemplateName.NotFoundException",
    "lt-version": "InvalidLaunchTemplateId.VersionNotFound",
    "rtb": "InvalidRouteTableID.NotFound",
    "acl": "InvalidNetworkAclID.NotFound",
    "acl-entry": "InvalidNetworkAclEntry.NotFound",
    "aclassoc": "InvalidAssociationID.NotFound",
    "igw": "InvalidInternetGatewayID.NotFound",
    "gateway": "InvalidGatewayID.NotFound",
    "rtbassoc": "InvalidAssociationID.NotFound",
    "route": "InvalidRoute.NotFound",
    "eipalloc": "InvalidAllocationID.NotFound",
    "eipassoc": "InvalidAssociationID.NotFound",
    "address": "InvalidAddress.NotFound",
    # DescribeNatGateways and DeleteNatGateway say NatGatewayNotFound; a route naming one,
    # InvalidNatGatewayID.NotFound (decision 0129).
    "nat": "NatGatewayNotFound",
    "nat-route": "InvalidNatGatewayID.NotFound",
    "pcx": "InvalidVpcPeeringConnectionID.NotFound",
    "dopt": "InvalidDhcpOptionID.NotFound",
    "sgr": "InvalidSecurityGroupRuleId.NotFound",
    # The prefix list calls say InvalidPrefixListID.NotFound; a security group rule naming a
    # list not found, InvalidPrefixListId.NotFound (decision 0149).
    "pl": "InvalidPrefixListID.NotFound",
    "pl-rule": "InvalidPrefixListId.NotFound",
    "fl": "InvalidFlowLogId.NotFound",
    "vpce": "InvalidVpcEndpointId.NotFound",
    "vpce-service": "InvalidServiceName",
    "eni-attach": "InvalidAttachmentID.NotFound",
    "vpc-cidr-assoc": "InvalidVpcCidrBlockAssociationID.NotFound",
    "subnet-cidr-assoc": "InvalidSubnetCidrBlockAssociationID.NotFound",
}
_MALFORMED: Final = {
    "i": "InvalidInstanceID.Malformed",
    "sir": "InvalidSpotInstanceRequestID.Malformed",
    "ami": "InvalidAMIID.Malformed",
    "vol": "InvalidVolumeID.Malformed",
    "snap": "InvalidSnapshotID.Malformed",
    "sg": "InvalidGroupId.Malformed",
    "vpc": "InvalidVpcID.Malformed",
    "subnet": "InvalidSubnetID.Malformed",
    "eni": "InvalidNetworkInterfaceID.Malformed",
    "iip-assoc": "InvalidAssociationID.NotFound",
    "lt": "InvalidLaunchTemplateId.Malformed",
    "rtb": "InvalidRouteTableId.Malformed",
    # EC2 has no Malformed code of its own for an ACL id, nor for an association's.
    "acl": "InvalidNetworkAclID.NotFound",
    "igw": "InvalidInternetGatewayId.Malformed",
    "rtbassoc": "InvalidAssociationID.NotFound",
    "aclassoc": "InvalidAssociationID.NotFound",
    "eipalloc": "InvalidAllocationID.Malformed",
    "eipassoc": "InvalidAssociationID.Malformed",
    "nat": "NatGatewayMalformed",
    "pcx": "InvalidVpcPeeringConnectionId.Malformed",
    "dopt": "InvalidDhcpOptionsId.Malformed",
    "sgr": "InvalidSecurityGroupRuleId.Malformed",
    "pl": "InvalidPrefixListId.Malformed",
    # EC2 answers a malformed flow log id as one it does not find.
    "fl": "InvalidFlowLogId.NotFound",
    "vpce": "InvalidVpcEndpointId.Malformed",
    "eni-attach": "InvalidAttachmentID.Malformed",
    # EC2 has a Malformed code for a subnet's CIDR association id, none for a VPC's.
    "vpc-cidr-assoc": "InvalidVpcCidrBlockAssociationID.NotFound",
    "subnet-cidr-assoc": "InvalidSubnetCidrBlockAssociationId.Malformed",
}
_DUPLICATE: Final = {
    "keyname": "InvalidKeyPair.Duplicate",
    "groupname": "InvalidGroup.Duplicate",
    "permission": "InvalidPermission.Duplicate",
    "ami-name": "InvalidAMIName.Duplicate",
    "lt-name": "InvalidLaunchTemplateName.AlreadyExistsException",
    "fl-config": "FlowLogAlreadyExists",
}
_IN_USE: Final = {
    "vol": "VolumeInUse",
    "snap": "InvalidSnapshot.InUse",
    "sg": "DependencyViolation",
    "vpc": "DependencyViolation",
    "subnet": "DependencyViolation",
    "igw": "DependencyViolation",
    "rtb": "DependencyViolation",
    "acl": "DependencyViolation",
    "eipalloc": "InvalidIPAddress.InUse",
    "dopt": "DependencyViolation",
    "pl": "DependencyViolation",
    "eni": "InvalidNetworkInterface.InUse",
    "private-ip": "InvalidIPAddress.InUse",
}
_RANGE: Final = {
    "vpc": "InvalidVpc.Range",
    "subnet": "InvalidSubnet.Range",
    "subnet-ipv6": "InvalidSubnet.Range",
}
_LIMIT: Final = {
    "vpc": "VpcLimitExceeded",
    "subnet": "SubnetLimitExceeded",
    "igw": "InternetGatewayLimitExceeded",
    "nat": "NatGatewayLimitExceeded",
    "rtb": "RouteTableLimitExceeded",
    "route": "RouteLimitExceeded",
    "acl": "NetworkAclLimitExceeded",
    "acl-entry": "NetworkAclEntryLimitExceeded",
    "pcx": "ActiveVpcPeeringConnectionPerVpcLimitExceeded",
    "dopt": "DhcpOptionsLimitExceeded",
    "pl": "PrefixListLimitExceeded",
    "fl": "FlowLogsLimitExceeded",
    "vpce": "VpcEndpointLimitExceeded",
    "private-ip": "PrivateIpAddressLimitExceeded",
    "private-ip-capacity": "InsufficientFreeAddressesInSubnet",
}
_PLAIN: Final[tuple[tuple[type[compute.ComputeError], str], ...]] = (
    # Before InvalidParameterValue, of which it is a case.
    (MalformedTemplateName, "InvalidLaunchTemplateName.MalformedException"),
    (compute.InvalidParameterValue, "InvalidParameterValue"),
    (compute.MissingParameter, "MissingParameter"),
    (compute.IncorrectInstanceState, "IncorrectInstanceState"),
    (compute.InstanceNotReady, "InvalidInstanceID"),
    (compute.AmbiguousInstance, "InvalidInstanceID"),
    (compute.AddressLimitExceeded, "AddressLimitExceeded"),
    (compute.InsufficientAddressCapacity, "InsufficientAddressCapacity"),
    (compute.IncorrectState, "IncorrectState"),
    (compute.IncorrectModificationState, "IncorrectModificationState"),
    (compute.IdempotentParameterMismatch, "IdempotentParameterMismatch"),
    (compute.KeyAccessDenied, "UnauthorizedOperation"),
    (compute.OperationNotPermitted, "OperationNotPermitted"),
    (compute.ParameterCombination, "InvalidParameterCombination"),
    (compute.InsufficientCidrBlocks, "InsufficientCidrBlocks"),
    (compute.InvalidStateTransition, "InvalidStateTransition"),
    (compute.PeeringExists, "VpcPeeringConnectionAlreadyExists"),
    (compute.ReservedName, "InvalidGroup.Reserved"),
    (compute.CannotDelete, "CannotDelete"),
    (compute.InsufficientCapacity, "InsufficientInstanceCapacity"),
    (compute.InstanceLimitExceeded, "InstanceLimitExceeded"),
    (compute.MaxSpotInstanceCountExceeded, "MaxSpotInstanceCountExceeded"),
    (compute.SpotMaxPriceTooLow, "SpotMaxPriceTooLow"),
    (compute.ResourceLimitExceeded, "ResourceLimitExceeded"),
    (compute.PrefixListVersionMismatch, "PrefixListVersionMismatch"),
    (compute.PrefixListModification, "InvalidPrefixListModification"),
    (compute.PrefixListMaxEntriesExceeded, "PrefixListMaxEntriesExceeded"),
    (compute.RulesLimitExceeded, "RulesPerSecurityGroupLimitExceeded"),
    (compute.InvalidBlockDeviceMapping, "InvalidBlockDeviceMapping"),
    (compute.CidrConflict, "InvalidSubnet.Conflict"),
    (compute.AlreadyAssociated, "Resource.AlreadyAssociated"),
    (compute.GatewayNotAttached, "Gateway.NotAttached"),
    (compute.RouteExists, "RouteAlreadyExists"),
    (compute.DuplicateSubnetsInSameZone, "DuplicateSubnetsInSameZone"),
    (compute.AclEntryExists, "NetworkAclEntryAlreadyExists"),
    (compute.DifferentNetworks, "InvalidParameter"),
    (compute.NoDefaultVpc, "VPCIdNotSpecified"),
    (compute.NoDefaultSubnet, "MissingInput"),
    (compute.DefaultVpcExists, "DefaultVpcAlreadyExists"),
    (compute.DefaultVpcMissing, "DefaultVpcDoesNotExist"),
    (compute.DefaultSubnetExists, "DefaultSubnetAlreadyExistsInAvailabilityZone"),
    (compute.Unsupported, "UnsupportedOperation"),
    (compute.AttachmentLimitExceeded, "AttachmentLimitExceeded"),
    (compute.InvalidInstanceAttributeValue, "InvalidInstanceAttributeValue"),
    (compute.ImportFailed, "InvalidParameterValue"),
    # The host failed (logged by the service with its cause): a server error, said plainly.
    (compute.HypervisorFailed, "InternalError"),
)
# SigV4's checks speak S3's vocabulary; EC2 names the same failures its way.
_FROM_SIGV4: Final = {
    "RequestTimeTooSkewed": "RequestExpired",
    "SignatureDoesNotMatch": "SignatureDoesNotMatch",
}


def to_ec2_error(exc: AndromedeError) -> Ec2Error | None:
    """The wire error for a domain or authentication error; None for unexpected ones (the app
    answers InternalError with the request id only)."""
    if isinstance(exc, Ec2Error):
        return exc
    message = str(exc) or None
    if isinstance(exc, compute.NotFound):
        return Ec2Error(_NOT_FOUND.get(exc.kind, "InvalidParameterValue"), message)
    if isinstance(exc, compute.InvalidId):
        return Ec2Error(_MALFORMED.get(exc.kind, "InvalidID"), message)
    if isinstance(exc, compute.Duplicate):
        return Ec2Error(_DUPLICATE.get(exc.kind, "InvalidParameterValue"), message)
    if isinstance(exc, compute.ResourceInUse):
        return Ec2Error(_IN_USE.get(exc.kind, "IncorrectState"), message)
    if isinstance(exc, compute.InvalidRange):
        return Ec2Error(_RANGE[exc.kind], message)
    if isinstance(exc, compute.NetworkLimitExceeded):
        return Ec2Error(_LIMIT[exc.kind], message)
    if isinstance(exc, compute.ManagedResource):
        # EC2 sends this AuthFailure with a 400, not the 401 of a failed signature.
        managed = Ec2Error("AuthFailure", message)
        managed.status = 400
        return managed
    for domain, code in _PLAIN:
        if isinstance(exc, domain):
            return Ec2Error(code, message)
    if isinstance(exc, MalformedQuery):
        return Ec2Error("InvalidParameterValue", "The parameters are not valid form encoding")
    if isinstance(exc, SigV4Error):
        code = _FROM_SIGV4.get(exc.code, "AuthFailure")
        if exc.code == "RequestTimeTooSkewed":
            # botocore recognises clock skew by this wording and corrects its clock.
            return Ec2Error(code, f"Signature expired: {exc.message}")
        return Ec2Error(code, None if code != "AuthFailure" else exc.message)
    if isinstance(exc, iam_errors.ExpiredToken):
        return Ec2Error("RequestExpired", "The security token included in the request is expired")
    if isinstance(exc, iam_errors.InvalidAccessKeyId):
        return Ec2Error("AuthFailure")
    if isinstance(exc, iam_errors.AccessDenied):
        return Ec2Error("UnauthorizedOperation", message)
    return None
