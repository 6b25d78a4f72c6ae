"""EC2 image actions: DescribeImages, CreateImage (decision 0147), RegisterImage (from a
snapshot), DeregisterImage, ImportImage and DescribeImportImageTasks."""

from __future__ import annotations

from andromede.compute.image_creation import ImageMappingRequest
from andromede.compute.model import (
    Image,
    ImportTask,
)
from andromede.ec2api.copies import tags_for
from andromede.ec2api.errors import Ec2Error
from andromede.ec2api.filters import Filters, matches, with_tags
from andromede.ec2api.protocol import Action, Call, arn_of, iso8601
from andromede.ec2api.xml import write_return, write_tags
from andromede.http.xml import XmlWriter

__all__ = ["IMAGE_ACTIONS", "write_block_devices"]

_PUBLIC_OWNER = "andromede"  # the owner id public (operator) images show

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
    write_block_devices(xml, image)
    xml.element("virtualizationType", "hvm")
    xml.element("hypervisor", "xen")
    if image.state_reason is not None:  # a failed CreateImage (decision 0148)
        xml.open("stateReason")
        xml.element("code", image.state_reason.code)
        xml.element("message", image.state_reason.message)
        xml.close("stateReason")
    write_tags(xml, image.tags)
    xml.close("item")


def _write_mapping(
    xml: XmlWriter, device: str, snapshot_id: str | None, size_gib: int, delete: bool
) -> None:
    xml.open("item")
    xml.element("deviceName", device)
    xml.open("ebs")
    xml.element("snapshotId", snapshot_id)
    xml.element("volumeSize", size_gib)
    xml.element("deleteOnTermination", delete)
    xml.element("volumeType", "gp3")
    xml.element("encrypted", True)
    xml.close("ebs")
    xml.close("item")


def write_block_devices(xml: XmlWriter, image: Image) -> None:
    """The image's ``blockDeviceMapping``: its root device, then its further devices."""
    xml.open("blockDeviceMapping")
    _write_mapping(
        xml,
        image.root_device_name,
        image.snapshot_id,
        image.virtual_size_gib,
        image.root_delete_on_termination,
    )
    for device in image.block_devices:
        _write_mapping(
            xml, device.device, device.snapshot_id, device.size_gib, device.delete_on_termination
        )
    xml.close("blockDeviceMapping")


_IMAGE_FILTERS = with_tags(
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
        call.tenant_id,
        p.values("ImageId"),
        owners=p.values("Owner"),
        executable_users=p.values("ExecutableBy"),
    )
    call.result.open("imagesSet")
    for image in images:
        if matches(filters, image):
            _write_image(call.result, image)
    call.result.close("imagesSet")


_CREATE_MAPPING_HANDLED = frozenset(
    {"DeviceName", "NoDevice", "Ebs.VolumeSize", "Ebs.DeleteOnTermination"}
)
_CREATE_MAPPING_HARMLESS = {
    # Every volume here is encrypted, and general purpose.
    "Ebs.Encrypted": frozenset({"true", "false"}),
    "Ebs.VolumeType": frozenset({"gp2", "gp3", "standard"}),
}


def _image_mappings(call: Call) -> list[ImageMappingRequest]:
    found = []
    for mapping in call.params.structs("BlockDeviceMapping"):
        mapping.refuse_unhandled(
            "CreateImage BlockDeviceMapping", _CREATE_MAPPING_HANDLED, _CREATE_MAPPING_HARMLESS
        )
        delete = mapping.get("Ebs.DeleteOnTermination")
        found.append(
            ImageMappingRequest(
                device=mapping.required("DeviceName"),
                size_gib=mapping.integer("Ebs.VolumeSize", minimum=1, maximum=16384),
                delete_on_termination=(
                    None
                    if delete is None
                    else mapping.boolean("Ebs.DeleteOnTermination", default=True)
                ),
                # EC2's NoDevice is an empty string: its presence leaves the device out.
                no_device=mapping.get("NoDevice") is not None,
            )
        )
    return found


async def create_image(call: Call) -> None:
    p = call.params
    p.refuse_unhandled(
        "CreateImage",
        frozenset({"InstanceId", "Name", "Description", "NoReboot", "BlockDeviceMapping",
                   "TagSpecification"}),
    )  # fmt: skip
    tags = tags_for(p, frozenset({"image", "snapshot"}))
    image = await call.compute.create_image(
        call.tenant_id,
        p.required("InstanceId"),
        name=p.required("Name"),
        description=p.get("Description") or "",
        no_reboot=p.boolean("NoReboot", default=False),
        mappings=_image_mappings(call),
        tags=tags["image"],
        snapshot_tags=tags["snapshot"],
    )
    call.result.element("imageId", image.image_id)


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
    # Deleting the image's snapshots with it: not done here, so not taken as done.
    call.params.refuse_unhandled(
        "DeregisterImage",
        frozenset({"ImageId"}),
        {"DeleteAssociatedSnapshots": frozenset({"false"})},
    )
    await call.compute.deregister_image(call.tenant_id, call.params.required("ImageId"))
    write_return(call.result)


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


IMAGE_ACTIONS: dict[str, Action] = {
    "DescribeImages": Action(describe_images, mutating=False),
    # On the instance and on the new image, as EC2's CreateImage resource types.
    "CreateImage": Action(
        create_image,
        mutating=True,
        resources=lambda c: [
            c.arn("instance", c.params.get("InstanceId") or "*"),
            c.arn("image"),
        ],
    ),
    "RegisterImage": Action(register_image, mutating=True, resources=lambda c: [c.arn("image")]),
    "DeregisterImage": Action(
        deregister_image, mutating=True, resources=arn_of("image", "ImageId")
    ),
    "ImportImage": Action(import_image, mutating=True, resources=lambda c: [c.arn("image")]),
    "DescribeImportImageTasks": Action(describe_import_image_tasks, mutating=False),
}
