"""S3 Multi-Region Access Points end to end (decision 0385): one ``andromede serve`` serving
two Regions (eu-fr-1, its own, and eu-de-1), driven with boto3.

S3 Control makes the Multi-Region Access Point over a bucket in each Region (the call
answers a request token that DescribeMultiRegionAccessPointOperation reads back), then an
S3 client passes its ARN as ``Bucket``: botocore signs SigV4a (awscrt, Region set ``*``) for
``<alias>.accesspoint.s3-global.amazonaws.com`` whatever its ``endpoint_url``, so the
server's ``s3_multi_region_access_point_domain`` is ``amazonaws.com`` and a ``before-send``
hook stands in for DNS and TLS termination: it sends the same signed request (its Host
header unchanged) to the server's address. A PUT lands in the serving Region's bucket; once
SubmitMultiRegionAccessPointRoutes dials that Region to 0, a GET is served from the other
Region's bucket.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from e2e.iam_helpers import Tenant, client_for, new_tenant
from e2e.test_s3control import s3control_client
from support.server import REGION, ServerProcess, running_server

FR, DE = REGION, "eu-de-1"


@pytest.fixture(scope="module")
def two_regions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    regions = [{"name": FR, "jurisdiction": "FR"}, {"name": DE, "jurisdiction": "DE"}]
    env = {
        "ANDROMEDE_REGIONS": json.dumps(regions),
        "ANDROMEDE_WORKERS": "1",
        "ANDROMEDE_S3_MULTI_REGION_ACCESS_POINT_DOMAIN": "amazonaws.com",
    }
    with running_server(tmp_path_factory.mktemp("mrap") / "data", extra_env=env) as server:
        yield server


def _mrap_client(server: ServerProcess, tenant: Tenant) -> Any:
    """An S3 client whose requests to the global host reach the server unchanged."""
    s3 = boto3.session.Session(
        aws_access_key_id=tenant.access_key_id,
        aws_secret_access_key=tenant.secret_access_key,
        region_name=REGION,
    ).client(
        "s3",
        endpoint_url=server.endpoint,
        config=Config(retries={"max_attempts": 1}),
    )
    port = urlsplit(server.endpoint).port

    def to_the_server(request: Any, **_: Any) -> None:
        parts = urlsplit(request.url)
        assert parts.hostname is not None
        assert parts.hostname.endswith(".accesspoint.s3-global.amazonaws.com"), request.url
        assert "AWS4-ECDSA-P256-SHA256" in str(request.headers.get("Authorization"))
        query = f"?{parts.query}" if parts.query else ""
        request.url = f"http://127.0.0.1:{port}{parts.path}{query}"

    s3.meta.events.register_last("before-send.s3", to_the_server)
    return s3


def _through_global_host(server: ServerProcess, url: str, method: str, data: bytes | None) -> Any:
    """A presigned URL of the global host used by a plain HTTP client, sent to the server's
    address with its Host unchanged (the stand-in for DNS and TLS, as ``_mrap_client``)."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.hostname.endswith(".s3-global.amazonaws.com")
    port = urlsplit(server.endpoint).port
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{parts.path}?{parts.query}",
        data=data,
        method=method,
        headers={"Host": parts.hostname},
    )
    return urllib.request.urlopen(request, timeout=30)  # the caller closes it


def _code(caught: pytest.ExceptionInfo[ClientError]) -> str:
    return str(caught.value.response["Error"]["Code"])


def test_requests_follow_the_active_region(two_regions: ServerProcess) -> None:
    tenant = new_tenant(two_regions, "mrap")
    control = s3control_client(two_regions, tenant.access_key_id, tenant.secret_access_key)
    direct = client_for(two_regions, "s3", tenant.access_key_id, tenant.secret_access_key)
    french, german = f"mrap-fr-{uuid.uuid4().hex[:10]}", f"mrap-de-{uuid.uuid4().hex[:10]}"
    direct.create_bucket(Bucket=french)
    direct.create_bucket(Bucket=german, CreateBucketConfiguration={"LocationConstraint": DE})

    token = control.create_multi_region_access_point(
        AccountId=tenant.account,
        ClientToken=uuid.uuid4().hex,
        Details={"Name": "docs", "Regions": [{"Bucket": french}, {"Bucket": german}]},
    )["RequestTokenARN"]
    operation = control.describe_multi_region_access_point_operation(
        AccountId=tenant.account, RequestTokenARN=token
    )["AsyncOperation"]
    assert operation["Operation"] == "CreateMultiRegionAccessPoint"
    assert operation["RequestStatus"] == "SUCCEEDED"
    point = control.get_multi_region_access_point(AccountId=tenant.account, Name="docs")
    alias = point["AccessPoint"]["Alias"]
    assert alias.endswith(".mrap") and point["AccessPoint"]["Status"] == "READY"
    assert {r["Region"] for r in point["AccessPoint"]["Regions"]} == {FR, DE}
    arn = f"arn:aws:s3::{tenant.account}:accesspoint/{alias}"

    s3 = _mrap_client(two_regions, tenant)
    s3.put_object(Bucket=arn, Key="notes.txt", Body=b"written in France")
    # The serving Region is the gateway's own: the PUT landed in the French bucket only.
    assert direct.get_object(Bucket=french, Key="notes.txt")["Body"].read() == (
        b"written in France"
    )
    with pytest.raises(ClientError) as missing:
        direct.head_object(Bucket=german, Key="notes.txt")
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert s3.get_object(Bucket=arn, Key="notes.txt")["Body"].read() == b"written in France"
    assert s3.head_object(Bucket=arn, Key="notes.txt")["ContentLength"] == 17
    listed = s3.list_objects_v2(Bucket=arn)
    assert [o["Key"] for o in listed["Contents"]] == ["notes.txt"]

    # The German bucket holds its own copy (as replication would put there).
    german_direct = client_for(two_regions, "s3", tenant.access_key_id, tenant.secret_access_key)
    german_direct.put_object(Bucket=german, Key="notes.txt", Body=b"geschrieben in Deutschland")

    control.submit_multi_region_access_point_routes(
        AccountId=tenant.account,
        Mrap=arn,
        RouteUpdates=[
            {"Region": FR, "TrafficDialPercentage": 0},
            {"Region": DE, "TrafficDialPercentage": 100},
        ],
    )
    routes = control.get_multi_region_access_point_routes(AccountId=tenant.account, Mrap=arn)
    dials = {r["Region"]: r["TrafficDialPercentage"] for r in routes["Routes"]}
    assert dials == {FR: 0, DE: 100}
    deadline = time.monotonic() + 20
    body = b""
    while time.monotonic() < deadline:
        body = s3.get_object(Bucket=arn, Key="notes.txt")["Body"].read()
        if body == b"geschrieben in Deutschland":
            break
        time.sleep(0.2)
    assert body == b"geschrieben in Deutschland"

    # Multipart through the Multi-Region Access Point lands in the active (German) bucket.
    upload = s3.create_multipart_upload(Bucket=arn, Key="big.bin")["UploadId"]
    part = s3.upload_part(
        Bucket=arn, Key="big.bin", UploadId=upload, PartNumber=1, Body=b"x" * (5 * 1024 * 1024)
    )
    s3.complete_multipart_upload(
        Bucket=arn,
        Key="big.bin",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert direct.head_object(Bucket=german, Key="big.bin")["ContentLength"] == 5 * 1024 * 1024
    s3.delete_object(Bucket=arn, Key="big.bin")
    with pytest.raises(ClientError):
        direct.head_object(Bucket=german, Key="big.bin")

    # Every Region passive is refused, as AWS refuses it.
    with pytest.raises(ClientError) as refused:
        control.submit_multi_region_access_point_routes(
            AccountId=tenant.account,
            Mrap=arn,
            RouteUpdates=[{"Region": DE, "TrafficDialPercentage": 0}],
        )
    assert _code(refused) == "InvalidRequest"


def test_another_account_needs_the_policies(two_regions: ServerProcess) -> None:
    owner = new_tenant(two_regions, "mrapo")
    stranger = new_tenant(two_regions, "mraps")
    control = s3control_client(two_regions, owner.access_key_id, owner.secret_access_key)
    direct = client_for(two_regions, "s3", owner.access_key_id, owner.secret_access_key)
    bucket = f"mrap-pol-{uuid.uuid4().hex[:10]}"
    direct.create_bucket(Bucket=bucket)
    direct.put_object(Bucket=bucket, Key="shared.txt", Body=b"shared")
    control.create_multi_region_access_point(
        AccountId=owner.account,
        ClientToken=uuid.uuid4().hex,
        Details={"Name": "shared", "Regions": [{"Bucket": bucket}]},
    )
    alias = control.get_multi_region_access_point(AccountId=owner.account, Name="shared")[
        "AccessPoint"
    ]["Alias"]
    arn = f"arn:aws:s3::{owner.account}:accesspoint/{alias}"
    s3 = _mrap_client(two_regions, stranger)
    with pytest.raises(ClientError) as denied:
        s3.get_object(Bucket=arn, Key="shared.txt")
    assert _code(denied) == "AccessDenied"

    grant = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{stranger.account}:root"},
        "Action": "s3:GetObject",
    }
    control.put_multi_region_access_point_policy(
        AccountId=owner.account,
        ClientToken=uuid.uuid4().hex,
        Details={
            "Name": "shared",
            "Policy": json.dumps(
                {"Version": "2012-10-17", "Statement": [{**grant, "Resource": f"{arn}/object/*"}]}
            ),
        },
    )
    # The Multi-Region Access Point's policy alone is not enough: the bucket's must allow
    # requests through it too.
    with pytest.raises(ClientError) as still_denied:
        s3.get_object(Bucket=arn, Key="shared.txt")
    assert _code(still_denied) == "AccessDenied"
    direct.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        **grant,
                        "Resource": f"arn:aws:s3:::{bucket}/*",
                        "Condition": {"StringEquals": {"s3:DataAccessPointArn": arn}},
                    }
                ],
            }
        ),
    )
    assert s3.get_object(Bucket=arn, Key="shared.txt")["Body"].read() == b"shared"
    # The bucket's policy delegates reads through the Multi-Region Access Point only.
    stranger_direct = client_for(
        two_regions, "s3", stranger.access_key_id, stranger.secret_access_key
    )
    with pytest.raises(ClientError):
        stranger_direct.get_object(Bucket=bucket, Key="shared.txt")


def test_presigned_urls_and_copies_through_it(two_regions: ServerProcess) -> None:
    """botocore's presigned GET and PUT URLs for the Multi-Region Access Point's ARN (SigV4a,
    Region set ``*``) work with a plain HTTP client; a SigV4 one for the serving Region is
    refused, as AWS requires SigV4a. CopyObject and UploadPartCopy take its ARN as
    ``CopySource`` (botocore sends ``<arn>/object/<key>``) and read from the active Region."""
    tenant = new_tenant(two_regions, "mrapp")
    control = s3control_client(two_regions, tenant.access_key_id, tenant.secret_access_key)
    direct = client_for(two_regions, "s3", tenant.access_key_id, tenant.secret_access_key)
    french, german = f"mrap-pfr-{uuid.uuid4().hex[:10]}", f"mrap-pde-{uuid.uuid4().hex[:10]}"
    direct.create_bucket(Bucket=french)
    direct.create_bucket(Bucket=german, CreateBucketConfiguration={"LocationConstraint": DE})
    control.create_multi_region_access_point(
        AccountId=tenant.account,
        ClientToken=uuid.uuid4().hex,
        Details={"Name": "links", "Regions": [{"Bucket": french}, {"Bucket": german}]},
    )
    alias = control.get_multi_region_access_point(AccountId=tenant.account, Name="links")[
        "AccessPoint"
    ]["Alias"]
    arn = f"arn:aws:s3::{tenant.account}:accesspoint/{alias}"
    s3 = _mrap_client(two_regions, tenant)

    put_url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": arn, "Key": "link.txt"}, ExpiresIn=300
    )
    assert "X-Amz-Algorithm=AWS4-ECDSA-P256-SHA256" in put_url and "X-Amz-Region-Set=%2A" in put_url
    with _through_global_host(two_regions, put_url, "PUT", b"via a link") as answer:
        assert answer.status == 200
    assert direct.get_object(Bucket=french, Key="link.txt")["Body"].read() == b"via a link"
    get_url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": arn, "Key": "link.txt"}, ExpiresIn=300
    )
    with _through_global_host(two_regions, get_url, "GET", None) as answer:
        assert answer.read() == b"via a link"
    # SigV4 (HMAC) for the serving Region: a valid signature, refused through the door.
    hmac_request = AWSRequest(method="GET", url=get_url.partition("?")[0])
    credentials = Credentials(tenant.access_key_id, tenant.secret_access_key)
    S3SigV4QueryAuth(credentials, "s3", REGION, expires=300).add_auth(hmac_request)
    with pytest.raises(urllib.error.HTTPError) as refused:
        _through_global_host(two_regions, str(hmac_request.url), "GET", None)
    assert refused.value.code == 400
    assert b"AuthorizationQueryParametersError" in refused.value.read()

    # Copies whose source is the Multi-Region Access Point: read from the active Region.
    direct.put_object(Bucket=german, Key="link.txt", Body=b"ueber einen Link")
    source = {"Bucket": arn, "Key": "link.txt"}
    direct.copy_object(Bucket=german, Key="copied.txt", CopySource=source)
    assert direct.get_object(Bucket=german, Key="copied.txt")["Body"].read() == b"via a link"
    control.submit_multi_region_access_point_routes(
        AccountId=tenant.account,
        Mrap=arn,
        RouteUpdates=[
            {"Region": FR, "TrafficDialPercentage": 0},
            {"Region": DE, "TrafficDialPercentage": 100},
        ],
    )
    upload = direct.create_multipart_upload(Bucket=french, Key="parts.txt")["UploadId"]
    part = direct.upload_part_copy(
        Bucket=french, Key="parts.txt", UploadId=upload, PartNumber=1, CopySource=source
    )
    direct.complete_multipart_upload(
        Bucket=french,
        Key="parts.txt",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["CopyPartResult"]["ETag"]}]},
    )
    assert direct.get_object(Bucket=french, Key="parts.txt")["Body"].read() == (b"ueber einen Link")
