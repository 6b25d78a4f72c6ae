"""Access point tags and the dual-stack and FIPS access point hosts through boto3, against a
real server (decision 0392).

Tags: boto3's ``s3control`` CreateAccessPoint with ``Tags``, TagResource, UntagResource and
ListTagsForResource on the access point's ARN and on a bucket's ARN (whose tags are S3's
GetBucketTagging's), and an IAM user whose policy allows an access point by its tag.

Hosts: with an access point ARN as ``Bucket`` and no ``endpoint_url``, botocore sends
``<name>-<account>.s3-accesspoint[-fips][.dualstack].<region>.amazonaws.com`` (with a custom
endpoint it ignores both options), so the server's ``s3_access_point_domain`` is
``amazonaws.com`` and a ``before-send`` hook stands in for DNS and TLS termination: it sends
the same signed request, its Host header unchanged, to the server's address. The server
declares no FIPS endpoints (the default): the FIPS hosts answer ``EndpointNotFound``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from e2e.iam_helpers import Tenant, client_for, new_tenant
from e2e.test_s3control import s3control_client
from support.server import REGION, ServerProcess, running_server


@pytest.fixture(scope="module")
def aws_hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {"ANDROMEDE_WORKERS": "1", "ANDROMEDE_S3_ACCESS_POINT_DOMAIN": "amazonaws.com"}
    with running_server(tmp_path_factory.mktemp("aptags") / "data", extra_env=env) as server:
        yield server


def _code(caught: pytest.ExceptionInfo[ClientError]) -> str:
    return str(caught.value.response["Error"]["Code"])


def _host_client(server: ServerProcess, tenant: Tenant, *, dualstack: bool, fips: bool) -> Any:
    """An S3 client whose access point hosts (AWS's, as botocore builds them) reach the
    server unchanged; the hosts it sent are kept in ``client.sent_hosts``."""
    s3 = boto3.session.Session(
        aws_access_key_id=tenant.access_key_id,
        aws_secret_access_key=tenant.secret_access_key,
        region_name=REGION,
    ).client(
        "s3",
        config=Config(
            use_dualstack_endpoint=dualstack,
            use_fips_endpoint=fips,
            retries={"max_attempts": 1},
        ),
    )
    port = urlsplit(server.endpoint).port
    sent: list[str] = []

    def to_the_server(request: Any, **_: Any) -> None:
        parts = urlsplit(request.url)
        assert parts.hostname is not None
        sent.append(parts.hostname)
        query = f"?{parts.query}" if parts.query else ""
        request.headers["Host"] = parts.netloc
        request.url = f"http://127.0.0.1:{port}{parts.path}{query}"

    s3.meta.events.register_last("before-send.s3", to_the_server)
    s3.sent_hosts = sent
    return s3


def test_access_point_and_bucket_tags(aws_hosts: ServerProcess) -> None:
    tenant = new_tenant(aws_hosts, "aptags")
    control = s3control_client(aws_hosts, tenant.access_key_id, tenant.secret_access_key)
    direct = client_for(aws_hosts, "s3", tenant.access_key_id, tenant.secret_access_key)
    bucket = f"aptags-{uuid.uuid4().hex[:12]}"
    direct.create_bucket(Bucket=bucket)
    arn = control.create_access_point(
        AccountId=tenant.account,
        Name="tagged",
        Bucket=bucket,
        Tags=[{"Key": "team", "Value": "blue"}],
    )["AccessPointArn"]

    def tags_of(resource: str) -> list[dict[str, str]]:
        return list(
            control.list_tags_for_resource(AccountId=tenant.account, ResourceArn=resource)["Tags"]
        )

    assert tags_of(arn) == [{"Key": "team", "Value": "blue"}]
    control.tag_resource(
        AccountId=tenant.account,
        ResourceArn=arn,
        Tags=[{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "green"}],
    )
    assert tags_of(arn) == [{"Key": "team", "Value": "green"}, {"Key": "env", "Value": "prod"}]
    control.untag_resource(AccountId=tenant.account, ResourceArn=arn, TagKeys=["team"])
    assert tags_of(arn) == [{"Key": "env", "Value": "prod"}]
    with pytest.raises(ClientError) as caught:
        control.tag_resource(
            AccountId=tenant.account, ResourceArn=arn, Tags=[{"Key": "aws:x", "Value": "v"}]
        )
    assert _code(caught) == "InvalidTagError"
    with pytest.raises(ClientError) as caught:
        tags_of(arn.replace("/tagged", "/missing"))
    assert _code(caught) == "NoSuchAccessPoint"

    bucket_arn = f"arn:aws:s3:::{bucket}"
    control.tag_resource(
        AccountId=tenant.account, ResourceArn=bucket_arn, Tags=[{"Key": "k", "Value": "v"}]
    )
    assert direct.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "k", "Value": "v"}]
    assert tags_of(bucket_arn) == [{"Key": "k", "Value": "v"}]


def test_a_policy_allows_access_points_by_their_tag(aws_hosts: ServerProcess) -> None:
    tenant = new_tenant(aws_hosts, "aptagiam")
    control = s3control_client(aws_hosts, tenant.access_key_id, tenant.secret_access_key)
    direct = client_for(aws_hosts, "s3", tenant.access_key_id, tenant.secret_access_key)
    iam = client_for(aws_hosts, "iam", tenant.access_key_id, tenant.secret_access_key)
    bucket = f"aptagiam-{uuid.uuid4().hex[:12]}"
    direct.create_bucket(Bucket=bucket)
    for name, team in (("blue", "blue"), ("red", "red")):
        tags = [{"Key": "team", "Value": team}]
        control.create_access_point(AccountId=tenant.account, Name=name, Bucket=bucket, Tags=tags)
    iam.create_user(UserName="ops")
    iam.put_user_policy(
        UserName="ops",
        PolicyName="by-tag",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "s3:GetAccessPoint",
                        "Resource": "*",
                        "Condition": {"StringEquals": {"aws:ResourceTag/team": "blue"}},
                    }
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName="ops")["AccessKey"]
    ops = s3control_client(aws_hosts, key["AccessKeyId"], key["SecretAccessKey"])
    assert ops.get_access_point(AccountId=tenant.account, Name="blue")["Name"] == "blue"
    with pytest.raises(ClientError) as caught:
        ops.get_access_point(AccountId=tenant.account, Name="red")
    assert _code(caught) == "AccessDenied"


def test_dual_stack_hosts_reach_the_access_point(aws_hosts: ServerProcess) -> None:
    tenant = new_tenant(aws_hosts, "apds")
    control = s3control_client(aws_hosts, tenant.access_key_id, tenant.secret_access_key)
    direct = client_for(aws_hosts, "s3", tenant.access_key_id, tenant.secret_access_key)
    bucket = f"apds-{uuid.uuid4().hex[:12]}"
    direct.create_bucket(Bucket=bucket)
    arn = control.create_access_point(AccountId=tenant.account, Name="apps", Bucket=bucket)[
        "AccessPointArn"
    ]
    s3 = _host_client(aws_hosts, tenant, dualstack=True, fips=False)
    s3.put_object(Bucket=arn, Key="a.txt", Body=b"over both stacks")
    assert s3.get_object(Bucket=arn, Key="a.txt")["Body"].read() == b"over both stacks"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=arn)["Contents"]] == ["a.txt"]
    assert direct.get_object(Bucket=bucket, Key="a.txt")["Body"].read() == b"over both stacks"
    assert set(s3.sent_hosts) == {
        f"apps-{tenant.account}.s3-accesspoint.dualstack.{REGION}.amazonaws.com"
    }
    # The plain form still serves, and another account's number is no access point.
    plain = _host_client(aws_hosts, tenant, dualstack=False, fips=False)
    assert plain.head_object(Bucket=arn, Key="a.txt")["ContentLength"] == 16
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=arn.replace(tenant.account, "999999999999"), Key="a.txt")
    assert _code(caught) == "NoSuchAccessPoint"


@pytest.mark.parametrize("dualstack", [False, True])
def test_fips_hosts_are_refused_where_none_are_declared(
    aws_hosts: ServerProcess, dualstack: bool
) -> None:
    tenant = new_tenant(aws_hosts, "apfips")
    control = s3control_client(aws_hosts, tenant.access_key_id, tenant.secret_access_key)
    direct = client_for(aws_hosts, "s3", tenant.access_key_id, tenant.secret_access_key)
    bucket = f"apfips-{uuid.uuid4().hex[:12]}"
    direct.create_bucket(Bucket=bucket)
    arn = control.create_access_point(AccountId=tenant.account, Name="apps", Bucket=bucket)[
        "AccessPointArn"
    ]
    s3 = _host_client(aws_hosts, tenant, dualstack=dualstack, fips=True)
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket=arn, Key="a.txt", Body=b"not FIPS here")
    assert _code(caught) == "EndpointNotFound"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert s3.sent_hosts[0].startswith(f"apps-{tenant.account}.s3-accesspoint-fips.")
    # Nothing was written.
    assert direct.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
