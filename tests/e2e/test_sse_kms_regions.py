"""SSE-KMS in the bucket's own region (decision 0142), through boto3 against a real
``andromede serve`` declaring two regions: a bucket of the second region takes that region's
keys (by ARN, id, alias, and its own ``alias/aws/s3``), a key ARN of the other region is
refused as S3 refuses it (``KMS.NotFoundException``), a multi-Region key is used through its
replica in the second region, and replication to the second region seals each replica under
a replica key of that region — a multi-Region key's replica there."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from support.server import REGION, ServerProcess, running_server

pytestmark = pytest.mark.e2e

FR, DE = REGION, "eu-de-1"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("sse-kms-regions") / "data"
    regions = [{"name": FR, "jurisdiction": "FR"}, {"name": DE, "jurisdiction": "DE"}]
    env = {
        "ANDROMEDE_REGIONS": json.dumps(regions),
        "ANDROMEDE_WORKERS": "1",
        "ANDROMEDE_REPLICATION_INTERVAL": "0.2",
        "ANDROMEDE_REPLICATION_RETRY_BASE": "0.2",
    }
    with running_server(data_dir, extra_env=env) as running:
        yield running


def client(server: ServerProcess, service: str, region: str) -> Any:
    access_key, secret_key = server.credentials()
    make: Any = boto3.client  # the service is a parameter: no one overload of the stubs
    return make(
        service,
        endpoint_url=server.endpoint,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def refused(code: str, call: Any, **kwargs: Any) -> str:
    """The error message of a call that must fail with ``code`` (400)."""
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    error = caught.value.response
    assert error["Error"]["Code"] == code, error
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["ResponseMetadata"]["RequestId"]
    return str(error["Error"]["Message"])


def german_bucket(s3_de: Any, prefix: str) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    s3_de.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": DE})
    return name


def test_a_bucket_of_the_second_region_takes_that_regions_keys(server: ServerProcess) -> None:
    kms_fr, kms_de = client(server, "kms", FR), client(server, "kms", DE)
    s3_de = client(server, "s3", DE)
    bucket = german_bucket(s3_de, "de-sse")
    assert s3_de.get_bucket_location(Bucket=bucket)["LocationConstraint"] == DE
    de_key = kms_de.create_key(Description="frankfurt")["KeyMetadata"]
    fr_key = kms_fr.create_key(Description="paris")["KeyMetadata"]
    kms_de.create_alias(AliasName="alias/data", TargetKeyId=de_key["KeyId"])
    for name, ref in (("by-arn", de_key["Arn"]), ("by-id", de_key["KeyId"])):
        put = s3_de.put_object(
            Bucket=bucket, Key=name, Body=name.encode(), ServerSideEncryption="aws:kms",
            SSEKMSKeyId=ref,
        )  # fmt: skip
        assert put["SSEKMSKeyId"] == de_key["Arn"]
    put = s3_de.put_object(
        Bucket=bucket, Key="by-alias", Body=b"by-alias", ServerSideEncryption="aws:kms",
        SSEKMSKeyId="alias/data",
    )  # fmt: skip
    assert put["SSEKMSKeyId"] == de_key["Arn"]
    got = s3_de.get_object(Bucket=bucket, Key="by-alias")
    assert (got["Body"].read(), got["SSEKMSKeyId"]) == (b"by-alias", de_key["Arn"])
    # A key of the other region: not found by the KMS of the bucket's region.
    message = refused(
        "KMS.NotFoundException", s3_de.put_object, Bucket=bucket, Key="x", Body=b"x",
        ServerSideEncryption="aws:kms", SSEKMSKeyId=fr_key["Arn"],
    )  # fmt: skip
    assert FR in message
    refused(
        "KMS.NotFoundException", s3_de.put_object, Bucket=bucket, Key="x", Body=b"x",
        ServerSideEncryption="aws:kms", SSEKMSKeyId=fr_key["KeyId"],
    )  # fmt: skip
    refused(
        "KMS.NotFoundException", s3_de.put_bucket_encryption, Bucket=bucket,
        ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {
            "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": fr_key["Arn"]}}]},
    )  # fmt: skip
    # No key named: the account's alias/aws/s3 of this region, made here on first use.
    default = s3_de.put_object(
        Bucket=bucket, Key="default", Body=b"d", ServerSideEncryption="aws:kms"
    )
    assert default["SSEKMSKeyId"].startswith(f"arn:aws:kms:{DE}:")
    managed = kms_de.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]
    assert (managed["Arn"], managed["KeyManager"]) == (default["SSEKMSKeyId"], "AWS")
    assert "alias/aws/s3" in {a["AliasName"] for a in kms_de.list_aliases()["Aliases"]}
    policy = kms_de.get_key_policy(KeyId=managed["KeyId"], PolicyName="default")["Policy"]
    assert f"s3.{DE}.amazonaws.com" in policy
    # The bucket default names this region's alias; writes without headers take it.
    s3_de.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={"Rules": [{
            "ApplyServerSideEncryptionByDefault": {
                "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/data"},
            "BucketKeyEnabled": True,
        }]},
    )  # fmt: skip
    plain = s3_de.put_object(Bucket=bucket, Key="defaulted", Body=b"defaulted")
    assert (plain["SSEKMSKeyId"], plain["BucketKeyEnabled"]) == (de_key["Arn"], True)
    assert s3_de.get_object(Bucket=bucket, Key="defaulted")["Body"].read() == b"defaulted"
    # Disabled in its region, the key shuts its objects.
    kms_de.disable_key(KeyId=de_key["KeyId"])
    refused("KMS.DisabledException", s3_de.get_object, Bucket=bucket, Key="by-arn")


def test_a_multi_region_key_through_its_replica(server: ServerProcess) -> None:
    kms_fr, kms_de = client(server, "kms", FR), client(server, "kms", DE)
    s3_de = client(server, "s3", DE)
    bucket = german_bucket(s3_de, "de-mrk")
    primary = kms_fr.create_key(MultiRegion=True)["KeyMetadata"]
    replica = kms_fr.replicate_key(KeyId=primary["KeyId"], ReplicaRegion=DE)["ReplicaKeyMetadata"]
    put = s3_de.put_object(
        Bucket=bucket, Key="m", Body=b"mrk", ServerSideEncryption="aws:kms",
        SSEKMSKeyId=primary["KeyId"],
    )  # fmt: skip
    assert put["SSEKMSKeyId"] == replica["Arn"]
    assert s3_de.get_object(Bucket=bucket, Key="m")["Body"].read() == b"mrk"
    refused(
        "KMS.NotFoundException", s3_de.put_object, Bucket=bucket, Key="p", Body=b"p",
        ServerSideEncryption="aws:kms", SSEKMSKeyId=primary["Arn"],
    )  # fmt: skip
    # The replica's state is its region's: disabled, the German object is shut; the primary
    # still serves the French side.
    kms_de.disable_key(KeyId=replica["Arn"])
    refused("KMS.DisabledException", s3_de.get_object, Bucket=bucket, Key="m")
    kms_fr.encrypt(KeyId=primary["KeyId"], Plaintext=b"still usable in paris")


def test_replication_seals_replicas_under_a_key_of_the_destinations_region(
    server: ServerProcess,
) -> None:
    kms_fr, kms_de = client(server, "kms", FR), client(server, "kms", DE)
    s3_fr, s3_de = client(server, "s3", FR), client(server, "s3", DE)
    source = f"src-{uuid.uuid4().hex[:8]}"
    s3_fr.create_bucket(Bucket=source)
    backup = german_bucket(s3_de, "dst")
    for s3, name in ((s3_fr, source), (s3_de, backup)):
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    source_key = kms_fr.create_key(Description="source")["KeyMetadata"]
    primary = kms_fr.create_key(MultiRegion=True, Description="replicas")["KeyMetadata"]
    replica = kms_fr.replicate_key(KeyId=primary["KeyId"], ReplicaRegion=DE)["ReplicaKeyMetadata"]

    def configuration(replica_key: str) -> dict[str, Any]:
        return {
            "Role": "arn:aws:iam::000000000000:role/replication",
            "Rules": [{
                "ID": "all", "Priority": 1, "Filter": {"Prefix": ""}, "Status": "Enabled",
                "DeleteMarkerReplication": {"Status": "Disabled"},
                "SourceSelectionCriteria": {"SseKmsEncryptedObjects": {"Status": "Enabled"}},
                "Destination": {
                    "Bucket": f"arn:aws:s3:::{backup}",
                    "EncryptionConfiguration": {"ReplicaKmsKeyID": replica_key},
                },
            }],
        }  # fmt: skip

    # The primary's ARN is of the source's region, not the destination's.
    message = refused(
        "InvalidRequest", s3_fr.put_bucket_replication, Bucket=source,
        ReplicationConfiguration=configuration(primary["Arn"]),
    )  # fmt: skip
    assert DE in message
    s3_fr.put_bucket_replication(
        Bucket=source, ReplicationConfiguration=configuration(replica["Arn"])
    )
    body = b"replicated under the German replica key"
    put = s3_fr.put_object(
        Bucket=source, Key="doc", Body=body, ServerSideEncryption="aws:kms",
        SSEKMSKeyId=source_key["Arn"],
    )  # fmt: skip
    version = put["VersionId"]
    deadline = time.monotonic() + 30
    while True:
        status = s3_fr.head_object(Bucket=source, Key="doc", VersionId=version).get(
            "ReplicationStatus"
        )
        if status in ("COMPLETED", "FAILED") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert status == "COMPLETED"
    copy = s3_de.get_object(Bucket=backup, Key="doc", VersionId=version)
    assert copy["Body"].read() == body
    assert (copy["ReplicationStatus"], copy["SSEKMSKeyId"]) == ("REPLICA", replica["Arn"])
    # Sealed under the German replica key: disabling it shuts the replica, and not the source
    # (under its own key), nor the primary's region.
    kms_de.disable_key(KeyId=replica["Arn"])
    refused("KMS.DisabledException", s3_de.get_object, Bucket=backup, Key="doc")
    assert s3_fr.get_object(Bucket=source, Key="doc")["Body"].read() == body
    kms_de.enable_key(KeyId=replica["Arn"])
    assert s3_de.get_object(Bucket=backup, Key="doc")["Body"].read() == body
