"""EC2 instance actions: RunInstances, DescribeInstances (filters, pagination), the lifecycle
calls, DescribeInstanceStatus, GetConsoleOutput, DescribeInstanceTypes, DescribeRegions and
DescribeAvailabilityZones."""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from andromede.compute.model import (
    Attachment,
    Instance,
    InstanceState,
    InstanceType,
    SecurityGroup,
    Volume,
)
from andromede.compute.network import NetworkInterface, private_dns_name
from andromede.compute.network_interfaces import FurtherInterface
from andromede.compute.service import ROOT_DEVICE, RunRequest, StateChange
from andromede.ec2api.cpu_options import CPU_OPTIONS_ACTIONS, write_instance_cpu, write_vcpu_info
from andromede.ec2api.errors import Ec2Error
from andromede.ec2api.filters import Filters, matches
from andromede.ec2api.interface_xml import write_secondary_interface
from andromede.ec2api.launch_parameters import (
    RUN_HANDLED,
    RUN_HARMLESS,
    cpu_options,
    launch_interface,
    launch_ipv6,
    launch_mappings,
    launch_options,
    market_options,
    merged,
)
from andromede.ec2api.launch_templates import (
    Chosen,
    launch_template_of,
    launch_template_resources,
)
from andromede.ec2api.metadata_options import METADATA_OPTIONS_ACTIONS, write_metadata_options
from andromede.ec2api.network_interfaces import launch_further_interfaces
from andromede.ec2api.networks import public_ip_of, system_tags, write_interface
from andromede.ec2api.profiles import instance_profile
from andromede.ec2api.protocol import Action, Call, Params, iso8601, page_after, page_token
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


@dataclass(frozen=True, slots=True)
class _Known:
    """What the instances of one answer show besides their own records, read once per call:
    their groups' names and the volumes attached to them (their block device mappings)."""

    group_names: dict[str, str]
    volumes: dict[str, list[tuple[Attachment, Volume]]]  # by instance, by device
    public_names: dict[str, str]  # by instance: its public DNS name (decision 0151)
    # By instance: its interfaces' records in device order (decision 0161).
    interfaces: dict[str, list[NetworkInterface]]


async def _known(call: Call, instances: Sequence[Instance]) -> _Known:
    names: dict[str, str] = {}
    if any(i.security_group_ids for i in instances):
        groups = await call.compute.store.list(SecurityGroup, call.tenant_id)
        names = {g.group_id: g.name for g in groups}
    volumes: dict[str, list[tuple[Attachment, Volume]]] = {}
    if instances:
        for volume in await call.compute.describe_volumes(call.tenant_id, []):
            if (attachment := volume.attachment) is not None:
                volumes.setdefault(attachment.instance_id, []).append((attachment, volume))
    for attached in volumes.values():
        attached.sort(key=lambda pair: (pair[0].device, pair[1].volume_id))
    public_names = await call.compute.public_dns_names(call.tenant_id, instances)
    interfaces: dict[str, list[NetworkInterface]] = {}
    if instances:
        for interface in await call.compute.store.list(NetworkInterface, call.tenant_id):
            if interface.instance_id:
                interfaces.setdefault(interface.instance_id, []).append(interface)
    for held in interfaces.values():
        held.sort(key=lambda i: (i.device_index, i.interface_id))
        names.update(await _group_names(call, held, names))
    return _Known(names, volumes, public_names, interfaces)


async def _group_names(
    call: Call, interfaces: Sequence[NetworkInterface], names: dict[str, str]
) -> dict[str, str]:
    """The names of the interfaces' own groups not in ``names`` yet."""
    if all(g in names for i in interfaces for g in i.group_ids):
        return {}
    groups = await call.compute.store.list(SecurityGroup, call.tenant_id)
    return {g.group_id: g.name for g in groups}


def _private_dns(call: Call, instance: Instance) -> str:
    return private_dns_name(instance.private_ip, call.region) if instance.private_ip else ""


def _write_mappings(xml: XmlWriter, attached: Sequence[tuple[Attachment, Volume]]) -> None:
    xml.open("blockDeviceMapping")
    for attachment, volume in attached:
        xml.open("item")
        xml.element("deviceName", attachment.device)
        xml.open("ebs")
        xml.element("volumeId", volume.volume_id)
        xml.element("status", "attached")
        xml.element("attachTime", iso8601(attachment.attached_at))
        xml.element("deleteOnTermination", attachment.delete_on_termination)
        xml.close("ebs")
        xml.close("item")
    xml.close("blockDeviceMapping")


def _write_instance(xml: XmlWriter, call: Call, instance: Instance, known: _Known) -> None:
    group_names = known.group_names
    xml.open("item")
    xml.element("instanceId", instance.instance_id)
    xml.element("imageId", instance.image_id)
    _state(xml, "instanceState", instance.state)
    xml.element("privateDnsName", _private_dns(call, instance))
    public_dns = known.public_names.get(instance.instance_id, "")
    xml.element("dnsName", public_dns)
    xml.element("reason", instance.state_reason)
    xml.element("keyName", instance.key_name)
    xml.element("amiLaunchIndex", instance.launch_index)
    xml.element("instanceType", instance.instance_type)
    xml.element("launchTime", iso8601(instance.last_launch_time))
    xml.element("clientToken", instance.client_token)
    xml.open("placement")
    xml.element("availabilityZone", instance.availability_zone)
    xml.element("tenancy", "default")
    xml.close("placement")
    xml.open("monitoring")
    xml.element("state", "enabled" if instance.monitoring else "disabled")
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
    xml.element("rootDeviceName", ROOT_DEVICE)
    _write_mappings(xml, known.volumes.get(instance.instance_id, ()))
    xml.element("virtualizationType", "hvm")
    xml.element("instanceLifecycle", instance.lifecycle)  # decision 0202: "spot", or none
    xml.element("spotInstanceRequestId", instance.spot_request_id)
    xml.element("hypervisor", "xen")  # botocore's enum has no "kvm"; "xen" is what SDKs expect
    if instance.iam_instance_profile is not None:
        xml.open("iamInstanceProfile")
        xml.element("arn", instance.iam_instance_profile.arn)
        xml.element("id", instance.iam_instance_profile.profile_id)
        xml.close("iamInstanceProfile")
    xml.open("networkInterfaceSet")
    if live:
        held = known.interfaces.get(instance.instance_id, [])
        primary = next((i for i in held if i.interface_id == instance.network_interface_id), None)
        write_interface(
            xml, call, instance, group_names, nested=True, public_dns=public_dns, record=primary
        )
        for interface in held:
            if interface is not primary:
                write_secondary_interface(xml, call, interface, instance, group_names, nested=True)
    xml.close("networkInterfaceSet")
    write_tags(xml, system_tags(instance))
    write_instance_cpu(xml, instance)
    write_metadata_options(xml, "metadataOptions", instance.metadata_options)
    xml.close("item")


def _write_reservations(
    xml: XmlWriter, call: Call, instances: Sequence[Instance], known: _Known
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
            _write_instance(xml, call, instance, known)
        xml.close("instancesSet")
        xml.close("item")
    xml.close("reservationSet")


# -- RunInstances ----------------------------------------------------------------------------


async def run_instances(call: Call) -> None:
    p = call.params
    p.refuse_unhandled("RunInstances", RUN_HANDLED, RUN_HARMLESS)
    template = launch_template_of(call)
    if template is not None:
        # The template's parameters under the request's, checked as the request's are: a
        # template made before a rule here changed is held to the rule of the day.
        own = {
            name: p.get(name) or "" for name in p.names() if not name.startswith("LaunchTemplate.")
        }
        p = Params(merged(template[1].parameters, own, merge_lists=True))
        p.refuse_unhandled("RunInstances", RUN_HANDLED, RUN_HARMLESS)
    request, further = await launch_request_of(call, p, template)
    instances = await call.compute.run_instances(call.tenant_id, request)
    call.context["resources"] = [call.arn("instance", i.instance_id) for i in instances]
    await call.compute.attach_launch_interfaces(call.tenant_id, instances, further)
    xml = call.result
    xml.element("reservationId", instances[0].reservation_id)
    xml.element("ownerId", call.tenant_id)
    xml.open("groupSet")
    xml.close("groupSet")
    xml.open("instancesSet")
    known = await _known(call, instances)
    for instance in instances:
        _write_instance(xml, call, instance, known)
    xml.close("instancesSet")


async def launch_request_of(
    call: Call,
    p: Params,
    template: Chosen | None = None,
) -> tuple[RunRequest, list[FurtherInterface]]:
    """The compute request a RunInstances (its parameters ``p``, a template's merged in)
    makes, and its further interfaces; RequestSpotInstances' launch specification is read
    through it too (decision 0202)."""
    mappings = launch_mappings(p)
    options = launch_options(p, (await call.compute.metadata_defaults(call.tenant_id)).chosen())
    min_count = p.integer("MinCount", minimum=1, maximum=_MAX_RUN)
    max_count = p.integer("MaxCount", minimum=1, maximum=_MAX_RUN)
    if min_count is None or max_count is None:
        raise Ec2Error("MissingParameter", "The request must contain MinCount and MaxCount")
    placement_zone = p.get("Placement.AvailabilityZone") or None  # Terraform sends ""
    interface = launch_interface(p)
    ipv6 = launch_ipv6(p)
    further = launch_further_interfaces(p)
    await call.compute.check_launch_interfaces(call.tenant_id, further, max_count)
    group_ids = list(interface.group_ids) if interface else p.values("SecurityGroupId")
    by_name = p.values("SecurityGroup")
    subnet_id = interface.subnet_id if interface else p.get("SubnetId")
    if by_name:
        # Names designate the default VPC's groups; EC2 refuses them with a subnet (as here,
        # for any subnet but the default one, which older launches here named with them), and
        # without a default VPC (VPCIdNotSpecified, before the names are looked up).
        subnet = await call.compute.subnet_for_launch(call.tenant_id, subnet_id)
        if subnet_id is not None and not subnet.default_for_az:
            raise Ec2Error(
                "InvalidParameterCombination",
                "The parameter groupName cannot be used with the parameter subnet",
            )
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
        subnet_id=subnet_id,
        iam_instance_profile=profile,
        data_volumes=mappings,
        caller=call.principal,
        client_token=p.get("ClientToken"),
        launch_template_id=template[0].template_id if template else None,
        launch_template_version=template[1].number if template else None,
        associate_public_ip=interface.associate_public_ip if interface else None,
        primary_interface_id=interface.interface_id if interface else None,
        primary_delete_on_termination=interface.delete_on_termination if interface else False,
        disable_api_termination=options.disable_api_termination,
        disable_api_stop=options.disable_api_stop,
        shutdown_behavior=options.shutdown_behavior,
        metadata_options=options.metadata_options,
        monitoring=options.monitoring,
        spot=market_options(p, call.compute.clock()),
        cpu_options=cpu_options(p),
        ipv6_address_count=ipv6[0],
        ipv6_addresses=ipv6[1],
    )
    return request, further


# -- DescribeInstances -----------------------------------------------------------------------


def _instance_filter(name: str) -> Callable[[Instance], list[str]] | None:
    simple: dict[str, Callable[[Instance], list[str]]] = {
        "instance-id": lambda i: [i.instance_id],
        "instance-state-name": lambda i: [i.state.label],
        "instance-state-code": lambda i: [str(i.state.code)],
        "image-id": lambda i: [i.image_id],
        "instance-type": lambda i: [i.instance_type],
        "monitoring-state": lambda i: ["enabled" if i.monitoring else "disabled"],
        "key-name": lambda i: [i.key_name or ""],
        "availability-zone": lambda i: [i.availability_zone],
        "reservation-id": lambda i: [i.reservation_id],
        "client-token": lambda i: [i.client_token] if i.client_token else [],
        # Decision 0202: "spot" for a Spot Instance; an on-demand one has none, as on EC2.
        "instance-lifecycle": lambda i: [i.lifecycle] if i.lifecycle else [],
        "spot-instance-request-id": lambda i: [i.spot_request_id] if i.spot_request_id else [],
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
        "tag-key": lambda i: [k for k, _ in (*i.tags, *i.platform_tags)],
        "tag-value": lambda i: [v for _, v in (*i.tags, *i.platform_tags)],
    }
    if name.startswith("tag:"):
        key = name[4:]
        return lambda i: [v for k, v in (*i.tags, *i.platform_tags) if k == key]
    return simple.get(name)


def _named_filter(
    call: Call, public_names: Mapping[str, str]
) -> Callable[[str], Callable[[Instance], list[str]] | None]:
    """DescribeInstances' filters: :func:`_instance_filter`'s, and the DNS names' (the public
    ones read for this call, decision 0151)."""

    def resolve(name: str) -> Callable[[Instance], list[str]] | None:
        if name == "dns-name":
            return lambda i: [n] if (n := public_names.get(i.instance_id)) else []
        if name == "private-dns-name":
            return lambda i: [_private_dns(call, i)] if i.private_ip else []
        return _instance_filter(name)

    return resolve


async def describe_instances(call: Call) -> None:
    p = call.params
    ids = _instance_ids(call)
    max_results = p.integer("MaxResults", minimum=5, maximum=_MAX_RESULTS)
    if ids and max_results is not None:
        raise Ec2Error(
            "InvalidParameterCombination",
            "The parameter instancesSet cannot be used with the parameter maxResults",
        )
    given = p.filters()
    Filters(given, _named_filter(call, {}))  # unknown names refused before any read
    instances = await call.compute.describe_instances(call.tenant_id, ids)
    names = (
        await call.compute.public_dns_names(call.tenant_id, instances)
        if "dns-name" in given
        else {}
    )
    filters = Filters(given, _named_filter(call, names))
    chosen = [i for i in instances if matches(filters, i)]
    after = page_after(p.get("NextToken"))
    if after is not None:
        chosen = [i for i in chosen if i.instance_id > after]
    next_token = None
    if max_results is not None and len(chosen) > max_results:
        chosen = chosen[:max_results]
        next_token = page_token(chosen[-1].instance_id)
    _write_reservations(call.result, call, chosen, await _known(call, chosen))
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
    write_vcpu_info(xml, itype)
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


# -- DescribeInstanceAttribute -----------------------------------------------------------------

# Each attribute's answer where it is the same for every instance here: launched as it is
# done anyway (RunInstances refuses any other value: decision 0060).
_FIXED_ATTRIBUTES: Final[dict[str, str | bool]] = {
    "ebsOptimized": False,
    "enaSupport": True,
    "sourceDestCheck": True,
}


async def describe_instance_attribute(call: Call) -> None:
    """One attribute of an instance, as EC2 answers it: ``<attribute><value>…</value>``, or a
    list for the groups, mappings and product codes. Terraform's ``aws_instance`` reads
    several after every launch and refresh."""
    p = call.params
    instance_id = p.required("InstanceId")
    attribute = p.required("Attribute")
    [instance] = await call.compute.describe_instances(call.tenant_id, [instance_id])
    xml = call.result
    xml.element("instanceId", instance.instance_id)
    if attribute in _FIXED_ATTRIBUTES:
        _attribute_value(xml, attribute, _FIXED_ATTRIBUTES[attribute])
    elif attribute == "disableApiTermination":
        _attribute_value(xml, attribute, instance.disable_api_termination)
    elif attribute == "disableApiStop":
        _attribute_value(xml, attribute, instance.disable_api_stop)
    elif attribute == "instanceInitiatedShutdownBehavior":
        _attribute_value(xml, attribute, instance.shutdown_behavior)
    elif attribute == "instanceType":
        _attribute_value(xml, attribute, instance.instance_type)
    elif attribute == "rootDeviceName":
        _attribute_value(xml, attribute, ROOT_DEVICE)
    elif attribute == "userData":
        data = instance.user_data
        _attribute_value(xml, attribute, base64.b64encode(data).decode() if data else None)
    elif attribute in ("kernel", "ramdisk"):
        _attribute_value(xml, attribute, None)
    elif attribute == "groupSet":
        xml.open("groupSet")
        for group_id in instance.security_group_ids:
            xml.open("item")
            xml.element("groupId", group_id)
            xml.close("item")
        xml.close("groupSet")
    elif attribute == "blockDeviceMapping":
        known = await _known(call, [instance])
        _write_mappings(xml, known.volumes.get(instance.instance_id, ()))
    elif attribute == "productCodes":
        xml.open("productCodes")
        xml.close("productCodes")
    elif attribute == "enclaveOptions":
        xml.open("enclaveOptions")
        xml.element("enabled", False)
        xml.close("enclaveOptions")
    else:
        raise Ec2Error(
            "InvalidParameterValue",
            f"Value ({attribute[:64]}) for parameter attribute is invalid. Unknown attribute.",
        )


def _attribute_value(xml: XmlWriter, name: str, value: str | bool | None) -> None:
    xml.open(name)
    xml.element("value", value)
    xml.close(name)


INSTANCE_ACTIONS: dict[str, Action] = {
    "RunInstances": Action(
        run_instances,
        mutating=True,
        resources=lambda c: [c.arn("instance")],
        conditions=launch_template_resources,
    ),
    "DescribeInstances": Action(describe_instances, mutating=False),
    "DescribeInstanceAttribute": Action(
        describe_instance_attribute,
        mutating=False,
        resources=lambda c: [c.arn("instance", c.params.get("InstanceId") or "*")],
    ),
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
    **METADATA_OPTIONS_ACTIONS,
    **CPU_OPTIONS_ACTIONS,
}
