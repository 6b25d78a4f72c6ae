"""EC2 calls made in process as the console's signed-in principal (the Query protocol of
``wire.QueryWire``): EC2's own authorisation, audit and errors answer them, as they answer
boto3. Each answer is read into the small rows the instances, volumes, key pairs, security
groups, images and VPCs pages show; nothing here decides what EC2 allows.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Final, Literal
from xml.etree.ElementTree import Element

from andromede.console.wire import QueryWire
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = [
    "Choice",
    "Ec2Wire",
    "ImageRow",
    "InstancePage",
    "InstanceRow",
    "KeyPairRow",
    "Launch",
    "LaunchChoices",
    "NewKeyPair",
    "RuleChange",
    "RuleRow",
    "SecurityGroupRow",
    "StateChange",
    "SubnetRow",
    "VolumeRow",
    "VpcRow",
    "filter_params",
    "name_of",
    "tagged",
    "tags_of",
    "text",
]

StateChange = Literal["StartInstances", "StopInstances", "RebootInstances", "TerminateInstances"]
RuleChange = Literal[
    "AuthorizeSecurityGroupIngress",
    "AuthorizeSecurityGroupEgress",
    "RevokeSecurityGroupIngress",
    "RevokeSecurityGroupEgress",
]
# DescribeInstances' MaxResults: EC2 refuses fewer than 5 or more than 1000 per page.
_INSTANCES_PER_PAGE: Final = (5, 1000)
# DescribeVolumes' MaxResults: 5 to 500.
_VOLUMES_PER_PAGE: Final = (5, 500)


@dataclass(frozen=True, slots=True)
class InstanceRow:
    instance_id: str
    name: str
    state: str
    instance_type: str
    image_id: str
    zone: str
    private_ip: str
    public_ip: str
    public_dns: str  # DescribeInstances' PublicDnsName (decision 0151), "" when it has none
    launched: str
    key_name: str
    subnet_id: str
    groups: tuple[str, ...]
    volumes: tuple[tuple[str, str], ...]  # (device, volume id)
    tags: tuple[tuple[str, str], ...]
    monitoring: str = "disabled"  # DescribeInstances' Monitoring.State (decision 0178)
    lifecycle: str = ""  # InstanceLifecycle: "spot", or "" for an On-Demand Instance
    # CpuOptions (decision 0214): its cores and threads per core ("" if EC2 answers none).
    core_count: str = ""
    threads_per_core: str = ""


@dataclass(frozen=True, slots=True)
class InstancePage:
    instances: list[InstanceRow]
    next_token: str | None


@dataclass(frozen=True, slots=True)
class Choice:
    """One option of a form's list: what is sent, and what the reader sees."""

    value: str
    label: str


@dataclass(frozen=True, slots=True)
class LaunchChoices:
    images: list[Choice]
    instance_types: list[Choice]
    key_pairs: list[Choice]
    subnets: list[Choice]
    security_groups: list[Choice]


@dataclass(frozen=True, slots=True)
class Launch:
    """A RunInstances of the launch form, its fields as typed: EC2 checks them."""

    image_id: str
    instance_type: str
    count: str
    key_name: str
    subnet_id: str
    security_group_ids: tuple[str, ...]
    name: str
    client_token: str


@dataclass(frozen=True, slots=True)
class VolumeRow:
    volume_id: str
    name: str
    size_gib: str
    zone: str
    state: str
    instance_id: str
    device: str
    created: str


@dataclass(frozen=True, slots=True)
class KeyPairRow:
    key_pair_id: str
    name: str
    key_type: str
    fingerprint: str
    created: str


@dataclass(frozen=True, slots=True)
class NewKeyPair:
    """CreateKeyPair's answer: the private key is in it this once and nowhere else."""

    name: str
    fingerprint: str
    private_key: str


@dataclass(frozen=True, slots=True)
class RuleRow:
    """One permission of a security group, one peer each (EC2 lists a permission's peers
    together): the fields that also name it to RevokeSecurityGroupIngress/Egress."""

    protocol: str  # "tcp", "udp", "icmp" or "-1" (all)
    from_port: str  # "" where EC2 gives none (all protocols); an ICMP type
    to_port: str  # an ICMP code
    peer: str  # an IPv4 or IPv6 CIDR, a security group's id or a prefix list's
    description: str
    rule_id: str = ""  # its sgr- id (decision 0146), where DescribeSecurityGroupRules said it


@dataclass(frozen=True, slots=True)
class SecurityGroupRow:
    group_id: str
    name: str
    description: str
    vpc_id: str
    inbound: tuple[RuleRow, ...]
    outbound: tuple[RuleRow, ...]


@dataclass(frozen=True, slots=True)
class ImageRow:
    image_id: str
    name: str
    description: str
    state: str
    public: bool
    owner_id: str
    created: str
    root_device: str
    snapshot_id: str


@dataclass(frozen=True, slots=True)
class VpcRow:
    vpc_id: str
    name: str
    cidr: str
    is_default: bool
    state: str


@dataclass(frozen=True, slots=True)
class SubnetRow:
    subnet_id: str
    name: str
    vpc_id: str
    cidr: str
    zone: str
    is_default: bool
    maps_public_ip: bool
    free_addresses: str


def text(element: Element, path: str) -> str:
    return element.findtext(path) or ""


def tags_of(element: Element) -> tuple[tuple[str, str], ...]:
    return tuple((text(t, "key"), text(t, "value")) for t in element.iterfind("tagSet/item"))


def name_of(tags: Sequence[tuple[str, str]]) -> str:
    return next((value for key, value in tags if key == "Name"), "")


def _when(iso8601: str) -> str:
    """EC2's ``2026-12-04T09:00:00.000Z`` as the console shows times (UTC, to the second)."""
    return iso8601[:19].replace("T", " ")


def _listed(name: str, values: Sequence[str]) -> dict[str, str]:
    """EC2's flattened list: ``Name.1``, ``Name.2``…"""
    return {f"{name}.{index}": value for index, value in enumerate(values, start=1)}


def filter_params(name: str, values: Sequence[str]) -> dict[str, str]:
    return {"Filter.1.Name": name, **_listed("Filter.1.Value", values)}


def tagged(resource_type: str, name: str) -> dict[str, str]:
    """A TagSpecification giving the new resource its Name tag (none when ``name`` is empty)."""
    if not name:
        return {}
    return {
        "TagSpecification.1.ResourceType": resource_type,
        "TagSpecification.1.Tag.1.Key": "Name",
        "TagSpecification.1.Tag.1.Value": name,
    }


def _true(element: Element, path: str) -> bool:
    return text(element, path) == "true"


def _instance(item: Element) -> InstanceRow:
    tags = tags_of(item)
    return InstanceRow(
        instance_id=text(item, "instanceId"),
        name=name_of(tags),
        state=text(item, "instanceState/name"),
        instance_type=text(item, "instanceType"),
        image_id=text(item, "imageId"),
        zone=text(item, "placement/availabilityZone"),
        private_ip=text(item, "privateIpAddress"),
        public_ip=text(item, "ipAddress"),
        public_dns=text(item, "dnsName"),
        launched=_when(text(item, "launchTime")),
        key_name=text(item, "keyName"),
        subnet_id=text(item, "subnetId"),
        groups=tuple(
            f"{text(g, 'groupId')} ({text(g, 'groupName')})" for g in item.iterfind("groupSet/item")
        ),
        volumes=tuple(
            (text(m, "deviceName"), text(m, "ebs/volumeId"))
            for m in item.iterfind("blockDeviceMapping/item")
        ),
        tags=tags,
        monitoring=text(item, "monitoring/state") or "disabled",
        lifecycle=text(item, "instanceLifecycle"),
        core_count=text(item, "cpuOptions/coreCount"),
        threads_per_core=text(item, "cpuOptions/threadsPerCore"),
    )


def _instances(root: Element) -> list[InstanceRow]:
    return [_instance(i) for i in root.iterfind("reservationSet/item/instancesSet/item")]


def _volume(item: Element) -> VolumeRow:
    attachment = item.find("attachmentSet/item")
    return VolumeRow(
        volume_id=text(item, "volumeId"),
        name=name_of(tags_of(item)),
        size_gib=text(item, "size"),
        zone=text(item, "availabilityZone"),
        state=text(item, "status"),
        instance_id=text(attachment, "instanceId") if attachment is not None else "",
        device=text(attachment, "device") if attachment is not None else "",
        created=_when(text(item, "createTime")),
    )


# Where a permission of DescribeSecurityGroups lists its peers, and each peer's element.
_PEERS: Final = (
    ("groups", "groupId"),
    ("ipRanges", "cidrIp"),
    ("ipv6Ranges", "cidrIpv6"),
    ("prefixListIds", "prefixListId"),  # a managed prefix list (decision 0149)
)


def _rules(group: Element, name: str) -> tuple[RuleRow, ...]:
    rows: list[RuleRow] = []
    for permission in group.iterfind(f"{name}/item"):
        protocol = text(permission, "ipProtocol")
        low, high = text(permission, "fromPort"), text(permission, "toPort")
        for where, element in _PEERS:
            rows.extend(
                RuleRow(protocol, low, high, text(p, element), text(p, "description"))
                for p in permission.iterfind(f"{where}/item")
            )
    return tuple(rows)


def _security_group(item: Element) -> SecurityGroupRow:
    return SecurityGroupRow(
        group_id=text(item, "groupId"),
        name=text(item, "groupName"),
        description=text(item, "groupDescription"),
        vpc_id=text(item, "vpcId"),
        inbound=_rules(item, "ipPermissions"),
        outbound=_rules(item, "ipPermissionsEgress"),
    )


def _with_ids(rows: tuple[RuleRow, ...], ids: dict[tuple[str, ...], str]) -> tuple[RuleRow, ...]:
    return tuple(
        replace(r, rule_id=ids.get((r.protocol, r.from_port, r.to_port, r.peer), "")) for r in rows
    )


def _permission(rule: RuleRow) -> dict[str, str]:
    """EC2's ``IpPermissions.1`` for one rule, its peer where its kind goes: a group's id, a
    prefix list's, an IPv6 CIDR, else an IPv4 one (EC2 refuses what is none of them). Ports
    left empty are not sent, so EC2 says what a protocol needs."""
    params = {"IpPermissions.1.IpProtocol": rule.protocol}
    if rule.from_port:
        params["IpPermissions.1.FromPort"] = rule.from_port
    if rule.to_port:
        params["IpPermissions.1.ToPort"] = rule.to_port
    if rule.peer.startswith("sg-"):
        peer = "IpPermissions.1.Groups.1"
        params[f"{peer}.GroupId"] = rule.peer
    elif rule.peer.startswith("pl-"):
        peer = "IpPermissions.1.PrefixListIds.1"
        params[f"{peer}.PrefixListId"] = rule.peer
    elif ":" in rule.peer:
        peer = "IpPermissions.1.Ipv6Ranges.1"
        params[f"{peer}.CidrIpv6"] = rule.peer
    else:
        peer = "IpPermissions.1.IpRanges.1"
        params[f"{peer}.CidrIp"] = rule.peer
    if rule.description:
        params[f"{peer}.Description"] = rule.description
    return params


def _image(item: Element) -> ImageRow:
    return ImageRow(
        image_id=text(item, "imageId"),
        name=text(item, "name"),
        description=text(item, "description"),
        state=text(item, "imageState"),
        public=_true(item, "isPublic"),
        owner_id=text(item, "imageOwnerId"),
        created=_when(text(item, "creationDate")),
        root_device=text(item, "rootDeviceName"),
        snapshot_id=text(item, "blockDeviceMapping/item/ebs/snapshotId"),
    )


def _vpc(item: Element) -> VpcRow:
    return VpcRow(
        vpc_id=text(item, "vpcId"),
        name=name_of(tags_of(item)),
        cidr=text(item, "cidrBlock"),
        is_default=_true(item, "isDefault"),
        state=text(item, "state"),
    )


def _subnet(item: Element) -> SubnetRow:
    return SubnetRow(
        subnet_id=text(item, "subnetId"),
        name=name_of(tags_of(item)),
        vpc_id=text(item, "vpcId"),
        cidr=text(item, "cidrBlock"),
        zone=text(item, "availabilityZone"),
        is_default=_true(item, "defaultForAz"),
        maps_public_ip=_true(item, "mapPublicIpOnLaunch"),
        free_addresses=text(item, "availableIpAddressCount"),
    )


class Ec2Wire(QueryWire):
    """The EC2 calls the console makes."""

    version = "2016-11-15"

    # -- instances ---------------------------------------------------------------------------

    async def describe_instances(
        self, origin: Scope, principal: Principal, *, token: str | None, page_size: int
    ) -> InstancePage:
        low, high = _INSTANCES_PER_PAGE
        params = {"MaxResults": str(min(max(page_size, low), high))}
        if token:
            params["NextToken"] = token
        root = await self.call(origin, principal, "DescribeInstances", params)
        return InstancePage(_instances(root), text(root, "nextToken") or None)

    async def describe_instance(
        self, origin: Scope, principal: Principal, instance_id: str
    ) -> InstanceRow | None:
        """One instance; EC2's InvalidInstanceID.NotFound for another tenant's, as for none."""
        root = await self.call(
            origin, principal, "DescribeInstances", {"InstanceId.1": instance_id}
        )
        return next(iter(_instances(root)), None)

    async def lifecycles(
        self, origin: Scope, principal: Principal, instance_ids: Sequence[str]
    ) -> dict[str, str]:
        """Each instance's market, "spot" or "" (On-Demand), by EC2's instance-id filter
        (an instance gone meanwhile is left out, where InstanceId would refuse the call)."""
        if not instance_ids:
            return {}
        root = await self.call(
            origin, principal, "DescribeInstances", filter_params("instance-id", instance_ids)
        )
        return {row.instance_id: row.lifecycle for row in _instances(root)}

    async def live_instances(self, origin: Scope, principal: Principal) -> list[InstanceRow]:
        """The instances a volume may be attached to: all but the terminated and dying."""
        states = ["pending", "running", "stopping", "stopped"]
        root = await self.call(
            origin, principal, "DescribeInstances", filter_params("instance-state-name", states)
        )
        return _instances(root)

    async def launch_choices(self, origin: Scope, principal: Principal) -> LaunchChoices:
        """What the launch form offers, each list EC2's own answer for the caller."""
        images = await self.call(
            origin, principal, "DescribeImages", filter_params("state", ["available"])
        )
        types = await self.call(origin, principal, "DescribeInstanceTypes")
        key_pairs = await self.call(origin, principal, "DescribeKeyPairs")
        subnets = await self.call(origin, principal, "DescribeSubnets")
        groups = await self.call(origin, principal, "DescribeSecurityGroups")
        return LaunchChoices(
            images=[
                Choice(text(i, "imageId"), f"{text(i, 'name')} ({text(i, 'imageId')})")
                for i in images.iterfind("imagesSet/item")
            ],
            instance_types=[
                Choice(
                    text(t, "instanceType"),
                    f"{text(t, 'instanceType')} ({text(t, 'vCpuInfo/defaultVCpus')} vCPU, "
                    f"{text(t, 'memoryInfo/sizeInMiB')} MiB)",
                )
                for t in types.iterfind("instanceTypeSet/item")
            ],
            key_pairs=[
                Choice(text(k, "keyName"), text(k, "keyName"))
                for k in key_pairs.iterfind("keySet/item")
            ],
            subnets=[
                Choice(
                    text(s, "subnetId"),
                    f"{text(s, 'subnetId')} ({text(s, 'availabilityZone')}, "
                    f"{text(s, 'cidrBlock')}, {text(s, 'vpcId')})",
                )
                for s in subnets.iterfind("subnetSet/item")
            ],
            security_groups=[
                Choice(
                    text(g, "groupId"),
                    f"{text(g, 'groupName')} ({text(g, 'groupId')}, {text(g, 'vpcId')})",
                )
                for g in groups.iterfind("securityGroupInfo/item")
            ],
        )

    async def run_instances(self, origin: Scope, principal: Principal, launch: Launch) -> None:
        params = {
            "ImageId": launch.image_id,
            "InstanceType": launch.instance_type,
            "MinCount": launch.count,
            "MaxCount": launch.count,
            # The form's token: the same form sent twice (a double click, a resent POST)
            # launches once (decision 0063).
            "ClientToken": launch.client_token,
            **_listed("SecurityGroupId", launch.security_group_ids),
            **tagged("instance", launch.name),
        }
        if launch.key_name:
            params["KeyName"] = launch.key_name
        if launch.subnet_id:
            params["SubnetId"] = launch.subnet_id
        await self.call(origin, principal, "RunInstances", params)

    async def change_state(
        self, origin: Scope, principal: Principal, action: StateChange, instance_id: str
    ) -> None:
        await self.call(origin, principal, action, {"InstanceId.1": instance_id})

    async def console_output(self, origin: Scope, principal: Principal, instance_id: str) -> str:
        """The instance's console, decoded from EC2's base64 (bytes a terminal would show
        replaced where they are not UTF-8)."""
        root = await self.call(origin, principal, "GetConsoleOutput", {"InstanceId": instance_id})
        try:
            output = base64.b64decode(text(root, "output"), validate=True)
        except (binascii.Error, ValueError):
            output = b""
        return output.decode("utf-8", "replace")

    # -- volumes -----------------------------------------------------------------------------

    async def describe_volumes(
        self, origin: Scope, principal: Principal, *, token: str | None, page_size: int
    ) -> tuple[list[VolumeRow], str | None]:
        """A page of volumes in id order and the token of the next (None on the last)."""
        low, high = _VOLUMES_PER_PAGE
        params = {"MaxResults": str(min(max(page_size, low), high))}
        if token:
            params["NextToken"] = token
        root = await self.call(origin, principal, "DescribeVolumes", params)
        rows = [_volume(v) for v in root.iterfind("volumeSet/item")]
        return rows, text(root, "nextToken") or None

    async def availability_zones(self, origin: Scope, principal: Principal) -> list[str]:
        root = await self.call(origin, principal, "DescribeAvailabilityZones")
        return [text(z, "zoneName") for z in root.iterfind("availabilityZoneInfo/item")]

    async def create_volume(
        self,
        origin: Scope,
        principal: Principal,
        *,
        size_gib: str,
        zone: str,
        name: str,
        client_token: str,
    ) -> None:
        params = {
            "Size": size_gib,
            "AvailabilityZone": zone,
            "ClientToken": client_token,
            **tagged("volume", name),
        }
        await self.call(origin, principal, "CreateVolume", params)

    async def attach_volume(
        self, origin: Scope, principal: Principal, volume_id: str, instance_id: str, device: str
    ) -> None:
        params = {"VolumeId": volume_id, "InstanceId": instance_id, "Device": device}
        await self.call(origin, principal, "AttachVolume", params)

    async def detach_volume(self, origin: Scope, principal: Principal, volume_id: str) -> None:
        await self.call(origin, principal, "DetachVolume", {"VolumeId": volume_id})

    async def delete_volume(self, origin: Scope, principal: Principal, volume_id: str) -> None:
        await self.call(origin, principal, "DeleteVolume", {"VolumeId": volume_id})

    # -- key pairs ---------------------------------------------------------------------------

    async def describe_key_pairs(self, origin: Scope, principal: Principal) -> list[KeyPairRow]:
        root = await self.call(origin, principal, "DescribeKeyPairs")
        return [
            KeyPairRow(
                key_pair_id=text(k, "keyPairId"),
                name=text(k, "keyName"),
                key_type=text(k, "keyType"),
                fingerprint=text(k, "keyFingerprint"),
                created=_when(text(k, "createTime")),
            )
            for k in root.iterfind("keySet/item")
        ]

    async def create_key_pair(
        self, origin: Scope, principal: Principal, name: str, key_type: str
    ) -> NewKeyPair:
        root = await self.call(
            origin, principal, "CreateKeyPair", {"KeyName": name, "KeyType": key_type}
        )
        return NewKeyPair(
            text(root, "keyName"), text(root, "keyFingerprint"), text(root, "keyMaterial")
        )

    async def import_key_pair(
        self, origin: Scope, principal: Principal, name: str, public_key: str
    ) -> None:
        # EC2 takes the key's text base64-encoded (a blob, which boto3 encodes for its users).
        material = base64.b64encode(public_key.strip().encode()).decode()
        params = {"KeyName": name, "PublicKeyMaterial": material}
        await self.call(origin, principal, "ImportKeyPair", params)

    async def delete_key_pair(self, origin: Scope, principal: Principal, key_pair_id: str) -> None:
        await self.call(origin, principal, "DeleteKeyPair", {"KeyPairId": key_pair_id})

    # -- security groups ---------------------------------------------------------------------

    async def describe_security_groups(
        self, origin: Scope, principal: Principal, *, vpc_id: str | None = None
    ) -> list[SecurityGroupRow]:
        """The caller's groups (those of ``vpc_id`` only, when given)."""
        params = filter_params("vpc-id", [vpc_id]) if vpc_id else {}
        root = await self.call(origin, principal, "DescribeSecurityGroups", params)
        return [_security_group(g) for g in root.iterfind("securityGroupInfo/item")]

    async def describe_security_group(
        self, origin: Scope, principal: Principal, group_id: str
    ) -> SecurityGroupRow | None:
        """One group; EC2's InvalidGroup.NotFound for another tenant's, as for none."""
        root = await self.call(origin, principal, "DescribeSecurityGroups", {"GroupId.1": group_id})
        return next((_security_group(g) for g in root.iterfind("securityGroupInfo/item")), None)

    async def with_rule_ids(
        self, origin: Scope, principal: Principal, group: SecurityGroupRow
    ) -> SecurityGroupRow:
        """``group`` with its rules' ids, read by DescribeSecurityGroupRules and matched to
        the rows by direction, protocol, ports (none for all protocols) and peer."""
        params = filter_params("group-id", [group.group_id])
        root = await self.call(origin, principal, "DescribeSecurityGroupRules", params)
        ids: tuple[dict[tuple[str, ...], str], dict[tuple[str, ...], str]] = ({}, {})
        for item in root.iterfind("securityGroupRuleSet/item"):
            protocol = text(item, "ipProtocol")
            ports = ("", "") if protocol == "-1" else (text(item, "fromPort"), text(item, "toPort"))
            peer = (
                text(item, "cidrIpv4")
                or text(item, "cidrIpv6")
                or text(item, "referencedGroupInfo/groupId")
                or text(item, "prefixListId")
            )
            egress = text(item, "isEgress") == "true"
            ids[egress][(protocol, *ports, peer)] = text(item, "securityGroupRuleId")
        return replace(
            group,
            inbound=_with_ids(group.inbound, ids[False]),
            outbound=_with_ids(group.outbound, ids[True]),
        )

    async def create_security_group(
        self, origin: Scope, principal: Principal, *, name: str, description: str, vpc_id: str
    ) -> str:
        """The new group's id; without ``vpc_id``, EC2 puts it in the default VPC."""
        params = {"GroupName": name, "GroupDescription": description}
        if vpc_id:
            params["VpcId"] = vpc_id
        root = await self.call(origin, principal, "CreateSecurityGroup", params)
        return text(root, "groupId")

    async def delete_security_group(
        self, origin: Scope, principal: Principal, group_id: str
    ) -> None:
        await self.call(origin, principal, "DeleteSecurityGroup", {"GroupId": group_id})

    async def change_rule(
        self,
        origin: Scope,
        principal: Principal,
        action: RuleChange,
        group_id: str,
        rule: RuleRow,
    ) -> None:
        """Adds or removes ``rule``; EC2 removes the rule of the same protocol, ports and peer
        whatever its description."""
        await self.call(origin, principal, action, {"GroupId": group_id, **_permission(rule)})

    # -- images ------------------------------------------------------------------------------

    async def describe_images(self, origin: Scope, principal: Principal) -> list[ImageRow]:
        """The images the caller may launch: the account's own and the public ones."""
        root = await self.call(origin, principal, "DescribeImages")
        return [_image(i) for i in root.iterfind("imagesSet/item")]

    async def snapshots(self, origin: Scope, principal: Principal) -> list[Choice]:
        """The account's snapshots, as an image's root may be registered from."""
        root = await self.call(origin, principal, "DescribeSnapshots", {"Owner.1": "self"})
        return [
            Choice(
                text(s, "snapshotId"),
                ", ".join(
                    part
                    for part in (
                        f"{text(s, 'volumeSize')} GiB",
                        text(s, "status"),
                        text(s, "description"),
                    )
                    if part
                ),
            )
            for s in root.iterfind("snapshotSet/item")
        ]

    async def register_image(
        self,
        origin: Scope,
        principal: Principal,
        *,
        name: str,
        description: str,
        snapshot_id: str,
        root_device: str,
    ) -> None:
        """An image whose root device is a copy of the snapshot (EC2's RegisterImage from a
        snapshot; without ``root_device``, EC2's default)."""
        params = {"Name": name, "BlockDeviceMapping.1.Ebs.SnapshotId": snapshot_id}
        if root_device:
            params["RootDeviceName"] = root_device
            params["BlockDeviceMapping.1.DeviceName"] = root_device
        if description:
            params["Description"] = description
        await self.call(origin, principal, "RegisterImage", params)

    async def deregister_image(self, origin: Scope, principal: Principal, image_id: str) -> None:
        await self.call(origin, principal, "DeregisterImage", {"ImageId": image_id})

    # -- VPCs and subnets --------------------------------------------------------------------

    async def describe_vpcs(self, origin: Scope, principal: Principal) -> list[VpcRow]:
        root = await self.call(origin, principal, "DescribeVpcs")
        return [_vpc(v) for v in root.iterfind("vpcSet/item")]

    async def describe_subnets(self, origin: Scope, principal: Principal) -> list[SubnetRow]:
        root = await self.call(origin, principal, "DescribeSubnets")
        return [_subnet(s) for s in root.iterfind("subnetSet/item")]

    async def create_vpc(self, origin: Scope, principal: Principal, cidr: str, name: str) -> None:
        params = {"CidrBlock": cidr, **tagged("vpc", name)}
        await self.call(origin, principal, "CreateVpc", params)

    async def delete_vpc(self, origin: Scope, principal: Principal, vpc_id: str) -> None:
        await self.call(origin, principal, "DeleteVpc", {"VpcId": vpc_id})

    async def create_default_vpc(self, origin: Scope, principal: Principal) -> None:
        """A new default VPC with its default subnet, gateway and group (decision 0137);
        EC2's DefaultVpcAlreadyExists while the caller has one."""
        await self.call(origin, principal, "CreateDefaultVpc")

    async def create_default_subnet(self, origin: Scope, principal: Principal, zone: str) -> None:
        """A new default subnet in ``zone`` of the default VPC (decision 0137, amended); EC2's
        DefaultSubnetAlreadyExistsInAvailabilityZone or DefaultVpcDoesNotExist otherwise."""
        await self.call(origin, principal, "CreateDefaultSubnet", {"AvailabilityZone": zone})

    async def create_subnet(
        self, origin: Scope, principal: Principal, *, vpc_id: str, cidr: str, zone: str, name: str
    ) -> None:
        params = {"VpcId": vpc_id, "CidrBlock": cidr, **tagged("subnet", name)}
        if zone:
            params["AvailabilityZone"] = zone
        await self.call(origin, principal, "CreateSubnet", params)

    async def delete_subnet(self, origin: Scope, principal: Principal, subnet_id: str) -> None:
        await self.call(origin, principal, "DeleteSubnet", {"SubnetId": subnet_id})
