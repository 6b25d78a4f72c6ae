"""Volumes under a customer-managed KMS key, with boto3 against a real ``andromede serve``
(hypervisor = memory, the real KMS): decision 0062.

``CreateVolume`` with ``KmsKeyId`` wraps the volume's data key under that key, bound to the
volume's id. The caller must be allowed to use the key; afterwards, every attach, boot and
snapshot needs the key to be usable. So the customer stops them all by disabling it, and makes
the volume unreadable by deleting its material. Snapshots and their copies stay under the key.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import load_der_public_key

from e2e.iam_helpers import client_for, new_tenant
from e2e.test_ec2 import FAST, _code, ec2, ec2_client, ec2_server, image_id
from e2e.test_kms_api import kms_client
from support.audit_events import recorded_events
from support.server import REGION, ServerProcess

pytestmark = pytest.mark.e2e

__all__ = ["ec2", "ec2_server", "image_id"]  # the fixtures this module shares with test_ec2

AZ = f"{REGION}a"


def _instance(ec2: Any, instance_id: str) -> dict[str, Any]:
    found = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    return dict(found)


def test_a_volume_under_a_kms_key_follows_the_key(
    ec2: Any, ec2_server: ServerProcess, image_id: str
) -> None:
    kms = kms_client(ec2_server, *ec2_server.credentials())
    key = kms.create_key(Description="volumes of the finance team")["KeyMetadata"]
    alias = f"alias/volumes-{uuid.uuid4().hex[:8]}"
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])

    with pytest.raises(ClientError) as raised:
        ec2.create_volume(Size=1, AvailabilityZone=AZ, KmsKeyId="alias/none-such")
    assert _code(raised) == "InvalidParameterValue"
    volume = ec2.create_volume(Size=2, AvailabilityZone=AZ, Encrypted=True, KmsKeyId=alias)
    volume_id = volume["VolumeId"]
    assert (volume["Encrypted"], volume["KmsKeyId"]) == (True, key["Arn"])
    described = ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]
    assert described["KmsKeyId"] == key["Arn"]
    plain = ec2.create_volume(Size=1, AvailabilityZone=AZ)
    assert "KmsKeyId" not in plain  # the tenant's own key, as before

    run = ec2.run_instances(ImageId=image_id, InstanceType="t3.nano", MinCount=1, MaxCount=1)
    instance_id = run["Instances"][0]["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig=FAST)
    ec2.attach_volume(VolumeId=volume_id, InstanceId=instance_id, Device="/dev/sdf")
    snapshot = ec2.create_snapshot(VolumeId=volume_id, Description="under the key")
    assert snapshot["KmsKeyId"] == key["Arn"]
    restored = ec2.create_volume(SnapshotId=snapshot["SnapshotId"], AvailabilityZone=AZ)
    assert restored["KmsKeyId"] == key["Arn"]  # a copy stays under its snapshot's key

    # Disabled: nothing opens the volume, its snapshot or the key's other volumes.
    kms.disable_key(KeyId=key["KeyId"])
    ec2.detach_volume(VolumeId=volume_id)
    ec2.get_waiter("volume_available").wait(VolumeIds=[volume_id], WaiterConfig=FAST)
    for refused in (
        lambda: ec2.attach_volume(VolumeId=volume_id, InstanceId=instance_id, Device="/dev/sdg"),
        lambda: ec2.create_snapshot(VolumeId=volume_id),
        lambda: ec2.create_volume(SnapshotId=snapshot["SnapshotId"], AvailabilityZone=AZ),
        lambda: ec2.create_volume(Size=1, AvailabilityZone=AZ, KmsKeyId=key["Arn"]),
    ):
        with pytest.raises(ClientError) as raised:
            refused()
        assert _code(raised) == "IncorrectState"
        assert "KMS key" in raised.value.response["Error"]["Message"]

    # A stopped instance whose volume is under the disabled key does not boot: it stops again,
    # and says why as EC2 does.
    ec2.stop_instances(InstanceIds=[instance_id])
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[instance_id], WaiterConfig=FAST)
    kms.enable_key(KeyId=key["KeyId"])
    ec2.attach_volume(VolumeId=volume_id, InstanceId=instance_id, Device="/dev/sdf")
    kms.disable_key(KeyId=key["KeyId"])
    ec2.start_instances(InstanceIds=[instance_id])
    deadline = time.monotonic() + 30
    while (current := _instance(ec2, instance_id))["State"]["Name"] != "stopped" or not (
        current.get("StateReason")
    ):
        assert time.monotonic() < deadline, current["State"]
        time.sleep(0.3)
    assert current["StateReason"]["Code"] == "Client.InvalidKMSKey.InvalidState"
    kms.enable_key(KeyId=key["KeyId"])
    ec2.start_instances(InstanceIds=[instance_id])
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig=FAST)

    # Every use of the key is in the customer's audit trail: the caller's at creation, the
    # platform's at each attach and boot (refused ones included), each naming the volume.
    uses = _key_uses(ec2_server, key["Arn"])
    assert ("kms:GenerateDataKeyWithoutPlaintext", "success", volume_id) in uses
    assert ("kms:Decrypt", "success", volume_id) in uses
    assert ("kms:Decrypt", "failure", volume_id) in uses
    assert ("kms:GenerateDataKey", "success", snapshot["SnapshotId"]) in uses
    ec2.detach_volume(VolumeId=volume_id)
    ec2.get_waiter("volume_available").wait(VolumeIds=[volume_id], WaiterConfig=FAST)
    for vid in (volume_id, restored["VolumeId"], plain["VolumeId"]):
        ec2.delete_volume(VolumeId=vid)
    ec2.delete_snapshot(SnapshotId=snapshot["SnapshotId"])


def test_root_volumes_under_a_kms_key(ec2: Any, ec2_server: ServerProcess, image_id: str) -> None:
    kms = kms_client(ec2_server, *ec2_server.credentials())
    key = kms.create_key(Description="root volumes")["KeyMetadata"]
    [image] = ec2.describe_images(ImageIds=[image_id])["Images"]
    mapping = {
        "DeviceName": image["RootDeviceName"],
        "Ebs": {"VolumeSize": 12, "Encrypted": True, "KmsKeyId": key["KeyId"], "VolumeType": "gp3"},
    }
    run = ec2.run_instances(
        ImageId=image_id, InstanceType="t3.nano", MinCount=1, MaxCount=1,
        BlockDeviceMappings=[mapping],
    )  # fmt: skip
    instance_id = run["Instances"][0]["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig=FAST)
    [root] = ec2.describe_volumes(
        Filters=[{"Name": "attachment.instance-id", "Values": [instance_id]}]
    )["Volumes"]
    assert (root["Size"], root["Encrypted"], root["KmsKeyId"]) == (12, True, key["Arn"])
    kms.disable_key(KeyId=key["KeyId"])
    with pytest.raises(ClientError) as raised:
        ec2.run_instances(
            ImageId=image_id, InstanceType="t3.nano", MinCount=1, MaxCount=1,
            BlockDeviceMappings=[mapping],
        )  # fmt: skip
    assert _code(raised) == "IncorrectState"


def test_deleting_imported_material_shreds_the_volume(ec2: Any, ec2_server: ServerProcess) -> None:
    """Bring-your-own-key: with the material deleted, the volume cannot be opened by anyone;
    imported again (the same bytes), it opens again — the customer holds the only copy."""
    kms = kms_client(ec2_server, *ec2_server.credentials())
    key = kms.create_key(Origin="EXTERNAL", Description="byok volumes")["KeyMetadata"]
    material = b"our own thirty-two byte secret!!"

    def import_material() -> None:
        params = kms.get_parameters_for_import(
            KeyId=key["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
        )
        public = load_der_public_key(params["PublicKey"])
        wrapped = public.encrypt(  # type: ignore[union-attr]
            material,
            padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None),
        )
        kms.import_key_material(
            KeyId=key["KeyId"],
            ImportToken=params["ImportToken"],
            EncryptedKeyMaterial=wrapped,
            ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
        )

    import_material()
    volume = ec2.create_volume(Size=1, AvailabilityZone=AZ, KmsKeyId=key["Arn"])
    snapshot = ec2.create_snapshot(VolumeId=volume["VolumeId"])
    kms.delete_imported_key_material(KeyId=key["KeyId"])
    with pytest.raises(ClientError) as raised:
        ec2.create_volume(SnapshotId=snapshot["SnapshotId"], AvailabilityZone=AZ)
    assert _code(raised) == "IncorrectState"
    import_material()
    restored = ec2.create_volume(SnapshotId=snapshot["SnapshotId"], AvailabilityZone=AZ)
    for vid in (volume["VolumeId"], restored["VolumeId"]):
        ec2.delete_volume(VolumeId=vid)
    ec2.delete_snapshot(SnapshotId=snapshot["SnapshotId"])


def test_the_caller_must_be_allowed_to_use_the_key(ec2: Any, ec2_server: ServerProcess) -> None:
    kms = kms_client(ec2_server, *ec2_server.credentials())
    key = kms.create_key(Description="guarded")["KeyMetadata"]
    iam = client_for(ec2_server, "iam", *ec2_server.credentials())
    name = f"ops-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    ec2_only = {"Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]}  # fmt: skip
    iam.put_user_policy(UserName=name, PolicyName="ec2", PolicyDocument=json.dumps(ec2_only))
    access = iam.create_access_key(UserName=name)["AccessKey"]
    ops = ec2_client(ec2_server, (access["AccessKeyId"], access["SecretAccessKey"]))
    deadline = time.monotonic() + 30
    while True:  # the new access key reaches the server's identity cache
        try:
            ops.describe_volumes()
            break
        except ClientError:
            assert time.monotonic() < deadline
            time.sleep(0.5)
    with pytest.raises(ClientError) as raised:
        ops.create_volume(Size=1, AvailabilityZone=AZ, KmsKeyId=key["Arn"])
    assert _code(raised) == "UnauthorizedOperation"
    # Allowed through EC2 only (kms:ViaService), as EBS key policies commonly say.
    statement = {
        "Effect": "Allow",
        "Action": "kms:GenerateDataKeyWithoutPlaintext",
        "Resource": key["Arn"],
        "Condition": {"StringEquals": {"kms:ViaService": f"ec2.{REGION}.amazonaws.com"}},
    }
    via_ec2 = {"Version": "2012-10-17", "Statement": [statement]}
    iam.put_user_policy(UserName=name, PolicyName="kms", PolicyDocument=json.dumps(via_ec2))
    deadline = time.monotonic() + 30
    while True:  # the new policy reaches the server's identity cache
        try:
            made = ops.create_volume(Size=1, AvailabilityZone=AZ, KmsKeyId=key["Arn"])
            break
        except ClientError as exc:
            assert _code_of(exc) == "UnauthorizedOperation" and time.monotonic() < deadline
            time.sleep(0.5)
    assert made["KmsKeyId"] == key["Arn"]
    ops.delete_volume(VolumeId=made["VolumeId"])
    # Another account's key is not found, whatever its policy says.
    other = new_tenant(ec2_server, "vol")
    stranger = ec2_client(ec2_server, (other.access_key_id, other.secret_access_key))
    with pytest.raises(ClientError) as raised:
        stranger.create_volume(Size=1, AvailabilityZone=AZ, KmsKeyId=key["Arn"])
    assert _code(raised) == "InvalidParameterValue"


def _code_of(exc: ClientError) -> str:
    return str(exc.response["Error"]["Code"])


def _key_uses(server: ServerProcess, key_arn: str) -> set[tuple[str, str, str]]:
    """(action, outcome, volume or snapshot id) of the audited uses of a key from EC2, once the
    audit writer has flushed them."""
    deadline = time.monotonic() + 15
    uses: set[tuple[str, str, str]] = set()
    while time.monotonic() < deadline:
        uses = {
            (event.action, event.outcome.value, event.details.get("aws:ebs:id", ""))
            for event in recorded_events(server.data_dir / "metadata.sqlite3")
            if event.resource == key_arn and event.details.get("via") == "ec2"
        }
        if any(outcome == "failure" for _, outcome, _ in uses):
            break
        time.sleep(0.2)
    return uses
