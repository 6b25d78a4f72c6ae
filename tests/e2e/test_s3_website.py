"""Static websites against a real ``andromede serve`` (decision 0081): boto3 and the aws CLI
configure a bucket's website, and a browser's requests (plain HTTP, unsigned, to
``BUCKET.s3-website.localhost`` on the S3 port) get its pages, redirects and errors."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

from e2e.clients import aws_cli
from support.server import ServerProcess

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.e2e


def browse(
    server: ServerProcess,
    bucket: str,
    path: str,
    method: str = "GET",
    extra: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """What a browser gets from the bucket's website (the name resolves to this server)."""
    parts = urlsplit(server.endpoint)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        host = f"{bucket}.s3-website.localhost:{parts.port}"
        headers = {"Host": host, "User-Agent": "Mozilla/5.0", **(extra or {})}
        connection.request(method, path, headers=headers)
        response = connection.getresponse()
        return (
            response.status,
            {name.lower(): value for name, value in response.getheaders()},
            response.read(),
        )
    finally:
        connection.close()


def publish(s3: S3Client, bucket: str) -> None:
    """What a site's owner does first: let anyone read the bucket's objects."""
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": False,
        },
    )
    statement = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
    }
    s3.put_bucket_policy(
        Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    )
    for key, body in (
        ("index.html", b"<h1>welcome</h1>"),
        ("guide/index.html", b"<h1>guide</h1>"),
        ("error.html", b"<h1>not here</h1>"),
    ):
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="text/html")


def test_boto3_configures_a_website_that_a_browser_reads(
    server: ServerProcess, s3: S3Client, bucket: str
) -> None:
    with pytest.raises(ClientError) as missing:
        s3.get_bucket_website(Bucket=bucket)
    assert missing.value.response["Error"]["Code"] == "NoSuchWebsiteConfiguration"
    publish(s3, bucket)
    rules = [
        {
            "Condition": {"KeyPrefixEquals": "docs/"},
            "Redirect": {"ReplaceKeyPrefixWith": "guide/", "HttpRedirectCode": "301"},
        }
    ]
    s3.put_bucket_website(
        Bucket=bucket,
        WebsiteConfiguration={
            "IndexDocument": {"Suffix": "index.html"},
            "ErrorDocument": {"Key": "error.html"},
            "RoutingRules": rules,  # type: ignore[typeddict-item]
        },
    )
    read = s3.get_bucket_website(Bucket=bucket)
    assert read["IndexDocument"] == {"Suffix": "index.html"}
    assert read["RoutingRules"] == rules
    status, headers, body = browse(server, bucket, "/")
    assert (status, body, headers["content-type"]) == (200, b"<h1>welcome</h1>", "text/html")
    assert browse(server, bucket, "/guide/")[2] == b"<h1>guide</h1>"
    status, headers, _ = browse(server, bucket, "/guide")
    assert (status, headers["location"]) == (302, "/guide/")
    status, headers, _ = browse(server, bucket, "/docs/start.html")
    host = f"{bucket}.s3-website.localhost:{urlsplit(server.endpoint).port}"
    assert (status, headers["location"]) == (301, f"http://{host}/guide/start.html")
    # A missing page: the error document, with S3's 403 for readers who may not list.
    assert browse(server, bucket, "/nowhere.html")[:3:2] == (403, b"<h1>not here</h1>")
    s3.put_object(Bucket=bucket, Key="old.html", Body=b"", WebsiteRedirectLocation="/guide/")
    assert s3.head_object(Bucket=bucket, Key="old.html")["WebsiteRedirectLocation"] == "/guide/"
    status, headers, body = browse(server, bucket, "/old.html")
    assert (status, headers["location"], body) == (301, "/guide/", b"")
    # Only GET and HEAD: a website is read-only whatever its bucket allows.
    assert browse(server, bucket, "/index.html", "DELETE")[0] == 405
    # Another origin's page using the site's files: the bucket's CORS rules answer for it.
    origin = {"Origin": "https://app.example"}
    s3.put_bucket_cors(
        Bucket=bucket,
        CORSConfiguration={
            "CORSRules": [{"AllowedOrigins": ["https://app.example"], "AllowedMethods": ["GET"]}]
        },
    )
    preflight = {**origin, "Access-Control-Request-Method": "GET"}
    status, headers, _ = browse(server, bucket, "/guide/", "OPTIONS", preflight)
    assert (status, headers["access-control-allow-origin"]) == (200, "https://app.example")
    status, headers, _ = browse(server, bucket, "/guide/", extra=origin)
    assert (status, headers["access-control-allow-origin"]) == (200, "https://app.example")
    assert s3.get_object(Bucket=bucket, Key="index.html")["Body"].read() == b"<h1>welcome</h1>"
    s3.delete_bucket_website(Bucket=bucket)
    status, headers, body = browse(server, bucket, "/")
    assert (status, headers["content-type"]) == (404, "text/html; charset=utf-8")
    assert b"<li>Code: NoSuchWebsiteConfiguration</li>" in body


def test_aws_cli_turns_a_bucket_into_a_website(
    server: ServerProcess, s3: S3Client, bucket: str, tmp_path: Path
) -> None:
    publish(s3, bucket)
    aws = aws_cli(server, tmp_path)
    aws(
        "s3",
        "website",
        f"s3://{bucket}",
        "--index-document",
        "index.html",
        "--error-document",
        "error.html",
    )
    shown = json.loads(aws("s3api", "get-bucket-website", "--bucket", bucket).stdout)
    assert shown == {
        "IndexDocument": {"Suffix": "index.html"},
        "ErrorDocument": {"Key": "error.html"},
    }
    assert browse(server, bucket, "/")[:3:2] == (200, b"<h1>welcome</h1>")
    head = browse(server, bucket, "/index.html", "HEAD")
    assert (head[0], head[1]["content-length"], head[2]) == (200, "16", b"")
