"""Elastic network interfaces on the EC2 wire, parsed by botocore (decision 0161): made,
attached beyond the primary, shown by DescribeInstances and DescribeNetworkInterfaces and
their filters, their attributes, secondary addresses on any interface, deleted with their
instance or left available, and EC2's errors and limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from andromede.compute.network import default_ids
from support.ec2app import ApiError, World, ec2_world


async def _instance(world: World) -> str:
    reply = await world.root.call(
        "RunInstances", ImageId=world.image.image_id, InstanceType="t3.nano", MinCount=1,
        MaxCount=1,
    )  # fmt: skip
    await world.compute.settle()
    return str(reply["Instances"][0]["InstanceId"])


async def _interface(world: World, **params: object) -> dict[str, object]:
    subnet = default_ids(world.tenant_id).subnet_id
    reply = await world.root.call("CreateNetworkInterface", SubnetId=subnet, **params)
    return dict(reply["NetworkInterface"])


async def _described(world: World, interface_id: str) -> dict[str, object]:
    reply = await world.root.call("DescribeNetworkInterfaces", NetworkInterfaceIds=[interface_id])
    [found] = reply["NetworkInterfaces"]
    return dict(found)


async def test_an_interface_is_made_available_with_its_addresses_and_groups(world: World) -> None:
    ids = default_ids(world.tenant_id)
    made = await _interface(
        world,
        Description="appliance",
        PrivateIpAddress="172.31.0.40",
        SecondaryPrivateIpAddressCount=2,
        TagSpecifications=[
            {"ResourceType": "network-interface", "Tags": [{"Key": "role", "Value": "fw"}]}
        ],
    )
    assert made["Status"] == "available"
    assert made["PrivateIpAddress"] == "172.31.0.40"
    assert made["Description"] == "appliance"
    assert made["Groups"] == [{"GroupId": ids.group_id, "GroupName": "default"}]
    addresses = [a["PrivateIpAddress"] for a in made["PrivateIpAddresses"]]  # type: ignore[attr-defined]
    assert addresses == ["172.31.0.40", "172.31.0.4", "172.31.0.5"]
    described = await _described(world, str(made["NetworkInterfaceId"]))
    assert described["TagSet"] == [{"Key": "role", "Value": "fw"}]
    assert "Attachment" not in described
    # A launch afterwards takes the lowest address nobody holds, secondaries included.
    instance_id = await _instance(world)
    [reservation] = (await world.root.call("DescribeInstances", InstanceIds=[instance_id]))[
        "Reservations"
    ]
    assert reservation["Instances"][0]["PrivateIpAddress"] == "172.31.0.6"


async def test_a_taken_or_foreign_address_is_refused(world: World) -> None:
    await _interface(world, PrivateIpAddress="172.31.0.40")
    with pytest.raises(ApiError) as taken:
        await _interface(world, PrivateIpAddress="172.31.0.40")
    assert taken.value.code == "InvalidIPAddress.InUse"
    with pytest.raises(ApiError) as outside:
        await _interface(world, PrivateIpAddress="10.1.2.3")
    assert outside.value.code == "InvalidParameterValue"
    with pytest.raises(ApiError) as missing:
        await world.root.call("CreateNetworkInterface", SubnetId="subnet-0123456789abcdef0")
    assert missing.value.code == "InvalidSubnetID.NotFound"


async def test_attach_describe_detach_and_delete(world: World) -> None:
    instance_id = await _instance(world)
    made = await _interface(world)
    eni = str(made["NetworkInterfaceId"])
    attachment = (
        await world.root.call(
            "AttachNetworkInterface", NetworkInterfaceId=eni, InstanceId=instance_id, DeviceIndex=1
        )
    )["AttachmentId"]
    assert attachment.startswith("eni-attach-")
    [reservation] = (await world.root.call("DescribeInstances", InstanceIds=[instance_id]))[
        "Reservations"
    ]
    interfaces = reservation["Instances"][0]["NetworkInterfaces"]
    assert [i["Attachment"]["DeviceIndex"] for i in interfaces] == [0, 1]
    assert interfaces[1]["NetworkInterfaceId"] == eni
    assert interfaces[1]["Attachment"]["DeleteOnTermination"] is False
    described = await _described(world, eni)
    assert described["Status"] == "in-use"
    assert described["Attachment"]["InstanceId"] == instance_id  # type: ignore[index]
    by_instance = await world.root.call(
        "DescribeNetworkInterfaces",
        Filters=[{"Name": "attachment.instance-id", "Values": [instance_id]}],
    )
    assert len(by_instance["NetworkInterfaces"]) == 2
    available = await world.root.call(
        "DescribeNetworkInterfaces", Filters=[{"Name": "status", "Values": ["available"]}]
    )
    assert available["NetworkInterfaces"] == []
    with pytest.raises(ApiError) as in_use:
        await world.root.call("DeleteNetworkInterface", NetworkInterfaceId=eni)
    assert in_use.value.code == "InvalidNetworkInterface.InUse"
    with pytest.raises(ApiError) as index_taken:
        second = await _interface(world)
        await world.root.call(
            "AttachNetworkInterface",
            NetworkInterfaceId=second["NetworkInterfaceId"],
            InstanceId=instance_id,
            DeviceIndex=1,
        )
    assert index_taken.value.code == "InvalidParameterValue"
    primary_attachment = interfaces[0]["Attachment"]["AttachmentId"]
    with pytest.raises(ApiError) as primary:
        await world.root.call("DetachNetworkInterface", AttachmentId=primary_attachment)
    assert primary.value.code == "OperationNotPermitted"
    await world.root.call("DetachNetworkInterface", AttachmentId=attachment)
    assert (await _described(world, eni))["Status"] == "available"
    with pytest.raises(ApiError) as gone:
        await world.root.call("DetachNetworkInterface", AttachmentId=attachment)
    assert gone.value.code == "InvalidAttachmentID.NotFound"
    await world.root.call("DeleteNetworkInterface", NetworkInterfaceId=eni)
    with pytest.raises(ApiError) as deleted:
        await _described(world, eni)
    assert deleted.value.code == "InvalidNetworkInterfaceID.NotFound"


async def test_termination_deletes_or_frees_each_interface_as_told(world: World) -> None:
    instance_id = await _instance(world)
    kept = str((await _interface(world, SecondaryPrivateIpAddressCount=1))["NetworkInterfaceId"])
    dropped = str((await _interface(world))["NetworkInterfaceId"])
    for index, eni in enumerate((kept, dropped), start=1):
        await world.root.call(
            "AttachNetworkInterface", NetworkInterfaceId=eni, InstanceId=instance_id,
            DeviceIndex=index,
        )  # fmt: skip
    attachment = (await _described(world, dropped))["Attachment"]["AttachmentId"]  # type: ignore[index]
    await world.root.call(
        "ModifyNetworkInterfaceAttribute",
        NetworkInterfaceId=dropped,
        Attachment={"AttachmentId": attachment, "DeleteOnTermination": True},
    )
    await world.root.call("TerminateInstances", InstanceIds=[instance_id])
    await world.compute.settle()
    left = (await world.root.call("DescribeNetworkInterfaces"))["NetworkInterfaces"]
    assert [i["NetworkInterfaceId"] for i in left] == [kept]
    assert left[0]["Status"] == "available"
    assert len(left[0]["PrivateIpAddresses"]) == 2


async def test_attributes_are_changed_described_and_reset(world: World) -> None:
    eni = str((await _interface(world))["NetworkInterfaceId"])
    group = (await world.root.call("CreateSecurityGroup", GroupName="fw", Description="fw"))[
        "GroupId"
    ]
    c = world.root
    await c.call("ModifyNetworkInterfaceAttribute", NetworkInterfaceId=eni, Groups=[group])
    await c.call(
        "ModifyNetworkInterfaceAttribute", NetworkInterfaceId=eni, SourceDestCheck={"Value": False}
    )
    await c.call(
        "ModifyNetworkInterfaceAttribute", NetworkInterfaceId=eni, Description={"Value": "edge"}
    )
    groups = await c.call(
        "DescribeNetworkInterfaceAttribute", NetworkInterfaceId=eni, Attribute="groupSet"
    )
    assert groups["Groups"] == [{"GroupId": group, "GroupName": "fw"}]
    check = await c.call(
        "DescribeNetworkInterfaceAttribute", NetworkInterfaceId=eni, Attribute="sourceDestCheck"
    )
    assert check["SourceDestCheck"] == {"Value": False}
    described = await c.call(
        "DescribeNetworkInterfaceAttribute", NetworkInterfaceId=eni, Attribute="description"
    )
    assert described["Description"] == {"Value": "edge"}
    with pytest.raises(ApiError) as held:
        await c.call("DeleteSecurityGroup", GroupId=group)
    assert held.value.code == "DependencyViolation"
    await c.call("ResetNetworkInterfaceAttribute", NetworkInterfaceId=eni, SourceDestCheck="true")
    assert (await _described(world, eni))["SourceDestCheck"] is True
    with pytest.raises(ApiError) as other_vpc:
        vpc = (await c.call("CreateVpc", CidrBlock="10.9.0.0/16"))["Vpc"]["VpcId"]
        foreign = (await c.call("CreateSecurityGroup", GroupName="x", Description="x", VpcId=vpc))[
            "GroupId"
        ]
        await c.call("ModifyNetworkInterfaceAttribute", NetworkInterfaceId=eni, Groups=[foreign])
    assert other_vpc.value.code == "InvalidParameter"


async def test_secondary_addresses_on_the_primary_and_their_reassignment(world: World) -> None:
    instance_id = await _instance(world)
    [reservation] = (await world.root.call("DescribeInstances", InstanceIds=[instance_id]))[
        "Reservations"
    ]
    primary = reservation["Instances"][0]["NetworkInterfaces"][0]["NetworkInterfaceId"]
    c = world.root
    assigned = await c.call(
        "AssignPrivateIpAddresses", NetworkInterfaceId=primary, SecondaryPrivateIpAddressCount=2
    )
    addresses = [a["PrivateIpAddress"] for a in assigned["AssignedPrivateIpAddresses"]]
    assert addresses == ["172.31.0.5", "172.31.0.6"]
    [reservation] = (await c.call("DescribeInstances", InstanceIds=[instance_id]))["Reservations"]
    shown = reservation["Instances"][0]["NetworkInterfaces"][0]["PrivateIpAddresses"]
    assert [(a["PrivateIpAddress"], a["Primary"]) for a in shown] == [
        ("172.31.0.4", True),
        ("172.31.0.5", False),
        ("172.31.0.6", False),
    ]
    other = str((await _interface(world))["NetworkInterfaceId"])
    with pytest.raises(ApiError) as held:
        await c.call(
            "AssignPrivateIpAddresses", NetworkInterfaceId=other, PrivateIpAddresses=["172.31.0.6"]
        )
    assert held.value.code == "InvalidIPAddress.InUse"
    await c.call(
        "AssignPrivateIpAddresses", NetworkInterfaceId=other, PrivateIpAddresses=["172.31.0.6"],
        AllowReassignment=True,
    )  # fmt: skip
    found = await c.call(
        "DescribeNetworkInterfaces",
        Filters=[{"Name": "addresses.private-ip-address", "Values": ["172.31.0.6"]}],
    )
    assert [i["NetworkInterfaceId"] for i in found["NetworkInterfaces"]] == [other]
    await c.call(
        "UnassignPrivateIpAddresses", NetworkInterfaceId=primary, PrivateIpAddresses=["172.31.0.5"]
    )
    with pytest.raises(ApiError) as not_mine:
        await c.call(
            "UnassignPrivateIpAddresses", NetworkInterfaceId=primary,
            PrivateIpAddresses=["172.31.0.5"],
        )  # fmt: skip
    assert not_mine.value.code == "InvalidParameterValue"
    # The address let go is free again: the next interface takes it.
    again = await _interface(world)
    assert again["PrivateIpAddress"] == "172.31.0.5"


async def test_a_client_token_makes_one_interface(world: World) -> None:
    first = await _interface(world, ClientToken="eni-once", Description="a")
    second = await _interface(world, ClientToken="eni-once", Description="a")
    assert first["NetworkInterfaceId"] == second["NetworkInterfaceId"]
    with pytest.raises(ApiError) as mismatch:
        await _interface(world, ClientToken="eni-once", Description="b")
    assert mismatch.value.code == "IdempotentParameterMismatch"


async def test_the_limits_are_settings(tmp_path: Path) -> None:
    async with ec2_world(
        tmp_path, max_network_interfaces_per_instance=2, max_private_ips_per_interface=3
    ) as world:
        instance_id = await _instance(world)
        first, second = [str((await _interface(world))["NetworkInterfaceId"]) for _ in range(2)]
        await world.root.call(
            "AttachNetworkInterface", NetworkInterfaceId=first, InstanceId=instance_id,
            DeviceIndex=1,
        )  # fmt: skip
        with pytest.raises(ApiError) as attachments:
            await world.root.call(
                "AttachNetworkInterface", NetworkInterfaceId=second, InstanceId=instance_id,
                DeviceIndex=2,
            )  # fmt: skip
        assert attachments.value.code == "AttachmentLimitExceeded"
        with pytest.raises(ApiError) as addresses:
            await _interface(world, SecondaryPrivateIpAddressCount=3)
        assert addresses.value.code == "PrivateIpAddressLimitExceeded"
        await world.root.call(
            "AssignPrivateIpAddresses", NetworkInterfaceId=second, SecondaryPrivateIpAddressCount=2
        )
        with pytest.raises(ApiError) as more:
            await world.root.call(
                "AssignPrivateIpAddresses", NetworkInterfaceId=second,
                SecondaryPrivateIpAddressCount=1,
            )  # fmt: skip
        assert more.value.code == "PrivateIpAddressLimitExceeded"


async def test_a_nat_gateways_interface_is_not_the_tenants_to_change(world: World) -> None:
    [subnet] = [s["SubnetId"] for s in (await world.root.call("DescribeSubnets"))["Subnets"]]
    allocation = (await world.root.call("AllocateAddress", Domain="vpc"))["AllocationId"]
    await world.root.call("CreateNatGateway", SubnetId=subnet, AllocationId=allocation)
    [nat_eni] = (
        await world.root.call(
            "DescribeNetworkInterfaces",
            Filters=[{"Name": "interface-type", "Values": ["nat_gateway"]}],
        )
    )["NetworkInterfaces"]
    with pytest.raises(ApiError) as refused:
        await world.root.call(
            "DeleteNetworkInterface", NetworkInterfaceId=nat_eni["NetworkInterfaceId"]
        )
    assert refused.value.code == "AuthFailure"


async def test_the_host_plugs_the_interface_with_its_own_groups_and_keeps_it_across_a_restart(
    world: World,
) -> None:
    """What the instance's host is told (the memory twin here; the QEMU driver's hot-plug is
    tests/contract/test_hypervisor.py's): the interface at attachment with its groups' rules,
    the rules again when they change, the interface in the spec of the next start, and
    nothing once detached."""
    instance_id = await _instance(world)
    group = (await world.root.call("CreateSecurityGroup", GroupName="fw", Description="fw"))[
        "GroupId"
    ]
    made = await _interface(world, Groups=[group])
    eni = str(made["NetworkInterfaceId"])
    attachment = (
        await world.root.call(
            "AttachNetworkInterface", NetworkInterfaceId=eni, InstanceId=instance_id, DeviceIndex=1
        )
    )["AttachmentId"]
    held = world.driver.instances[instance_id].interfaces[eni]
    assert (held.device_index, held.nic.mac, held.nic.private_ip) == (
        1, made["MacAddress"], made["PrivateIpAddress"],
    )  # fmt: skip
    assert held.nic.public_address is False and held.firewall.ingress == ()
    await world.root.call(
        "AuthorizeSecurityGroupIngress",
        GroupId=group,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080,
                        "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}],
    )  # fmt: skip
    await world.compute.settle()
    [rule] = world.driver.instances[instance_id].interfaces[eni].firewall.ingress
    assert (rule.protocol, rule.from_port, rule.cidr) == ("tcp", 8080, "10.0.0.0/8")
    # The primary's own groups are not the interface's.
    assert rule not in world.driver.instances[instance_id].firewall.ingress
    await world.root.call("StopInstances", InstanceIds=[instance_id])
    await world.compute.settle()
    await world.root.call("StartInstances", InstanceIds=[instance_id])
    await world.compute.settle()
    [again] = world.driver.instances[instance_id].spec.interfaces
    assert again.interface_id == eni and again.firewall.ingress == (rule,)
    await world.root.call("DetachNetworkInterface", AttachmentId=attachment)
    assert world.driver.instances[instance_id].interfaces == {}


async def test_a_host_that_cannot_plug_the_interface_leaves_it_available(world: World) -> None:
    instance_id = await _instance(world)
    eni = str((await _interface(world))["NetworkInterfaceId"])
    # The guest vanished from its host (a crash the service has not noticed yet).
    world.driver.lose(instance_id)
    with pytest.raises(ApiError) as failed:
        await world.root.call(
            "AttachNetworkInterface", NetworkInterfaceId=eni, InstanceId=instance_id, DeviceIndex=1
        )
    assert failed.value.code == "InternalError"
    assert (await _described(world, eni))["Status"] == "available"


async def test_run_instances_attaches_further_interfaces_new_and_existing(world: World) -> None:
    subnet = default_ids(world.tenant_id).subnet_id
    existing = str((await _interface(world, Description="kept"))["NetworkInterfaceId"])
    reply = await world.root.call(
        "RunInstances",
        ImageId=world.image.image_id, InstanceType="t3.nano", MinCount=1, MaxCount=1,
        NetworkInterfaces=[
            {"DeviceIndex": 0, "SubnetId": subnet},
            {"DeviceIndex": 1, "Description": "made", "SecondaryPrivateIpAddressCount": 1},
            {"DeviceIndex": 2, "NetworkInterfaceId": existing},
        ],
    )  # fmt: skip
    [launched] = reply["Instances"]
    shown = launched["NetworkInterfaces"]
    assert [i["Attachment"]["DeviceIndex"] for i in shown] == [0, 1, 2]
    assert shown[2]["NetworkInterfaceId"] == existing
    assert shown[1]["Description"] == "made" and len(shown[1]["PrivateIpAddresses"]) == 2
    assert [i["Attachment"]["DeleteOnTermination"] for i in shown] == [True, True, False]
    await world.compute.settle()
    # Attached while it was pending: its host got them once it ran.
    plugged = world.driver.instances[launched["InstanceId"]].interfaces
    assert sorted(plugged) == sorted([shown[1]["NetworkInterfaceId"], existing])
    await world.root.call("TerminateInstances", InstanceIds=[launched["InstanceId"]])
    await world.compute.settle()
    left = (await world.root.call("DescribeNetworkInterfaces"))["NetworkInterfaces"]
    assert [(i["NetworkInterfaceId"], i["Status"]) for i in left] == [(existing, "available")]


async def test_run_instances_refuses_an_interface_in_use_before_launching(world: World) -> None:
    instance_id = await _instance(world)
    eni = str((await _interface(world))["NetworkInterfaceId"])
    await world.root.call(
        "AttachNetworkInterface", NetworkInterfaceId=eni, InstanceId=instance_id, DeviceIndex=1
    )
    for count, code in ((1, "InvalidNetworkInterface.InUse"), (2, "InvalidParameterValue")):
        with pytest.raises(ApiError) as refused:
            await world.root.call(
                "RunInstances", ImageId=world.image.image_id, MinCount=1, MaxCount=count,
                NetworkInterfaces=[
                    {"DeviceIndex": 0},
                    {"DeviceIndex": 1, "NetworkInterfaceId": eni},
                ],
            )  # fmt: skip
        assert refused.value.code == code
    reservations = (await world.root.call("DescribeInstances"))["Reservations"]
    assert len(reservations) == 1


async def test_an_interfaces_address_is_a_member_of_its_groups_in_others_rules(
    world: World,
) -> None:
    """A rule naming a group lets in the addresses of the interfaces in that group attached
    beyond a primary, as of their instances' primaries; detached, no longer."""
    c = world.root
    app = (await c.call("CreateSecurityGroup", GroupName="app", Description="app"))["GroupId"]
    db = (await c.call("CreateSecurityGroup", GroupName="db", Description="db"))["GroupId"]
    await c.call(
        "AuthorizeSecurityGroupIngress",
        GroupId=db,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
                        "UserIdGroupPairs": [{"GroupId": app}]}],
    )  # fmt: skip
    server = await _instance(world)
    await c.call("ModifyInstanceAttribute", InstanceId=server, Groups=[db])
    client = await _instance(world)
    made = await _interface(world, Groups=[app])
    attachment = (
        await c.call(
            "AttachNetworkInterface",
            NetworkInterfaceId=made["NetworkInterfaceId"],
            InstanceId=client,
            DeviceIndex=1,
        )
    )["AttachmentId"]
    await world.compute.settle()
    allowed = {r.cidr for r in world.driver.instances[server].firewall.ingress}
    assert f"{made['PrivateIpAddress']}/32" in allowed
    await c.call("DetachNetworkInterface", AttachmentId=attachment)
    await world.compute.settle()
    allowed = {r.cidr for r in world.driver.instances[server].firewall.ingress}
    assert f"{made['PrivateIpAddress']}/32" not in allowed


async def test_the_periodic_resync_pushes_an_interface_a_host_lost(world: World) -> None:
    instance_id = await _instance(world)
    eni = str((await _interface(world))["NetworkInterfaceId"])
    await world.root.call(
        "AttachNetworkInterface", NetworkInterfaceId=eni, InstanceId=instance_id, DeviceIndex=1
    )
    world.driver.instances[instance_id].interfaces.clear()  # a push that never arrived
    await world.compute.resync_hosts()
    assert list(world.driver.instances[instance_id].interfaces) == [eni]


async def test_secondary_addresses_reach_the_host_of_a_running_instance(world: World) -> None:
    """The primary's with its NIC (device index 0), a further interface's with it; taken
    away again when unassigned."""
    instance_id = await _instance(world)
    [reservation] = (await world.root.call("DescribeInstances", InstanceIds=[instance_id]))[
        "Reservations"
    ]
    primary = reservation["Instances"][0]["NetworkInterfaces"][0]["NetworkInterfaceId"]
    eni = str((await _interface(world))["NetworkInterfaceId"])
    await world.root.call(
        "AttachNetworkInterface", NetworkInterfaceId=eni, InstanceId=instance_id, DeviceIndex=1
    )
    for interface in (primary, eni):
        await world.root.call(
            "AssignPrivateIpAddresses", NetworkInterfaceId=interface,
            SecondaryPrivateIpAddressCount=1,
        )  # fmt: skip
    held = world.driver.instances[instance_id]
    assert held.spec.nic is not None and held.spec.nic.secondary_ips == ("172.31.0.6",)
    assert held.interfaces[eni].nic.secondary_ips == ("172.31.0.7",)
    await world.root.call(
        "UnassignPrivateIpAddresses", NetworkInterfaceId=primary, PrivateIpAddresses=["172.31.0.6"]
    )
    assert held.spec.nic is not None and held.spec.nic.secondary_ips == ()


async def test_described_in_pages(world: World) -> None:
    made = sorted([str((await _interface(world))["NetworkInterfaceId"]) for _ in range(6)])
    first = await world.root.call("DescribeNetworkInterfaces", MaxResults=5)
    assert [i["NetworkInterfaceId"] for i in first["NetworkInterfaces"]] == made[:5]
    rest = await world.root.call(
        "DescribeNetworkInterfaces", MaxResults=5, NextToken=first["NextToken"]
    )
    assert [i["NetworkInterfaceId"] for i in rest["NetworkInterfaces"]] == made[5:]
    assert "NextToken" not in rest


async def test_the_source_dest_check_reaches_the_host(world: World) -> None:
    instance_id = await _instance(world)
    [reservation] = (await world.root.call("DescribeInstances", InstanceIds=[instance_id]))[
        "Reservations"
    ]
    primary = reservation["Instances"][0]["NetworkInterfaces"][0]["NetworkInterfaceId"]
    eni = str((await _interface(world))["NetworkInterfaceId"])
    await world.root.call(
        "AttachNetworkInterface", NetworkInterfaceId=eni, InstanceId=instance_id, DeviceIndex=1
    )
    for interface in (primary, eni):
        await world.root.call(
            "ModifyNetworkInterfaceAttribute", NetworkInterfaceId=interface,
            SourceDestCheck={"Value": False},
        )  # fmt: skip
    held = world.driver.instances[instance_id]
    assert held.spec.nic is not None and held.spec.nic.source_dest_check is False
    assert held.interfaces[eni].nic.source_dest_check is False
    await world.root.call("ResetNetworkInterfaceAttribute", NetworkInterfaceId=primary,
                          SourceDestCheck="true")  # fmt: skip
    assert held.spec.nic is not None and held.spec.nic.source_dest_check is True
