"""EC2 network actions: DescribeNetworkInterfaces, DescribeAccountAttributes, and the network
interface as DescribeInstances nests it (one per instance, its primary). VPCs and subnets are
``vpcs.py``'s.

How a host reaches an instance when it fell back to user-mode
networking (no bridge): the public address is the forward's host address and the host port of
each forward is shown as a tag the platform sets, ``aws:andromede:forward:<guest port>`` =
``<host address>:<host port>`` (the ``aws:`` prefix is refused for tenants' tags, so it cannot
clash), on the instance in DescribeInstances.
"""

from __future__ import annotations

from collections.abc import Callable

from andromede.compute.instance_attributes import MAX_GROUPS_PER_INSTANCE
from andromede.compute.model import Instance
from andromede.compute.nat_gateway import NatGateway
from andromede.compute.network import (
    NetworkInterface,
    private_dns_name,
)
from andromede.compute.vpc_endpoint import ENI_TYPE
from andromede.ec2api.errors import Ec2Error
from andromede.ec2api.filters import Filters, matches
from andromede.ec2api.interface_xml import (
    write_ipv6_addresses,
    write_private_addresses,
    write_secondary_interface,
)
from andromede.ec2api.protocol import Action, Call, iso8601, paged
from andromede.ec2api.xml import write_tags
from andromede.http.xml import XmlWriter

__all__ = [
    "FORWARD_TAG_PREFIX",
    "NETWORK_ACTIONS",
    "public_ip_of",
    "system_tags",
    "write_interface",
]

FORWARD_TAG_PREFIX = "aws:andromede:forward:"
_SSH_PORT = 22


def public_ip_of(instance: Instance) -> str | None:
    """The instance's public address: its Elastic IP (decision 0125), which takes the place of
    the one it had, as on EC2; else the address that reaches it from its host: the host-only
    public address in bridge mode, the SSH forward's host address in user mode."""
    if instance.elastic_ip is not None:
        return instance.elastic_ip.public_ip
    if instance.public_ip is not None:
        return instance.public_ip
    for host_address, _, guest_port in _user_mode_forwards(instance):
        if guest_port == _SSH_PORT:
            return host_address
    return None


def _user_mode_forwards(instance: Instance) -> tuple[tuple[str, int, int], ...]:
    # In bridge mode the public address is the way in: forwards are not advertised.
    return instance.forwards if instance.network_mode == "user" else ()


def system_tags(instance: Instance) -> tuple[tuple[str, str], ...]:
    """The instance's tags, then the platform's forward tags in user mode (see above)."""
    forwards = tuple(
        (f"{FORWARD_TAG_PREFIX}{guest}", f"{host}:{port}")
        for host, port, guest in _user_mode_forwards(instance)
    )
    return (*instance.tags, *instance.platform_tags, *forwards)


def _association(
    xml: XmlWriter, instance: Instance, public_ip: str | None, public_dns: str
) -> None:
    if public_ip is None:
        return
    elastic = instance.elastic_ip
    xml.open("association")
    if elastic is not None:
        # An Elastic IP is the account's own (EC2 names its owner), with its ids.
        xml.element("allocationId", elastic.allocation_id)
        xml.element("associationId", elastic.association_id)
    xml.element("publicIp", public_ip)
    xml.element("publicDnsName", public_dns)
    xml.element("ipOwnerId", instance.tenant_id if elastic is not None else "amazon")
    xml.close("association")


def _group_set(xml: XmlWriter, instance: Instance, group_names: dict[str, str]) -> None:
    xml.open("groupSet")
    for group_id in instance.security_group_ids:
        xml.open("item")
        xml.element("groupId", group_id)
        xml.element("groupName", group_names.get(group_id, ""))
        xml.close("item")
    xml.close("groupSet")


def write_interface(
    xml: XmlWriter,
    call: Call,
    instance: Instance,
    group_names: dict[str, str],
    *,
    nested: bool,
    tags: tuple[tuple[str, str], ...] = (),
    public_dns: str = "",
    record: NetworkInterface | None = None,
) -> None:
    """The instance's interface as an ``<item>``: ``nested`` in DescribeInstances' instance,
    or on its own for DescribeNetworkInterfaces (which adds the instance's id and zone);
    ``public_dns``: its public address's name (decision 0151), "" for none; ``record``: the
    interface's own (its description, check, secondary addresses: decision 0161)."""
    if instance.network_interface_id is None or instance.private_ip is None:
        return
    dns = private_dns_name(instance.private_ip, call.region)
    public_ip = public_ip_of(instance)
    xml.open("item")
    xml.element("networkInterfaceId", instance.network_interface_id)
    xml.element("subnetId", instance.subnet_id)
    xml.element("vpcId", instance.vpc_id)
    if not nested:
        xml.element("availabilityZone", instance.availability_zone)
    xml.element("description", record.description if record is not None else "")
    xml.element("ownerId", instance.tenant_id)
    xml.element("requesterManaged", False)
    xml.element("status", "in-use")
    xml.element("macAddress", instance.mac)
    xml.element("privateIpAddress", instance.private_ip)
    xml.element("privateDnsName", dns)
    xml.element("sourceDestCheck", record.source_dest_check if record is not None else True)
    _group_set(xml, instance, group_names)
    xml.open("attachment")
    xml.element(
        "attachmentId",
        record.attachment
        if record is not None and record.attachment
        else "eni-attach-" + instance.network_interface_id[4:],
    )
    if not nested:
        xml.element("instanceId", instance.instance_id)
        xml.element("instanceOwnerId", instance.tenant_id)
    xml.element("deviceIndex", 0)
    xml.element("status", "attached")
    xml.element("attachTime", iso8601(instance.launch_time))
    xml.element("deleteOnTermination", record.delete_on_termination if record else True)
    xml.close("attachment")
    _association(xml, instance, public_ip, public_dns)
    xml.open("privateIpAddressesSet")
    xml.open("item")
    xml.element("privateIpAddress", instance.private_ip)
    xml.element("privateDnsName", dns)
    xml.element("primary", True)
    _association(xml, instance, public_ip, public_dns)
    xml.close("item")
    write_private_addresses(xml, call, record, instance.private_ip)
    xml.close("privateIpAddressesSet")
    write_ipv6_addresses(xml, record)
    xml.element("interfaceType", "interface")
    if not nested:
        write_tags(xml, tags)
    xml.close("item")


# -- DescribeNetworkInterfaces ---------------------------------------------------------------


# An interface with what holds it: its instance, or a NAT gateway (decision 0129).
_Held = tuple[NetworkInterface, Instance | NatGateway | None]


def _nat_description(nat: NatGateway) -> str:
    return f"Interface for NAT Gateway {nat.nat_gateway_id}"


def _public_ip_of(p: _Held) -> str | None:
    held = p[1]
    if held is None or _own_interface(p[0], held):
        return None  # an interface beyond the primary has no public address (decision 0161)
    return held.public_ip if isinstance(held, NatGateway) else public_ip_of(held)


def _group_ids(p: _Held) -> list[str]:
    if p[0].group_ids or not isinstance(p[1], Instance):
        return list(p[0].group_ids)
    return list(p[1].security_group_ids)


def _held_by_other(held: _Held) -> bool:
    """A NAT gateway's or an Interface VPC endpoint's (decision 0166): requester-managed."""
    return isinstance(held[1], NatGateway) or held[0].interface_type == ENI_TYPE


def _interface_filter(name: str) -> Callable[[_Held], list[str]] | None:
    fields: dict[str, Callable[[_Held], list[str]]] = {
        "network-interface-id": lambda p: [p[0].interface_id],
        "subnet-id": lambda p: [p[0].subnet_id],
        "vpc-id": lambda p: [p[0].vpc_id],
        "availability-zone": lambda p: [p[0].availability_zone],
        "mac-address": lambda p: [p[0].mac],
        "addresses.private-ip-address": lambda p: list(p[0].addresses),
        "private-ip-address": lambda p: list(p[0].addresses),
        "ipv6-addresses.ipv6-address": lambda p: list(p[0].ipv6_addresses),
        "attachment.instance-id": lambda p: [p[0].instance_id] if p[0].instance_id else [],
        "attachment.attachment-id": lambda p: [p[0].attachment] if p[0].attachment else [],
        "attachment.device-index": lambda p: [str(p[0].device_index)] if p[0].instance_id else [],
        "attachment.status": lambda p: ["attached"] if p[0].instance_id else [],
        "group-id": _group_ids,
        "status": lambda p: ["in-use" if p[0].instance_id or _held_by_other(p) else "available"],
        # An instance's interface has no description; Terraform's aws_subnet and
        # aws_security_group look for other services' lingering interfaces by it.
        "description": lambda p: (
            [_nat_description(p[1])] if isinstance(p[1], NatGateway) else [p[0].description]
        ),
        "interface-type": lambda p: [p[0].interface_type],
        "requester-managed": lambda p: ["true" if _held_by_other(p) else "false"],
        "owner-id": lambda p: [p[0].tenant_id],
        "association.public-ip": lambda p: [ip] if (ip := _public_ip_of(p)) else [],
    }
    return fields.get(name)


async def describe_network_interfaces(call: Call) -> None:
    p = call.params
    interfaces = await call.compute.describe_network_interfaces(
        call.tenant_id, p.values("NetworkInterfaceId")
    )
    filters = Filters(p.filters(), _interface_filter)
    instances = {
        i.instance_id: i for i in await call.compute.describe_instances(call.tenant_id, [])
    }
    groups = await call.compute.describe_security_groups(call.tenant_id, [], [])
    names = {g.group_id: g.name for g in groups}
    nats = {n.network_interface_id: n for n in await call.compute.live_nat_gateways(call.tenant_id)}
    public_names = await call.compute.public_dns_names(call.tenant_id, list(instances.values()))
    xml = call.result
    shown: list[_Held] = []
    for interface in interfaces:
        holder: Instance | NatGateway | None = instances.get(interface.instance_id) or nats.get(
            interface.interface_id
        )
        if (holder is not None or _own_interface(interface, holder)) and matches(
            filters, (interface, holder)
        ):
            shown.append((interface, holder))
    # EC2's pages (decision 0161): boto3's paginator and the CLI ask for them.
    chosen, next_token = paged(
        p, shown, lambda held: held[0].interface_id, most=1000, ids="NetworkInterfaceId"
    )
    xml.open("networkInterfaceSet")
    for interface, holder in chosen:
        if _own_interface(interface, holder):
            # Made by CreateNetworkInterface, available or attached beyond device 0.
            attached = holder if isinstance(holder, Instance) else None
            write_secondary_interface(xml, call, interface, attached, names, nested=False)
            continue
        if isinstance(holder, NatGateway):
            _write_nat_interface(xml, call, interface, holder)
        elif holder is not None:
            write_interface(
                xml,
                call,
                holder,
                names,
                nested=False,
                tags=interface.tags,
                public_dns=public_names.get(holder.instance_id, ""),
                record=interface,
            )
    xml.close("networkInterfaceSet")
    xml.element("nextToken", next_token)


def _own_interface(interface: NetworkInterface, holder: Instance | NatGateway | None) -> bool:
    """Whether the interface is shown from its own record: not a NAT gateway's, and not the
    primary of an instance (whose groups and public address are the instance's)."""
    if interface.interface_type not in ("interface", ENI_TYPE):
        return False
    return not (
        isinstance(holder, Instance) and holder.network_interface_id == interface.interface_id
    )


def _write_nat_interface(
    xml: XmlWriter, call: Call, interface: NetworkInterface, nat: NatGateway
) -> None:
    """A NAT gateway's interface as EC2 shows it: requester-managed, of type ``nat_gateway``,
    described by its gateway, its Elastic IP as its association, in no security group."""
    dns = private_dns_name(interface.private_ip, call.region)
    xml.open("item")
    xml.element("networkInterfaceId", interface.interface_id)
    xml.element("subnetId", interface.subnet_id)
    xml.element("vpcId", interface.vpc_id)
    xml.element("availabilityZone", interface.availability_zone)
    xml.element("description", _nat_description(nat))
    xml.element("ownerId", interface.tenant_id)
    xml.element("requesterManaged", True)
    xml.element("status", "in-use")
    xml.element("macAddress", interface.mac)
    xml.element("privateIpAddress", interface.private_ip)
    xml.element("privateDnsName", dns)
    xml.element("sourceDestCheck", False)
    xml.open("groupSet")
    xml.close("groupSet")
    _nat_association(xml, nat)
    xml.open("privateIpAddressesSet")
    xml.open("item")
    xml.element("privateIpAddress", interface.private_ip)
    xml.element("privateDnsName", dns)
    xml.element("primary", True)
    _nat_association(xml, nat)
    xml.close("item")
    xml.close("privateIpAddressesSet")
    xml.element("interfaceType", interface.interface_type)
    write_tags(xml, interface.tags)
    xml.close("item")


def _nat_association(xml: XmlWriter, nat: NatGateway) -> None:
    xml.open("association")
    xml.element("allocationId", nat.allocation_id)
    xml.element("associationId", nat.association_id)
    xml.element("publicIp", nat.public_ip)
    xml.element("publicDnsName", "")
    xml.element("ipOwnerId", nat.tenant_id)
    xml.close("association")


# -- DescribeAccountAttributes ---------------------------------------------------------------


async def describe_account_attributes(call: Call) -> None:
    """What SDKs and Terraform ask to learn the account's platform: VPC only, its default VPC
    (``none`` once deleted, as EC2 says), and the limits that apply."""
    network = await call.compute.default_network_if_any(call.tenant_id)
    limits = call.compute.limits
    attributes = {
        "supported-platforms": ["VPC"],
        "default-vpc": [network.vpc.vpc_id if network is not None else "none"],
        "max-instances": [str(limits.max_instances_per_tenant)],
        "vpc-max-security-groups-per-interface": [str(MAX_GROUPS_PER_INSTANCE)],
        "max-elastic-ips": ["0"],
        "vpc-max-elastic-ips": ["0"],
    }
    wanted = call.params.values("AttributeName")
    for name in wanted:
        if name not in attributes:
            raise Ec2Error("InvalidParameterValue", f"Invalid attribute name: {name[:64]}")
    xml = call.result
    xml.open("accountAttributeSet")
    for name, values in attributes.items():
        if wanted and name not in wanted:
            continue
        xml.open("item")
        xml.element("attributeName", name)
        xml.open("attributeValueSet")
        for value in values:
            xml.open("item")
            xml.element("attributeValue", value)
            xml.close("item")
        xml.close("attributeValueSet")
        xml.close("item")
    xml.close("accountAttributeSet")


NETWORK_ACTIONS: dict[str, Action] = {
    "DescribeAccountAttributes": Action(describe_account_attributes, mutating=False),
    "DescribeNetworkInterfaces": Action(describe_network_interfaces, mutating=False),
}
