"""EC2 instance actions: RunInstances, DescribeInstances (filters, pagination), the lifecycle
calls, DescribeInstanceStatus, GetConsoleOutput, DescribeInstanceTypes, DescribeRegions and
DescribeAvailabilityZones."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Final

from andromede.compute.model import (
    Instance,
    InstanceState,
    InstanceType,
    SecurityGroup,
)
from andromede.compute.network import private_dns_name
from andromede.compute.service import RunRequest, StateChange
from andromede.ec2api.errors import Ec2Error
from andromede.ec2api.filters import Filters, matches
from andromede.ec2api.networks import public_ip_of, system_tags, write_interface
from andromede.ec2api.profiles import instance_profile
from andromede.ec2api.protocol import Action, Call, Params, iso8601
from andromede.ec2api.xml import write_tags
from andromede.http.xml import XmlWriter

__all__ = ["INSTANCE_ACTIONS"]

_MAX_RESULTS = 1000
_MAX_RUN = 1000  # most instances one RunInstances may ask for


def _instance_ids(call: Call) -> list[str]:
    return call.params.values("InstanceId")


def _instance_arns(call: Call) -> list[str]:
    return [call.arn("instance", i) for i in _instance_ids(call)] or [call.arn("instance")]


def _required_ids(call: Call) -> list[str]:
    ids = _instance_ids(call)
    if not ids:
        raise Ec2Error("MissingParameter", "The request must contain the parameter InstanceId")
    return ids


# -- serialisation ---------------------------------------------------------------------------


def _state(xml: XmlWriter, name: str, state: InstanceState) -> None:
    xml.open(name)
    xml.element("code", state.code)
    xml.element("name", state.label)
    xml.close(name)


async def _group_names(call: Call, instances: Sequence[Instance]) -> dict[str, str]:
    if not any(i.security_group_ids for i in instances):
        return {}
    groups = await call.compute.store.list(SecurityGroup, call.tenant_id)
    return {g.group_id: g.name for g in groups}


def _private_dns(call: Call, instance: Instance) -> str:
    return private_dns_name(instance.private_ip, call.region) if instance.private_ip else ""


def _write_instance(
    xml: XmlWriter, call: Call, instance: Instance, group_names: dict[str, str]
) -> None:
    xml.open("item")
    xml.element("instanceId", instance.instance_id)
    xml.element("imageId", instance.image_id)
    _state(xml, "instanceState", instance.state)
    xml.element("privateDnsName", _private_dns(call, instance))
    xml.element("dnsName", "")
    xml.element("reason", instance.state_reason)
    xml.element("keyName", instance.key_name)
    xml.element("amiLaunchIndex", instance.launch_index)
    xml.element("instanceType", instance.instance_type)
    xml.element("launchTime", iso8601(instance.launch_time))
    xml.element("clientToken", instance.client_token)
    xml.open("placement")
    xml.element("availabilityZone", instance.availability_zone)
    xml.element("tenancy", "default")
    xml.close("placement")
    xml.open("monitoring")
    xml.element("state", "disabled")
    xml.close("monitoring")
    xml.open("groupSet")
    for group_id in instance.security_group_ids:
        xml.open("item")
        xml.element("groupId", group_id)
        xml.element("groupName", group_names.get(group_id, ""))
        xml.close("item")
    xml.close("groupSet")
    if instance.state_reason and instance.state is not InstanceState.RUNNING:
        xml.open("stateReason")
        xml.element("code", instance.state_reason.split(":", 1)[0])
        xml.element("message", instance.state_reason)
        xml.close("stateReason")
    live = instance.state is not InstanceState.TERMINATED
    if live:  # EC2 shows no address for a terminated instance
        xml.element("subnetId", instance.subnet_id)
        xml.element("vpcId", instance.vpc_id)
        xml.element("privateIpAddress", instance.private_ip)
        xml.element("ipAddress", public_ip_of(instance))
        xml.element("sourceDestCheck", True if instance.private_ip else None)
    xml.element("architecture", "x86_64")
    xml.element("rootDeviceType", "ebs")
    xml.element("rootDeviceName", "/dev/xvda")
    xml.open("blockDeviceMapping")
    if instance.state is not InstanceState.TERMINATED:
        xml.open("item")
        xml.element("deviceName", "/dev/xvda")
        xml.open("ebs")
        xml.element("volumeId", instance.root_volume_id)
        xml.element("status", "attached")
        xml.element("attachTime", iso8601(instance.launch_time))
        xml.element("deleteOnTermination", True)
        xml.close("ebs")
        xml.close("item")
    xml.close("blockDeviceMapping")
    xml.element("virtualizationType", "hvm")
    xml.element("hypervisor", "xen")  # botocore's enum has no "kvm"; "xen" is what SDKs expect
    if instance.iam_instance_profile is not None:
        xml.open("iamInstanceProfile")
        xml.element("arn", instance.iam_instance_profile.arn)
        xml.element("id", instance.iam_instance_profile.profile_id)
        xml.close("iamInstanceProfile")
    xml.open("networkInterfaceSet")
    if live:
        write_interface(xml, call, instance, group_names, nested=True)
    xml.close("networkInterfaceSet")
    write_tags(xml, system_tags(instance))
    xml.open("cpuOptions")
    xml.element("coreCount", instance.vcpus)
    xml.element("threadsPerCore", 1)
    xml.close("cpuOptions")
    xml.close("item")


def _write_reservations(
    xml: XmlWriter, call: Call, instances: Sequence[Instance], names: dict[str, str]
) -> None:
    reservations: dict[str, list[Instance]] = {}
    for instance in instances:
        reservations.setdefault(instance.reservation_id, []).append(instance)
    xml.open("reservationSet")
    for reservation_id, members in reservations.items():
        xml.open("item")
        xml.element("reservationId", reservation_id)
        xml.element("ownerId", call.tenant_id)
        xml.open("groupSet")
        xml.close("groupSet")
        xml.open("instancesSet")
        for instance in members:
            _write_instance(xml, call, instance, names)
        xml.close("instancesSet")
        xml.close("item")
    xml.close("reservationSet")


# -- RunInstances ----------------------------------------------------------------------------


# RunInstances: what it acts on, and what it takes as asked because the value is what is done
# anyway. Everything else (block device mappings, launch templates, metadata options other
# than IMDSv2, termination protection, spot, network interfaces, IPv6, CPU options…) is
# refused, so that no instance is started differently from what was asked (decision 0060).
_RUN_HANDLED: Final = frozenset(
    {
        "MinCount", "MaxCount", "ImageId", "InstanceType", "KeyName", "UserData",
        "SecurityGroupId", "SecurityGroup", "TagSpecification", "SubnetId", "IamInstanceProfile",
        "Placement.AvailabilityZone", "BlockDeviceMapping", "ClientToken",
        # Accepted, with no effect that a client could miss: EBS optimisation, CPU credit
        # modes, notes.
        "EbsOptimized", "CreditSpecification", "AdditionalInfo",
    }
)  # fmt: skip
_RUN_HARMLESS: Final = {
    "MetadataOptions.HttpTokens": frozenset({"required"}),  # IMDSv2 is the only one here
    "MetadataOptions.HttpEndpoint": frozenset({"enabled"}),
    "DisableApiTermination": frozenset({"false"}),
    "DisableApiStop": frozenset({"false"}),
    "InstanceInitiatedShutdownBehavior": frozenset({"stop"}),
    "HibernationOptions.Configured": frozenset({"false"}),
    "Monitoring.Enabled": frozenset({"false"}),
    "EnablePrimaryIpv6": frozenset({"false"}),
}


# The root device's mapping (decision 0062): its size and KMS key. Every volume is encrypted and
# general purpose, and a root volume goes with its instance; anything else a mapping asks
# (another device, a snapshot, IOPS, keeping the volume) is refused, not dropped.
_ROOT_MAPPING_HANDLED: Final = frozenset({"DeviceName", "Ebs.VolumeSize", "Ebs.KmsKeyId"})
_ROOT_MAPPING_HARMLESS: Final = {
    "Ebs.Encrypted": frozenset({"true", "false"}),  # encrypted either way, as with encryption
    # by default on EC2
    "Ebs.DeleteOnTermination": frozenset({"true"}),
    "Ebs.VolumeType": frozenset({"gp2", "gp3", "standard"}),
}


def _root_mapping(p: Params) -> tuple[str | None, int | None, str | None]:
    """(device name, size in GiB, KMS key) of the one block device mapping RunInstances takes
    here, the image's root device's; all None without one."""
    mappings = p.structs("BlockDeviceMapping")
    if not mappings:
        return None, None, None
    if len(mappings) > 1:
        raise Ec2Error(
            "UnsupportedOperation",
            "RunInstances: only the root device's block device mapping is supported here yet; "
            "attach further volumes with AttachVolume",
        )
    (mapping,) = mappings
    mapping.refuse_unhandled(
        "RunInstances BlockDeviceMapping", _ROOT_MAPPING_HANDLED, _ROOT_MAPPING_HARMLESS
    )
    return (
        mapping.required("DeviceName"),
        mapping.integer("Ebs.VolumeSize", minimum=1, maximum=16384),
        mapping.get("Ebs.KmsKeyId"),
    )


async def run_instances(call: Call) -> None:
    p = call.params
    p.refuse_unhandled("RunInstances", _RUN_HANDLED, _RUN_HARMLESS)
    root_device, root_size, root_key = _root_mapping(p)
    min_count = p.integer("MinCount", minimum=1, maximum=_MAX_RUN)
    max_count = p.integer("MaxCount", minimum=1, maximum=_MAX_RUN)
    if min_count is None or max_count is None:
        raise Ec2Error("MissingParameter", "The request must contain MinCount and MaxCount")
    placement_zone = p.get("Placement.AvailabilityZone")
    group_ids = p.values("SecurityGroupId")
    by_name = p.values("SecurityGroup")
    for name in by_name:
        group = await call.compute.security_group(call.tenant_id, group_id=None, name=name)
        group_ids.append(group.group_id)
    profile = await instance_profile(
        call, p.get("IamInstanceProfile.Arn"), p.get("IamInstanceProfile.Name")
    )
    request = RunRequest(
        image_id=p.required("ImageId"),
        instance_type=p.get("InstanceType") or "m5.large",  # EC2's default type
        min_count=min_count,
        max_count=max_count,
        key_name=p.get("KeyName"),
        user_data_base64=p.get("UserData"),
        security_group_ids=tuple(dict.fromkeys(group_ids)),
        instance_tags=p.tag_specifications("instance"),
        volume_tags=p.tag_specifications("volume"),
        availability_zone=placement_zone,
        subnet_id=p.get("SubnetId"),
        iam_instance_profile=profile,
        root_device_name=root_device,
        root_volume_size_gib=root_size,
        root_kms_key_id=root_key,
        caller=call.principal,
        client_token=p.get("ClientToken"),
    )
    instances = await call.compute.run_instances(call.tenant_id, request)
    call.context["resources"] = [call.arn("instance", i.instance_id) for i in instances]
    xml = call.result
    xml.element("reservationId", instances[0].reservation_id)
    xml.element("ownerId", call.tenant_id)
    xml.open("groupSet")
    xml.close("groupSet")
    xml.open("instancesSet")
    names = await _group_names(call, instances)
    for instance in instances:
        _write_instance(xml, call, instance, names)
    xml.close("instancesSet")


# -- DescribeInstances -----------------------------------------------------------------------


def _instance_filter(name: str) -> Callable[[Instance], list[str]] | None:
    simple: dict[str, Callable[[Instance], list[str]]] = {
        "instance-id": lambda i: [i.instance_id],
        "instance-state-name": lambda i: [i.state.label],
        "instance-state-code": lambda i: [str(i.state.code)],
        "image-id": lambda i: [i.image_id],
        "instance-type": lambda i: [i.instance_type],
        "key-name": lambda i: [i.key_name or ""],
        "availability-zone": lambda i: [i.availability_zone],
        "reservation-id": lambda i: [i.reservation_id],
        "client-token": lambda i: [i.client_token] if i.client_token else [],
        "instance.group-id": lambda i: list(i.security_group_ids),
        "group-id": lambda i: list(i.security_group_ids),
        "private-ip-address": lambda i: [i.private_ip] if i.private_ip else [],
        "network-interface.addresses.private-ip-address": lambda i: (
            [i.private_ip] if i.private_ip else []
        ),
        "ip-address": lambda i: [ip] if (ip := public_ip_of(i)) else [],
        "network-interface.association.public-ip": lambda i: (
            [ip] if (ip := public_ip_of(i)) else []
        ),
        "vpc-id": lambda i: [i.vpc_id] if i.vpc_id else [],
        "subnet-id": lambda i: [i.subnet_id] if i.subnet_id else [],
        "network-interface.network-interface-id": lambda i: (
            [i.network_interface_id] if i.network_interface_id else []
        ),
        "network-interface.mac-address": lambda i: [i.mac] if i.mac else [],
        "iam-instance-profile.arn": lambda i: (
            [i.iam_instance_profile.arn] if i.iam_instance_profile else []
        ),
        "tag-key": lambda i: [k for k, _ in i.tags],
        "tag-value": lambda i: [v for _, v in i.tags],
    }
    if name.startswith("tag:"):
        key = name[4:]
        return lambda i: [v for k, v in i.tags if k == key]
    return simple.get(name)


def _page_token(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode()


def _after(token: str | None) -> str | None:
    if token is None:
        return None
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise Ec2Error("InvalidParameterValue", "Invalid NextToken") from None


async def describe_instances(call: Call) -> None:
    p = call.params
    ids = _instance_ids(call)
    max_results = p.integer("MaxResults", minimum=5, maximum=_MAX_RESULTS)
    if ids and max_results is not None:
        raise Ec2Error(
            "InvalidParameterCombination",
            "The parameter instancesSet cannot be used with the parameter maxResults",
        )
    filters = Filters(p.filters(), _instance_filter)
    instances = await call.compute.describe_instances(call.tenant_id, ids)
    chosen = [i for i in instances if matches(filters, i)]
    after = _after(p.get("NextToken"))
    if after is not None:
        chosen = [i for i in chosen if i.instance_id > after]
    next_token = None
    if max_results is not None and len(chosen) > max_results:
        chosen = chosen[:max_results]
        next_token = _page_token(chosen[-1].instance_id)
    _write_reservations(call.result, call, chosen, await _group_names(call, chosen))
    call.result.element("nextToken", next_token)


# -- lifecycle -------------------------------------------------------------------------------


def _write_changes(xml: XmlWriter, changes: Sequence[StateChange]) -> None:
    xml.open("instancesSet")
    for change in changes:
        xml.open("item")
        xml.element("instanceId", change.instance_id)
        _state(xml, "currentState", change.current)
        _state(xml, "previousState", change.previous)
        xml.close("item")
    xml.close("instancesSet")


async def start_instances(call: Call) -> None:
    _write_changes(
        call.result, await call.compute.start_instances(call.tenant_id, _required_ids(call))
    )


async def stop_instances(call: Call) -> None:
    # Hibernation would keep the memory; a plain stop loses it. SkipOsShutdown only asks for
    # less care than a stop here takes.
    call.params.refuse_unhandled(
        "StopInstances",
        frozenset({"InstanceId", "Force", "SkipOsShutdown"}),
        {"Hibernate": frozenset({"false"})},
    )
    force = call.params.boolean("Force", default=False)
    changes = await call.compute.stop_instances(call.tenant_id, _required_ids(call), force=force)
    _write_changes(call.result, changes)


async def terminate_instances(call: Call) -> None:
    changes = await call.compute.terminate_instances(call.tenant_id, _required_ids(call))
    _write_changes(call.result, changes)


async def reboot_instances(call: Call) -> None:
    await call.compute.reboot_instances(call.tenant_id, _required_ids(call))
    call.result.element("return", True)


async def describe_instance_status(call: Call) -> None:
    p = call.params
    include_all = p.boolean("IncludeAllInstances", default=False)
    filters = Filters(p.filters(), _instance_filter)
    instances = await call.compute.describe_instances(call.tenant_id, _instance_ids(call))
    xml = call.result
    xml.open("instanceStatusSet")
    for instance in instances:
        running = instance.state is InstanceState.RUNNING
        if instance.state is InstanceState.TERMINATED or not (include_all or running):
            continue
        if not matches(filters, instance):
            continue
        status = "ok" if running else "not-applicable"
        xml.open("item")
        xml.element("instanceId", instance.instance_id)
        xml.element("availabilityZone", instance.availability_zone)
        _state(xml, "instanceState", instance.state)
        for summary in ("systemStatus", "instanceStatus"):
            xml.open(summary)
            xml.element("status", status)
            xml.open("details")
            xml.open("item")
            xml.element("name", "reachability")
            xml.element("status", "passed" if running else "not-applicable")
            xml.close("item")
            xml.close("details")
            xml.close(summary)
        xml.close("item")
    xml.close("instanceStatusSet")


async def get_console_output(call: Call) -> None:
    instance_id = call.params.required("InstanceId")
    output = await call.compute.console_output(call.tenant_id, instance_id)
    xml = call.result
    xml.element("instanceId", instance_id)
    xml.element("timestamp", iso8601(call.compute.clock()))
    xml.element("output", base64.b64encode(output).decode())


# -- catalogue -------------------------------------------------------------------------------


def _write_type(xml: XmlWriter, itype: InstanceType) -> None:
    xml.open("item")
    xml.element("instanceType", itype.name)
    xml.element("currentGeneration", True)
    xml.element("bareMetal", False)
    xml.open("supportedRootDeviceTypes")
    xml.element("item", "ebs")
    xml.close("supportedRootDeviceTypes")
    xml.open("supportedVirtualizationTypes")
    xml.element("item", "hvm")
    xml.close("supportedVirtualizationTypes")
    xml.open("processorInfo")
    xml.open("supportedArchitectures")
    xml.element("item", "x86_64")
    xml.close("supportedArchitectures")
    xml.close("processorInfo")
    xml.open("vCpuInfo")
    xml.element("defaultVCpus", itype.vcpus)
    xml.element("defaultCores", itype.vcpus)
    xml.element("defaultThreadsPerCore", 1)
    xml.close("vCpuInfo")
    xml.open("memoryInfo")
    xml.element("sizeInMiB", itype.memory_mib)
    xml.close("memoryInfo")
    xml.element("instanceStorageSupported", False)
    xml.open("ebsInfo")
    xml.element("encryptionSupport", "supported")
    xml.close("ebsInfo")
    xml.close("item")


async def describe_instance_types(call: Call) -> None:
    names = call.params.values("InstanceType")
    filters = call.params.filters()
    wanted = filters.pop("instance-type", None)
    if filters:
        raise Ec2Error("InvalidParameterValue", f"The filter '{next(iter(filters))}' is invalid")
    xml = call.result
    xml.open("instanceTypeSet")
    for itype in call.compute.instance_types(names):
        if wanted is None or itype.name in wanted:
            _write_type(xml, itype)
    xml.close("instanceTypeSet")


async def describe_regions(call: Call) -> None:
    names = call.params.values("RegionName")
    region = call.region
    for name in names:
        if name != region:
            raise Ec2Error("InvalidParameterValue", f"Invalid region: {name[:64]}")
    xml = call.result
    xml.open("regionInfo")
    xml.open("item")
    xml.element("regionName", region)
    xml.element("regionEndpoint", "")
    xml.element("optInStatus", "opt-in-not-required")
    xml.close("item")
    xml.close("regionInfo")


async def describe_availability_zones(call: Call) -> None:
    zone = call.compute.limits.availability_zone
    for name in call.params.values("ZoneName"):
        if name != zone:
            raise Ec2Error("InvalidParameterValue", f"The zone '{name[:64]}' does not exist")
    xml = call.result
    xml.open("availabilityZoneInfo")
    xml.open("item")
    xml.element("zoneName", zone)
    xml.element("zoneState", "available")
    xml.element("regionName", call.region)
    xml.element("zoneId", f"{call.region}-az1")
    xml.element("zoneType", "availability-zone")
    xml.element("optInStatus", "opt-in-not-required")
    xml.open("messageSet")
    xml.close("messageSet")
    xml.close("item")
    xml.close("availabilityZoneInfo")


INSTANCE_ACTIONS: dict[str, Action] = {
    "RunInstances": Action(run_instances, mutating=True, resources=lambda c: [c.arn("instance")]),
    "DescribeInstances": Action(describe_instances, mutating=False),
    "StartInstances": Action(start_instances, mutating=True, resources=_instance_arns),
    "StopInstances": Action(stop_instances, mutating=True, resources=_instance_arns),
    "RebootInstances": Action(reboot_instances, mutating=True, resources=_instance_arns),
    "TerminateInstances": Action(terminate_instances, mutating=True, resources=_instance_arns),
    "DescribeInstanceStatus": Action(describe_instance_status, mutating=False),
    "GetConsoleOutput": Action(
        get_console_output,
        mutating=False,
        resources=lambda c: [c.arn("instance", c.params.get("InstanceId") or "*")],
    ),
    "DescribeInstanceTypes": Action(describe_instance_types, mutating=False),
    "DescribeRegions": Action(describe_regions, mutating=False),
    "DescribeAvailabilityZones": Action(describe_availability_zones, mutating=False),
}
