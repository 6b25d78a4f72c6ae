"""Image launch permissions (decision 0147) in process through botocore: an image shared with
another account shows in its DescribeImages and launches there, reading the owner's snapshots
into volumes under the launching account's key; only the owner changes, describes or resets
the permissions; no tenant makes an image public; images under a customer-managed key are
shared too; the number of accounts is a setting."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from support.computekit import MemoryDiskKeys
from support.ec2app import ApiError, Client, World, ec2_world


async def _refused(client: Client, action: str, code: str, **params: Any) -> str:
    with pytest.raises(ApiError) as raised:
        await client.call(action, **params)
    assert raised.value.code == code, raised.value
    return str(raised.value)


async def _run(world: World, client: Client, image_id: str, *mappings: Any) -> dict[str, Any]:
    run = await client.call(
        "RunInstances", ImageId=image_id, InstanceType="t3.nano", MinCount=1, MaxCount=1,
        BlockDeviceMappings=list(mappings),
    )  # fmt: skip
    await world.compute.settle()
    instance_id = run["Instances"][0]["InstanceId"]
    described = await client.call("DescribeInstances", InstanceIds=[instance_id])
    return dict(described["Reservations"][0]["Instances"][0])


async def _owned_image(world: World, *mappings: Any, name: str = "golden") -> str:
    instance = await _run(world, world.root, world.image.image_id, *mappings)
    await world.root.call("StopInstances", InstanceIds=[instance["InstanceId"]])
    await world.compute.settle()
    made = await world.root.call("CreateImage", InstanceId=instance["InstanceId"], Name=name)
    return str(made["ImageId"])


def _ids(answer: dict[str, Any]) -> set[str]:
    return {i["ImageId"] for i in answer["Images"]}


async def _permissions(client: Client, image_id: str) -> list[dict[str, str]]:
    answer = await client.call(
        "DescribeImageAttribute", ImageId=image_id, Attribute="launchPermission"
    )
    return list(answer["LaunchPermissions"])


async def test_a_shared_image_is_seen_and_launched_by_the_other_account(world: World) -> None:
    a = world.root
    image_id = await _owned_image(world, {"DeviceName": "/dev/sdb", "Ebs": {"VolumeSize": 2}})
    b_id, b = await world.tenant("globex")
    _, c = await world.tenant("initech")
    assert image_id not in _ids(await b.call("DescribeImages"))
    await _refused(b, "RunInstances", "InvalidAMIID.NotFound", ImageId=image_id,
                   InstanceType="t3.nano", MinCount=1, MaxCount=1)  # fmt: skip

    await a.call(
        "ModifyImageAttribute", ImageId=image_id, LaunchPermission={"Add": [{"UserId": b_id}]}
    )
    assert await _permissions(a, image_id) == [{"UserId": b_id}]
    assert image_id in _ids(await b.call("DescribeImages"))
    assert image_id in _ids(await b.call("DescribeImages", ExecutableUsers=["self"]))
    assert image_id in _ids(await b.call("DescribeImages", Owners=[world.tenant_id]))
    assert image_id not in _ids(await b.call("DescribeImages", Owners=["self"]))
    assert image_id in _ids(await a.call("DescribeImages", ExecutableUsers=[b_id]))
    assert image_id not in _ids(await a.call("DescribeImages", ExecutableUsers=["self"]))
    [seen] = (await b.call("DescribeImages", ImageIds=[image_id]))["Images"]
    assert seen["OwnerId"] == world.tenant_id and seen["Public"] is False
    assert image_id not in _ids(await c.call("DescribeImages"))  # a third account: no

    launched = await _run(world, b, image_id)
    assert launched["State"]["Name"] == "running"
    volume_ids = [m["Ebs"]["VolumeId"] for m in launched["BlockDeviceMappings"]]
    volumes = (await b.call("DescribeVolumes", VolumeIds=volume_ids))["Volumes"]
    assert len(volumes) == 2 and all("KmsKeyId" not in v for v in volumes)
    # The new volumes are the launching account's, under its key.
    keys = world.compute.disk_keys
    assert isinstance(keys, MemoryDiskKeys)
    for volume_id in volume_ids:
        record = await world.compute.describe_volumes(b_id, [volume_id])
        assert record[0].tenant_id == b_id
        assert await keys.open_key(record[0])
    # Nor can the owner delete a snapshot under another account's volume, once deregistered.
    snapshot_id = next(v["SnapshotId"] for v in volumes if v.get("SnapshotId"))
    await a.call("DeregisterImage", ImageId=image_id)
    message = await _refused(a, "DeleteSnapshot", "InvalidSnapshot.InUse", SnapshotId=snapshot_id)
    assert b_id not in message and "vol-" not in message


async def test_only_the_owner_changes_describes_or_resets(world: World) -> None:
    a = world.root
    image_id = await _owned_image(world)
    b_id, b = await world.tenant("globex")
    await a.call(
        "ModifyImageAttribute", ImageId=image_id, Attribute="launchPermission",
        OperationType="add", UserIds=[b_id, "333333333333"],
    )  # fmt: skip
    assert {p["UserId"] for p in await _permissions(a, image_id)} == {b_id, "333333333333"}
    for action, params in (
        ("ModifyImageAttribute", {"LaunchPermission": {"Add": [{"UserId": "444444444444"}]}}),
        ("ResetImageAttribute", {"Attribute": "launchPermission"}),
        ("DescribeImageAttribute", {"Attribute": "launchPermission"}),
        ("DeregisterImage", {}),
    ):
        await _refused(b, action, "InvalidAMIID.NotFound", ImageId=image_id, **params)
    await a.call(
        "ModifyImageAttribute", ImageId=image_id,
        LaunchPermission={"Remove": [{"UserId": "333333333333"}, {"UserId": "555555555555"}]},
    )  # fmt: skip
    assert await _permissions(a, image_id) == [{"UserId": b_id}]
    await a.call("ResetImageAttribute", ImageId=image_id, Attribute="launchPermission")
    assert await _permissions(a, image_id) == []
    assert image_id not in _ids(await b.call("DescribeImages"))

    # The description, and the block device mapping, as attributes.
    await a.call("ModifyImageAttribute", ImageId=image_id, Description={"Value": "v2"})
    answer = await a.call("DescribeImageAttribute", ImageId=image_id, Attribute="description")
    assert answer["Description"] == {"Value": "v2"}
    answer = await a.call(
        "DescribeImageAttribute", ImageId=image_id, Attribute="blockDeviceMapping"
    )
    assert [m["DeviceName"] for m in answer["BlockDeviceMappings"]] == ["/dev/xvda"]
    answer = await a.call(
        "DescribeImageAttribute", ImageId=image_id, Attribute="deregistrationProtection"
    )
    assert answer["DeregistrationProtection"] == {"Value": "disabled"}
    for empty in ("kernel", "productCodes", "bootMode", "imdsSupport", "lastLaunchedTime"):
        answer = await a.call("DescribeImageAttribute", ImageId=image_id, Attribute=empty)
        assert answer["ImageId"] == image_id
        values = [v for k, v in answer.items() if k not in ("ImageId", "ResponseMetadata")]
        assert not any(values), answer  # empty, or absent


async def test_refusals(world: World) -> None:
    a = world.root
    image_id = await _owned_image(world)
    await _refused(
        a, "ModifyImageAttribute", "OperationNotPermitted", ImageId=image_id,
        LaunchPermission={"Add": [{"Group": "all"}]},
    )  # fmt: skip
    assert (await a.call("DescribeImages", ImageIds=[image_id]))["Images"][0]["Public"] is False
    await _refused(
        a, "ModifyImageAttribute", "InvalidParameterValue", ImageId=image_id,
        LaunchPermission={"Add": [{"UserId": "not an account!"}]},
    )  # fmt: skip
    await _refused(
        a, "ModifyImageAttribute", "InvalidParameterValue", ImageId=image_id,
        LaunchPermission={"Add": [{"UserId": world.tenant_id}]},
    )  # fmt: skip
    await _refused(
        a, "ModifyImageAttribute", "UnsupportedOperation", ImageId=image_id,
        LaunchPermission={"Add": [{"OrganizationArn": "arn:aws:organizations::1:o/x"}]},
    )  # fmt: skip
    await _refused(a, "ModifyImageAttribute", "MissingParameter", ImageId=image_id)
    await _refused(a, "ResetImageAttribute", "InvalidParameterValue", ImageId=image_id,
                   Attribute="kernel")  # fmt: skip
    await _refused(a, "DescribeImageAttribute", "InvalidParameterValue", ImageId=image_id,
                   Attribute="nonsense")  # fmt: skip
    # The operator's public image is not the tenant's to change.
    await _refused(
        a, "ModifyImageAttribute", "InvalidAMIID.NotFound", ImageId=world.image.image_id,
        LaunchPermission={"Add": [{"UserId": "333333333333"}]},
    )  # fmt: skip
    assert await _permissions(a, image_id) == []

    # An image under a customer-managed KMS key is shared as any other (since 2026-12-05):
    # its key's owner decides at each launch (tests/unit/ec2api/test_image_sharing_cmk.py).
    keys = world.compute.disk_keys
    assert isinstance(keys, MemoryDiskKeys)
    arn = f"arn:aws:kms:eu-fr-1:{world.tenant_id}:key/{uuid.uuid4()}"
    keys.add_kms_key(arn)
    sealed = await _owned_image(
        world, {"DeviceName": "/dev/xvda", "Ebs": {"KmsKeyId": arn}}, name="sealed"
    )
    await a.call(
        "ModifyImageAttribute", ImageId=sealed,
        LaunchPermission={"Add": [{"UserId": "333333333333"}]},
    )  # fmt: skip
    assert await _permissions(a, sealed) == [{"UserId": "333333333333"}]


async def test_the_accounts_an_image_is_shared_with_are_a_setting(tmp_path: Path) -> None:
    async with ec2_world(tmp_path, max_image_launch_permissions=1) as world:
        image_id = await _owned_image(world)
        add = {"ImageId": image_id}
        await world.root.call(
            "ModifyImageAttribute", LaunchPermission={"Add": [{"UserId": "333333333333"}]}, **add
        )
        await _refused(
            world.root, "ModifyImageAttribute", "InvalidParameterValue",
            LaunchPermission={"Add": [{"UserId": "444444444444"}]}, **add,
        )  # fmt: skip
        # Replacing one account by another in one call stays within the limit.
        await world.root.call(
            "ModifyImageAttribute",
            LaunchPermission={
                "Add": [{"UserId": "444444444444"}],
                "Remove": [{"UserId": "333333333333"}],
            },
            **add,
        )
        assert await _permissions(world.root, image_id) == [{"UserId": "444444444444"}]


async def test_the_other_account_copies_a_shared_image_with_every_device(world: World) -> None:
    a = world.root
    image_id = await _owned_image(
        world,
        {"DeviceName": "/dev/sdb", "Ebs": {"VolumeSize": 2, "DeleteOnTermination": False}},
    )
    b_id, b = await world.tenant("globex")
    await a.call(
        "ModifyImageAttribute", ImageId=image_id, LaunchPermission={"Add": [{"UserId": b_id}]}
    )
    copied = await b.call(
        "CopyImage", SourceImageId=image_id, SourceRegion="eu-fr-1", Name="globex-golden"
    )
    [copy] = (await b.call("DescribeImages", ImageIds=[copied["ImageId"]]))["Images"]
    assert copy["OwnerId"] == b_id and copy["State"] == "available"
    mappings = {m["DeviceName"]: m["Ebs"] for m in copy["BlockDeviceMappings"]}
    assert set(mappings) == {"/dev/xvda", "/dev/sdb"}
    assert (mappings["/dev/sdb"]["VolumeSize"], mappings["/dev/sdb"]["DeleteOnTermination"]) == (
        2,
        False,
    )
    own = {s["SnapshotId"]: s for s in (await b.call("DescribeSnapshots"))["Snapshots"]}
    assert {m["SnapshotId"] for m in mappings.values()} <= own.keys()  # the copies are its own
    assert all(
        own[m["SnapshotId"]]["Description"].startswith(
            f"Copied for DestinationAmi {copied['ImageId']} from SourceAmi {image_id}"
        )
        for m in mappings.values()
    )

    # The owner takes its image and snapshots away: the copy launches with both devices.
    [source] = (await a.call("DescribeImages", ImageIds=[image_id]))["Images"]
    await a.call("DeregisterImage", ImageId=image_id)
    for mapping in source["BlockDeviceMappings"]:
        await a.call("DeleteSnapshot", SnapshotId=mapping["Ebs"]["SnapshotId"])
    launched = await _run(world, b, copied["ImageId"])
    assert {m["DeviceName"] for m in launched["BlockDeviceMappings"]} == {"/dev/xvda", "/dev/sdb"}
