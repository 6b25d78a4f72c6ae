"""A launch template's data (decision 0092): read from ``LaunchTemplateData.*`` and checked
against what RunInstances here acts on, written as EC2's ``launchTemplateData``, and made from
an instance (GetLaunchTemplateData).

A field of a feature not here is refused with ``UnsupportedOperation`` (decision 0060). What
EC2 checks only at launch (the image, the key pair, the groups, the instance type) is checked
now too but, as EC2 does, only reported in the answer's ``warning``: the template is made, and
RunInstances refuses it later if it still does not hold.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Final

from andromede.compute.errors import ComputeError, MissingParameter
from andromede.compute.launch_template import LaunchParameters
from andromede.compute.model import Instance, check_tags
from andromede.compute.spot import SpotInstanceRequest
from andromede.ec2api.errors import Ec2Error, to_ec2_error
from andromede.ec2api.launch_parameters import (
    RUN_HARMLESS,
    TEMPLATE_HANDLED,
    cpu_options,
    launch_interface,
    launch_mappings,
    launch_options,
    market_options,
)
from andromede.ec2api.network_interfaces import launch_further_interfaces
from andromede.ec2api.protocol import Call, Params
from andromede.ec2api.xml import write_tags
from andromede.http.xml import XmlWriter

__all__ = ["instance_parameters", "template_data", "write_data"]

_TAGGABLE_IN_DATA: Final = ("instance", "volume")  # what RunInstances here tags


async def template_data(call: Call, action: str) -> tuple[LaunchParameters, list[Ec2Error]]:
    """The ``LaunchTemplateData`` of a request as RunInstances parameters, checked; and what
    a launch would refuse today, as warnings."""
    data = call.params.view("LaunchTemplateData.")
    if not data.names():
        raise MissingParameter("The request must contain the parameter LaunchTemplateData")
    _check_data(call, data, f"{action} LaunchTemplateData")
    return tuple((name, data.get(name) or "") for name in data.names()), await _warnings(call, data)


def _check_data(call: Call, data: Params, action: str) -> None:
    data.refuse_unhandled(action, TEMPLATE_HANDLED, RUN_HARMLESS)
    launch_mappings(data, action)
    # Its network interfaces (decision 0161's addendum), checked as RunInstances reads them.
    launch_interface(data)
    launch_further_interfaces(data)
    launch_options(data)  # the protection flags' and metadata options' form
    market_options(data, call.compute.clock())  # a Spot launch's options (decision 0202)
    cpu_options(data, action)  # their form; the type's counts at launch (decision 0214)
    data.boolean("EbsOptimized", default=False)
    for spec in data.structs("TagSpecification"):
        kind = spec.required("ResourceType")
        if kind not in _TAGGABLE_IN_DATA:
            raise Ec2Error(
                "UnsupportedOperation",
                f"{action}: tags for '{kind[:64]}' are not supported here yet; "
                "tag instances and volumes",
            )
        check_tags(spec.tags())
    user_data = data.get("UserData")
    if user_data is not None:
        try:
            decoded = base64.b64decode(user_data, validate=True)
        except (binascii.Error, ValueError):
            raise Ec2Error(
                "InvalidParameterValue", "Invalid BASE64 encoding of user data"
            ) from None
        if len(decoded) > call.compute.limits.max_user_data_size:
            raise Ec2Error(
                "InvalidParameterValue",
                f"User data is limited to {call.compute.limits.max_user_data_size} bytes",
            )


async def _warnings(call: Call, data: Params) -> list[Ec2Error]:
    tenant, compute = call.tenant_id, call.compute
    found: list[Ec2Error] = []

    async def check(work: Any) -> None:
        try:
            await work
        except ComputeError as exc:
            wire = to_ec2_error(exc)
            if wire is not None:
                found.append(wire)

    async def instance_type(name: str) -> None:
        compute.instance_type(name)

    if image_id := data.get("ImageId"):
        await check(compute.describe_images(tenant, [image_id]))
    if name := data.get("InstanceType"):
        await check(instance_type(name))
    if key_name := data.get("KeyName"):
        await check(compute.describe_key_pairs(tenant, [key_name], []))
    group_ids, group_names = data.values("SecurityGroupId"), data.values("SecurityGroup")
    if group_ids or group_names:
        await check(compute.describe_security_groups(tenant, group_ids, group_names))
    return found


_SCALARS: Final = {
    "ImageId": "imageId",
    "InstanceType": "instanceType",
    "KeyName": "keyName",
    "UserData": "userData",
    "EbsOptimized": "ebsOptimized",
    "DisableApiTermination": "disableApiTermination",
    "DisableApiStop": "disableApiStop",
    "InstanceInitiatedShutdownBehavior": "instanceInitiatedShutdownBehavior",
}
_STRUCTS: Final = {
    "IamInstanceProfile": ("iamInstanceProfile", {"Arn": "arn", "Name": "name"}),
    "Placement": ("placement", {"AvailabilityZone": "availabilityZone"}),
    "Monitoring": ("monitoring", {"Enabled": "enabled"}),
    "CreditSpecification": ("creditSpecification", {"CpuCredits": "cpuCredits"}),
    "HibernationOptions": ("hibernationOptions", {"Configured": "configured"}),
    "CpuOptions": (
        "cpuOptions",
        {"CoreCount": "coreCount", "ThreadsPerCore": "threadsPerCore", "AmdSevSnp": "amdSevSnp"},
    ),
    "MetadataOptions": (
        "metadataOptions",
        {
            "HttpTokens": "httpTokens",
            "HttpPutResponseHopLimit": "httpPutResponseHopLimit",
            "HttpEndpoint": "httpEndpoint",
            "HttpProtocolIpv6": "httpProtocolIpv6",
            "InstanceMetadataTags": "instanceMetadataTags",
        },
    ),
}
_EBS: Final = {
    "Ebs.Encrypted": "encrypted",
    "Ebs.DeleteOnTermination": "deleteOnTermination",
    "Ebs.KmsKeyId": "kmsKeyId",
    "Ebs.SnapshotId": "snapshotId",
    "Ebs.VolumeSize": "volumeSize",
    "Ebs.VolumeType": "volumeType",
}
_BOOLEANS: Final = frozenset(
    {
        "EbsOptimized", "DisableApiTermination", "DisableApiStop", "Enabled", "Configured",
        "Ebs.Encrypted", "Ebs.DeleteOnTermination", "AssociatePublicIpAddress",
        "DeleteOnTermination",
    }
)  # fmt: skip


def _value(name: str, value: str) -> str:
    return value.lower() if name.rsplit(".", 1)[-1] in _BOOLEANS or name in _BOOLEANS else value


# A template's interface's members, as EC2 shows them (``groupSet`` apart: a list).
_INTERFACE_FIELDS: Final = {
    "AssociatePublicIpAddress": "associatePublicIpAddress",
    "DeleteOnTermination": "deleteOnTermination",
    "Description": "description",
    "DeviceIndex": "deviceIndex",
    "Ipv6AddressCount": "ipv6AddressCount",
    "NetworkInterfaceId": "networkInterfaceId",
    "PrivateIpAddress": "privateIpAddress",
    "SecondaryPrivateIpAddressCount": "secondaryPrivateIpAddressCount",
    "SubnetId": "subnetId",
}


def _write_interfaces(xml: XmlWriter, p: Params) -> None:
    interfaces = p.structs("NetworkInterface")
    if not interfaces:
        return
    xml.open("networkInterfaceSet")
    for interface in interfaces:
        xml.open("item")
        for name, tag in _INTERFACE_FIELDS.items():
            if (value := interface.get(name)) is not None:
                xml.element(tag, _value(name, value))
        groups = interface.values("SecurityGroupId")
        if groups:
            xml.open("groupSet")
            for group in groups:
                xml.element("groupId", group)
            xml.close("groupSet")
        xml.close("item")
    xml.close("networkInterfaceSet")


# InstanceMarketOptions.SpotOptions' members as EC2 shows them (decision 0202).
_SPOT_FIELDS: Final = {
    "MaxPrice": "maxPrice",
    "SpotInstanceType": "spotInstanceType",
    "InstanceInterruptionBehavior": "instanceInterruptionBehavior",
    "ValidUntil": "validUntil",
}


def _write_market_options(xml: XmlWriter, p: Params) -> None:
    market = p.view("InstanceMarketOptions.")
    if not market.names():
        return
    xml.open("instanceMarketOptions")
    xml.element("marketType", market.get("MarketType") or "spot")
    spot = [(tag, market.get(f"SpotOptions.{name}")) for name, tag in _SPOT_FIELDS.items()]
    if any(value is not None for _, value in spot):
        xml.open("spotOptions")
        for tag, value in spot:
            xml.element(tag, value)
        xml.close("spotOptions")
    xml.close("instanceMarketOptions")


def write_data(xml: XmlWriter, parameters: LaunchParameters) -> None:
    """A version's parameters as EC2's ``launchTemplateData``."""
    p = Params(dict(parameters))
    xml.open("launchTemplateData")
    for name, tag in _SCALARS.items():
        if (value := p.get(name)) is not None:
            xml.element(tag, _value(name, value))
    for prefix, (tag, members) in _STRUCTS.items():
        present = [(m, p.get(f"{prefix}.{m}")) for m in members]
        if any(value is not None for _, value in present):
            xml.open(tag)
            if prefix == "MetadataOptions":
                xml.element("state", "applied")
            for member, value in present:
                if value is not None:
                    xml.element(members[member], _value(member, value))
            xml.close(tag)
    mappings = p.structs("BlockDeviceMapping")
    if mappings:
        xml.open("blockDeviceMappingSet")
        for mapping in mappings:
            xml.open("item")
            xml.element("deviceName", mapping.get("DeviceName"))
            ebs = [(tag, mapping.get(name), name) for name, tag in _EBS.items()]
            if any(value is not None for _, value, _ in ebs):
                xml.open("ebs")
                for tag, value, name in ebs:
                    if value is not None:
                        xml.element(tag, _value(name, value))
                xml.close("ebs")
            xml.close("item")
        xml.close("blockDeviceMappingSet")
    _write_interfaces(xml, p)
    _write_market_options(xml, p)
    for name, tag in (
        ("SecurityGroupId", "securityGroupIdSet"),
        ("SecurityGroup", "securityGroupSet"),
    ):
        values = p.values(name)
        if values:
            xml.open(tag)
            for value in values:
                xml.element("item", value)
            xml.close(tag)
    specs = p.structs("TagSpecification")
    if specs:
        xml.open("tagSpecificationSet")
        for spec in specs:
            xml.open("item")
            xml.element("resourceType", spec.get("ResourceType"))
            write_tags(xml, spec.tags())
            xml.close("item")
        xml.close("tagSpecificationSet")
    xml.close("launchTemplateData")


# -- GetLaunchTemplateData ----------------------------------------------------------------------


async def instance_parameters(call: Call, instance: Instance) -> LaunchParameters:
    """What a template needs to launch ``instance`` again, as a template keeps it."""
    found: list[tuple[str, str]] = [
        ("ImageId", instance.image_id),
        ("InstanceType", instance.instance_type),
    ]
    if instance.key_name:
        found.append(("KeyName", instance.key_name))
    if instance.user_data:
        found.append(("UserData", base64.b64encode(instance.user_data).decode()))
    found.extend(
        (f"SecurityGroupId.{n}", group_id)
        for n, group_id in enumerate(instance.security_group_ids, start=1)
    )
    if instance.iam_instance_profile is not None:
        found.append(("IamInstanceProfile.Arn", instance.iam_instance_profile.arn))
    found.append(("Placement.AvailabilityZone", instance.availability_zone))
    options = instance.metadata_options
    found.extend(
        [
            ("MetadataOptions.HttpTokens", options.http_tokens),
            ("MetadataOptions.HttpPutResponseHopLimit", str(options.hop_limit)),
            ("MetadataOptions.HttpEndpoint", options.http_endpoint),
            ("MetadataOptions.HttpProtocolIpv6", options.http_protocol_ipv6),
            ("MetadataOptions.InstanceMetadataTags", options.instance_metadata_tags),
            ("DisableApiTermination", str(instance.disable_api_termination).lower()),
            ("DisableApiStop", str(instance.disable_api_stop).lower()),
            ("InstanceInitiatedShutdownBehavior", instance.shutdown_behavior),
        ]
    )
    attached = sorted(
        (
            (v.attachment, v)
            for v in await call.compute.describe_volumes(call.tenant_id, [])
            if v.attachment is not None and v.attachment.instance_id == instance.instance_id
        ),
        key=lambda pair: pair[0].device,
    )
    for n, (attachment, volume) in enumerate(attached, start=1):
        prefix = f"BlockDeviceMapping.{n}."
        found.append((prefix + "DeviceName", attachment.device))
        found.append((prefix + "Ebs.VolumeSize", str(volume.size_gib)))
        found.append((prefix + "Ebs.VolumeType", "gp3"))
        found.append((prefix + "Ebs.Encrypted", "true"))
        found.append(
            (prefix + "Ebs.DeleteOnTermination", str(attachment.delete_on_termination).lower())
        )
        if volume.kms_key_arn:
            found.append((prefix + "Ebs.KmsKeyId", volume.kms_key_arn))
    if instance.lifecycle == "spot":  # decision 0202: its request's options, as EC2 gives them
        found.append(("InstanceMarketOptions.MarketType", "spot"))
        request = await call.compute.store.get(SpotInstanceRequest, instance.spot_request_id or "")
        if request is not None:
            spot = request.options
            if spot.max_price is not None:
                found.append(
                    ("InstanceMarketOptions.SpotOptions.MaxPrice", f"{spot.max_price:.6f}")
                )
            found.append(("InstanceMarketOptions.SpotOptions.SpotInstanceType", spot.request_type))
            found.append(
                (
                    "InstanceMarketOptions.SpotOptions.InstanceInterruptionBehavior",
                    spot.interruption_behavior,
                )
            )
    if instance.cpu_options is not None:  # decision 0214: a topology chosen, not the default
        found.append(("CpuOptions.CoreCount", str(instance.cpu_options.core_count)))
        found.append(("CpuOptions.ThreadsPerCore", str(instance.cpu_options.threads_per_core)))
    if instance.tags:
        found.append(("TagSpecification.1.ResourceType", "instance"))
        for n, (key, value) in enumerate(instance.tags, start=1):
            found.append((f"TagSpecification.1.Tag.{n}.Key", key))
            found.append((f"TagSpecification.1.Tag.{n}.Value", value))
    return tuple(found)
