"""EC2 actions on the resources around instances: images (and ImportImage), key pairs,
security groups, tags, volumes and snapshots."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable

from andromede.compute.model import (
    Image,
    ImportTask,
    Rule,
    SecurityGroup,
    Snapshot,
    Volume,
    parse_rule,
)
from andromede.compute.service_core import TagEntry
from andromede.ec2api.errors import Ec2Error
from andromede.ec2api.filters import Filters, matches
from andromede.ec2api.protocol import Action, Call, Handler, Params, iso8601
from andromede.ec2api.xml import write_tags
from andromede.http.xml import XmlWriter

__all__ = ["RESOURCE_ACTIONS"]

_PUBLIC_OWNER = "andromede"  # the owner id public (operator) images show


def _ok(call: Call) -> None:
    call.result.element("return", True)


def _tag_filter(name: str) -> Callable[[object], list[str]] | None:
    """The tag filters every resource type supports (``tag:K``, ``tag-key``, ``tag-value``)."""
    if name.startswith("tag:"):
        key = name[4:]
        return lambda r: [v for k, v in getattr(r, "tags", ()) if k == key]
    if name == "tag-key":
        return lambda r: [k for k, _ in getattr(r, "tags", ())]
    if name == "tag-value":
        return lambda r: [v for _, v in getattr(r, "tags", ())]
    return None


def _with_tags(
    fields: dict[str, Callable[[object], list[str]]],
) -> Callable[[str], Callable[[object], list[str]] | None]:
    return lambda name: fields.get(name) or _tag_filter(name)


# -- images ----------------------------------------------------------------------------------


def _write_image(xml: XmlWriter, image: Image) -> None:
    xml.open("item")
    xml.element("imageId", image.image_id)
    xml.element("imageLocation", f"{image.owner_id or _PUBLIC_OWNER}/{image.name}")
    xml.element("imageState", image.state.value)
    xml.element("imageOwnerId", image.owner_id or _PUBLIC_OWNER)
    xml.element("creationDate", iso8601(image.created_at))
    xml.element("isPublic", image.public)
    xml.element("architecture", image.architecture)
    xml.element("imageType", "machine")
    xml.element("name", image.name)
    xml.element("description", image.description or None)
    xml.element("rootDeviceType", "ebs")
    xml.element("rootDeviceName", image.root_device_name)
    xml.open("blockDeviceMapping")
    xml.open("item")
    xml.element("deviceName", image.root_device_name)
    xml.open("ebs")
    xml.element("snapshotId", image.snapshot_id)
    xml.element("volumeSize", image.virtual_size_gib)
    xml.element("deleteOnTermination", True)
    xml.element("encrypted", True)
    xml.close("ebs")
    xml.close("item")
    xml.close("blockDeviceMapping")
    xml.element("virtualizationType", "hvm")
    xml.element("hypervisor", "xen")
    write_tags(xml, image.tags)
    xml.close("item")


_IMAGE_FILTERS = _with_tags(
    {
        "image-id": lambda i: [i.image_id] if isinstance(i, Image) else [],
        "name": lambda i: [i.name] if isinstance(i, Image) else [],
        "state": lambda i: [i.state.value] if isinstance(i, Image) else [],
        "owner-id": lambda i: [i.owner_id or _PUBLIC_OWNER] if isinstance(i, Image) else [],
        "is-public": lambda i: [str(i.public).lower()] if isinstance(i, Image) else [],
        "architecture": lambda i: [i.architecture] if isinstance(i, Image) else [],
    }
)


async def describe_images(call: Call) -> None:
    p = call.params
    filters = Filters(p.filters(), _IMAGE_FILTERS)
    images = await call.compute.describe_images(
        call.tenant_id, p.values("ImageId"), owners=p.values("Owner")
    )
    call.result.open("imagesSet")
    for image in images:
        if matches(filters, image):
            _write_image(call.result, image)
    call.result.close("imagesSet")


async def register_image(call: Call) -> None:
    p = call.params
    root_device = p.get("RootDeviceName") or "/dev/xvda"
    snapshot_id = None
    for mapping in p.structs("BlockDeviceMapping"):
        if mapping.get("DeviceName") in (root_device, None):
            snapshot_id = mapping.get("Ebs.SnapshotId")
    if snapshot_id is None:
        raise Ec2Error(
            "InvalidParameterValue",
            "RegisterImage needs the root device's snapshot (BlockDeviceMapping "
            "with Ebs.SnapshotId); image files are imported with ImportImage",
        )
    image = await call.compute.register_image(
        call.tenant_id,
        name=p.required("Name"),
        description=p.get("Description") or "",
        root_snapshot_id=snapshot_id,
        root_device_name=root_device,
    )
    call.result.element("imageId", image.image_id)


async def deregister_image(call: Call) -> None:
    await call.compute.deregister_image(call.tenant_id, call.params.required("ImageId"))
    _ok(call)


def _write_import_task(xml: XmlWriter, task: ImportTask) -> None:
    xml.element("importTaskId", task.task_id)
    xml.element("description", task.description or None)
    xml.element("imageId", task.image_id)
    xml.element("status", task.status)
    xml.element("statusMessage", task.status_message or None)
    xml.element("progress", None if task.status != "active" else "0")
    xml.element("architecture", "x86_64")
    xml.element("encrypted", True)
    xml.open("snapshotDetailSet")
    xml.open("item")
    xml.element("format", task.disk_format.upper() or None)
    xml.element("diskImageSize", task.size_bytes or None)
    xml.element("status", task.status)
    xml.open("userBucket")
    xml.element("s3Bucket", task.bucket)
    xml.element("s3Key", task.key)
    xml.close("userBucket")
    xml.close("item")
    xml.close("snapshotDetailSet")
    write_tags(xml, task.tags)


async def import_image(call: Call) -> None:
    p = call.params
    disks = p.structs("DiskContainer")
    if len(disks) != 1:
        raise Ec2Error("InvalidParameterValue", "ImportImage takes exactly one DiskContainer")
    disk = disks[0]
    if disk.get("Url") is not None:
        raise Ec2Error(
            "InvalidParameterValue", "Import from a URL is not supported; use UserBucket"
        )
    task = await call.compute.import_image(
        call.tenant_id,
        call.principal,
        bucket=disk.required("UserBucket.S3Bucket"),
        key=disk.required("UserBucket.S3Key"),
        description=p.get("Description") or "",
        tags=p.tag_specifications("import-image-task"),
    )
    _write_import_task(call.result, task)


async def describe_import_image_tasks(call: Call) -> None:
    tasks = await call.compute.describe_import_tasks(
        call.tenant_id, call.params.values("ImportTaskId")
    )
    call.result.open("importImageTaskSet")
    for task in tasks:
        call.result.open("item")
        _write_import_task(call.result, task)
        call.result.close("item")
    call.result.close("importImageTaskSet")


# -- key pairs -------------------------------------------------------------------------------


async def create_key_pair(call: Call) -> None:
    p = call.params
    if (p.get("KeyFormat") or "pem") != "pem":
        raise Ec2Error("InvalidParameterValue", "Only the pem key format is supported")
    key_pair, private = await call.compute.create_key_pair(
        call.tenant_id,
        p.required("KeyName"),
        p.get("KeyType") or "rsa",
        p.tag_specifications("key-pair"),
    )
    xml = call.result
    xml.element("keyName", key_pair.name)
    xml.element("keyFingerprint", key_pair.fingerprint)
    xml.element("keyMaterial", private)
    xml.element("keyPairId", key_pair.key_pair_id)
    write_tags(xml, key_pair.tags)


async def import_key_pair(call: Call) -> None:
    p = call.params
    try:
        material = base64.b64decode(p.required("PublicKeyMaterial"), validate=True)
    except (binascii.Error, ValueError):
        raise Ec2Error("InvalidParameterValue", "PublicKeyMaterial is not base64") from None
    key_pair = await call.compute.import_key_pair(
        call.tenant_id, p.required("KeyName"), material, p.tag_specifications("key-pair")
    )
    xml = call.result
    xml.element("keyName", key_pair.name)
    xml.element("keyFingerprint", key_pair.fingerprint)
    xml.element("keyPairId", key_pair.key_pair_id)
    write_tags(xml, key_pair.tags)


async def describe_key_pairs(call: Call) -> None:
    p = call.params
    include_public = p.boolean("IncludePublicKey", default=False)
    key_pairs = await call.compute.describe_key_pairs(
        call.tenant_id, p.values("KeyName"), p.values("KeyPairId")
    )
    filters = Filters(
        p.filters(),
        _with_tags(
            {
                "key-name": lambda k: [getattr(k, "name", "")],
                "key-pair-id": lambda k: [getattr(k, "key_pair_id", "")],
                "fingerprint": lambda k: [getattr(k, "fingerprint", "")],
            }
        ),
    )
    xml = call.result
    xml.open("keySet")
    for key_pair in key_pairs:
        if not matches(filters, key_pair):
            continue
        xml.open("item")
        xml.element("keyPairId", key_pair.key_pair_id)
        xml.element("keyName", key_pair.name)
        xml.element("keyFingerprint", key_pair.fingerprint)
        xml.element("keyType", key_pair.key_type)
        xml.element("createTime", iso8601(key_pair.created_at))
        if include_public:
            xml.element("publicKey", key_pair.public_key)
        write_tags(xml, key_pair.tags)
        xml.close("item")
    xml.close("keySet")


async def delete_key_pair(call: Call) -> None:
    p = call.params
    name, key_pair_id = p.get("KeyName"), p.get("KeyPairId")
    if name is None and key_pair_id is None:
        raise Ec2Error("MissingParameter", "The request must contain KeyName or KeyPairId")
    await call.compute.delete_key_pair(call.tenant_id, name=name, key_pair_id=key_pair_id)
    _ok(call)


# -- security groups -------------------------------------------------------------------------


def _write_rules(xml: XmlWriter, name: str, rules: tuple[Rule, ...]) -> None:
    xml.open(name)
    for rule in rules:
        xml.open("item")
        xml.element("ipProtocol", rule.protocol)
        if rule.protocol != "-1":
            xml.element("fromPort", rule.from_port)
            xml.element("toPort", rule.to_port)
        xml.open("groups")
        xml.close("groups")
        v6 = ":" in rule.cidr
        xml.open("ipRanges")
        if not v6:
            xml.open("item")
            xml.element("cidrIp", rule.cidr)
            xml.element("description", rule.description or None)
            xml.close("item")
        xml.close("ipRanges")
        xml.open("ipv6Ranges")
        if v6:
            xml.open("item")
            xml.element("cidrIpv6", rule.cidr)
            xml.element("description", rule.description or None)
            xml.close("item")
        xml.close("ipv6Ranges")
        xml.open("prefixListIds")
        xml.close("prefixListIds")
        xml.close("item")
    xml.close(name)


async def create_security_group(call: Call) -> None:
    p = call.params
    group = await call.compute.create_security_group(
        call.tenant_id,
        p.required("GroupName"),
        p.required("GroupDescription"),
        p.tag_specifications("security-group"),
    )
    call.result.element("return", True)
    call.result.element("groupId", group.group_id)
    call.result.element("securityGroupArn", call.arn("security-group", group.group_id))
    write_tags(call.result, group.tags)


_GROUP_FILTERS = _with_tags(
    {
        "group-id": lambda g: [g.group_id] if isinstance(g, SecurityGroup) else [],
        "group-name": lambda g: [g.name] if isinstance(g, SecurityGroup) else [],
        "description": lambda g: [g.description] if isinstance(g, SecurityGroup) else [],
    }
)


async def describe_security_groups(call: Call) -> None:
    p = call.params
    groups = await call.compute.describe_security_groups(
        call.tenant_id, p.values("GroupId"), p.values("GroupName")
    )
    filters = Filters(p.filters(), _GROUP_FILTERS)
    xml = call.result
    xml.open("securityGroupInfo")
    for group in groups:
        if not matches(filters, group):
            continue
        xml.open("item")
        xml.element("ownerId", call.tenant_id)
        xml.element("groupId", group.group_id)
        xml.element("groupName", group.name)
        xml.element("groupDescription", group.description)
        xml.element("securityGroupArn", call.arn("security-group", group.group_id))
        _write_rules(xml, "ipPermissions", group.ingress)
        _write_rules(xml, "ipPermissionsEgress", group.egress)
        write_tags(xml, group.tags)
        xml.close("item")
    xml.close("securityGroupInfo")


async def delete_security_group(call: Call) -> None:
    p = call.params
    group_id, name = p.get("GroupId"), p.get("GroupName")
    if group_id is None and name is None:
        raise Ec2Error("MissingParameter", "The request must contain GroupId or GroupName")
    group = await call.compute.delete_security_group(call.tenant_id, group_id=group_id, name=name)
    call.result.element("return", True)
    call.result.element("groupId", group.group_id)


def _port(params: Params, name: str) -> int | None:
    return params.integer(name, minimum=-1, maximum=65535)


def _rules(p: Params) -> list[Rule]:
    rules: list[Rule] = []
    for perm in p.structs("IpPermissions"):
        if perm.structs("Groups") or perm.structs("PrefixListIds"):
            raise Ec2Error(
                "InvalidParameterValue",
                "Rules naming security groups or prefix lists are not supported",
            )
        protocol = perm.required("IpProtocol")
        low, high = _port(perm, "FromPort"), _port(perm, "ToPort")
        ranges = [
            (r.required("CidrIp"), r.get("Description") or "") for r in perm.structs("IpRanges")
        ]
        ranges += [
            (r.required("CidrIpv6"), r.get("Description") or "") for r in perm.structs("Ipv6Ranges")
        ]
        if not ranges:
            raise Ec2Error("MissingParameter", "A rule needs an IpRanges or Ipv6Ranges CIDR")
        rules.extend(parse_rule(protocol, low, high, cidr, text) for cidr, text in ranges)
    cidr = p.get("CidrIp")
    if cidr is not None:
        rules.append(
            parse_rule(p.get("IpProtocol") or "-1", _port(p, "FromPort"), _port(p, "ToPort"), cidr)
        )
    if not rules:
        raise Ec2Error("MissingParameter", "The request must contain IpPermissions or CidrIp")
    return rules


async def _group_id(call: Call) -> str:
    p = call.params
    group_id = p.get("GroupId")
    if group_id is not None:
        return group_id
    name = p.required("GroupName") if p.get("GroupName") is None else p.get("GroupName")
    group = await call.compute.security_group(call.tenant_id, group_id=None, name=name)
    return group.group_id


def _changer(*, ingress: bool, authorise: bool) -> Handler:
    async def change(call: Call) -> None:
        group_id = await _group_id(call)
        rules = _rules(call.params)
        compute = call.compute
        if authorise:
            await compute.authorize(call.tenant_id, group_id, rules, ingress=ingress)
        else:
            await compute.revoke(call.tenant_id, group_id, rules, ingress=ingress)
        call.result.element("return", True)

    return change


def _group_arn(call: Call) -> list[str]:
    return [call.arn("security-group", call.params.get("GroupId") or "*")]


# -- tags ------------------------------------------------------------------------------------


def _resource_ids(call: Call) -> list[str]:
    ids = call.params.values("ResourceId")
    if not ids:
        raise Ec2Error("MissingParameter", "The request must contain the parameter ResourceId")
    return ids


async def create_tags(call: Call) -> None:
    await call.compute.create_tags(call.tenant_id, _resource_ids(call), call.params.tags())
    _ok(call)


async def delete_tags(call: Call) -> None:
    keys: dict[str, str | None] = {
        t.required("Key"): t.get("Value") for t in call.params.structs("Tag")
    }
    await call.compute.delete_tags(call.tenant_id, _resource_ids(call), keys)
    _ok(call)


_TAG_FILTERS: dict[str, Callable[[TagEntry], list[str]]] = {
    "key": lambda e: [e.key],
    "value": lambda e: [e.value],
    "resource-id": lambda e: [e.resource_id],
    "resource-type": lambda e: [e.resource_type],
}


async def describe_tags(call: Call) -> None:
    filters = Filters(call.params.filters(), _TAG_FILTERS.get)
    max_results = call.params.integer("MaxResults", minimum=5, maximum=1000)
    entries = [e for e in await call.compute.describe_tags(call.tenant_id) if matches(filters, e)]
    entries.sort(key=lambda e: (e.resource_id, e.key))
    start = call.params.integer("NextToken", default=0, minimum=0) or 0
    end = len(entries) if max_results is None else start + max_results
    xml = call.result
    xml.open("tagSet")
    for entry in entries[start:end]:
        xml.open("item")
        xml.element("resourceId", entry.resource_id)
        xml.element("resourceType", entry.resource_type)
        xml.element("key", entry.key)
        xml.element("value", entry.value)
        xml.close("item")
    xml.close("tagSet")
    xml.element("nextToken", str(end) if end < len(entries) else None)


# -- volumes and snapshots -------------------------------------------------------------------


def _write_attachment(xml: XmlWriter, volume: Volume) -> None:
    attachment = volume.attachment
    if attachment is None:
        return
    xml.element("volumeId", volume.volume_id)
    xml.element("instanceId", attachment.instance_id)
    xml.element("device", attachment.device)
    xml.element("status", "attached")
    xml.element("attachTime", iso8601(attachment.attached_at))
    xml.element("deleteOnTermination", attachment.delete_on_termination)


def _write_volume(xml: XmlWriter, volume: Volume) -> None:
    xml.element("volumeId", volume.volume_id)
    xml.element("size", volume.size_gib)
    xml.element("snapshotId", volume.snapshot_id or "")
    xml.element("availabilityZone", volume.availability_zone)
    xml.element("status", volume.state.value)
    xml.element("createTime", iso8601(volume.created_at))
    xml.open("attachmentSet")
    if volume.attachment is not None:
        xml.open("item")
        _write_attachment(xml, volume)
        xml.close("item")
    xml.close("attachmentSet")
    xml.element("volumeType", "gp3")
    xml.element("encrypted", True)
    xml.element("multiAttachEnabled", False)
    write_tags(xml, volume.tags)


async def create_volume(call: Call) -> None:
    p = call.params
    volume = await call.compute.create_volume(
        call.tenant_id,
        size_gib=p.integer("Size", minimum=1, maximum=16384),
        snapshot_id=p.get("SnapshotId"),
        availability_zone=p.required("AvailabilityZone"),
        tags=p.tag_specifications("volume"),
    )
    _write_volume(call.result, volume)


_VOLUME_FILTERS = _with_tags(
    {
        "volume-id": lambda v: [v.volume_id] if isinstance(v, Volume) else [],
        "status": lambda v: [v.state.value] if isinstance(v, Volume) else [],
        "size": lambda v: [str(v.size_gib)] if isinstance(v, Volume) else [],
        "snapshot-id": lambda v: [v.snapshot_id or ""] if isinstance(v, Volume) else [],
        "availability-zone": lambda v: [v.availability_zone] if isinstance(v, Volume) else [],
        "attachment.instance-id": lambda v: (
            [v.attachment.instance_id] if isinstance(v, Volume) and v.attachment else []
        ),
    }
)


async def describe_volumes(call: Call) -> None:
    p = call.params
    filters = Filters(p.filters(), _VOLUME_FILTERS)
    volumes = await call.compute.describe_volumes(call.tenant_id, p.values("VolumeId"))
    call.result.open("volumeSet")
    for volume in volumes:
        if matches(filters, volume):
            call.result.open("item")
            _write_volume(call.result, volume)
            call.result.close("item")
    call.result.close("volumeSet")


async def delete_volume(call: Call) -> None:
    await call.compute.delete_volume(call.tenant_id, call.params.required("VolumeId"))
    _ok(call)


async def attach_volume(call: Call) -> None:
    p = call.params
    volume = await call.compute.attach_volume(
        call.tenant_id, p.required("VolumeId"), p.required("InstanceId"), p.required("Device")
    )
    _write_attachment(call.result, volume)


async def detach_volume(call: Call) -> None:
    p = call.params
    volume, attachment = await call.compute.detach_volume(
        call.tenant_id, p.required("VolumeId"), p.get("InstanceId")
    )
    xml = call.result
    xml.element("volumeId", volume.volume_id)
    xml.element("instanceId", attachment.instance_id)
    xml.element("device", attachment.device)
    xml.element("status", "detached")
    xml.element("attachTime", iso8601(attachment.attached_at))
    xml.element("deleteOnTermination", attachment.delete_on_termination)


def _write_snapshot(xml: XmlWriter, snapshot: Snapshot, owner: str) -> None:
    xml.element("snapshotId", snapshot.snapshot_id)
    xml.element("volumeId", snapshot.volume_id)
    xml.element("status", snapshot.state)
    xml.element("startTime", iso8601(snapshot.started_at))
    xml.element("progress", "100%")
    xml.element("ownerId", owner)
    xml.element("volumeSize", snapshot.volume_size_gib)
    xml.element("description", snapshot.description)
    xml.element("encrypted", True)
    write_tags(xml, snapshot.tags)


async def create_snapshot(call: Call) -> None:
    p = call.params
    snapshot = await call.compute.create_snapshot(
        call.tenant_id,
        p.required("VolumeId"),
        p.get("Description") or "",
        p.tag_specifications("snapshot"),
    )
    _write_snapshot(call.result, snapshot, call.tenant_id)


_SNAPSHOT_FILTERS = _with_tags(
    {
        "snapshot-id": lambda s: [s.snapshot_id] if isinstance(s, Snapshot) else [],
        "volume-id": lambda s: [s.volume_id] if isinstance(s, Snapshot) else [],
        "status": lambda s: [s.state] if isinstance(s, Snapshot) else [],
        "owner-id": lambda s: [s.tenant_id] if isinstance(s, Snapshot) else [],
    }
)


async def describe_snapshots(call: Call) -> None:
    p = call.params
    filters = Filters(p.filters(), _SNAPSHOT_FILTERS)
    owners = {call.tenant_id if o == "self" else o for o in p.values("Owner")}
    snapshots = await call.compute.describe_snapshots(call.tenant_id, p.values("SnapshotId"))
    call.result.open("snapshotSet")
    for snapshot in snapshots:
        if matches(filters, snapshot) and (not owners or snapshot.tenant_id in owners):
            call.result.open("item")
            _write_snapshot(call.result, snapshot, call.tenant_id)
            call.result.close("item")
    call.result.close("snapshotSet")


async def delete_snapshot(call: Call) -> None:
    await call.compute.delete_snapshot(call.tenant_id, call.params.required("SnapshotId"))
    _ok(call)


def _arn_of(kind: str, param: str) -> Callable[[Call], list[str]]:
    return lambda call: [call.arn(kind, call.params.get(param) or "*")]


RESOURCE_ACTIONS: dict[str, Action] = {
    "DescribeImages": Action(describe_images, mutating=False),
    "RegisterImage": Action(register_image, mutating=True, resources=lambda c: [c.arn("image")]),
    "DeregisterImage": Action(
        deregister_image, mutating=True, resources=_arn_of("image", "ImageId")
    ),
    "ImportImage": Action(import_image, mutating=True, resources=lambda c: [c.arn("image")]),
    "DescribeImportImageTasks": Action(describe_import_image_tasks, mutating=False),
    "CreateKeyPair": Action(
        create_key_pair, mutating=True, resources=_arn_of("key-pair", "KeyName")
    ),
    "ImportKeyPair": Action(
        import_key_pair, mutating=True, resources=_arn_of("key-pair", "KeyName")
    ),
    "DescribeKeyPairs": Action(describe_key_pairs, mutating=False),
    "DeleteKeyPair": Action(
        delete_key_pair, mutating=True, resources=_arn_of("key-pair", "KeyName")
    ),
    "CreateSecurityGroup": Action(
        create_security_group, mutating=True, resources=lambda c: [c.arn("security-group")]
    ),
    "DescribeSecurityGroups": Action(describe_security_groups, mutating=False),
    "DeleteSecurityGroup": Action(delete_security_group, mutating=True, resources=_group_arn),
    "AuthorizeSecurityGroupIngress": Action(
        _changer(ingress=True, authorise=True),
        mutating=True,
        resources=_group_arn,
    ),
    "AuthorizeSecurityGroupEgress": Action(
        _changer(ingress=False, authorise=True),
        mutating=True,
        resources=_group_arn,
    ),
    "RevokeSecurityGroupIngress": Action(
        _changer(ingress=True, authorise=False),
        mutating=True,
        resources=_group_arn,
    ),
    "RevokeSecurityGroupEgress": Action(
        _changer(ingress=False, authorise=False),
        mutating=True,
        resources=_group_arn,
    ),
    "CreateTags": Action(create_tags, mutating=True),
    "DeleteTags": Action(delete_tags, mutating=True),
    "DescribeTags": Action(describe_tags, mutating=False),
    "CreateVolume": Action(create_volume, mutating=True, resources=lambda c: [c.arn("volume")]),
    "DeleteVolume": Action(delete_volume, mutating=True, resources=_arn_of("volume", "VolumeId")),
    "DescribeVolumes": Action(describe_volumes, mutating=False),
    "AttachVolume": Action(attach_volume, mutating=True, resources=_arn_of("volume", "VolumeId")),
    "DetachVolume": Action(detach_volume, mutating=True, resources=_arn_of("volume", "VolumeId")),
    "CreateSnapshot": Action(
        create_snapshot, mutating=True, resources=lambda c: [c.arn("snapshot")]
    ),
    "DescribeSnapshots": Action(describe_snapshots, mutating=False),
    "DeleteSnapshot": Action(
        delete_snapshot, mutating=True, resources=_arn_of("snapshot", "SnapshotId")
    ),
}
