"""S3 Control through real clients against a real server (decision 0152): boto3's
``s3control`` and the aws CLI set, read and delete the account's Block Public Access, which
the S3 API then enforces together with each bucket's own, the stricter winning.

Each test has a fresh tenant: an account's Block Public Access reaches every bucket of it,
and the session's server is shared. With a custom endpoint the SDKs' S3 Control endpoint rules
put the account id before its host (``<account>.127.0.0.1:port``), which resolves nowhere
here (an operator gives the endpoint a wildcard DNS name, as for virtual-hosted buckets): the
clients send those requests through the server itself as their HTTP proxy, which takes the
absolute-form request target as any HTTP/1.1 server must, with the Host header they signed."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from e2e.clients import aws_cli
from e2e.helpers import REGION
from e2e.iam_helpers import Tenant, client_for, new_tenant
from support.server import ServerProcess

_ALL_ON = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


def s3control_client(server: ServerProcess, access_key_id: str, secret_access_key: str) -> Any:
    """boto3's ``s3control``, its account-prefixed hosts sent through the server itself."""
    return boto3.session.Session(
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        region_name=REGION,
    ).client(
        "s3control",
        endpoint_url=server.endpoint,
        config=Config(proxies={"http": server.endpoint}, retries={"max_attempts": 1}),
    )


def _s3control(server: ServerProcess, tenant: Tenant) -> Any:
    return s3control_client(server, tenant.access_key_id, tenant.secret_access_key)


def _code(caught: pytest.ExceptionInfo[ClientError]) -> str:
    return str(caught.value.response["Error"]["Code"])


def _public_read_policy(bucket: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{bucket}/*",
                }
            ],
        }
    )


def test_account_block_round_trip_and_errors(server: ServerProcess) -> None:
    tenant = new_tenant(server, "s3c")
    control = _s3control(server, tenant)
    with pytest.raises(ClientError) as caught:
        control.get_public_access_block(AccountId=tenant.account)
    assert _code(caught) == "NoSuchPublicAccessBlockConfiguration"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert caught.value.response["ResponseMetadata"]["RequestId"]
    control.put_public_access_block(
        AccountId=tenant.account,
        PublicAccessBlockConfiguration={"BlockPublicPolicy": True, "IgnorePublicAcls": True},
    )
    got = control.get_public_access_block(AccountId=tenant.account)
    assert got["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": False,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": False,
    }
    # Another account's settings: refused, whatever they are.
    other = new_tenant(server, "s3c")
    with pytest.raises(ClientError) as caught:
        control.get_public_access_block(AccountId=other.account)
    assert _code(caught) == "AccessDenied"
    control.delete_public_access_block(AccountId=tenant.account)
    with pytest.raises(ClientError) as caught:
        control.get_public_access_block(AccountId=tenant.account)
    assert _code(caught) == "NoSuchPublicAccessBlockConfiguration"
    # An S3 Control call not served: NotImplemented, never a silent success.
    with pytest.raises(ClientError) as caught:
        control.list_storage_lens_groups(AccountId=tenant.account)
    assert _code(caught) == "NotImplemented"


def _signed_put(server: ServerProcess, tenant: Tenant, body: bytes) -> requests.Response:
    """A PutPublicAccessBlock of ``body`` as it is, signed as botocore signs S3 Control's."""
    url = f"{server.endpoint}/v20180820/configuration/publicAccessBlock"
    request = AWSRequest(
        method="PUT",
        url=url,
        data=body,
        headers={
            "x-amz-account-id": tenant.account,
            "x-amz-content-sha256": hashlib.sha256(body).hexdigest(),
        },
    )
    credentials = Credentials(tenant.access_key_id, tenant.secret_access_key)
    SigV4Auth(credentials, "s3", REGION).add_auth(request)
    return requests.put(url, data=body, headers=dict(request.headers), timeout=30)


@pytest.mark.parametrize(
    "body",
    [
        b"<PublicAccessBlockConfiguration><BlockPublicAcls>maybe",
        b"<PublicAccessBlockConfiguration><BlockPublicAcls>maybe</BlockPublicAcls>"
        b"</PublicAccessBlockConfiguration>",
        b"<PublicAccessBlockConfiguration><BlockEverything>true</BlockEverything>"
        b"</PublicAccessBlockConfiguration>",
        b"<Something/>",
        b"",
    ],
)
def test_malformed_configuration_is_refused_in_xml(server: ServerProcess, body: bytes) -> None:
    tenant = new_tenant(server, "s3c")
    response = _signed_put(server, tenant, body)
    assert response.status_code == 400, response.text
    assert b"<Code>MalformedXML</Code>" in response.content
    request_id = response.headers["x-amz-request-id"]
    assert f"<RequestId>{request_id}</RequestId>".encode() in response.content


def test_unsigned_s3_control_call_is_refused(server: ServerProcess) -> None:
    response = requests.get(
        f"{server.endpoint}/v20180820/configuration/publicAccessBlock",
        headers={"x-amz-account-id": "123456789012"},
        timeout=30,
    )
    assert response.status_code == 403
    assert b"<Code>AccessDenied</Code>" in response.content
    assert response.headers["x-amz-request-id"]


def test_account_block_is_enforced_with_the_buckets(server: ServerProcess) -> None:
    tenant = new_tenant(server, "s3c")
    control = _s3control(server, tenant)
    s3 = client_for(server, "s3", tenant.access_key_id, tenant.secret_access_key)
    bucket = f"s3c-{tenant.account[-8:]}".lower()
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.delete_public_access_block(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="page.html", Body=b"hello")
    # The account's BlockPublicPolicy refuses a public policy on a bucket that blocks nothing.
    control.put_public_access_block(
        AccountId=tenant.account, PublicAccessBlockConfiguration={"BlockPublicPolicy": True}
    )
    with pytest.raises(ClientError) as caught:
        s3.put_bucket_policy(Bucket=bucket, Policy=_public_read_policy(bucket))
    assert _code(caught) == "AccessDenied"
    # Lifted: the policy goes in, and anyone reads.
    control.delete_public_access_block(AccountId=tenant.account)
    s3.put_bucket_policy(Bucket=bucket, Policy=_public_read_policy(bucket))
    url = f"{server.endpoint}/{bucket}/page.html"
    assert requests.get(url, timeout=30).content == b"hello"
    # RestrictPublicBuckets at the account: the public policy no longer lets anyone in,
    # though the bucket's own configuration still blocks nothing.
    control.put_public_access_block(
        AccountId=tenant.account, PublicAccessBlockConfiguration={"RestrictPublicBuckets": True}
    )
    assert requests.get(url, timeout=30).status_code == 403
    assert s3.get_object(Bucket=bucket, Key="page.html")["Body"].read() == b"hello"
    # The bucket's own configuration is still what it says: the account's is not copied in.
    with pytest.raises(ClientError) as caught:
        s3.get_public_access_block(Bucket=bucket)
    assert _code(caught) == "NoSuchPublicAccessBlockConfiguration"
    control.delete_public_access_block(AccountId=tenant.account)
    assert requests.get(url, timeout=30).content == b"hello"


def test_aws_cli_s3control(server: ServerProcess, tmp_path: Path) -> None:
    tenant = new_tenant(server, "s3c")
    credentials = tmp_path / "credentials"
    credentials.write_text(
        f"[andromede]\naws_access_key_id = {tenant.access_key_id}\n"
        f"aws_secret_access_key = {tenant.secret_access_key}\n"
    )
    aws = aws_cli(server, tmp_path, credentials_file=credentials, account_hosts=True)
    aws(
        "s3control",
        "put-public-access-block",
        "--account-id",
        tenant.account,
        "--public-access-block-configuration",
        "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,"
        "RestrictPublicBuckets=true",
    )
    out = aws("s3control", "get-public-access-block", "--account-id", tenant.account)
    assert json.loads(out.stdout)["PublicAccessBlockConfiguration"] == _ALL_ON
    aws("s3control", "delete-public-access-block", "--account-id", tenant.account)
    missing = aws(
        "s3control", "get-public-access-block", "--account-id", tenant.account, check=False
    )
    assert missing.returncode != 0
    assert "NoSuchPublicAccessBlockConfiguration" in missing.stderr


def test_iam_users_need_the_account_level_actions(server: ServerProcess) -> None:
    tenant = new_tenant(server, "s3c")
    iam = client_for(server, "iam", tenant.access_key_id, tenant.secret_access_key)
    users = {}
    for name in ("auditor", "nobody"):
        iam.create_user(UserName=name)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        users[name] = _s3control(
            server, Tenant(tenant.account, key["AccessKeyId"], key["SecretAccessKey"])
        )
    # Identity policies are cached per gateway for a while: set before the first call.
    iam.put_user_policy(
        UserName="auditor",
        PolicyName="read-bpa",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "s3:GetAccountPublicAccessBlock",
                        "Resource": "*",
                    }
                ],
            }
        ),
    )
    with pytest.raises(ClientError) as caught:
        users["nobody"].get_public_access_block(AccountId=tenant.account)
    assert _code(caught) == "AccessDenied"
    with pytest.raises(ClientError) as caught:
        users["auditor"].get_public_access_block(AccountId=tenant.account)
    assert _code(caught) == "NoSuchPublicAccessBlockConfiguration"  # allowed: none is set
    with pytest.raises(ClientError) as caught:
        users["auditor"].put_public_access_block(
            AccountId=tenant.account, PublicAccessBlockConfiguration={"BlockPublicAcls": True}
        )
    assert _code(caught) == "AccessDenied"


def test_account_block_governs_acls(server: ServerProcess) -> None:
    tenant = new_tenant(server, "s3c")
    control = _s3control(server, tenant)
    s3 = client_for(server, "s3", tenant.access_key_id, tenant.secret_access_key)
    bucket = f"s3c-acl-{tenant.account[-8:]}".lower()
    s3.create_bucket(
        Bucket=bucket,
        CreateBucketConfiguration={"LocationConstraint": REGION},
        ObjectOwnership="ObjectWriter",
    )
    s3.delete_public_access_block(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="open.txt", Body=b"open", ACL="public-read")
    url = f"{server.endpoint}/{bucket}/open.txt"
    assert requests.get(url, timeout=30).content == b"open"
    # IgnorePublicAcls at the account: the object's public grant no longer counts.
    control.put_public_access_block(
        AccountId=tenant.account, PublicAccessBlockConfiguration={"IgnorePublicAcls": True}
    )
    assert requests.get(url, timeout=30).status_code == 403
    # BlockPublicAcls at the account: new public ACLs are refused, on objects and buckets.
    control.put_public_access_block(
        AccountId=tenant.account, PublicAccessBlockConfiguration={"BlockPublicAcls": True}
    )
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket=bucket, Key="more.txt", Body=b"more", ACL="public-read")
    assert _code(caught) == "AccessDenied"
    with pytest.raises(ClientError) as caught:
        s3.put_object_acl(Bucket=bucket, Key="open.txt", ACL="public-read")
    assert _code(caught) == "AccessDenied"
    with pytest.raises(ClientError) as caught:
        s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    assert _code(caught) == "AccessDenied"
    s3.put_object_acl(Bucket=bucket, Key="open.txt", ACL="private")  # private ones still go
    control.delete_public_access_block(AccountId=tenant.account)
    s3.put_object_acl(Bucket=bucket, Key="open.txt", ACL="public-read")
    assert requests.get(url, timeout=30).content == b"open"


def test_batch_operations_job_retags_twenty_objects(server: ServerProcess) -> None:
    """A job (decision 0152's addendum) re-tags 20 objects through boto3 as its role,
    awaiting confirmation first; it reaches Complete and its report lists 20 succeeded tasks
    and the one object its role may not tag."""
    tenant = new_tenant(server, "s3c")
    control = _s3control(server, tenant)
    s3 = client_for(server, "s3", tenant.access_key_id, tenant.secret_access_key)
    s3.create_bucket(Bucket=(data := f"batch-{tenant.account}"))
    s3.create_bucket(Bucket=(reports := f"reports-{tenant.account}"))
    for i in range(20):
        s3.put_object(Bucket=data, Key=f"obj {i}", Body=b"x", Tagging="tier=hot")
    # The job acts as its role (S3's trust, the role's own policies), as AWS has it.
    role_arn = _batch_role(server, tenant, deny=f"arn:aws:s3:::{data}/kept")
    s3.put_object(Bucket=data, Key="kept", Body=b"x", Tagging="tier=hot")
    lines = "".join(f"{data},obj%20{i}\n" for i in range(20)) + f"{data},kept\n"
    etag = s3.put_object(Bucket=data, Key="manifest.csv", Body=lines.encode())["ETag"]
    request: dict[str, Any] = {
        "AccountId": tenant.account,
        "ConfirmationRequired": True,
        "Operation": {"S3PutObjectTagging": {"TagSet": [{"Key": "tier", "Value": "cold"}]}},
        "Report": {
            "Bucket": f"arn:aws:s3:::{reports}",
            "Format": "Report_CSV_20180820",
            "Enabled": True,
            "Prefix": "runs",
            "ReportScope": "AllTasks",
        },
        "ClientRequestToken": "retag-1",
        "Manifest": {
            "Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"]},
            "Location": {"ObjectArn": f"arn:aws:s3:::{data}/manifest.csv", "ETag": etag},
        },
        "Priority": 10,
        "RoleArn": role_arn,
    }
    job_id = control.create_job(**request)["JobId"]
    assert control.create_job(**request)["JobId"] == job_id  # the token: the same job
    with pytest.raises(ClientError) as caught:
        control.create_job(**{**request, "Priority": 11})
    assert _code(caught) == "IdempotencyException"

    def describe() -> dict[str, Any]:
        return dict(control.describe_job(AccountId=tenant.account, JobId=job_id)["Job"])

    deadline = time.monotonic() + 60
    while describe()["Status"] != "Suspended":
        assert time.monotonic() < deadline, describe()
        time.sleep(0.5)
    assert describe()["ProgressSummary"]["TotalNumberOfTasks"] == 21
    with pytest.raises(ClientError) as caught:
        control.update_job_status(
            AccountId=tenant.account, JobId="no-such-job", RequestedJobStatus="Ready"
        )
    assert _code(caught) == "NotFoundException"
    assert (
        control.update_job_priority(AccountId=tenant.account, JobId=job_id, Priority=42)["Priority"]
        == 42
    )
    ready = control.update_job_status(
        AccountId=tenant.account, JobId=job_id, RequestedJobStatus="Ready"
    )
    assert ready["Status"] == "Ready"
    while (job := describe())["Status"] != "Complete":
        assert job["Status"] in ("Ready", "Active"), job
        assert time.monotonic() < deadline, job
        time.sleep(0.5)
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 20
    assert job["ProgressSummary"]["NumberOfTasksFailed"] == 1  # its role may not tag "kept"
    kept = s3.get_object_tagging(Bucket=data, Key="kept")["TagSet"]
    assert kept == [{"Key": "tier", "Value": "hot"}]
    assert job["Priority"] == 42
    assert job["Report"]["ReportScope"] == "AllTasks"
    for i in (0, 19):
        tags = s3.get_object_tagging(Bucket=data, Key=f"obj {i}")["TagSet"]
        assert tags == [{"Key": "tier", "Value": "cold"}]
    # A finished job's status cannot change.
    with pytest.raises(ClientError) as caught:
        control.update_job_status(
            AccountId=tenant.account, JobId=job_id, RequestedJobStatus="Cancelled"
        )
    assert _code(caught) == "JobStatusException"
    listed = control.list_jobs(AccountId=tenant.account, JobStatuses=["Complete"])["Jobs"]
    assert [j["JobId"] for j in listed] == [job_id]
    assert control.list_jobs(AccountId=tenant.account, JobStatuses=["Active"])["Jobs"] == []
    report = json.loads(
        s3.get_object(Bucket=reports, Key=f"runs/job-{job_id}/manifest.json")["Body"].read()
    )
    results = {r["TaskExecutionStatus"]: r["Key"] for r in report["Results"]}
    assert sorted(results) == ["failed", "succeeded"]

    def rows(status: str) -> list[str]:
        body = s3.get_object(Bucket=reports, Key=results[status])["Body"].read()
        return list(body.decode().splitlines())

    assert len(rows("succeeded")) == 20
    assert all(row.split(",")[3] == "succeeded" for row in rows("succeeded"))
    failed = [row.split(",")[:6] for row in rows("failed")]
    assert failed == [[data, "kept", "", "failed", "AccessDenied", "403"]]
    # Another account cannot see the job.
    other = new_tenant(server, "s3c")
    with pytest.raises(ClientError) as caught:
        _s3control(server, other).describe_job(AccountId=other.account, JobId=job_id)
    assert _code(caught) == "NotFoundException"


def _batch_role(server: ServerProcess, tenant: Tenant, *, deny: str | None = None) -> str:
    """A role S3 Batch Operations may assume (it trusts ``batchoperations.s3.amazonaws.com``,
    as on AWS), allowed to read, write and tag objects (``deny``: not that object's tags)."""
    iam = client_for(server, "iam", tenant.access_key_id, tenant.secret_access_key)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "batchoperations.s3.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    name = f"batch-{uuid.uuid4().hex[:8]}"
    role_arn = str(
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    )
    statements: list[dict[str, Any]] = [
        {
            "Effect": "Allow",
            "Action": [
                "s3:GetObject",
                "s3:PutObjectTagging",
                "s3:PutObject",
                "s3:ListBucket",
                "s3:InitiateReplication",
            ],
            "Resource": "*",
        }
    ]
    if deny is not None:
        statements.append({"Effect": "Deny", "Action": "s3:PutObjectTagging", "Resource": deny})
    iam.put_role_policy(
        RoleName=name,
        PolicyName="batch",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
    )
    return role_arn


def _wait_for(control: Any, account: str, job_id: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while (job := dict(control.describe_job(AccountId=account, JobId=job_id)["Job"]))[
        "Status"
    ] != status:
        assert job["Status"] not in ("Failed", "Cancelled", "Complete"), job
        assert time.monotonic() < deadline, job
        time.sleep(0.5)
    return job


def test_batch_operations_copy_job(server: ServerProcess) -> None:
    """A copy job copies each manifest object behind a prefix in another bucket of the
    account, the new tags on the copies."""
    tenant = new_tenant(server, "s3c")
    control = _s3control(server, tenant)
    s3 = client_for(server, "s3", tenant.access_key_id, tenant.secret_access_key)
    s3.create_bucket(Bucket=(data := f"src-{tenant.account}"))
    s3.create_bucket(Bucket=(backup := f"bak-{tenant.account}"))
    for i in range(3):
        s3.put_object(Bucket=data, Key=f"doc{i}", Body=f"body {i}".encode())
    etag = s3.put_object(
        Bucket=data, Key="m.csv", Body="".join(f"{data},doc{i}\n" for i in range(3)).encode()
    )["ETag"]
    job_id = control.create_job(
        AccountId=tenant.account,
        ConfirmationRequired=False,
        Operation={
            "S3PutObjectCopy": {
                "TargetResource": f"arn:aws:s3:::{backup}",
                "TargetKeyPrefix": "copied/",
                "MetadataDirective": "COPY",
                "NewObjectTagging": [{"Key": "from", "Value": "batch"}],
            }
        },
        Report={"Enabled": False},
        ClientRequestToken="copy-1",
        Manifest={
            "Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"]},
            "Location": {"ObjectArn": f"arn:aws:s3:::{data}/m.csv", "ETag": etag},
        },
        Priority=1,
        RoleArn=_batch_role(server, tenant),
    )["JobId"]
    job = _wait_for(control, tenant.account, job_id, "Complete")
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 3
    assert job["Operation"]["S3PutObjectCopy"]["TargetKeyPrefix"] == "copied/"
    for i in range(3):
        got = s3.get_object(Bucket=backup, Key=f"copied/doc{i}")
        assert got["Body"].read() == f"body {i}".encode()
    tags = s3.get_object_tagging(Bucket=backup, Key="copied/doc0")["TagSet"]
    assert tags == [{"Key": "from", "Value": "batch"}]


def test_batch_replication_of_existing_objects(server: ServerProcess) -> None:
    """AWS's Batch Replication recipe with boto3: objects written before the bucket's
    replication rule, a job whose manifest generator takes those of status NONE or FAILED and
    writes its manifest out, S3ReplicateObject; the replicas arrive, the report and the
    generated manifest are read back; the job's tags round-trip."""
    tenant = new_tenant(server, "s3c")
    control = _s3control(server, tenant)
    s3 = client_for(server, "s3", tenant.access_key_id, tenant.secret_access_key)
    for bucket in (data := f"rsrc-{tenant.account}", copies := f"rdst-{tenant.account}"):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.create_bucket(Bucket=(reports := f"rrep-{tenant.account}"))
    for i in range(3):
        s3.put_object(Bucket=data, Key=f"old/{i}", Body=f"before {i}".encode())
    role = _batch_role(server, tenant)
    s3.put_bucket_replication(
        Bucket=data,
        ReplicationConfiguration={
            "Role": role,
            "Rules": [
                {
                    "ID": "all",
                    "Priority": 1,
                    "Status": "Enabled",
                    "Filter": {},
                    "DeleteMarkerReplication": {"Status": "Disabled"},
                    "Destination": {"Bucket": f"arn:aws:s3:::{copies}"},
                }
            ],
        },
    )
    job_id = control.create_job(
        AccountId=tenant.account,
        ConfirmationRequired=False,
        Operation={"S3ReplicateObject": {}},
        Report={
            "Bucket": f"arn:aws:s3:::{reports}",
            "Format": "Report_CSV_20180820",
            "Enabled": True,
            "Prefix": "repl",
            "ReportScope": "AllTasks",
        },
        ClientRequestToken="replicate-1",
        ManifestGenerator={
            "S3JobManifestGenerator": {
                "SourceBucket": f"arn:aws:s3:::{data}",
                "EnableManifestOutput": True,
                "ManifestOutputLocation": {
                    "Bucket": f"arn:aws:s3:::{reports}",
                    "ManifestPrefix": "generated",
                    "ManifestFormat": "S3InventoryReport_CSV_20211130",
                },
                "Filter": {"ObjectReplicationStatuses": ["NONE", "FAILED"]},
            }
        },
        Priority=5,
        RoleArn=role,
        Tags=[{"Key": "purpose", "Value": "backfill"}],
    )["JobId"]
    job = _wait_for(control, tenant.account, job_id, "Complete")
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 3
    generator = job["ManifestGenerator"]["S3JobManifestGenerator"]
    assert generator["Filter"]["ObjectReplicationStatuses"] == ["NONE", "FAILED"]
    deadline = time.monotonic() + 60
    for i in range(3):
        source = s3.head_object(Bucket=data, Key=f"old/{i}")
        while source.get("ReplicationStatus") != "COMPLETED":
            assert time.monotonic() < deadline, source
            time.sleep(0.5)
            source = s3.head_object(Bucket=data, Key=f"old/{i}")
        replica = s3.get_object(Bucket=copies, Key=f"old/{i}")
        assert replica["Body"].read() == f"before {i}".encode()
        assert replica["VersionId"] == source["VersionId"]
        assert replica["ReplicationStatus"] == "REPLICA"
    report = json.loads(
        s3.get_object(Bucket=reports, Key=f"repl/job-{job_id}/manifest.json")["Body"].read()
    )
    [result] = report["Results"]
    rows = s3.get_object(Bucket=reports, Key=result["Key"])["Body"].read().decode().splitlines()
    assert sorted(row.split(",")[1] for row in rows) == ["old/0", "old/1", "old/2"]
    assert all(row.split(",")[3] == "succeeded" for row in rows)
    generated = json.loads(
        s3.get_object(Bucket=reports, Key=f"generated/job-{job_id}/manifest.json")["Body"].read()
    )
    assert generated["fileSchema"] == "Bucket, Key, VersionId"
    tags = control.get_job_tagging(AccountId=tenant.account, JobId=job_id)["Tags"]
    assert tags == [{"Key": "purpose", "Value": "backfill"}]
    control.put_job_tagging(
        AccountId=tenant.account, JobId=job_id, Tags=[{"Key": "done", "Value": "yes"}]
    )
    assert control.get_job_tagging(AccountId=tenant.account, JobId=job_id)["Tags"] == [
        {"Key": "done", "Value": "yes"}
    ]
    control.delete_job_tagging(AccountId=tenant.account, JobId=job_id)
    assert control.get_job_tagging(AccountId=tenant.account, JobId=job_id)["Tags"] == []
