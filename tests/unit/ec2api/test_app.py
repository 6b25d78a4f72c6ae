"""The EC2 API in process, through botocore's own serializer and parser."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from botocore.credentials import Credentials
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from support.computekit import MemoryDiskKeys
from support.ec2app import ApiError, Client, World


async def test_run_describe_lifecycle(world: World) -> None:
    c = world.root
    user_data = base64.b64encode(b"#cloud-config\n").decode()
    run = await c.call(
        "RunInstances",
        ImageId=world.image.image_id,
        InstanceType="t3.nano",
        MinCount=2,
        MaxCount=2,
        UserData=user_data,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "web"}]}],
    )
    ids = [i["InstanceId"] for i in run["Instances"]]
    assert run["Instances"][0]["State"] == {"Code": 0, "Name": "pending"}
    assert run["OwnerId"] == world.tenant_id
    await world.compute.settle()
    described = await c.call("DescribeInstances", InstanceIds=ids)
    [reservation] = described["Reservations"]
    assert {i["State"]["Name"] for i in reservation["Instances"]} == {"running"}
    assert reservation["Instances"][0]["Tags"] == [{"Key": "Name", "Value": "web"}]
    assert reservation["Instances"][0]["Placement"]["AvailabilityZone"] == "eu-fr-1a"
    by_tag = await c.call(
        "DescribeInstances",
        Filters=[
            {"Name": "tag:Name", "Values": ["w*"]},
            {"Name": "instance-state-name", "Values": ["running"]},
        ],
    )
    assert sum(len(r["Instances"]) for r in by_tag["Reservations"]) == 2
    none = await c.call("DescribeInstances", Filters=[{"Name": "image-id", "Values": ["ami-x"]}])
    assert none["Reservations"] == []
    stopped = await c.call("StopInstances", InstanceIds=ids[:1])
    assert stopped["StoppingInstances"][0]["CurrentState"]["Name"] == "stopping"
    assert stopped["StoppingInstances"][0]["PreviousState"]["Name"] == "running"
    await world.compute.settle()
    status = await c.call("DescribeInstanceStatus", IncludeAllInstances=True)
    assert {s["InstanceState"]["Name"] for s in status["InstanceStatuses"]} == {
        "running",
        "stopped",
    }
    console = await c.call("GetConsoleOutput", InstanceId=ids[1])
    assert "booted" in base64.b64decode(console["Output"]).decode()
    terminated = await c.call("TerminateInstances", InstanceIds=ids)
    assert {t["CurrentState"]["Name"] for t in terminated["TerminatingInstances"]} == {
        "shutting-down"
    }
    await world.compute.settle()
    with pytest.raises(ApiError) as raised:
        await c.call("StartInstances", InstanceIds=ids[:1])
    assert raised.value.code == "IncorrectInstanceState"


async def test_launch_time_is_the_latest_start(world: World) -> None:
    """EC2 moves LaunchTime to each start; the first launch stays the primary interface's
    attach time (decision 0114)."""
    c = world.root
    now = [datetime(2026, 12, 4, 9, 0, tzinfo=UTC)]
    world.compute.clock = lambda: now[0]
    run = await c.call(
        "RunInstances", ImageId=world.image.image_id, InstanceType="t3.nano", MinCount=1, MaxCount=1
    )
    instance_id = run["Instances"][0]["InstanceId"]
    assert run["Instances"][0]["LaunchTime"] == now[0]
    await world.compute.settle()
    now[0] += timedelta(hours=3)
    await c.call("StopInstances", InstanceIds=[instance_id])
    await world.compute.settle()
    now[0] += timedelta(hours=2)
    await c.call("StartInstances", InstanceIds=[instance_id])
    await world.compute.settle()
    described = await c.call("DescribeInstances", InstanceIds=[instance_id])
    [instance] = described["Reservations"][0]["Instances"]
    assert instance["State"]["Name"] == "running"
    assert instance["LaunchTime"] == datetime(2026, 12, 4, 14, 0, tzinfo=UTC)
    [interface] = instance["NetworkInterfaces"]
    assert interface["Attachment"]["AttachTime"] == datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


async def test_pagination(world: World) -> None:
    c = world.root
    await c.call(
        "RunInstances", ImageId=world.image.image_id, InstanceType="t3.nano", MinCount=4, MaxCount=4
    )
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        extra = {"NextToken": token} if token else {}
        page = await c.call("DescribeInstances", MaxResults=5, **extra)
        seen += [i["InstanceId"] for r in page["Reservations"] for i in r["Instances"]]
        pages += 1
        token = page.get("NextToken")
        if not token:
            break
    assert len(seen) == len(set(seen)) == 4
    with pytest.raises(ApiError) as raised:
        await c.call("DescribeInstances", MaxResults=5, InstanceIds=seen[:1])
    assert raised.value.code == "InvalidParameterCombination"


async def test_volumes_come_in_pages_of_max_results(world: World) -> None:
    c = world.root
    made = [
        (await c.call("CreateVolume", Size=1, AvailabilityZone="eu-fr-1a"))["VolumeId"]
        for _ in range(7)
    ]
    pages: list[list[str]] = []
    token = None
    while True:
        extra = {"NextToken": token} if token else {}
        page = await c.call("DescribeVolumes", MaxResults=5, **extra)
        pages.append([v["VolumeId"] for v in page["Volumes"]])
        token = page.get("NextToken")
        if not token:
            break
    assert [len(p) for p in pages] == [5, 2]
    assert [v for p in pages for v in p] == sorted(made)
    for params, code in [
        ({"MaxResults": 5, "VolumeIds": made[:1]}, "InvalidParameterCombination"),
        ({"MaxResults": 4}, "InvalidParameterValue"),
        ({"MaxResults": 501}, "InvalidParameterValue"),
        ({"MaxResults": 5, "NextToken": "%%%"}, "InvalidParameterValue"),
    ]:
        with pytest.raises(ApiError) as raised:
            await c.call("DescribeVolumes", **params)
        assert raised.value.code == code, params


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"ImageId": "ami-0123456789abcdef0"}, "InvalidAMIID.NotFound"),
        ({"ImageId": "bogus"}, "InvalidAMIID.Malformed"),
        ({"InstanceType": "t9.mega"}, "InvalidParameterValue"),
        ({"UserData": base64.b64encode(b"x" * 16385).decode()}, "InvalidParameterValue"),
        ({"KeyName": "nope"}, "InvalidKeyPair.NotFound"),
        ({"MinCount": 50, "MaxCount": 50}, "InstanceLimitExceeded"),
        ({"MinCount": 5, "MaxCount": 5}, "InsufficientInstanceCapacity"),
        ({"SecurityGroupIds": ["sg-0123456789abcdef0"]}, "InvalidGroup.NotFound"),
    ],
)
async def test_run_instances_bad_input(world: World, params: dict[str, object], code: str) -> None:
    request = {
        "ImageId": world.image.image_id,
        "InstanceType": "t3.nano",
        "MinCount": 1,
        "MaxCount": 1,
        **params,
    }
    with pytest.raises(ApiError) as raised:
        await world.root.call("RunInstances", **request)
    assert raised.value.code == code
    assert raised.value.status < 500
    assert (await world.root.call("DescribeInstances"))["Reservations"] == []


async def test_other_tenants_ids_are_not_found(world: World) -> None:
    run = await world.root.call(
        "RunInstances", ImageId=world.image.image_id, InstanceType="t3.nano", MinCount=1, MaxCount=1
    )
    instance_id = run["Instances"][0]["InstanceId"]
    _, other = await world.tenant("globex")
    for operation in ("DescribeInstances", "TerminateInstances", "StopInstances"):
        with pytest.raises(ApiError) as raised:
            await other.call(operation, InstanceIds=[instance_id])
        assert raised.value.code == "InvalidInstanceID.NotFound"
    assert (await other.call("DescribeInstances"))["Reservations"] == []


async def test_key_pairs(world: World) -> None:
    c = world.root
    made = await c.call("CreateKeyPair", KeyName="k1", KeyType="ed25519")
    assert "OPENSSH PRIVATE KEY" in made["KeyMaterial"]
    assert made["KeyPairId"].startswith("key-")
    with pytest.raises(ApiError) as raised:
        await c.call("CreateKeyPair", KeyName="k1")
    assert raised.value.code == "InvalidKeyPair.Duplicate"
    line = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    )
    imported = await c.call("ImportKeyPair", KeyName="k2", PublicKeyMaterial=line)
    listed = await c.call("DescribeKeyPairs", IncludePublicKey=True)
    assert {k["KeyName"] for k in listed["KeyPairs"]} == {"k1", "k2"}
    assert imported["KeyFingerprint"] in {k["KeyFingerprint"] for k in listed["KeyPairs"]}
    await c.call("DeleteKeyPair", KeyName="k1")
    await c.call("DeleteKeyPair", KeyName="k1")  # idempotent, as EC2
    with pytest.raises(ApiError) as raised:
        await c.call("DescribeKeyPairs", KeyNames=["k1"])
    assert raised.value.code == "InvalidKeyPair.NotFound"
    with pytest.raises(ApiError) as raised:
        await c.call("ImportKeyPair", KeyName="k3", PublicKeyMaterial=b"not a key")
    assert raised.value.code == "InvalidParameterValue"


async def test_security_groups(world: World) -> None:
    c = world.root
    made = await c.call("CreateSecurityGroup", GroupName="web", Description="web servers")
    group_id = made["GroupId"]
    await c.call(
        "AuthorizeSecurityGroupIngress",
        GroupId=group_id,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "ssh"}],
                "Ipv6Ranges": [{"CidrIpv6": "2001:db8::/32"}],
            }
        ],
    )
    await c.call(
        "AuthorizeSecurityGroupEgress",
        GroupId=group_id,
        IpPermissions=[
            {
                "IpProtocol": "udp",
                "FromPort": 53,
                "ToPort": 53,
                "IpRanges": [{"CidrIp": "1.1.1.1/32"}],
            }
        ],
    )
    [group] = (await c.call("DescribeSecurityGroups", GroupIds=[group_id]))["SecurityGroups"]
    assert group["GroupName"] == "web"
    ingress = group["IpPermissions"]
    assert {
        p["IpRanges"][0]["CidrIp"] if p["IpRanges"] else p["Ipv6Ranges"][0]["CidrIpv6"]
        for p in ingress
    } == {"10.0.0.0/8", "2001:db8::/32"}
    assert len(group["IpPermissionsEgress"]) == 2
    for bad, code in [
        ("10.0.0.300/8", "InvalidParameterValue"),
        ("10.0.0.0/8", "InvalidPermission.Duplicate"),
    ]:
        with pytest.raises(ApiError) as raised:
            await c.call(
                "AuthorizeSecurityGroupIngress",
                GroupId=group_id,
                IpProtocol="tcp",
                FromPort=22,
                ToPort=22,
                CidrIp=bad,
            )
        assert raised.value.code == code
    await c.call(
        "RevokeSecurityGroupIngress",
        GroupId=group_id,
        IpProtocol="tcp",
        FromPort=22,
        ToPort=22,
        CidrIp="10.0.0.0/8",
    )
    with pytest.raises(ApiError) as raised:
        await c.call("CreateSecurityGroup", GroupName="web", Description="again")
    assert raised.value.code == "InvalidGroup.Duplicate"
    await c.call("DeleteSecurityGroup", GroupId=group_id)
    with pytest.raises(ApiError) as raised:
        await c.call("DescribeSecurityGroups", GroupIds=[group_id])
    assert raised.value.code == "InvalidGroup.NotFound"


async def test_tags_volumes_snapshots(world: World) -> None:
    c = world.root
    volume = await c.call(
        "CreateVolume",
        Size=2,
        AvailabilityZone="eu-fr-1a",
        TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "team", "Value": "a"}]}],
    )
    volume_id = volume["VolumeId"]
    assert volume["State"] == "available"
    assert volume["Encrypted"] is True
    await c.call("CreateTags", Resources=[volume_id], Tags=[{"Key": "env", "Value": "prod"}])
    tags = await c.call("DescribeTags", Filters=[{"Name": "resource-id", "Values": [volume_id]}])
    assert {(t["Key"], t["Value"], t["ResourceType"]) for t in tags["Tags"]} == {
        ("team", "a", "volume"),
        ("env", "prod", "volume"),
    }
    await c.call("DeleteTags", Resources=[volume_id], Tags=[{"Key": "team"}])
    run = await c.call(
        "RunInstances", ImageId=world.image.image_id, InstanceType="t3.nano", MinCount=1, MaxCount=1
    )
    instance_id = run["Instances"][0]["InstanceId"]
    await world.compute.settle()
    attached = await c.call(
        "AttachVolume", VolumeId=volume_id, InstanceId=instance_id, Device="/dev/sdf"
    )
    assert attached["State"] == "attached"
    with pytest.raises(ApiError) as raised:
        await c.call("DeleteVolume", VolumeId=volume_id)
    assert raised.value.code == "VolumeInUse"
    snapshot = await c.call("CreateSnapshot", VolumeId=volume_id, Description="nightly")
    assert snapshot["State"] == "completed"
    [listed] = (await c.call("DescribeSnapshots", OwnerIds=["self"]))["Snapshots"]
    assert listed["SnapshotId"] == snapshot["SnapshotId"]
    await c.call("DetachVolume", VolumeId=volume_id)
    [vol] = (await c.call("DescribeVolumes", VolumeIds=[volume_id]))["Volumes"]
    assert (vol["State"], vol["Tags"]) == ("available", [{"Key": "env", "Value": "prod"}])
    await c.call("DeleteSnapshot", SnapshotId=snapshot["SnapshotId"])
    await c.call("DeleteVolume", VolumeId=volume_id)
    with pytest.raises(ApiError) as raised:
        await c.call("DescribeVolumes", VolumeIds=[volume_id])
    assert raised.value.code == "InvalidVolume.NotFound"


async def test_catalogue_calls(world: World) -> None:
    c = world.root
    types = await c.call("DescribeInstanceTypes", InstanceTypes=["t3.nano", "m5.large"])
    sizes = {
        t["InstanceType"]: (t["VCpuInfo"]["DefaultVCpus"], t["MemoryInfo"]["SizeInMiB"])
        for t in types["InstanceTypes"]
    }
    assert sizes == {"t3.nano": (2, 512), "m5.large": (2, 8192)}
    regions = await c.call("DescribeRegions")
    assert [r["RegionName"] for r in regions["Regions"]] == ["eu-fr-1"]
    zones = await c.call("DescribeAvailabilityZones")
    assert zones["AvailabilityZones"][0]["ZoneName"] == "eu-fr-1a"
    images = await c.call("DescribeImages")
    assert [i["ImageId"] for i in images["Images"]] == [world.image.image_id]
    assert images["Images"][0]["Public"] is True


async def test_errors_have_ec2s_shape(world: World) -> None:
    status, parsed = await world.root.raw("DescribeInstances", InstanceIds=["i-0123456789abcdef0"])
    assert status == 400
    body = world.root.last_body.decode()
    assert body.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>')
    assert "<RequestID>" in body
    assert parsed["Error"]["Code"] == "InvalidInstanceID.NotFound"


async def test_unsigned_and_unauthorised_calls(world: World) -> None:
    anonymous = Client(world.app, None)
    status, parsed = await anonymous.raw("DescribeInstances")
    assert (status, parsed["Error"]["Code"]) == (401, "MissingAuthenticationToken")
    await world.identity.create_user(world.tenant_id, "bob")
    created = await world.identity.create_access_key(world.tenant_id, "bob")
    bob = Client(world.app, Credentials(created.key.access_key_id, created.secret_access_key))
    with pytest.raises(ApiError) as raised:
        await bob.call("DescribeInstances")
    assert (raised.value.status, raised.value.code) == (403, "UnauthorizedOperation")
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}],
        }
    )
    await world.identity.put_user_policy(world.tenant_id, "bob", "read", policy)
    assert (await bob.call("DescribeInstances"))["Reservations"] == []
    with pytest.raises(ApiError) as raised:
        await bob.call("RunInstances", ImageId=world.image.image_id, MinCount=1, MaxCount=1)
    assert raised.value.code == "UnauthorizedOperation"


@pytest.mark.parametrize(
    "extra",
    [
        {"BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"Iops": 3000}}]},
        {"BlockDeviceMappings": [{"DeviceName": "/dev/sdb", "Ebs": {"Throughput": 250}}]},
        {"BlockDeviceMappings": [{"DeviceName": "/dev/sdb", "Ebs": {"VolumeType": "io2"}}]},
        {"BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "NoDevice": ""}]},
        {"BlockDeviceMappings": [{"DeviceName": "/dev/sdb", "VirtualName": "ephemeral0"}]},
        # Metadata options, protection and the shutdown behaviour are handled since decision
        # 0145; an IPv6 endpoint or an option EC2 does not have is not.
        {"MetadataOptions": {"HttpProtocolIpv6": "enabled"}},
        # A Spot Instance hibernated at its interruption (decision 0202: Spot is offered,
        # hibernation is not).
        {
            "InstanceMarketOptions": {
                "MarketType": "spot",
                "SpotOptions": {
                    "SpotInstanceType": "persistent",
                    "InstanceInterruptionBehavior": "hibernate",
                },
            }
        },
        {"Placement": {"Tenancy": "dedicated"}},
        # Handled since decision 0106 with AssociatePublicIpAddress; a chosen address is not.
        {"NetworkInterfaces": [{"DeviceIndex": 0, "PrivateIpAddress": "172.31.0.9"}]},
        # IPv6 addresses are handled since decision 0217; prefixes are not.
        {"NetworkInterfaces": [{"DeviceIndex": 0, "Ipv6PrefixCount": 1}]},
        {"HibernationOptions": {"Configured": True}},
        # CpuOptions are handled since decision 0214; AMD SEV-SNP is not (no type has it).
        {"CpuOptions": {"AmdSevSnp": "enabled"}},
    ],
)
async def test_run_instances_refuses_what_it_would_not_do(
    world: World, extra: dict[str, object]
) -> None:
    # Each of these would start an instance other than the one asked for: refused, and no
    # instance is started (decision 0060).
    request = {"ImageId": world.image.image_id, "InstanceType": "t3.nano", "MinCount": 1,
               "MaxCount": 1, **extra}  # fmt: skip
    with pytest.raises(ApiError) as raised:
        await world.root.call("RunInstances", **request)
    assert (raised.value.status, raised.value.code) == (400, "UnsupportedOperation")
    assert (await world.root.call("DescribeInstances"))["Reservations"] == []


async def test_the_root_device_mapping_sizes_and_keys_the_root_volumes(world: World) -> None:
    # Decision 0062: the root device's mapping gives the root volumes' size and KMS key.
    keys = world.compute.disk_keys
    assert isinstance(keys, MemoryDiskKeys)
    arn = f"arn:aws:kms:eu-fr-1:{world.tenant_id}:key/{uuid.uuid4()}"
    keys.add_kms_key(arn)
    base = {"ImageId": world.image.image_id, "InstanceType": "t3.nano"}
    ebs = {"VolumeSize": 30, "KmsKeyId": arn, "Encrypted": True, "DeleteOnTermination": True,
           "VolumeType": "gp3"}  # fmt: skip
    run = await world.root.call(
        "RunInstances", **base, MinCount=2, MaxCount=2,
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": ebs}],
    )  # fmt: skip
    ids = [i["InstanceId"] for i in run["Instances"]]
    await world.compute.settle()
    volumes = (await world.root.call("DescribeVolumes"))["Volumes"]
    roots = {v["Attachments"][0]["InstanceId"]: v for v in volumes}
    assert set(roots) == set(ids)
    assert {(v["Size"], v["KmsKeyId"]) for v in roots.values()} == {(30, arn)}
    described = await world.root.call("DescribeInstances", InstanceIds=ids)
    assert {i["State"]["Name"] for i in described["Reservations"][0]["Instances"]} == {"running"}

    for mapping, code in (
        ({"DeviceName": "/dev/xvda", "Ebs": {"KmsKeyId": "alias/none-such"}},
         "InvalidParameterValue"),
        ({"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 0}}, "InvalidParameterValue"),
        # The root volume is made from the image; another snapshot cannot stand in for it.
        ({"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": "snap-0123456789abcdef0"}},
         "InvalidBlockDeviceMapping"),
    ):  # fmt: skip
        with pytest.raises(ApiError) as raised:
            await world.root.call(
                "RunInstances", **base, MinCount=1, MaxCount=1, BlockDeviceMappings=[mapping]
            )
        assert raised.value.code == code, mapping
    keys.disable_kms_key(arn)
    with pytest.raises(ApiError) as raised:
        await world.root.call(
            "RunInstances", **base, MinCount=1, MaxCount=1,
            BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"KmsKeyId": arn}}],
        )  # fmt: skip
    assert raised.value.code == "IncorrectState"
    running = await world.root.call("DescribeInstances")
    assert {i["InstanceId"] for r in running["Reservations"] for i in r["Instances"]} == set(ids)
    # Stopped, an instance whose root volume's key is disabled does not boot again.
    await world.root.call("StopInstances", InstanceIds=ids[:1])
    await world.compute.settle()
    await world.root.call("StartInstances", InstanceIds=ids[:1])
    await world.compute.settle()
    [stopped] = (await world.root.call("DescribeInstances", InstanceIds=ids[:1]))["Reservations"]
    instance = stopped["Instances"][0]
    assert instance["State"]["Name"] == "stopped"
    assert instance["StateReason"]["Code"] == "Client.InvalidKMSKey.InvalidState"


async def test_what_is_done_anyway_is_taken_as_asked(world: World) -> None:
    run = await world.root.call(
        "RunInstances",
        ImageId=world.image.image_id,
        InstanceType="t3.nano",
        MinCount=1,
        MaxCount=1,
        MetadataOptions={"HttpTokens": "required", "HttpEndpoint": "enabled"},
        DisableApiTermination=False,
        InstanceInitiatedShutdownBehavior="stop",
        Placement={"AvailabilityZone": "eu-fr-1a"},
        EbsOptimized=True,
    )
    instance_id = run["Instances"][0]["InstanceId"]
    with pytest.raises(ApiError) as raised:  # a stop that would keep the memory
        await world.root.call("StopInstances", InstanceIds=[instance_id], Hibernate=True)
    assert raised.value.code == "UnsupportedOperation"
    for extra in ({"Iops": 3000}, {"VolumeType": "io2"}, {"MultiAttachEnabled": True}):
        with pytest.raises(ApiError) as raised:
            await world.root.call("CreateVolume", Size=1, AvailabilityZone="eu-fr-1a", **extra)
        assert raised.value.code == "UnsupportedOperation", extra
    volume = await world.root.call(
        "CreateVolume", Size=1, AvailabilityZone="eu-fr-1a", VolumeType="gp3", Encrypted=True
    )
    assert volume["Encrypted"] is True


async def test_a_rule_naming_another_accounts_group_is_refused(world: World) -> None:
    # SourceSecurityGroupOwnerId names the account of SourceSecurityGroupName: taken for the
    # caller's own group of that name, the rule would let another peer in.
    c = world.root
    web = (await c.call("CreateSecurityGroup", GroupName="web", Description="web"))["GroupId"]
    await c.call("CreateSecurityGroup", GroupName="admins", Description="admins")
    for owner in ("999999999999", None):
        extra = {} if owner is None else {"SourceSecurityGroupOwnerId": owner}
        call = c.call(
            "AuthorizeSecurityGroupIngress",
            GroupId=web,
            SourceSecurityGroupName="admins",
            **extra,
        )
        if owner is not None:
            with pytest.raises(ApiError) as raised:
                await call
            assert raised.value.code == "InvalidParameterValue"
            [group] = (await c.call("DescribeSecurityGroups", GroupIds=[web]))["SecurityGroups"]
            assert group["IpPermissions"] == []  # nothing was opened
        else:
            await call  # the caller's own group, named without an owner: as before
    own = await c.call(
        "AuthorizeSecurityGroupIngress",
        GroupId=web,
        SourceSecurityGroupName="admins",
        SourceSecurityGroupOwnerId=world.tenant_id,
        IpProtocol="tcp",
        FromPort=443,
        ToPort=443,
    )
    assert own["Return"] is True
