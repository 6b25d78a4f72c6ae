"""EC2's NAT gateway calls (decision 0129), made in process as the console's signed-in
principal through ``wire_ec2.Ec2Wire``: EC2's own authorisation, audit and errors answer them.
Each answer is read into the small rows the NAT gateways page and a route table's page show;
nothing here decides what EC2 allows.

Functions over ``Ec2Wire.call`` rather than more methods of it, as ``wire_routing`` and
``wire_addresses``, so that the console's one EC2 wire stays the one ``Console.ec2`` holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from xml.etree.ElementTree import Element

from andromede.console.wire_ec2 import (
    Ec2Wire,
    _when,
    filter_params,
    name_of,
    tagged,
    tags_of,
    text,
)
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = [
    "AVAILABLE",
    "NatGatewayRow",
    "create_nat_gateway",
    "delete_nat_gateway",
    "describe_nat_gateways",
]

# The state in which a gateway forwards, and may be a route's target that is not a blackhole.
AVAILABLE: Final = "available"
_DELETED: Final = "deleted"


@dataclass(frozen=True, slots=True)
class NatGatewayRow:
    nat_gateway_id: str
    name: str
    state: str  # EC2's: pending, available, deleting, deleted, failed
    vpc_id: str
    subnet_id: str
    # Its (one, primary) address: the Elastic IP's allocation and public address, and the
    # subnet's private address its interface holds.
    allocation_id: str
    public_ip: str
    private_ip: str
    # The interface holding them: the Elastic IPs page finds the gateway holding an address
    # by the interface DescribeAddresses names (decision 0129).
    network_interface_id: str
    created: str

    @property
    def deleted(self) -> bool:
        """Shown a while after its deletion, as on EC2, and deleted again to no effect."""
        return self.state == _DELETED


def _nat_gateway(item: Element) -> NatGatewayRow:
    # A gateway holds one address; an answer without it reads as empty fields.
    address = item.find("natGatewayAddressSet/item")
    if address is None:
        address = Element("item")
    return NatGatewayRow(
        nat_gateway_id=text(item, "natGatewayId"),
        name=name_of(tags_of(item)),
        state=text(item, "state"),
        vpc_id=text(item, "vpcId"),
        subnet_id=text(item, "subnetId"),
        allocation_id=text(address, "allocationId"),
        public_ip=text(address, "publicIp"),
        private_ip=text(address, "privateIp"),
        network_interface_id=text(address, "networkInterfaceId"),
        created=_when(text(item, "createTime")),
    )


async def describe_nat_gateways(
    ec2: Ec2Wire, origin: Scope, who: Principal, *, vpc_id: str | None = None
) -> list[NatGatewayRow]:
    """The caller's gateways, deleted ones while EC2 still shows them (those of ``vpc_id``
    only, when given)."""
    params = filter_params("vpc-id", [vpc_id]) if vpc_id else {}
    root = await ec2.call(origin, who, "DescribeNatGateways", params)
    return [_nat_gateway(n) for n in root.iterfind("natGatewaySet/item")]


async def create_nat_gateway(
    ec2: Ec2Wire,
    origin: Scope,
    who: Principal,
    subnet_id: str,
    allocation_id: str,
    name: str,
    token: str = "",
) -> str:
    """The new gateway's id: a public gateway in ``subnet_id`` holding the Elastic IP
    ``allocation_id``. ``token``: the form's ClientToken, so that the form sent twice makes
    one gateway."""
    params = {"SubnetId": subnet_id, "AllocationId": allocation_id, **tagged("natgateway", name)}
    if token:
        params["ClientToken"] = token
    root = await ec2.call(origin, who, "CreateNatGateway", params)
    return text(root, "natGateway/natGatewayId")


async def delete_nat_gateway(
    ec2: Ec2Wire, origin: Scope, who: Principal, nat_gateway_id: str
) -> None:
    """The gateway deleted; EC2 lets its Elastic IP go (free again) in the same write."""
    await ec2.call(origin, who, "DeleteNatGateway", {"NatGatewayId": nat_gateway_id})
