"""The XML and filters of IPv6 blocks (decision 0217): a VPC's and a subnet's
``ipv6CidrBlockAssociationSet`` items, as DescribeVpcs and DescribeSubnets list them and the
Associate/Disassociate calls answer them, and EC2's ``ipv6-cidr-block-association.*``
filters."""

from __future__ import annotations

from collections.abc import Callable

from andromede.compute.ipv6 import AMAZON_POOL, Ipv6Association
from andromede.compute.network import Subnet, Vpc
from andromede.http.xml import XmlWriter

__all__ = [
    "IPV6_SUBNET_FILTERS",
    "IPV6_VPC_FILTERS",
    "write_subnet_ipv6",
    "write_vpc_ipv6",
]


def write_vpc_ipv6(xml: XmlWriter, association: Ipv6Association, state: str, element: str) -> None:
    """A VPC's IPv6 block: from the operator's pool, shown as EC2 shows an Amazon-provided
    one (``ipv6Pool`` ``Amazon``: Terraform's aws_vpc reads it so), its network border group
    the region."""
    xml.open(element)
    xml.element("associationId", association.association_id)
    xml.element("ipv6CidrBlock", association.cidr)
    xml.open("ipv6CidrBlockState")
    xml.element("state", state)
    xml.close("ipv6CidrBlockState")
    xml.element("networkBorderGroup", association.network_border_group)
    xml.element("ipv6Pool", AMAZON_POOL)
    xml.close(element)


def write_subnet_ipv6(
    xml: XmlWriter, association: Ipv6Association, state: str, element: str
) -> None:
    xml.open(element)
    xml.element("associationId", association.association_id)
    xml.element("ipv6CidrBlock", association.cidr)
    xml.open("ipv6CidrBlockState")
    xml.element("state", state)
    xml.close("ipv6CidrBlockState")
    xml.close(element)


def _blocks(get: Callable[[Ipv6Association], str]) -> Callable[[object], list[str]]:
    def of(resource: object) -> list[str]:
        if isinstance(resource, Vpc | Subnet):
            return [get(a) for a in resource.ipv6_blocks]
        return []

    return of


_COMMON: dict[str, Callable[[object], list[str]]] = {
    "ipv6-cidr-block-association.ipv6-cidr-block": _blocks(lambda a: a.cidr),
    "ipv6-cidr-block-association.association-id": _blocks(lambda a: a.association_id),
    "ipv6-cidr-block-association.state": _blocks(lambda a: "associated"),
}
IPV6_VPC_FILTERS: dict[str, Callable[[object], list[str]]] = {
    **_COMMON,
    "ipv6-cidr-block-association.ipv6-pool": _blocks(lambda a: AMAZON_POOL),
}
IPV6_SUBNET_FILTERS: dict[str, Callable[[object], list[str]]] = {
    **_COMMON,
    # The older spelling DescribeSubnets documents beside the association's.
    "ipv6-cidr-block": _blocks(lambda a: a.cidr),
}
