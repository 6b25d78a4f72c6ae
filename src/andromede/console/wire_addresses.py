"""EC2's Elastic IP calls (decision 0125), made in process as the console's signed-in principal
through ``wire_ec2.Ec2Wire``: EC2's own authorisation, audit and errors answer them. Each
answer is read into the small rows the Elastic IPs page and an instance's page show; nothing
here decides what EC2 allows.

Functions over ``Ec2Wire.call`` rather than more methods of it, as ``wire_routing``, so that
the console's one EC2 wire stays the one ``Console.ec2`` holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from xml.etree.ElementTree import Element

from andromede.console.wire_ec2 import Ec2Wire, filter_params, name_of, tagged, tags_of, text
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = [
    "AddressRow",
    "allocate_address",
    "associate_address",
    "describe_addresses",
    "disassociate_address",
    "release_address",
]

# The only domain EC2 still gives addresses in (EC2-Classic is retired); said explicitly, as
# the AWS console and Terraform's ``aws_eip`` do.
_DOMAIN: Final = "vpc"


@dataclass(frozen=True, slots=True)
class AddressRow:
    allocation_id: str
    public_ip: str
    name: str
    # The association's, all "" while the address is associated with nothing.
    association_id: str
    instance_id: str
    network_interface_id: str
    private_ip: str

    @property
    def associated(self) -> bool:
        return bool(self.association_id)

    @property
    def held_by_nat_gateway(self) -> bool:
        """Associated with an interface of no instance's: here only a NAT gateway's is
        (decision 0129), and EC2 refuses to move, disassociate or release the address."""
        return self.associated and not self.instance_id and bool(self.network_interface_id)


def _address(item: Element) -> AddressRow:
    return AddressRow(
        allocation_id=text(item, "allocationId"),
        public_ip=text(item, "publicIp"),
        name=name_of(tags_of(item)),
        association_id=text(item, "associationId"),
        instance_id=text(item, "instanceId"),
        network_interface_id=text(item, "networkInterfaceId"),
        private_ip=text(item, "privateIpAddress"),
    )


async def describe_addresses(
    ec2: Ec2Wire, origin: Scope, who: Principal, *, instance_id: str | None = None
) -> list[AddressRow]:
    """The caller's addresses (the one associated with ``instance_id`` only, when given)."""
    params = filter_params("instance-id", [instance_id]) if instance_id else {}
    root = await ec2.call(origin, who, "DescribeAddresses", params)
    return [_address(a) for a in root.iterfind("addressesSet/item")]


async def allocate_address(ec2: Ec2Wire, origin: Scope, who: Principal, name: str) -> str:
    """The new address's allocation id; it is associated with nothing. AllocateAddress takes
    no ClientToken on EC2: a form sent twice allocates twice, as the AWS console's would."""
    params = {"Domain": _DOMAIN, **tagged("elastic-ip", name)}
    root = await ec2.call(origin, who, "AllocateAddress", params)
    return text(root, "allocationId")


async def associate_address(
    ec2: Ec2Wire,
    origin: Scope,
    who: Principal,
    allocation_id: str,
    instance_id: str,
    *,
    allow_reassociation: bool,
) -> str:
    """The association's id. An address associated elsewhere moves only with
    ``allow_reassociation`` (EC2's Resource.AlreadyAssociated otherwise)."""
    params = {"AllocationId": allocation_id, "InstanceId": instance_id}
    if allow_reassociation:
        params["AllowReassociation"] = "true"
    root = await ec2.call(origin, who, "AssociateAddress", params)
    return text(root, "associationId")


async def disassociate_address(
    ec2: Ec2Wire, origin: Scope, who: Principal, association_id: str
) -> None:
    await ec2.call(origin, who, "DisassociateAddress", {"AssociationId": association_id})


async def release_address(ec2: Ec2Wire, origin: Scope, who: Principal, allocation_id: str) -> None:
    """Back to the Region's pool; EC2's InvalidIPAddress.InUse while it is associated."""
    await ec2.call(origin, who, "ReleaseAddress", {"AllocationId": allocation_id})
