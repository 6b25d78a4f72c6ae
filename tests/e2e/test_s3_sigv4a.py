"""SigV4a against a real ``andromede serve`` (decision 0380): a boto3 S3 client told to sign
with SigV4a (``signature_version="s3v4a"``, botocore's CRT signers) puts and gets objects,
and its presigned URLs (``AWS4-ECDSA-P256-SHA256``, ``X-Amz-Region-Set``) work with a plain
HTTP client; a presigned URL for another Region set is refused."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from typing import TYPE_CHECKING

import boto3
import botocore.auth  # noqa: F401  (botocore.crt.auth needs it imported first)
import pytest
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.crt.auth import CrtS3SigV4AsymQueryAuth

from support.server import REGION, ServerProcess

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def sigv4a_client(server: ServerProcess) -> S3Client:
    access_key, secret_key = server.credentials()
    session = boto3.session.Session(
        aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=REGION
    )
    return session.client(
        "s3",
        endpoint_url=server.endpoint,
        config=Config(
            signature_version="s3v4a", s3={"addressing_style": "path"}, retries={"max_attempts": 1}
        ),
    )


def test_boto3_sigv4a_objects_and_presigned_urls(server: ServerProcess, bucket: str) -> None:
    s3 = sigv4a_client(server)
    data = os.urandom(70_000)
    s3.put_object(Bucket=bucket, Key="signed", Body=data)
    assert s3.get_object(Bucket=bucket, Key="signed")["Body"].read() == data

    put_url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "presigned"}, ExpiresIn=300
    )
    assert "X-Amz-Algorithm=AWS4-ECDSA-P256-SHA256" in put_url
    assert "X-Amz-Region-Set=" in put_url
    request = urllib.request.Request(put_url, data=data, method="PUT")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
    get_url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "presigned"}, ExpiresIn=300
    )
    with urllib.request.urlopen(get_url, timeout=30) as response:
        assert response.read() == data

    # botocore's presigner takes the client's Region as the set; its CRT signer takes any.
    access_key, secret_key = server.credentials()
    other = AWSRequest(method="GET", url=f"{server.endpoint}/{bucket}/presigned")
    CrtS3SigV4AsymQueryAuth(
        Credentials(access_key, secret_key), "s3", "eu-xx-9", expires=300
    ).add_auth(other)
    elsewhere = other.url
    assert "X-Amz-Region-Set=eu-xx-9" in elsewhere
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(elsewhere, timeout=30)
    body = refused.value.read()
    refused.value.close()
    assert refused.value.code == 400 and b"AuthorizationQueryParametersError" in body
