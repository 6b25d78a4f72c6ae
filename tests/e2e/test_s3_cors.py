"""CORS against a real ``andromede serve`` (decision 0077): boto3 puts, reads and deletes a
bucket's rules; a preflight goes over HTTP unsigned, as a browser sends it; a presigned GET
and PUT with an ``Origin``, as a web page's ``fetch`` makes them, get the headers that let the
page read the answer."""

from __future__ import annotations

import http.client
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

from support.rawclient import boto3_client_for
from support.server import ServerProcess

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.e2e

APP = "https://app.example.org"


@pytest.fixture(scope="module")
def client(server: ServerProcess) -> S3Client:
    return boto3_client_for(server)


@pytest.fixture
def bkt(client: S3Client) -> Iterator[str]:
    name = f"cors-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=name)
    yield name
    for entry in client.list_objects_v2(Bucket=name).get("Contents", []):
        client.delete_object(Bucket=name, Key=entry["Key"])
    client.delete_bucket(Bucket=name)


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


def test_rules_round_trip_with_boto3(client: S3Client, bkt: str) -> None:
    with pytest.raises(ClientError) as missing:
        client.get_bucket_cors(Bucket=bkt)
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
    client.put_bucket_cors(Bucket=bkt, CORSConfiguration={"CORSRules": rules})  # type: ignore[typeddict-item]
    assert client.get_bucket_cors(Bucket=bkt)["CORSRules"] == rules
    with pytest.raises(ClientError) as refused:
        client.put_bucket_cors(
            Bucket=bkt,
            CORSConfiguration={
                "CORSRules": [{"AllowedMethods": ["TRACE"], "AllowedOrigins": ["*"]}]
            },
        )
    assert refused.value.response["Error"]["Code"] == "InvalidRequest"
    client.delete_bucket_cors(Bucket=bkt)
    with pytest.raises(ClientError):
        client.get_bucket_cors(Bucket=bkt)


def test_a_browsers_preflight_and_requests(
    server: ServerProcess, client: S3Client, bkt: str
) -> None:
    client.put_bucket_cors(
        Bucket=bkt,
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
    status, headers, _ = _send(server, "OPTIONS", f"/{bkt}/upload.txt", preflight)
    assert status == 200
    assert headers["access-control-allow-origin"] == APP
    assert headers["access-control-allow-methods"] == "GET, PUT"
    assert headers["access-control-allow-headers"] == "content-type, x-amz-meta-author"
    assert headers["access-control-max-age"] == "600"
    status, _, body = _send(
        server, "OPTIONS", f"/{bkt}/upload.txt", {**preflight, "Origin": "https://evil.example"}
    )
    assert status == 403 and b"<Code>AccessForbidden</Code>" in body

    # What the page then does with presigned URLs: PUT, then GET, each with its Origin.
    put_url = client.generate_presigned_url(
        "put_object", Params={"Bucket": bkt, "Key": "upload.txt"}, ExpiresIn=300
    )
    target = put_url[len(server.endpoint) :]
    status, headers, _ = _send(server, "PUT", target, {"Origin": APP}, b"from the browser")
    assert status == 200
    assert headers["access-control-allow-origin"] == APP
    assert headers["access-control-expose-headers"] == "ETag"
    get_url = client.generate_presigned_url(
        "get_object", Params={"Bucket": bkt, "Key": "upload.txt"}, ExpiresIn=300
    )
    status, headers, body = _send(server, "GET", get_url[len(server.endpoint) :], {"Origin": APP})
    assert (status, body) == (200, b"from the browser")
    assert headers["access-control-allow-origin"] == APP
