"""S3 access points addressed by their ARN through boto3, against a real server (decision
0381): with ``Bucket`` an access point ARN and a custom endpoint, botocore sends
``<name>-<account>.<endpoint host>`` whatever the addressing style, signed with the ARN's
Region; the object API (PUT, GET, HEAD, ListObjectsV2, multipart, DELETE) goes through the
access point, authorised as through its alias (an IAM user without policies of its own reads
only because the access point's policy names it).

The endpoint host is ``s3.localhost`` (the server's ``s3_domain``) and the server is also
the client's HTTP proxy, so ``<name>-<account>.s3.localhost`` needs no name resolution (as
test_s3control.py does for S3 Control's account hosts)."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from e2e.helpers import REGION, delegate_to_access_points
from e2e.iam_helpers import client_for, new_tenant
from e2e.test_s3control import s3control_client
from support.server import ServerProcess


def _arn_client(
    server: ServerProcess,
    access_key_id: str,
    secret_access_key: str,
    style: str = "auto",
    *,
    use_arn_region: bool = False,
) -> Any:
    port = urlsplit(server.endpoint).port
    return boto3.session.Session(
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        region_name=REGION,
    ).client(
        "s3",
        endpoint_url=f"http://s3.localhost:{port}",
        config=Config(
            s3={"addressing_style": style, "use_arn_region": use_arn_region},
            proxies={"http": server.endpoint},
            retries={"max_attempts": 1},
        ),
    )


def _code(caught: pytest.ExceptionInfo[ClientError]) -> str:
    return str(caught.value.response["Error"]["Code"])


@pytest.mark.parametrize("style", ["virtual", "path", "auto"])
def test_the_object_api_through_an_access_point_arn(server: ServerProcess, style: str) -> None:
    tenant = new_tenant(server, "aparn")
    control = s3control_client(server, tenant.access_key_id, tenant.secret_access_key)
    direct = client_for(server, "s3", tenant.access_key_id, tenant.secret_access_key)
    bucket = f"aparn-{uuid.uuid4().hex[:12]}"
    direct.create_bucket(Bucket=bucket)
    created = control.create_access_point(AccountId=tenant.account, Name="apps", Bucket=bucket)
    arn = created["AccessPointArn"]
    assert arn == f"arn:aws:s3:{REGION}:{tenant.account}:accesspoint/apps"
    s3 = _arn_client(server, tenant.access_key_id, tenant.secret_access_key, style)

    s3.put_object(Bucket=arn, Key="dir/a.txt", Body=b"through the arn")
    assert direct.get_object(Bucket=bucket, Key="dir/a.txt")["Body"].read() == b"through the arn"
    assert s3.get_object(Bucket=arn, Key="dir/a.txt")["Body"].read() == b"through the arn"
    assert s3.head_object(Bucket=arn, Key="dir/a.txt")["ContentLength"] == 15
    listed = s3.list_objects_v2(Bucket=arn, Prefix="dir/")
    assert [o["Key"] for o in listed["Contents"]] == ["dir/a.txt"]

    upload = s3.create_multipart_upload(Bucket=arn, Key="big.bin")["UploadId"]
    first = s3.upload_part(
        Bucket=arn, Key="big.bin", UploadId=upload, PartNumber=1, Body=b"x" * (5 * 1024 * 1024)
    )
    second = s3.upload_part(Bucket=arn, Key="big.bin", UploadId=upload, PartNumber=2, Body=b"y")
    s3.complete_multipart_upload(
        Bucket=arn,
        Key="big.bin",
        UploadId=upload,
        MultipartUpload={
            "Parts": [
                {"PartNumber": 1, "ETag": first["ETag"]},
                {"PartNumber": 2, "ETag": second["ETag"]},
            ]
        },
    )
    assert direct.head_object(Bucket=bucket, Key="big.bin")["ContentLength"] == 5 * 1024 * 1024 + 1

    s3.delete_object(Bucket=arn, Key="dir/a.txt")
    with pytest.raises(ClientError) as caught:
        direct.head_object(Bucket=bucket, Key="dir/a.txt")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    # Bucket configuration is not served through an access point, as through its alias.
    with pytest.raises(ClientError) as caught:
        s3.get_bucket_policy(Bucket=arn)
    assert _code(caught) == "InvalidRequest"


def test_a_user_named_only_by_the_access_point_policy_reads_through_its_arn(
    server: ServerProcess,
) -> None:
    tenant = new_tenant(server, "aparnu")
    control = s3control_client(server, tenant.access_key_id, tenant.secret_access_key)
    direct = client_for(server, "s3", tenant.access_key_id, tenant.secret_access_key)
    iam = client_for(server, "iam", tenant.access_key_id, tenant.secret_access_key)
    bucket = f"aparnu-{uuid.uuid4().hex[:12]}"
    direct.create_bucket(Bucket=bucket)
    direct.put_object(Bucket=bucket, Key="report.csv", Body=b"a,b\n")
    arn = control.create_access_point(AccountId=tenant.account, Name="reports", Bucket=bucket)[
        "AccessPointArn"
    ]
    delegate_to_access_points(direct, bucket, tenant.account)
    iam.create_user(UserName="reader")
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    reader = _arn_client(server, key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as caught:
        reader.get_object(Bucket=arn, Key="report.csv")
    assert _code(caught) == "AccessDenied"
    control.put_access_point_policy(
        AccountId=tenant.account,
        Name="reports",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{tenant.account}:user/reader"},
                        "Action": "s3:GetObject",
                        "Resource": f"{arn}/object/*",
                    }
                ],
            }
        ),
    )
    assert reader.get_object(Bucket=arn, Key="report.csv")["Body"].read() == b"a,b\n"
    # The same user straight at the bucket: no policy of its own lets it.
    plain = client_for(server, "s3", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as caught:
        plain.get_object(Bucket=bucket, Key="report.csv")
    assert _code(caught) == "AccessDenied"


def test_an_arn_of_another_region_is_refused_by_the_server(server: ServerProcess) -> None:
    # With use_arn_region botocore signs for the ARN's Region; the bucket behind the access
    # point lives here, so the server names its Region, as S3 answers a wrong-Region signature.
    tenant = new_tenant(server, "aparnr")
    control = s3control_client(server, tenant.access_key_id, tenant.secret_access_key)
    direct = client_for(server, "s3", tenant.access_key_id, tenant.secret_access_key)
    bucket = f"aparnr-{uuid.uuid4().hex[:12]}"
    direct.create_bucket(Bucket=bucket)
    control.create_access_point(AccountId=tenant.account, Name="apps", Bucket=bucket)
    s3 = _arn_client(server, tenant.access_key_id, tenant.secret_access_key, use_arn_region=True)
    other = "ap-southeast-2" if REGION != "ap-southeast-2" else "us-west-2"
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=f"arn:aws:s3:{other}:{tenant.account}:accesspoint/apps", Key="k")
    assert _code(caught) == "AuthorizationHeaderMalformed"
    assert caught.value.response["Error"].get("Region") == REGION
