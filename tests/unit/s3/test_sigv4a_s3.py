"""SigV4a at the S3 edge (decision 0380): presigned URLs made by botocore's CRT signer and
``aws-chunked`` uploads whose seed the CRT signs and whose chunks are ECDSA-signed as the CRT
signs them, through the S3 app in process: accepted; a tampered chunk, an expired URL and a
Region set without the Region refused in S3's words, and nothing stored from a refused body."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import botocore.auth  # noqa: F401  (botocore.crt.auth needs it imported first)
import pytest
from awscrt import auth as crt_auth
from awscrt import http as crt_http
from botocore.awsrequest import AWSRequest
from botocore.crt.auth import CrtS3SigV4AsymQueryAuth

from andromede.http.sigv4a import derive_private_value
from support.awschunked import encode_signed_v4a
from support.s3app import Client, in_process_client

URL = "http://127.0.0.1:9000"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with in_process_client(tmp_path) as made:
        await made.request("PUT", "/photos")
        yield made


def presigned(client: Client, method: str, path: str, region_set: str, expires: int) -> str:
    """The path and query of a URL botocore's CRT presigns with SigV4a."""
    assert client.credentials is not None
    request = AWSRequest(method=method, url=f"{URL}{path}")
    CrtS3SigV4AsymQueryAuth(client.credentials, "s3", region_set, expires=expires).add_auth(request)
    parts = urlsplit(request.url)
    assert "X-Amz-Algorithm=AWS4-ECDSA-P256-SHA256" in parts.query
    assert "X-Amz-Region-Set=" in parts.query
    return f"{parts.path}?{parts.query}"


async def test_presigned_sigv4a_put_and_get(client: Client) -> None:
    put = await client.request(
        "PUT", presigned(client, "PUT", "/photos/cat", "eu-fr-1", 300), b"meow", sign=False
    )
    assert put.status == 200, put.body
    got = await client.request("GET", presigned(client, "GET", "/photos/cat", "*", 300), sign=False)
    assert (got.status, got.body) == (200, b"meow")
    listed = await client.request(
        "GET", presigned(client, "GET", "/photos/cat", "eu-de-1,eu-fr-1", 300), sign=False
    )
    assert listed.status == 200


async def test_presigned_sigv4a_refusals(client: Client) -> None:
    await client.request("PUT", "/photos/cat", b"meow")
    elsewhere = await client.request(
        "GET", presigned(client, "GET", "/photos/cat", "eu-de-1", 300), sign=False
    )
    assert (elsewhere.status, elsewhere.error_code()) == (400, "AuthorizationQueryParametersError")
    short = presigned(client, "GET", "/photos/cat", "*", 1)
    await asyncio.sleep(2.5)  # X-Amz-Expires=1: the URL is past its second
    expired = await client.request("GET", short, sign=False)
    assert (expired.status, expired.error_code()) == (403, "AccessDenied")
    assert b"Request has expired" in expired.body
    url = presigned(client, "GET", "/photos/cat", "*", 300)
    other_key = await client.request("GET", url.replace("/photos/cat", "/photos/dog"), sign=False)
    assert (other_key.status, other_key.error_code()) == (403, "SignatureDoesNotMatch")
    # Widening the signed Region set breaks the signature: every parameter but it is signed.
    narrow = presigned(client, "GET", "/photos/cat", "eu-fr-1", 300)
    widened = narrow.replace("X-Amz-Region-Set=eu-fr-1", "X-Amz-Region-Set=%2A")
    assert widened != narrow
    assert (await client.request("GET", widened, sign=False)).error_code() == (
        "SignatureDoesNotMatch"
    )


def crt_seed(client: Client, path: str, mode: str, headers: dict[str, str]) -> dict[str, str]:
    """Headers of an aws-chunked PUT whose seed signature AWS's CRT computes (SigV4a)."""
    assert client.credentials is not None
    request = crt_http.HttpRequest(
        "PUT", path, crt_http.HttpHeaders([("host", "127.0.0.1:9000"), *headers.items()])
    )
    config = crt_auth.AwsSigningConfig(
        algorithm=crt_auth.AwsSigningAlgorithm.V4_ASYMMETRIC,
        signature_type=crt_auth.AwsSignatureType.HTTP_REQUEST_HEADERS,
        credentials_provider=crt_auth.AwsCredentialsProvider.new_static(
            client.credentials.access_key, client.credentials.secret_key
        ),
        region="eu-fr-1",
        service="s3",
        signed_body_value=mode,
        signed_body_header_type=crt_auth.AwsSignedBodyHeaderType.X_AMZ_CONTENT_SHA_256,
        use_double_uri_encode=False,
        should_normalize_uri_path=False,
    )
    crt_auth.aws_sign_request(request, config).result(timeout=20)
    return {name: value for name, value in request.headers if name.lower() != "host"}


def chunked_put(
    client: Client, path: str, data: bytes, *, trailer: bool
) -> tuple[dict[str, str], bytes]:
    assert client.credentials is not None
    mode = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD" + ("-TRAILER" if trailer else "")
    extra = {"x-amz-trailer": "x-amz-checksum-sha256"} if trailer else {}
    headers = crt_seed(
        client,
        path,
        mode,
        {
            "content-encoding": "aws-chunked",
            "x-amz-decoded-content-length": str(len(data)),
            **extra,
        },
    )
    assert headers["Authorization"].startswith("AWS4-ECDSA-P256-SHA256 ")
    amz_date = headers["X-Amz-Date"]
    seed = headers["Authorization"].rsplit("Signature=", 1)[1]
    trailers = (
        {"x-amz-checksum-sha256": base64.b64encode(hashlib.sha256(data).digest()).decode()}
        if trailer
        else None
    )
    body = encode_signed_v4a(
        data,
        64 * 1024,
        private_value=derive_private_value(
            client.credentials.access_key, client.credentials.secret_key
        ),
        amz_date=amz_date,
        scope=f"{amz_date[:8]}/s3/aws4_request",
        seed=seed,
        trailers=trailers,
    )
    return headers, body


@pytest.mark.parametrize("trailer", [False, True])
async def test_sigv4a_chunked_upload(client: Client, trailer: bool) -> None:
    data = os.urandom(150_000)
    headers, body = chunked_put(client, "/photos/streamed", data, trailer=trailer)
    # Every signature on the wire takes the CRT's 144 characters, a shorter DER one padded with
    # "*" (all of them may come out at full length: padding is not always there to see).
    signatures = re.findall(rb"(?:chunk-signature=|x-amz-trailer-signature:)([^\r;]*)\r\n", body)
    assert signatures and {len(signature) for signature in signatures} == {144}
    put = await client.request("PUT", "/photos/streamed", body, headers, sign=False)
    assert put.status == 200, put.body
    got = await client.request("GET", "/photos/streamed")
    assert got.body == data


async def test_sigv4a_tampered_chunk_is_refused_and_nothing_stored(client: Client) -> None:
    data = os.urandom(150_000)
    headers, body = chunked_put(client, "/photos/streamed", data, trailer=True)
    tampered = body.replace(data[70_000:70_010], bytes(b ^ 1 for b in data[70_000:70_010]), 1)
    put = await client.request("PUT", "/photos/streamed", tampered, headers, sign=False)
    assert (put.status, put.error_code()) == (403, "SignatureDoesNotMatch")
    assert (await client.request("GET", "/photos/streamed")).error_code() == "NoSuchKey"
    # A chunk signature of the HMAC width (SigV4's) is not a SigV4a chunk's.
    first_line_end = body.index(b"\r\n")
    short = body[: first_line_end - 80] + body[first_line_end:]
    put = await client.request("PUT", "/photos/streamed", short, headers, sign=False)
    assert put.status in (400, 403) and put.error_code() in (
        "IncompleteBody",
        "SignatureDoesNotMatch",
    )
    assert (await client.request("GET", "/photos/streamed")).error_code() == "NoSuchKey"
