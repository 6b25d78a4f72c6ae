"""Compute's domain errors. No HTTP here: ``andromede.ec2api.errors`` maps each to EC2's code.

::

    ComputeError
    ├── InvalidParameterValue        a value out of its domain (CIDR, user data, instance type…)
    ├── MissingParameter
    ├── InvalidId                    a malformed id (i-…, ami-…)
    ├── NotFound                     no such resource visible to the caller
    │   ├── NoModification           a volume named that was never modified
    │   ├── GroupInAnotherNetwork    a rule naming a group of another VPC than its own
    │   ├── RouteNotFound            no route to that destination in the table
    │   └── AclEntryNotFound         no network ACL entry of that direction and number
    ├── Duplicate                    a name already taken (key pair, security group)
    ├── IdempotentParameterMismatch  a client token reused with other parameters
    ├── IncorrectInstanceState       the lifecycle refuses the event
    ├── InstanceNotReady             an instance still pending (EC2 says ``InvalidInstanceID``)
    ├── AmbiguousInstance            an instance named where one of its several interfaces is
    │                                meant (EC2 says ``InvalidInstanceID``)
    ├── IncorrectState               a volume or snapshot in the wrong state for the call
    │   └── KeyUnusable              its KMS key is disabled, pending deletion or deleted
    ├── IncorrectModificationState   a volume whose last modification has not completed
    ├── PrefixListVersionMismatch    a managed prefix list changed since the version named
    ├── PrefixListModification       entries to remove it lacks, to add it holds, a bad size
    ├── PrefixListMaxEntriesExceeded more entries than the list's MaxEntries
    ├── RulesLimitExceeded           a security group's rules (a prefix list's MaxEntries each)
    ├── KeyAccessDenied              the caller may not encrypt volumes under that KMS key
    ├── ResourceInUse                deleting what something still uses
    ├── ManagedResource              an Elastic IP or interface a NAT gateway holds
    ├── ReservedName                 a name the platform keeps (the "default" security group)
    ├── CannotDelete                 deleting what exists as long as its parent (default group)
    ├── OperationNotPermitted        a call no state allows (detaching a root volume…)
    ├── InvalidStateTransition       a VPC peering connection's state refuses the call
    ├── PeeringExists                a VPC peering connection of the same two VPCs already
    ├── InsufficientCapacity         no host has room
    ├── InstanceLimitExceeded        the tenant's quota is reached
    ├── MaxSpotInstanceCountExceeded the tenant's quota of Spot Instance requests is reached
    ├── SpotMaxPriceTooLow           a Spot launch's maximum price below the Spot price
    ├── ResourceLimitExceeded        too many launch templates, or versions of one
    ├── NetworkLimitExceeded         too many VPCs, subnets, gateways, tables, routes, ACLs
    ├── AddressLimitExceeded         the tenant's Elastic IP quota is reached
    ├── InsufficientAddressCapacity  every address of the region's pool is held
    ├── AlreadyAssociated            a gateway attached, a subnet associated already
    ├── GatewayNotAttached           detaching a gateway from a VPC it is not attached to
    ├── RouteExists                  a route to that destination in the table already
    ├── AclEntryExists               a network ACL entry of that direction and number already
    ├── InvalidRange                 a VPC's or subnet's CIDR of a size or place refused
    ├── CidrConflict                 a subnet's CIDR overlapping another of its VPC
    │   └── NoFreeDefaultBlock       no /20 of the default VPC left for a default subnet
    ├── DifferentNetworks            a security group of another VPC than the subnet's
    ├── NoDefaultVpc                 no VPC named, and the tenant deleted its default one
    ├── NoDefaultSubnet              no subnet named, and the default VPC has no default subnet
    ├── DefaultVpcExists             CreateDefaultVpc while the tenant has a default VPC
    ├── DefaultVpcMissing            CreateDefaultSubnet while the tenant has no default VPC
    ├── DefaultSubnetExists          CreateDefaultSubnet in a zone that has its default subnet
    ├── Unsupported                  a call this platform does not do yet (an ACL's protocol…)
    ├── ImportFailed                 an image could not be read from the tenant's bucket
    └── HypervisorFailed             the host refused or failed an operation
        └── HostUnreachable          the host did not answer (its instances stay as recorded)
"""

from __future__ import annotations

from andromede.errors import AndromedeError

__all__ = [
    "AclEntryExists",
    "AclEntryNotFound",
    "AddressLimitExceeded",
    "AlreadyAssociated",
    "CannotDelete",
    "CidrConflict",
    "ComputeError",
    "DefaultSubnetExists",
    "DefaultVpcExists",
    "DefaultVpcMissing",
    "DifferentNetworks",
    "Duplicate",
    "DuplicateSubnetsInSameZone",
    "GatewayNotAttached",
    "GroupInAnotherNetwork",
    "HostUnreachable",
    "HypervisorFailed",
    "IdempotentParameterMismatch",
    "ImportFailed",
    "IncorrectInstanceState",
    "IncorrectModificationState",
    "IncorrectState",
    "InstanceLimitExceeded",
    "InstanceNotReady",
    "InsufficientAddressCapacity",
    "InsufficientCapacity",
    "InsufficientCidrBlocks",
    "InvalidId",
    "InvalidParameterValue",
    "InvalidRange",
    "InvalidStateTransition",
    "KeyAccessDenied",
    "KeyUnusable",
    "ManagedResource",
    "MissingParameter",
    "NetworkLimitExceeded",
    "NoDefaultSubnet",
    "NoDefaultVpc",
    "NoFreeDefaultBlock",
    "NoModification",
    "NotFound",
    "OperationNotPermitted",
    "ParameterCombination",
    "PeeringExists",
    "PrefixListMaxEntriesExceeded",
    "PrefixListModification",
    "PrefixListVersionMismatch",
    "ReservedName",
    "ResourceInUse",
    "ResourceLimitExceeded",
    "RouteExists",
    "RouteNotFound",
    "RulesLimitExceeded",
    "Unsupported",
]


class ComputeError(AndromedeError):
    """Root of the compute context's errors."""


class InvalidParameterValue(ComputeError):
    pass


class MissingParameter(ComputeError):
    pass


class InvalidId(ComputeError):
    """A malformed resource id; ``kind`` is its prefix (``i``, ``ami``, ``vol``…)."""

    def __init__(self, kind: str, value: str) -> None:
        self.kind = kind
        self.value = value
        super().__init__(f'Invalid id: "{value[:64]}"')


class NotFound(ComputeError):
    """No such resource for this tenant (another tenant's resources are not found either)."""

    def __init__(self, kind: str, value: str) -> None:
        self.kind = kind
        self.value = value
        super().__init__(f"The {_NOUNS.get(kind, 'resource')} '{value[:128]}' does not exist")


class NoModification(NotFound):
    """DescribeVolumesModifications naming a volume of the caller's that was never modified."""

    def __init__(self, volume_id: str) -> None:
        super().__init__("volume-modification", volume_id)
        self.args = (f"Modification for volume '{volume_id[:128]}' does not exist.",)


class GroupInAnotherNetwork(NotFound):
    """A rule naming a security group of another VPC than the group it is added to: EC2
    answers InvalidGroup.NotFound, in its own words."""

    def __init__(self, group_id: str) -> None:
        super().__init__("sg", group_id)
        self.args = ("You have specified two resources that belong to different networks.",)


class Duplicate(ComputeError):
    def __init__(self, kind: str, value: str) -> None:
        self.kind = kind
        self.value = value
        super().__init__(f"The {_NOUNS.get(kind, 'resource')} '{value[:128]}' already exists")


class IdempotentParameterMismatch(ComputeError):
    """A client token already used for a request with other parameters."""


class IncorrectInstanceState(ComputeError):
    def __init__(self, instance_id: str, state: str, event: str, message: str = "") -> None:
        self.instance_id = instance_id
        self.state = state
        verb = _PAST.get(event, event)
        super().__init__(
            message
            or f"The instance '{instance_id}' is not in a state from which it can be {verb}."
        )


class InstanceNotReady(ComputeError):
    """A call an instance still pending cannot take yet (associating an Elastic IP): EC2's
    ``InvalidInstanceID``, whose "pending instance" message clients such as Terraform retry."""


class AmbiguousInstance(ComputeError):
    """An instance named where one interface is meant (a route's target, an Elastic IP's)
    while it has several: EC2's ``InvalidInstanceID``."""


class IncorrectState(ComputeError):
    pass


class IncorrectModificationState(ComputeError):
    """ModifyVolume on a volume whose previous modification is still under way."""


class KeyUnusable(IncorrectState):
    """A volume's or snapshot's KMS key cannot be used now (disabled, pending deletion, its
    material expired or destroyed): EC2's ``Client.InvalidKMSKey.InvalidState``."""


class KeyAccessDenied(ComputeError):
    """The caller is not allowed to make volumes under the KMS key it named, or to read
    another account's snapshot (of an image shared with it) under that account's key."""


class ResourceInUse(ComputeError):
    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        super().__init__(message)


class OperationNotPermitted(ComputeError):
    pass


class InsufficientCidrBlocks(ComputeError):
    """Every /56 of the operator's IPv6 pool is given out (decision 0217): EC2's
    ``InsufficientCidrBlocks``."""

    def __init__(self) -> None:
        super().__init__("There are not enough free Cidr blocks in the specified pool.")


class ParameterCombination(ComputeError):
    """Parameters EC2 refuses together (``InvalidParameterCombination``): IPv6 addresses
    named and counted in one request (decision 0217)."""


class InvalidStateTransition(ComputeError):
    """Accepting, rejecting or deleting a VPC peering connection whose state does not allow
    it (decision 0139)."""

    def __init__(self, peering_id: str, state: str, target: str) -> None:
        super().__init__(
            f"Invalid state transition for {peering_id}, attempted to transition from "
            f"{state} to {target}"
        )


class PeeringExists(ComputeError):
    """A VPC peering connection of the same two VPCs, pending or active, already."""


class ManagedResource(ComputeError):
    """Moving, disassociating or releasing an Elastic IP a NAT gateway holds, or using its
    interface (decision 0129): EC2 answers ``AuthFailure`` "You do not have permission to
    access the specified resource." with a 400, whatever the caller's permissions."""

    def __init__(self) -> None:
        super().__init__("You do not have permission to access the specified resource.")


class ReservedName(ComputeError):
    pass


class CannotDelete(ComputeError):
    pass


class InsufficientCapacity(ComputeError):
    pass


class InstanceLimitExceeded(ComputeError):
    pass


class ResourceLimitExceeded(ComputeError):
    pass


class MaxSpotInstanceCountExceeded(ComputeError):
    """The tenant's quota of Spot Instance requests (decision 0202)."""


class SpotMaxPriceTooLow(ComputeError):
    """A Spot launch whose maximum price is below the current Spot price (decision 0202)."""


class PrefixListVersionMismatch(ComputeError):
    """A managed prefix list's change naming a current version it has moved past (decision
    0149): EC2's ``PrefixListVersionMismatch``, on which Terraform reads the list again."""


class PrefixListModification(ComputeError):
    """A managed prefix list's change it cannot take: an entry to remove it does not hold, one
    to add that it holds, a size below its entries: EC2's ``InvalidPrefixListModification``."""


class PrefixListMaxEntriesExceeded(ComputeError):
    """More entries than the list's ``MaxEntries``: EC2's ``PrefixListMaxEntriesExceeded``."""


class RulesLimitExceeded(ComputeError):
    """A security group's rules in one direction past the quota, a prefix list's reference
    weighing its ``MaxEntries`` (decision 0149): EC2's ``RulesPerSecurityGroupLimitExceeded``."""


class AddressLimitExceeded(ComputeError):
    pass


class InsufficientAddressCapacity(ComputeError):
    pass


class NetworkLimitExceeded(ComputeError):
    """The tenant's VPC, internet gateway or NAT gateway quota, a VPC's subnet, route table or
    network ACL quota, a table's route quota, an ACL's entry quota or a VPC's active peering
    quota is reached; ``kind`` is ``vpc``, ``subnet``, ``igw``, ``nat``, ``rtb``, ``route``,
    ``acl``, ``acl-entry``, ``pcx`` or ``dopt``."""

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        super().__init__(message)


class AlreadyAssociated(ComputeError):
    """An internet gateway attached already, or a subnet associated explicitly with a route
    table already: EC2's ``Resource.AlreadyAssociated``."""


class GatewayNotAttached(ComputeError):
    """Detaching an internet gateway from a VPC it is not attached to."""


class RouteExists(ComputeError):
    """A route table holding a route to that destination already."""


class DuplicateSubnetsInSameZone(ComputeError):
    """Two subnets of one Availability Zone for an Interface endpoint (decision 0166)."""


class RouteNotFound(NotFound):
    """No route to that destination in the table: EC2's ``InvalidRoute.NotFound``."""

    def __init__(
        self, destination: str, route_table_id: str, field: str = "destination-cidr-block"
    ) -> None:
        super().__init__("route", destination)
        self.args = (f"no route with {field} {destination} in route table {route_table_id}",)


class AclEntryExists(ComputeError):
    """A network ACL holding an entry of that direction and rule number already: EC2's
    ``NetworkAclEntryAlreadyExists``."""

    def __init__(self, rule_number: int) -> None:
        super().__init__(f"The network acl entry identified by {rule_number} already exists.")


class AclEntryNotFound(NotFound):
    """No entry of that direction and rule number in the ACL: EC2's
    ``InvalidNetworkAclEntry.NotFound``, in its words."""

    def __init__(self, egress: bool, rule_number: int) -> None:
        super().__init__("acl-entry", str(rule_number))
        direction = "egress" if egress else "ingress"
        self.args = (f"no {direction} entry with number {rule_number}",)


class InvalidRange(ComputeError):
    """A CIDR block a VPC (``kind`` ``vpc``) or subnet (``subnet``) cannot have: out of the
    sizes EC2 allows, outside its VPC, or in a range the platform keeps."""

    def __init__(self, kind: str, cidr: str) -> None:
        self.kind = kind
        # EC2 names an IPv6 block so (decision 0217).
        family = "IPv6 CIDR" if ":" in cidr else "CIDR"
        super().__init__(f"The {family} '{cidr[:64]}' is invalid.")


class CidrConflict(ComputeError):
    def __init__(self, cidr: str) -> None:
        super().__init__(f"The CIDR '{cidr[:64]}' conflicts with another subnet")


class NoFreeDefaultBlock(CidrConflict):
    """CreateDefaultSubnet in a default VPC whose every /20 overlaps a subnet of it. EC2
    documents no code of its own for this case: its subnets' ``InvalidSubnet.Conflict``."""

    def __init__(self, vpc_id: str, vpc_cidr: str) -> None:
        ComputeError.__init__(
            self,
            f"No /20 block of {vpc_cidr} is free in the default VPC '{vpc_id}' for a default "
            "subnet: its subnets overlap every one.",
        )


class DifferentNetworks(ComputeError):
    """A security group and a subnet (or an instance) of two different VPCs."""


class NoDefaultVpc(ComputeError):
    """A call that falls back on the default VPC (RunInstances without a subnet,
    CreateSecurityGroup without a VPC) from a tenant that deleted it (decision 0137): EC2's
    ``VPCIdNotSpecified``, in its words."""

    def __init__(self) -> None:
        super().__init__("No default VPC for this user")


class NoDefaultSubnet(ComputeError):
    """RunInstances without a subnet while the default VPC's default subnet was deleted (and
    not made again by CreateDefaultSubnet): EC2's ``MissingInput``, in its words."""

    def __init__(self, vpc_id: str) -> None:
        super().__init__(
            f"No subnets found for the default VPC '{vpc_id}'. Please specify a subnet."
        )


class DefaultVpcExists(ComputeError):
    """CreateDefaultVpc while the tenant has a default VPC: EC2's ``DefaultVpcAlreadyExists``,
    in its words."""

    def __init__(self) -> None:
        super().__init__("A Default VPC already exists for this account in this region.")


class DefaultVpcMissing(ComputeError):
    """CreateDefaultSubnet from a tenant that deleted its default VPC (decision 0137): EC2's
    ``DefaultVpcDoesNotExist``. Not :class:`NoDefaultVpc`, which is the code of the calls
    that fall back on the default VPC."""

    def __init__(self) -> None:
        super().__init__(
            "There is no default VPC in which to create a default subnet. "
            "To create a default VPC, use CreateDefaultVpc."
        )


class DefaultSubnetExists(ComputeError):
    """CreateDefaultSubnet in a zone where the default VPC has its default subnet: EC2's
    ``DefaultSubnetAlreadyExistsInAvailabilityZone`` (one default subnet per zone)."""

    def __init__(self, zone: str, subnet_id: str) -> None:
        super().__init__(
            f"A default subnet ({subnet_id}) already exists in availability zone {zone}. "
            "You can have only one default subnet per Availability Zone."
        )


class Unsupported(ComputeError):
    """What EC2 does and this platform does not yet: refused, never half done."""


class InvalidBlockDeviceMapping(ComputeError):
    """A RunInstances block device mapping EC2 would refuse (a device twice, the root device's
    name on a further volume)."""


class InvalidInstanceAttributeValue(ComputeError):
    """An instance attribute change naming what the instance does not have (a device)."""


class AttachmentLimitExceeded(ComputeError):
    """More volumes on one instance than ``max_volumes_per_instance``."""


class ImportFailed(ComputeError):
    pass


class HypervisorFailed(ComputeError):
    pass


class HostUnreachable(HypervisorFailed):
    """A host's hypervisor did not answer: a driver of the port raises it (or a subclass) so
    the service can leave that host's instances as recorded and place on the others."""


_NOUNS = {
    "i": "instance ID",
    "sir": "Spot Instance request ID",
    "ami": "image id",
    "vol": "volume",
    "snap": "snapshot",
    "sg": "security group",
    "key": "key pair",
    "import-ami": "import task",
    "keyname": "key pair",
    "groupname": "security group",
    "vpc": "vpc ID",
    "subnet": "subnet ID",
    "eni": "network interface",
    "address": "address",
    "instance-profile": "instance profile",
    "iip-assoc": "association",
    "lt": "launch template",
    "lt-name": "launch template name",
    "lt-version": "launch template version",
    "rtb": "routeTable ID",
    "igw": "internetGateway ID",
    "gateway": "gateway ID",
    "rtbassoc": "association ID",
    "nat": "natGateway ID",
    "nat-route": "natGateway ID",
    "pcx": "vpcPeeringConnection ID",
    "dopt": "dhcpOption ID",
    "acl": "networkAcl ID",
    "aclassoc": "association ID",
    "pl": "prefix list ID",
    "pl-rule": "prefix list ID",
    "fl": "flow log ID",
    "fl-config": "flow log for the resource",
    "vpce": "VPC endpoint ID",
    "vpce-service": "VPC endpoint service",
    "vpc-cidr-assoc": "association ID",
    "subnet-cidr-assoc": "association ID",
}
_PAST = {
    "associate": "given an address",
    "start": "started",
    "stop": "stopped",
    "reboot": "rebooted",
    "terminate": "terminated",
}
