"""RunInstances block device mappings beyond the root size and key (decision 0070): further
volumes made at launch, blank or from a snapshot, under the tenant's or a KMS key; which
volumes go with the instance (DeleteOnTermination, at launch and by ModifyInstanceAttribute);
what DescribeInstances shows; EC2's refusals; the volumes-per-instance limit."""

from __future__ import annotations

import base64
import dataclasses
import uuid
from pathlib import Path
from typing import Any

import pytest

from andromede.compute.service import ComputeService
from support.computekit import MemoryDiskKeys
from support.ec2app import ApiError, World, ec2_world


async def _run(world: World, *mappings: dict[str, Any], **extra: Any) -> str:
    run = await world.root.call(
        "RunInstances",
        ImageId=world.image.image_id,
        InstanceType="t3.nano",
        MinCount=1,
        MaxCount=1,
        BlockDeviceMappings=list(mappings),
        **extra,
    )
    await world.compute.settle()
    return str(run["Instances"][0]["InstanceId"])


async def _mapping_of(world: World, instance_id: str) -> dict[str, tuple[str, bool]]:
    described = await world.root.call("DescribeInstances", InstanceIds=[instance_id])
    [instance] = described["Reservations"][0]["Instances"]
    return {
        m["DeviceName"]: (m["Ebs"]["VolumeId"], m["Ebs"]["DeleteOnTermination"])
        for m in instance["BlockDeviceMappings"]
    }


async def _snapshot(world: World, size: int) -> str:
    c = world.root
    volume = await c.call("CreateVolume", AvailabilityZone="eu-fr-1a", Size=size)
    snapshot = await c.call("CreateSnapshot", VolumeId=volume["VolumeId"])
    await c.call("DeleteVolume", VolumeId=volume["VolumeId"])
    return str(snapshot["SnapshotId"])


async def test_further_volumes_are_made_attached_and_kept_or_deleted_as_asked(
    world: World,
) -> None:
    keys = world.compute.disk_keys
    assert isinstance(keys, MemoryDiskKeys)
    arn = f"arn:aws:kms:eu-fr-1:{world.tenant_id}:key/{uuid.uuid4()}"
    keys.add_kms_key(arn)
    snapshot_id = await _snapshot(world, 3)
    instance_id = await _run(
        world,
        {"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 10, "DeleteOnTermination": False}},
        {"DeviceName": "/dev/sdb", "Ebs": {"VolumeSize": 5, "VolumeType": "gp3"}},
        {
            "DeviceName": "/dev/sdc",
            "Ebs": {
                "SnapshotId": snapshot_id,
                "VolumeSize": 4,
                "KmsKeyId": arn,
                "DeleteOnTermination": False,
                "Encrypted": True,
            },
        },
    )
    described = await world.root.call("DescribeInstances", InstanceIds=[instance_id])
    assert described["Reservations"][0]["Instances"][0]["State"]["Name"] == "running"
    mapping = await _mapping_of(world, instance_id)
    assert {device: kept for device, (_, kept) in mapping.items()} == {
        "/dev/xvda": False,
        "/dev/sdb": True,
        "/dev/sdc": False,
    }
    root_id, blank_id, copy_id = (mapping[d][0] for d in ("/dev/xvda", "/dev/sdb", "/dev/sdc"))
    volumes = {
        v["VolumeId"]: v
        for v in (await world.root.call("DescribeVolumes", VolumeIds=[blank_id, copy_id]))[
            "Volumes"
        ]
    }
    assert (volumes[blank_id]["Size"], volumes[blank_id]["State"]) == (5, "in-use")
    assert "KmsKeyId" not in volumes[blank_id]  # the tenant's key
    assert volumes[copy_id]["Size"] == 4 and volumes[copy_id]["SnapshotId"] == snapshot_id
    assert volumes[copy_id]["KmsKeyId"] == arn
    assert volumes[copy_id]["Attachments"][0]["DeleteOnTermination"] is False
    # Made on the host, the copy over its snapshot.
    assert {blank_id, copy_id, root_id} <= set(world.driver.volumes)
    assert world.driver.volumes[copy_id].size_gib == 4

    # ModifyInstanceAttribute turns it around for each device.
    await world.root.call(
        "ModifyInstanceAttribute",
        InstanceId=instance_id,
        BlockDeviceMappings=[
            {"DeviceName": "/dev/sdb", "Ebs": {"DeleteOnTermination": False}},
            {"DeviceName": "/dev/xvda", "Ebs": {"DeleteOnTermination": True}},
        ],
    )
    mapping = await _mapping_of(world, instance_id)
    assert {device: kept for device, (_, kept) in mapping.items()} == {
        "/dev/xvda": True,
        "/dev/sdb": False,
        "/dev/sdc": False,
    }
    with pytest.raises(ApiError) as raised:
        await world.root.call(
            "ModifyInstanceAttribute",
            InstanceId=instance_id,
            BlockDeviceMappings=[
                {"DeviceName": "/dev/sdb", "Ebs": {"DeleteOnTermination": True}},
                {"DeviceName": "/dev/sdz", "Ebs": {"DeleteOnTermination": True}},
            ],
        )
    assert raised.value.code == "InvalidInstanceAttributeValue"
    assert (await _mapping_of(world, instance_id))["/dev/sdb"][1] is False  # nothing changed

    await world.root.call("TerminateInstances", InstanceIds=[instance_id])
    await world.compute.settle()
    left = (await world.root.call("DescribeVolumes"))["Volumes"]
    assert {(v["VolumeId"], v["State"]) for v in left} == {
        (blank_id, "available"),
        (copy_id, "available"),
    }
    assert root_id not in world.driver.volumes and blank_id in world.driver.volumes
    # A kept volume is a volume like any other: attached to another instance, it reads.
    other = await _run(world)
    attached = await world.root.call(
        "AttachVolume", VolumeId=copy_id, InstanceId=other, Device="/dev/sdf"
    )
    assert attached["State"] == "attached"


async def test_a_kept_root_volume_outlives_its_instance(world: World) -> None:
    instance_id = await _run(
        world, {"DeviceName": "/dev/xvda", "Ebs": {"DeleteOnTermination": False}}
    )
    [(root_id, kept)] = (await _mapping_of(world, instance_id)).values()
    assert kept is False
    await world.root.call("TerminateInstances", InstanceIds=[instance_id])
    await world.compute.settle()
    [volume] = (await world.root.call("DescribeVolumes", VolumeIds=[root_id]))["Volumes"]
    assert volume["State"] == "available" and volume["Attachments"] == []
    assert root_id in world.driver.volumes
    await world.root.call("DeleteVolume", VolumeId=root_id)
    assert root_id not in world.driver.volumes


@pytest.mark.parametrize(
    ("mappings", "code"),
    [
        (
            [
                {"DeviceName": "/dev/sdb", "Ebs": {"VolumeSize": 1}},
                {"DeviceName": "/dev/sdb", "Ebs": {"VolumeSize": 2}},
            ],
            "InvalidBlockDeviceMapping",
        ),
        (
            [
                {"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 9}},
                {"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 10}},
            ],
            "InvalidBlockDeviceMapping",
        ),
        ([{"DeviceName": "/dev/sdb", "Ebs": {}}], "MissingParameter"),
        ([{"DeviceName": "/dev/sdb", "Ebs": {"VolumeSize": 0}}], "InvalidParameterValue"),
        ([{"DeviceName": "sdb", "Ebs": {"VolumeSize": 1}}], "InvalidParameterValue"),
        (
            [{"DeviceName": "/dev/sdb", "Ebs": {"SnapshotId": "snap-0123456789abcdef0"}}],
            "InvalidSnapshot.NotFound",
        ),
        (
            [{"DeviceName": "/dev/sdb", "Ebs": {"VolumeSize": 1, "KmsKeyId": "alias/none"}}],
            "InvalidParameterValue",
        ),
    ],
)
async def test_what_ec2_refuses_launches_nothing(
    world: World, mappings: list[dict[str, Any]], code: str
) -> None:
    with pytest.raises(ApiError) as raised:
        await _run(world, *mappings)
    assert raised.value.code == code
    assert (await world.root.call("DescribeInstances"))["Reservations"] == []
    assert (await world.root.call("DescribeVolumes"))["Volumes"] == []


async def test_a_snapshot_smaller_than_asked_is_fine_a_larger_one_is_not(world: World) -> None:
    snapshot_id = await _snapshot(world, 4)
    with pytest.raises(ApiError) as raised:
        await _run(
            world, {"DeviceName": "/dev/sdb", "Ebs": {"SnapshotId": snapshot_id, "VolumeSize": 3}}
        )
    assert raised.value.code == "InvalidParameterValue"
    instance_id = await _run(world, {"DeviceName": "/dev/sdb", "Ebs": {"SnapshotId": snapshot_id}})
    volume_id = (await _mapping_of(world, instance_id))["/dev/sdb"][0]
    [volume] = (await world.root.call("DescribeVolumes", VolumeIds=[volume_id]))["Volumes"]
    assert volume["Size"] == 4  # the snapshot's, none asked


async def test_a_launch_that_fails_leaves_no_volume_behind(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Kept volumes of an instance that never ran would hold nothing: they go too.
    original = world.driver.create_volume
    calls = 0

    async def failing_second(spec: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("the host's disk is full")
        await original(spec)

    monkeypatch.setattr(world.driver, "create_volume", failing_second)
    instance_id = await _run(
        world,
        {"DeviceName": "/dev/xvda", "Ebs": {"DeleteOnTermination": False}},
        {"DeviceName": "/dev/sdb", "Ebs": {"VolumeSize": 1, "DeleteOnTermination": False}},
    )
    described = await world.root.call("DescribeInstances", InstanceIds=[instance_id])
    assert described["Reservations"][0]["Instances"][0]["State"]["Name"] == "terminated"
    assert (await world.root.call("DescribeVolumes"))["Volumes"] == []
    assert world.driver.volumes == {}


async def test_the_volumes_per_instance_limit_is_a_setting(tmp_path: Path) -> None:
    async with ec2_world(tmp_path) as world:
        _limit(world.compute, 3)
        blank = {"Ebs": {"VolumeSize": 1}}
        with pytest.raises(ApiError) as raised:
            await _run(world, *({"DeviceName": f"/dev/sd{d}", **blank} for d in "bcd"))
        assert raised.value.code == "InvalidBlockDeviceMapping"
        instance_id = await _run(world, *({"DeviceName": f"/dev/sd{d}", **blank} for d in "bc"))
        volume = await world.root.call("CreateVolume", AvailabilityZone="eu-fr-1a", Size=1)
        with pytest.raises(ApiError) as raised:
            await world.root.call(
                "AttachVolume",
                VolumeId=volume["VolumeId"],
                InstanceId=instance_id,
                Device="/dev/sdf",
            )
        assert raised.value.code == "AttachmentLimitExceeded"


def _limit(compute: ComputeService, most: int) -> None:
    compute.limits = dataclasses.replace(compute.limits, max_volumes_per_instance=most)


async def test_describe_instance_attribute_answers_what_terraform_reads(world: World) -> None:
    instance_id = await _run(
        world,
        {"DeviceName": "/dev/sdb", "Ebs": {"VolumeSize": 1}},
        UserData=base64.b64encode(b"#!/bin/sh\necho hi\n").decode(),  # as boto3 sends it
    )

    async def attribute(name: str) -> dict[str, Any]:
        answer = await world.root.call(
            "DescribeInstanceAttribute", InstanceId=instance_id, Attribute=name
        )
        assert answer["InstanceId"] == instance_id
        return answer

    assert (await attribute("instanceInitiatedShutdownBehavior"))[
        "InstanceInitiatedShutdownBehavior"
    ] == {"Value": "stop"}
    assert (await attribute("disableApiTermination"))["DisableApiTermination"] == {"Value": False}
    assert (await attribute("disableApiStop"))["DisableApiStop"] == {"Value": False}
    assert (await attribute("instanceType"))["InstanceType"] == {"Value": "t3.nano"}
    assert (await attribute("rootDeviceName"))["RootDeviceName"] == {"Value": "/dev/xvda"}
    user_data = (await attribute("userData"))["UserData"]["Value"]
    assert base64.b64decode(user_data) == b"#!/bin/sh\necho hi\n"
    groups = (await attribute("groupSet"))["Groups"]
    assert len(groups) == 1 and groups[0]["GroupId"].startswith("sg-")
    mappings = (await attribute("blockDeviceMapping"))["BlockDeviceMappings"]
    assert [(m["DeviceName"], m["Ebs"]["DeleteOnTermination"]) for m in mappings] == [
        ("/dev/sdb", True),
        ("/dev/xvda", True),
    ]
    with pytest.raises(ApiError) as raised:
        await attribute("noSuchThing")
    assert raised.value.code == "InvalidParameterValue"


async def test_another_tenant_cannot_change_what_an_instance_keeps(world: World) -> None:
    instance_id = await _run(
        world, {"DeviceName": "/dev/xvda", "Ebs": {"DeleteOnTermination": False}}
    )
    _, intruder = await world.tenant("intruder")
    with pytest.raises(ApiError) as raised:
        await intruder.call(
            "ModifyInstanceAttribute",
            InstanceId=instance_id,
            BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"DeleteOnTermination": True}}],
        )
    assert raised.value.code == "InvalidInstanceID.NotFound"
    assert (await _mapping_of(world, instance_id))["/dev/xvda"][1] is False
