"""S3 Object Lambda end to end (decision 0384), on a real ``andromede serve`` with boto3:
S3 Control's ``create_access_point_for_object_lambda`` (and its reads) in front of an access
point, then ``get_object`` with the Object Lambda access point's ARN as ``Bucket`` runs a
real Python function in the server's sandbox, which reads the object through its
``inputS3Url`` (from inside the sandbox, through its API relay) and answers with boto3's
``write_get_object_response``: the caller gets the upper-cased object; ``head_object`` and
``list_objects_v2`` get what the function returns (a JSON ``listBucketResult``). Operations
not transformed reach the supporting access point (decision 0399), and the Object Lambda
access point's alias works as a bucket name. A function that never answers is AWS's
``LambdaResponseNotReceived``.

Two workers: the function's WriteGetObjectResponse, carried from the sandbox to the shared
port, may land on the worker that does not hold the waiting GET, which passes it on
(decision 0384's "Workers"); several GETs make that likely. The client's endpoint host is
``s3.localhost`` and the server is its HTTP proxy, so ``<name>-<account>.s3.localhost``
needs no name resolution (as test_access_point_arns.py does).

Decision 0411: the function's WriteGetObjectResponse calls and the bytes uploaded through the
access point reach CloudWatch (``AWS/S3ObjectLambda``) whichever worker took them; a caller of
another account gets through when the Object Lambda access point's policy, the function's
resource-based policy, the supporting access point's policy and the bucket's all grant it."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from e2e.helpers import REGION, delegate_to_access_points
from e2e.iam_helpers import Tenant, client_for, new_tenant
from e2e.test_s3control import s3control_client
from support.lambda_functions import NEEDS_BWRAP, execution_role, python_function
from support.server import ServerProcess, running_server

pytestmark = [pytest.mark.e2e, NEEDS_BWRAP]

UPPER = (
    "import urllib.request\n"
    "import xml.etree.ElementTree as ET\n"
    "import boto3\n"
    "s3 = boto3.client('s3')\n"
    "def handler(event, context):\n"
    "    if 'headObjectContext' in event:\n"
    "        request = urllib.request.Request(event['headObjectContext']['inputS3Url'],\n"
    "            method='HEAD')\n"
    "        with urllib.request.urlopen(request, timeout=30) as answer:\n"
    "            length = answer.headers['Content-Length']\n"
    "        return {'statusCode': 200, 'headers': {'Content-Length': length,\n"
    "            'Content-Type': 'text/plain'}, 'metadata': {'transformed': 'head'}}\n"
    "    if 'listObjectsV2Context' in event:\n"
    "        url = event['listObjectsV2Context']['inputS3Url']\n"
    "        with urllib.request.urlopen(url, timeout=30) as answer:\n"
    "            root = ET.fromstring(answer.read())\n"
    "        ns = '{http://s3.amazonaws.com/doc/2006-03-01/}'\n"
    "        keys = [c.find(ns + 'Key').text for c in root.findall(ns + 'Contents')]\n"
    "        encoding = root.find(ns + 'EncodingType')\n"
    "        return {'statusCode': 200, 'listBucketResult': {'name': 'upper',\n"
    "            'keyCount': len(keys), 'isTruncated': False,\n"
    "            'encodingType': None if encoding is None else encoding.text,\n"
    "            'contents': [{'key': k.upper(), 'size': 1} for k in keys]}}\n"
    "    ctx = event['getObjectContext']\n"
    "    with urllib.request.urlopen(ctx['inputS3Url'], timeout=30) as answer:\n"
    "        original = answer.read()\n"
    "    s3.write_get_object_response(Body=original.upper(), RequestRoute=ctx['outputRoute'],\n"
    "        RequestToken=ctx['outputToken'], ContentType='text/plain',\n"
    "        Metadata={'transformed': event['configuration']['payload']})\n"
    "    return {'status_code': 200}\n"
)
SILENT = "def handler(event, context):\n    return {'status_code': 200}\n"
# Upper-cases the object; a refused read is passed on as the caller's AccessDenied.
FORWARDING = (
    "import urllib.error\n"
    "import urllib.request\n"
    "import boto3\n"
    "s3 = boto3.client('s3')\n"
    "def handler(event, context):\n"
    "    ctx = event['getObjectContext']\n"
    "    route = {'RequestRoute': ctx['outputRoute'], 'RequestToken': ctx['outputToken']}\n"
    "    try:\n"
    "        with urllib.request.urlopen(ctx['inputS3Url'], timeout=30) as answer:\n"
    "            body = answer.read().upper()\n"
    "    except urllib.error.HTTPError as refused:\n"
    "        s3.write_get_object_response(StatusCode=refused.code, ErrorCode='AccessDenied',\n"
    "            ErrorMessage='The read was refused', **route)\n"
    "        return {'status_code': refused.code}\n"
    "    s3.write_get_object_response(Body=body, **route)\n"
    "    return {'status_code': 200}\n"
)

# Upper-cases the object and answers aws-chunked with a trailing CRC32, as botocore frames a
# body whose operation asks for a trailing checksum (its own AwsChunkedWrapper: the model's
# WriteGetObjectResponse asks for none, so the function asks through botocore's request
# context). A key with "tamper" in it has one byte changed once framed, its trailer left.
TRAILED = (
    "import urllib.request\n"
    "import boto3\n"
    "from botocore.exceptions import ClientError\n"
    "s3 = boto3.client('s3')\n"
    "STATE = {'tamper': False}\n"
    "def _trailer(params, context, **kwargs):\n"
    "    context['checksum'] = {'request_algorithm': {'in': 'trailer',\n"
    "        'algorithm': 'crc32', 'name': 'x-amz-checksum-crc32'}}\n"
    "def _tamper(request, **kwargs):\n"
    "    if STATE['tamper']:\n"
    "        request.body = request.body.read().replace(b'HELLO', b'JELLO', 1)\n"
    "s3.meta.events.register('before-call.s3.WriteGetObjectResponse', _trailer)\n"
    "s3.meta.events.register('before-send.s3.WriteGetObjectResponse', _tamper)\n"
    "def handler(event, context):\n"
    "    ctx = event['getObjectContext']\n"
    "    STATE['tamper'] = 'tamper' in event['userRequest']['url']\n"
    "    with urllib.request.urlopen(ctx['inputS3Url'], timeout=30) as answer:\n"
    "        original = answer.read()\n"
    "    try:\n"
    "        s3.write_get_object_response(Body=original.upper(),\n"
    "            RequestRoute=ctx['outputRoute'], RequestToken=ctx['outputToken'])\n"
    "    except ClientError as refused:\n"
    "        return {'refused': refused.response['Error']['Code']}\n"
    "    return {'status_code': 200}\n"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("object-lambda") / "data"
    env = {"ANDROMEDE_WORKERS": "2", "ANDROMEDE_METRICS_PLATFORM_INTERVAL": "0.5"}
    with running_server(data_dir, extra_env=env) as started:
        yield started


def _arn_client(server: ServerProcess, access_key_id: str, secret_access_key: str) -> Any:
    port = urlsplit(server.endpoint).port
    return boto3.session.Session(
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        region_name=REGION,
    ).client(
        "s3",
        endpoint_url=f"http://s3.localhost:{port}",
        config=Config(
            proxies={"http": server.endpoint},
            retries={"max_attempts": 1},
            read_timeout=120,
        ),
    )


def test_get_object_through_an_object_lambda_access_point(server: ServerProcess) -> None:
    tenant = new_tenant(server, "olap")
    keys = (tenant.access_key_id, tenant.secret_access_key)
    s3: Any = client_for(server, "s3", *keys)
    bucket = f"ol-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="notes/hello.txt", Body=b"hello object lambda")
    control: Any = s3control_client(server, *keys)
    account = tenant.account
    delegate_to_access_points(s3, bucket, account)
    supporting = control.create_access_point(AccountId=account, Name="data-ap", Bucket=bucket)[
        "AccessPointArn"
    ]

    role = execution_role(
        client_for(server, "iam", *keys),
        "ol-fn",
        {
            "answer": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "s3-object-lambda:WriteGetObjectResponse",
                        "Resource": "*",
                    }
                ],
            }
        },
    )
    functions: Any = client_for(server, "lambda", *keys)
    upper = python_function(functions, "upper", role, UPPER, Timeout=60)["FunctionArn"]
    silent = python_function(functions, "silent", role, SILENT)["FunctionArn"]

    def configuration(function: str) -> dict[str, Any]:
        return {
            "SupportingAccessPoint": supporting,
            "TransformationConfigurations": [
                {
                    "Actions": ["GetObject", "HeadObject", "ListObjectsV2"],
                    "ContentTransformation": {
                        "AwsLambda": {"FunctionArn": function, "FunctionPayload": "upper"}
                    },
                }
            ],
        }

    created = control.create_access_point_for_object_lambda(
        AccountId=account, Name="upper", Configuration=configuration(upper)
    )
    point = created["ObjectLambdaAccessPointArn"]
    assert point == f"arn:aws:s3-object-lambda:{REGION}:{account}:accesspoint/upper"
    got = control.get_access_point_configuration_for_object_lambda(AccountId=account, Name="upper")
    assert got["Configuration"]["SupportingAccessPoint"] == supporting
    listed = control.list_access_points_for_object_lambda(AccountId=account)
    assert [p["Name"] for p in listed["ObjectLambdaAccessPointList"]] == ["upper"]

    client = _arn_client(server, *keys)
    for _ in range(4):
        answer = client.get_object(Bucket=point, Key="notes/hello.txt")
        assert answer["Body"].read() == b"HELLO OBJECT LAMBDA"
        assert answer["ContentType"] == "text/plain"
        assert answer["Metadata"] == {"transformed": "upper"}

    head = client.head_object(Bucket=point, Key="notes/hello.txt")
    assert head["ContentLength"] == len(b"hello object lambda")
    assert head["Metadata"] == {"transformed": "head"}
    # The function's JSON listBucketResult, read by botocore as S3's XML (decision 0399).
    listing = client.list_objects_v2(Bucket=point)
    assert [o["Key"] for o in listing["Contents"]] == ["NOTES/HELLO.TXT"]

    # Not transformed: passed through to the supporting access point (decision 0399).
    client.put_object(Bucket=point, Key="notes/plain.txt", Body=b"written through")
    assert s3.get_object(Bucket=bucket, Key="notes/plain.txt")["Body"].read() == (
        b"written through"
    )
    tag_set = [{"Key": "k", "Value": "v"}]
    client.put_object_tagging(Bucket=point, Key="notes/plain.txt", Tagging={"TagSet": tag_set})
    assert client.get_object_tagging(Bucket=point, Key="notes/plain.txt")["TagSet"] == tag_set
    client.delete_objects(Bucket=point, Delete={"Objects": [{"Key": "notes/plain.txt"}]})
    with pytest.raises(ClientError) as deleted:
        s3.head_object(Bucket=bucket, Key="notes/plain.txt")
    assert deleted.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    # The alias as a bucket name on the S3 API, signed for s3, transformed as through the ARN.
    alias = created["Alias"]["Value"]
    assert alias.endswith("--ol-s3")
    aliased = s3.get_object(Bucket=alias, Key="notes/hello.txt")
    assert aliased["Body"].read() == b"HELLO OBJECT LAMBDA"

    control.create_access_point_for_object_lambda(
        AccountId=account, Name="silent", Configuration=configuration(silent)
    )
    silent_point = point.replace("accesspoint/upper", "accesspoint/silent")
    with pytest.raises(ClientError) as unanswered:
        client.get_object(Bucket=silent_point, Key="notes/hello.txt")
    assert unanswered.value.response["Error"]["Code"] == "LambdaResponseNotReceived"
    assert unanswered.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500

    control.delete_access_point_for_object_lambda(AccountId=account, Name="silent")
    with pytest.raises(ClientError) as gone:
        client.get_object(Bucket=silent_point, Key="notes/hello.txt")
    assert gone.value.response["Error"]["Code"] == "NoSuchAccessPoint"


@dataclass
class Owner:
    """A tenant with a bucket holding ``notes/hello.txt``, its access point ``data-ap`` and
    the function ``fwd`` (FORWARDING unless told), whose role may answer Object Lambda GETs."""

    tenant: Tenant
    s3: Any
    control: Any
    functions: Any
    bucket: str
    supporting: str
    function: str


def _owner(server: ServerProcess, prefix: str, code: str = FORWARDING) -> Owner:
    tenant = new_tenant(server, prefix)
    keys = (tenant.access_key_id, tenant.secret_access_key)
    s3: Any = client_for(server, "s3", *keys)
    bucket = f"{prefix}-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="notes/hello.txt", Body=b"hello object lambda")
    control: Any = s3control_client(server, *keys)
    supporting = control.create_access_point(
        AccountId=tenant.account, Name="data-ap", Bucket=bucket
    )["AccessPointArn"]
    answer = {"Effect": "Allow", "Action": "s3-object-lambda:WriteGetObjectResponse",
        "Resource": "*"}  # fmt: skip
    role = execution_role(client_for(server, "iam", *keys), f"{prefix}-fn",
        {"answer": {"Version": "2012-10-17", "Statement": [answer]}})  # fmt: skip
    functions: Any = client_for(server, "lambda", *keys)
    function = python_function(functions, "fwd", role, code, Timeout=60)["FunctionArn"]
    return Owner(tenant, s3, control, functions, bucket, supporting, function)


def _point(owner: Owner, name: str, *, metrics: bool = False) -> str:
    owner.control.create_access_point_for_object_lambda(
        AccountId=owner.tenant.account,
        Name=name,
        Configuration={
            "SupportingAccessPoint": owner.supporting,
            "CloudWatchMetricsEnabled": metrics,
            "TransformationConfigurations": [
                {
                    "Actions": ["GetObject"],
                    "ContentTransformation": {"AwsLambda": {"FunctionArn": owner.function}},
                }
            ],
        },
    )
    return f"arn:aws:s3-object-lambda:{REGION}:{owner.tenant.account}:accesspoint/{name}"


def _sum(cloudwatch: Any, metric: str, dimensions: dict[str, str]) -> float:
    now = datetime.now(UTC)
    points = cloudwatch.get_metric_statistics(
        Namespace="AWS/S3ObjectLambda",
        MetricName=metric,
        Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()],
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=1),
        Period=60,
        Statistics=["Sum"],
    )["Datapoints"]
    return float(sum(p["Sum"] for p in points))


def test_the_functions_answers_and_uploads_reach_cloudwatch(server: ServerProcess) -> None:
    owner = _owner(server, "olm")
    keys = (owner.tenant.access_key_id, owner.tenant.secret_access_key)
    point = _point(owner, "metered", metrics=True)
    client = _arn_client(server, *keys)
    for _ in range(3):  # two workers: answers land on either, the GET's worker counts them
        answer = client.get_object(Bucket=point, Key="notes/hello.txt")
        assert answer["Body"].read() == b"HELLO OBJECT LAMBDA"
    client.put_object(Bucket=point, Key="notes/up.txt", Body=b"u" * 100)  # passed through

    cloudwatch: Any = client_for(server, "cloudwatch", *keys)
    invoked = {"AccessPointName": "metered", "DataSourceARN": owner.function}
    proxied = {"AccessPointName": "metered", "DataSourceARN": owner.supporting}
    expected = {
        ("LambdaResponseRequests", "invoked"): 3.0,
        ("LambdaResponse4xx", "invoked"): 0.0,
        ("LambdaResponse5xx", "invoked"): 0.0,
        ("InvokedLambda", "invoked"): 3.0,
        ("BytesUploaded", "proxied"): 100.0,
    }
    found: dict[tuple[str, str], float] = {}
    deadline = time.monotonic() + 60  # each worker flushes its own points, on its own beat
    while time.monotonic() < deadline:
        found = {
            (metric, which): _sum(cloudwatch, metric, invoked if which == "invoked" else proxied)
            for metric, which in expected
        }
        if found == expected:
            break
        time.sleep(0.5)
    assert found == expected


def test_another_accounts_caller(server: ServerProcess) -> None:
    owner = _owner(server, "olx")
    account = owner.tenant.account
    point = _point(owner, "shared")
    other = new_tenant(server, "oly")
    caller = f"arn:aws:iam::{other.account}:root"
    client = _arn_client(server, other.access_key_id, other.secret_access_key)

    def granting(action: str, resource: str) -> str:
        statement = {"Effect": "Allow", "Principal": {"AWS": caller}, "Action": action,
            "Resource": resource}  # fmt: skip
        return json.dumps({"Version": "2012-10-17", "Statement": [statement]})

    def refused() -> tuple[str, int]:
        with pytest.raises(ClientError) as caught:
            client.get_object(Bucket=point, Key="notes/hello.txt")
        error = caught.value.response
        return error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]

    assert refused() == ("AccessDenied", 403)  # the Object Lambda access point's policy
    owner.control.put_access_point_policy_for_object_lambda(
        AccountId=account, Name="shared", Policy=granting("s3-object-lambda:GetObject", point)
    )
    assert refused() == ("LambdaPermissionError", 403)  # the function's resource policy
    owner.functions.add_permission(FunctionName="fwd", StatementId="other",
        Action="lambda:InvokeFunction", Principal=other.account)  # fmt: skip
    # The function's read is the caller's: the supporting access point's policy refuses it…
    assert refused() == ("AccessDenied", 403)
    owner.control.put_access_point_policy(AccountId=account, Name="data-ap",
        Policy=granting("s3:GetObject", f"{owner.supporting}/object/*"))  # fmt: skip
    assert refused() == ("AccessDenied", 403)  # …then the bucket's
    delegate_to_access_points(owner.s3, owner.bucket, account)
    answer = client.get_object(Bucket=point, Key="notes/hello.txt")
    assert answer["Body"].read() == b"HELLO OBJECT LAMBDA"


def test_a_trailing_checksum_from_botocore_is_verified(server: ServerProcess) -> None:
    """Decision 0417: botocore's aws-chunked answer with a trailing CRC32 reaches the caller;
    the same answer with a byte changed after its checksum was taken is refused (BadDigest to
    the function), and its caller gets AWS's LambdaResponseNotReceived, never the bytes."""
    owner = _owner(server, "olt", TRAILED)
    owner.s3.put_object(Bucket=owner.bucket, Key="notes/tamper.txt", Body=b"hello tampered")
    point = _point(owner, "trailed")
    client = _arn_client(server, owner.tenant.access_key_id, owner.tenant.secret_access_key)
    for _ in range(3):  # two workers: answers land on either, passed on or not
        answer = client.get_object(Bucket=point, Key="notes/hello.txt")
        assert answer["Body"].read() == b"HELLO OBJECT LAMBDA"
        with pytest.raises(ClientError) as refused:
            client.get_object(Bucket=point, Key="notes/tamper.txt")
        assert refused.value.response["Error"]["Code"] == "LambdaResponseNotReceived"
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
