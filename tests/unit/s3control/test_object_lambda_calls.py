"""The Object Lambda access point calls through the S3 Control app in process (decision
0384): AWS's shapes read back by botocore's own parser, AWS's errors, IAM on the Object
Lambda access point's ARN, the quota a setting."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.parsers import RestXMLParser

from andromede.db.database import open_database
from andromede.s3control.app import S3ControlApp
from andromede.settings import Settings
from andromede.storage.access_points import MemoryAccessPointStore
from andromede.storage.batch_jobs import BatchJobStore
from support.s3app import REGION, Client, in_process_client
from support.schema import migrated_sqlite

_MODEL = botocore.session.get_session().get_service_model("s3control")
_BASE = "/v20180820/accesspointforobjectlambda"


@dataclass
class World:
    s3: Client
    app: S3ControlApp

    @property
    def account(self) -> str:
        return self.s3.tenant_id

    def function(self, name: str = "upper", account: str | None = None) -> str:
        return f"arn:aws:lambda:{REGION}:{account or self.account}:function:{name}"

    def supporting(self, name: str = "data-ap") -> str:
        return f"arn:aws:s3:{REGION}:{self.account}:accesspoint/{name}"


def configuration(
    world: World,
    *,
    root: str = "CreateAccessPointForObjectLambdaRequest",
    supporting: str | None = None,
    function: str | None = None,
    actions: tuple[str, ...] = ("GetObject",),
    extra: str = "",
) -> bytes:
    action_xml = "".join(f"<Action>{a}</Action>" for a in actions)
    return (
        f'<{root} xmlns="http://awss3control.amazonaws.com/doc/2018-08-20/"><Configuration>'
        f"<SupportingAccessPoint>{supporting or world.supporting()}</SupportingAccessPoint>"
        f"{extra}<TransformationConfigurations><TransformationConfiguration>"
        f"<Actions>{action_xml}</Actions><ContentTransformation><AwsLambda>"
        f"<FunctionArn>{function or world.function()}</FunctionArn>"
        '<FunctionPayload>{"mode":"upper"}</FunctionPayload>'
        "</AwsLambda></ContentTransformation></TransformationConfiguration>"
        f"</TransformationConfigurations></Configuration></{root}>"
    ).encode()


@pytest.fixture
async def world(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[World]:
    overrides = getattr(request, "param", {})
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    async with in_process_client(tmp_path) as s3:
        assert (await s3.request("PUT", "/data-bucket")).status == 200
        assert s3.identity is not None and s3.objects is not None
        app = S3ControlApp(
            s3.objects,
            s3.identity,
            s3.audit,
            Settings(data_dir=tmp_path, region=REGION, **overrides),
            BatchJobStore(db),
            access_points=MemoryAccessPointStore(),
        )
        found = World(s3, app)
        assert s3.credentials is not None
        create = (
            b"<CreateAccessPointRequest><Bucket>data-bucket</Bucket></CreateAccessPointRequest>"
        )
        status, _ = await call(
            found, s3.credentials, "PUT", "/v20180820/accesspoint/data-ap", create
        )
        assert status == 200
        yield found
    await db.close()


async def call(
    world: World,
    credentials: Credentials,
    method: str,
    path: str,
    body: bytes = b"",
    query: str = "",
) -> tuple[int, bytes]:
    url = f"http://127.0.0.1:9000{path}" + (f"?{query}" if query else "")
    headers = {
        "x-amz-account-id": world.s3.tenant_id,
        "x-amz-content-sha256": hashlib.sha256(body).hexdigest(),
    }
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    S3SigV4Auth(credentials, "s3", REGION).add_auth(request)
    prepared = request.prepare()
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "scheme": "http",
        "headers": [(b"host", b"127.0.0.1:9000")]
        + [(k.lower().encode(), str(v).encode()) for k, v in prepared.headers.items()],
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await world.app(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def parsed(operation: str, status: int, body: bytes) -> dict[str, Any]:
    shape = _MODEL.operation_model(operation).output_shape
    response = {"status_code": status, "headers": {}, "body": body}
    result: dict[str, Any] = RestXMLParser().parse(response, shape)
    return result


def code_of(body: bytes) -> str:
    return body.split(b"<Code>", 1)[1].split(b"</Code>", 1)[0].decode()


async def test_create_get_configure_list_and_delete(world: World) -> None:
    root = world.s3.credentials
    assert root is not None
    status, body = await call(world, root, "PUT", f"{_BASE}/upper", configuration(world))
    assert status == 200, body
    created = parsed("CreateAccessPointForObjectLambda", status, body)
    arn = f"arn:aws:s3-object-lambda:{REGION}:{world.account}:accesspoint/upper"
    assert created["ObjectLambdaAccessPointArn"] == arn
    assert created["Alias"]["Value"].endswith("--ol-s3")
    assert created["Alias"]["Status"] == "READY"

    status, body = await call(world, root, "GET", f"{_BASE}/upper")
    got = parsed("GetAccessPointForObjectLambda", status, body)
    assert got["Name"] == "upper"
    assert got["Alias"] == created["Alias"]
    assert got["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True

    status, body = await call(world, root, "GET", f"{_BASE}/upper/configuration")
    config = parsed("GetAccessPointConfigurationForObjectLambda", status, body)["Configuration"]
    assert config["SupportingAccessPoint"] == world.supporting()
    assert config["CloudWatchMetricsEnabled"] is False
    (transformation,) = config["TransformationConfigurations"]
    assert transformation["Actions"] == ["GetObject"]
    assert transformation["ContentTransformation"]["AwsLambda"] == {
        "FunctionArn": world.function(),
        "FunctionPayload": '{"mode":"upper"}',
    }

    new = configuration(
        world,
        root="PutAccessPointConfigurationForObjectLambdaRequest",
        function=world.function("lower"),
        actions=("GetObject", "HeadObject"),
        extra="<AllowedFeatures><AllowedFeature>GetObject-Range</AllowedFeature>"
        "</AllowedFeatures><CloudWatchMetricsEnabled>true</CloudWatchMetricsEnabled>",
    )
    assert (await call(world, root, "PUT", f"{_BASE}/upper/configuration", new))[0] == 200
    status, body = await call(world, root, "GET", f"{_BASE}/upper/configuration")
    config = parsed("GetAccessPointConfigurationForObjectLambda", status, body)["Configuration"]
    assert config["AllowedFeatures"] == ["GetObject-Range"]
    assert config["CloudWatchMetricsEnabled"] is True
    assert config["TransformationConfigurations"][0]["Actions"] == ["GetObject", "HeadObject"]

    assert (await call(world, root, "PUT", f"{_BASE}/second", configuration(world)))[0] == 200
    status, body = await call(world, root, "GET", _BASE, query="maxResults=1")
    page = parsed("ListAccessPointsForObjectLambda", status, body)
    assert [p["Name"] for p in page["ObjectLambdaAccessPointList"]] == ["second"]
    status, body = await call(
        world, root, "GET", _BASE, query=f"maxResults=1&nextToken={page['NextToken']}"
    )
    page = parsed("ListAccessPointsForObjectLambda", status, body)
    assert [p["Name"] for p in page["ObjectLambdaAccessPointList"]] == ["upper"]
    assert page["ObjectLambdaAccessPointList"][0]["ObjectLambdaAccessPointArn"] == arn
    assert "NextToken" not in page

    assert (await call(world, root, "DELETE", f"{_BASE}/upper"))[0] == 204
    status, body = await call(world, root, "GET", f"{_BASE}/upper")
    assert (status, code_of(body)) == (404, "NoSuchAccessPoint")
    status, body = await call(world, root, "DELETE", f"{_BASE}/upper")
    assert (status, code_of(body)) == (404, "NoSuchAccessPoint")


async def test_the_policy_calls(world: World) -> None:
    root = world.s3.credentials
    assert root is not None
    assert (await call(world, root, "PUT", f"{_BASE}/upper", configuration(world)))[0] == 200
    status, body = await call(world, root, "GET", f"{_BASE}/upper/policy")
    assert (status, code_of(body)) == (404, "NoSuchAccessPointPolicy")
    arn = f"arn:aws:s3-object-lambda:{REGION}:{world.account}:accesspoint/upper"
    policy = (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":'
        f'"arn:aws:iam::{world.account}:root"}},"Action":"s3-object-lambda:GetObject",'
        f'"Resource":"{arn}"}}]}}'
    )
    put = (
        "<PutAccessPointPolicyForObjectLambdaRequest><Policy>"
        + policy.replace("&", "&amp;")
        + "</Policy></PutAccessPointPolicyForObjectLambdaRequest>"
    ).encode()
    assert (await call(world, root, "PUT", f"{_BASE}/upper/policy", put))[0] == 200
    status, body = await call(world, root, "GET", f"{_BASE}/upper/policy")
    assert parsed("GetAccessPointPolicyForObjectLambda", status, body)["Policy"] == policy
    status, body = await call(world, root, "GET", f"{_BASE}/upper/policyStatus")
    result = parsed("GetAccessPointPolicyStatusForObjectLambda", status, body)
    assert result["PolicyStatus"]["IsPublic"] is False

    public = put.replace(f"arn:aws:iam::{world.account}:root".encode(), b"*")
    status, body = await call(world, root, "PUT", f"{_BASE}/upper/policy", public)
    assert (status, code_of(body)) == (403, "AccessDenied")
    other = put.replace(b"s3-object-lambda:GetObject", b"s3:GetObject")
    status, body = await call(world, root, "PUT", f"{_BASE}/upper/policy", other)
    assert (status, code_of(body)) == (400, "MalformedPolicy")
    elsewhere = put.replace(b"accesspoint/upper", b"accesspoint/another")
    status, body = await call(world, root, "PUT", f"{_BASE}/upper/policy", elsewhere)
    assert (status, code_of(body)) == (400, "MalformedPolicy")

    assert (await call(world, root, "DELETE", f"{_BASE}/upper/policy"))[0] == 204
    status, body = await call(world, root, "GET", f"{_BASE}/upper/policyStatus")
    assert (status, code_of(body)) == (404, "NoSuchAccessPointPolicy")


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"supporting": "arn:aws:s3:eu-west-1:123456789012:accesspoint/data-ap"}, "InvalidRequest"),
        ({"supporting": "data-ap"}, "InvalidRequest"),
        ({"function": "arn:aws:lambda:eu-west-1:123456789012:function:f"}, "InvalidRequest"),
        ({"function": "not-an-arn"}, "InvalidRequest"),
        ({"actions": ("PutObject",)}, "InvalidRequest"),
        (
            {"extra": "<AllowedFeatures><AllowedFeature>Fly</AllowedFeature></AllowedFeatures>"},
            "InvalidRequest",
        ),
        ({"extra": "<Unknown/>"}, "MalformedXML"),
    ],
)
async def test_a_configuration_aws_refuses(world: World, change: dict[str, Any], code: str) -> None:
    root = world.s3.credentials
    assert root is not None
    status, body = await call(world, root, "PUT", f"{_BASE}/upper", configuration(world, **change))
    assert (status, code_of(body)) == (400, code)
    status, body = await call(world, root, "GET", f"{_BASE}/upper")
    assert status == 404


async def test_naming_and_existence_errors(world: World) -> None:
    root = world.s3.credentials
    assert root is not None
    missing = configuration(world, supporting=world.supporting("nope"))
    status, body = await call(world, root, "PUT", f"{_BASE}/upper", missing)
    assert (status, code_of(body)) == (404, "NoSuchAccessPoint")
    status, body = await call(world, root, "PUT", f"{_BASE}/Upper", configuration(world))
    assert (status, code_of(body)) == (400, "InvalidRequest")
    status, body = await call(world, root, "PUT", f"{_BASE}/{'a' * 46}", configuration(world))
    assert (status, code_of(body)) == (400, "InvalidRequest")
    assert (await call(world, root, "PUT", f"{_BASE}/upper", configuration(world)))[0] == 200
    status, body = await call(world, root, "PUT", f"{_BASE}/upper", configuration(world))
    assert (status, code_of(body)) == (409, "AccessPointAlreadyOwnedByYou")
    status, body = await call(world, root, "PUT", f"{_BASE}/upper", b"<nope/>")
    assert (status, code_of(body)) == (400, "MalformedXML")
    twice = configuration(world, actions=("GetObject", "GetObject"))
    status, body = await call(world, root, "PUT", f"{_BASE}/other", twice)
    assert (status, code_of(body)) == (400, "InvalidRequest")


async def test_iam_decides_on_the_object_lambda_access_points_arn(world: World) -> None:
    root = world.s3.credentials
    assert root is not None and world.s3.identity is not None
    assert (await call(world, root, "PUT", f"{_BASE}/upper", configuration(world)))[0] == 200
    assert (await call(world, root, "PUT", f"{_BASE}/other", configuration(world)))[0] == 200
    user = await world.s3.iam_user("ops")
    assert user.credentials is not None
    arn = f"arn:aws:s3-object-lambda:{REGION}:{world.account}:accesspoint/upper"
    await world.s3.identity.put_user_policy(
        world.account,
        "ops",
        "p",
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": '
        f'"s3:GetAccessPointForObjectLambda", "Resource": "{arn}"}}]}}',
    )
    ops = user.credentials
    assert (await call(world, ops, "GET", f"{_BASE}/upper"))[0] == 200
    assert (await call(world, ops, "GET", f"{_BASE}/other"))[0] == 403
    assert (await call(world, ops, "DELETE", f"{_BASE}/upper"))[0] == 403
    assert (await call(world, ops, "GET", _BASE))[0] == 403
    await world.s3.audit.flush()
    events = [e for _, e in await world.s3.audit_store.list_events(None, after_id=0, limit=50)]
    assert ("s3:GetAccessPointForObjectLambda", arn) in [(e.action, e.resource) for e in events]


@pytest.mark.parametrize(
    "world", [{"max_object_lambda_access_points_per_account": 1}], indirect=True
)
async def test_the_quota_is_a_setting(world: World) -> None:
    root = world.s3.credentials
    assert root is not None
    assert (await call(world, root, "PUT", f"{_BASE}/upper", configuration(world)))[0] == 200
    status, body = await call(world, root, "PUT", f"{_BASE}/second", configuration(world))
    assert (status, code_of(body)) == (400, "InvalidRequest")
    assert b"quota of 1 Object Lambda access points" in body
    assert (await call(world, root, "DELETE", f"{_BASE}/upper"))[0] == 204
    assert (await call(world, root, "PUT", f"{_BASE}/second", configuration(world)))[0] == 200
