"""The tenant-isolation matrix for EC2: every action, aimed at a victim tenant's instance, key
pair, security group, volume, snapshot, image, profile association, launch template, VPC,
subnet, internet gateway, route table, route table association, Elastic IP (associated and
free), network ACL (its entries and its subnet's association), NAT gateway, flow log and VPC
endpoint by another tenant's root user, by an IAM user of the victim's own account that has
no policy, and by an unsigned caller.

Another tenant's root acts only on its own account: it gets an error (the victim's ids are not
found) or an answer about its own account, never the victim's resources. The user without
policy gets UnauthorizedOperation on every action; the unsigned caller gets
MissingAuthenticationToken. None of them changes anything the victim's root reads back. The
recipe table must cover every action (a test checks), so a new action cannot ship without its
isolation case.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from botocore.credentials import Credentials
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from andromede.compute.network import default_ids
from andromede.ec2api.app import ACTIONS
from support.ec2app import ApiError, Client, World, ec2_world
from support.query_wire import Answer

INSTANCE, SG, VOL, SNAP, AMI, ASSOC = "{i}", "{sg}", "{vol}", "{snap}", "{ami}", "{assoc}"
LT = "{lt}"
VPC, SUBNET, RTB, ACL = "{vpc}", "{subnet}", "{rtb}", "{acl}"
IGW, FREE_IGW, CUSTOM_RTB, EMPTY_RTB = "{igw}", "{free-igw}", "{custom-rtb}", "{empty-rtb}"
RTB_ASSOC = "{rtbassoc}"
EIP, FREE_EIP, EIP_ASSOC = "{eipalloc}", "{free-eipalloc}", "{eipassoc}"
OWN_ACL, ACL_ASSOC = "{own-acl}", "{aclassoc}"
NAT = "{nat}"
SGR = "{sgr}"
PCX = "{pcx}"
DOPT, FREE_DOPT = "{dopt}", "{free-dopt}"
PL = "{pl}"
FL = "{fl}"
VPCE = "{vpce}"
ENI, ENI_ATTACH = "{eni}", "{eni-attach}"
SIR = "{sir}"
VPC_CIDR_ASSOC, SUBNET_CIDR_ASSOC = "{vpc-cidr-assoc}", "{subnet-cidr-assoc}"
KEY_NAME, GROUP_NAME, IMAGE_NAME = "victim-key", "victim-sg", "victim-image"
TEMPLATE_NAME = "victim-template"
RULE = [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
ROOT_DEVICE = [{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": SNAP}}]
PUBLIC_KEY = (
    ed25519.Ed25519PrivateKey.generate()
    .public_key()
    .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
)
TRUST_EC2 = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)

RECIPES: dict[str, dict[str, Any]] = {
    # Spot (decision 0202): the victim's request waits for capacity (an m5.large fits no more).
    "RequestSpotInstances": {"LaunchSpecification": {"ImageId": AMI, "InstanceType": "t3.nano"}},
    "DescribeSpotInstanceRequests": {"SpotInstanceRequestIds": [SIR]},
    "CancelSpotInstanceRequests": {"SpotInstanceRequestIds": [SIR]},
    "DescribeSpotPriceHistory": {},
    # Elastic network interfaces (decision 0161): the victim's attached interface and its
    # instance must be neither found nor changed; the intruder's own would be in its subnet.
    "CreateNetworkInterface": {"SubnetId": SUBNET},
    "DeleteNetworkInterface": {"NetworkInterfaceId": ENI},
    "AttachNetworkInterface": {"NetworkInterfaceId": ENI, "InstanceId": INSTANCE, "DeviceIndex": 2},
    "DetachNetworkInterface": {"AttachmentId": ENI_ATTACH, "Force": True},
    "ModifyNetworkInterfaceAttribute": {
        "NetworkInterfaceId": ENI,
        "Description": {"Value": "intruder"},
    },
    "DescribeNetworkInterfaceAttribute": {"NetworkInterfaceId": ENI, "Attribute": "description"},
    "ResetNetworkInterfaceAttribute": {"NetworkInterfaceId": ENI, "SourceDestCheck": "true"},
    "AssignPrivateIpAddresses": {"NetworkInterfaceId": ENI, "SecondaryPrivateIpAddressCount": 1},
    "UnassignPrivateIpAddresses": {"NetworkInterfaceId": ENI, "PrivateIpAddresses": ["10.9.0.9"]},
    # IPv6 (decision 0217): the victim's VPC, subnet, their blocks and its interface must be
    # neither found nor changed.
    "AssociateVpcCidrBlock": {"VpcId": VPC, "AmazonProvidedIpv6CidrBlock": True},
    "DisassociateVpcCidrBlock": {"AssociationId": VPC_CIDR_ASSOC},
    "AssociateSubnetCidrBlock": {"SubnetId": SUBNET, "Ipv6CidrBlock": "fd00::/64"},
    "DisassociateSubnetCidrBlock": {"AssociationId": SUBNET_CIDR_ASSOC},
    "AssignIpv6Addresses": {"NetworkInterfaceId": ENI, "Ipv6AddressCount": 1},
    "UnassignIpv6Addresses": {"NetworkInterfaceId": ENI, "Ipv6Addresses": ["fd00::9"]},
    # The intruder's own address; the victim's must neither be found nor moved.
    "AllocateAddress": {"Domain": "vpc"},
    "AssociateAddress": {"AllocationId": FREE_EIP, "InstanceId": INSTANCE},
    "AssociateIamInstanceProfile": {"InstanceId": INSTANCE, "IamInstanceProfile": {"Name": "web"}},
    "AssociateRouteTable": {"RouteTableId": CUSTOM_RTB, "SubnetId": SUBNET},
    "AttachInternetGateway": {"InternetGatewayId": FREE_IGW, "VpcId": VPC},
    "AttachVolume": {"VolumeId": VOL, "InstanceId": INSTANCE, "Device": "/dev/sdf"},
    "AuthorizeSecurityGroupEgress": {"GroupId": SG, "IpPermissions": RULE},
    "AuthorizeSecurityGroupIngress": {"GroupId": SG, "IpPermissions": RULE},
    # The intruder's copy would be its own; the victim's source must not be found.
    "CopyImage": {"SourceImageId": AMI, "SourceRegion": "eu-fr-1", "Name": IMAGE_NAME},
    "CopySnapshot": {"SourceSnapshotId": SNAP, "SourceRegion": "eu-fr-1"},
    # The victim's instance must not be found, nor its volumes snapshotted.
    "CreateImage": {"InstanceId": INSTANCE, "Name": "intruder-image"},
    # The intruder's own gateway; the victim's VPC must not be found to attach it to.
    "CreateInternetGateway": {},
    "CreateKeyPair": {"KeyName": KEY_NAME},
    # The victim's subnet must not be found, nor its free address taken.
    "CreateNatGateway": {"SubnetId": SUBNET, "AllocationId": FREE_EIP},
    # The intruder's ACL would be its own; the victim's VPC must not take it.
    "CreateNetworkAcl": {"VpcId": VPC},
    "CreateNetworkAclEntry": {
        "NetworkAclId": OWN_ACL,
        "RuleNumber": 90,
        "Protocol": "-1",
        "RuleAction": "deny",
        "Egress": False,
        "CidrBlock": "0.0.0.0/0",
    },
    "CreateLaunchTemplate": {
        "LaunchTemplateName": TEMPLATE_NAME,
        "LaunchTemplateData": {"ImageId": AMI, "KeyName": KEY_NAME},
    },
    "CreateLaunchTemplateVersion": {
        "LaunchTemplateId": LT,
        "SourceVersion": "1",
        "LaunchTemplateData": {"InstanceType": "t3.micro"},
    },
    "CreateRoute": {
        "RouteTableId": RTB,
        "DestinationCidrBlock": "192.0.2.0/24",
        "GatewayId": IGW,
    },
    "CreateRouteTable": {"VpcId": VPC},
    "CreateSecurityGroup": {"GroupName": GROUP_NAME, "Description": "mine"},
    "CreateSnapshot": {"VolumeId": VOL},
    # The intruder's own VPC; the victim's must not take a subnet of it.
    "CreateSubnet": {"VpcId": VPC, "CidrBlock": "10.9.1.0/24"},
    "CreateTags": {"Resources": [INSTANCE, VOL], "Tags": [{"Key": "owner", "Value": "intruder"}]},
    "CreateVolume": {"Size": 1, "AvailabilityZone": "eu-fr-1a"},
    "CreateVpc": {"CidrBlock": "10.9.0.0/16"},
    # The intruder's own default VPC exists: DefaultVpcAlreadyExists, about its account.
    "CreateDefaultVpc": {},
    # The intruder's own default subnet exists: DefaultSubnetAlreadyExistsInAvailabilityZone.
    "CreateDefaultSubnet": {"AvailabilityZone": "eu-fr-1a"},
    "DeleteInternetGateway": {"InternetGatewayId": FREE_IGW},
    "DeleteNatGateway": {"NatGatewayId": NAT},
    # A peering request to the victim's VPC from the intruder's own is EC2's way to ask: the
    # intruder names the victim's VPC as its own, which must not be found.
    "CreateVpcPeeringConnection": {"VpcId": VPC, "PeerVpcId": VPC},
    "AcceptVpcPeeringConnection": {"VpcPeeringConnectionId": PCX},
    "RejectVpcPeeringConnection": {"VpcPeeringConnectionId": PCX},
    "DeleteVpcPeeringConnection": {"VpcPeeringConnectionId": PCX},
    "DescribeVpcPeeringConnections": {"VpcPeeringConnectionIds": [PCX]},
    "ModifyVpcPeeringConnectionOptions": {
        "VpcPeeringConnectionId": PCX,
        "RequesterPeeringConnectionOptions": {"AllowDnsResolutionFromRemoteVpc": True},
    },
    # The intruder's own set made; the victim's VPC must not take it, nor lose its set.
    "CreateDhcpOptions": {"DhcpConfigurations": [{"Key": "domain-name", "Values": ["x.test"]}]},
    "DescribeDhcpOptions": {"DhcpOptionsIds": [DOPT]},
    "DeleteDhcpOptions": {"DhcpOptionsId": FREE_DOPT},
    "AssociateDhcpOptions": {"DhcpOptionsId": FREE_DOPT, "VpcId": VPC},
    # Managed prefix lists (decision 0149): the intruder's own list made; the victim's, at
    # version 2, must not be found, read, changed, restored nor deleted.
    "CreateManagedPrefixList": {
        "PrefixListName": "victim-list",
        "AddressFamily": "IPv4",
        "MaxEntries": 5,
    },
    "DescribeManagedPrefixLists": {"PrefixListIds": [PL]},
    "GetManagedPrefixListEntries": {"PrefixListId": PL, "TargetVersion": 1},
    "GetManagedPrefixListAssociations": {"PrefixListId": PL},
    "ModifyManagedPrefixList": {
        "PrefixListId": PL,
        "CurrentVersion": 2,
        "AddEntries": [{"Cidr": "0.0.0.0/0"}],
    },
    "RestoreManagedPrefixListVersion": {
        "PrefixListId": PL,
        "PreviousVersion": 1,
        "CurrentVersion": 2,
    },
    "DeleteManagedPrefixList": {"PrefixListId": PL},
    # VPC flow logs (decision 0153): the victim's VPC is not the intruder's to record (an
    # unsuccessful item), its flow log not found, listed nor deleted.
    "CreateFlowLogs": {
        "ResourceType": "VPC",
        "ResourceIds": [VPC],
        "TrafficType": "ALL",
        "LogDestinationType": "s3",
        "LogDestination": "arn:aws:s3:::intruder-bucket",
    },
    "DescribeFlowLogs": {"FlowLogIds": [FL]},
    "DeleteFlowLogs": {"FlowLogIds": [FL]},
    "DescribePrefixLists": {"PrefixListIds": [PL]},
    # VPC gateway endpoints (decision 0160): the victim's VPC and tables are not the
    # intruder's to route, its endpoint not found, changed nor deleted.
    "CreateVpcEndpoint": {
        "VpcId": VPC,
        "ServiceName": "com.amazonaws.eu-fr-1.s3",
        "RouteTableIds": [CUSTOM_RTB],
    },
    "DescribeVpcEndpoints": {"VpcEndpointIds": [VPCE]},
    "ModifyVpcEndpoint": {
        "VpcEndpointId": VPCE,
        "RemoveRouteTableIds": [CUSTOM_RTB],
        "ResetPolicy": True,
    },
    "DeleteVpcEndpoints": {"VpcEndpointIds": [VPCE]},
    "DescribeVpcEndpointServices": {},
    "DeleteKeyPair": {"KeyName": KEY_NAME},
    "DeleteLaunchTemplate": {"LaunchTemplateId": LT},
    "DeleteLaunchTemplateVersions": {"LaunchTemplateId": LT, "Versions": ["2"]},
    "DeleteNetworkAcl": {"NetworkAclId": OWN_ACL},
    "DeleteNetworkAclEntry": {"NetworkAclId": OWN_ACL, "RuleNumber": 100, "Egress": False},
    # The victim's route to its prefix list (decision 0149's addendum).
    "DeleteRoute": {"RouteTableId": CUSTOM_RTB, "DestinationPrefixListId": PL},
    "DeleteRouteTable": {"RouteTableId": EMPTY_RTB},
    "DeleteSecurityGroup": {"GroupId": SG},
    "DeleteSnapshot": {"SnapshotId": SNAP},
    "DeleteSubnet": {"SubnetId": SUBNET},
    "DeleteTags": {"Resources": [INSTANCE], "Tags": [{"Key": "team"}]},
    "DeleteVolume": {"VolumeId": VOL},
    "DeleteVpc": {"VpcId": VPC},
    "DescribeNatGateways": {"NatGatewayIds": [NAT]},
    "DescribeNetworkAcls": {"NetworkAclIds": [ACL]},
    "DescribeRouteTables": {"RouteTableIds": [RTB]},
    "DescribeVpcAttribute": {"VpcId": VPC, "Attribute": "enableDnsHostnames"},
    "DeregisterImage": {"ImageId": AMI},
    "DescribeAccountAttributes": {},
    "DescribeAddresses": {"AllocationIds": [EIP]},
    "DescribeAddressesAttribute": {"AllocationIds": [EIP], "Attribute": "domain-name"},
    "DescribeAvailabilityZones": {},
    "DescribeIamInstanceProfileAssociations": {"AssociationIds": [ASSOC]},
    "DescribeImages": {"ImageIds": [AMI]},
    "DescribeImageAttribute": {"ImageId": AMI, "Attribute": "launchPermission"},
    "DescribeImportImageTasks": {},
    "DescribeInstanceStatus": {"InstanceIds": [INSTANCE]},
    "DescribeInstanceTypes": {},
    "DescribeInstances": {"InstanceIds": [INSTANCE]},
    "DescribeInternetGateways": {"InternetGatewayIds": [IGW]},
    # The victim's user data is what an intruder would want.
    "DescribeInstanceAttribute": {"InstanceId": INSTANCE, "Attribute": "userData"},
    "DescribeKeyPairs": {"KeyNames": [KEY_NAME]},
    "DescribeLaunchTemplates": {"LaunchTemplateIds": [LT]},
    # The victim's template data (user data, keys) is what an intruder would want.
    "DescribeLaunchTemplateVersions": {"LaunchTemplateId": LT},
    "DescribeNetworkInterfaces": {},
    "DescribeRegions": {},
    "DescribeSecurityGroupRules": {"SecurityGroupRuleIds": [SGR]},
    "DescribeSecurityGroups": {"GroupIds": [SG]},
    "DescribeSnapshots": {"SnapshotIds": [SNAP]},
    "DescribeSubnets": {"SubnetIds": [SUBNET]},
    "DescribeTags": {},
    "DescribeVolumes": {"VolumeIds": [VOL]},
    "DescribeVolumesModifications": {"VolumeIds": [VOL]},
    "DescribeVpcs": {"VpcIds": [VPC]},
    "DetachInternetGateway": {"InternetGatewayId": IGW, "VpcId": VPC},
    "DetachVolume": {"VolumeId": VOL},
    "DisassociateAddress": {"AssociationId": EIP_ASSOC},
    "DisassociateIamInstanceProfile": {"AssociationId": ASSOC},
    "DisassociateRouteTable": {"AssociationId": RTB_ASSOC},
    "GetConsoleOutput": {"InstanceId": INSTANCE},
    "GetInstanceMetadataDefaults": {},
    "GetLaunchTemplateData": {"InstanceId": INSTANCE},
    "ImportImage": {
        "DiskContainers": [{"UserBucket": {"S3Bucket": "victim-bucket", "S3Key": "disk.raw"}}]
    },
    "ImportKeyPair": {"KeyName": KEY_NAME, "PublicKeyMaterial": PUBLIC_KEY},
    "ModifyInstanceAttribute": {"InstanceId": INSTANCE, "Groups": [SG]},
    "ModifyInstanceMetadataOptions": {"InstanceId": INSTANCE, "HttpEndpoint": "disabled"},
    "ModifyInstanceCpuOptions": {"InstanceId": INSTANCE, "CoreCount": 1, "ThreadsPerCore": 1},
    "ModifyInstanceMetadataDefaults": {"HttpTokens": "optional"},
    "ModifyLaunchTemplate": {"LaunchTemplateId": LT, "DefaultVersion": "2"},
    "ModifySubnetAttribute": {"SubnetId": SUBNET, "MapPublicIpOnLaunch": {"Value": True}},
    "ModifyVolume": {"VolumeId": VOL, "Size": 3},
    "ModifyVpcAttribute": {"VpcId": VPC, "EnableDnsHostnames": {"Value": True}},
    "RebootInstances": {"InstanceIds": [INSTANCE]},
    "MonitorInstances": {"InstanceIds": [INSTANCE]},
    "UnmonitorInstances": {"InstanceIds": [INSTANCE]},
    # The intruder must not share the victim's image with itself.
    "ModifyImageAttribute": {
        "ImageId": AMI,
        "LaunchPermission": {"Add": [{"UserId": "999999999999"}]},
    },
    "ResetImageAttribute": {"ImageId": AMI, "Attribute": "launchPermission"},
    "ReleaseAddress": {"AllocationId": FREE_EIP},
    "RegisterImage": {
        "Name": IMAGE_NAME,
        "RootDeviceName": "/dev/xvda",
        "BlockDeviceMappings": ROOT_DEVICE,
    },
    "ReplaceNetworkAclAssociation": {"AssociationId": ACL_ASSOC, "NetworkAclId": ACL},
    "ReplaceNetworkAclEntry": {
        "NetworkAclId": OWN_ACL,
        "RuleNumber": 100,
        "Protocol": "6",
        "RuleAction": "deny",
        "Egress": False,
        "CidrBlock": "0.0.0.0/0",
        "PortRange": {"From": 22, "To": 22},
    },
    "ReplaceRoute": {
        "RouteTableId": CUSTOM_RTB,
        "DestinationCidrBlock": "0.0.0.0/0",
        "GatewayId": IGW,
    },
    "ReplaceRouteTableAssociation": {"AssociationId": RTB_ASSOC, "RouteTableId": RTB},
    "RevokeSecurityGroupEgress": {"GroupId": SG, "IpPermissions": RULE},
    "RevokeSecurityGroupIngress": {"GroupId": SG, "IpPermissions": RULE},
    # By the victim's rule id (decision 0146): not found, not revoked.
    "ModifySecurityGroupRules": {
        "GroupId": SG,
        "SecurityGroupRules": [
            {
                "SecurityGroupRuleId": SGR,
                "SecurityGroupRule": {"IpProtocol": "-1", "CidrIpv4": "0.0.0.0/0"},
            }
        ],
    },
    "UpdateSecurityGroupRuleDescriptionsEgress": {
        "GroupId": SG,
        "SecurityGroupRuleDescriptions": [{"SecurityGroupRuleId": SGR, "Description": "x"}],
    },
    "UpdateSecurityGroupRuleDescriptionsIngress": {
        "GroupId": SG,
        "SecurityGroupRuleDescriptions": [{"SecurityGroupRuleId": SGR, "Description": "x"}],
    },
    "RunInstances": {
        "ImageId": AMI,
        "MinCount": 1,
        "MaxCount": 1,
        "KeyName": KEY_NAME,
        "SecurityGroupIds": [SG],
    },
    "StartInstances": {"InstanceIds": [INSTANCE]},
    "StopInstances": {"InstanceIds": [INSTANCE]},
    "TerminateInstances": {"InstanceIds": [INSTANCE]},
}


def test_every_action_has_an_isolation_case() -> None:
    assert set(RECIPES) == set(ACTIONS)


@dataclass
class Victim:
    world: World
    ids: dict[str, str]

    def fill(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.ids.get(value, value)
        if isinstance(value, list):
            return [self.fill(item) for item in value]
        if isinstance(value, dict):
            return {name: self.fill(item) for name, item in value.items()}
        return value

    async def snapshot(self) -> list[Answer]:
        """Everything a caller could change about the victim's resources, read by its root."""
        reads: list[tuple[str, dict[str, Any]]] = [
            ("DescribeInstances", {}),
            ("DescribeKeyPairs", {}),
            ("DescribeSecurityGroups", {}),
            ("DescribeSecurityGroupRules", {}),
            ("DescribeVolumes", {}),
            ("DescribeVolumesModifications", {}),
            ("DescribeSnapshots", {"OwnerIds": ["self"]}),
            ("DescribeImages", {"Owners": ["self"]}),
            ("DescribeTags", {}),
            ("DescribeIamInstanceProfileAssociations", {}),
            ("DescribeLaunchTemplates", {}),
            ("DescribeVpcs", {}),
            ("DescribeSubnets", {}),
            ("DescribeRouteTables", {}),
            ("DescribeInternetGateways", {}),
            ("DescribeNetworkAcls", {}),
            ("DescribeAddresses", {}),
            ("DescribeNatGateways", {}),
            ("DescribeVpcPeeringConnections", {}),
            ("DescribeDhcpOptions", {}),
            ("DescribeManagedPrefixLists", {}),
            ("DescribeFlowLogs", {}),
            ("DescribeVpcEndpoints", {}),
            ("DescribeNetworkInterfaces", {}),
            ("GetManagedPrefixListEntries", {"PrefixListId": self.ids[PL]}),
            ("GetManagedPrefixListAssociations", {"PrefixListId": self.ids[PL]}),
            ("DescribeAccountAttributes", {"AttributeNames": ["default-vpc"]}),
            ("DescribeVpcAttribute", {"VpcId": self.ids[VPC], "Attribute": "enableDnsHostnames"}),
            ("DescribeLaunchTemplateVersions", {"Versions": ["$Latest", "$Default"]}),
            ("DescribeSpotInstanceRequests", {}),
        ]
        state = []
        for action, params in reads:
            answer = await self.world.root.send(action, **params)
            if answer.status >= 300:
                raise ApiError(answer.status, answer.parsed().get("Error", {}))
            state.append(answer)
        return state


def assert_unchanged(before: list[Answer], after: list[Answer]) -> None:
    """The victim's state read ``after`` is the one read ``before``, as boto3 reads it. Answers
    the same bytes (but their request ids) parse the same, so only answers that differ are
    parsed and compared: a caller's change fails here, and the parse, most of a snapshot's
    CPU, is spent only then."""
    if [answer.content() for answer in after] != [answer.content() for answer in before]:
        assert _parsed(after) == _parsed(before)


def _parsed(state: list[Answer]) -> list[Any]:
    parsed = [answer.parsed() for answer in state]
    for answer in parsed:
        answer.pop("ResponseMetadata", None)
    return parsed


async def build_victim(world: World) -> Victim:
    """The victim's resources, one of each kind an action can name, in ``world``."""
    c, tenant, identity = world.root, world.tenant_id, world.identity
    await identity.create_role(tenant, "web-role", TRUST_EC2)
    await identity.create_instance_profile(tenant, "web")
    await identity.add_role_to_instance_profile(tenant, "web", "web-role")
    group = await c.call("CreateSecurityGroup", GroupName=GROUP_NAME, Description="victim")
    # A rule of its own, tagged: it may be changed, revoked or tagged by its id.
    authorised = await c.call(
        "AuthorizeSecurityGroupIngress",
        GroupId=group["GroupId"],
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                        "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}],
        TagSpecifications=[
            {"ResourceType": "security-group-rule", "Tags": [{"Key": "team", "Value": "a"}]}
        ],
    )  # fmt: skip
    rule_id = authorised["SecurityGroupRules"][0]["SecurityGroupRuleId"]
    # Imported, not created: CreateKeyPair makes an RSA key, 50 ms for each of these cases.
    await c.call("ImportKeyPair", KeyName=KEY_NAME, PublicKeyMaterial=PUBLIC_KEY)
    run = await c.call(
        "RunInstances",
        ImageId=world.image.image_id,
        InstanceType="t3.nano",
        MinCount=1,
        MaxCount=1,
        IamInstanceProfile={"Name": "web"},
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "team", "Value": "a"}]}],
    )
    instance = run["Instances"][0]["InstanceId"]
    await world.compute.settle()
    volume = (await c.call("CreateVolume", Size=1, AvailabilityZone="eu-fr-1a"))["VolumeId"]
    # Grown once: its modification is the victim's to describe, and nobody else's.
    await c.call("ModifyVolume", VolumeId=volume, Size=2)
    snapshot = (await c.call("CreateSnapshot", VolumeId=volume))["SnapshotId"]
    image = await c.call(
        "RegisterImage",
        Name=IMAGE_NAME,
        RootDeviceName="/dev/xvda",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snapshot}}],
    )
    [association] = (await c.call("DescribeIamInstanceProfileAssociations"))[
        "IamInstanceProfileAssociations"
    ]
    # A template of two versions, its default the first: each may be changed or deleted.
    template = await c.call(
        "CreateLaunchTemplate",
        LaunchTemplateName=TEMPLATE_NAME,
        LaunchTemplateData={
            "ImageId": world.image.image_id,
            "KeyName": KEY_NAME,
            "UserData": "c2VjcmV0",
        },
    )
    template_id = template["LaunchTemplate"]["LaunchTemplateId"]
    await c.call(
        "CreateLaunchTemplateVersion",
        LaunchTemplateId=template_id,
        LaunchTemplateData={"InstanceType": "t3.micro"},
    )
    # A VPC of its own with a subnet holding nothing: the subnet could be deleted.
    vpc = (await c.call("CreateVpc", CidrBlock="10.9.0.0/16"))["Vpc"]["VpcId"]
    subnet = await c.call("CreateSubnet", VpcId=vpc, CidrBlock="10.9.0.0/24")
    vpc_only = [{"Name": "vpc-id", "Values": [vpc]}]
    # An IPv6 /56 on the VPC and its first /64 on the subnet (decision 0217): each may go.
    vpc_ipv6 = (await c.call("AssociateVpcCidrBlock", VpcId=vpc, AmazonProvidedIpv6CidrBlock=True))[
        "Ipv6CidrBlockAssociation"
    ]
    subnet_ipv6 = (
        await c.call(
            "AssociateSubnetCidrBlock", SubnetId=subnet["Subnet"]["SubnetId"],
            Ipv6CidrBlock=vpc_ipv6["Ipv6CidrBlock"].replace("/56", "/64"),
        )
    )["Ipv6CidrBlockAssociation"]  # fmt: skip
    [table] = (await c.call("DescribeRouteTables", Filters=vpc_only))["RouteTables"]
    [acl] = (await c.call("DescribeNetworkAcls", Filters=vpc_only))["NetworkAcls"]
    # Its gateway attached, another detached; a table of its own routing to the gateway,
    # associated with a second subnet; and an empty table: each may be changed or deleted.
    gateway = (await c.call("CreateInternetGateway"))["InternetGateway"]["InternetGatewayId"]
    await c.call("AttachInternetGateway", InternetGatewayId=gateway, VpcId=vpc)
    free_gateway = (await c.call("CreateInternetGateway"))["InternetGateway"]["InternetGatewayId"]
    custom = (await c.call("CreateRouteTable", VpcId=vpc))["RouteTable"]["RouteTableId"]
    await c.call(
        "CreateRoute", RouteTableId=custom, DestinationCidrBlock="0.0.0.0/0", GatewayId=gateway
    )
    second = await c.call("CreateSubnet", VpcId=vpc, CidrBlock="10.9.2.0/24")
    association = await c.call(
        "AssociateRouteTable", RouteTableId=custom, SubnetId=second["Subnet"]["SubnetId"]
    )
    empty = (await c.call("CreateRouteTable", VpcId=vpc))["RouteTable"]["RouteTableId"]
    # An Elastic IP on the instance, and one held free: each may be moved or released.
    address = (await c.call("AllocateAddress", Domain="vpc"))["AllocationId"]
    address_association = await c.call(
        "AssociateAddress", AllocationId=address, InstanceId=instance
    )
    free_address = (await c.call("AllocateAddress", Domain="vpc"))["AllocationId"]
    # An ACL of its own with an entry, the second subnet associated with it: each may be
    # changed, moved back or deleted.
    own_acl = (await c.call("CreateNetworkAcl", VpcId=vpc))["NetworkAcl"]["NetworkAclId"]
    await c.call(
        "CreateNetworkAclEntry", NetworkAclId=own_acl, RuleNumber=100, Protocol="-1",
        RuleAction="allow", Egress=False, CidrBlock="10.0.0.0/8",
    )  # fmt: skip
    second_id = second["Subnet"]["SubnetId"]
    [default_acl] = (
        await c.call(
            "DescribeNetworkAcls",
            Filters=[{"Name": "association.subnet-id", "Values": [second_id]}],
        )
    )["NetworkAcls"]
    [second_association] = [a for a in default_acl["Associations"] if a["SubnetId"] == second_id]
    acl_association = await c.call(
        "ReplaceNetworkAclAssociation",
        AssociationId=second_association["NetworkAclAssociationId"],
        NetworkAclId=own_acl,
    )
    # A NAT gateway in the second subnet, holding a third address: it may be deleted.
    nat = await c.call(
        "CreateNatGateway",
        SubnetId=second_id,
        AllocationId=(await c.call("AllocateAddress", Domain="vpc"))["AllocationId"],
    )
    # A peering request from its VPC to its default one, pending: it may be accepted,
    # rejected or deleted.
    peering = await c.call(
        "CreateVpcPeeringConnection", VpcId=vpc, PeerVpcId=default_ids(tenant).vpc_id
    )
    # A DHCP options set associated with its VPC, and one free: each may be moved or deleted.
    options = [
        (await c.call("CreateDhcpOptions", DhcpConfigurations=[{"Key": k, "Values": v}]))[
            "DhcpOptions"
        ]["DhcpOptionsId"]
        for k, v in (("domain-name", ["victim.test"]), ("ntp-servers", ["192.0.2.123"]))
    ]
    await c.call("AssociateDhcpOptions", DhcpOptionsId=options[0], VpcId=vpc)
    # A managed prefix list at version 2, referenced by its group's egress and routed to by
    # its own table.
    plist = (
        await c.call(
            "CreateManagedPrefixList", PrefixListName="offices", AddressFamily="IPv4",
            MaxEntries=5, Entries=[{"Cidr": "192.0.2.0/24"}],
        )
    )["PrefixList"]["PrefixListId"]  # fmt: skip
    await c.call(
        "ModifyManagedPrefixList", PrefixListId=plist, CurrentVersion=1,
        AddEntries=[{"Cidr": "198.51.100.0/24"}],
    )  # fmt: skip
    await c.call(
        "AuthorizeSecurityGroupEgress", GroupId=group["GroupId"],
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                        "PrefixListIds": [{"PrefixListId": plist}]}],
    )  # fmt: skip
    await c.call(
        "CreateRoute", RouteTableId=custom, DestinationPrefixListId=plist, GatewayId=gateway
    )
    flow_log = (
        await c.call(
            "CreateFlowLogs", ResourceType="VPC", ResourceIds=[vpc], TrafficType="ALL",
            LogDestinationType="s3", LogDestination="arn:aws:s3:::victim-flows",
        )
    )["FlowLogIds"][0]  # fmt: skip
    # A gateway endpoint routed in its own table, with a policy of its own.
    endpoint = (
        await c.call(
            "CreateVpcEndpoint", VpcId=vpc, ServiceName="com.amazonaws.eu-fr-1.s3",
            RouteTableIds=[custom], PolicyDocument=json.dumps({"Statement": [
                {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                 "Resource": "*"}]}),
        )
    )["VpcEndpoint"]["VpcEndpointId"]  # fmt: skip
    # An interface of its own in its subnet, a secondary address on it, attached to its
    # instance at device index 1 with its source/destination check off (decision 0161): each
    # may be detached, deleted or changed.
    eni = (
        await c.call(
            "CreateNetworkInterface", SubnetId=default_ids(tenant).subnet_id,
            Description="victim", SecondaryPrivateIpAddressCount=1,
        )
    )["NetworkInterface"]["NetworkInterfaceId"]  # fmt: skip
    await c.call(
        "ModifyNetworkInterfaceAttribute", NetworkInterfaceId=eni,
        SourceDestCheck={"Value": False},
    )  # fmt: skip
    eni_attach = (
        await c.call(
            "AttachNetworkInterface", NetworkInterfaceId=eni, InstanceId=instance, DeviceIndex=1
        )
    )["AttachmentId"]
    # A Spot request left open: no host has room for an m5.large beside the victim's instance.
    [spot] = (
        await c.call(
            "RequestSpotInstances",
            LaunchSpecification={"ImageId": world.image.image_id, "InstanceType": "m5.large"},
        )
    )["SpotInstanceRequests"]
    assert spot["State"] == "open", spot
    ids = {
        VPC_CIDR_ASSOC: vpc_ipv6["AssociationId"],
        SUBNET_CIDR_ASSOC: subnet_ipv6["AssociationId"],
        SIR: spot["SpotInstanceRequestId"],
        VPCE: endpoint,
        ENI: eni,
        ENI_ATTACH: eni_attach,
        FL: flow_log,
        PL: plist,
        DOPT: options[0],
        FREE_DOPT: options[1],
        PCX: peering["VpcPeeringConnection"]["VpcPeeringConnectionId"],
        NAT: nat["NatGateway"]["NatGatewayId"],
        EIP: address,
        FREE_EIP: free_address,
        EIP_ASSOC: address_association["AssociationId"],
        IGW: gateway,
        FREE_IGW: free_gateway,
        CUSTOM_RTB: custom,
        EMPTY_RTB: empty,
        RTB_ASSOC: association["AssociationId"],
        VPC: vpc,
        RTB: table["RouteTableId"],
        ACL: acl["NetworkAclId"],
        OWN_ACL: own_acl,
        ACL_ASSOC: acl_association["NewAssociationId"],
        SUBNET: subnet["Subnet"]["SubnetId"],
        INSTANCE: instance,
        SG: group["GroupId"],
        SGR: rule_id,
        VOL: volume,
        SNAP: snapshot,
        AMI: image["ImageId"],
        ASSOC: association["AssociationId"],
        LT: template_id,
    }
    return Victim(world, ids)


@pytest.fixture
async def victim(world: World) -> Victim:
    """A victim of the test's own, for the callers whose requests succeed on their account."""
    return await build_victim(world)


@dataclass
class Refused:
    """One victim shared by the module's refused callers, and the powerless user's client."""

    victim: Victim
    powerless: Client


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def refused(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Refused]:
    """Built once: its callers are refused before anything is done, so the victim they face is
    only read. Each test still reads the victim's state before and after its own attempt, so a
    refusal that changed something fails that test, not a later one (a world and a victim
    per case were two thirds of this file's CPU)."""
    async with ec2_world(tmp_path_factory.mktemp("refused")) as world:
        victim = await build_victim(world)
        await world.identity.create_user(world.tenant_id, "powerless")
        created = await world.identity.create_access_key(world.tenant_id, "powerless")
        credentials = Credentials(created.key.access_key_id, created.secret_access_key)
        yield Refused(victim, Client(world.app, credentials))


async def attempt(client: Client, action: str, params: dict[str, Any]) -> tuple[int, Any]:
    return await client.raw(action, **params)


@pytest.mark.parametrize("action", sorted(RECIPES))
async def test_another_tenants_root_only_reaches_its_own_account(
    victim: Victim, action: str
) -> None:
    _, intruder = await victim.world.tenant("intruder")
    before = await victim.snapshot()
    params = victim.fill(RECIPES[action])
    status, _ = await attempt(intruder, action, params)
    assert status == 200 or 400 <= status < 500, (action, status)
    await victim.world.compute.settle()
    body = intruder.last_body.decode()
    for sent in victim.ids.values():  # what the intruder named may come back in a message
        if sent in json.dumps(params, default=str):
            body = body.replace(sent, "")
    for secret in (*victim.ids.values(), victim.world.tenant_id):
        assert secret not in body, (action, body)
    assert_unchanged(before, await victim.snapshot())


async def test_another_tenant_deleting_and_making_again_its_default_vpc_leaves_the_victims(
    victim: Victim,
) -> None:
    """The default VPC's lifecycle (decision 0137) is the account's own: an intruder deletes
    and makes again its own default subnet and default VPC; the victim's default VPC and
    subnet are out of its reach by id, and the victim still has them and launches into them."""
    world = victim.world
    intruder_id, intruder = await world.tenant("intruder")
    before = await victim.snapshot()
    victims = default_ids(world.tenant_id)
    for action, params, code in (
        ("DeleteSubnet", {"SubnetId": victims.subnet_id}, "InvalidSubnetID.NotFound"),
        ("DeleteVpc", {"VpcId": victims.vpc_id}, "InvalidVpcID.NotFound"),
    ):
        with pytest.raises(ApiError) as raised:
            await intruder.call(action, **params)
        assert raised.value.code == code
    own = default_ids(intruder_id)
    await intruder.call("DeleteSubnet", SubnetId=own.subnet_id)
    # Its default subnet made again is in its own default VPC, the victim's left alone.
    remade = (await intruder.call("CreateDefaultSubnet", AvailabilityZone="eu-fr-1a"))["Subnet"]
    assert (remade["VpcId"], remade["OwnerId"]) == (own.vpc_id, intruder_id)
    assert_unchanged(before, await victim.snapshot())
    await intruder.call("DeleteSubnet", SubnetId=remade["SubnetId"])
    [gateway] = (
        await intruder.call(
            "DescribeInternetGateways",
            Filters=[{"Name": "attachment.vpc-id", "Values": [own.vpc_id]}],
        )
    )["InternetGateways"]
    gateway_id = gateway["InternetGatewayId"]
    await intruder.call("DetachInternetGateway", InternetGatewayId=gateway_id, VpcId=own.vpc_id)
    await intruder.call("DeleteInternetGateway", InternetGatewayId=gateway_id)
    await intruder.call("DeleteVpc", VpcId=own.vpc_id)
    assert_unchanged(before, await victim.snapshot())
    made = (await intruder.call("CreateDefaultVpc"))["Vpc"]
    assert made["OwnerId"] == intruder_id
    assert_unchanged(before, await victim.snapshot())
    reply = await world.root.call(
        "RunInstances", ImageId=world.image.image_id, InstanceType="t3.nano", MinCount=1,
        MaxCount=1,
    )  # fmt: skip
    assert reply["Instances"][0]["SubnetId"] == victims.subnet_id


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("action", sorted(RECIPES))
async def test_a_user_without_policy_is_denied_every_ec2_action(
    refused: Refused, action: str
) -> None:
    victim = refused.victim
    before = await victim.snapshot()
    with pytest.raises(ApiError) as raised:
        await refused.powerless.call(action, **victim.fill(RECIPES[action]))
    assert (raised.value.status, raised.value.code) == (403, "UnauthorizedOperation")
    await victim.world.compute.settle()
    assert_unchanged(before, await victim.snapshot())


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("action", sorted(RECIPES))
async def test_an_unsigned_caller_is_refused_every_ec2_action(
    refused: Refused, action: str
) -> None:
    victim = refused.victim
    before = await victim.snapshot()
    status, parsed = await attempt(
        Client(victim.world.app, None), action, victim.fill(RECIPES[action])
    )
    assert (status, parsed["Error"]["Code"]) == (401, "MissingAuthenticationToken")
    assert_unchanged(before, await victim.snapshot())
