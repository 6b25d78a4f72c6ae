"""EC2 calls made in process as the console's signed-in principal (the Query protocol of
``wire.QueryWire``): EC2's own authorisation, audit and errors answer them, as they answer
boto3. Each answer is read into the small rows the instances, volumes and key pairs pages
show; nothing here decides what EC2 allows.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal
from xml.etree.ElementTree import Element

from andromede.console.wire import QueryWire
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = [
    "Choice",
    "Ec2Wire",
    "InstancePage",
    "InstanceRow",
    "KeyPairRow",
    "Launch",
    "LaunchChoices",
    "NewKeyPair",
    "StateChange",
    "VolumeRow",
]

StateChange = Literal["StartInstances", "StopInstances", "RebootInstances", "TerminateInstances"]
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
    launched: str
    key_name: str
    subnet_id: str
    groups: tuple[str, ...]
    volumes: tuple[tuple[str, str], ...]  # (device, volume id)
    tags: tuple[tuple[str, str], ...]


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


def _text(element: Element, path: str) -> str:
    return element.findtext(path) or ""


def _tags(element: Element) -> tuple[tuple[str, str], ...]:
    return tuple((_text(t, "key"), _text(t, "value")) for t in element.iterfind("tagSet/item"))


def _name_of(tags: Sequence[tuple[str, str]]) -> str:
    return next((value for key, value in tags if key == "Name"), "")


def _when(iso8601: str) -> str:
    """EC2's ``2026-12-04T09:00:00.000Z`` as the console shows times (UTC, to the second)."""
    return iso8601[:19].replace("T", " ")


def _listed(name: str, values: Sequence[str]) -> dict[str, str]:
    """EC2's flattened list: ``Name.1``, ``Name.2``…"""
    return {f"{name}.{index}": value for index, value in enumerate(values, start=1)}


def _filter(name: str, values: Sequence[str]) -> dict[str, str]:
    return {"Filter.1.Name": name, **_listed("Filter.1.Value", values)}


def _tagged(resource_type: str, name: str) -> dict[str, str]:
    """A TagSpecification giving the new resource its Name tag (none when ``name`` is empty)."""
    if not name:
        return {}
    return {
        "TagSpecification.1.ResourceType": resource_type,
        "TagSpecification.1.Tag.1.Key": "Name",
        "TagSpecification.1.Tag.1.Value": name,
    }


def _instance(item: Element) -> InstanceRow:
    tags = _tags(item)
    return InstanceRow(
        instance_id=_text(item, "instanceId"),
        name=_name_of(tags),
        state=_text(item, "instanceState/name"),
        instance_type=_text(item, "instanceType"),
        image_id=_text(item, "imageId"),
        zone=_text(item, "placement/availabilityZone"),
        private_ip=_text(item, "privateIpAddress"),
        public_ip=_text(item, "ipAddress"),
        launched=_when(_text(item, "launchTime")),
        key_name=_text(item, "keyName"),
        subnet_id=_text(item, "subnetId"),
        groups=tuple(
            f"{_text(g, 'groupId')} ({_text(g, 'groupName')})"
            for g in item.iterfind("groupSet/item")
        ),
        volumes=tuple(
            (_text(m, "deviceName"), _text(m, "ebs/volumeId"))
            for m in item.iterfind("blockDeviceMapping/item")
        ),
        tags=tags,
    )


def _instances(root: Element) -> list[InstanceRow]:
    return [_instance(i) for i in root.iterfind("reservationSet/item/instancesSet/item")]


def _volume(item: Element) -> VolumeRow:
    attachment = item.find("attachmentSet/item")
    return VolumeRow(
        volume_id=_text(item, "volumeId"),
        name=_name_of(_tags(item)),
        size_gib=_text(item, "size"),
        zone=_text(item, "availabilityZone"),
        state=_text(item, "status"),
        instance_id=_text(attachment, "instanceId") if attachment is not None else "",
        device=_text(attachment, "device") if attachment is not None else "",
        created=_when(_text(item, "createTime")),
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
        return InstancePage(_instances(root), _text(root, "nextToken") or None)

    async def describe_instance(
        self, origin: Scope, principal: Principal, instance_id: str
    ) -> InstanceRow | None:
        """One instance; EC2's InvalidInstanceID.NotFound for another tenant's, as for none."""
        root = await self.call(
            origin, principal, "DescribeInstances", {"InstanceId.1": instance_id}
        )
        return next(iter(_instances(root)), None)

    async def live_instances(self, origin: Scope, principal: Principal) -> list[InstanceRow]:
        """The instances a volume may be attached to: all but the terminated and dying."""
        states = ["pending", "running", "stopping", "stopped"]
        root = await self.call(
            origin, principal, "DescribeInstances", _filter("instance-state-name", states)
        )
        return _instances(root)

    async def launch_choices(self, origin: Scope, principal: Principal) -> LaunchChoices:
        """What the launch form offers, each list EC2's own answer for the caller."""
        images = await self.call(
            origin, principal, "DescribeImages", _filter("state", ["available"])
        )
        types = await self.call(origin, principal, "DescribeInstanceTypes")
        key_pairs = await self.call(origin, principal, "DescribeKeyPairs")
        subnets = await self.call(origin, principal, "DescribeSubnets")
        groups = await self.call(origin, principal, "DescribeSecurityGroups")
        return LaunchChoices(
            images=[
                Choice(_text(i, "imageId"), f"{_text(i, 'name')} ({_text(i, 'imageId')})")
                for i in images.iterfind("imagesSet/item")
            ],
            instance_types=[
                Choice(
                    _text(t, "instanceType"),
                    f"{_text(t, 'instanceType')} ({_text(t, 'vCpuInfo/defaultVCpus')} vCPU, "
                    f"{_text(t, 'memoryInfo/sizeInMiB')} MiB)",
                )
                for t in types.iterfind("instanceTypeSet/item")
            ],
            key_pairs=[
                Choice(_text(k, "keyName"), _text(k, "keyName"))
                for k in key_pairs.iterfind("keySet/item")
            ],
            subnets=[
                Choice(
                    _text(s, "subnetId"),
                    f"{_text(s, 'subnetId')} ({_text(s, 'availabilityZone')}, "
                    f"{_text(s, 'cidrBlock')}, {_text(s, 'vpcId')})",
                )
                for s in subnets.iterfind("subnetSet/item")
            ],
            security_groups=[
                Choice(
                    _text(g, "groupId"),
                    f"{_text(g, 'groupName')} ({_text(g, 'groupId')}, {_text(g, 'vpcId')})",
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
            **_tagged("instance", launch.name),
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
            output = base64.b64decode(_text(root, "output"), validate=True)
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
        return rows, _text(root, "nextToken") or None

    async def availability_zones(self, origin: Scope, principal: Principal) -> list[str]:
        root = await self.call(origin, principal, "DescribeAvailabilityZones")
        return [_text(z, "zoneName") for z in root.iterfind("availabilityZoneInfo/item")]

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
            **_tagged("volume", name),
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
                key_pair_id=_text(k, "keyPairId"),
                name=_text(k, "keyName"),
                key_type=_text(k, "keyType"),
                fingerprint=_text(k, "keyFingerprint"),
                created=_when(_text(k, "createTime")),
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
            _text(root, "keyName"), _text(root, "keyFingerprint"), _text(root, "keyMaterial")
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
