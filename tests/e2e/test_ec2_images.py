"""CreateImage and image launch permissions with boto3 against a real ``andromede serve``
(hypervisor = memory): decision 0147.

A running instance is imaged the way Terraform's ``aws_ami_from_instance`` asks (no
``NoReboot``): the image is pending while the instance is stopped, snapshotted and started
again, then available (boto3's waiter). Shared with a second tenant made as an operator makes
one, the image shows in that tenant's DescribeImages and launches there with both of its
devices; making it public is refused. That the image holds the guest's bytes is the QEMU e2e's
test (tests/e2e/test_ec2_qemu.py): the memory hypervisor keeps none.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from e2e.test_ec2 import FAST, ec2, ec2_client, ec2_server, image_id
from support.server import ServerProcess

pytestmark = pytest.mark.e2e

__all__ = ["ec2", "ec2_server", "image_id"]  # the fixtures this module shares with test_ec2


def _devices(instance: dict[str, Any]) -> set[str]:
    return {m["DeviceName"] for m in instance["BlockDeviceMappings"]}


def test_an_image_of_a_running_instance_shared_with_another_tenant(
    ec2: Any, ec2_server: ServerProcess, image_id: str
) -> None:
    run = ec2.run_instances(
        ImageId=image_id, InstanceType="t3.nano", MinCount=1, MaxCount=1,
        BlockDeviceMappings=[{"DeviceName": "/dev/sdb", "Ebs": {"VolumeSize": 2}}],
    )  # fmt: skip
    instance_id = run["Instances"][0]["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig=FAST)

    made = ec2.create_image(
        InstanceId=instance_id, Name=f"golden-{instance_id}", Description="golden",
        TagSpecifications=[{"ResourceType": "image", "Tags": [{"Key": "tier", "Value": "web"}]}],
    )  # fmt: skip
    ami = made["ImageId"]
    ec2.get_waiter("image_available").wait(ImageIds=[ami], WaiterConfig=FAST)
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig=FAST)
    [image] = ec2.describe_images(ImageIds=[ami])["Images"]
    assert image["Tags"] == [{"Key": "tier", "Value": "web"}]
    mappings = {m["DeviceName"]: m["Ebs"] for m in image["BlockDeviceMappings"]}
    assert set(mappings) == {"/dev/xvda", "/dev/sdb"}
    [snapshot] = ec2.describe_snapshots(SnapshotIds=[mappings["/dev/sdb"]["SnapshotId"]])[
        "Snapshots"
    ]
    assert snapshot["Description"].startswith(f"Created by CreateImage({instance_id}) for {ami}")

    account, key_id, secret = ec2_server.create_tenant(f"images-{instance_id[-6:]}")
    other = ec2_client(ec2_server, (key_id, secret))
    assert ami not in {i["ImageId"] for i in other.describe_images()["Images"]}
    ec2.modify_image_attribute(ImageId=ami, LaunchPermission={"Add": [{"UserId": account}]})
    permissions = ec2.describe_image_attribute(ImageId=ami, Attribute="launchPermission")
    assert permissions["LaunchPermissions"] == [{"UserId": account}]
    shared = other.describe_images(ExecutableUsers=["self"])["Images"]
    assert [i["ImageId"] for i in shared] == [ami]
    launched = other.run_instances(ImageId=ami, InstanceType="t3.nano", MinCount=1, MaxCount=1)
    theirs = launched["Instances"][0]["InstanceId"]
    other.get_waiter("instance_running").wait(InstanceIds=[theirs], WaiterConfig=FAST)
    [reservation] = other.describe_instances(InstanceIds=[theirs])["Reservations"]
    assert _devices(reservation["Instances"][0]) == {"/dev/xvda", "/dev/sdb"}

    with pytest.raises(ClientError) as public:
        ec2.modify_image_attribute(ImageId=ami, LaunchPermission={"Add": [{"Group": "all"}]})
    assert public.value.response["Error"]["Code"] == "OperationNotPermitted"
    assert public.value.response["ResponseMetadata"]["RequestId"]
    with pytest.raises(ClientError) as not_theirs:
        other.deregister_image(ImageId=ami)
    assert not_theirs.value.response["Error"]["Code"] == "InvalidAMIID.NotFound"

    other.terminate_instances(InstanceIds=[theirs])
    other.get_waiter("instance_terminated").wait(InstanceIds=[theirs], WaiterConfig=FAST)
    ec2.reset_image_attribute(ImageId=ami, Attribute="launchPermission")
    assert ami not in {i["ImageId"] for i in other.describe_images()["Images"]}
    ec2.deregister_image(ImageId=ami)
