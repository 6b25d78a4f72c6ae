"""Elastic IPs on interfaces beyond a primary (decision 0161's addendum), through the EC2 app in
process with botocore's own serialisation: AssociateAddress with ``NetworkInterfaceId`` (and
its ``PrivateIpAddress``) on an interface available or attached, DescribeAddresses and
DescribeNetworkInterfaces showing it, the host told (the memory twin: the interface's NIC
carries the address, and the secondary address it is translated to), moving to an instance
and back, DisassociateAddress, an unassigned secondary address and a deleted interface
letting go of it; EC2's refusals."""

from __future__ import annotations

from typing import Any

import pytest

from andromede.compute.network import default_ids
from support.ec2app import ApiError, World


async def _instance(world: World) -> str:
    reply = await world.root.call(
        "RunInstances", ImageId=world.image.image_id, InstanceType="t3.nano", MinCount=1,
        MaxCount=1,
    )  # fmt: skip
    await world.compute.settle()
    return str(reply["Instances"][0]["InstanceId"])


async def _address(world: World, allocation_id: str) -> dict[str, Any]:
    [found] = (await world.root.call("DescribeAddresses", AllocationIds=[allocation_id]))[
        "Addresses"
    ]
    return dict(found)


async def test_an_address_on_an_interface_follows_it_to_its_instance(world: World) -> None:
    instance = await _instance(world)
    subnet = default_ids(world.tenant_id).subnet_id
    made = (
        await world.root.call(
            "CreateNetworkInterface", SubnetId=subnet, SecondaryPrivateIpAddressCount=1
        )
    )["NetworkInterface"]
    eni, private = made["NetworkInterfaceId"], made["PrivateIpAddress"]
    secondary = made["PrivateIpAddresses"][1]["PrivateIpAddress"]
    allocated = await world.root.call("AllocateAddress", Domain="vpc")
    allocation, public = allocated["AllocationId"], allocated["PublicIp"]
    # On an available interface: kept with it.
    associated = await world.root.call(
        "AssociateAddress",
        AllocationId=allocation,
        NetworkInterfaceId=eni,
        PrivateIpAddress=private,
    )
    shown = await _address(world, allocation)
    assert (shown["NetworkInterfaceId"], shown["PrivateIpAddress"]) == (eni, private)
    assert shown["AssociationId"] == associated["AssociationId"] and "InstanceId" not in shown
    [described] = (await world.root.call("DescribeNetworkInterfaces", NetworkInterfaceIds=[eni]))[
        "NetworkInterfaces"
    ]
    assert (described["Association"]["PublicIp"], described["Association"]["AllocationId"]) == (
        public, allocation,
    )  # fmt: skip
    # Attached, its instance's host routes it to the interface's address.
    attachment = (
        await world.root.call(
            "AttachNetworkInterface", NetworkInterfaceId=eni, InstanceId=instance, DeviceIndex=1
        )
    )["AttachmentId"]
    assert world.driver.instances[instance].interfaces[eni].nic.elastic_ip == public
    assert (await _address(world, allocation))["InstanceId"] == instance
    # An address the interface does not hold is refused.
    with pytest.raises(ApiError) as foreign:
        await world.root.call(
            "AssociateAddress", AllocationId=allocation, NetworkInterfaceId=eni,
            PrivateIpAddress="172.31.9.9", AllowReassociation=True,
        )  # fmt: skip
    assert foreign.value.code == "InvalidParameterValue"
    # Moving it to the instance's primary takes it off the interface (only when allowed).
    with pytest.raises(ApiError) as taken:
        await world.root.call("AssociateAddress", AllocationId=allocation, InstanceId=instance)
    assert taken.value.code == "Resource.AlreadyAssociated"
    await world.root.call(
        "AssociateAddress", AllocationId=allocation, InstanceId=instance, AllowReassociation=True
    )
    await world.compute.settle()
    assert world.driver.instances[instance].interfaces[eni].nic.elastic_ip is None
    assert world.driver.instances[instance].elastic_ip == public
    # And back: the instance lets go of it.
    await world.root.call(
        "AssociateAddress", AllocationId=allocation, NetworkInterfaceId=eni, AllowReassociation=True
    )
    await world.compute.settle()
    assert world.driver.instances[instance].elastic_ip is None
    assert world.driver.instances[instance].interfaces[eni].nic.elastic_ip == public
    # Detached and attached again, it keeps it; the periodic repair leaves it there.
    await world.root.call("DetachNetworkInterface", AttachmentId=attachment)
    await world.compute.settle_addresses()
    assert (await _address(world, allocation))["NetworkInterfaceId"] == eni
    await world.root.call(
        "AttachNetworkInterface", NetworkInterfaceId=eni, InstanceId=instance, DeviceIndex=1
    )
    assert world.driver.instances[instance].interfaces[eni].nic.elastic_ip == public
    association = (await _address(world, allocation))["AssociationId"]
    await world.root.call("DisassociateAddress", AssociationId=association)
    assert world.driver.instances[instance].interfaces[eni].nic.elastic_ip is None
    assert "AssociationId" not in await _address(world, allocation)
    # On its secondary address: the host translates it there; unassigning the address lets
    # go of the association, as on EC2.
    await world.root.call("AssociateAddress", AllocationId=allocation, NetworkInterfaceId=eni)
    await world.root.call(
        "AssociateAddress", AllocationId=allocation, NetworkInterfaceId=eni,
        PrivateIpAddress=secondary, AllowReassociation=True,
    )  # fmt: skip
    assert (await _address(world, allocation))["PrivateIpAddress"] == secondary
    nic = world.driver.instances[instance].interfaces[eni].nic
    assert (nic.elastic_ip, nic.elastic_private_ip) == (public, secondary)
    await world.root.call(
        "UnassignPrivateIpAddresses", NetworkInterfaceId=eni, PrivateIpAddresses=[secondary]
    )
    assert "AssociationId" not in await _address(world, allocation)
    assert world.driver.instances[instance].interfaces[eni].nic.elastic_ip is None


async def test_an_interface_deleted_lets_go_of_its_address(world: World) -> None:
    subnet = default_ids(world.tenant_id).subnet_id
    eni = (await world.root.call("CreateNetworkInterface", SubnetId=subnet))["NetworkInterface"][
        "NetworkInterfaceId"
    ]
    allocation = (await world.root.call("AllocateAddress", Domain="vpc"))["AllocationId"]
    await world.root.call("AssociateAddress", AllocationId=allocation, NetworkInterfaceId=eni)
    await world.root.call("DeleteNetworkInterface", NetworkInterfaceId=eni)
    shown = await _address(world, allocation)
    assert "AssociationId" not in shown and "NetworkInterfaceId" not in shown
