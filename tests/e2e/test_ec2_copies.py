"""CopySnapshot and CopyImage with boto3 against a real ``andromede serve`` (hypervisor = memory,
the real KMS): decision 0098.

boto3 adds a presigned URL and the destination region to every CopySnapshot; they are taken.
A copy under another KMS key outlives both its source and the source's key material, and goes
with its own key. A public image copies into a private image of the account, which launches;
so does a copy of that copy once its source is gone. That the copy holds the source's bytes is
the hypervisor contract's test on real QEMU (files and RBD): the memory hypervisor keeps none.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import load_der_public_key

from e2e.test_ec2 import FAST, _code, ec2, ec2_server, image_id
from e2e.test_kms_api import kms_client
from support.server import REGION, ServerProcess

pytestmark = pytest.mark.e2e

__all__ = ["ec2", "ec2_server", "image_id"]  # the fixtures this module shares with test_ec2

AZ = f"{REGION}a"


def _byok_key(kms: Any) -> tuple[str, Any]:
    """A KMS key of imported material, and how to import it again."""
    key = kms.create_key(Origin="EXTERNAL", Description="source snapshots")["KeyMetadata"]
    material = b"thirty-two bytes of our own key!"

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
    return key, import_material


def test_a_snapshot_copied_under_another_key_outlives_its_source_and_its_key(
    ec2: Any, ec2_server: ServerProcess
) -> None:
    kms = kms_client(ec2_server, *ec2_server.credentials())
    source_key, import_material = _byok_key(kms)
    target_key = kms.create_key(Description="copies")["KeyMetadata"]
    volume = ec2.create_volume(Size=2, AvailabilityZone=AZ, KmsKeyId=source_key["Arn"])
    source = ec2.create_snapshot(VolumeId=volume["VolumeId"], Description="before the move")
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[source["SnapshotId"]], WaiterConfig=FAST)

    copied = ec2.copy_snapshot(  # botocore adds PresignedUrl and DestinationRegion
        SourceSnapshotId=source["SnapshotId"],
        SourceRegion=REGION,
        Description="moved under the copies key",
        Encrypted=True,
        KmsKeyId=target_key["KeyId"],
        TagSpecifications=[{"ResourceType": "snapshot", "Tags": [{"Key": "k", "Value": "v"}]}],
    )
    copy_id = copied["SnapshotId"]
    assert copied["Tags"] == [{"Key": "k", "Value": "v"}]
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[copy_id], WaiterConfig=FAST)
    [described] = ec2.describe_snapshots(SnapshotIds=[copy_id])["Snapshots"]
    assert (described["KmsKeyId"], described["Encrypted"]) == (target_key["Arn"], True)
    assert (described["VolumeSize"], described["Description"]) == (2, "moved under the copies key")

    # The source and its volume go, and the source key's material with them.
    ec2.delete_volume(VolumeId=volume["VolumeId"])
    kms.delete_imported_key_material(KeyId=source_key["KeyId"])
    restored = ec2.create_volume(SnapshotId=copy_id, AvailabilityZone=AZ)
    assert (restored["KmsKeyId"], restored["Size"]) == (target_key["Arn"], 2)
    ec2.get_waiter("volume_available").wait(VolumeIds=[restored["VolumeId"]], WaiterConfig=FAST)
    with pytest.raises(ClientError) as raised:
        ec2.copy_snapshot(SourceSnapshotId=source["SnapshotId"], SourceRegion=REGION)
    assert _code(raised) == "IncorrectState"  # shredded with its key
    ec2.delete_snapshot(SnapshotId=source["SnapshotId"])

    # The copy goes with its own key.
    kms.disable_key(KeyId=target_key["KeyId"])
    with pytest.raises(ClientError) as raised:
        ec2.create_volume(SnapshotId=copy_id, AvailabilityZone=AZ)
    assert _code(raised) == "IncorrectState"
    kms.enable_key(KeyId=target_key["KeyId"])
    ec2.delete_volume(VolumeId=restored["VolumeId"])
    ec2.delete_snapshot(SnapshotId=copy_id)
    import_material()  # leaves the key as the other tests may find it


def test_copy_snapshot_refusals(ec2: Any) -> None:
    volume = ec2.create_volume(Size=1, AvailabilityZone=AZ)
    source = ec2.create_snapshot(VolumeId=volume["VolumeId"])["SnapshotId"]
    for params, code in (
        ({"SourceRegion": "us-east-1"}, "InvalidParameterValue"),
        ({"SourceRegion": REGION, "KmsKeyId": "alias/aws/ebs"}, "InvalidParameterDependency"),
        ({"SourceRegion": REGION, "DestinationOutpostArn": "arn:aws:outposts:x"},
         "UnsupportedOperation"),
    ):  # fmt: skip
        with pytest.raises(ClientError) as raised:
            ec2.copy_snapshot(SourceSnapshotId=source, **params)
        assert _code(raised) == code, params
        assert raised.value.response["ResponseMetadata"]["RequestId"]
    ec2.delete_snapshot(SnapshotId=source)
    ec2.delete_volume(VolumeId=volume["VolumeId"])


def test_a_public_image_copies_into_a_private_image_that_launches(
    ec2: Any, ec2_server: ServerProcess, image_id: str
) -> None:
    kms = kms_client(ec2_server, *ec2_server.credentials())
    key = kms.create_key(Description="images")["KeyMetadata"]
    name = f"mine-{uuid.uuid4().hex[:8]}"
    copied = ec2.copy_image(
        SourceImageId=image_id, SourceRegion=REGION, Name=name, Encrypted=True,
        KmsKeyId=key["Arn"], ClientToken=name,
    )  # fmt: skip
    again = ec2.copy_image(
        SourceImageId=image_id, SourceRegion=REGION, Name=name, Encrypted=True,
        KmsKeyId=key["Arn"], ClientToken=name,
    )  # fmt: skip
    assert again["ImageId"] == copied["ImageId"]
    ec2.get_waiter("image_available").wait(ImageIds=[copied["ImageId"]], WaiterConfig=FAST)
    [image] = ec2.describe_images(ImageIds=[copied["ImageId"]])["Images"]
    assert image["Public"] is False and image["Name"] == name
    snapshot_id = image["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
    [snapshot] = ec2.describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"]
    assert snapshot["KmsKeyId"] == key["Arn"]

    # A copy of the copy, then the first goes: the second launches on its own.
    second = ec2.copy_image(
        SourceImageId=copied["ImageId"], SourceRegion=REGION, Name=f"{name}-2",
        CopyImageTags=True,
    )  # fmt: skip
    ec2.get_waiter("image_available").wait(ImageIds=[second["ImageId"]], WaiterConfig=FAST)
    ec2.deregister_image(ImageId=copied["ImageId"])
    ec2.delete_snapshot(SnapshotId=snapshot_id)
    run = ec2.run_instances(
        ImageId=second["ImageId"], InstanceType="t3.nano", MinCount=1, MaxCount=1
    )
    instance_id = run["Instances"][0]["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig=FAST)
    [root] = ec2.describe_volumes(
        Filters=[{"Name": "attachment.instance-id", "Values": [instance_id]}]
    )["Volumes"]
    assert root["KmsKeyId"] == key["Arn"]  # its snapshot kept the source's key

    with pytest.raises(ClientError) as raised:
        ec2.copy_image(
            SourceImageId=image_id, SourceRegion=REGION, Name=f"{name}-3",
            SnapshotCopyCompletionDurationMinutes=15,
        )  # fmt: skip
    assert _code(raised) == "UnsupportedOperation"
