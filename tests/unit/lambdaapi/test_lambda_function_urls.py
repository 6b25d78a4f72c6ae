"""Decision 0312: function URLs through botocore's ``lambda`` model in process — Create, Get,
Update, Delete and List as AWS answers them, a version refused, an alias's URL, the URLs
gone with their function or alias — and the URLs served by their own app: the CORS
preflight answered without invoking, ``NONE`` allowed only by a resource-policy statement
for ``lambda:InvokeFunctionUrl`` with ``lambda:FunctionUrlAuthType``, ``AWS_IAM`` only for a
SigV4-signed caller allowed, the handler (in the real ``bwrap`` sandbox) given the payload
format 2.0 event and its answer read back, errors 502, throttles 429, bodies bounded."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from andromede.api_routing import api_service
from support.json_client import JsonReply
from support.lambdaapp import REGION, World, handler_zip, lambda_world

needs_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None,
    reason="bubblewrap is not installed (scripts/install-system-deps.sh installs it)",
)

SOURCE = """
import json

def handler(event, context):
    if event.get("queryStringParameters", {}).get("fail"):
        raise RuntimeError("asked to fail")
    return {
        "statusCode": 201,
        "headers": {"X-Seen-Method": event["requestContext"]["http"]["method"],
                    "Access-Control-Allow-Origin": "https://not-the-config.example"},
        "cookies": ["session=abc; Path=/", "theme=dark"],
        "body": json.dumps({"event": event}),
    }
"""
PUBLIC = {
    "StatementId": "public-url",
    "Action": "lambda:InvokeFunctionUrl",
    "Principal": "*",
    "FunctionUrlAuthType": "NONE",
}


def host_of(url: str) -> str:
    found = re.fullmatch(r"http://([a-z0-9]{32}\.lambda-url\.eu-fr-1\.localhost):9000/", url)
    assert found is not None, url
    return found[1]


async def call_url(
    world: World,
    host: str,
    method: str = "GET",
    path: str = "/",
    query: str = "",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    signer: Credentials | None = None,
) -> JsonReply:
    """A request to a function URL as a client sends it (signed for ``lambda`` when a
    signer is given), through the URLs' app."""
    url = f"http://{host}:9000{path}" + (f"?{query}" if query else "")
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    if signer is not None:
        SigV4Auth(signer, "lambda", REGION).add_auth(request)
    sent_headers = [(b"host", f"{host}:9000".encode())] + [
        (k.lower().encode(), str(v).encode())
        for k, v in request.headers.items()
        if k.lower() != "host"
    ]
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "scheme": "http",
        "http_version": "1.1",
        "client": ("192.0.2.9", 50000),
        "server": ("127.0.0.1", 9000),
        "headers": sent_headers,
    }
    assert api_service(scope) == "lambda-url"
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    assert world.url_app is not None
    await world.url_app(scope, receive, send)
    got: dict[str, str] = {}
    for k, v in sent[0]["headers"]:
        name = k.decode().lower()
        got[name] = f"{got[name]}\n{v.decode()}" if name in got else v.decode()
    assert got["x-amzn-requestid"]
    return JsonReply(sent[0]["status"], got, b"".join(m.get("body", b"") for m in sent[1:]))


async def test_configurations_are_made_read_changed_and_deleted(world: World) -> None:
    made_fn = await world.function("site")
    made = await world.client(
        "CreateFunctionUrlConfig",
        FunctionName="site",
        AuthType="NONE",
        Cors={"AllowOrigins": ["https://app.example"], "AllowMethods": ["get"], "MaxAge": 60},
    )
    host = host_of(made["FunctionUrl"])
    assert made["FunctionArn"] == made_fn["FunctionArn"]
    assert made["AuthType"] == "NONE" and made["InvokeMode"] == "BUFFERED"
    assert made["Cors"] == {
        "AllowOrigins": ["https://app.example"], "AllowMethods": ["GET"], "MaxAge": 60
    }  # fmt: skip
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", made["CreationTime"])
    again = await world.fails(
        "CreateFunctionUrlConfig", "ResourceConflictException", FunctionName="site", AuthType="NONE"
    )
    assert "FunctionUrlConfig exists for this Lambda function" in again.message
    got = await world.client("GetFunctionUrlConfig", FunctionName="site")
    assert got["FunctionUrl"] == made["FunctionUrl"] and got["LastModifiedTime"]
    changed = await world.client(
        "UpdateFunctionUrlConfig",
        FunctionName="site",
        AuthType="AWS_IAM",
        InvokeMode="RESPONSE_STREAM",
    )
    assert changed["FunctionUrl"] == made["FunctionUrl"]  # the url-id is kept
    assert (changed["AuthType"], changed["InvokeMode"]) == ("AWS_IAM", "RESPONSE_STREAM")
    assert changed["Cors"]["AllowOrigins"] == ["https://app.example"]  # not given: kept
    await world.fails(
        "UpdateFunctionUrlConfig", "InvalidParameterValueException",
        FunctionName="site", AuthType="PASSWORD",
    )  # fmt: skip
    await world.fails(
        "CreateFunctionUrlConfig", "InvalidParameterValueException",
        FunctionName="site", AuthType="NONE", Cors={"MaxAge": 86401},
    )  # fmt: skip
    listed = await world.client("ListFunctionUrlConfigs", FunctionName="site")
    assert [c["FunctionUrl"] for c in listed["FunctionUrlConfigs"]] == [made["FunctionUrl"]]
    await world.client("DeleteFunctionUrlConfig", FunctionName="site")
    await world.fails("GetFunctionUrlConfig", "ResourceNotFoundException", FunctionName="site")
    assert await call_url(world, host) is not None
    assert (await call_url(world, host)).status == 403  # the URL is gone


async def test_an_alias_has_its_url_and_a_version_none(world: World) -> None:
    await world.function("aliased", Publish=True)
    await world.client("CreateAlias", FunctionName="aliased", Name="live", FunctionVersion="1")
    await world.fails(
        "CreateFunctionUrlConfig", "InvalidParameterValueException",
        FunctionName="aliased", Qualifier="1", AuthType="NONE",
    )  # fmt: skip
    await world.fails(
        "CreateFunctionUrlConfig", "ResourceNotFoundException",
        FunctionName="aliased", Qualifier="missing", AuthType="NONE",
    )  # fmt: skip
    live = await world.client(
        "CreateFunctionUrlConfig", FunctionName="aliased", Qualifier="live", AuthType="NONE"
    )
    assert live["FunctionArn"].endswith(":function:aliased:live")
    latest = await world.client("CreateFunctionUrlConfig", FunctionName="aliased", AuthType="NONE")
    assert latest["FunctionUrl"] != live["FunctionUrl"]
    await world.client("DeleteAlias", FunctionName="aliased", Name="live")
    listed = await world.client("ListFunctionUrlConfigs", FunctionName="aliased")
    assert [c["FunctionUrl"] for c in listed["FunctionUrlConfigs"]] == [latest["FunctionUrl"]]
    await world.client("DeleteFunction", FunctionName="aliased")
    assert world.urls is not None
    assert await world.urls.store.configs(world.tenant_id, "aliased") == []


async def test_another_account_cannot_make_or_read_a_url(world: World) -> None:
    made = await world.function("mine")
    other = await world.other_tenant("stranger")
    await other.fails(
        "CreateFunctionUrlConfig", "AccessDeniedException",
        FunctionName=made["FunctionArn"], AuthType="NONE",
    )  # fmt: skip
    await other.fails(
        "ListFunctionUrlConfigs", "AccessDeniedException", FunctionName=made["FunctionArn"]
    )


async def test_a_preflight_is_answered_without_invoking(world: World) -> None:
    await world.function("cors")
    made = await world.client(
        "CreateFunctionUrlConfig",
        FunctionName="cors",
        AuthType="AWS_IAM",
        Cors={"AllowOrigins": ["https://app.example"], "AllowMethods": ["POST"]},
    )
    answer = await call_url(
        world,
        host_of(made["FunctionUrl"]),
        "OPTIONS",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
    )
    assert answer.status == 200
    assert answer.headers["access-control-allow-origin"] == "https://app.example"
    assert answer.headers["access-control-allow-methods"] == "POST"
    assert world.meters.counted == {}  # nothing ran


async def test_unknown_url_ids_and_other_domains_are_forbidden(world: World) -> None:
    answer = await call_url(world, f"{'b' * 32}.lambda-url.eu-fr-1.localhost")
    assert answer.status == 403 and json.loads(answer.body) == {"Message": "Forbidden"}
    await world.function("elsewhere")
    made = await world.client("CreateFunctionUrlConfig", FunctionName="elsewhere", AuthType="NONE")
    url_id = host_of(made["FunctionUrl"]).split(".")[0]
    moved = await call_url(world, f"{url_id}.lambda-url.eu-fr-1.example.org")
    assert moved.status == 403


@needs_bwrap
async def test_none_needs_a_public_statement_then_invokes(world: World) -> None:
    await world.function("public", Code={"ZipFile": handler_zip(SOURCE)})
    made = await world.client(
        "CreateFunctionUrlConfig",
        FunctionName="public",
        AuthType="NONE",
        Cors={"AllowOrigins": ["https://app.example"], "ExposeHeaders": ["x-seen-method"]},
    )
    host = host_of(made["FunctionUrl"])
    refused = await call_url(world, host, "POST", body=b"{}")
    assert refused.status == 403 and json.loads(refused.body) == {"Message": "Forbidden"}
    await world.client("AddPermission", FunctionName="public", **PUBLIC)
    answer = await call_url(
        world,
        host,
        "POST",
        "/orders/42",
        "expand=items&expand=owner&debug=",
        b'{"quantity": 3}',
        {
            "Content-Type": "application/json",
            "Cookie": "a=1; b=2",
            "Origin": "https://app.example",
            "User-Agent": "tests/1.0",
        },
    )
    assert answer.status == 201, answer.body
    assert answer.headers["x-seen-method"] == "POST"
    assert answer.headers["set-cookie"].split("\n") == ["session=abc; Path=/", "theme=dark"]
    # The URL's CORS headers, not the function's.
    assert answer.headers["access-control-allow-origin"] == "https://app.example"
    assert answer.headers["access-control-expose-headers"] == "x-seen-method"
    event = json.loads(answer.body)["event"]
    assert event["version"] == "2.0" and event["rawPath"] == "/orders/42"
    assert event["queryStringParameters"] == {"expand": "items,owner", "debug": ""}
    assert json.loads(event["body"]) == {"quantity": 3} and event["isBase64Encoded"] is False
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["headers"]["x-forwarded-for"] == "192.0.2.9"
    context = event["requestContext"]
    assert context["accountId"] == "anonymous" and "authorizer" not in context
    assert context["apiId"] == host.split(".")[0] and context["domainName"] == host
    assert context["http"]["sourceIp"] == "192.0.2.9"
    assert context["http"]["userAgent"] == "tests/1.0"
    assert world.meters.counted[(world.tenant_id, "lambda.requests")] == 1
    await world.audit.flush()
    listed = await world.audit_store.list_events(None, after_id=0, limit=500)
    audited = [e for _, e in listed if e.action == "lambda:InvokeFunctionUrl"]
    assert [(e.tenant_id, e.resource, e.outcome.value) for e in audited] == [
        (world.tenant_id, made["FunctionArn"], "failure"),
        (world.tenant_id, made["FunctionArn"], "success"),
    ]
    head = await call_url(world, host, "HEAD")
    assert (head.status, head.body, head.headers["x-seen-method"]) == (201, b"", "HEAD")
    failed = await call_url(world, host, "GET", query="fail=1")
    assert failed.status == 502
    assert json.loads(failed.body) == {"Message": "Internal Server Error"}


@needs_bwrap
async def test_aws_iam_needs_a_signed_allowed_caller(world: World) -> None:
    await world.function("private", Code={"ZipFile": handler_zip(SOURCE)})
    made = await world.client("CreateFunctionUrlConfig", FunctionName="private", AuthType="AWS_IAM")
    host = host_of(made["FunctionUrl"])
    await world.client("AddPermission", FunctionName="private", **PUBLIC)  # NONE's only
    unsigned = await call_url(world, host)
    assert unsigned.status == 403 and json.loads(unsigned.body) == {"Message": "Forbidden"}
    forged = Credentials(world.credentials.access_key, "not-the-secret")  # type: ignore[union-attr]
    assert (await call_url(world, host, signer=forged)).status == 403
    stranger = await world.other_tenant("stranger")
    assert (await call_url(world, host, signer=stranger.credentials)).status == 403
    signed = await call_url(world, host, "POST", "/x", "a=1", b"hi", signer=world.credentials)
    assert signed.status == 201, signed.body
    event = json.loads(signed.body)["event"]
    iam = event["requestContext"]["authorizer"]["iam"]
    assert iam["accountId"] == world.tenant_id
    assert iam["accessKey"] == world.credentials.access_key  # type: ignore[union-attr]
    assert event["requestContext"]["accountId"] == world.tenant_id
    assert event["isBase64Encoded"] is True  # no text content type


@needs_bwrap
async def test_throttled_invocations_are_429(world: World) -> None:
    await world.function("busy", Code={"ZipFile": handler_zip(SOURCE)})
    made = await world.client("CreateFunctionUrlConfig", FunctionName="busy", AuthType="NONE")
    await world.client("AddPermission", FunctionName="busy", **PUBLIC)
    await world.client(
        "PutFunctionConcurrency", FunctionName="busy", ReservedConcurrentExecutions=0
    )
    answer = await call_url(world, host_of(made["FunctionUrl"]))
    assert answer.status == 429


@pytest.fixture
async def small(tmp_path: Path) -> AsyncIterator[World]:
    async for made in lambda_world(tmp_path, lambda_max_payload_bytes=64):
        yield made


async def test_bodies_beyond_the_payload_bound_are_refused(small: World) -> None:
    await small.function("bounded")
    made = await small.client("CreateFunctionUrlConfig", FunctionName="bounded", AuthType="NONE")
    answer = await call_url(small, host_of(made["FunctionUrl"]), "POST", body=b"x" * 65)
    assert answer.status == 413


async def test_the_url_domain_is_a_setting(tmp_path: Path) -> None:
    async for world in lambda_world(tmp_path, lambda_url_domain="fn.example.org", s3_port=443,
                                    tls_cert=None):  # fmt: skip
        await world.function("named")
        made = await world.client("CreateFunctionUrlConfig", FunctionName="named", AuthType="NONE")
        assert re.fullmatch(
            r"http://[a-z2-7]{32}\.lambda-url\.eu-fr-1\.fn\.example\.org:443/", made["FunctionUrl"]
        )


def test_only_function_url_hosts_are_routed_to_them() -> None:
    def scope(host: str, *extra: tuple[bytes, bytes]) -> dict[str, Any]:
        return {
            "type": "http",
            "method": "GET",
            "path": "/",
            "query_string": b"",
            "headers": [(b"host", host.encode()), *extra],
        }

    url_host = f"{'c' * 32}.lambda-url.eu-fr-1.localhost:9000"
    assert api_service(scope(url_host)) == "lambda-url"
    signed = (
        b"authorization",
        b"AWS4-HMAC-SHA256 Credential=AK/20260101/eu-fr-1/lambda/aws4_request",
    )
    assert api_service(scope(url_host, signed)) == "lambda-url"  # whether signed or not
    assert api_service(scope("127.0.0.1:9000", signed)) == "lambda"
    assert api_service(scope("bucket.s3.localhost:9000")) == "s3"
    assert api_service(scope(f"{'c' * 31}.lambda-url.eu-fr-1.localhost")) == "s3"
