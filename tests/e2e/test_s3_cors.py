"""CORS against a real ``andromede serve`` (decision 0077): boto3 puts, reads and deletes a
bucket's rules; a preflight goes over HTTP unsigned, as a browser sends it; a presigned GET
and PUT with an ``Origin``, as a web page's ``fetch`` makes them, get the headers that let the
page read the answer."""

from __future__ import annotations

import http.client
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

from support.server import ServerProcess

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.e2e

APP = "https://app.example.org"


def _send(
    server: ServerProcess, method: str, target: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(server.endpoint)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        connection.request(method, target, body=body, headers=headers)
        response = connection.getresponse()
        return (
            response.status,
            {name.lower(): value for name, value in response.getheaders()},
            response.read(),
        )
    finally:
        connection.close()


def test_rules_round_trip_with_boto3(s3: S3Client, bucket: str) -> None:
    with pytest.raises(ClientError) as missing:
        s3.get_bucket_cors(Bucket=bucket)
    assert missing.value.response["Error"]["Code"] == "NoSuchCORSConfiguration"
    rules = [
        {
            "ID": "web",
            "AllowedHeaders": ["*"],
            "AllowedMethods": ["GET", "PUT"],
            "AllowedOrigins": [APP],
            "ExposeHeaders": ["ETag"],
            "MaxAgeSeconds": 3000,
        },
        {"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]},
    ]
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})  # type: ignore[typeddict-item]
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == rules
    with pytest.raises(ClientError) as refused:
        s3.put_bucket_cors(
            Bucket=bucket,
            CORSConfiguration={
                "CORSRules": [{"AllowedMethods": ["TRACE"], "AllowedOrigins": ["*"]}]
            },
        )
    assert refused.value.response["Error"]["Code"] == "InvalidRequest"
    s3.delete_bucket_cors(Bucket=bucket)
    with pytest.raises(ClientError):
        s3.get_bucket_cors(Bucket=bucket)


def test_a_browsers_preflight_and_requests(
    server: ServerProcess, s3: S3Client, bucket: str
) -> None:
    s3.put_bucket_cors(
        Bucket=bucket,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedHeaders": ["content-type", "x-amz-*"],
                    "AllowedMethods": ["GET", "PUT"],
                    "AllowedOrigins": [APP],
                    "ExposeHeaders": ["ETag"],
                    "MaxAgeSeconds": 600,
                }
            ]
        },
    )
    preflight = {
        "Origin": APP,
        "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "content-type, x-amz-meta-author",
    }
    status, headers, _ = _send(server, "OPTIONS", f"/{bucket}/upload.txt", preflight)
    assert status == 200
    assert headers["access-control-allow-origin"] == APP
    assert headers["access-control-allow-methods"] == "GET, PUT"
    assert headers["access-control-allow-headers"] == "content-type, x-amz-meta-author"
    assert headers["access-control-max-age"] == "600"
    status, _, body = _send(
        server, "OPTIONS", f"/{bucket}/upload.txt", {**preflight, "Origin": "https://evil.example"}
    )
    assert status == 403 and b"<Code>AccessForbidden</Code>" in body

    # What the page then does with presigned URLs: PUT, then GET, each with its Origin.
    put_url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "upload.txt"}, ExpiresIn=300
    )
    target = put_url[len(server.endpoint) :]
    status, headers, _ = _send(server, "PUT", target, {"Origin": APP}, b"from the browser")
    assert status == 200
    assert headers["access-control-allow-origin"] == APP
    assert headers["access-control-expose-headers"] == "ETag"
    get_url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "upload.txt"}, ExpiresIn=300
    )
    status, headers, body = _send(server, "GET", get_url[len(server.endpoint) :], {"Origin": APP})
    assert (status, body) == (200, b"from the browser")
    assert headers["access-control-allow-origin"] == APP
