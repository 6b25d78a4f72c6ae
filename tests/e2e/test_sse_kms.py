"""SSE-KMS with boto3 against a real ``andromede serve`` (loopback, so HTTP is allowed as for
SSE-C): keys made with the KMS API, named by id, ARN or alias, or the tenant's default key;
PUT/GET/HEAD/copy/multipart; bucket default ``aws:kms``; a disabled key or one pending deletion
stops reads; another tenant's key is not found; the key uses are audited, and metered as KMS
requests of the S3 caller (decision 0150)."""

from __future__ import annotations

import base64
import json
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from e2e.helpers import create_bucket, empty_and_delete_bucket, unique_bucket
from e2e.iam_helpers import new_tenant
from e2e.test_billing_wiring import wait_for
from e2e.test_kms_api import kms_client, run_identity
from support.server import REGION, ServerProcess

if TYPE_CHECKING:
    from collections.abc import Iterator

    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.e2e

MIB = 1024 * 1024


def status(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    response = exc.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def s3_client(server: ServerProcess, access_key: str, secret_key: str) -> S3Client:
    session = boto3.session.Session(
        aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=REGION
    )
    return session.client(
        "s3",
        endpoint_url=server.endpoint,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


@pytest.fixture
def kms(server: ServerProcess) -> Any:
    return kms_client(server, *server.credentials())


@pytest.fixture
def key(kms: Any) -> Iterator[dict[str, Any]]:
    metadata: dict[str, Any] = kms.create_key(Description="sse-kms e2e")["KeyMetadata"]
    yield metadata
    try:
        kms.schedule_key_deletion(KeyId=metadata["KeyId"], PendingWindowInDays=7)
    except ClientError:
        pass  # already pending deletion


def test_put_get_head_with_key_id_arn_and_alias(
    s3: S3Client, kms: Any, bucket: str, key: dict[str, Any]
) -> None:
    alias = f"alias/sse-{uuid.uuid4().hex[:8]}"
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    account = key["AWSAccountId"]
    references = [
        key["KeyId"],
        key["Arn"],
        alias,
        f"arn:aws:kms:{REGION}:{account}:{alias}",
    ]
    for n, reference in enumerate(references):
        put = s3.put_object(
            Bucket=bucket,
            Key=f"k{n}",
            Body=b"secret %d" % n,
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=reference,
            Metadata={"m": "v"},
        )
        assert put["ServerSideEncryption"] == "aws:kms"
        assert put["SSEKMSKeyId"] == key["Arn"]
        head = s3.head_object(Bucket=bucket, Key=f"k{n}")
        assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", key["Arn"])
        got = s3.get_object(Bucket=bucket, Key=f"k{n}")
        assert got["Body"].read() == b"secret %d" % n
        assert (got["SSEKMSKeyId"], got["Metadata"]) == (key["Arn"], {"m": "v"})
    ranged = s3.get_object(Bucket=bucket, Key="k0", Range="bytes=2-4")
    assert ranged["Body"].read() == b"cre"


def test_context_and_bucket_key_are_echoed_and_reads_need_no_context(
    s3: S3Client, bucket: str, key: dict[str, Any]
) -> None:
    context = base64.b64encode(json.dumps({"project": "x"}).encode()).decode()
    put = s3.put_object(
        Bucket=bucket,
        Key="c",
        Body=b"ctx",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=key["KeyId"],
        SSEKMSEncryptionContext=context,
        BucketKeyEnabled=True,
    )
    assert put["SSEKMSEncryptionContext"] == context
    assert put["BucketKeyEnabled"] is True
    assert s3.get_object(Bucket=bucket, Key="c")["Body"].read() == b"ctx"
    with pytest.raises(ClientError) as bad:
        s3.put_object(
            Bucket=bucket,
            Key="bad",
            Body=b"x",
            ServerSideEncryption="aws:kms",
            SSEKMSEncryptionContext="not base64 json",
        )
    assert status(bad) == (400, "InvalidArgument")


def test_no_key_named_uses_the_aws_managed_s3_key(
    server: ServerProcess, s3: S3Client, kms: Any, bucket: str
) -> None:
    first = s3.put_object(Bucket=bucket, Key="a", Body=b"1", ServerSideEncryption="aws:kms")
    second = s3.put_object(Bucket=bucket, Key="b", Body=b"2", ServerSideEncryption="aws:kms")
    assert first["SSEKMSKeyId"] == second["SSEKMSKeyId"]
    described = kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]
    assert (described["Arn"], described["KeyManager"]) == (first["SSEKMSKeyId"], "AWS")
    aliases = kms.list_aliases(KeyId=described["KeyId"])["Aliases"]
    assert [a["AliasName"] for a in aliases] == ["alias/aws/s3"]
    assert s3.get_object(Bucket=bucket, Key="b")["Body"].read() == b"2"
    for manage in (
        lambda: kms.schedule_key_deletion(KeyId=described["KeyId"], PendingWindowInDays=7),
        lambda: kms.disable_key(KeyId=described["KeyId"]),
    ):
        with pytest.raises(ClientError) as refused:
            manage()
        assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    # Any principal of the account allowed to use S3 may use it through S3.
    s3_only = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
    }
    user = _user_s3(server, described["AWSAccountId"], s3_only)
    assert user.get_object(Bucket=bucket, Key="a")["Body"].read() == b"1"
    put = user.put_object(Bucket=bucket, Key="u", Body=b"u", ServerSideEncryption="aws:kms")
    assert put["SSEKMSKeyId"] == described["Arn"]


def test_copy_and_multipart(s3: S3Client, bucket: str, key: dict[str, Any]) -> None:
    s3.put_object(Bucket=bucket, Key="plain", Body=b"plain bytes")
    copied = s3.copy_object(
        Bucket=bucket,
        Key="to-kms",
        CopySource={"Bucket": bucket, "Key": "plain"},
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=key["KeyId"],
    )
    assert (copied["ServerSideEncryption"], copied["SSEKMSKeyId"]) == ("aws:kms", key["Arn"])
    back = s3.copy_object(Bucket=bucket, Key="back", CopySource={"Bucket": bucket, "Key": "to-kms"})
    assert back["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket=bucket, Key="back")["Body"].read() == b"plain bytes"

    upload = s3.create_multipart_upload(
        Bucket=bucket, Key="mp", ServerSideEncryption="aws:kms", SSEKMSKeyId=key["Arn"]
    )
    assert upload["SSEKMSKeyId"] == key["Arn"]
    parts = []
    data = [b"a" * (5 * MIB), b"b" * 1000]
    for number, body in enumerate(data, start=1):
        part = s3.upload_part(
            Bucket=bucket, Key="mp", UploadId=upload["UploadId"], PartNumber=number, Body=body
        )
        assert (part["ServerSideEncryption"], part["SSEKMSKeyId"]) == ("aws:kms", key["Arn"])
        parts.append({"PartNumber": number, "ETag": part["ETag"]})
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
    )
    assert done["SSEKMSKeyId"] == key["Arn"]
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"".join(data)


def test_bucket_default_aws_kms(s3: S3Client, bucket: str, key: dict[str, Any]) -> None:
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": key["KeyId"],
                    },
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    # Answered as put, as AWS does: Terraform compares the two.
    assert rule["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": key["KeyId"],
    }
    put = s3.put_object(Bucket=bucket, Key="d", Body=b"by default")
    assert (put["ServerSideEncryption"], put["SSEKMSKeyId"]) == ("aws:kms", key["Arn"])
    # An explicit AES256 still wins over the bucket default.
    explicit = s3.put_object(Bucket=bucket, Key="e", Body=b"x", ServerSideEncryption="AES256")
    assert explicit["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket=bucket, Key="d")["Body"].read() == b"by default"


def test_disabled_and_pending_deletion_keys_stop_reads_and_writes(
    s3: S3Client, kms: Any, bucket: str, key: dict[str, Any]
) -> None:
    s3.put_object(
        Bucket=bucket, Key="x", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key["Arn"]
    )
    kms.disable_key(KeyId=key["KeyId"])
    for call in (
        lambda: s3.get_object(Bucket=bucket, Key="x"),
        lambda: s3.put_object(
            Bucket=bucket,
            Key="y",
            Body=b"y",
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=key["KeyId"],
        ),
        lambda: s3.copy_object(Bucket=bucket, Key="z", CopySource={"Bucket": bucket, "Key": "x"}),
    ):
        with pytest.raises(ClientError) as disabled:
            call()
        assert status(disabled) == (400, "KMS.DisabledException")
    kms.enable_key(KeyId=key["KeyId"])
    assert s3.get_object(Bucket=bucket, Key="x")["Body"].read() == b"x"
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    with pytest.raises(ClientError) as pending:
        s3.get_object(Bucket=bucket, Key="x")
    assert status(pending) == (400, "KMS.KMSInvalidStateException")
    kms.cancel_key_deletion(KeyId=key["KeyId"])
    kms.enable_key(KeyId=key["KeyId"])
    assert s3.get_object(Bucket=bucket, Key="x")["Body"].read() == b"x"


def test_unknown_and_other_tenants_keys_are_not_found(
    server: ServerProcess, s3: S3Client, bucket: str, key: dict[str, Any]
) -> None:
    for reference in ("alias/none-such", str(uuid.uuid4()), "arn:aws:kms:nowhere"):
        with pytest.raises(ClientError) as missing:
            s3.put_object(
                Bucket=bucket,
                Key="m",
                Body=b"m",
                ServerSideEncryption="aws:kms",
                SSEKMSKeyId=reference,
            )
        assert status(missing) == (400, "KMS.NotFoundException")
    other_tenant = _tenant_s3(server)
    other_bucket = unique_bucket("kms")
    create_bucket(other_tenant, other_bucket)
    try:
        for reference in (key["KeyId"], key["Arn"]):
            with pytest.raises(ClientError) as foreign:
                other_tenant.put_object(
                    Bucket=other_bucket,
                    Key="f",
                    Body=b"f",
                    ServerSideEncryption="aws:kms",
                    SSEKMSKeyId=reference,
                )
            assert status(foreign) == (400, "KMS.NotFoundException")
    finally:
        empty_and_delete_bucket(other_tenant, other_bucket)


def test_iam_users_need_kms_permissions(
    server: ServerProcess, s3: S3Client, bucket: str, key: dict[str, Any]
) -> None:
    s3.put_object(
        Bucket=bucket, Key="o", Body=b"o", ServerSideEncryption="aws:kms", SSEKMSKeyId=key["Arn"]
    )
    s3_only = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
    }
    user = _user_s3(server, key["AWSAccountId"], s3_only)
    with pytest.raises(ClientError) as denied:
        user.get_object(Bucket=bucket, Key="o")
    assert status(denied) == (403, "AccessDenied")
    with_kms = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": key["Arn"]},
        ],
    }
    reader = _user_s3(server, key["AWSAccountId"], with_kms)
    assert reader.get_object(Bucket=bucket, Key="o")["Body"].read() == b"o"
    with pytest.raises(ClientError) as no_generate:
        reader.put_object(
            Bucket=bucket,
            Key="p",
            Body=b"p",
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=key["Arn"],
        )
    assert status(no_generate) == (403, "AccessDenied")


def _context(value: dict[str, str]) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


def test_the_stored_context_meets_the_key_policy_conditions(
    server: ServerProcess, s3: S3Client, bucket: str, key: dict[str, Any]
) -> None:
    apollo, gemini = _context({"project": "apollo"}), _context({"project": "gemini"})
    for name, context in (("apollo", apollo), ("gemini", gemini)):
        put = s3.put_object(
            Bucket=bucket,
            Key=name,
            Body=name.encode(),
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=key["Arn"],
            SSEKMSEncryptionContext=context,
        )
        assert put["SSEKMSEncryptionContext"] == context
        head = s3.head_object(Bucket=bucket, Key=name)
        assert "SSEKMSEncryptionContext" not in head  # AWS echoes it on writes only
    only_apollo = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                "Resource": key["Arn"],
                "Condition": {"StringEquals": {"kms:EncryptionContext:project": "apollo"}},
            },
        ],
    }
    user = _user_s3(server, key["AWSAccountId"], only_apollo)
    # Reads send no context: the stored one is what the condition sees.
    assert user.get_object(Bucket=bucket, Key="apollo")["Body"].read() == b"apollo"
    with pytest.raises(ClientError) as denied:
        user.get_object(Bucket=bucket, Key="gemini")
    assert status(denied) == (403, "AccessDenied")
    for context in (gemini, None):
        with pytest.raises(ClientError) as denied:
            user.put_object(
                Bucket=bucket,
                Key="mine",
                Body=b"m",
                ServerSideEncryption="aws:kms",
                SSEKMSKeyId=key["Arn"],
                **({"SSEKMSEncryptionContext": context} if context else {}),
            )
        assert status(denied) == (403, "AccessDenied")
    user.put_object(
        Bucket=bucket,
        Key="mine",
        Body=b"m",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=key["Arn"],
        SSEKMSEncryptionContext=apollo,
    )
    assert user.get_object(Bucket=bucket, Key="mine")["Body"].read() == b"m"
    with pytest.raises(ClientError) as reserved:
        s3.put_object(
            Bucket=bucket,
            Key="r",
            Body=b"r",
            ServerSideEncryption="aws:kms",
            SSEKMSEncryptionContext=_context({"aws:s3:arn": "arn:aws:s3:::elsewhere"}),
        )
    assert status(reserved) == (400, "InvalidArgument")


def test_bucket_keys_on_objects_uploads_and_bucket_defaults(
    s3: S3Client, bucket: str, key: dict[str, Any]
) -> None:
    put = s3.put_object(
        Bucket=bucket,
        Key="b",
        Body=b"bucket key",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=key["Arn"],
        BucketKeyEnabled=True,
    )
    assert put["BucketKeyEnabled"] is True
    for read in (s3.head_object(Bucket=bucket, Key="b"), s3.get_object(Bucket=bucket, Key="b")):
        assert (read["SSEKMSKeyId"], read["BucketKeyEnabled"]) == (key["Arn"], True)
    assert s3.get_object(Bucket=bucket, Key="b")["Body"].read() == b"bucket key"
    upload = s3.create_multipart_upload(
        Bucket=bucket,
        Key="mp",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=key["Arn"],
        BucketKeyEnabled=True,
        SSEKMSEncryptionContext=_context({"team": "blue"}),
    )
    assert upload["BucketKeyEnabled"] is True
    part = s3.upload_part(
        Bucket=bucket, Key="mp", UploadId=upload["UploadId"], PartNumber=1, Body=b"part"
    )
    assert part["BucketKeyEnabled"] is True
    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert done["BucketKeyEnabled"] is True
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"part"
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": key["Arn"],
                    },
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["BucketKeyEnabled"] is True
    default = s3.put_object(Bucket=bucket, Key="d", Body=b"d")
    assert (default["SSEKMSKeyId"], default["BucketKeyEnabled"]) == (key["Arn"], True)
    copied = s3.copy_object(
        Bucket=bucket, Key="c", CopySource={"Bucket": bucket, "Key": "b"}, BucketKeyEnabled=False
    )
    assert "BucketKeyEnabled" not in copied
    assert s3.get_object(Bucket=bucket, Key="c")["Body"].read() == b"bucket key"


def test_dual_layer_objects_uploads_copies_and_bucket_defaults(
    s3: S3Client, bucket: str, key: dict[str, Any], tmp_path: Path
) -> None:
    """DSSE-KMS (``aws:kms:dsse``) as boto3 sends it: single PUTs, the transfer manager's
    parts, ranges, copies to and from it, and a bucket default (decision 0075)."""
    dsse = {"ServerSideEncryption": "aws:kms:dsse", "SSEKMSKeyId": key["Arn"]}
    data = os.urandom(300_000)
    put = s3.put_object(
        Bucket=bucket,
        Key="d",
        Body=data,
        ServerSideEncryption="aws:kms:dsse",
        SSEKMSKeyId=key["Arn"],
    )
    assert (put["ServerSideEncryption"], put["SSEKMSKeyId"]) == ("aws:kms:dsse", key["Arn"])
    for read in (s3.head_object(Bucket=bucket, Key="d"), s3.get_object(Bucket=bucket, Key="d")):
        assert (read["ServerSideEncryption"], read["SSEKMSKeyId"]) == ("aws:kms:dsse", key["Arn"])
        assert "BucketKeyEnabled" not in read
    assert s3.get_object(Bucket=bucket, Key="d")["Body"].read() == data
    ranged = s3.get_object(Bucket=bucket, Key="d", Range="bytes=131000-200000")
    assert ranged["Body"].read() == data[131_000:200_001]

    # The transfer manager: 5 MiB parts, each sealed in two layers, then read in ranges.
    source = tmp_path / "large.bin"
    source.write_bytes(os.urandom(12 * MIB + 123))
    transfer = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
    s3.upload_file(str(source), bucket, "large", ExtraArgs=dsse, Config=transfer)
    head = s3.head_object(Bucket=bucket, Key="large")
    assert (head["ServerSideEncryption"], head["PartsCount"]) == ("aws:kms:dsse", 3)
    back = tmp_path / "back.bin"
    s3.download_file(bucket, "large", str(back), Config=transfer)
    assert back.read_bytes() == source.read_bytes()

    one_layer = s3.copy_object(
        Bucket=bucket,
        Key="one",
        CopySource={"Bucket": bucket, "Key": "d"},
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=key["Arn"],
    )
    assert one_layer["ServerSideEncryption"] == "aws:kms"
    two_layers = s3.copy_object(
        Bucket=bucket,
        Key="two",
        CopySource={"Bucket": bucket, "Key": "one"},
        ServerSideEncryption="aws:kms:dsse",
        SSEKMSKeyId=key["Arn"],
    )
    assert two_layers["ServerSideEncryption"] == "aws:kms:dsse"
    assert s3.get_object(Bucket=bucket, Key="two")["Body"].read() == data

    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms:dsse",
                        "KMSMasterKeyID": key["KeyId"],
                    }
                }
            ]
        },
    )
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms:dsse",
        "KMSMasterKeyID": key["KeyId"],
    }
    default = s3.put_object(Bucket=bucket, Key="by-default", Body=b"default")
    assert (default["ServerSideEncryption"], default["SSEKMSKeyId"]) == (
        "aws:kms:dsse",
        key["Arn"],
    )


def _tenant_s3(server: ServerProcess) -> S3Client:
    async def work(identity: Any) -> Any:
        return await identity.create_tenant(f"sse-{uuid.uuid4().hex[:10]}")

    created = run_identity(server, work)
    return s3_client(server, created.access_key_id, created.secret_access_key)


def _user_s3(server: ServerProcess, account: str, policy: dict[str, Any]) -> S3Client:
    name = f"u{uuid.uuid4().hex[:10]}"

    async def work(identity: Any) -> Any:
        await identity.create_user(account, name)
        await identity.put_user_policy(account, name, "p", json.dumps(policy))
        return await identity.create_access_key(account, name)

    created = run_identity(server, work)
    return s3_client(server, created.key.access_key_id, created.secret_access_key)


def test_s3s_key_uses_are_metered_as_kms_requests_of_the_caller(server: ServerProcess) -> None:
    # Decision 0150: each key use S3 sends to the key service is a KMS request of the S3
    # caller's account; a bucket key's reuse sends none. A fresh tenant, so its count is exact.
    tenant = new_tenant(server, "ssem")
    kms = kms_client(server, tenant.access_key_id, tenant.secret_access_key)
    s3 = s3_client(server, tenant.access_key_id, tenant.secret_access_key)
    arn = kms.create_key()["KeyMetadata"]["Arn"]  # a KMS API request: 1
    name = unique_bucket()
    create_bucket(s3, name)
    try:
        s3.put_object(
            Bucket=name, Key="o", Body=b"o", ServerSideEncryption="aws:kms", SSEKMSKeyId=arn
        )
        assert s3.get_object(Bucket=name, Key="o")["Body"].read() == b"o"  # 2 and 3
        # HEAD and GetObjectAttributes decrypt nothing: no KMS request, as on AWS (0150's
        # addendum); they still answer the key.
        for _ in range(3):
            assert s3.head_object(Bucket=name, Key="o")["SSEKMSKeyId"] == arn
        attributes = s3.get_object_attributes(Bucket=name, Key="o", ObjectAttributes=["ETag"])
        assert attributes["ETag"]
        for n in range(3):  # the first PUT and the first GET only: 4 and 5
            s3.put_object(
                Bucket=name,
                Key=f"b{n}",
                Body=b"b",
                ServerSideEncryption="aws:kms",
                SSEKMSKeyId=arn,
                BucketKeyEnabled=True,
            )
        for n in range(3):
            assert s3.get_object(Bucket=name, Key=f"b{n}")["Body"].read() == b"b"
        # A last GET (6), counted after the HEADs: when it is in the usage, so would they be.
        assert s3.get_object(Bucket=name, Key="o")["Body"].read() == b"o"
        found = wait_for(server, tenant, lambda u: u.get("kms.requests", 0) >= 6, timeout=40)
        assert found.get("kms.requests") == 6
    finally:
        empty_and_delete_bucket(s3, name)
        kms.schedule_key_deletion(KeyId=arn, PendingWindowInDays=7)
