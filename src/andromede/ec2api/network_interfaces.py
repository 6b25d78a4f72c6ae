"""EC2 actions on elastic network interfaces (decision 0161): Create/DeleteNetworkInterface,
Attach/DetachNetworkInterface, Modify/Describe/ResetNetworkInterfaceAttribute and
Assign/UnassignPrivateIpAddresses. DescribeNetworkInterfaces is ``networks.py``'s."""

from __future__ import annotations

from andromede.compute.network_interfaces import FurtherInterface, InterfaceRequest
from andromede.ec2api.errors import Ec2Error
from andromede.ec2api.interface_xml import write_secondary_interface
from andromede.ec2api.protocol import Action, Call, Params, arn_of, iso8601
from andromede.ec2api.xml import write_return

__all__ = ["NETWORK_INTERFACE_ACTIONS", "launch_further_interfaces"]

_ATTRIBUTES = ("description", "groupSet", "sourceDestCheck", "attachment")
# What RunInstances' NetworkInterface.N at a device index of 1 or more may hold.
_FURTHER_HANDLED = frozenset(
    {
        "DeviceIndex", "NetworkInterfaceId", "SubnetId", "SecurityGroupId", "PrivateIpAddress",
        "SecondaryPrivateIpAddressCount", "Description", "DeleteOnTermination",
    }
)  # fmt: skip
_MADE_ONLY = ("SubnetId", "SecurityGroupId.1", "PrivateIpAddress", "Description")


def launch_further_interfaces(p: Params) -> list[FurtherInterface]:
    """RunInstances' interfaces at a device index of 1 or more (the primary, 0, is
    ``launch_parameters.launch_interface``'s): an existing one by its id, or one to make for
    each instance. Their other fields are refused, not dropped."""
    further: list[FurtherInterface] = []
    seen: set[int] = set()
    for item in p.structs("NetworkInterface"):
        index = item.integer("DeviceIndex", minimum=0, maximum=31)
        if index is None or index == 0:
            continue  # the primary, or MissingParameter from launch_interface
        if index in seen:
            raise Ec2Error(
                "InvalidParameterValue", "Each network interface requires a unique device index."
            )
        seen.add(index)
        item.refuse_unhandled("RunInstances", _FURTHER_HANDLED)
        existing = item.get("NetworkInterfaceId")
        if existing is not None:
            if any(item.get(name) is not None for name in _MADE_ONLY):
                raise Ec2Error(
                    "InvalidParameterCombination",
                    "An existing network interface takes no subnet, groups, address or description",
                )
            further.append(
                FurtherInterface(
                    index,
                    interface_id=existing,
                    delete_on_termination=item.boolean("DeleteOnTermination", default=False),
                )
            )
            continue
        request = InterfaceRequest(
            subnet_id=item.get("SubnetId") or "",
            private_ip=item.get("PrivateIpAddress"),
            secondary_count=item.integer("SecondaryPrivateIpAddressCount", default=0, minimum=0)
            or 0,
            group_ids=tuple(item.values("SecurityGroupId")),
            description=item.get("Description") or "",
        )
        further.append(
            FurtherInterface(
                index,
                request=request,
                delete_on_termination=item.boolean("DeleteOnTermination", default=True),
            )
        )
    return sorted(further, key=lambda f: f.device_index)


async def create_network_interface(call: Call) -> None:
    p = call.params
    named = p.structs("PrivateIpAddresses")
    primary = p.get("PrivateIpAddress")
    secondaries: list[str] = []
    for item in named:
        address = item.required("PrivateIpAddress")
        if item.boolean("Primary", default=False):
            if primary is not None and primary != address:
                raise Ec2Error(
                    "InvalidParameterCombination", "Only one primary private address may be given"
                )
            primary = address
        else:
            secondaries.append(address)
    request = InterfaceRequest(
        subnet_id=p.required("SubnetId"),
        private_ip=primary,
        secondary_ips=tuple(a for a in secondaries if a != primary),
        secondary_count=p.integer("SecondaryPrivateIpAddressCount", default=0, minimum=0) or 0,
        group_ids=tuple(p.values("SecurityGroupId")),
        description=p.get("Description") or "",
        tags=p.tag_specifications("network-interface"),
        client_token=p.get("ClientToken"),
        # Decision 0217.
        ipv6_addresses=tuple(a.required("Ipv6Address") for a in p.structs("Ipv6Addresses")),
        ipv6_count=p.integer("Ipv6AddressCount", default=0, minimum=0, maximum=64) or 0,
    )
    interface = await call.compute.create_network_interface(call.tenant_id, request)
    groups = await call.compute.describe_security_groups(call.tenant_id, [], [])
    names = {g.group_id: g.name for g in groups}
    write_secondary_interface(
        call.result, call, interface, None, names, nested=False, element="networkInterface"
    )
    call.result.element("clientToken", p.get("ClientToken"))


async def delete_network_interface(call: Call) -> None:
    await call.compute.delete_network_interface(
        call.tenant_id, call.params.required("NetworkInterfaceId")
    )
    write_return(call.result)


async def attach_network_interface(call: Call) -> None:
    p = call.params
    device = p.integer("DeviceIndex")
    if device is None:
        raise Ec2Error("MissingParameter", "The request must contain the parameter DeviceIndex")
    attached = await call.compute.attach_network_interface(
        call.tenant_id, p.required("NetworkInterfaceId"), p.required("InstanceId"), device
    )
    call.result.element("attachmentId", attached.attachment)
    call.result.element("networkCardIndex", 0)


async def detach_network_interface(call: Call) -> None:
    p = call.params
    await call.compute.detach_network_interface(
        call.tenant_id, p.required("AttachmentId"), force=p.boolean("Force", default=False)
    )
    write_return(call.result)


async def modify_network_interface_attribute(call: Call) -> None:
    p = call.params
    attachment: tuple[str, bool] | None = None
    if p.get("Attachment.AttachmentId") is not None or p.get("Attachment.DeleteOnTermination"):
        attachment = (
            p.required("Attachment.AttachmentId"),
            p.boolean("Attachment.DeleteOnTermination", default=False),
        )
    groups = p.values("SecurityGroupId")
    await call.compute.modify_network_interface(
        call.tenant_id,
        p.required("NetworkInterfaceId"),
        description=p.get("Description.Value"),
        group_ids=groups or None,
        source_dest_check=(
            p.boolean("SourceDestCheck.Value", default=True)
            if p.get("SourceDestCheck.Value") is not None
            else None
        ),
        attachment=attachment,
    )
    write_return(call.result)


async def describe_network_interface_attribute(call: Call) -> None:
    p = call.params
    attribute = p.required("Attribute")
    if attribute not in _ATTRIBUTES:
        raise Ec2Error(
            "InvalidParameterValue", f"Value ({attribute[:32]}) for parameter attribute is invalid"
        )
    interface = await call.compute.network_interface(
        call.tenant_id, p.required("NetworkInterfaceId")
    )
    xml = call.result
    xml.element("networkInterfaceId", interface.interface_id)
    if attribute == "description":
        xml.open("description")
        xml.element("value", interface.description)
        xml.close("description")
    elif attribute == "sourceDestCheck":
        xml.open("sourceDestCheck")
        xml.element("value", interface.source_dest_check)
        xml.close("sourceDestCheck")
    elif attribute == "groupSet":
        group_ids = interface.group_ids
        if interface.device_index == 0 and interface.instance_id:
            [instance] = await call.compute.describe_instances(
                call.tenant_id, [interface.instance_id]
            )
            group_ids = instance.security_group_ids
        groups = await call.compute.describe_security_groups(call.tenant_id, [], [])
        names = {g.group_id: g.name for g in groups}
        xml.open("groupSet")
        for group_id in group_ids:
            xml.open("item")
            xml.element("groupId", group_id)
            xml.element("groupName", names.get(group_id, ""))
            xml.close("item")
        xml.close("groupSet")
    elif interface.instance_id:
        xml.open("attachment")
        xml.element("attachmentId", interface.attachment)
        xml.element("instanceId", interface.instance_id)
        xml.element("instanceOwnerId", interface.tenant_id)
        xml.element("deviceIndex", interface.device_index)
        xml.element("status", "attached")
        xml.element("attachTime", iso8601(interface.attached_at or interface.created_at))
        xml.element("deleteOnTermination", interface.delete_on_termination)
        xml.close("attachment")


async def reset_network_interface_attribute(call: Call) -> None:
    p = call.params
    attribute = p.required("SourceDestCheck") if p.get("Attribute") is None else p.get("Attribute")
    if attribute not in ("sourceDestCheck", "true", "True"):
        raise Ec2Error(
            "InvalidParameterValue",
            f"Value ({(attribute or '')[:32]}) for parameter attribute is invalid",
        )
    await call.compute.reset_source_dest_check(call.tenant_id, p.required("NetworkInterfaceId"))
    write_return(call.result)


async def assign_private_ip_addresses(call: Call) -> None:
    p = call.params
    interface_id = p.required("NetworkInterfaceId")
    assigned = await call.compute.assign_private_ips(
        call.tenant_id,
        interface_id,
        p.values("PrivateIpAddress"),
        p.integer("SecondaryPrivateIpAddressCount", default=0, minimum=0) or 0,
        allow_reassignment=p.boolean("AllowReassignment", default=False),
    )
    xml = call.result
    xml.element("networkInterfaceId", interface_id)
    xml.open("assignedPrivateIpAddressesSet")
    for address in assigned:
        xml.open("item")
        xml.element("privateIpAddress", address)
        xml.close("item")
    xml.close("assignedPrivateIpAddressesSet")
    write_return(xml)


async def unassign_private_ip_addresses(call: Call) -> None:
    p = call.params
    await call.compute.unassign_private_ips(
        call.tenant_id, p.required("NetworkInterfaceId"), p.values("PrivateIpAddress")
    )
    write_return(call.result)


def _attach_arns(call: Call) -> list[str]:
    # EC2 authorises an attachment on the interface and on the instance.
    p = call.params
    return [
        call.arn("network-interface", p.get("NetworkInterfaceId") or "*"),
        call.arn("instance", p.get("InstanceId") or "*"),
    ]


_eni_arn = arn_of("network-interface", "NetworkInterfaceId")

NETWORK_INTERFACE_ACTIONS: dict[str, Action] = {
    "CreateNetworkInterface": Action(
        create_network_interface,
        mutating=True,
        resources=lambda c: [
            c.arn("network-interface"),
            c.arn("subnet", c.params.get("SubnetId") or "*"),
        ],
    ),
    "DeleteNetworkInterface": Action(delete_network_interface, mutating=True, resources=_eni_arn),
    "AttachNetworkInterface": Action(
        attach_network_interface, mutating=True, resources=_attach_arns
    ),
    "DetachNetworkInterface": Action(detach_network_interface, mutating=True),
    "ModifyNetworkInterfaceAttribute": Action(
        modify_network_interface_attribute, mutating=True, resources=_eni_arn
    ),
    "DescribeNetworkInterfaceAttribute": Action(
        describe_network_interface_attribute, mutating=False
    ),
    "ResetNetworkInterfaceAttribute": Action(
        reset_network_interface_attribute, mutating=True, resources=_eni_arn
    ),
    "AssignPrivateIpAddresses": Action(
        assign_private_ip_addresses, mutating=True, resources=_eni_arn
    ),
    "UnassignPrivateIpAddresses": Action(
        unassign_private_ip_addresses, mutating=True, resources=_eni_arn
    ),
}
