"""The XML of an interface that is not an instance's primary (decision 0161): one made by
CreateNetworkInterface, available or attached at a device index of 1 or more, as
DescribeNetworkInterfaces lists it and DescribeInstances nests it. An instance's primary is
``networks.write_interface``'s (its groups and public address are the instance's)."""

from __future__ import annotations

from andromede.compute.model import Instance
from andromede.compute.network import NetworkInterface, private_dns_name
from andromede.compute.vpc_endpoint import ENI_TYPE
from andromede.ec2api.protocol import Call, iso8601
from andromede.ec2api.xml import write_tags
from andromede.http.xml import XmlWriter

__all__ = [
    "REQUESTER_ID",
    "write_ipv6_addresses",
    "write_private_addresses",
    "write_secondary_interface",
]

# The requester EC2 names for the interfaces it makes for VPC endpoints.
REQUESTER_ID = "amazon-vpce"


def write_private_addresses(
    xml: XmlWriter, call: Call, interface: NetworkInterface | None, primary: str
) -> None:
    """``privateIpAddressesSet``'s secondary items (the primary's item is the caller's)."""
    for address in interface.secondary_ips if interface is not None else ():
        xml.open("item")
        xml.element("privateIpAddress", address)
        xml.element("privateDnsName", private_dns_name(address, call.region))
        xml.element("primary", False)
        xml.close("item")
    del primary


def write_ipv6_addresses(xml: XmlWriter, interface: NetworkInterface | None) -> None:
    """``ipv6AddressesSet``: the interface's IPv6 addresses (decision 0217)."""
    xml.open("ipv6AddressesSet")
    for address in interface.ipv6_addresses if interface is not None else ():
        xml.open("item")
        xml.element("ipv6Address", address)
        xml.element("isPrimaryIpv6", False)
        xml.close("item")
    xml.close("ipv6AddressesSet")


def _write_association(xml: XmlWriter, interface: NetworkInterface) -> None:
    """Its Elastic IP (decision 0161's addendum), as EC2 shows an association."""
    ref = interface.elastic_ip
    if ref is None:
        return
    xml.open("association")
    xml.element("publicIp", ref.public_ip)
    xml.element("publicDnsName", "")
    xml.element("ipOwnerId", interface.tenant_id)
    xml.element("allocationId", ref.allocation_id)
    xml.element("associationId", ref.association_id)
    xml.close("association")


def write_secondary_interface(
    xml: XmlWriter,
    call: Call,
    interface: NetworkInterface,
    instance: Instance | None,
    group_names: dict[str, str],
    *,
    nested: bool,
    element: str = "item",
) -> None:
    """``interface`` as an ``<item>`` (or ``element``: CreateNetworkInterface's
    ``networkInterface``); ``nested`` in its instance's DescribeInstances item."""
    dns = private_dns_name(interface.private_ip, call.region)
    xml.open(element)
    xml.element("networkInterfaceId", interface.interface_id)
    xml.element("subnetId", interface.subnet_id)
    xml.element("vpcId", interface.vpc_id)
    if not nested:
        xml.element("availabilityZone", interface.availability_zone)
    xml.element("description", interface.description)
    xml.element("ownerId", interface.tenant_id)
    # An Interface VPC endpoint's (decision 0166) is the endpoint's, in use while it lives.
    managed = interface.interface_type == ENI_TYPE
    if managed:
        xml.element("requesterId", REQUESTER_ID)
    xml.element("requesterManaged", managed)
    xml.element("status", "in-use" if interface.instance_id or managed else "available")
    xml.element("macAddress", interface.mac)
    xml.element("privateIpAddress", interface.private_ip)
    xml.element("privateDnsName", dns)
    _write_association(xml, interface)
    xml.element("sourceDestCheck", interface.source_dest_check)
    xml.open("groupSet")
    for group_id in interface.group_ids:
        xml.open("item")
        xml.element("groupId", group_id)
        xml.element("groupName", group_names.get(group_id, ""))
        xml.close("item")
    xml.close("groupSet")
    if interface.instance_id:
        xml.open("attachment")
        xml.element("attachmentId", interface.attachment)
        if not nested:
            xml.element("instanceId", interface.instance_id)
            xml.element("instanceOwnerId", interface.tenant_id)
        xml.element("deviceIndex", interface.device_index)
        xml.element("status", "attached")
        attached = interface.attached_at or (
            instance.launch_time if instance is not None else interface.created_at
        )
        xml.element("attachTime", iso8601(attached))
        xml.element("deleteOnTermination", interface.delete_on_termination)
        xml.close("attachment")
    xml.open("privateIpAddressesSet")
    xml.open("item")
    xml.element("privateIpAddress", interface.private_ip)
    xml.element("privateDnsName", dns)
    xml.element("primary", True)
    _write_association(xml, interface)
    xml.close("item")
    write_private_addresses(xml, call, interface, interface.private_ip)
    xml.close("privateIpAddressesSet")
    write_ipv6_addresses(xml, interface)
    xml.element("interfaceType", interface.interface_type)
    if not nested:
        write_tags(xml, interface.tags)
    xml.close(element)
