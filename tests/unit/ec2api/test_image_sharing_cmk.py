"""Images under a customer-managed KMS key shared with another account (decision 0147,
2026-12-05), in process over the real key service: the other account launches or copies
such an image when the key's owner lets it use the key (a grant, or a key policy statement
with the account's IAM policy), each use checked as that account by the KMS service's own
evaluation and audited in both trails; its new volumes and snapshots are under its own keys,
so revoking the grant stops further launches, never what it made. Refused, the launch ends
as EC2 ends it (``terminated``, ``Client.InternalError``; a disabled key
``Client.InvalidKMSKey.InvalidState``) and leaves the account nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from support.ec2_kms_world import Account, KmsError, KmsWorld, ec2_kms_world
from support.ec2app import ApiError, Client


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[KmsWorld]:
    async with ec2_kms_world(tmp_path) as made:
        yield made


async def _run(world: KmsWorld, client: Client, image_id: str, *mappings: Any) -> dict[str, Any]:
    run = await client.call(
        "RunInstances", ImageId=image_id, InstanceType="t3.nano", MinCount=1, MaxCount=1,
        BlockDeviceMappings=list(mappings),
    )  # fmt: skip
    await world.compute.settle()
    instance_id = run["Instances"][0]["InstanceId"]
    described = await client.call("DescribeInstances", InstanceIds=[instance_id])
    return dict(described["Reservations"][0]["Instances"][0])


async def _sealed_image(world: KmsWorld, a: Account) -> tuple[str, str]:
    """A's key, and A's image of an instance whose root and further volume are under it."""
    key_arn = str((await a.kms("CreateKey"))["KeyMetadata"]["Arn"])
    instance = await _run(
        world, a.ec2, world.image.image_id,
        {"DeviceName": "/dev/xvda", "Ebs": {"KmsKeyId": key_arn}},
        {"DeviceName": "/dev/sdb", "Ebs": {"VolumeSize": 2, "KmsKeyId": key_arn}},
    )  # fmt: skip
    assert instance["State"]["Name"] == "running"
    await a.ec2.call("StopInstances", InstanceIds=[instance["InstanceId"]])
    await world.compute.settle()
    made = await a.ec2.call("CreateImage", InstanceId=instance["InstanceId"], Name="sealed")
    image_id = str(made["ImageId"])
    [image] = (await a.ec2.call("DescribeImages", ImageIds=[image_id]))["Images"]
    snapshots = (await a.ec2.call("DescribeSnapshots"))["Snapshots"]
    assert len(image["BlockDeviceMappings"]) == 2
    assert {s["KmsKeyId"] for s in snapshots} == {key_arn}
    return key_arn, image_id


async def _share(a: Account, image_id: str, *accounts: Account) -> None:
    await a.ec2.call(
        "ModifyImageAttribute",
        ImageId=image_id,
        LaunchPermission={"Add": [{"UserId": other.id} for other in accounts]},
    )


async def _grant(a: Account, key_arn: str, b: Account) -> str:
    answer = await a.kms(
        "CreateGrant", KeyId=key_arn, GranteePrincipal=b.root_arn, Operations=["Decrypt"]
    )
    return str(answer["GrantId"])


async def _volumes(client: Client) -> list[dict[str, Any]]:
    return list((await client.call("DescribeVolumes"))["Volumes"])


async def _refused_launch(world: KmsWorld, b: Account, image_id: str, code: str, a_id: str) -> None:
    """The launch is answered, then ends as EC2 ends it, leaving the account no volume."""
    before = {v["VolumeId"] for v in await _volumes(b.ec2)}
    instance = await _run(world, b.ec2, image_id)
    # Nothing of the owner's key is told: not its ARN, not its account.
    described = b.ec2.last_body.decode()
    assert "arn:aws:kms" not in described and a_id not in described
    assert instance["State"]["Name"] == "terminated", instance["State"]
    assert instance["StateReason"]["Code"] == code
    assert {v["VolumeId"] for v in await _volumes(b.ec2)} == before


async def test_shared_with_a_grant_launches_under_the_launching_accounts_key(
    world: KmsWorld,
) -> None:
    a = await world.account("acme")
    b = await world.account("globex")
    key_arn, image_id = await _sealed_image(world, a)
    # Sharing an image under a customer-managed key is no longer refused.
    await _share(a, image_id, b)
    executable = await b.ec2.call("DescribeImages", ExecutableUsers=["self"])
    assert image_id in {i["ImageId"] for i in executable["Images"]}

    # The image is shared, the key is not: EC2's client error on launch, nothing left.
    await _refused_launch(world, b, image_id, "Client.InternalError", a.id)
    refused = [
        e for e in await world.events(a.id)
        if e.action == "kms:Decrypt" and e.principal == b.root_arn
    ]  # fmt: skip
    assert refused and refused[0].outcome.value == "failure"
    assert refused[0].details["caller_account"] == b.id

    grant_id = await _grant(a, key_arn, b)
    launched = await _run(world, b.ec2, image_id)
    assert launched["State"]["Name"] == "running"
    volume_ids = [m["Ebs"]["VolumeId"] for m in launched["BlockDeviceMappings"]]
    volumes = (await b.ec2.call("DescribeVolumes", VolumeIds=volume_ids))["Volumes"]
    assert len(volumes) == 2
    # Under B's own key (its account's default), never A's: no KmsKeyId.
    assert all("KmsKeyId" not in v for v in volumes), volumes
    for record in await world.compute.describe_volumes(b.id, volume_ids):
        assert record.tenant_id == b.id and record.kms_key_arn is None
    # B's own KMS key named for the root volume: the root is under it.
    own_key = str((await b.kms("CreateKey"))["KeyMetadata"]["Arn"])
    named = await _run(
        world, b.ec2, image_id, {"DeviceName": "/dev/xvda", "Ebs": {"KmsKeyId": own_key}}
    )
    assert named["State"]["Name"] == "running"
    keys = {
        v["Attachments"][0]["Device"]: v.get("KmsKeyId")
        for v in (await b.ec2.call(
            "DescribeVolumes",
            VolumeIds=[m["Ebs"]["VolumeId"] for m in named["BlockDeviceMappings"]],
        ))["Volumes"]
    }  # fmt: skip
    assert keys == {"/dev/xvda": own_key, "/dev/sdb": None}

    # B's uses of A's key are in A's trail (and B's), one kms:Decrypt per snapshot read.
    uses = [
        e for e in await world.events(a.id)
        if e.principal == b.root_arn and e.outcome.value == "success"
    ]  # fmt: skip
    assert {(e.action, e.resource) for e in uses} == {("kms:Decrypt", key_arn)}
    assert len(uses) == 4  # two launches, two snapshots each
    assert all(e.details["caller_account"] == b.id and e.details["via"] == "ec2" for e in uses)
    mine = [e for e in await world.events(b.id) if e.resource == key_arn]
    assert len([e for e in mine if e.outcome.value == "success"]) == 4

    # The grant revoked: no further launch, yet B's instances stop and start (B's keys).
    await a.kms("RevokeGrant", KeyId=key_arn, GrantId=grant_id)
    await _refused_launch(world, b, image_id, "Client.InternalError", a.id)
    await b.ec2.call("StopInstances", InstanceIds=[launched["InstanceId"]])
    await world.compute.settle()
    await b.ec2.call("StartInstances", InstanceIds=[launched["InstanceId"]])
    await world.compute.settle()
    [again] = (await b.ec2.call("DescribeInstances", InstanceIds=[launched["InstanceId"]]))[
        "Reservations"
    ]
    assert again["Instances"][0]["State"]["Name"] == "running"


async def test_a_disabled_key_ends_the_launch_with_ec2s_reason(world: KmsWorld) -> None:
    a = await world.account("acme")
    b = await world.account("globex")
    key_arn, image_id = await _sealed_image(world, a)
    await _share(a, image_id, b)
    await _grant(a, key_arn, b)
    await a.kms("DisableKey", KeyId=key_arn)
    await _refused_launch(world, b, image_id, "Client.InvalidKMSKey.InvalidState", a.id)
    await a.kms("EnableKey", KeyId=key_arn)
    assert (await _run(world, b.ec2, image_id))["State"]["Name"] == "running"


async def test_a_key_policy_naming_the_account_delegates_to_its_iam_policies(
    world: KmsWorld,
) -> None:
    """The KMS service's cross-account rule, not a second one: the key policy names B's
    account, and each of B's users also needs its IAM policy to allow the key's use."""
    a = await world.account("acme")
    b = await world.account("globex")
    key_arn, image_id = await _sealed_image(world, a)
    await _share(a, image_id, b)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": a.root_arn}, "Action": "kms:*",
             "Resource": "*"},
            {"Effect": "Allow", "Principal": {"AWS": b.root_arn},
             "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant", "kms:ReEncrypt*",
                        "kms:GenerateDataKeyWithoutPlaintext"],
             "Resource": "*"},
        ],
    }  # fmt: skip
    await a.kms("PutKeyPolicy", KeyId=key_arn, PolicyName="default", Policy=json.dumps(policy))
    ec2_only = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}],
    }
    builder = await world.user(b, "builder", ec2_only)
    await _refused_launch(world, builder, image_id, "Client.InternalError", a.id)
    with_key = {
        "Version": "2012-10-17",
        "Statement": [
            *ec2_only["Statement"],
            {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key_arn},
        ],
    }
    operator = await world.user(b, "operator", with_key)
    assert (await _run(world, operator.ec2, image_id))["State"]["Name"] == "running"
    # B's root needs no IAM policy of its own.
    assert (await _run(world, b.ec2, image_id))["State"]["Name"] == "running"


async def test_copy_image_of_a_shared_cmk_image(world: KmsWorld) -> None:
    a = await world.account("acme")
    b = await world.account("globex")
    key_arn, image_id = await _sealed_image(world, a)
    await _share(a, image_id, b)
    copy = {"SourceImageId": image_id, "SourceRegion": "eu-fr-1", "Name": "globex-golden"}
    with pytest.raises(ApiError) as refused:
        await b.ec2.call("CopyImage", **copy)
    assert refused.value.code == "UnauthorizedOperation"
    assert "arn:aws:kms" not in str(refused.value)
    assert (await b.ec2.call("DescribeImages", Owners=["self"]))["Images"] == []
    assert (await b.ec2.call("DescribeSnapshots"))["Snapshots"] == []

    grant_id = await _grant(a, key_arn, b)
    copied = await b.ec2.call("CopyImage", **copy)
    snapshots = (await b.ec2.call("DescribeSnapshots"))["Snapshots"]
    assert len(snapshots) == 2 and all("KmsKeyId" not in s for s in snapshots), snapshots
    # The copy is B's own: A revokes the grant, deregisters, deletes: B still launches it.
    await a.kms("RevokeGrant", KeyId=key_arn, GrantId=grant_id)
    [source] = (await a.ec2.call("DescribeImages", ImageIds=[image_id]))["Images"]
    await a.ec2.call("DeregisterImage", ImageId=image_id)
    for mapping in source["BlockDeviceMappings"]:
        await a.ec2.call("DeleteSnapshot", SnapshotId=mapping["Ebs"]["SnapshotId"])
    launched = await _run(world, b.ec2, copied["ImageId"])
    assert launched["State"]["Name"] == "running"
    assert len(launched["BlockDeviceMappings"]) == 2
    decrypts = [
        e for e in await world.events(a.id)
        if e.principal == b.root_arn and e.action == "kms:Decrypt"
    ]  # fmt: skip
    assert [e.outcome.value for e in decrypts] == ["failure", "success", "success"]


async def test_isolation(world: KmsWorld) -> None:
    """A third account: not shared, it sees nothing; shared without the key, it gets nothing.
    A grant of Decrypt to one account lends no other use of the owner's key."""
    a = await world.account("acme")
    b = await world.account("globex")
    c = await world.account("initech")
    key_arn, image_id = await _sealed_image(world, a)
    await _share(a, image_id, b)
    await _grant(a, key_arn, b)
    assert image_id not in {i["ImageId"] for i in (await c.ec2.call("DescribeImages"))["Images"]}
    with pytest.raises(ApiError) as hidden:
        await c.ec2.call(
            "RunInstances", ImageId=image_id, InstanceType="t3.nano", MinCount=1, MaxCount=1
        )
    assert hidden.value.code == "InvalidAMIID.NotFound"
    await _share(a, image_id, c)
    await _refused_launch(world, c, image_id, "Client.InternalError", a.id)
    # B's grant is Decrypt of A's snapshots through EC2: not a volume of B's under A's key.
    with pytest.raises(ApiError) as not_lent:
        await b.ec2.call(
            "CreateVolume", AvailabilityZone="eu-fr-1a", Size=1, KmsKeyId=key_arn, Encrypted=True
        )
    assert not_lent.value.code in ("InvalidParameterValue", "UnauthorizedOperation")
    assert await _volumes(b.ec2) == []
    # Nor a direct KMS call outside the grant's operations.
    with pytest.raises(KmsError) as outside:
        await b.kms("GenerateDataKey", KeyId=key_arn, KeySpec="AES_256")
    assert outside.value.error_type in ("AccessDeniedException", "NotFoundException")
