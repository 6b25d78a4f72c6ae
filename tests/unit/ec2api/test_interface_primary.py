"""RunInstances with an existing interface as the primary (decision 0161's addendum), through
the EC2 app in process with botocore's own serialisation: the instance takes the interface's
subnet, address, MAC and groups; terminating it leaves the interface available unless
``DeleteOnTermination`` says otherwise; EC2's refusals."""

from __future__ import annotations

from typing import Any

import pytest

from andromede.compute.network import default_ids
from support.ec2app import ApiError, World


async def _run(world: World, count: int = 1, **interface: Any) -> dict[str, Any]:
    reply = await world.root.call(
        "RunInstances", ImageId=world.image.image_id, InstanceType="t3.nano", MinCount=count,
        MaxCount=count, NetworkInterfaces=[{"DeviceIndex": 0, **interface}],
    )  # fmt: skip
    await world.compute.settle()
    return dict(reply["Instances"][0])


async def _interface(world: World) -> dict[str, Any]:
    ids = default_ids(world.tenant_id)
    group = (await world.root.call("CreateSecurityGroup", GroupName="fw", Description="fw"))[
        "GroupId"
    ]
    reply = await world.root.call(
        "CreateNetworkInterface", SubnetId=ids.subnet_id, Groups=[group],
        PrivateIpAddress="172.31.0.50",
    )  # fmt: skip
    return dict(reply["NetworkInterface"])


async def test_an_existing_interface_becomes_the_primary_and_outlives_the_instance(
    world: World,
) -> None:
    made = await _interface(world)
    eni = made["NetworkInterfaceId"]
    instance = await _run(world, NetworkInterfaceId=eni)
    instance_id = instance["InstanceId"]
    assert instance["PrivateIpAddress"] == "172.31.0.50"
    [primary] = instance["NetworkInterfaces"]
    assert primary["NetworkInterfaceId"] == eni and primary["MacAddress"] == made["MacAddress"]
    assert [g["GroupId"] for g in instance["SecurityGroups"]] == [made["Groups"][0]["GroupId"]]
    spec = world.driver.instances[instance_id].spec
    assert spec.nic is not None and (spec.nic.private_ip, spec.nic.mac) == (
        "172.31.0.50", made["MacAddress"],
    )  # fmt: skip
    [described] = (await world.root.call("DescribeNetworkInterfaces", NetworkInterfaceIds=[eni]))[
        "NetworkInterfaces"
    ]
    assert described["Status"] == "in-use"
    assert described["Attachment"]["DeviceIndex"] == 0
    assert described["Attachment"]["DeleteOnTermination"] is False
    # In use: a second launch with it is refused.
    with pytest.raises(ApiError) as in_use:
        await _run(world, NetworkInterfaceId=eni)
    assert in_use.value.code == "InvalidNetworkInterface.InUse"
    await world.root.call("TerminateInstances", InstanceIds=[instance_id])
    await world.compute.settle()
    [left] = (await world.root.call("DescribeNetworkInterfaces", NetworkInterfaceIds=[eni]))[
        "NetworkInterfaces"
    ]
    assert left["Status"] == "available" and left["PrivateIpAddress"] == "172.31.0.50"
    # Made the primary again, deleted with its instance as asked.
    again = await _run(world, NetworkInterfaceId=eni, DeleteOnTermination=True)
    await world.root.call("TerminateInstances", InstanceIds=[again["InstanceId"]])
    await world.compute.settle()
    with pytest.raises(ApiError) as gone:
        await world.root.call("DescribeNetworkInterfaces", NetworkInterfaceIds=[eni])
    assert gone.value.code == "InvalidNetworkInterfaceID.NotFound"


async def test_refusals(world: World) -> None:
    eni = (await _interface(world))["NetworkInterfaceId"]
    subnet = default_ids(world.tenant_id).subnet_id
    for params, code in (
        ({"NetworkInterfaceId": eni, "SubnetId": subnet}, "InvalidParameterCombination"),
        ({"NetworkInterfaceId": eni, "AssociatePublicIpAddress": True},
         "InvalidParameterCombination"),
        ({"NetworkInterfaceId": "eni-0123456789abcdef0"}, "InvalidNetworkInterfaceID.NotFound"),
    ):  # fmt: skip
        with pytest.raises(ApiError) as refused:
            await _run(world, **params)
        assert refused.value.code == code, params
    with pytest.raises(ApiError) as two:
        await _run(world, 2, NetworkInterfaceId=eni)
    assert two.value.code == "InvalidParameterValue"
    # Nothing was launched.
    reservations = (await world.root.call("DescribeInstances"))["Reservations"]
    assert reservations == []
