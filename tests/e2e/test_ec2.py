"""EC2 with boto3 and the aws CLI against a real ``andromede serve`` (hypervisor = memory).

The server is this module's own: one worker (the memory hypervisor lives in one process), a host
of 16 vCPUs / 16 GiB, and a public image imported with ``andromede admin image import``. Every
test terminates what it started, so the host's capacity is whole for the next.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from e2e.helpers import client_binary, run_cli
from e2e.iam_helpers import client_for, new_tenant
from support.launcher import run_command
from support.server import ANDROMEDE, REGION, ServerProcess, running_server

pytestmark = pytest.mark.e2e

FAST = {"Delay": 1, "MaxAttempts": 60}


@pytest.fixture(scope="module")
def ec2_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {
        "ANDROMEDE_WORKERS": "1",
        "ANDROMEDE_HYPERVISOR": "memory",
        "ANDROMEDE_MEMORY_HYPERVISOR_VCPUS": "16",
        "ANDROMEDE_MEMORY_HYPERVISOR_MEMORY_MIB": "16384",
        "ANDROMEDE_MAX_INSTANCES_PER_TENANT": "12",
        # Spot (decision 0202): a short interruption notice, noticed at once.
        "ANDROMEDE_SPOT_INTERRUPTION_NOTICE": "2",
        "ANDROMEDE_INSTANCE_SHUTDOWN_CHECK_INTERVAL": "1",
    }
    with running_server(tmp_path_factory.mktemp("ec2") / "data", extra_env=env) as server:
        yield server


@pytest.fixture(scope="module")
def image_id(ec2_server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> str:
    disk = tmp_path_factory.mktemp("image") / "disk.raw"
    disk.write_bytes(os.urandom(64 * 1024))
    done = run_command(
        [str(ANDROMEDE), "admin", "image", "import", str(disk), "--name", "debian-test",
         "--public", "--json", "--data-dir", str(ec2_server.data_dir)],
        timeout=60, check=True,
        env={**os.environ, **ec2_server.extra_env},
    )  # fmt: skip
    return str(json.loads(done.stdout)["image_id"])


def ec2_client(server: ServerProcess, credentials: tuple[str, str] | None = None) -> Any:
    access_key, secret_key = credentials or server.credentials()
    session = boto3.session.Session(
        aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=REGION
    )
    return session.client(
        "ec2", endpoint_url=server.endpoint, config=Config(retries={"max_attempts": 1})
    )


@pytest.fixture
def ec2(ec2_server: ServerProcess) -> Iterator[Any]:
    client = ec2_client(ec2_server)
    yield client
    _terminate_everything(client)


def _terminate_everything(client: Any) -> None:
    live = [
        i["InstanceId"]
        for r in client.describe_instances()["Reservations"]
        for i in r["Instances"]
        if i["State"]["Name"] not in ("terminated", "shutting-down")
    ]
    if live:
        client.terminate_instances(InstanceIds=live)
        client.get_waiter("instance_terminated").wait(InstanceIds=live, WaiterConfig=FAST)


def _code(raised: pytest.ExceptionInfo[ClientError]) -> str:
    return str(raised.value.response["Error"]["Code"])


def test_instance_lifecycle_with_waiters_filters_and_pagination(ec2: Any, image_id: str) -> None:
    ec2.create_key_pair(KeyName=f"k-{uuid.uuid4().hex[:8]}", KeyType="ed25519")
    run = ec2.run_instances(
        ImageId=image_id, InstanceType="t3.nano", MinCount=6, MaxCount=6,
        UserData="#!/bin/sh\necho andromede-user-data\n",
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "role", "Value": "web"}]}],
    )  # fmt: skip
    ids = [i["InstanceId"] for i in run["Instances"]]
    assert len(ids) == 6
    ec2.get_waiter("instance_running").wait(InstanceIds=ids, WaiterConfig=FAST)

    def found(**kwargs: Any) -> set[str]:
        pages = ec2.get_paginator("describe_instances").paginate(**kwargs)
        return {i["InstanceId"] for p in pages for r in p["Reservations"] for i in r["Instances"]}

    assert found(Filters=[{"Name": "tag:role", "Values": ["web"]}]) == set(ids)
    assert found(Filters=[{"Name": "tag-key", "Values": ["role"]},
                          {"Name": "instance-state-name", "Values": ["running"]},
                          {"Name": "instance-type", "Values": ["t3.nano"]},
                          {"Name": "image-id", "Values": [image_id]}]) == set(ids)  # fmt: skip
    assert found(Filters=[{"Name": "instance-id", "Values": ids[:2]}]) == set(ids[:2])
    assert found(Filters=[{"Name": "tag:role", "Values": ["db"]}]) == set()
    pages = list(ec2.get_paginator("describe_instances").paginate(
        PaginationConfig={"PageSize": 5}))  # fmt: skip
    assert len(pages) == 2
    assert found(PaginationConfig={"PageSize": 5}) >= set(ids)
    # botocore decodes the console output from base64.
    assert "andromede-user-data" in ec2.get_console_output(InstanceId=ids[0])["Output"]
    statuses = ec2.describe_instance_status(InstanceIds=ids)["InstanceStatuses"]
    assert {s["InstanceStatus"]["Status"] for s in statuses} == {"ok"}

    ec2.stop_instances(InstanceIds=ids[:1])
    ec2.get_waiter("instance_stopped").wait(InstanceIds=ids[:1], WaiterConfig=FAST)
    with pytest.raises(ClientError) as raised:
        ec2.reboot_instances(InstanceIds=ids[:1])
    assert _code(raised) == "IncorrectInstanceState"
    ec2.start_instances(InstanceIds=ids[:1])
    ec2.get_waiter("instance_running").wait(InstanceIds=ids[:1], WaiterConfig=FAST)
    ec2.reboot_instances(InstanceIds=ids[:1])

    ec2.terminate_instances(InstanceIds=ids)
    ec2.get_waiter("instance_terminated").wait(InstanceIds=ids, WaiterConfig=FAST)
    with pytest.raises(ClientError) as raised:
        ec2.start_instances(InstanceIds=ids[:1])
    assert _code(raised) == "IncorrectInstanceState"
    volumes = ec2.describe_volumes(Filters=[{"Name": "attachment.instance-id", "Values": ids}])
    assert volumes["Volumes"] == []  # root volumes deleted on termination


def test_key_pairs(ec2: Any) -> None:
    name = f"k-{uuid.uuid4().hex[:8]}"
    rsa = ec2.create_key_pair(KeyName=name)
    assert rsa["KeyMaterial"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert len(rsa["KeyFingerprint"].split(":")) == 20  # SHA-1, as EC2 for keys it creates
    with pytest.raises(ClientError) as raised:
        ec2.create_key_pair(KeyName=name)
    assert _code(raised) == "InvalidKeyPair.Duplicate"
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    public = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    )
    imported = ec2.import_key_pair(KeyName=name + "-imported", PublicKeyMaterial=public)
    [listed] = ec2.describe_key_pairs(KeyNames=[name + "-imported"], IncludePublicKey=True)[
        "KeyPairs"
    ]
    assert listed["KeyFingerprint"] == imported["KeyFingerprint"]
    assert listed["PublicKey"].startswith("ssh-ed25519 ")
    ec2.delete_key_pair(KeyName=name)
    ec2.delete_key_pair(KeyName=name + "-imported")
    with pytest.raises(ClientError) as raised:
        ec2.describe_key_pairs(KeyNames=[name])
    assert _code(raised) == "InvalidKeyPair.NotFound"


def test_security_groups(ec2: Any, image_id: str) -> None:
    name = f"web-{uuid.uuid4().hex[:6]}"
    group_id = ec2.create_security_group(GroupName=name, Description="web")["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
         "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])  # fmt: skip
    ec2.authorize_security_group_egress(GroupId=group_id, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
         "IpRanges": [{"CidrIp": "10.1.0.0/16"}]}])  # fmt: skip
    [group] = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    assert group["IpPermissions"][0]["FromPort"] == 443
    assert len(group["IpPermissionsEgress"]) == 2
    with pytest.raises(ClientError) as raised:
        ec2.authorize_security_group_ingress(GroupId=group_id, IpProtocol="tcp", FromPort=22,
                                             ToPort=22, CidrIp="10.0.0.0/33")  # fmt: skip
    assert _code(raised) == "InvalidParameterValue"
    run = ec2.run_instances(ImageId=image_id, InstanceType="t3.nano", MinCount=1, MaxCount=1,
                            SecurityGroupIds=[group_id])  # fmt: skip
    instance_id = run["Instances"][0]["InstanceId"]
    assert run["Instances"][0]["SecurityGroups"] == [{"GroupId": group_id, "GroupName": name}]
    with pytest.raises(ClientError) as raised:
        ec2.delete_security_group(GroupId=group_id)
    assert _code(raised) == "DependencyViolation"
    ec2.revoke_security_group_egress(GroupId=group_id, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
         "IpRanges": [{"CidrIp": "10.1.0.0/16"}]}])  # fmt: skip
    ec2.terminate_instances(InstanceIds=[instance_id])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[instance_id], WaiterConfig=FAST)
    ec2.delete_security_group(GroupId=group_id)


def test_security_group_rules_by_id(ec2: Any) -> None:
    """Decision 0146 through boto3 over HTTP: a rule's id from Authorize, then described,
    modified in place, tagged and revoked by that id."""
    group_id = ec2.create_security_group(
        GroupName=f"rules-{uuid.uuid4().hex[:6]}", Description="rules"
    )["GroupId"]
    made = ec2.authorize_security_group_ingress(
        GroupId=group_id,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                        "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "ssh"}]}],
        TagSpecifications=[{"ResourceType": "security-group-rule",
                            "Tags": [{"Key": "team", "Value": "a"}]}],
    )  # fmt: skip
    [rule] = made["SecurityGroupRules"]
    rule_id = rule["SecurityGroupRuleId"]
    assert (rule["GroupId"], rule["CidrIpv4"], rule["IsEgress"]) == (group_id, "10.0.0.0/8", False)
    ec2.modify_security_group_rules(
        GroupId=group_id,
        SecurityGroupRules=[{"SecurityGroupRuleId": rule_id, "SecurityGroupRule": {
            "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIpv4": "192.0.2.0/24",
            "Description": "https"}}],
    )  # fmt: skip
    ec2.create_tags(Resources=[rule_id], Tags=[{"Key": "env", "Value": "prod"}])
    [now] = ec2.describe_security_group_rules(SecurityGroupRuleIds=[rule_id])["SecurityGroupRules"]
    assert (now["FromPort"], now["CidrIpv4"], now["Description"]) == (443, "192.0.2.0/24", "https")
    assert {t["Key"]: t["Value"] for t in now["Tags"]} == {"team": "a", "env": "prod"}
    pages = ec2.get_paginator("describe_security_group_rules").paginate(
        Filters=[{"Name": "group-id", "Values": [group_id]}], PaginationConfig={"PageSize": 5}
    )
    assert len([r for page in pages for r in page["SecurityGroupRules"]]) == 2
    revoked = ec2.revoke_security_group_ingress(GroupId=group_id, SecurityGroupRuleIds=[rule_id])
    assert [r["SecurityGroupRuleId"] for r in revoked["RevokedSecurityGroupRules"]] == [rule_id]
    with pytest.raises(ClientError) as raised:
        ec2.describe_security_group_rules(SecurityGroupRuleIds=[rule_id])
    assert _code(raised) == "InvalidSecurityGroupRuleId.NotFound"
    ec2.delete_security_group(GroupId=group_id)


def test_managed_prefix_lists(ec2: Any) -> None:
    """Decision 0149 through boto3 over HTTP: a list made, paged through with botocore's
    paginators, referenced by a rule, changed under its version (a stale one refused with
    EC2's code), kept while referenced, then deleted."""
    made = ec2.create_managed_prefix_list(
        PrefixListName="offices", AddressFamily="IPv4", MaxEntries=10,
        Entries=[{"Cidr": f"10.{n}.0.0/16", "Description": f"site {n}"} for n in range(7)],
        TagSpecifications=[{"ResourceType": "prefix-list",
                            "Tags": [{"Key": "team", "Value": "net"}]}],
    )["PrefixList"]  # fmt: skip
    list_id = made["PrefixListId"]
    assert (made["State"], made["Version"]) == ("create-complete", 1)
    entries = ec2.get_paginator("get_managed_prefix_list_entries").paginate(
        PrefixListId=list_id, PaginationConfig={"PageSize": 3}
    )
    assert len([e for page in entries for e in page["Entries"]]) == 7
    group_id = ec2.create_security_group(
        GroupName=f"lists-{uuid.uuid4().hex[:6]}", Description="lists"
    )["GroupId"]
    [rule] = ec2.authorize_security_group_ingress(
        GroupId=group_id,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                        "PrefixListIds": [{"PrefixListId": list_id, "Description": "offices"}]}],
    )["SecurityGroupRules"]  # fmt: skip
    assert rule["PrefixListId"] == list_id
    with pytest.raises(ClientError) as raised:
        ec2.modify_managed_prefix_list(
            PrefixListId=list_id, CurrentVersion=9, AddEntries=[{"Cidr": "192.0.2.0/24"}]
        )
    assert _code(raised) == "PrefixListVersionMismatch"
    changed = ec2.modify_managed_prefix_list(
        PrefixListId=list_id, CurrentVersion=1, RemoveEntries=[{"Cidr": "10.0.0.0/16"}]
    )["PrefixList"]
    assert (changed["State"], changed["Version"]) == ("modify-complete", 2)
    old = ec2.get_managed_prefix_list_entries(PrefixListId=list_id, TargetVersion=1)
    assert len(old["Entries"]) == 7
    with pytest.raises(ClientError) as raised:
        ec2.delete_managed_prefix_list(PrefixListId=list_id)
    assert _code(raised) == "DependencyViolation"
    ec2.revoke_security_group_ingress(
        GroupId=group_id, SecurityGroupRuleIds=[rule["SecurityGroupRuleId"]]
    )
    assert ec2.delete_managed_prefix_list(PrefixListId=list_id)["PrefixList"]["State"] == (
        "delete-complete"
    )
    with pytest.raises(ClientError) as raised:
        ec2.describe_managed_prefix_lists(PrefixListIds=[list_id])
    assert _code(raised) == "InvalidPrefixListID.NotFound"
    ec2.delete_security_group(GroupId=group_id)


def test_tags_volumes_and_snapshots(ec2: Any, image_id: str) -> None:
    run = ec2.run_instances(ImageId=image_id, InstanceType="t3.micro", MinCount=1, MaxCount=1)
    instance_id = run["Instances"][0]["InstanceId"]
    volume_id = ec2.create_volume(Size=4, AvailabilityZone=f"{REGION}a")["VolumeId"]
    ec2.get_waiter("volume_available").wait(VolumeIds=[volume_id], WaiterConfig=FAST)
    ec2.create_tags(Resources=[volume_id, instance_id], Tags=[{"Key": "project", "Value": "x"}])
    tags = ec2.describe_tags(Filters=[{"Name": "key", "Values": ["project"]}])["Tags"]
    assert {(t["ResourceId"], t["ResourceType"]) for t in tags} == {
        (volume_id, "volume"), (instance_id, "instance")}  # fmt: skip
    ec2.delete_tags(Resources=[instance_id], Tags=[{"Key": "project"}])
    assert len(ec2.describe_tags(Filters=[{"Name": "key", "Values": ["project"]}])["Tags"]) == 1
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig=FAST)
    ec2.attach_volume(VolumeId=volume_id, InstanceId=instance_id, Device="/dev/sdf")
    ec2.get_waiter("volume_in_use").wait(VolumeIds=[volume_id], WaiterConfig=FAST)
    snapshot_id = ec2.create_snapshot(VolumeId=volume_id, Description="before")["SnapshotId"]
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[snapshot_id], WaiterConfig=FAST)
    restored = ec2.create_volume(SnapshotId=snapshot_id, AvailabilityZone=f"{REGION}a")
    assert restored["Size"] == 4
    with pytest.raises(ClientError) as raised:
        ec2.delete_snapshot(SnapshotId=snapshot_id)
    assert _code(raised) == "InvalidSnapshot.InUse"
    ec2.detach_volume(VolumeId=volume_id)
    ec2.get_waiter("volume_available").wait(VolumeIds=[volume_id], WaiterConfig=FAST)
    for vid in (volume_id, restored["VolumeId"]):
        ec2.delete_volume(VolumeId=vid)
    ec2.delete_snapshot(SnapshotId=snapshot_id)
    ec2.get_waiter("volume_deleted").wait(VolumeIds=[volume_id], WaiterConfig=FAST)


def test_images_registered_from_snapshots_and_imported_from_buckets(
    ec2: Any, ec2_server: ServerProcess, image_id: str
) -> None:
    public = ec2.describe_images(ImageIds=[image_id])["Images"][0]
    assert (public["Public"], public["State"]) == (True, "available")
    run = ec2.run_instances(ImageId=image_id, InstanceType="t3.nano", MinCount=1, MaxCount=1)
    root = run["Instances"][0]["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
    snapshot_id = ec2.create_snapshot(VolumeId=root)["SnapshotId"]
    golden = ec2.register_image(
        Name=f"golden-{uuid.uuid4().hex[:6]}", RootDeviceName="/dev/xvda",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snapshot_id}}],
    )["ImageId"]  # fmt: skip
    assert [i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]] == [golden]
    ec2.deregister_image(ImageId=golden)
    with pytest.raises(ClientError) as raised:
        ec2.describe_images(ImageIds=[golden])
    assert _code(raised) == "InvalidAMIID.NotFound"

    s3 = boto3.session.Session(
        *ec2_server.credentials(), region_name=REGION
    ).client("s3", endpoint_url=ec2_server.endpoint,
             config=Config(s3={"addressing_style": "path"}))  # fmt: skip
    bucket = f"images-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    qcow2_header = b"QFI\xfb" + b"\0\0\0\3" + b"\0" * 16 + (2 * 1024**3).to_bytes(8, "big")
    s3.put_object(Bucket=bucket, Key="disk.qcow2", Body=qcow2_header + os.urandom(4096))
    task = ec2.import_image(DiskContainers=[{"UserBucket": {"S3Bucket": bucket,
                                                           "S3Key": "disk.qcow2"}}])  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        [state] = ec2.describe_import_image_tasks(ImportTaskIds=[task["ImportTaskId"]])[
            "ImportImageTasks"
        ]
        if state["Status"] != "active" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert state["Status"] == "completed", state
    imported = ec2.describe_images(ImageIds=[state["ImageId"]])["Images"][0]
    assert imported["Public"] is False
    assert imported["BlockDeviceMappings"][0]["Ebs"]["VolumeSize"] == 2
    missing = ec2.import_image(DiskContainers=[{"UserBucket": {"S3Bucket": bucket,
                                                              "S3Key": "absent"}}])  # fmt: skip
    time.sleep(1)
    [failed] = ec2.describe_import_image_tasks(ImportTaskIds=[missing["ImportTaskId"]])[
        "ImportImageTasks"
    ]
    assert failed["Status"] == "deleted"
    s3.delete_object(Bucket=bucket, Key="disk.qcow2")
    s3.delete_bucket(Bucket=bucket)


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"ImageId": "ami-0123456789abcdef0"}, "InvalidAMIID.NotFound"),
        ({"ImageId": "not-an-ami"}, "InvalidAMIID.Malformed"),
        ({"InstanceType": "t3.enormous"}, "InvalidParameterValue"),
        ({"UserData": "x" * (16 * 1024 + 1)}, "InvalidParameterValue"),
        ({"KeyName": "no-such-key"}, "InvalidKeyPair.NotFound"),
        ({"MinCount": 13, "MaxCount": 13}, "InstanceLimitExceeded"),
        ({"MinCount": 9, "MaxCount": 9}, "InsufficientInstanceCapacity"),
    ],
)
def test_bad_input_gets_ec2_error_codes(
    ec2: Any, image_id: str, changes: dict[str, Any], code: str
) -> None:
    request = {"ImageId": image_id, "InstanceType": "t3.nano", "MinCount": 1, "MaxCount": 1,
               **changes}  # fmt: skip
    with pytest.raises(ClientError) as raised:
        ec2.run_instances(**request)
    assert _code(raised) == code
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] < 500
    live = [{"Name": "instance-state-name", "Values": ["pending", "running"]}]
    assert ec2.describe_instances(Filters=live)["Reservations"] == []  # nothing half-created


def test_other_tenants_and_unauthorised_users(
    ec2: Any, ec2_server: ServerProcess, image_id: str
) -> None:
    run = ec2.run_instances(ImageId=image_id, InstanceType="t3.nano", MinCount=1, MaxCount=1)
    instance_id = run["Instances"][0]["InstanceId"]
    tenant = new_tenant(ec2_server, "ec2")
    other = ec2_client(ec2_server, (tenant.access_key_id, tenant.secret_access_key))
    for call in (other.describe_instances, other.terminate_instances, other.stop_instances):
        with pytest.raises(ClientError) as raised:
            call(InstanceIds=[instance_id])
        assert _code(raised) == "InvalidInstanceID.NotFound"
    assert other.describe_instances()["Reservations"] == []
    iam = client_for(ec2_server, "iam", tenant.access_key_id, tenant.secret_access_key)
    iam.create_user(UserName="dev")
    key = iam.create_access_key(UserName="dev")["AccessKey"]
    dev = ec2_client(ec2_server, (key["AccessKeyId"], key["SecretAccessKey"]))
    deadline = time.monotonic() + 30
    while True:  # the new key reaches the server's identity cache
        try:
            dev.describe_instances()
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "UnauthorizedOperation":
                break
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    with pytest.raises(ClientError) as raised:
        dev.run_instances(ImageId=image_id, InstanceType="t3.nano", MinCount=1, MaxCount=1)
    assert _code(raised) == "UnauthorizedOperation"


def test_aws_cli(ec2_server: ServerProcess, image_id: str, tmp_path: Path) -> None:
    binary = client_binary("aws", in_venv=True)
    home = tmp_path / "home"
    home.mkdir()
    config = tmp_path / "aws-config"
    config.write_text(f"[profile andromede]\nregion = {REGION}\noutput = json\n")
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.update(HOME=str(home), AWS_SHARED_CREDENTIALS_FILE=str(ec2_server.credentials_file),
               AWS_CONFIG_FILE=str(config), AWS_PROFILE="andromede", AWS_PAGER="")  # fmt: skip

    def aws(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_cli("aws", [str(binary), "--endpoint-url", ec2_server.endpoint, "ec2", *args],
                       env, check=check)  # fmt: skip

    regions = json.loads(aws("describe-regions").stdout)
    assert regions["Regions"][0]["RegionName"] == REGION
    run = json.loads(aws("run-instances", "--image-id", image_id, "--instance-type", "t3.nano",
                         "--count", "2", "--tag-specifications",
                         "ResourceType=instance,Tags=[{Key=cli,Value=yes}]").stdout)  # fmt: skip
    ids = [i["InstanceId"] for i in run["Instances"]]
    described = json.loads(aws("describe-instances", "--filters", "Name=tag:cli,Values=yes").stdout)
    assert {i["InstanceId"] for r in described["Reservations"] for i in r["Instances"]} == set(ids)
    types = json.loads(aws("describe-instance-types", "--instance-types", "m5.xlarge").stdout)
    assert types["InstanceTypes"][0]["VCpuInfo"]["DefaultVCpus"] == 4
    failed = aws("run-instances", "--image-id", image_id, "--instance-type", "nope", check=False)
    assert failed.returncode != 0
    assert "InvalidParameterValue" in failed.stderr
    # Elastic IPs (decision 0125), as the CLI's users name them: by the public address too.
    client = ec2_client(ec2_server)
    client.get_waiter("instance_running").wait(InstanceIds=ids, WaiterConfig=FAST)
    allocated = json.loads(aws("allocate-address", "--domain", "vpc").stdout)
    public_ip = allocated["PublicIp"]
    aws("associate-address", "--allocation-id", allocated["AllocationId"], "--instance-id", ids[0])
    [address] = json.loads(aws("describe-addresses", "--public-ips", public_ip).stdout)["Addresses"]
    assert address["InstanceId"] == ids[0]
    in_use = aws("release-address", "--allocation-id", allocated["AllocationId"], check=False)
    assert in_use.returncode != 0 and "InvalidIPAddress.InUse" in in_use.stderr
    aws("disassociate-address", "--public-ip", public_ip)
    aws("release-address", "--public-ip", public_ip)
    assert json.loads(aws("describe-addresses").stdout)["Addresses"] == []
    aws("terminate-instances", "--instance-ids", *ids)
    client.get_waiter("instance_terminated").wait(InstanceIds=ids, WaiterConfig=FAST)


def test_a_restart_reconciles_instances_whose_hypervisor_lost_them(
    tmp_path: Path, ec2_server: ServerProcess
) -> None:
    """The memory hypervisor forgets everything with its process: after a restart the service
    finds its running instances gone and records them stopped (a QEMU host keeps them)."""
    env = {**ec2_server.extra_env}
    with running_server(tmp_path / "data", extra_env=env) as server:
        disk = tmp_path / "disk.raw"
        disk.write_bytes(os.urandom(4096))
        done = run_command(
            [str(ANDROMEDE), "admin", "image", "import", str(disk), "--name", "restart-test",
             "--public", "--json", "--data-dir", str(server.data_dir)],
            timeout=60, check=True,
        )  # fmt: skip
        client = ec2_client(server)
        run = client.run_instances(ImageId=json.loads(done.stdout)["image_id"],
                                   InstanceType="t3.nano", MinCount=1, MaxCount=1)  # fmt: skip
        instance_id = run["Instances"][0]["InstanceId"]
        client.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig=FAST)
        server.stop()
        server.start()
        client = ec2_client(server)
        [reservation] = client.describe_instances(InstanceIds=[instance_id])["Reservations"]
        instance = reservation["Instances"][0]
        assert instance["State"]["Name"] == "stopped"
        assert "host restarted" in instance["StateReason"]["Message"]


TRUST_EC2 = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def _instances(ec2: Any, **params: Any) -> list[dict[str, Any]]:
    found = ec2.describe_instances(**params)["Reservations"]
    return [i for r in found for i in r["Instances"]]


def test_default_network_addresses_and_filters(ec2: Any, image_id: str) -> None:
    [vpc] = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
    assert (vpc["CidrBlock"], vpc["IsDefault"]) == ("172.31.0.0/16", True)
    [subnet] = ec2.describe_subnets(
        Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]},
                 {"Name": "default-for-az", "Values": ["true"]}]
    )["Subnets"]  # fmt: skip
    assert subnet["CidrBlock"] == "172.31.0.0/20"
    run = ec2.run_instances(ImageId=image_id, InstanceType="t3.nano", MinCount=2, MaxCount=2)
    ids = [i["InstanceId"] for i in run["Instances"]]
    ec2.get_waiter("instance_running").wait(InstanceIds=ids, WaiterConfig=FAST)
    described = _instances(ec2, InstanceIds=ids)
    addresses = {i["PrivateIpAddress"] for i in described}
    assert len(addresses) == 2 and all(a.startswith("172.31.0.") for a in addresses)
    for instance in described:
        assert (instance["VpcId"], instance["SubnetId"]) == (vpc["VpcId"], subnet["SubnetId"])
        assert instance["PublicIpAddress"].startswith("100.65.")
        assert instance["PrivateDnsName"].endswith(f".{REGION}.compute.internal")
        [eni] = instance["NetworkInterfaces"]
        assert eni["PrivateIpAddress"] == instance["PrivateIpAddress"]
        assert eni["Association"]["PublicIp"] == instance["PublicIpAddress"]
        assert [g["GroupName"] for g in instance["SecurityGroups"]] == ["default"]
    first = described[0]
    for name, value in (
        ("private-ip-address", first["PrivateIpAddress"]),
        ("ip-address", first["PublicIpAddress"]),
        ("network-interface.mac-address", first["NetworkInterfaces"][0]["MacAddress"]),
    ):
        found = _instances(ec2, Filters=[{"Name": name, "Values": [value]}])
        assert [i["InstanceId"] for i in found] == [first["InstanceId"]], name
    in_subnet = _instances(ec2, Filters=[{"Name": "subnet-id", "Values": [subnet["SubnetId"]]}])
    assert set(ids) <= {i["InstanceId"] for i in in_subnet}
    interfaces = ec2.describe_network_interfaces(
        Filters=[{"Name": "attachment.instance-id", "Values": ids}]
    )["NetworkInterfaces"]
    assert {i["PrivateIpAddress"] for i in interfaces} == addresses
    # Stop and start: the private address stays (EC2 keeps it), a public one comes back.
    ec2.stop_instances(InstanceIds=[first["InstanceId"]])
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[first["InstanceId"]], WaiterConfig=FAST)
    [stopped] = _instances(ec2, InstanceIds=[first["InstanceId"]])
    assert "PublicIpAddress" not in stopped
    ec2.start_instances(InstanceIds=[first["InstanceId"]])
    ec2.get_waiter("instance_running").wait(InstanceIds=[first["InstanceId"]], WaiterConfig=FAST)
    [started] = _instances(ec2, InstanceIds=[first["InstanceId"]])
    assert started["PrivateIpAddress"] == first["PrivateIpAddress"]
    assert started["PublicIpAddress"].startswith("100.65.")


def test_instance_profiles_need_pass_role(
    ec2: Any, ec2_server: ServerProcess, image_id: str
) -> None:
    tenant = new_tenant(ec2_server, "profiles")
    mine = ec2_client(ec2_server, (tenant.access_key_id, tenant.secret_access_key))
    iam = client_for(ec2_server, "iam", tenant.access_key_id, tenant.secret_access_key)
    iam.create_role(RoleName="web-role", AssumeRolePolicyDocument=TRUST_EC2)
    profile = iam.create_instance_profile(InstanceProfileName="web")["InstanceProfile"]
    iam.add_role_to_instance_profile(InstanceProfileName="web", RoleName="web-role")
    run = mine.run_instances(ImageId=image_id, InstanceType="t3.nano", MinCount=1, MaxCount=1,
                             IamInstanceProfile={"Name": "web"})  # fmt: skip
    instance_id = run["Instances"][0]["InstanceId"]
    try:
        [described] = _instances(mine, InstanceIds=[instance_id])
        assert described["IamInstanceProfile"] == {
            "Arn": profile["Arn"], "Id": profile["InstanceProfileId"]
        }  # fmt: skip
        with pytest.raises(ClientError) as raised:
            mine.run_instances(ImageId=image_id, InstanceType="t3.nano", MinCount=1, MaxCount=1,
                               IamInstanceProfile={"Name": "nope"})  # fmt: skip
        assert _code(raised) == "InvalidParameterValue"
        iam.create_user(UserName="launcher")
        iam.put_user_policy(UserName="launcher", PolicyName="ec2", PolicyDocument=json.dumps(
            {"Version": "2012-10-17",
             "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]}))  # fmt: skip
        key = iam.create_access_key(UserName="launcher")["AccessKey"]
        launcher = ec2_client(ec2_server, (key["AccessKeyId"], key["SecretAccessKey"]))
        deadline = time.monotonic() + 30
        while True:  # the new key reaches the server's identity cache
            try:
                launcher.describe_instances()
                break
            except ClientError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        with pytest.raises(ClientError) as raised:
            launcher.run_instances(
                ImageId=image_id,
                InstanceType="t3.nano",
                MinCount=1,
                MaxCount=1,
                IamInstanceProfile={"Arn": profile["Arn"]},
            )
        assert _code(raised) == "UnauthorizedOperation"
        assert "iam:PassRole" in raised.value.response["Error"]["Message"]
    finally:
        _terminate_everything(mine)


def test_a_client_token_launches_once(ec2: Any, image_id: str) -> None:
    """A retry of RunInstances with the same ClientToken (what botocore sends again after a
    lost answer) returns the first reservation instead of launching another."""
    token = f"deploy-{uuid.uuid4().hex}"
    first = ec2.run_instances(
        ImageId=image_id, InstanceType="t3.nano", MinCount=2, MaxCount=2, ClientToken=token
    )
    again = ec2.run_instances(
        ImageId=image_id, InstanceType="t3.nano", MinCount=2, MaxCount=2, ClientToken=token
    )
    ids = [i["InstanceId"] for i in first["Instances"]]
    assert [i["InstanceId"] for i in again["Instances"]] == ids
    assert again["ReservationId"] == first["ReservationId"]
    found = ec2.describe_instances(Filters=[{"Name": "client-token", "Values": [token]}])
    [reservation] = found["Reservations"]
    assert sorted(i["InstanceId"] for i in reservation["Instances"]) == sorted(ids)
    assert {i["ClientToken"] for i in reservation["Instances"]} == {token}
    with pytest.raises(ClientError) as raised:
        ec2.run_instances(
            ImageId=image_id, InstanceType="t3.micro", MinCount=2, MaxCount=2, ClientToken=token
        )
    assert _code(raised) == "IdempotentParameterMismatch"


def test_a_client_token_makes_one_volume(ec2: Any) -> None:
    token = f"disk-{uuid.uuid4().hex}"
    first = ec2.create_volume(Size=3, AvailabilityZone=f"{REGION}a", ClientToken=token)
    again = ec2.create_volume(Size=3, AvailabilityZone=f"{REGION}a", ClientToken=token)
    assert again["VolumeId"] == first["VolumeId"]
    with pytest.raises(ClientError) as raised:
        ec2.create_volume(Size=4, AvailabilityZone=f"{REGION}a", ClientToken=token)
    assert _code(raised) == "IdempotentParameterMismatch"
    mine = [v for v in ec2.describe_volumes()["Volumes"] if v["VolumeId"] == first["VolumeId"]]
    assert len(mine) == 1
    ec2.delete_volume(VolumeId=first["VolumeId"])


def test_a_tenant_deletes_its_default_vpc_and_makes_a_new_one(
    ec2_server: ServerProcess, image_id: str
) -> None:
    """Decision 0137 through boto3 and the server's SQL store, with a tenant of its own (the
    module's other tests launch into their tenant's default VPC)."""
    tenant = new_tenant(ec2_server, "defaultvpc")
    ec2 = ec2_client(ec2_server, (tenant.access_key_id, tenant.secret_access_key))
    is_default = [{"Name": "is-default", "Values": ["true"]}]
    [vpc] = ec2.describe_vpcs(Filters=is_default)["Vpcs"]
    vpc_id = vpc["VpcId"]
    with pytest.raises(ClientError) as raised:
        ec2.delete_vpc(VpcId=vpc_id)
    assert _code(raised) == "DependencyViolation"
    of_vpc = [{"Name": "vpc-id", "Values": [vpc_id]}]
    for subnet in ec2.describe_subnets(Filters=of_vpc)["Subnets"]:
        ec2.delete_subnet(SubnetId=subnet["SubnetId"])
    attached = [{"Name": "attachment.vpc-id", "Values": [vpc_id]}]
    for gateway in ec2.describe_internet_gateways(Filters=attached)["InternetGateways"]:
        ec2.detach_internet_gateway(InternetGatewayId=gateway["InternetGatewayId"], VpcId=vpc_id)
        ec2.delete_internet_gateway(InternetGatewayId=gateway["InternetGatewayId"])
    ec2.delete_vpc(VpcId=vpc_id)

    assert ec2.describe_vpcs(Filters=is_default)["Vpcs"] == []
    [attribute] = ec2.describe_account_attributes(AttributeNames=["default-vpc"])[
        "AccountAttributes"
    ]
    assert attribute["AttributeValues"] == [{"AttributeValue": "none"}]
    with pytest.raises(ClientError) as raised:
        ec2.run_instances(ImageId=image_id, InstanceType="t3.nano", MinCount=1, MaxCount=1)
    assert _code(raised) == "VPCIdNotSpecified"
    with pytest.raises(ClientError) as raised:
        ec2.create_security_group(GroupName="web", Description="web")
    assert _code(raised) == "VPCIdNotSpecified"

    made = ec2.create_default_vpc()["Vpc"]
    assert (made["CidrBlock"], made["IsDefault"]) == ("172.31.0.0/16", True)
    assert made["VpcId"] != vpc_id
    assert [v["VpcId"] for v in ec2.describe_vpcs(Filters=is_default)["Vpcs"]] == [made["VpcId"]]
    with pytest.raises(ClientError) as raised:
        ec2.create_default_vpc()
    assert _code(raised) == "DefaultVpcAlreadyExists"
    run = ec2.run_instances(ImageId=image_id, InstanceType="t3.nano", MinCount=1, MaxCount=1)
    instance = run["Instances"][0]
    assert instance["VpcId"] == made["VpcId"]
    ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])
    ec2.get_waiter("instance_terminated").wait(
        InstanceIds=[instance["InstanceId"]], WaiterConfig=FAST
    )


def test_a_tenant_deletes_its_default_subnet_and_makes_a_new_one(
    ec2_server: ServerProcess, image_id: str
) -> None:
    """Decision 0137's CreateDefaultSubnet through boto3 and the server's SQL store: the new
    subnet and the tenant's record naming it are written together, and RunInstances without a
    subnet launches into it again."""
    tenant = new_tenant(ec2_server, "defaultsubnet")
    ec2 = ec2_client(ec2_server, (tenant.access_key_id, tenant.secret_access_key))
    [old] = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])[
        "Subnets"
    ]
    zone = old["AvailabilityZone"]
    with pytest.raises(ClientError) as raised:
        ec2.create_default_subnet(AvailabilityZone=zone)
    assert _code(raised) == "DefaultSubnetAlreadyExistsInAvailabilityZone"
    ec2.delete_subnet(SubnetId=old["SubnetId"])
    with pytest.raises(ClientError) as raised:
        ec2.run_instances(ImageId=image_id, InstanceType="t3.nano", MinCount=1, MaxCount=1)
    assert _code(raised) == "MissingInput"

    made = ec2.create_default_subnet(AvailabilityZone=zone)["Subnet"]
    assert (made["CidrBlock"], made["DefaultForAz"], made["MapPublicIpOnLaunch"]) == (
        "172.31.0.0/20",
        True,
        True,
    )
    assert (made["VpcId"], made["AvailabilityZone"]) == (old["VpcId"], zone)
    assert made["SubnetId"] != old["SubnetId"]
    run = ec2.run_instances(ImageId=image_id, InstanceType="t3.nano", MinCount=1, MaxCount=1)
    instance = run["Instances"][0]
    assert instance["SubnetId"] == made["SubnetId"]
    ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])
    ec2.get_waiter("instance_terminated").wait(
        InstanceIds=[instance["InstanceId"]], WaiterConfig=FAST
    )


def test_spot_instances_requests_prices_and_capacity_taken_back(
    ec2: Any, ec2_server: ServerProcess, image_id: str
) -> None:
    """Decision 0202 with boto3: a Spot launch and a Spot request (botocore's waiter), the
    requests and the price history paginated, and an on-demand launch of another account on a
    host full of Spot Instances: it succeeds, one Spot Instance is marked, then terminated
    after its notice, its request saying why."""
    market = {"MarketType": "spot", "SpotOptions": {"SpotInstanceType": "one-time"}}
    run = ec2.run_instances(
        ImageId=image_id, InstanceType="t3.nano", MinCount=1, MaxCount=1,
        InstanceMarketOptions=market,
    )  # fmt: skip
    [spot] = run["Instances"]
    assert spot["InstanceLifecycle"] == "spot"
    made = ec2.request_spot_instances(
        InstanceCount=1,
        LaunchSpecification={"ImageId": image_id, "InstanceType": "t3.nano"},
    )
    request_id = made["SpotInstanceRequests"][0]["SpotInstanceRequestId"]
    ec2.get_waiter("spot_instance_request_fulfilled").wait(
        SpotInstanceRequestIds=[request_id], WaiterConfig=FAST
    )
    pages = ec2.get_paginator("describe_spot_instance_requests").paginate(
        PaginationConfig={"PageSize": 5}
    )
    requests = [r for page in pages for r in page["SpotInstanceRequests"]]
    assert {r["SpotInstanceRequestId"] for r in requests} >= {
        request_id,
        spot["SpotInstanceRequestId"],
    }
    history = ec2.get_paginator("describe_spot_price_history").paginate(
        InstanceTypes=["t3.nano"], ProductDescriptions=["Linux/UNIX"]
    )
    prices = [p for page in history for p in page["SpotPriceHistory"]]
    assert prices and {p["InstanceType"] for p in prices} == {"t3.nano"}
    lifecycle = [{"Name": "instance-lifecycle", "Values": ["spot"]}]
    # Fill the host (16 vCPUs: eight t3.nano, less what the module's other tests still hold)
    # with Spot Instances, one at a time until it has no room left.
    for _ in range(16):
        try:
            ec2.run_instances(
                ImageId=image_id, InstanceType="t3.nano", MinCount=1, MaxCount=1,
                InstanceMarketOptions=market,
            )  # fmt: skip
        except ClientError as error:
            assert error.response["Error"]["Code"] == "InsufficientInstanceCapacity"
            break
    else:
        raise AssertionError("the host took sixteen t3.nano: it was meant to fill at eight")
    spots = [
        i["InstanceId"]
        for r in ec2.describe_instances(Filters=lifecycle)["Reservations"]
        for i in r["Instances"]
        if i["State"]["Name"] in ("pending", "running")
    ]
    assert 2 <= len(spots) <= 8
    ec2.get_waiter("instance_running").wait(InstanceIds=spots, WaiterConfig=FAST)
    tenant = new_tenant(ec2_server, "spot-taker")
    other = ec2_client(ec2_server, (tenant.access_key_id, tenant.secret_access_key))
    taken = other.run_instances(ImageId=image_id, InstanceType="t3.nano", MinCount=1, MaxCount=1)
    try:
        marked = ec2.describe_spot_instance_requests(
            Filters=[
                {
                    "Name": "status-code",
                    "Values": ["marked-for-termination", "instance-terminated-no-capacity"],
                }
            ]
        )["SpotInstanceRequests"]
        assert len(marked) == 1
        victim = marked[0]["InstanceId"]
        ec2.get_waiter("instance_terminated").wait(InstanceIds=[victim], WaiterConfig=FAST)
        [after] = ec2.describe_spot_instance_requests(
            SpotInstanceRequestIds=[marked[0]["SpotInstanceRequestId"]]
        )["SpotInstanceRequests"]
        assert (after["State"], after["Status"]["Code"]) == (
            "closed",
            "instance-terminated-no-capacity",
        )
        [gone] = ec2.describe_instances(InstanceIds=[victim])["Reservations"][0]["Instances"]
        assert gone["StateReason"]["Code"] == "Server.SpotInstanceTermination"
        cancelled = ec2.cancel_spot_instance_requests(SpotInstanceRequestIds=[request_id])
        assert cancelled["CancelledSpotInstanceRequests"][0]["State"] == "cancelled"
    finally:
        _terminate_everything(other)
        assert "InstanceLifecycle" not in taken["Instances"][0]
