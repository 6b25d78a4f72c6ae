"""CopySnapshot and CopyImage in process (decision 0098): the copy's own key under the KMS key
chosen, its independence from the source, the KMS permissions asked of the caller, every
refusal one by one (each leaving nothing behind), DryRun, IAM on the source's ARN, client
tokens and tags."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.credentials import Credentials

from support.computekit import MemoryDiskKeys
from support.ec2app import ApiError, Client, World

AZ = "eu-fr-1a"
REGION = "eu-fr-1"


def _keys(world: World) -> MemoryDiskKeys:
    keys = world.compute.disk_keys
    assert isinstance(keys, MemoryDiskKeys)
    return keys


def _kms_key(world: World, n: int) -> str:
    arn = f"arn:aws:kms:{REGION}:{world.tenant_id}:key/0b9f4e4e-0000-4000-8000-00000000000{n}"
    _keys(world).add_kms_key(arn)
    return arn


async def _snapshot(world: World, **volume: Any) -> str:
    created = await world.root.call("CreateVolume", Size=2, AvailabilityZone=AZ, **volume)
    snapshot = await world.root.call("CreateSnapshot", VolumeId=created["VolumeId"])
    return str(snapshot["SnapshotId"])


async def _snapshots(world: World) -> list[dict[str, Any]]:
    found = await world.root.call("DescribeSnapshots", OwnerIds=["self"])
    return list(found["Snapshots"])


async def _refused(client: Client, action: str, code: str, **params: Any) -> str:
    with pytest.raises(ApiError) as raised:
        await client.call(action, **params)
    assert raised.value.code == code, raised.value
    return str(raised.value)


async def test_a_copy_is_a_new_snapshot_that_outlives_its_source(world: World) -> None:
    c = world.root
    source = await _snapshot(world)
    copied = await c.call(
        "CopySnapshot",
        SourceSnapshotId=source,
        SourceRegion=REGION,
        Description="nightly, copied",
        TagSpecifications=[{"ResourceType": "snapshot", "Tags": [{"Key": "k", "Value": "v"}]}],
    )
    copy_id = copied["SnapshotId"]
    assert copy_id != source and copied["Tags"] == [{"Key": "k", "Value": "v"}]
    [described] = (await c.call("DescribeSnapshots", SnapshotIds=[copy_id]))["Snapshots"]
    assert described["State"] == "completed" and described["Encrypted"] is True
    assert (described["VolumeId"], described["VolumeSize"]) == ("vol-ffffffff", 2)
    assert described["Description"] == "nightly, copied"
    assert "KmsKeyId" not in described  # the tenant's key, as its source
    # Its own data key on the host, not the source's.
    assert world.driver.snapshots[copy_id].key != world.driver.snapshots[source].key

    await c.call("DeleteSnapshot", SnapshotId=source)
    restored = await c.call("CreateVolume", SnapshotId=copy_id, AvailabilityZone=AZ)
    assert restored["SnapshotId"] == copy_id and restored["Size"] == 2


async def test_a_copy_under_another_kms_key_is_shredded_with_that_key_only(world: World) -> None:
    c, keys = world.root, _keys(world)
    first, second = _kms_key(world, 1), _kms_key(world, 2)
    source = await _snapshot(world, KmsKeyId=first)
    keys.checked.clear()
    moved = await c.call(
        "CopySnapshot", SourceSnapshotId=source, SourceRegion=REGION, Encrypted=True,
        KmsKeyId=second,
    )  # fmt: skip
    moved_id = moved["SnapshotId"]
    # The caller read the source under its key and made the copy's under the other.
    assert keys.checked == [
        (first, "kms:Decrypt", source),
        (second, "kms:GenerateDataKeyWithoutPlaintext", moved_id),
    ]
    kept = await c.call("CopySnapshot", SourceSnapshotId=source, SourceRegion=REGION)
    by_id = {s["SnapshotId"]: s for s in await _snapshots(world)}
    assert by_id[moved_id]["KmsKeyId"] == second
    assert by_id[kept["SnapshotId"]]["KmsKeyId"] == first  # none named: the source's key

    keys.destroy_kms_key(first)  # the source's key is shredded; the copy under second is not
    for gone in (source, kept["SnapshotId"]):
        await _refused(c, "CreateVolume", "IncorrectState", SnapshotId=gone, AvailabilityZone=AZ)
    restored = await c.call("CreateVolume", SnapshotId=moved_id, AvailabilityZone=AZ)
    assert restored["KmsKeyId"] == second
    keys.destroy_kms_key(second)
    await _refused(c, "CreateVolume", "IncorrectState", SnapshotId=moved_id, AvailabilityZone=AZ)


async def test_an_unencrypted_source_under_the_tenant_key_is_moved_under_a_kms_key(
    world: World,
) -> None:
    c, keys = world.root, _keys(world)
    arn = _kms_key(world, 3)
    source = await _snapshot(world)
    keys.checked.clear()
    copied = await c.call(
        "CopySnapshot", SourceSnapshotId=source, SourceRegion=REGION, Encrypted=True, KmsKeyId=arn
    )
    # No KMS key read: the source is under the tenant's own key.
    assert keys.checked == [(arn, "kms:GenerateDataKeyWithoutPlaintext", copied["SnapshotId"])]
    [described] = (await c.call("DescribeSnapshots", SnapshotIds=[copied["SnapshotId"]]))[
        "Snapshots"
    ]
    assert described["KmsKeyId"] == arn


async def test_the_caller_needs_both_keys(world: World) -> None:
    c, keys = world.root, _keys(world)
    first, second = _kms_key(world, 4), _kms_key(world, 5)
    source = await _snapshot(world, KmsKeyId=first)
    before, on_host = await _snapshots(world), dict(world.driver.snapshots)
    keys.denied.add((first, "kms:Decrypt"))
    params = {"SourceSnapshotId": source, "SourceRegion": REGION}
    await _refused(c, "CopySnapshot", "UnauthorizedOperation", **params)
    await _refused(
        c, "CopySnapshot", "UnauthorizedOperation", Encrypted=True, KmsKeyId=second, **params
    )
    keys.denied = {(second, "kms:GenerateDataKeyWithoutPlaintext")}
    await _refused(
        c, "CopySnapshot", "UnauthorizedOperation", Encrypted=True, KmsKeyId=second, **params
    )
    keys.disable_kms_key(first)
    keys.denied.clear()
    await _refused(c, "CopySnapshot", "IncorrectState", **params)
    assert await _snapshots(world) == before and world.driver.snapshots == on_host


async def test_each_copy_snapshot_refusal_leaves_nothing(world: World) -> None:
    c = world.root
    source = await _snapshot(world)
    before, on_host = await _snapshots(world), dict(world.driver.snapshots)
    ok = {"SourceSnapshotId": source, "SourceRegion": REGION}
    cases: list[tuple[str, dict[str, Any]]] = [
        ("InvalidParameterValue", {**ok, "SourceRegion": "us-east-1"}),
        ("MissingParameter", {"SourceSnapshotId": source}),
        ("MissingParameter", {"SourceRegion": REGION}),
        ("InvalidParameterDependency", {**ok, "KmsKeyId": "alias/aws/ebs"}),
        ("InvalidParameterValue", {**ok, "Encrypted": True, "KmsKeyId": "alias/none-such"}),
        ("UnsupportedOperation", {**ok, "DestinationOutpostArn": "arn:aws:outposts:x"}),
        ("UnsupportedOperation", {**ok, "CompletionDurationMinutes": 15}),
        ("UnsupportedOperation", {**ok, "DestinationAvailabilityZone": "eu-fr-1-lz-1a"}),
        ("InvalidParameterValue", {**ok, "DestinationRegion": "us-east-1"}),
        ("InvalidParameterValue", {**ok, "PresignedUrl": "https://ec2.us-east-1.x/?Action=Copy"}),
        ("InvalidParameterValue", {**ok, "Description": "d" * 256}),
        (
            "InvalidParameterValue",
            {**ok, "TagSpecifications": [{"ResourceType": "volume", "Tags": [{"Key": "a"}]}]},
        ),
        ("InvalidSnapshot.NotFound", {**ok, "SourceSnapshotId": "snap-0123456789abcdef0"}),
        ("InvalidSnapshotID.Malformed", {**ok, "SourceSnapshotId": "vol-0123456789abcdef0"}),
    ]
    for code, params in cases:
        await _refused(c, "CopySnapshot", code, **params)
    # Another account's snapshot is not found: its copy would be the other account's.
    _, other = await world.tenant("other")
    await _refused(other, "CopySnapshot", "InvalidSnapshot.NotFound", **ok)
    assert await _snapshots(world) == before and world.driver.snapshots == on_host


async def test_a_presigned_url_of_this_region_is_taken(world: World) -> None:
    """What botocore adds to every CopySnapshot: a presigned CopySnapshot in the source
    region, and the destination region."""
    source = await _snapshot(world)
    url = (
        f"https://ec2.{REGION}.example/?Action=CopySnapshot&SourceSnapshotId={source}"
        f"&SourceRegion={REGION}&X-Amz-Credential=AKID%2F20260101%2F{REGION}%2Fec2%2Faws4_request"
    )
    copied = await world.root.call(
        "CopySnapshot", SourceSnapshotId=source, SourceRegion=REGION, PresignedUrl=url,
        DestinationRegion=REGION,
    )  # fmt: skip
    assert copied["SnapshotId"] in world.driver.snapshots
    other = await _snapshot(world)
    await _refused(
        world.root, "CopySnapshot", "InvalidParameterValue",
        SourceSnapshotId=other, SourceRegion=REGION, PresignedUrl=url,
    )  # fmt: skip


async def test_dry_run_copies_nothing(world: World) -> None:
    c = world.root
    source = await _snapshot(world)
    image = await _register(world, source, "dry")
    before, images = await _snapshots(world), await _images(world)
    for action, params in (
        ("CopySnapshot", {"SourceSnapshotId": source, "SourceRegion": REGION}),
        ("CopyImage", {"SourceImageId": image, "SourceRegion": REGION, "Name": "dry-copy"}),
    ):
        with pytest.raises(ApiError) as raised:
            await c.call(action, DryRun=True, **params)
        assert (raised.value.status, raised.value.code) == (412, "DryRunOperation")
    assert await _snapshots(world) == before and await _images(world) == images


async def test_copies_are_authorised_on_the_source_arn(world: World) -> None:
    mine, other = await _snapshot(world), await _snapshot(world)
    image = await _register(world, mine, "mine")
    await world.identity.create_user(world.tenant_id, "ops")
    created = await world.identity.create_access_key(world.tenant_id, "ops")
    ops = Client(world.app, Credentials(created.key.access_key_id, created.secret_access_key))
    arn = f"arn:aws:ec2:{REGION}:{world.tenant_id}"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "ec2:CopySnapshot",
                "Resource": [f"{arn}:snapshot/{mine}", f"{arn}:snapshot/*"],
                "Condition": {"StringNotEquals": {"ec2:SnapshotID": "none"}},
            },
            {"Effect": "Deny", "Action": "ec2:CopySnapshot", "Resource": f"{arn}:snapshot/{other}"},
            {"Effect": "Allow", "Action": "ec2:CopyImage", "Resource": f"{arn}:image/*"},
            {"Effect": "Deny", "Action": "ec2:CopyImage", "Resource": f"{arn}:image/{image}"},
        ],
    }
    await world.identity.put_user_policy(world.tenant_id, "ops", "copy", json.dumps(policy))
    await ops.call("CopySnapshot", SourceSnapshotId=mine, SourceRegion=REGION)
    before = await _snapshots(world)
    await _refused(
        ops, "CopySnapshot", "UnauthorizedOperation", SourceSnapshotId=other, SourceRegion=REGION
    )
    await _refused(
        ops, "CopyImage", "UnauthorizedOperation", SourceImageId=image, SourceRegion=REGION,
        Name="denied",
    )  # fmt: skip
    assert await _snapshots(world) == before


# -- CopyImage -----------------------------------------------------------------------------


async def _register(world: World, snapshot_id: str, name: str) -> str:
    image = await world.root.call(
        "RegisterImage",
        Name=name,
        RootDeviceName="/dev/xvda",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snapshot_id}}],
    )
    return str(image["ImageId"])


async def _images(world: World) -> list[dict[str, Any]]:
    return list((await world.root.call("DescribeImages", Owners=["self"]))["Images"])


async def _image(world: World, image_id: str) -> dict[str, Any]:
    [image] = (await world.root.call("DescribeImages", ImageIds=[image_id]))["Images"]
    return dict(image)


async def _launch(world: World, image_id: str) -> str:
    run = await world.root.call(
        "RunInstances", ImageId=image_id, InstanceType="t3.nano", MinCount=1, MaxCount=1
    )
    await world.compute.settle()
    instance_id = str(run["Instances"][0]["InstanceId"])
    found = await world.root.call("DescribeInstances", InstanceIds=[instance_id])
    assert found["Reservations"][0]["Instances"][0]["State"]["Name"] == "running"
    return instance_id


async def test_an_image_copy_has_its_own_snapshot_and_outlives_its_source(world: World) -> None:
    c = world.root
    source_snapshot = await _snapshot(world)
    source = await _register(world, source_snapshot, "golden")
    await c.call("CreateTags", Resources=[source], Tags=[{"Key": "team", "Value": "web"}])
    copied = await c.call(
        "CopyImage", SourceImageId=source, SourceRegion=REGION, Name="golden-copy",
        CopyImageTags=True,
        TagSpecifications=[
            {"ResourceType": "image", "Tags": [{"Key": "stage", "Value": "prod"}]},
            {"ResourceType": "snapshot", "Tags": [{"Key": "of", "Value": "golden"}]},
        ],
    )  # fmt: skip
    image = await _image(world, copied["ImageId"])
    assert image["State"] == "available" and image["Name"] == "golden-copy"
    assert image["Description"] == f"[Copied {source} from {REGION}] golden"
    assert {t["Key"]: t["Value"] for t in image["Tags"]} == {"team": "web", "stage": "prod"}
    snapshot_id = image["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
    assert snapshot_id not in (source_snapshot, None)
    [snapshot] = (await c.call("DescribeSnapshots", SnapshotIds=[snapshot_id]))["Snapshots"]
    assert snapshot["Description"] == (
        f"Copied for DestinationAmi {copied['ImageId']} from SourceAmi {source} "
        f"for SourceSnapshot {source_snapshot}"
    )
    assert snapshot["Tags"] == [{"Key": "of", "Value": "golden"}]

    await c.call("DeregisterImage", ImageId=source)
    await c.call("DeleteSnapshot", SnapshotId=source_snapshot)
    await _launch(world, copied["ImageId"])
    untagged = await c.call(
        "CopyImage", SourceImageId=copied["ImageId"], SourceRegion=REGION, Name="again",
        Description="",
    )  # fmt: skip
    again = await _image(world, untagged["ImageId"])
    assert "Tags" not in again or again["Tags"] == []  # CopyImageTags defaults to false
    assert again.get("Description") in (None, "")


async def test_a_public_image_copies_into_a_private_image_under_a_kms_key(world: World) -> None:
    c, keys = world.root, _keys(world)
    arn = _kms_key(world, 6)
    copied = await c.call(
        "CopyImage", SourceImageId=world.image.image_id, SourceRegion=REGION, Name="my-debian",
        Encrypted=True, KmsKeyId=arn,
    )  # fmt: skip
    image = await _image(world, copied["ImageId"])
    assert image["OwnerId"] == world.tenant_id and image["Public"] is False
    snapshot_id = image["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
    [snapshot] = (await c.call("DescribeSnapshots", SnapshotIds=[snapshot_id]))["Snapshots"]
    assert snapshot["KmsKeyId"] == arn
    assert world.driver.volumes == {}  # the transient volume over the file is gone
    # Another tenant sees neither.
    _, other = await world.tenant("other")
    await _refused(other, "DescribeImages", "InvalidAMIID.NotFound", ImageIds=[copied["ImageId"]])
    await _launch(world, copied["ImageId"])
    keys.destroy_kms_key(arn)  # the copy is the tenant's, shredded with its key
    await _refused(
        c, "RunInstances", "IncorrectState", ImageId=copied["ImageId"], InstanceType="t3.nano",
        MinCount=1, MaxCount=1,
    )  # fmt: skip


async def test_a_client_token_copies_once(world: World) -> None:
    c = world.root
    source = await _register(world, await _snapshot(world), "tokened")
    params = {"SourceImageId": source, "SourceRegion": REGION, "Name": "once", "ClientToken": "t1"}
    first = await c.call("CopyImage", **params)
    snapshots = await _snapshots(world)
    assert (await c.call("CopyImage", **params))["ImageId"] == first["ImageId"]
    assert await _snapshots(world) == snapshots  # nothing copied again
    await _refused(c, "CopyImage", "IdempotentParameterMismatch", **{**params, "Name": "twice"})
    # Another account's token is its own.
    _, other = await world.tenant("other")
    public = {**params, "SourceImageId": world.image.image_id}
    assert (await other.call("CopyImage", **public))["ImageId"] != first["ImageId"]


async def test_each_copy_image_refusal_leaves_nothing(world: World) -> None:
    c = world.root
    source = await _register(world, await _snapshot(world), "taken")
    before, snapshots = await _images(world), await _snapshots(world)
    ok = {"SourceImageId": source, "SourceRegion": REGION, "Name": "fresh"}
    _, other = await world.tenant("other")
    cases: list[tuple[str, dict[str, Any]]] = [
        ("InvalidAMIName.Duplicate", {**ok, "Name": "taken"}),
        ("InvalidParameterValue", {**ok, "Name": "ab"}),
        ("MissingParameter", {"SourceImageId": source, "SourceRegion": REGION}),
        ("InvalidParameterValue", {**ok, "SourceRegion": "eu-west-3"}),
        ("InvalidParameterDependency", {**ok, "KmsKeyId": "alias/x"}),
        ("InvalidParameterValue", {**ok, "Encrypted": True, "KmsKeyId": "alias/none-such"}),
        ("UnsupportedOperation", {**ok, "DestinationOutpostArn": "arn:aws:outposts:x"}),
        ("UnsupportedOperation", {**ok, "SnapshotCopyCompletionDurationMinutes": 15}),
        ("UnsupportedOperation", {**ok, "DestinationAvailabilityZone": "eu-fr-1-lz-1a"}),
        ("InvalidParameterValue", {**ok, "Description": "d" * 256}),
        ("InvalidParameterValue", {**ok, "ClientToken": "t" * 65}),
        (
            "InvalidParameterValue",
            {**ok, "TagSpecifications": [{"ResourceType": "volume", "Tags": [{"Key": "a"}]}]},
        ),
        ("InvalidAMIID.NotFound", {**ok, "SourceImageId": "ami-0123456789abcdef0"}),
        ("InvalidAMIID.Malformed", {**ok, "SourceImageId": "snap-0123456789abcdef0"}),
    ]
    for code, params in cases:
        await _refused(c, "CopyImage", code, **params)
    # Another account's private image is not found, whoever asks.
    await _refused(other, "CopyImage", "InvalidAMIID.NotFound", **ok)
    assert await _images(world) == before and await _snapshots(world) == snapshots


async def test_a_host_that_cannot_copy_leaves_no_image(world: World) -> None:
    c = world.root
    source_snapshot = await _snapshot(world)
    source = await _register(world, source_snapshot, "lost")
    lost = world.driver.snapshots.pop(source_snapshot)  # the host no longer has it
    before, snapshots = await _images(world), await _snapshots(world)
    await _refused(
        c, "CopyImage", "InternalError", SourceImageId=source, SourceRegion=REGION, Name="x-copy"
    )
    assert await _images(world) == before and await _snapshots(world) == snapshots
    world.driver.snapshots[source_snapshot] = lost
    await c.call("CopyImage", SourceImageId=source, SourceRegion=REGION, Name="x-copy")
