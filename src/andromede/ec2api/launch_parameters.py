"""What RunInstances acts on, in its own parameter names, and how a launch template's
parameters meet a request's (decision 0092).

A launch template's data (``LaunchTemplateData.*``) names its fields as RunInstances does
(``ImageId``, ``BlockDeviceMapping.1.Ebs.VolumeSize``, ``TagSpecification.1.Tag.1.Key``…), so a
template is kept as those parameters, checked against the tables here, and a launch from it is
the same RunInstances call with the template's parameters merged under the request's:

- a parameter the request gives replaces the template's, a structure as a whole
  (``IamInstanceProfile``, ``MetadataOptions``…) and the security groups as one list (ids and
  names alike);
- block device mappings merge by device name, the request's mapping winning;
- tag specifications merge by resource type, then by tag key, the request's value winning.

A new version made from a ``SourceVersion`` takes the source's parameters under the new
ones in the same way, except that a list given (mappings, tags) replaces the source's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final

from andromede.compute.cpu_options import CpuOptionsRequest
from andromede.compute.instance_options import check_metadata_options, check_shutdown_behavior
from andromede.compute.model import MetadataOptions, SpotOptions
from andromede.compute.service import LaunchVolume
from andromede.compute.spot import check_spot_options, parse_max_price
from andromede.ec2api.errors import Ec2Error
from andromede.ec2api.protocol import Params

__all__ = [
    "MAPPING_HANDLED",
    "MAPPING_HARMLESS",
    "RUN_HANDLED",
    "RUN_HARMLESS",
    "TEMPLATE_HANDLED",
    "LaunchInterface",
    "LaunchOptions",
    "cpu_options",
    "launch_interface",
    "launch_ipv6",
    "launch_mappings",
    "launch_options",
    "market_options",
    "merged",
    "metadata_changes",
    "spot_options",
]

# RunInstances: what it acts on, and what it takes as asked because the value is what is done
# anyway. Everything else (more network interfaces, IPv6, hibernation…) is refused, so
# that no instance is started differently from what was asked (decision 0060).
RUN_HANDLED: Final = frozenset(
    {
        "MinCount", "MaxCount", "ImageId", "InstanceType", "KeyName", "UserData",
        "SecurityGroupId", "SecurityGroup", "TagSpecification", "SubnetId", "IamInstanceProfile",
        "Placement.AvailabilityZone", "BlockDeviceMapping", "ClientToken", "LaunchTemplate",
        # Accepted, with no effect that a client could miss: EBS optimisation, CPU credit
        # modes, notes.
        "EbsOptimized", "CreditSpecification", "AdditionalInfo",
        # The primary interface's subnet, groups and public address (launch_interface).
        "NetworkInterface",
        # Protection, the guest's power-off, the metadata options (launch_options, 0145).
        "DisableApiTermination", "DisableApiStop", "InstanceInitiatedShutdownBehavior",
        "MetadataOptions",
        # Detailed monitoring: its metrics every minute (decision 0178).
        "Monitoring.Enabled",
        # A Spot launch (decision 0202, market_options).
        "InstanceMarketOptions",
        # The guest's cores and threads per core (decision 0214, cpu_options).
        "CpuOptions",
        # The primary interface's IPv6 addresses (decision 0217, launch_ipv6).
        "Ipv6AddressCount", "Ipv6Address",
    }
)  # fmt: skip
RUN_HARMLESS: Final = {
    "HibernationOptions.Configured": frozenset({"false"}),
    "EnablePrimaryIpv6": frozenset({"false"}),
}
# What a launch template's data may hold: what RunInstances acts on, less what belongs to one
# launch only (counts, token, notes) and what a template's data has no field for (a subnet
# outside a network interface). Its network interfaces are kept (decision 0161's addendum).
TEMPLATE_HANDLED: Final = RUN_HANDLED - {
    "MinCount", "MaxCount", "ClientToken", "AdditionalInfo", "SubnetId", "LaunchTemplate",
    "Ipv6AddressCount", "Ipv6Address",
}  # fmt: skip

# RunInstances' NetworkInterface.N at device index 0: the instance's primary, made with it, or
# an existing interface made its primary (decision 0161's addendum).
_INTERFACE_HANDLED: Final = frozenset(
    {
        "DeviceIndex", "SubnetId", "AssociatePublicIpAddress", "SecurityGroupId",
        "NetworkInterfaceId", "DeleteOnTermination", "Ipv6AddressCount", "Ipv6Addresses",
    }
)  # fmt: skip
_INTERFACE_HARMLESS: Final[dict[str, frozenset[str]]] = {}


@dataclass(frozen=True, slots=True)
class LaunchInterface:
    """What RunInstances' ``NetworkInterface.1`` asks of the instance's interface."""

    subnet_id: str | None
    group_ids: tuple[str, ...]
    associate_public_ip: bool | None
    # An existing interface made the primary, and whether terminating deletes it.
    interface_id: str | None = None
    delete_on_termination: bool = False


def launch_interface(p: Params) -> LaunchInterface | None:
    """The primary network interface a RunInstances request describes (None: none): made
    with the instance (device 0), or an existing one by its id (decision 0161's addendum);
    its other fields are refused, not dropped. As on EC2, the subnet and groups then go in
    the interface, never beside it."""
    interfaces = p.structs("NetworkInterface")
    if not interfaces:
        return None
    # Those at a device index of 1 or more are attached after the launch (decision 0161,
    # ec2api.network_interfaces.launch_further_interfaces).
    primary = [i for i in interfaces if i.required("DeviceIndex") == "0"]
    if len(primary) != 1:
        raise Ec2Error(
            "InvalidParameterValue",
            "Each network interface requires a unique device index; the primary is 0.",
        )
    [interface] = primary
    interface.refuse_unhandled("RunInstances", _INTERFACE_HANDLED, _INTERFACE_HARMLESS)
    if p.get("SubnetId") is not None:
        raise Ec2Error(
            "InvalidParameterCombination",
            "Network interfaces and an instance-level subnet ID may not be specified on "
            "the same request",
        )
    if p.values("SecurityGroupId") or p.values("SecurityGroup"):
        raise Ec2Error(
            "InvalidParameterCombination",
            "Network interfaces and an instance-level security groups may not be specified "
            "on the same request",
        )
    associate = interface.get("AssociatePublicIpAddress")
    existing = interface.get("NetworkInterfaceId")
    if existing is not None:
        if any(interface.get(n) is not None for n in ("SubnetId", "SecurityGroupId.1")) or (
            associate is not None
        ):
            raise Ec2Error(
                "InvalidParameterCombination",
                "An existing network interface takes no subnet, groups or public address",
            )
        return LaunchInterface(
            None,
            (),
            None,
            interface_id=existing,
            delete_on_termination=interface.boolean("DeleteOnTermination", default=False),
        )
    if interface.get("DeleteOnTermination") not in (None, "true"):
        raise Ec2Error(
            "UnsupportedOperation",
            "The primary made with the instance is deleted with it (DeleteOnTermination true)",
        )
    return LaunchInterface(
        subnet_id=interface.get("SubnetId") or None,
        group_ids=tuple(interface.values("SecurityGroupId")),
        associate_public_ip=(
            None
            if associate is None
            else interface.boolean("AssociatePublicIpAddress", default=False)
        ),
    )


def launch_ipv6(p: Params) -> tuple[int | None, tuple[str, ...]]:
    """The primary interface's IPv6 addresses a RunInstances asks (decision 0217): counted
    (``Ipv6AddressCount``) or named (``Ipv6Address.N.Ipv6Address``), on the instance or in
    the ``NetworkInterface`` made at device index 0 — not both places."""
    made = [
        i
        for i in p.structs("NetworkInterface")
        if i.get("DeviceIndex") == "0" and i.get("NetworkInterfaceId") is None
    ]
    on_instance = (
        p.get("Ipv6AddressCount"),
        [a.get("Ipv6Address") or "" for a in p.structs("Ipv6Address")],
    )
    if made:
        nic = made[0]
        in_interface = (
            nic.get("Ipv6AddressCount"),
            [a.get("Ipv6Address") or "" for a in nic.structs("Ipv6Addresses")],
        )
        if on_instance[0] is not None or on_instance[1]:
            raise Ec2Error(
                "InvalidParameterCombination",
                "Network interfaces and an instance-level IPv6 address count or IPv6 "
                "addresses may not be specified on the same request",
            )
        count_of, named = nic, in_interface[1]
    else:
        count_of, named = p, on_instance[1]
    count = count_of.integer("Ipv6AddressCount", minimum=0, maximum=64)
    return count, tuple(named)


@dataclass(frozen=True, slots=True)
class LaunchOptions:
    """RunInstances' protection, shutdown behaviour and metadata options (decision 0145)."""

    disable_api_termination: bool
    disable_api_stop: bool
    shutdown_behavior: str
    metadata_options: MetadataOptions
    monitoring: bool = False


# MetadataOptions' members, by the name of the field of compute's MetadataOptions.
_METADATA_MEMBERS: Final = {
    "HttpTokens": "http_tokens",
    "HttpPutResponseHopLimit": "hop_limit",
    "HttpEndpoint": "http_endpoint",
    "InstanceMetadataTags": "instance_metadata_tags",
    "HttpProtocolIpv6": "http_protocol_ipv6",
}


def metadata_changes(
    p: Params, action: str, also: frozenset[str] = frozenset()
) -> dict[str, str | int]:
    """The metadata options a request names (``p`` viewed at their prefix), as compute's
    field names; any other member is refused. Values are checked by compute (one place);
    the hop limit is read as a number here. ``also``: the action's other parameters."""
    p.refuse_unhandled(action, frozenset(_METADATA_MEMBERS) | also)
    changes: dict[str, str | int] = {}
    for member, attribute in _METADATA_MEMBERS.items():
        if member == "HttpPutResponseHopLimit":
            hops = p.integer(member)
            if hops is not None:
                changes[attribute] = hops
        elif (value := p.get(member)) is not None:
            changes[attribute] = value
    return changes


def launch_options(p: Params, defaults: Mapping[str, str | int] | None = None) -> LaunchOptions:
    """What a RunInstances request asks of protection, the guest's power-off and the
    metadata service; a metadata option left out is the account's default (``defaults``),
    else EC2's (IMDSv2 required: what this metadata service always was, and what EC2
    recommends)."""
    changes = metadata_changes(p.view("MetadataOptions."), "RunInstances MetadataOptions")
    chosen = {**(defaults or {}), **changes}
    asked = replace(MetadataOptions(), **chosen)  # type: ignore[arg-type]
    return LaunchOptions(
        disable_api_termination=p.boolean("DisableApiTermination", default=False),
        disable_api_stop=p.boolean("DisableApiStop", default=False),
        shutdown_behavior=check_shutdown_behavior(
            p.get("InstanceInitiatedShutdownBehavior") or "stop"
        ),
        metadata_options=check_metadata_options(asked),
        monitoring=p.boolean("Monitoring.Enabled", default=False),
    )


_CPU_MEMBERS: Final = frozenset({"CoreCount", "ThreadsPerCore", "AmdSevSnp"})


def cpu_options(p: Params, action: str = "RunInstances") -> CpuOptionsRequest | None:
    """A launch's ``CpuOptions`` as asked (None: none); compute checks them against the
    instance type (decision 0214)."""
    cpu = p.view("CpuOptions.")
    if not cpu.names():
        return None
    cpu.refuse_unhandled(f"{action} CpuOptions", _CPU_MEMBERS)
    return CpuOptionsRequest(
        core_count=cpu.integer("CoreCount", minimum=1),
        threads_per_core=cpu.integer("ThreadsPerCore", minimum=1),
        amd_sev_snp=cpu.get("AmdSevSnp"),
    )


# Block device mappings (decisions 0062, 0070): the root device's size, KMS key and whether it
# goes with the instance, and further volumes, blank or copies of snapshots. Every volume is
# encrypted and general purpose; anything else a mapping asks (IOPS, throughput, instance-store
# or suppressed devices) is refused, not dropped.
MAPPING_HANDLED: Final = frozenset(
    {
        "DeviceName", "Ebs.VolumeSize", "Ebs.KmsKeyId", "Ebs.SnapshotId",
        "Ebs.DeleteOnTermination",
    }
)  # fmt: skip
MAPPING_HARMLESS: Final = {
    "Ebs.Encrypted": frozenset({"true", "false"}),  # encrypted either way, as with encryption
    # by default on EC2
    "Ebs.VolumeType": frozenset({"gp2", "gp3", "standard"}),
}


def launch_mappings(p: Params, action: str = "RunInstances") -> tuple[LaunchVolume, ...]:
    """The block device mappings of a RunInstances request (or a template's data), in order;
    compute tells the root device's (the image's root device name) from the further
    volumes'."""
    found = []
    for mapping in p.structs("BlockDeviceMapping"):
        mapping.refuse_unhandled(f"{action} BlockDeviceMapping", MAPPING_HANDLED, MAPPING_HARMLESS)
        found.append(
            LaunchVolume(
                device=mapping.required("DeviceName"),
                size_gib=mapping.integer("Ebs.VolumeSize", minimum=1, maximum=16384),
                snapshot_id=mapping.get("Ebs.SnapshotId"),
                kms_key_id=mapping.get("Ebs.KmsKeyId"),
                delete_on_termination=mapping.boolean("Ebs.DeleteOnTermination", default=True),
            )
        )
    return tuple(found)


_LISTS: Final = ("BlockDeviceMapping", "TagSpecification")
# Parameters that are one setting between them: the request's replace all of the template's.
_GROUPS: Final = {"SecurityGroupId": "groups", "SecurityGroup": "groups"}


def _group(name: str) -> str:
    top = name.split(".", 1)[0]
    return _GROUPS.get(top, top)


def merged(
    base: Iterable[tuple[str, str]], over: Mapping[str, str], *, merge_lists: bool
) -> dict[str, str]:
    """``over``'s parameters over ``base``'s (see the module's docstring); with
    ``merge_lists`` (a launch), mappings and tag specifications merge, else (a new version
    from a source) a list given replaces the base's."""
    under = dict(base)
    given = {_group(name) for name in over}
    result = {k: v for k, v in under.items() if _group(k) not in given or _group(k) in _LISTS}
    result.update({k: v for k, v in over.items() if _group(k) not in _LISTS})
    for name in _LISTS:
        if name not in given:
            continue
        for key in [k for k in result if _group(k) == name]:
            del result[key]
        if not merge_lists:
            result.update({k: v for k, v in over.items() if _group(k) == name})
        elif name == "BlockDeviceMapping":
            result.update(_merged_mappings(Params(under), Params(over)))
        else:
            result.update(_merged_tags(Params(under), Params(over)))
    return result


def _merged_mappings(base: Params, over: Params) -> dict[str, str]:
    by_device: dict[str, dict[str, str]] = {}
    for source in (base, over):
        for mapping in source.structs("BlockDeviceMapping"):
            fields = {name: mapping.get(name) or "" for name in mapping.names()}
            by_device[fields.get("DeviceName", "")] = fields
    return {
        f"BlockDeviceMapping.{n}.{name}": value
        for n, fields in enumerate(by_device.values(), start=1)
        for name, value in fields.items()
    }


def _merged_tags(base: Params, over: Params) -> dict[str, str]:
    by_type: dict[str, dict[str, str]] = {}
    for source in (base, over):
        for spec in source.structs("TagSpecification"):
            tags = by_type.setdefault(spec.get("ResourceType") or "", {})
            tags.update(spec.tags())
    result: dict[str, str] = {}
    for n, (kind, tags) in enumerate(by_type.items(), start=1):
        result[f"TagSpecification.{n}.ResourceType"] = kind
        for m, (key, value) in enumerate(tags.items(), start=1):
            result[f"TagSpecification.{n}.Tag.{m}.Key"] = key
            result[f"TagSpecification.{n}.Tag.{m}.Value"] = value
    return result


# InstanceMarketOptions (decision 0202): a Spot launch. Spot blocks (BlockDurationMinutes) are
# refused as EC2 refuses them since 2022; hibernation is refused by compute (not offered).
_MARKET_HANDLED: Final = frozenset(
    {
        "MarketType", "SpotOptions.MaxPrice", "SpotOptions.SpotInstanceType",
        "SpotOptions.InstanceInterruptionBehavior", "SpotOptions.ValidUntil",
    }
)  # fmt: skip


def market_options(p: Params, now: datetime) -> SpotOptions | None:
    """RunInstances' ``InstanceMarketOptions``: the Spot options it asks (None: on-demand),
    checked as EC2 checks them."""
    market = p.view("InstanceMarketOptions.")
    if not market.names():
        return None
    if market.get("SpotOptions.BlockDurationMinutes") is not None:
        raise Ec2Error("InvalidParameterValue", "BlockDurationMinutes is not a valid parameter.")
    market.refuse_unhandled("RunInstances InstanceMarketOptions", _MARKET_HANDLED)
    kind = market.get("MarketType") or "spot"
    if kind != "spot":
        raise Ec2Error(
            "InvalidParameterValue",
            f"Invalid value '{kind[:32]}' for MarketType; the valid value is spot",
        )
    return spot_options(market.view("SpotOptions."), now, run_instances=True)


def spot_options(
    p: Params,
    now: datetime,
    *,
    run_instances: bool,
    names: tuple[str, str, str, str] = (
        "MaxPrice",
        "SpotInstanceType",
        "InstanceInterruptionBehavior",
        "ValidUntil",
    ),
) -> SpotOptions:
    """Spot options under their names in ``p`` (RunInstances' ``SpotOptions.*``, or
    RequestSpotInstances' own ``SpotPrice``, ``Type``…), checked as EC2 checks them."""
    price_name, type_name, behavior_name, until_name = names
    raw_price = p.get(price_name)
    raw_until = p.get(until_name)
    raw_from = None if run_instances else p.get("ValidFrom")
    options = SpotOptions(
        max_price=parse_max_price(raw_price) if raw_price else None,
        request_type=p.get(type_name) or "one-time",
        interruption_behavior=p.get(behavior_name) or "terminate",
        valid_until=_timestamp(raw_until, until_name) if raw_until else None,
        valid_from=_timestamp(raw_from, "ValidFrom") if raw_from else None,
    )
    return check_spot_options(options, run_instances=run_instances, now=now)


def _timestamp(raw: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise Ec2Error("InvalidParameterValue", f"Invalid value '{raw[:40]}' for {name}") from None
    if moment.tzinfo is None:
        raise Ec2Error("InvalidParameterValue", f"{name} must be a UTC timestamp")
    return moment
