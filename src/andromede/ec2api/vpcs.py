"""EC2 VPC and subnet actions: CreateVpc, CreateDefaultVpc, DeleteVpc, DescribeVpcs,
Describe/ModifyVpcAttribute, CreateSubnet, CreateDefaultSubnet, DeleteSubnet, DescribeSubnets,
ModifySubnetAttribute (decisions 0021, 0100, 0137).

Every tenant has its default VPC and subnet (created on first need by the service), so code that
looks the default VPC up — ``describe_vpcs(Filters=[{"Name": "is-default", …}])``, Terraform's
``aws_default_vpc`` — finds it; VPCs and subnets of its own sit beside them. A tenant may delete
its default VPC (then it has none) and make a new one with CreateDefaultVpc, or its default
subnet and make a new one with CreateDefaultSubnet. A VPC may take an Amazon-provided IPv6
/56 and a subnet a /64 of it (decision 0217). What a VPC could be asked for and is not done
here (IPAM pools, BYOIP pools, dedicated tenancy, IPv6-only subnets, Outposts) is refused
with UnsupportedOperation, never dropped (decision 0060).
"""

from __future__ import annotations

from collections.abc import Callable

from andromede.compute.dhcp_options import shown_options_id
from andromede.compute.model import Tags
from andromede.compute.network import Subnet, Vpc, usable_address_count
from andromede.ec2api.errors import Ec2Error
from andromede.ec2api.filters import Filters, matches, with_tags
from andromede.ec2api.ipv6_xml import (
    IPV6_SUBNET_FILTERS,
    IPV6_VPC_FILTERS,
    write_subnet_ipv6,
    write_vpc_ipv6,
)
from andromede.ec2api.protocol import Action, Call, Params
from andromede.ec2api.xml import write_return, write_tags
from andromede.http.xml import XmlWriter

__all__ = ["VPC_ACTIONS", "resource_tags"]

_CREATE_VPC_HANDLED = frozenset(
    {
        "CidrBlock",
        "TagSpecification",
        "AmazonProvidedIpv6CidrBlock",
        "Ipv6CidrBlockNetworkBorderGroup",
    }
)
_CREATE_VPC_HARMLESS = {"InstanceTenancy": frozenset({"default"})}
_CREATE_SUBNET_HANDLED = frozenset(
    {
        "VpcId",
        "CidrBlock",
        "AvailabilityZone",
        "AvailabilityZoneId",
        "TagSpecification",
        "Ipv6CidrBlock",
    }
)
_CREATE_SUBNET_HARMLESS = {"Ipv6Native": frozenset({"false"})}
_CREATE_DEFAULT_SUBNET_HANDLED = frozenset({"AvailabilityZone", "AvailabilityZoneId"})


def resource_tags(p: Params, resource_type: str) -> Tags:
    """The tags for ``resource_type``; a specification of another type is refused (EC2
    does), not dropped."""
    for spec in p.structs("TagSpecification"):
        kind = spec.required("ResourceType")
        if kind != resource_type:
            raise Ec2Error(
                "InvalidParameterValue",
                f"'{kind[:32]}' is not a valid taggable resource type for this operation.",
            )
    return p.tag_specifications(resource_type)


# -- VPCs ------------------------------------------------------------------------------------


def _write_vpc(xml: XmlWriter, vpc: Vpc, element: str = "item") -> None:
    xml.open(element)
    xml.element("vpcId", vpc.vpc_id)
    xml.element("ownerId", vpc.tenant_id)
    xml.element("state", "available")
    xml.element("cidrBlock", vpc.cidr)
    xml.open("cidrBlockAssociationSet")
    xml.open("item")
    xml.element("cidrBlock", vpc.cidr)
    xml.element("associationId", "vpc-cidr-assoc-" + vpc.vpc_id[4:])
    xml.open("cidrBlockState")
    xml.element("state", "associated")
    xml.close("cidrBlockState")
    xml.close("item")
    xml.close("cidrBlockAssociationSet")
    xml.open("ipv6CidrBlockAssociationSet")
    for association in vpc.ipv6_blocks:
        write_vpc_ipv6(xml, association, "associated", "item")
    xml.close("ipv6CidrBlockAssociationSet")
    xml.element("dhcpOptionsId", shown_options_id(vpc.dhcp_options_id, vpc.tenant_id))
    xml.element("instanceTenancy", "default")
    xml.element("isDefault", vpc.is_default)
    write_tags(xml, vpc.tags)
    xml.close(element)


async def create_vpc(call: Call) -> None:
    p = call.params
    p.refuse_unhandled("CreateVpc", _CREATE_VPC_HANDLED, _CREATE_VPC_HARMLESS)
    vpc = await call.compute.create_vpc(
        call.tenant_id,
        p.required("CidrBlock"),
        resource_tags(p, "vpc"),
        ipv6=p.boolean("AmazonProvidedIpv6CidrBlock", default=False),
        border_group=p.get("Ipv6CidrBlockNetworkBorderGroup"),
    )
    _write_vpc(call.result, vpc, "vpc")


async def create_default_vpc(call: Call) -> None:
    call.params.refuse_unhandled("CreateDefaultVpc", frozenset())
    vpc = await call.compute.create_default_vpc(call.tenant_id)
    _write_vpc(call.result, vpc, "vpc")


async def delete_vpc(call: Call) -> None:
    await call.compute.delete_vpc(call.tenant_id, call.params.required("VpcId"))
    write_return(call.result)


_VPC_FILTERS = with_tags(
    {
        "vpc-id": lambda v: [v.vpc_id] if isinstance(v, Vpc) else [],
        "is-default": lambda v: [str(v.is_default).lower()] if isinstance(v, Vpc) else [],
        # The spelling Terraform's aws_default_vpc and aws_vpc (default = true) send.
        "isDefault": lambda v: [str(v.is_default).lower()] if isinstance(v, Vpc) else [],
        "cidr": lambda v: [v.cidr] if isinstance(v, Vpc) else [],
        "cidr-block-association.cidr-block": lambda v: [v.cidr] if isinstance(v, Vpc) else [],
        "state": lambda v: ["available"],
        "owner-id": lambda v: [v.tenant_id] if isinstance(v, Vpc) else [],
        **IPV6_VPC_FILTERS,
        "dhcp-options-id": lambda v: (
            [shown_options_id(v.dhcp_options_id, v.tenant_id)] if isinstance(v, Vpc) else []
        ),
    }
)


async def describe_vpcs(call: Call) -> None:
    p = call.params
    vpcs = await call.compute.describe_vpcs(call.tenant_id, p.values("VpcId"))
    filters = Filters(p.filters(), _VPC_FILTERS)
    xml = call.result
    xml.open("vpcSet")
    for vpc in vpcs:
        if matches(filters, vpc):
            _write_vpc(xml, vpc)
    xml.close("vpcSet")


# -- VPC attributes --------------------------------------------------------------------------

# EC2's attribute name → ModifyVpcAttribute's parameter and the service's keyword.
_VPC_ATTRIBUTES = {
    "enableDnsSupport": ("EnableDnsSupport", "dns_support"),
    "enableDnsHostnames": ("EnableDnsHostnames", "dns_hostnames"),
    "enableNetworkAddressUsageMetrics": (
        "EnableNetworkAddressUsageMetrics",
        "address_usage_metrics",
    ),
}


def _vpc_attribute(vpc: Vpc, name: str) -> bool:
    if name == "enableDnsSupport":
        return vpc.enable_dns_support
    if name == "enableDnsHostnames":
        return vpc.dns_hostnames
    return vpc.enable_network_address_usage_metrics


async def describe_vpc_attribute(call: Call) -> None:
    p = call.params
    name = p.required("Attribute")
    vpc_id = p.required("VpcId")
    if name not in _VPC_ATTRIBUTES:
        raise Ec2Error(
            "InvalidParameterValue",
            f"Value ({name[:64]}) for parameter attribute is invalid. Unknown attribute.",
        )
    [vpc] = await call.compute.describe_vpcs(call.tenant_id, [vpc_id])
    xml = call.result
    xml.element("vpcId", vpc.vpc_id)
    xml.open(name)
    xml.element("value", _vpc_attribute(vpc, name))
    xml.close(name)


async def modify_vpc_attribute(call: Call) -> None:
    p = call.params
    p.refuse_unhandled(
        "ModifyVpcAttribute", frozenset({"VpcId", *(v[0] for v in _VPC_ATTRIBUTES.values())})
    )
    vpc_id = p.required("VpcId")
    given = {
        keyword: p.boolean(f"{param}.Value", default=False)
        for param, keyword in _VPC_ATTRIBUTES.values()
        if any(n.startswith(f"{param}.") for n in p.names())
    }
    if not given:
        raise Ec2Error(
            "MissingParameter",
            "The request must contain one of EnableDnsSupport, EnableDnsHostnames or "
            "EnableNetworkAddressUsageMetrics",
        )
    if len(given) > 1:  # EC2 takes one attribute per request
        raise Ec2Error(
            "InvalidParameterCombination", "Only one attribute can be modified at a time."
        )
    await call.compute.modify_vpc_attribute(call.tenant_id, vpc_id, **given)
    write_return(call.result)


# -- subnets ---------------------------------------------------------------------------------


def _write_subnet(xml: XmlWriter, call: Call, subnet: Subnet, used: int, element: str) -> None:
    xml.open(element)
    xml.element("subnetId", subnet.subnet_id)
    xml.element("subnetArn", call.arn("subnet", subnet.subnet_id))
    xml.element("state", "available")
    xml.element("ownerId", subnet.tenant_id)
    xml.element("vpcId", subnet.vpc_id)
    xml.element("cidrBlock", subnet.cidr)
    # AWS keeps the network address, the next three and the broadcast address.
    xml.element("availableIpAddressCount", usable_address_count(subnet.cidr) - used)
    xml.element("availabilityZone", subnet.availability_zone)
    xml.element("availabilityZoneId", f"{call.region}-az1")
    xml.element("defaultForAz", subnet.default_for_az)
    xml.element("mapPublicIpOnLaunch", subnet.maps_public_ip)
    xml.element("mapCustomerOwnedIpOnLaunch", False)
    xml.element("assignIpv6AddressOnCreation", subnet.assign_ipv6_address_on_creation)
    xml.open("ipv6CidrBlockAssociationSet")
    for association in subnet.ipv6_blocks:
        write_subnet_ipv6(xml, association, "associated", "item")
    xml.close("ipv6CidrBlockAssociationSet")
    xml.element("enableDns64", False)
    xml.element("ipv6Native", False)
    # What EC2 shows for a subnet nobody changed: instances named after their address.
    xml.open("privateDnsNameOptionsOnLaunch")
    xml.element("hostnameType", "ip-name")
    xml.element("enableResourceNameDnsARecord", False)
    xml.element("enableResourceNameDnsAAAARecord", False)
    xml.close("privateDnsNameOptionsOnLaunch")
    write_tags(xml, subnet.tags)
    xml.close(element)


def _zone(call: Call) -> str | None:
    """The zone named by ``AvailabilityZone`` (checked by the service), None when it is
    named by ``AvailabilityZoneId`` (the region's one, ``<region>-az1``) or not at all."""
    p = call.params
    zone = p.get("AvailabilityZone")
    zone_id = p.get("AvailabilityZoneId")
    if zone_id is not None:
        if zone_id != f"{call.region}-az1":
            raise Ec2Error(
                "InvalidParameterValue",
                f"Value ({zone_id[:64]}) for parameter availabilityZoneId is invalid.",
            )
        if zone is not None:
            raise Ec2Error(
                "InvalidParameterCombination",
                "AvailabilityZone and AvailabilityZoneId cannot be given together.",
            )
    return zone


async def create_subnet(call: Call) -> None:
    p = call.params
    p.refuse_unhandled("CreateSubnet", _CREATE_SUBNET_HANDLED, _CREATE_SUBNET_HARMLESS)
    subnet = await call.compute.create_subnet(
        call.tenant_id,
        p.required("VpcId"),
        p.required("CidrBlock"),
        _zone(call),
        resource_tags(p, "subnet"),
        ipv6_cidr=p.get("Ipv6CidrBlock"),
    )
    _write_subnet(call.result, call, subnet, 0, "subnet")


async def create_default_subnet(call: Call) -> None:
    p = call.params
    p.refuse_unhandled(
        "CreateDefaultSubnet", _CREATE_DEFAULT_SUBNET_HANDLED, _CREATE_SUBNET_HARMLESS
    )
    zone = _zone(call)
    if zone is None and p.get("AvailabilityZoneId") is None:
        raise Ec2Error(
            "MissingParameter", "Either AvailabilityZone or AvailabilityZoneId must be specified."
        )
    subnet = await call.compute.create_default_subnet(call.tenant_id, zone)
    _write_subnet(call.result, call, subnet, 0, "subnet")


async def delete_subnet(call: Call) -> None:
    await call.compute.delete_subnet(call.tenant_id, call.params.required("SubnetId"))
    write_return(call.result)


_MODIFY_SUBNET_HARMLESS = {
    # What is done anyway: no DNS64, no Outpost, instances named after their address.
    "EnableDns64.Value": frozenset({"false"}),
    "EnableResourceNameDnsARecordOnLaunch.Value": frozenset({"false"}),
    "EnableResourceNameDnsAAAARecordOnLaunch.Value": frozenset({"false"}),
    "MapCustomerOwnedIpOnLaunch.Value": frozenset({"false"}),
    "PrivateDnsHostnameTypeOnLaunch": frozenset({"ip-name"}),
}


async def modify_subnet_attribute(call: Call) -> None:
    p = call.params
    p.refuse_unhandled(
        "ModifySubnetAttribute",
        frozenset({"SubnetId", "MapPublicIpOnLaunch", "AssignIpv6AddressOnCreation"}),
        _MODIFY_SUBNET_HARMLESS,
    )
    subnet_id = p.required("SubnetId")
    public = p.get("MapPublicIpOnLaunch.Value")
    ipv6 = p.get("AssignIpv6AddressOnCreation.Value")
    if public is not None or ipv6 is not None:
        await call.compute.modify_subnet_attribute(
            call.tenant_id,
            subnet_id,
            map_public_ip_on_launch=(
                None if public is None else p.boolean("MapPublicIpOnLaunch.Value", default=False)
            ),
            assign_ipv6_address_on_creation=(
                None
                if ipv6 is None
                else p.boolean("AssignIpv6AddressOnCreation.Value", default=False)
            ),
        )
    else:  # only what is done anyway: the subnet must still be the caller's
        await call.compute.describe_subnets(call.tenant_id, [subnet_id])
    write_return(call.result)


def _subnet_filter(name: str) -> Callable[[object], list[str]] | None:
    def of(get: Callable[[Subnet], str]) -> Callable[[object], list[str]]:
        return lambda s: [get(s)] if isinstance(s, Subnet) else []

    fields = {
        "subnet-id": of(lambda s: s.subnet_id),
        "vpc-id": of(lambda s: s.vpc_id),
        "cidr-block": of(lambda s: s.cidr),
        "cidr": of(lambda s: s.cidr),
        "cidrBlock": of(lambda s: s.cidr),
        "availability-zone": of(lambda s: s.availability_zone),
        # Terraform's aws_default_subnet spells these two the API's older way.
        "availabilityZone": of(lambda s: s.availability_zone),
        "default-for-az": of(lambda s: str(s.default_for_az).lower()),
        "defaultForAz": of(lambda s: str(s.default_for_az).lower()),
        "state": of(lambda s: "available"),
        "owner-id": of(lambda s: s.tenant_id),
        "map-public-ip-on-launch": of(lambda s: str(s.maps_public_ip).lower()),
        "assign-ipv6-address-on-creation": of(
            lambda s: str(s.assign_ipv6_address_on_creation).lower()
        ),
        "ipv6-native": of(lambda s: "false"),
        **IPV6_SUBNET_FILTERS,
    }
    return with_tags(fields)(name)


async def describe_subnets(call: Call) -> None:
    p = call.params
    subnets = await call.compute.describe_subnets(call.tenant_id, p.values("SubnetId"))
    filters = Filters(p.filters(), _subnet_filter)
    interfaces = await call.compute.describe_network_interfaces(call.tenant_id, [])
    xml = call.result
    xml.open("subnetSet")
    for subnet in subnets:
        if matches(filters, subnet):
            used = sum(1 for i in interfaces if i.subnet_id == subnet.subnet_id)
            _write_subnet(xml, call, subnet, used, "item")
    xml.close("subnetSet")


def _create_subnet_resources(call: Call) -> list[str]:
    # EC2 authorises CreateSubnet on the new subnet and on the VPC it goes in.
    return [call.arn("subnet"), call.arn("vpc", call.params.get("VpcId") or "*")]


def _vpc_arn(call: Call) -> list[str]:
    return [call.arn("vpc", call.params.get("VpcId") or "*")]


VPC_ACTIONS: dict[str, Action] = {
    "CreateVpc": Action(create_vpc, mutating=True, resources=lambda c: [c.arn("vpc")]),
    "CreateDefaultVpc": Action(
        create_default_vpc, mutating=True, resources=lambda c: [c.arn("vpc")]
    ),
    "DeleteVpc": Action(delete_vpc, mutating=True, resources=_vpc_arn),
    "DescribeVpcs": Action(describe_vpcs, mutating=False),
    "DescribeVpcAttribute": Action(describe_vpc_attribute, mutating=False),
    "ModifyVpcAttribute": Action(modify_vpc_attribute, mutating=True, resources=_vpc_arn),
    "CreateSubnet": Action(create_subnet, mutating=True, resources=_create_subnet_resources),
    # As CreateSubnet: on the new subnet and on the (default) VPC, whose id the call names not.
    "CreateDefaultSubnet": Action(
        create_default_subnet, mutating=True, resources=_create_subnet_resources
    ),
    "DeleteSubnet": Action(
        delete_subnet,
        mutating=True,
        resources=lambda c: [c.arn("subnet", c.params.get("SubnetId") or "*")],
    ),
    "DescribeSubnets": Action(describe_subnets, mutating=False),
    "ModifySubnetAttribute": Action(
        modify_subnet_attribute,
        mutating=True,
        resources=lambda c: [c.arn("subnet", c.params.get("SubnetId") or "*")],
    ),
}
