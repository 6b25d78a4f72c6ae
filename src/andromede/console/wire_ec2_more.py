"""EC2's snapshot, image (creating and sharing one) and launch template calls, made in process
as the console's signed-in principal through ``wire_ec2.Ec2Wire``: EC2's own authorisation,
audit and errors answer them. Each answer is read into the small rows the snapshots, image
sharing and launch templates pages show; nothing here decides what EC2 allows.

Functions over ``Ec2Wire.call`` rather than more methods of it, so that the console's one EC2
wire stays the one ``Console.ec2`` holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree.ElementTree import Element

from andromede.console.wire_ec2 import Ec2Wire, ImageRow, _image, _listed, _when, text
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = [
    "SnapshotRow",
    "TemplateData",
    "TemplateRow",
    "VersionRow",
    "create_image",
    "create_launch_template",
    "create_launch_template_version",
    "create_snapshot",
    "create_volume_from_snapshot",
    "delete_launch_template",
    "delete_snapshot",
    "describe_image",
    "describe_launch_template",
    "describe_launch_template_versions",
    "describe_launch_templates",
    "describe_snapshots",
    "image_launch_permissions",
    "modify_image_launch_permission",
    "run_from_template",
    "set_default_version",
]


@dataclass(frozen=True, slots=True)
class SnapshotRow:
    snapshot_id: str
    volume_id: str
    size_gib: str
    state: str
    description: str
    started: str


@dataclass(frozen=True, slots=True)
class TemplateRow:
    template_id: str
    name: str
    default_version: str
    latest_version: str
    created: str
    created_by: str


@dataclass(frozen=True, slots=True)
class VersionRow:
    number: str
    description: str
    image_id: str
    instance_type: str
    key_name: str
    security_group_ids: tuple[str, ...]
    is_default: bool
    created: str


@dataclass(frozen=True, slots=True)
class TemplateData:
    """A version's data as the form typed it (the launch page's choices): EC2 checks it."""

    description: str
    image_id: str
    instance_type: str
    key_name: str
    security_group_ids: tuple[str, ...]


def _snapshot(item: Element) -> SnapshotRow:
    return SnapshotRow(
        snapshot_id=text(item, "snapshotId"),
        volume_id=text(item, "volumeId"),
        size_gib=text(item, "volumeSize"),
        state=text(item, "status"),
        description=text(item, "description"),
        started=_when(text(item, "startTime")),
    )


def _template(item: Element) -> TemplateRow:
    return TemplateRow(
        template_id=text(item, "launchTemplateId"),
        name=text(item, "launchTemplateName"),
        default_version=text(item, "defaultVersionNumber"),
        latest_version=text(item, "latestVersionNumber"),
        created=_when(text(item, "createTime")),
        created_by=text(item, "createdBy"),
    )


def _version(item: Element) -> VersionRow:
    return VersionRow(
        number=text(item, "versionNumber"),
        description=text(item, "versionDescription"),
        image_id=text(item, "launchTemplateData/imageId"),
        instance_type=text(item, "launchTemplateData/instanceType"),
        key_name=text(item, "launchTemplateData/keyName"),
        security_group_ids=tuple(
            i.text or "" for i in item.iterfind("launchTemplateData/securityGroupIdSet/item")
        ),
        is_default=text(item, "defaultVersion") == "true",
        created=_when(text(item, "createTime")),
    )


def _data(data: TemplateData) -> dict[str, str]:
    """``LaunchTemplateData.*`` of the fields typed; an empty one is not sent, so that EC2
    says what a template needs (and a launch from it, what an instance needs)."""
    fields = {
        "ImageId": data.image_id,
        "InstanceType": data.instance_type,
        "KeyName": data.key_name,
        **_listed("SecurityGroupId", data.security_group_ids),
    }
    params = {f"LaunchTemplateData.{k}": v for k, v in fields.items() if v}
    if data.description:
        params["VersionDescription"] = data.description
    return params


# -- snapshots -------------------------------------------------------------------------------


async def describe_snapshots(ec2: Ec2Wire, origin: Scope, who: Principal) -> list[SnapshotRow]:
    """The account's own snapshots (not the public ones EC2 would also list)."""
    root = await ec2.call(origin, who, "DescribeSnapshots", {"Owner.1": "self"})
    return [_snapshot(s) for s in root.iterfind("snapshotSet/item")]


async def create_snapshot(
    ec2: Ec2Wire, origin: Scope, who: Principal, volume_id: str, description: str
) -> str:
    params = {"VolumeId": volume_id}
    if description:
        params["Description"] = description
    root = await ec2.call(origin, who, "CreateSnapshot", params)
    return text(root, "snapshotId")


async def create_image(
    ec2: Ec2Wire,
    origin: Scope,
    who: Principal,
    *,
    instance_id: str,
    name: str,
    description: str,
    no_reboot: bool,
) -> str:
    """CreateImage of an instance (decision 0147); the new image's id."""
    params = {"InstanceId": instance_id, "Name": name, "NoReboot": str(no_reboot).lower()}
    if description:
        params["Description"] = description
    root = await ec2.call(origin, who, "CreateImage", params)
    return text(root, "imageId")


async def describe_image(
    ec2: Ec2Wire, origin: Scope, who: Principal, image_id: str
) -> ImageRow | None:
    """One image the caller may see (EC2's InvalidAMIID.NotFound for another's, as for
    none)."""
    root = await ec2.call(origin, who, "DescribeImages", {"ImageId.1": image_id})
    return next((_image(i) for i in root.iterfind("imagesSet/item")), None)


async def image_launch_permissions(
    ec2: Ec2Wire, origin: Scope, who: Principal, image_id: str
) -> list[str]:
    """The accounts the image is shared with (decision 0147): DescribeImageAttribute's
    ``launchPermission``, which EC2 answers to the image's owner only."""
    params = {"ImageId": image_id, "Attribute": "launchPermission"}
    root = await ec2.call(origin, who, "DescribeImageAttribute", params)
    return [text(i, "userId") for i in root.iterfind("launchPermission/item") if text(i, "userId")]


async def modify_image_launch_permission(
    ec2: Ec2Wire, origin: Scope, who: Principal, image_id: str, *, account: str, add: bool
) -> None:
    """Share the image with ``account``, or stop sharing it: ModifyImageAttribute's
    ``LaunchPermission.Add.1.UserId`` (or ``Remove``), boto3's shape. EC2 checks the id."""
    operation = "Add" if add else "Remove"
    params = {"ImageId": image_id, f"LaunchPermission.{operation}.1.UserId": account}
    await ec2.call(origin, who, "ModifyImageAttribute", params)


async def delete_snapshot(ec2: Ec2Wire, origin: Scope, who: Principal, snapshot_id: str) -> None:
    await ec2.call(origin, who, "DeleteSnapshot", {"SnapshotId": snapshot_id})


async def create_volume_from_snapshot(
    ec2: Ec2Wire,
    origin: Scope,
    who: Principal,
    *,
    snapshot_id: str,
    zone: str,
    size_gib: str,
    client_token: str,
) -> str:
    """A copy of the snapshot in ``zone``: the snapshot's size unless ``size_gib`` is given
    (EC2 refuses a smaller one). The form's token makes one volume of a form sent twice."""
    params = {"SnapshotId": snapshot_id, "AvailabilityZone": zone, "ClientToken": client_token}
    if size_gib:
        params["Size"] = size_gib
    root = await ec2.call(origin, who, "CreateVolume", params)
    return text(root, "volumeId")


# -- launch templates ------------------------------------------------------------------------


async def describe_launch_templates(
    ec2: Ec2Wire, origin: Scope, who: Principal
) -> list[TemplateRow]:
    root = await ec2.call(origin, who, "DescribeLaunchTemplates")
    return [_template(t) for t in root.iterfind("launchTemplates/item")]


async def describe_launch_template(
    ec2: Ec2Wire, origin: Scope, who: Principal, template_id: str
) -> TemplateRow | None:
    """One template; EC2's InvalidLaunchTemplateId.NotFound for another tenant's, as for
    none."""
    root = await ec2.call(
        origin, who, "DescribeLaunchTemplates", {"LaunchTemplateId.1": template_id}
    )
    return next((_template(t) for t in root.iterfind("launchTemplates/item")), None)


async def describe_launch_template_versions(
    ec2: Ec2Wire, origin: Scope, who: Principal, template_id: str
) -> list[VersionRow]:
    """All the template's versions, newest first."""
    root = await ec2.call(
        origin, who, "DescribeLaunchTemplateVersions", {"LaunchTemplateId": template_id}
    )
    rows = [_version(v) for v in root.iterfind("launchTemplateVersionSet/item")]
    return sorted(rows, key=lambda v: int(v.number) if v.number.isdigit() else 0, reverse=True)


async def create_launch_template(
    ec2: Ec2Wire, origin: Scope, who: Principal, name: str, data: TemplateData
) -> str:
    """The new template's id (its version 1, the default)."""
    params = {"LaunchTemplateName": name, **_data(data)}
    root = await ec2.call(origin, who, "CreateLaunchTemplate", params)
    return text(root, "launchTemplate/launchTemplateId")


async def create_launch_template_version(
    ec2: Ec2Wire, origin: Scope, who: Principal, template_id: str, data: TemplateData
) -> None:
    """A new latest version, with only the data typed (none taken from an earlier one)."""
    params = {"LaunchTemplateId": template_id, **_data(data)}
    await ec2.call(origin, who, "CreateLaunchTemplateVersion", params)


async def set_default_version(
    ec2: Ec2Wire, origin: Scope, who: Principal, template_id: str, version: str
) -> None:
    params = {"LaunchTemplateId": template_id, "SetDefaultVersion": version}
    await ec2.call(origin, who, "ModifyLaunchTemplate", params)


async def delete_launch_template(
    ec2: Ec2Wire, origin: Scope, who: Principal, template_id: str
) -> None:
    """The template and all its versions (the instances launched from it stay)."""
    await ec2.call(origin, who, "DeleteLaunchTemplate", {"LaunchTemplateId": template_id})


async def run_from_template(
    ec2: Ec2Wire,
    origin: Scope,
    who: Principal,
    *,
    template_id: str,
    version: str,
    client_token: str,
) -> None:
    """One instance of the template's ``version`` (EC2 authorises RunInstances on the
    template too); the form's token: the same form sent twice launches once."""
    params = {
        "LaunchTemplate.LaunchTemplateId": template_id,
        "LaunchTemplate.Version": version,
        "MinCount": "1",
        "MaxCount": "1",
        "ClientToken": client_token,
    }
    await ec2.call(origin, who, "RunInstances", params)
