"""HTTPS: a second ``andromede serve`` with a certificate from a throw-away CA (trustme).

Over HTTPS boto3's defaults change: uploads go as ``aws-chunked`` bodies with
``x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER`` and the checksum in a trailer. The
tests record the headers boto3 really sent, so they prove that path was taken.
"""

from __future__ import annotations

import http.client
import os
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import botocore.exceptions
import pytest

from e2e.helpers import (
    MIB,
    TlsServer,
    boto3_client,
    checksum,
    composite_checksum,
    create_bucket,
    empty_and_delete_bucket,
    sha256_bytes,
    unique_bucket,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.e2e

UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"


@pytest.fixture
def tls_s3(tls_server: TlsServer) -> S3Client:
    return boto3_client(tls_server.process, verify=str(tls_server.ca_pem))


@pytest.fixture
def tls_bucket(tls_s3: S3Client) -> Iterator[str]:
    name = unique_bucket("tls")
    create_bucket(tls_s3, name)
    yield name
    empty_and_delete_bucket(tls_s3, name)


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def record_headers(client: S3Client, operation: str) -> list[dict[str, str]]:
    """Headers of every ``operation`` request the client sends, as sent on the wire."""
    seen: list[dict[str, str]] = []

    def before_send(request: Any, **_: Any) -> None:
        seen.append({name.lower(): _text(value) for name, value in request.headers.items()})

    client.meta.events.register(f"before-send.s3.{operation}", before_send)
    return seen


def test_put_object_with_unsigned_payload_trailer(tls_s3: S3Client, tls_bucket: str) -> None:
    sent = record_headers(tls_s3, "PutObject")
    data = os.urandom(3 * MIB + 17)
    tls_s3.put_object(Bucket=tls_bucket, Key="trailer", Body=data)

    assert sent, "boto3 sent no PutObject"
    headers = sent[-1]
    assert headers.get("x-amz-content-sha256") == UNSIGNED_TRAILER
    assert headers.get("x-amz-trailer") == "x-amz-checksum-crc32"
    assert "aws-chunked" in headers.get("content-encoding", "")

    head = tls_s3.head_object(Bucket=tls_bucket, Key="trailer", ChecksumMode="ENABLED")
    assert head["ContentLength"] == len(data)
    assert head.get("ChecksumCRC32") == checksum("CRC32", data)
    got = tls_s3.get_object(Bucket=tls_bucket, Key="trailer")
    assert sha256_bytes(got["Body"].read()) == sha256_bytes(data)


def test_put_object_trailer_sha256(tls_s3: S3Client, tls_bucket: str) -> None:
    sent = record_headers(tls_s3, "PutObject")
    data = os.urandom(200_000)
    tls_s3.put_object(Bucket=tls_bucket, Key="sha", Body=data, ChecksumAlgorithm="SHA256")
    assert sent[-1].get("x-amz-trailer") == "x-amz-checksum-sha256"
    head = tls_s3.head_object(Bucket=tls_bucket, Key="sha", ChecksumMode="ENABLED")
    assert head.get("ChecksumSHA256") == checksum("SHA256", data)


def test_multipart_upload_with_unsigned_payload_trailer(tls_s3: S3Client, tls_bucket: str) -> None:
    sent = record_headers(tls_s3, "UploadPart")
    parts = [os.urandom(5 * MIB), os.urandom(1 * MIB + 3)]
    upload_id = tls_s3.create_multipart_upload(
        Bucket=tls_bucket, Key="mpu", ChecksumAlgorithm="CRC32"
    )["UploadId"]
    completed = []
    for number, body in enumerate(parts, start=1):
        response = tls_s3.upload_part(
            Bucket=tls_bucket,
            Key="mpu",
            UploadId=upload_id,
            PartNumber=number,
            Body=body,
            ChecksumAlgorithm="CRC32",
        )
        assert response.get("ChecksumCRC32") == checksum("CRC32", body)
        completed.append(
            {
                "PartNumber": number,
                "ETag": response["ETag"],
                "ChecksumCRC32": checksum("CRC32", body),
            }
        )
    assert len(sent) == 2
    assert all(headers.get("x-amz-content-sha256") == UNSIGNED_TRAILER for headers in sent)

    complete = tls_s3.complete_multipart_upload(
        Bucket=tls_bucket,
        Key="mpu",
        UploadId=upload_id,
        MultipartUpload={"Parts": completed},  # type: ignore[typeddict-item]
    )
    expected = composite_checksum("CRC32", parts)
    assert complete.get("ChecksumCRC32") == expected
    head = tls_s3.head_object(Bucket=tls_bucket, Key="mpu", ChecksumMode="ENABLED")
    assert head.get("ChecksumCRC32") == expected
    got = tls_s3.get_object(Bucket=tls_bucket, Key="mpu")
    assert sha256_bytes(got["Body"].read()) == sha256_bytes(b"".join(parts))


def test_plain_http_to_tls_port_fails(tls_server: TlsServer) -> None:
    url = f"http://127.0.0.1:{tls_server.process.port}/"
    with pytest.raises((http.client.HTTPException, OSError)) as failure:
        urllib.request.urlopen(url, timeout=10)
    # Whatever the failure, it must not be an S3 answer served in clear text.
    if isinstance(failure.value, urllib.error.HTTPError):
        with failure.value:
            assert b"<ListAllMyBucketsResult" not in failure.value.read()


def test_untrusted_client_fails(tls_server: TlsServer) -> None:
    url = f"https://127.0.0.1:{tls_server.process.port}/"
    context = ssl.create_default_context()  # system CAs only: the test CA is unknown
    with pytest.raises(urllib.error.URLError) as failure:
        urllib.request.urlopen(url, timeout=10, context=context)
    assert isinstance(failure.value.reason, ssl.SSLCertVerificationError)

    untrusting = boto3_client(tls_server.process, verify=True)
    with pytest.raises(botocore.exceptions.SSLError):
        untrusting.list_buckets()


def test_trusted_client_lists_over_https(tls_server: TlsServer) -> None:
    context = ssl.create_default_context(cafile=str(tls_server.ca_pem))
    url = f"https://127.0.0.1:{tls_server.process.port}/"
    # Unsigned: an anonymous request reaches S3 over a verified TLS session and is refused by
    # authorisation, not by the transport.
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=10, context=context)
    refused.value.close()
    assert refused.value.code == 403
