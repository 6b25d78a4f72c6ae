"""EC2's IPv6 calls beside CreateVpc and CreateSubnet (decision 0217): Associate/
DisassociateVpcCidrBlock and Associate/DisassociateSubnetCidrBlock for IPv6 blocks, and
Assign/UnassignIpv6Addresses. A secondary IPv4 block (AssociateVpcCidrBlock ``CidrBlock``),
BYOIP and IPAM pools are refused with UnsupportedOperation, never dropped (decision 0060)."""

from __future__ import annotations

from andromede.ec2api.errors import Ec2Error
from andromede.ec2api.ipv6_xml import write_subnet_ipv6, write_vpc_ipv6
from andromede.ec2api.protocol import Action, Call

__all__ = ["IPV6_ACTIONS"]


async def associate_vpc_cidr_block(call: Call) -> None:
    p = call.params
    p.refuse_unhandled(
        "AssociateVpcCidrBlock",
        frozenset({"VpcId", "AmazonProvidedIpv6CidrBlock", "Ipv6CidrBlockNetworkBorderGroup"}),
    )
    vpc_id = p.required("VpcId")
    if not p.boolean("AmazonProvidedIpv6CidrBlock", default=False):
        raise Ec2Error(
            "MissingParameter",
            "Either 'cidrBlock' or 'amazonProvidedIpv6CidrBlock' or 'ipv6Pool' must be specified.",
        )
    association = await call.compute.associate_vpc_ipv6(
        call.tenant_id, vpc_id, p.get("Ipv6CidrBlockNetworkBorderGroup")
    )
    call.result.element("vpcId", vpc_id)
    # Done before the answer here; EC2 answers "associating" and Terraform waits for
    # "associated", which DescribeVpcs says at once.
    write_vpc_ipv6(call.result, association, "associated", "ipv6CidrBlockAssociation")


async def disassociate_vpc_cidr_block(call: Call) -> None:
    vpc, association = await call.compute.disassociate_vpc_cidr(
        call.tenant_id, call.params.required("AssociationId")
    )
    call.result.element("vpcId", vpc.vpc_id)
    if association is not None:
        write_vpc_ipv6(call.result, association, "disassociated", "ipv6CidrBlockAssociation")


async def associate_subnet_cidr_block(call: Call) -> None:
    p = call.params
    p.refuse_unhandled("AssociateSubnetCidrBlock", frozenset({"SubnetId", "Ipv6CidrBlock"}))
    subnet_id = p.required("SubnetId")
    association = await call.compute.associate_subnet_ipv6(
        call.tenant_id, subnet_id, p.required("Ipv6CidrBlock")
    )
    call.result.element("subnetId", subnet_id)
    write_subnet_ipv6(call.result, association, "associated", "ipv6CidrBlockAssociation")


async def disassociate_subnet_cidr_block(call: Call) -> None:
    subnet, association = await call.compute.disassociate_subnet_ipv6(
        call.tenant_id, call.params.required("AssociationId")
    )
    call.result.element("subnetId", subnet.subnet_id)
    write_subnet_ipv6(call.result, association, "disassociated", "ipv6CidrBlockAssociation")


def _write_addresses(call: Call, interface_id: str, addresses: list[str], element: str) -> None:
    xml = call.result
    xml.element("networkInterfaceId", interface_id)
    xml.open(element)
    for address in addresses:
        xml.element("item", address)
    xml.close(element)


async def assign_ipv6_addresses(call: Call) -> None:
    p = call.params
    p.refuse_unhandled(
        "AssignIpv6Addresses",
        frozenset({"NetworkInterfaceId", "Ipv6Addresses", "Ipv6AddressCount"}),
    )
    interface_id = p.required("NetworkInterfaceId")
    count = p.integer("Ipv6AddressCount", default=None, minimum=1, maximum=64)
    named = p.values("Ipv6Addresses")
    if not named and count is None:
        raise Ec2Error(
            "MissingParameter", "Either Ipv6Addresses or Ipv6AddressCount must be specified."
        )
    _, given = await call.compute.assign_ipv6_addresses(call.tenant_id, interface_id, named, count)
    _write_addresses(call, interface_id, given, "assignedIpv6Addresses")


async def unassign_ipv6_addresses(call: Call) -> None:
    p = call.params
    p.refuse_unhandled("UnassignIpv6Addresses", frozenset({"NetworkInterfaceId", "Ipv6Addresses"}))
    interface_id = p.required("NetworkInterfaceId")
    named = p.values("Ipv6Addresses")
    if not named:
        raise Ec2Error("MissingParameter", "The request must contain the parameter Ipv6Addresses")
    _, gone = await call.compute.unassign_ipv6_addresses(call.tenant_id, interface_id, named)
    _write_addresses(call, interface_id, gone, "unassignedIpv6Addresses")


def _vpc_arn(call: Call) -> list[str]:
    return [call.arn("vpc", call.params.get("VpcId") or "*")]


def _subnet_arn(call: Call) -> list[str]:
    return [call.arn("subnet", call.params.get("SubnetId") or "*")]


def _interface_arn(call: Call) -> list[str]:
    return [call.arn("network-interface", call.params.get("NetworkInterfaceId") or "*")]


IPV6_ACTIONS: dict[str, Action] = {
    "AssociateVpcCidrBlock": Action(associate_vpc_cidr_block, mutating=True, resources=_vpc_arn),
    # By an association id: the VPC is found from it, so the call is authorised on every VPC.
    "DisassociateVpcCidrBlock": Action(
        disassociate_vpc_cidr_block, mutating=True, resources=lambda c: [c.arn("vpc")]
    ),
    "AssociateSubnetCidrBlock": Action(
        associate_subnet_cidr_block, mutating=True, resources=_subnet_arn
    ),
    "DisassociateSubnetCidrBlock": Action(
        disassociate_subnet_cidr_block, mutating=True, resources=lambda c: [c.arn("subnet")]
    ),
    "AssignIpv6Addresses": Action(assign_ipv6_addresses, mutating=True, resources=_interface_arn),
    "UnassignIpv6Addresses": Action(
        unassign_ipv6_addresses, mutating=True, resources=_interface_arn
    ),
}
