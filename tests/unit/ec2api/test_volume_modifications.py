"""ModifyVolume and DescribeVolumesModifications in process (decision 0088): growth of available
and in-use volumes, every refusal one by one, the states, DryRun, IAM, filters and pages."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from botocore.credentials import Credentials

from andromede.compute.model import Volume, VolumeModification, VolumeModificationState
from andromede.compute.service_core import utc_now
from support.computekit import MemoryDiskKeys
from support.ec2app import ApiError, Client, World

AZ = "eu-fr-1a"


async def _volume(world: World, size: int = 1, **extra: Any) -> str:
    created = await world.root.call("CreateVolume", Size=size, AvailabilityZone=AZ, **extra)
    return str(created["VolumeId"])


async def _refused(client: Client, code: str, **params: Any) -> str:
    with pytest.raises(ApiError) as raised:
        await client.call("ModifyVolume", **params)
    assert raised.value.code == code, raised.value
    return str(raised.value)


async def test_an_available_volume_grows_and_its_modification_is_completed(world: World) -> None:
    c = world.root
    volume_id = await _volume(world, 1)
    answer = (await c.call("ModifyVolume", VolumeId=volume_id, Size=3))["VolumeModification"]
    assert answer["VolumeId"] == volume_id
    assert answer["ModificationState"] == "completed"
    assert (answer["OriginalSize"], answer["TargetSize"], answer["Progress"]) == (1, 3, 100)
    assert (answer["OriginalVolumeType"], answer["TargetVolumeType"]) == ("gp3", "gp3")
    assert answer["OriginalMultiAttachEnabled"] is False
    assert answer["TargetMultiAttachEnabled"] is False
    assert answer["EndTime"] >= answer["StartTime"]
    assert "TargetIops" not in answer and "StatusMessage" not in answer
    assert world.driver.volumes[volume_id].size_gib == 3  # the host's disk grew
    [volume] = (await c.call("DescribeVolumes", VolumeIds=[volume_id]))["Volumes"]
    assert (volume["Size"], volume["State"]) == (3, "available")
    [listed] = (await c.call("DescribeVolumesModifications", VolumeIds=[volume_id]))[
        "VolumesModifications"
    ]
    assert listed == answer
    # Completed: it may grow again, up to gp3's limit.
    again = await c.call("ModifyVolume", VolumeId=volume_id, Size=16384)
    assert again["VolumeModification"]["OriginalSize"] == 3
    assert world.driver.volumes[volume_id].size_gib == 16384


async def test_an_attached_volume_and_a_root_volume_grow_under_a_running_instance(
    world: World,
) -> None:
    c = world.root
    run = await c.call(
        "RunInstances", ImageId=world.image.image_id, InstanceType="t3.nano", MinCount=1, MaxCount=1
    )
    instance_id = run["Instances"][0]["InstanceId"]
    await world.compute.settle()
    volume_id = await _volume(world, 2)
    await c.call("AttachVolume", VolumeId=volume_id, InstanceId=instance_id, Device="/dev/sdf")
    done = await c.call("ModifyVolume", VolumeId=volume_id, Size=5)
    assert done["VolumeModification"]["ModificationState"] == "completed"
    [volume] = (await c.call("DescribeVolumes", VolumeIds=[volume_id]))["Volumes"]
    assert (volume["Size"], volume["State"]) == (5, "in-use")
    assert volume["Attachments"][0]["InstanceId"] == instance_id

    [reservation] = (await c.call("DescribeInstances", InstanceIds=[instance_id]))["Reservations"]
    mappings = reservation["Instances"][0]["BlockDeviceMappings"]
    root_id = next(m["Ebs"]["VolumeId"] for m in mappings if m["DeviceName"] == "/dev/xvda")
    [root] = (await c.call("DescribeVolumes", VolumeIds=[root_id]))["Volumes"]
    await c.call("ModifyVolume", VolumeId=root_id, Size=root["Size"] + 4)
    assert world.driver.volumes[root_id].size_gib == root["Size"] + 4
    await c.call("StopInstances", InstanceIds=[instance_id])
    await world.compute.settle()
    # Stopped: grown offline, the same way for the caller.
    await c.call("ModifyVolume", VolumeId=volume_id, Size=6)
    assert world.driver.volumes[volume_id].size_gib == 6


async def test_each_refusal_leaves_the_volume_and_its_modifications_as_they_were(
    world: World,
) -> None:
    c = world.root
    volume_id = await _volume(world, 4)
    assert "New size cannot be smaller than existing size" in await _refused(
        c, "InvalidParameterValue", VolumeId=volume_id, Size=3
    )
    assert "nothing to modify" in await _refused(
        c, "InvalidParameterValue", VolumeId=volume_id, Size=4
    )
    await _refused(c, "InvalidParameterValue", VolumeId=volume_id, Size=16385)
    await _refused(c, "InvalidParameterValue", VolumeId=volume_id, Size=0)
    assert "Must specify at least one of size" in await _refused(
        c, "InvalidParameterValue", VolumeId=volume_id
    )
    assert "nothing to modify" in await _refused(
        c, "InvalidParameterValue", VolumeId=volume_id, VolumeType="gp3"
    )
    # What would change something real here is refused, naming the parameter (decision 0060).
    for extra in (
        {"Iops": 3000},
        {"Throughput": 125},
        {"VolumeType": "io2"},
        {"VolumeType": "gp2"},
        {"MultiAttachEnabled": True},
    ):
        message = await _refused(c, "UnsupportedOperation", VolumeId=volume_id, Size=5, **extra)
        assert next(iter(extra)) in message
    await _refused(c, "MissingParameter", Size=5)
    await _refused(c, "InvalidVolume.NotFound", VolumeId="vol-0123456789abcdef0", Size=5)
    await _refused(c, "InvalidVolumeID.Malformed", VolumeId="volume-1", Size=5)
    assert world.driver.volumes[volume_id].size_gib == 4
    [volume] = (await c.call("DescribeVolumes", VolumeIds=[volume_id]))["Volumes"]
    assert volume["Size"] == 4
    assert (await c.call("DescribeVolumesModifications"))["VolumesModifications"] == []
    with pytest.raises(ApiError) as raised:
        await c.call("DescribeVolumesModifications", VolumeIds=[volume_id])
    assert raised.value.code == "InvalidVolumeModification.NotFound"
    # The volume's own type and no multi-attach change nothing: taken with a size.
    await c.call(
        "ModifyVolume", VolumeId=volume_id, Size=5, VolumeType="gp3", MultiAttachEnabled=False
    )
    assert world.driver.volumes[volume_id].size_gib == 5


async def _set_modification(world: World, volume_id: str, **fields: Any) -> None:
    volume = await world.compute.store.get(Volume, volume_id)
    assert volume is not None
    modification = VolumeModification(
        VolumeModificationState.MODIFYING, volume.size_gib, volume.size_gib + 1, utc_now()
    )
    assert await world.compute.store.replace(
        replace(volume, modification=replace(modification, **fields))
    )


async def test_a_modification_under_way_refuses_another_until_it_settles(world: World) -> None:
    c = world.root
    volume_id = await _volume(world, 1)
    # What a ModifyVolume leaves while its host grows the disk.
    await _set_modification(world, volume_id)
    assert "cannot be modified in modification state MODIFYING" in await _refused(
        c, "IncorrectModificationState", VolumeId=volume_id, Size=2
    )
    [seen] = (await c.call("DescribeVolumesModifications"))["VolumesModifications"]
    assert (seen["ModificationState"], seen["Progress"]) == ("modifying", 0)
    assert "EndTime" not in seen
    # One whose gateway stopped half an hour ago is reported failed, and no longer blocks.
    await _set_modification(world, volume_id, started_at=utc_now() - timedelta(minutes=31))
    [seen] = (await c.call("DescribeVolumesModifications"))["VolumesModifications"]
    assert seen["ModificationState"] == "failed"
    assert "interrupted" in seen["StatusMessage"]
    done = await c.call("ModifyVolume", VolumeId=volume_id, Size=2)
    assert done["VolumeModification"]["ModificationState"] == "completed"


async def test_a_host_that_refuses_fails_the_modification_not_the_call(world: World) -> None:
    c = world.root
    volume_id = await _volume(world, 2)
    lost = world.driver.volumes.pop(volume_id)  # the host no longer has the disk
    answer = (await c.call("ModifyVolume", VolumeId=volume_id, Size=3))["VolumeModification"]
    assert answer["ModificationState"] == "failed"
    assert answer["StatusMessage"] == "The host could not grow the volume; try again later"
    assert "memory-host" not in json.dumps(answer, default=str)
    assert (answer["OriginalSize"], answer["TargetSize"], answer["Progress"]) == (2, 3, 0)
    [volume] = (await c.call("DescribeVolumes", VolumeIds=[volume_id]))["Volumes"]
    assert volume["Size"] == 2
    # Failed: the volume may be modified again, and this time it grows.
    world.driver.volumes[volume_id] = lost
    answer = (await c.call("ModifyVolume", VolumeId=volume_id, Size=3))["VolumeModification"]
    assert answer["ModificationState"] == "completed"


async def test_dry_run_changes_nothing(world: World) -> None:
    c = world.root
    volume_id = await _volume(world, 1)
    for action, params in (
        ("ModifyVolume", {"VolumeId": volume_id, "Size": 2}),
        ("DescribeVolumesModifications", {}),
    ):
        with pytest.raises(ApiError) as raised:
            await c.call(action, DryRun=True, **params)
        assert (raised.value.status, raised.value.code) == (412, "DryRunOperation")
    assert world.driver.volumes[volume_id].size_gib == 1
    assert (await c.call("DescribeVolumesModifications"))["VolumesModifications"] == []


async def test_a_volume_whose_kms_key_is_disabled_is_not_modified(world: World) -> None:
    keys = world.compute.disk_keys
    assert isinstance(keys, MemoryDiskKeys)
    arn = f"arn:aws:kms:eu-fr-1:{world.tenant_id}:key/0b9f4e4e-0000-4000-8000-000000000001"
    keys.add_kms_key(arn)
    volume_id = await _volume(world, 1, KmsKeyId=arn)
    keys.disable_kms_key(arn)
    await _refused(world.root, "IncorrectState", VolumeId=volume_id, Size=2)
    assert (await world.root.call("DescribeVolumesModifications"))["VolumesModifications"] == []


async def test_modify_volume_is_authorised_on_the_volume_arn(world: World) -> None:
    mine, other = await _volume(world, 1), await _volume(world, 1)
    await world.identity.create_user(world.tenant_id, "ops")
    created = await world.identity.create_access_key(world.tenant_id, "ops")
    ops = Client(world.app, Credentials(created.key.access_key_id, created.secret_access_key))
    arn = f"arn:aws:ec2:eu-fr-1:{world.tenant_id}:volume/{mine}"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "ec2:ModifyVolume", "Resource": arn},
            {"Effect": "Allow", "Action": "ec2:DescribeVolumesModifications", "Resource": "*"},
        ],
    }
    await world.identity.put_user_policy(world.tenant_id, "ops", "grow", json.dumps(policy))
    await ops.call("ModifyVolume", VolumeId=mine, Size=2)
    await _refused(ops, "UnauthorizedOperation", VolumeId=other, Size=2)
    listed = (await ops.call("DescribeVolumesModifications"))["VolumesModifications"]
    assert [m["VolumeId"] for m in listed] == [mine]
    assert world.driver.volumes[other].size_gib == 1


async def test_filters_and_pages(world: World) -> None:
    c = world.root
    ids = sorted([await _volume(world, 1) for _ in range(3)])
    for n, volume_id in enumerate(ids):
        await c.call("ModifyVolume", VolumeId=volume_id, Size=2 + n)
    await _volume(world, 1)  # never modified: not listed

    async def listed(**params: Any) -> list[str]:
        answer = await c.call("DescribeVolumesModifications", **params)
        return [m["VolumeId"] for m in answer["VolumesModifications"]]

    assert await listed() == ids
    assert await listed(Filters=[{"Name": "target-size", "Values": ["3", "4"]}]) == ids[1:]
    assert await listed(Filters=[{"Name": "original-size", "Values": ["1"]}]) == ids
    assert await listed(Filters=[{"Name": "modification-state", "Values": ["failed"]}]) == []
    assert await listed(Filters=[{"Name": "volume-id", "Values": [ids[0]]}]) == ids[:1]
    assert await listed(Filters=[{"Name": "target-volume-type", "Values": ["gp3"]}]) == ids
    assert await listed(Filters=[{"Name": "start-time", "Values": ["20*"]}]) == ids
    assert await listed(Filters=[{"Name": "target-iops", "Values": ["3000"]}]) == []
    assert await listed(VolumeIds=[ids[2], ids[0]]) == [ids[0], ids[2]]
    with pytest.raises(ApiError) as raised:
        await c.call("DescribeVolumesModifications", Filters=[{"Name": "color", "Values": ["x"]}])
    assert raised.value.code == "InvalidParameterValue"

    pages, token = [], None
    while True:
        extra = {"NextToken": token} if token else {}
        answer = await c.call("DescribeVolumesModifications", MaxResults=2, **extra)
        pages.append([m["VolumeId"] for m in answer["VolumesModifications"]])
        token = answer.get("NextToken")
        if not token:
            break
    assert pages == [ids[:2], ids[2:]]
    with pytest.raises(ApiError) as raised:
        await c.call("DescribeVolumesModifications", NextToken="__4=")
    assert raised.value.code == "InvalidParameterValue"
