"""EC2's Elastic IPs (decision 0125): AllocateAddress, DescribeAddresses (``PublicIp.N``,
``AllocationId.N``; the filters ``allocation-id``, ``association-id``, ``domain``,
``instance-id``, ``network-border-group``, ``network-interface-id``,
``network-interface-owner-id``, ``private-ip-address``, ``public-ip`` and tags),
AssociateAddress, DisassociateAddress, ReleaseAddress, and DescribeAddressesAttribute, which
Terraform's ``aws_eip`` reads for its reverse DNS record: there is none here, so each address
is answered without one (setting one, ModifyAddressAttribute, is not offered).
"""

from __future__ import annotations

from collections.abc import Callable

from andromede.compute.elastic_ip import DOMAIN, POOL, ElasticAddress
from andromede.ec2api.errors import Ec2Error
from andromede.ec2api.filters import Filters, matches, with_tags
from andromede.ec2api.protocol import Action, Call, paged
from andromede.ec2api.vpcs import resource_tags
from andromede.ec2api.xml import write_return, write_tags
from andromede.http.xml import XmlWriter

__all__ = ["ADDRESS_ACTIONS"]

# What DescribeAddressesAttribute answers for (EC2 knows no other attribute).
_DOMAIN_NAME = "domain-name"


def _write_address(xml: XmlWriter, address: ElasticAddress) -> None:
    xml.open("item")
    xml.element("publicIp", address.public_ip)
    xml.element("allocationId", address.allocation_id)
    xml.element("domain", DOMAIN)
    if address.association_id is not None:
        xml.element("instanceId", address.instance_id)
        xml.element("associationId", address.association_id)
        xml.element("networkInterfaceId", address.network_interface_id)
        xml.element("networkInterfaceOwnerId", address.tenant_id)
        xml.element("privateIpAddress", address.private_ip)
    write_tags(xml, address.tags)
    xml.element("publicIpv4Pool", POOL)
    xml.element("networkBorderGroup", address.network_border_group)
    xml.close("item")


def _address_filter(name: str) -> Callable[[object], list[str]] | None:
    def of(get: Callable[[ElasticAddress], str | None]) -> Callable[[object], list[str]]:
        def values(record: object) -> list[str]:
            if not isinstance(record, ElasticAddress):
                return []
            value = get(record)
            return [] if value is None else [value]

        return values

    fields = {
        "allocation-id": of(lambda a: a.allocation_id),
        "association-id": of(lambda a: a.association_id),
        "domain": of(lambda a: DOMAIN),
        "instance-id": of(lambda a: a.instance_id),
        "network-border-group": of(lambda a: a.network_border_group),
        "network-interface-id": of(lambda a: a.network_interface_id),
        "network-interface-owner-id": of(lambda a: a.tenant_id if a.association_id else None),
        "private-ip-address": of(lambda a: a.private_ip),
        "public-ip": of(lambda a: a.public_ip),
        "public-ipv4-pool": of(lambda a: POOL),
    }
    return with_tags(fields)(name)


async def allocate_address(call: Call) -> None:
    p = call.params
    p.refuse_unhandled(
        "AllocateAddress",
        frozenset(
            {"Domain", "Address", "PublicIpv4Pool", "NetworkBorderGroup", "TagSpecification"}
        ),
    )
    domain = p.get("Domain")
    if domain is not None and domain != DOMAIN:
        raise Ec2Error(
            "InvalidParameterValue",
            f"Invalid value '{domain[:32]}' for domain: only '{DOMAIN}' addresses are given "
            "(EC2-Classic is retired)",
        )
    pool = p.get("PublicIpv4Pool")
    if pool is not None and pool not in (POOL, "amazon"):
        raise Ec2Error(
            "InvalidParameterValue", f"The public IPv4 pool '{pool[:64]}' does not exist"
        )
    address = await call.compute.allocate_address(
        call.tenant_id,
        address=p.get("Address"),
        network_border_group=p.get("NetworkBorderGroup"),
        tags=resource_tags(p, "elastic-ip"),
    )
    xml = call.result
    xml.element("publicIp", address.public_ip)
    xml.element("domain", DOMAIN)
    xml.element("allocationId", address.allocation_id)
    xml.element("publicIpv4Pool", POOL)
    xml.element("networkBorderGroup", address.network_border_group)


async def describe_addresses(call: Call) -> None:
    p = call.params
    found = await call.compute.describe_addresses(
        call.tenant_id, p.values("AllocationId"), p.values("PublicIp")
    )
    filters = Filters(p.filters(), _address_filter)
    xml = call.result
    xml.open("addressesSet")
    for address in found:
        if matches(filters, address):
            _write_address(xml, address)
    xml.close("addressesSet")


async def describe_addresses_attribute(call: Call) -> None:
    p = call.params
    attribute = p.get("Attribute")
    if attribute is not None and attribute != _DOMAIN_NAME:
        raise Ec2Error(
            "InvalidParameterValue", f"Value ({attribute[:32]}) for parameter attribute is invalid"
        )
    found = await call.compute.describe_addresses(call.tenant_id, p.values("AllocationId"), [])
    chosen, next_token = paged(p, found, lambda a: a.allocation_id, most=1000, ids="AllocationId")
    xml = call.result
    xml.open("addressSet")
    for address in chosen:
        xml.open("item")
        xml.element("publicIp", address.public_ip)
        xml.element("allocationId", address.allocation_id)
        xml.close("item")
    xml.close("addressSet")
    xml.element("nextToken", next_token)


async def associate_address(call: Call) -> None:
    p = call.params
    address = await call.compute.associate_address(
        call.tenant_id,
        allocation_id=p.get("AllocationId"),
        public_ip=p.get("PublicIp"),
        instance_id=p.get("InstanceId"),
        network_interface_id=p.get("NetworkInterfaceId"),
        private_ip=p.get("PrivateIpAddress"),
        allow_reassociation=p.boolean("AllowReassociation", default=False),
    )
    write_return(call.result)
    call.result.element("associationId", address.association_id)


async def disassociate_address(call: Call) -> None:
    p = call.params
    await call.compute.disassociate_address(
        call.tenant_id, association_id=p.get("AssociationId"), public_ip=p.get("PublicIp")
    )
    write_return(call.result)


async def release_address(call: Call) -> None:
    p = call.params
    await call.compute.release_address(
        call.tenant_id,
        allocation_id=p.get("AllocationId"),
        public_ip=p.get("PublicIp"),
        network_border_group=p.get("NetworkBorderGroup"),
    )
    write_return(call.result)


def _address_arn(call: Call) -> list[str]:
    return [call.arn("elastic-ip", call.params.get("AllocationId") or "*")]


def _association_arns(call: Call) -> list[str]:
    # EC2 authorises an association on the address and on the instance or interface.
    p = call.params
    target = (
        call.arn("network-interface", p.get("NetworkInterfaceId") or "*")
        if p.get("NetworkInterfaceId")
        else call.arn("instance", p.get("InstanceId") or "*")
    )
    return [*_address_arn(call), target]


ADDRESS_ACTIONS: dict[str, Action] = {
    "AllocateAddress": Action(
        allocate_address, mutating=True, resources=lambda c: [c.arn("elastic-ip")]
    ),
    "DescribeAddresses": Action(describe_addresses, mutating=False),
    "DescribeAddressesAttribute": Action(describe_addresses_attribute, mutating=False),
    "AssociateAddress": Action(associate_address, mutating=True, resources=_association_arns),
    "DisassociateAddress": Action(disassociate_address, mutating=True, resources=_address_arn),
    "ReleaseAddress": Action(release_address, mutating=True, resources=_address_arn),
}
