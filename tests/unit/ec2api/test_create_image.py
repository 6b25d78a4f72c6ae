"""CreateImage (decision 0147) in process through botocore's serialiser and parser: one
snapshot per attached volume under the volume's key, EC2's descriptions, the image's block
device mappings (grown, left out, added blank), the stop-and-start of a running instance
without NoReboot, launching from the image, and every refusal one by one, each leaving
nothing behind."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from support.computekit import MemoryDiskKeys
from support.ec2app import ApiError, Client, World

AZ = "eu-fr-1a"


async def _run(world: World, *mappings: dict[str, Any], image_id: str | None = None) -> str:
    run = await world.root.call(
        "RunInstances",
        ImageId=image_id or world.image.image_id,
        InstanceType="t3.nano",
        MinCount=1,
        MaxCount=1,
        BlockDeviceMappings=list(mappings),
    )
    await world.compute.settle()
    return str(run["Instances"][0]["InstanceId"])


async def _stopped(world: World, *mappings: dict[str, Any]) -> str:
    instance_id = await _run(world, *mappings)
    await world.root.call("StopInstances", InstanceIds=[instance_id])
    await world.compute.settle()
    return instance_id


async def _instance(client: Client, instance_id: str) -> dict[str, Any]:
    described = await client.call("DescribeInstances", InstanceIds=[instance_id])
    return dict(described["Reservations"][0]["Instances"][0])


async def _image(client: Client, image_id: str) -> dict[str, Any]:
    [image] = (await client.call("DescribeImages", ImageIds=[image_id]))["Images"]
    return dict(image)


def _mappings(image: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["DeviceName"]: m["Ebs"] for m in image["BlockDeviceMappings"]}


async def _refused(client: Client, action: str, code: str, **params: Any) -> str:
    with pytest.raises(ApiError) as raised:
        await client.call(action, **params)
    assert raised.value.code == code, raised.value
    return str(raised.value)


async def test_an_image_of_a_stopped_instance_has_a_snapshot_per_volume(world: World) -> None:
    c = world.root
    instance_id = await _stopped(
        world, {"DeviceName": "/dev/sdb", "Ebs": {"VolumeSize": 3, "DeleteOnTermination": False}}
    )
    volumes = {
        m["DeviceName"]: m["Ebs"]["VolumeId"]
        for m in (await _instance(c, instance_id))["BlockDeviceMappings"]
    }
    made = await c.call(
        "CreateImage",
        InstanceId=instance_id,
        Name="web (2026.12.05) [eu]/v1 'a'@b_c",
        Description="the web server",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 10}}],
        TagSpecifications=[
            {"ResourceType": "image", "Tags": [{"Key": "role", "Value": "web"}]},
            {"ResourceType": "snapshot", "Tags": [{"Key": "of", "Value": "web"}]},
        ],
    )
    image_id = made["ImageId"]
    image = await _image(c, image_id)
    assert image["State"] == "available" and image["Name"] == "web (2026.12.05) [eu]/v1 'a'@b_c"
    assert image["Description"] == "the web server" and image["OwnerId"] == world.tenant_id
    assert image["RootDeviceName"] == "/dev/xvda" and image["Public"] is False
    assert image["Tags"] == [{"Key": "role", "Value": "web"}]
    mappings = _mappings(image)
    assert set(mappings) == {"/dev/xvda", "/dev/sdb"}
    assert (mappings["/dev/xvda"]["VolumeSize"], mappings["/dev/xvda"]["DeleteOnTermination"]) == (
        10,
        True,
    )
    assert (mappings["/dev/sdb"]["VolumeSize"], mappings["/dev/sdb"]["DeleteOnTermination"]) == (
        3,
        False,
    )
    snapshots = {
        s["SnapshotId"]: s
        for s in (await c.call("DescribeSnapshots", OwnerIds=["self"]))["Snapshots"]
    }
    for device, volume_id in volumes.items():
        snapshot = snapshots[mappings[device]["SnapshotId"]]
        assert snapshot["Description"] == (
            f"Created by CreateImage({instance_id}) for {image_id} from {volume_id}"
        )
        assert snapshot["VolumeId"] == volume_id and snapshot["State"] == "completed"
        assert snapshot["Tags"] == [{"Key": "of", "Value": "web"}]
        assert snapshot["SnapshotId"] in world.driver.snapshots  # made on the host

    # A launch from it: the root grown as the image says, the further volume from its
    # snapshot, kept after termination as the image says.
    launched = await _run(world, image_id=image_id)
    instance = await _instance(c, launched)
    assert instance["State"]["Name"] == "running"
    by_device = {m["DeviceName"]: m["Ebs"] for m in instance["BlockDeviceMappings"]}
    assert set(by_device) == {"/dev/xvda", "/dev/sdb"}
    assert by_device["/dev/sdb"]["DeleteOnTermination"] is False
    described = {
        v["VolumeId"]: v
        for v in (
            await c.call("DescribeVolumes", VolumeIds=[e["VolumeId"] for e in by_device.values()])
        )["Volumes"]
    }
    assert described[by_device["/dev/xvda"]["VolumeId"]]["Size"] == 10
    data = described[by_device["/dev/sdb"]["VolumeId"]]
    assert (data["Size"], data["SnapshotId"]) == (3, mappings["/dev/sdb"]["SnapshotId"])

    # DeregisterImage leaves its snapshots, as EC2; deleting the snapshots with it is refused.
    await _refused(
        c, "DeregisterImage", "UnsupportedOperation", ImageId=image_id,
        DeleteAssociatedSnapshots=True,
    )  # fmt: skip
    # A snapshot of a live image is in use by it.
    await _refused(
        c, "DeleteSnapshot", "InvalidSnapshot.InUse",
        SnapshotId=mappings["/dev/sdb"]["SnapshotId"],
    )  # fmt: skip
    await c.call("DeregisterImage", ImageId=image_id)
    after = {s["SnapshotId"] for s in (await c.call("DescribeSnapshots"))["Snapshots"]}
    assert {m["SnapshotId"] for m in mappings.values()} <= after


async def test_mappings_leave_a_volume_out_or_add_a_blank_one(world: World) -> None:
    c = world.root
    instance_id = await _stopped(
        world,
        {"DeviceName": "/dev/sdb", "Ebs": {"VolumeSize": 2}},
        {"DeviceName": "/dev/sdc", "Ebs": {"VolumeSize": 2}},
    )
    before = len(world.driver.snapshots)
    made = await c.call(
        "CreateImage",
        InstanceId=instance_id,
        Name="lean",
        BlockDeviceMappings=[
            {"DeviceName": "/dev/sdb", "NoDevice": ""},
            {"DeviceName": "/dev/sdc", "Ebs": {"DeleteOnTermination": False}},
            {"DeviceName": "/dev/sdd", "Ebs": {"VolumeSize": 4}},
        ],
    )
    mappings = _mappings(await _image(c, made["ImageId"]))
    assert set(mappings) == {"/dev/xvda", "/dev/sdc", "/dev/sdd"}
    assert mappings["/dev/sdc"]["DeleteOnTermination"] is False
    assert "SnapshotId" not in mappings["/dev/sdd"] and mappings["/dev/sdd"]["VolumeSize"] == 4
    assert len(world.driver.snapshots) == before + 2  # the root and sdc: sdb was left out

    launched = await _instance(c, await _run(world, image_id=made["ImageId"]))
    devices = {m["DeviceName"] for m in launched["BlockDeviceMappings"]}
    assert devices == {"/dev/xvda", "/dev/sdc", "/dev/sdd"}


async def test_a_running_instance_is_stopped_snapshotted_and_started_unless_no_reboot(
    world: World,
) -> None:
    c = world.root
    instance_id = await _run(world)
    made = await c.call("CreateImage", InstanceId=instance_id, Name="rebooted")
    # Answered at once: the image is pending while the guest is stopped and snapshotted.
    assert (await _image(c, made["ImageId"]))["State"] == "pending"
    await world.compute.settle()
    assert (await _image(c, made["ImageId"]))["State"] == "available"
    assert (await _instance(c, instance_id))["State"]["Name"] == "running"
    console = bytes(world.driver.instances[instance_id].console)
    assert console.count(b"powered off") == 1  # an ACPI power-down before the snapshot

    quick = await c.call("CreateImage", InstanceId=instance_id, Name="live", NoReboot=True)
    assert (await _image(c, quick["ImageId"]))["State"] == "available"  # within the call
    assert bytes(world.driver.instances[instance_id].console).count(b"powered off") == 1


async def test_an_encrypted_volume_gives_snapshots_under_its_key(world: World) -> None:
    c, keys = world.root, world.compute.disk_keys
    assert isinstance(keys, MemoryDiskKeys)
    arn = f"arn:aws:kms:eu-fr-1:{world.tenant_id}:key/{uuid.uuid4()}"
    keys.add_kms_key(arn)
    instance_id = await _stopped(world, {"DeviceName": "/dev/xvda", "Ebs": {"KmsKeyId": arn}})
    made = await c.call("CreateImage", InstanceId=instance_id, Name="sealed")
    snapshot_id = _mappings(await _image(c, made["ImageId"]))["/dev/xvda"]["SnapshotId"]
    [snapshot] = (await c.call("DescribeSnapshots", SnapshotIds=[snapshot_id]))["Snapshots"]
    assert snapshot["Encrypted"] is True and snapshot["KmsKeyId"] == arn


async def test_refusals_leave_nothing(world: World) -> None:
    c = world.root
    instance_id = await _stopped(world, {"DeviceName": "/dev/sdb", "Ebs": {"VolumeSize": 2}})
    await c.call("CreateImage", InstanceId=instance_id, Name="taken")
    images = (await c.call("DescribeImages", Owners=["self"]))["Images"]
    snapshots = dict(world.driver.snapshots)
    base = {"InstanceId": instance_id, "Name": "fresh"}
    await _refused(c, "CreateImage", "InvalidAMIName.Duplicate", InstanceId=instance_id,
                   Name="taken")  # fmt: skip
    await _refused(c, "CreateImage", "InvalidParameterValue", InstanceId=instance_id, Name="ab")
    await _refused(c, "CreateImage", "InvalidParameterValue", InstanceId=instance_id,
                   Name="web:1")  # fmt: skip
    await _refused(c, "CreateImage", "InvalidInstanceID.NotFound", InstanceId="i-0123456789abcdef0",
                   Name="fresh")  # fmt: skip
    await _refused(c, "CreateImage", "InvalidInstanceID.Malformed", InstanceId="vol-1", Name="x1y")
    await _refused(c, "CreateImage", "MissingParameter", InstanceId=instance_id)
    await _refused(
        c, "CreateImage", "InvalidBlockDeviceMapping", **base,
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "NoDevice": ""}],
    )  # fmt: skip
    await _refused(
        c, "CreateImage", "InvalidParameterValue", **base,
        BlockDeviceMappings=[{"DeviceName": "/dev/sdb", "Ebs": {"VolumeSize": 1}}],
    )  # fmt: skip
    await _refused(
        c, "CreateImage", "InvalidBlockDeviceMapping", **base,
        BlockDeviceMappings=[{"DeviceName": "/dev/sdb", "NoDevice": ""}] * 2,
    )  # fmt: skip
    await _refused(
        c, "CreateImage", "MissingParameter", **base,
        BlockDeviceMappings=[{"DeviceName": "/dev/sdz", "Ebs": {"DeleteOnTermination": True}}],
    )  # fmt: skip
    await _refused(
        c, "CreateImage", "UnsupportedOperation", **base,
        BlockDeviceMappings=[{"DeviceName": "/dev/sdb", "Ebs": {"Iops": 3000}}],
    )  # fmt: skip
    await _refused(
        c, "CreateImage", "InvalidParameterValue", **base,
        TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "k", "Value": "v"}]}],
    )  # fmt: skip
    await _refused(c, "CreateImage", "InvalidParameterValue", **base, Description="d" * 256)
    _, other = await world.tenant("globex")
    await _refused(other, "CreateImage", "InvalidInstanceID.NotFound", **base)
    await c.call("TerminateInstances", InstanceIds=[instance_id])
    await world.compute.settle()
    await _refused(c, "CreateImage", "IncorrectState", **base)
    assert (await c.call("DescribeImages", Owners=["self"]))["Images"] == images
    assert world.driver.snapshots.keys() == snapshots.keys()


async def test_dry_run_and_iam_on_the_instance(world: World) -> None:
    instance_id = await _stopped(world)
    await _refused(
        world.root, "CreateImage", "DryRunOperation", InstanceId=instance_id, Name="dry",
        DryRun=True,
    )  # fmt: skip
    assert (await world.root.call("DescribeImages", Owners=["self"]))["Images"] == []


async def test_a_snapshot_that_fails_in_the_background_fails_the_image(world: World) -> None:
    c, keys = world.root, world.compute.disk_keys
    assert isinstance(keys, MemoryDiskKeys)
    arn = f"arn:aws:kms:eu-fr-1:{world.tenant_id}:key/{uuid.uuid4()}"
    keys.add_kms_key(arn)
    instance_id = await _run(
        world, {"DeviceName": "/dev/sdb", "Ebs": {"VolumeSize": 2, "KmsKeyId": arn}}
    )
    before = set(world.driver.snapshots)
    # The root volume is snapshotted first, then the further volume's snapshot cannot be
    # taken: the root's is deleted.
    keys.disable_kms_key(arn)
    made = await c.call("CreateImage", InstanceId=instance_id, Name="doomed")
    await world.compute.settle()
    image = await _image(c, made["ImageId"])
    assert image["State"] == "failed"
    # EC2's StateReason says why (decision 0148): the tenant's key, a client fault.
    assert image["StateReason"]["Code"] == "Client.InvalidKMSKey.InvalidState", image
    assert image["StateReason"]["Message"]
    # No snapshot is left of it, on the host or listed.
    assert set(world.driver.snapshots) == before
    assert (await c.call("DescribeSnapshots", OwnerIds=["self"]))["Snapshots"] == []
    # It was stopped for the snapshot, and started again (its key disabled, it stops again
    # saying why, as any start would).
    assert b"powered off" in bytes(world.driver.instances[instance_id].console)
    await c.call("DeregisterImage", ImageId=made["ImageId"])
