"""Server-side encryption with boto3 against a real ``andromede serve`` (loopback, so SSE-C is
allowed over HTTP as AWS allows it only over TLS): SSE-S3 headers, SSE-C round trips and key
checks, copies and multipart between modes, bucket default encryption."""

from __future__ import annotations

import io
import os
from typing import TYPE_CHECKING

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.e2e

MIB = 1024 * 1024


def status(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    response = exc.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def test_sse_s3_is_reported_everywhere(s3: S3Client, bucket: str) -> None:
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"data", Metadata={"a": "b"})
    assert put["ServerSideEncryption"] == "AES256"
    assert s3.head_object(Bucket=bucket, Key="k")["ServerSideEncryption"] == "AES256"
    got = s3.get_object(Bucket=bucket, Key="k")
    assert (got["Body"].read(), got["Metadata"], got["ServerSideEncryption"]) == (
        b"data",
        {"a": "b"},
        "AES256",
    )
    explicit = s3.put_object(Bucket=bucket, Key="e", Body=b"x", ServerSideEncryption="AES256")
    assert explicit["ServerSideEncryption"] == "AES256"
    # SSE-KMS without a key: the tenant's default S3 key (tests/e2e/test_sse_kms.py covers it).
    kms = s3.put_object(Bucket=bucket, Key="kms", Body=b"x", ServerSideEncryption="aws:kms")
    assert kms["ServerSideEncryption"] == "aws:kms"


def test_sse_c_round_trip_copy_and_multipart(s3: S3Client, bucket: str) -> None:
    key, other = os.urandom(32), os.urandom(32)
    data = os.urandom(300_000)
    customer = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}
    s3.put_object(Bucket=bucket, Key="c", Body=data, **customer)  # type: ignore[arg-type]
    got = s3.get_object(Bucket=bucket, Key="c", **customer)  # type: ignore[arg-type]
    assert got["Body"].read() == data and got["SSECustomerAlgorithm"] == "AES256"
    ranged = s3.get_object(
        Bucket=bucket,
        Key="c",
        Range="bytes=65530-65545",
        **customer,  # type: ignore[arg-type]
    )
    assert ranged["Body"].read() == data[65530:65546]
    with pytest.raises(ClientError) as missing:
        s3.get_object(Bucket=bucket, Key="c")
    assert status(missing) == (400, "InvalidRequest")
    with pytest.raises(ClientError) as wrong:
        s3.get_object(
            Bucket=bucket,
            Key="c",
            SSECustomerAlgorithm="AES256",
            SSECustomerKey=other,  # type: ignore[arg-type]
        )
    assert status(wrong) == (403, "AccessDenied")
    # SSE-C to SSE-S3 and back.
    s3.copy_object(
        Bucket=bucket,
        Key="s3",
        CopySource={"Bucket": bucket, "Key": "c"},
        CopySourceSSECustomerAlgorithm="AES256",
        CopySourceSSECustomerKey=key,  # type: ignore[arg-type]
    )
    assert s3.get_object(Bucket=bucket, Key="s3")["Body"].read() == data
    s3.copy_object(
        Bucket=bucket,
        Key="c-again",
        CopySource={"Bucket": bucket, "Key": "s3"},
        SSECustomerAlgorithm="AES256",
        SSECustomerKey=other,  # type: ignore[arg-type]
    )
    again = s3.get_object(
        Bucket=bucket,
        Key="c-again",
        SSECustomerAlgorithm="AES256",
        SSECustomerKey=other,  # type: ignore[arg-type]
    )
    assert again["Body"].read() == data
    # Multipart through boto3's transfer manager, every part with the customer key.
    big = os.urandom(12 * MIB)
    config = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
    s3.upload_fileobj(io.BytesIO(big), bucket, "mp", ExtraArgs=customer, Config=config)
    head = s3.head_object(Bucket=bucket, Key="mp", **customer)  # type: ignore[arg-type]
    assert head["ContentLength"] == len(big) and head["ETag"].endswith('-3"')
    whole = s3.get_object(Bucket=bucket, Key="mp", **customer)  # type: ignore[arg-type]
    assert whole["Body"].read() == big


def test_bucket_default_encryption(s3: S3Client, bucket: str) -> None:
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["BucketKeyEnabled"] is True
    with pytest.raises(ClientError) as kms:
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": "alias/no-such-alias",
                        }
                    }
                ]
            },
        )
    assert status(kms) == (400, "KMS.NotFoundException")
    s3.delete_bucket_encryption(Bucket=bucket)
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
