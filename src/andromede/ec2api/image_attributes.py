"""EC2 DescribeImageAttribute, ModifyImageAttribute and ResetImageAttribute (decision 0147):
an image's launch permissions (the accounts it is shared with) and its description.

ModifyImageAttribute takes its launch permissions in either of EC2's two shapes:
``LaunchPermission.Add.N.UserId`` / ``.Remove.N.`` (boto3's and Terraform's), or
``Attribute=launchPermission`` with ``OperationType`` and ``UserId.N`` / ``UserGroup.N`` (the
older one). Organisations and product codes do not exist here: refused by name
(``UnsupportedOperation``, decision 0060), never dropped.
"""

from __future__ import annotations

from andromede.compute.model import Image
from andromede.ec2api.errors import Ec2Error
from andromede.ec2api.images import write_block_devices
from andromede.ec2api.protocol import Action, Call, Params, arn_of
from andromede.ec2api.xml import write_return
from andromede.http.xml import XmlWriter

__all__ = ["IMAGE_ATTRIBUTE_ACTIONS"]

# The attributes EC2 names that have no value here: answered empty, as EC2 answers an image
# without them (no kernel, product code, boot mode, IMDS or TPM setting of its own). Launches
# are not tracked, so lastLaunchedTime is empty too, as EC2's for an image not launched since
# it began tracking them.
_EMPTY = frozenset(
    {"kernel", "ramdisk", "productCodes", "sriovNetSupport", "bootMode", "tpmSupport",
     "uefiData", "imdsSupport", "lastLaunchedTime"}
)  # fmt: skip


def _write_launch_permissions(xml: XmlWriter, image: Image) -> None:
    xml.open("launchPermission")
    for account in image.launch_permissions:
        xml.open("item")
        xml.element("userId", account)
        xml.close("item")
    xml.close("launchPermission")


async def describe_image_attribute(call: Call) -> None:
    p = call.params
    attribute = p.required("Attribute")
    image = await call.compute.image_attributes(call.tenant_id, p.required("ImageId"))
    xml = call.result
    xml.element("imageId", image.image_id)
    if attribute == "launchPermission":
        _write_launch_permissions(xml, image)
    elif attribute == "description":
        xml.open("description")
        xml.element("value", image.description or None)
        xml.close("description")
    elif attribute == "blockDeviceMapping":
        write_block_devices(xml, image)
    elif attribute == "deregistrationProtection":  # none here: any owner deregisters
        xml.open(attribute)
        xml.element("value", "disabled")
        xml.close(attribute)
    elif attribute in _EMPTY:
        xml.open(attribute)
        xml.close(attribute)
    else:
        raise Ec2Error(
            "InvalidParameterValue",
            f"Value ({attribute[:64]}) for parameter attribute is invalid. Supported here: "
            "launchPermission, description, blockDeviceMapping, deregistrationProtection, "
            + ", ".join(sorted(_EMPTY)),
        )


def _permissions(entries: list[Params]) -> tuple[list[str], list[str]]:
    """The accounts and groups of ``LaunchPermission.Add.N`` (or ``.Remove.N``)."""
    users, groups = [], []
    for entry in entries:
        entry.refuse_unhandled(
            "ModifyImageAttribute LaunchPermission", frozenset({"UserId", "Group"})
        )
        if (user := entry.get("UserId")) is not None:
            users.append(user)
        if (group := entry.get("Group")) is not None:
            groups.append(group)
    return users, groups


async def modify_image_attribute(call: Call) -> None:
    p = call.params
    p.refuse_unhandled(
        "ModifyImageAttribute",
        frozenset({"ImageId", "Attribute", "Description", "LaunchPermission", "OperationType",
                   "UserId", "UserGroup", "Value"}),
    )  # fmt: skip
    image_id = p.required("ImageId")
    attribute = p.get("Attribute")
    description = p.get("Description.Value")
    if attribute == "description" or (attribute is None and description is not None):
        value = description if description is not None else p.get("Value")
        if value is None:
            raise Ec2Error("MissingParameter", "The request must contain the parameter Value")
        await call.compute.modify_image_description(call.tenant_id, image_id, value)
        write_return(call.result)
        return
    if attribute not in (None, "launchPermission"):
        raise Ec2Error(
            "InvalidParameterValue",
            f"Value ({attribute[:64]}) for parameter attribute is invalid. Supported here: "
            "launchPermission, description",
        )
    add_users, add_groups = _permissions(p.view("LaunchPermission.").structs("Add"))
    remove_users, remove_groups = _permissions(p.view("LaunchPermission.").structs("Remove"))
    operation = p.get("OperationType")
    if operation is not None:
        if operation not in ("add", "remove"):
            raise Ec2Error("InvalidParameterValue", f"Invalid OperationType: {operation[:16]}")
        users, groups = (
            (add_users, add_groups) if operation == "add" else (remove_users, remove_groups)
        )
        users.extend(p.values("UserId"))
        groups.extend(p.values("UserGroup"))
    if not (add_users or add_groups or remove_users or remove_groups):
        raise Ec2Error(
            "MissingParameter",
            "The request must contain the parameter LaunchPermission or Description",
        )
    await call.compute.modify_image_launch_permission(
        call.tenant_id,
        image_id,
        add=add_users,
        remove=remove_users,
        groups_added=add_groups,
        groups_removed=remove_groups,
    )
    write_return(call.result)


async def reset_image_attribute(call: Call) -> None:
    p = call.params
    attribute = p.required("Attribute")
    if attribute != "launchPermission":
        raise Ec2Error(
            "InvalidParameterValue",
            f"Value ({attribute[:64]}) for parameter attribute is invalid. Only "
            "launchPermission can be reset",
        )
    await call.compute.reset_image_launch_permission(call.tenant_id, p.required("ImageId"))
    write_return(call.result)


IMAGE_ATTRIBUTE_ACTIONS: dict[str, Action] = {
    "DescribeImageAttribute": Action(
        describe_image_attribute, mutating=False, resources=arn_of("image", "ImageId")
    ),
    "ModifyImageAttribute": Action(
        modify_image_attribute, mutating=True, resources=arn_of("image", "ImageId")
    ),
    "ResetImageAttribute": Action(
        reset_image_attribute, mutating=True, resources=arn_of("image", "ImageId")
    ),
}
